"""Does the ensemble overfit the search's out-of-fold predictions?

One fit per dataset at the given budget, with a run directory so that every
evaluation's OOF predictions and fold models are kept.  Then the ensemble is
rebuilt from the same evaluations by each builder variant, and each is scored
three ways: on the OOF predictions it was fitted to (in-sample), by the
builder's own held-out estimate (fitted on all folds but one), and on the
test split (BENCHMARKS.md protocol).  The OOF - test gap says how much the
choice overfits; the test column says which variant to ship.  The search is
the same for all variants, so the comparison is paired and costs one fit.

    python benchmarks/overfit.py --budget 300 --datasets car vehicle wine_quality_white

Variants (see :mod:`evoens.ensemble`):

``current``   the builder as shipped
``bagged``    greedy selection averaged over random halves of the pool
              (Caruana et al., 2006, "Getting the most out of ensemble selection")
``rowbag``    greedy selection averaged over bootstrap samples of the rows
``diverse``   the pool holds at most 5 candidates per learner
``stack-avg`` a stacker predicts on the fold models' averaged predictions, not fold by
              fold
``distinct``  the pool skips candidates whose OOF predictions correlate above
              0.995 with one already in it (near-copies of a parent)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import DEFAULT_DATA, load_split  # noqa: E402


def _variants():
    from evoens.ensemble import EnsembleBuilder
    from evoens.ensemble._greedy import blend, greedy_weights

    class Bagged(EnsembleBuilder):
        bags, share = 20, 0.5

        def _weighted(self, preds, y, w, rows, te, task, n_classes, deadline=None):
            rng = np.random.default_rng(self.seed)
            total = np.zeros(len(preds))
            k = max(1, int(round(self.share * len(preds))))
            for _ in range(self.bags):
                pick = np.sort(rng.choice(len(preds), k, replace=False))
                sub = greedy_weights(
                    [preds[j] for j in pick], y, self.metric, self.n_iter, w, rows
                )
                total[pick] += sub
            weights = total / total.sum()
            return weights, None if te is None else blend([p[te] for p in preds], weights)

    class RowBag(EnsembleBuilder):
        bags = 20

        def _weighted(self, preds, y, w, rows, te, task, n_classes, deadline=None):
            rng = np.random.default_rng(self.seed)
            base = np.arange(len(y)) if rows is None else np.asarray(rows)
            total = np.zeros(len(preds))
            for _ in range(self.bags):
                boot = np.sort(rng.choice(base, len(base), replace=True))
                total += greedy_weights(preds, y, self.metric, self.n_iter, w, boot)
            weights = total / total.sum()
            return weights, None if te is None else blend([p[te] for p in preds], weights)

    class Diverse(EnsembleBuilder):
        per_learner = 5

        def pool(self, evaluations):
            ranked = sorted((e for e in evaluations if e.ok), key=lambda e: (-e.score, e.id))
            pool, counts = [], {}
            for e in ranked:
                n = counts.get(e.genome.learner, 0)
                if n < self.per_learner and (len(pool) < self.max_pool or n == 0):
                    pool.append(e)
                    counts[e.genome.learner] = n + 1
            return pool

    class Distinct(EnsembleBuilder):
        """The pool skips a candidate whose OOF predictions all but repeat one already in it."""

        max_corr = 0.995

        def pool(self, evaluations):
            ranked = sorted(
                (e for e in evaluations if e.ok and e.oof is not None),
                key=lambda e: (-e.score, e.id),
            )
            pool, kept = [], []
            for e in ranked:
                v = np.asarray(e.oof, dtype=np.float64).ravel()
                v = (v - v.mean()) / (v.std() + 1e-12)
                if any(float(v @ k) / len(v) > self.max_corr for k in kept):
                    continue
                pool.append(e)
                kept.append(v)
                if len(pool) >= self.max_pool:
                    break
            return pool

    class StackAverage(EnsembleBuilder):
        def build(self, *args, **kwargs):
            model = super().build(*args, **kwargs)
            model.stack_per_fold = False
            return model

    return {
        "current": EnsembleBuilder,
        "stack-avg": StackAverage,
        "distinct": Distinct,
        "bagged": Bagged,
        "rowbag": RowBag,
        "diverse": Diverse,
    }


#: OOF predictions are read for this many of the best evaluations (the ``distinct`` pool)
TOP_OOF = 300


def _score(task, y, pred, labels):
    from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error

    if task == "binary":
        return float(roc_auc_score(y, pred[:, 1]))
    if task == "multiclass":
        return float(log_loss(y, pred, labels=labels))
    return float(root_mean_squared_error(y, pred))


def run_one(name, data_dir, budget, seed, n_jobs, variants) -> list[dict]:
    from evoens import EvoEnsembleClassifier, EvoEnsembleRegressor
    from evoens._metrics import get_metric
    from evoens.journal._journal import RunLayout, _attach_artifacts, read_evaluations

    info, (X_tr, X_te, y_tr, y_te) = load_split(name, data_dir, seed)
    task = info["task"]
    classification = task != "regression"
    cls = EvoEnsembleClassifier if classification else EvoEnsembleRegressor
    run_dir = tempfile.mkdtemp(prefix=f"overfit-{name}-")
    model = cls(time_budget=budget, n_jobs=n_jobs, random_state=seed, run_dir=run_dir)
    started = time.time()
    model.fit(X_tr, y_tr)
    fit_s = time.time() - started

    layout = RunLayout.at(run_dir)
    with np.load(layout.folds) as stored:
        folds = [
            (stored[f"train_{k}"], stored[f"test_{k}"]) for k in range(len(stored.files) // 2)
        ]
    records = [e for e in read_evaluations(run_dir).values() if e.ok]
    if classification:
        y_codes = np.searchsorted(model.classes_, np.asarray(y_tr))
        n_classes, labels_tr = len(model.classes_), np.arange(len(model.classes_))
    else:
        y_codes, n_classes, labels_tr = np.asarray(y_tr, dtype=float), 0, None
    metric = get_metric(model.scoring, model.task_, getattr(model, "classes_", None))
    X_te_enc = model.encoder_.transform(X_te)
    builders = {k: v(metric, seed=seed) for k, v in _variants().items() if k in variants}
    for e in sorted(records, key=lambda e: (-e.score, e.id))[:TOP_OOF]:
        e.oof = np.load(layout.oof(e.id), allow_pickle=False)
    needed = {e.id for b in builders.values() for e in b.pool(records)}
    for e in records:
        if e.id in needed:
            _attach_artifacts(e, layout)
    pool_records = [e for e in records if e.id in needed]
    out = []
    for vname, builder in builders.items():
        t0 = time.time()
        ens = builder.build(pool_records, y_codes, folds, model.task_, n_classes)
        build_s = time.time() - t0
        by_id = {e.id: e for e in pool_records}
        oof = [by_id[m.id].oof.astype(np.float64) for m in ens.members]
        if ens.kind == "stacked":
            in_sample = ens.stacker.predict(oof)
        else:
            from evoens.ensemble._greedy import blend

            in_sample = blend(oof, [m.weight for m in ens.members])
        test_pred = ens.predict(X_te_enc)
        labels_te = model.classes_ if classification else None
        row = {
            "dataset": name,
            "task": task,
            "variant": vname,
            "kind": ens.kind,
            "option": ens.option,
            "options": {k: float(v) for k, v in ens.candidates_scores.items()},
            "members": len(ens.members),
            "evaluations": len(records),
            "oof": _score(task, y_codes, in_sample, labels_tr),
            "held_out": float(-ens.oof_score)
            if task != "binary" and np.isfinite(ens.oof_score)
            else float(ens.oof_score),
            "test": _score(task, np.asarray(y_te), test_pred, labels_te),
            "shipped_test": _score(
                task,
                np.asarray(y_te),
                model.predict_proba(X_te) if classification else model.predict(X_te),
                labels_te,
            ),
            "build_s": build_s,
            "fit_s": fit_s,
        }
        out.append(row)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=["car", "vehicle", "wine_quality_white"])
    parser.add_argument(
        "--variants", nargs="*", default=["current", "bagged", "rowbag", "diverse", "distinct"]
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for name in args.datasets:
        got = run_one(name, args.data_dir, args.budget, args.seed, args.n_jobs, args.variants)
        rows.extend(got)
        for r in got:
            print(
                f"{r['dataset']:20s} {r['variant']:9s} {r['option']:11s} "
                f"members {r['members']:2d}  "
                f"oof {r['oof']:.5g}  held-out {r['held_out']:.5g}  test {r['test']:.5g}  "
                f"gap {r['oof'] - r['test']:+.4g}  (shipped {r['shipped_test']:.5g}, "
                f"{r['evaluations']} ok evaluations, build {r['build_s']:.1f}s)",
                flush=True,
            )
        if args.output:
            args.output.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
