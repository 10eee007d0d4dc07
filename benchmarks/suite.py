"""The benchmark protocol of BENCHMARKS.md on the public PMLB datasets.

Each dataset runs in its own process: 75/25 split (stratified for
classification, ``random_state=seed``), ``fit`` with a wall-clock budget and
``n_jobs=2``, metric on the test part (binary: ROC AUC, multiclass: log loss,
regression: RMSE).  Prints per-dataset results, then a table beside the peer
figures recorded in BENCHMARKS.md, with ranks and budget ratios.

    python benchmarks/suite.py                         # all 13 datasets, 60 s each
    python benchmarks/suite.py --datasets car vehicle --budget 30
    python benchmarks/suite.py --budget 300  # also compared with AutoGluon best_quality at 300 s
    python benchmarks/suite.py --compare OLD.json NEW.json  # two saved sweeps, side by side
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets"

# Peer figures at 60 s, 2 cores, seed 0, as recorded in BENCHMARKS.md:
# (LightGBM default, TPOT 1.1, FLAML 2.7, AutoGluon medium); metric, and its seconds.
PEERS = {
    "adult": (0.9242, 0.9185, 0.9253, 0.9255),
    "churn": (0.9236, 0.9289, 0.9274, 0.9292),
    "kr_vs_kp": (1.0000, 0.9999, 1.0000, 1.0000),
    "phoneme": (0.9540, 0.9458, 0.9638, 0.9608),
    "spambase": (0.9905, 0.9898, 0.9905, 0.9900),
    "car": (0.0163, 0.1104, 0.0084, 0.0075),
    "satimage": (0.3049, 0.2776, 0.2913, 0.2340),
    "vehicle": (0.7657, 0.4866, 0.4838, 0.5038),
    "wine_quality_white": (0.9655, 0.8912, 0.8699, 0.8306),
    "197_cpu_act": (2.736, 2.53, 2.299, 2.124),
    "201_pol": (4.904, 8.87, 4.327, 4.248),
    "503_wind": (3.139, 3.335, 3.114, 3.057),
    "537_houses": (4.746e04, 6.677e04, 4.548e04, 4.366e04),
}
PEER_NAMES = ("LightGBM", "TPOT", "FLAML", "AutoGluon")
# AutoGluon 1.6.3 best_quality at 300 s, 2 cores, seed 0, as recorded in BENCHMARKS.md
# (seven datasets)
AUTOGLUON_BEST_300 = {
    "car": 0.0089,
    "vehicle": 0.4250,
    "wine_quality_white": 0.7540,
    "phoneme": 0.9680,
    "churn": 0.9297,
    "satimage": 0.2188,
    "197_cpu_act": 2.126,
}
#: operators of bred candidates (the rest are seeds, immigrants and random samples)
BRED = {"perturb", "tpe", "crossover", "step", "swap"}


def load_split(name: str, data_dir: Path, seed: int):
    """A dataset's manifest entry and its 75/25 split (stratified for classification)."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    manifest = {d["name"]: d for d in json.loads((data_dir / "manifest.json").read_text())}
    info = manifest[name]
    frame = pd.read_csv(data_dir / info["file"])
    X, y = frame.drop(columns=info["target"]), frame[info["target"]]
    stratify = y if info["task"] != "regression" else None
    return info, train_test_split(X, y, test_size=0.25, random_state=seed, stratify=stratify)


def run_one(
    name: str, data_dir: Path, budget: float, seed: int, n_jobs: int, space: str = "default"
) -> dict:
    """Fit and score evoens on one dataset (called in a child process)."""
    from sklearn.metrics import accuracy_score, r2_score

    from evoens import EvoEnsembleClassifier, EvoEnsembleRegressor

    info, (X_tr, X_te, y_tr, y_te) = load_split(name, data_dir, seed)
    classification = info["task"] != "regression"
    cls = EvoEnsembleClassifier if classification else EvoEnsembleRegressor
    model = cls(time_budget=budget, n_jobs=n_jobs, random_state=seed, space=space)
    with _capture_run() as captured:
        start = time.time()
        model.fit(X_tr, y_tr)
        fit_s = time.time() - start
    predict_start = time.time()
    if classification:
        pred = model.predict_proba(X_te)
        total_s = time.time() - start
        side = accuracy_score(y_te, model.classes_[pred.argmax(axis=1)])
    else:
        pred = model.predict(X_te)
        total_s = time.time() - start
        side = r2_score(y_te, pred)
    metric = protocol_score(info["task"], y_te, pred, getattr(model, "classes_", None))
    predict_s = time.time() - predict_start
    board = model.leaderboard_
    bred = board.operator.isin(BRED)
    folds = board.fold_scores.map(len)
    fold_fits = {
        learner: round(float(folds[rows].sum() / max(board.fit_time[rows].sum(), 1e-9)), 3)
        for learner, rows in board.groupby("learner").groups.items()
    }
    weight = board.ensemble_weight.sum()
    by_learner = board.groupby("learner").ensemble_weight.sum()
    return {
        "space": space,
        "learner_weight": {k: round(float(v / weight), 4) for k, v in by_learner.items() if v}
        if weight > 0
        else {},
        "learner_evaluations": board.learner.value_counts().to_dict(),
        "bred_share": float(bred.mean()),
        "generations": int(board.generation.max()) + 1,
        "bred_weight": float(board.loc[bred, "ensemble_weight"].sum() / weight)
        if weight > 0
        else 0.0,
        "dataset": name,
        "seed": seed,
        "task": info["task"],
        "metric": float(metric),
        "side_metric": float(side),
        "fit_s": fit_s,
        "fit_predict_s": total_s,
        "budget_s": budget,
        "predict_s": predict_s,
        "test_rows": len(X_te),
        "predict_s_per_1k": 1000 * predict_s / len(X_te),
        "predict_over_budget": predict_s / budget,
        "evaluations": int(len(board)),
        "evaluations_per_minute": 60 * len(board) / max(model.search_time_, 1e-9),
        "fold_fits_per_second": fold_fits,
        "failures": int((board.status != "ok").sum()),
        "ensemble": model.ensemble_.kind,
        "members": len(model.ensemble_.members),
        # the chosen option's held-out OOF score and the best single's OOF score, as the
        # run's metric has them (greater is better): against "metric", the OOF-test gap
        "ensemble_oof": float(model.ensemble_.oof_score),
        "best_oof": float(model.best_score_),
        "option": model.ensemble_.option,
        # fold models per member (the run's folds, or one if refitted on all rows)
        "member_models": [len(m.models) for m in model.ensemble_.members],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        # after the timings: every option the ensemble step weighs, scored on test
        "options": option_probe(model, captured, X_te, y_te, info["task"]),
    }


@contextlib.contextmanager
def _capture_run():
    """Keep the estimator's :class:`~evoens.run.Run` and its result (the pool and
    its OOF predictions) for :func:`option_probe`; the run itself is unchanged."""
    import evoens.estimator as estimator

    captured, original = {}, estimator.Run

    class Run(original):
        def execute(self, client=None):
            result = super().execute(client)
            captured.update(run=self, result=result)
            return result

    estimator.Run = Run
    try:
        yield captured
    finally:
        estimator.Run = original


def protocol_score(task, y_te, pred, classes) -> float:
    """The protocol's test metric of a prediction (probabilities or values)."""
    from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error

    if task == "binary":
        return float(roc_auc_score(y_te, pred[:, 1]))
    if task == "multiclass":
        return float(log_loss(y_te, pred, labels=classes))
    return float(root_mean_squared_error(y_te, pred))


def option_probe(model, captured, X_te, y_te, task) -> dict:
    """Each option of the ensemble step (``EnsembleBuilder.options``) fitted
    on the run's pool as the run fits the chosen one, with its held-out score per fold
    (the evidence the choice sees, greater is better) and its test score.

    One run then tells what any rule for choosing among them would have scored
    on test.  Errors are recorded, never raised: the run's own record stands.
    """
    try:
        from threadpoolctl import threadpool_limits

        from evoens.ensemble import EnsembleBuilder

        run, result = captured["run"], captured["result"]
        data, builder = run.data, EnsembleBuilder(run.metric, seed=run.options.seed)
        y, w, n_classes = data.y, data.sample_weight, data.n_classes
        Xe = model.encoder_.transform(X_te)
        classes = getattr(model, "classes_", None)
        out = {}
        with threadpool_limits(1):
            rows = builder._rows(len(y))
            pool = builder._affordable(builder.pool(result.ok), y, w, rows)
            preds = [e.oof.astype(np.float64) for e in pool]
            builder._greedy_memo = {}
            for name, fit_predict in builder.options(len(pool)).items():
                held, _ = builder.held_out(
                    fit_predict, preds, y, w, rows, data.folds, data.task, n_classes
                )
                folds = [float(f) for f in builder.fold_scores(held, y, w, data.folds)]
                fitted = fit_predict(preds, y, w, rows, None, data.task, n_classes)[0]
                ensemble = builder._model(name, fitted, pool, data.task, n_classes, {})
                out[name] = {
                    "held_out": float(run.metric(y, held, w)),
                    "held_out_folds": folds,
                    "test": protocol_score(task, y_te, ensemble.predict(Xe, n_jobs=2), classes),
                    "members": len(ensemble.members),
                }
        return out
    except Exception as exc:  # noqa: BLE001 - a probe never costs the run its record
        return {"error": f"{type(exc).__name__}: {exc}"}


def _higher_is_better(task: str) -> bool:
    return task == "binary"


def _rank(values, higher_better):
    """Average ranks (1 = best) with ties shared."""
    arr = np.asarray(values, dtype=float)
    key = -arr if higher_better else arr
    order = np.argsort(key, kind="stable")
    ranks = np.empty(len(arr))
    i = 0
    while i < len(arr):
        j = i
        while j + 1 < len(arr) and key[order[j + 1]] == key[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _display(value, task):
    return float(f"{value:.4g}") if task == "regression" else round(value, 4)


def summarise(results: list[dict]) -> str:
    lines = [
        "| dataset | metric | evoens | "
        + " | ".join(PEER_NAMES)
        + " | evoens rank | fit / budget |",
        "|---|---|---|" + "---|" * len(PEER_NAMES) + "---|---|",
    ]
    all_ranks, ratios = [], []
    for r in results:
        peers = PEERS[r["dataset"]]
        ours = _display(r["metric"], r["task"]) if r.get("metric") is not None else None
        failed = ours is None
        values = [
            (-np.inf if _higher_is_better(r["task"]) else np.inf) if failed else ours,
            *peers,
        ]
        ranks = _rank(values, _higher_is_better(r["task"]))
        if failed:
            ranks[0] = len(values)
        all_ranks.append(ranks)
        ratio = r.get("fit_s", float("nan")) / r["budget_s"]
        ratios.append(ratio)
        arrow = (
            "AUC ↑"
            if r["task"] == "binary"
            else ("log loss ↓" if r["task"] == "multiclass" else "RMSE ↓")
        )
        cells = " | ".join(f"{p:.4g}" for p in peers)
        lines.append(
            f"| {r['dataset']} | {arrow} | {'FAILED' if failed else f'{ours:.4g}'} | {cells} | "
            f"{ranks[0]:.1f} | {ratio:.3f} |"
        )
    mean = np.mean(all_ranks, axis=0)
    lines.append("")
    lines.append(
        "Mean rank (lower is better): "
        + ", ".join(
            f"{n} {m:.2f}"
            for n, m in sorted(zip(("evoens", *PEER_NAMES), mean), key=lambda t: t[1])
        )
    )
    wins = sum(rk[0] == min(rk) for rk in all_ranks)
    lines.append(
        f"evoens best or tied best on {wins} of {len(all_ranks)} datasets; "
        f"beats LightGBM default on {sum(rk[0] < rk[1] for rk in all_ranks)}, "
        f"ties it on {sum(rk[0] == rk[1] for rk in all_ranks)}."
    )
    lines.append(
        f"fit wall time / budget: median {np.nanmedian(ratios):.3f}, max {np.nanmax(ratios):.3f}"
    )
    done = [r for r in results if r.get("evaluations") is not None]
    if done:
        lines.append(
            f"evaluations: median {np.median([r['evaluations'] for r in done]):.1f} "
            f"({np.median([r['evaluations_per_minute'] for r in done]):.1f} a minute); "
            f"bred: median {np.median([r['bred_share'] for r in done]):.0%} of evaluations, "
            f"mean {np.mean([r['bred_weight'] for r in done]):.0%} of ensemble weight"
        )
        rates: dict = {}
        for r in done:
            for learner, rate in r.get("fold_fits_per_second", {}).items():
                rates.setdefault(learner, []).append(rate)
        lines.append(
            "fold fits per second, median over datasets: "
            + ", ".join(f"{k} {np.median(v):.2f}" for k, v in sorted(rates.items()))
        )
    versus = [
        (r, AUTOGLUON_BEST_300[r["dataset"]])
        for r in results
        if r.get("metric") is not None
        and r["dataset"] in AUTOGLUON_BEST_300
        and r["budget_s"] >= 300
    ]
    if versus:
        better = sum(
            (r["metric"] > ag) if _higher_is_better(r["task"]) else (r["metric"] < ag)
            for r, ag in versus
        )
        lines.append(
            f"against AutoGluon best_quality at 300 s: evoens better on {better} of {len(versus)} "
            "("
            + ", ".join(
                f"{r['dataset']} {_display(r['metric'], r['task']):.4g} vs {ag:.4g}"
                for r, ag in versus
            )
            + ")"
        )
    predict = [
        r["predict_over_budget"] for r in results if r.get("predict_over_budget") is not None
    ]
    if predict:
        lines.append(
            f"predict time on the test part / budget: median {np.median(predict):.4f}, "
            f"max {np.max(predict):.4f} (target <= 0.05)"
        )
    return "\n".join(lines)


def compare(base: list[dict], new: list[dict]) -> str:
    """Two sweeps side by side (``--output`` files, e.g. the previous main and a change).

    Per dataset the median test score and evaluations of each sweep's runs
    (repeats of a dataset are pooled), which sweep scored better, then the
    ratio of median evaluations and the worst fit time over budget of ``new``.
    """

    def by_dataset(records):
        out: dict = {}
        for r in records:
            if r.get("metric") is not None:
                out.setdefault(r["dataset"], []).append(r)
        return out

    old_runs, new_runs = by_dataset(base), by_dataset(new)
    names = [d for d in old_runs if d in new_runs]
    if not names:
        return "no dataset is in both sweeps"
    lines = [
        "| dataset | runs | evaluations | test score | new better |",
        "|---|---|---|---|---|",
    ]
    old_evals, new_evals, wins = [], [], 0
    for name in names:
        a, b = old_runs[name], new_runs[name]
        task = a[0]["task"]
        ma, mb = (float(np.median([r["metric"] for r in rs])) for rs in (a, b))
        ea, eb = (float(np.median([r["evaluations"] for r in rs])) for rs in (a, b))
        old_evals.append(ea)
        new_evals.append(eb)
        better = mb > ma if _higher_is_better(task) else mb < ma
        wins += better
        lines.append(
            f"| {name} | {len(a)} / {len(b)} | {ea:g} -> {eb:g} | "
            f"{ma:.5g} -> {mb:.5g} | {'yes' if better else 'no'} |"
        )
    mo, mn = np.median(old_evals), np.median(new_evals)
    worst = max(r["fit_s"] / r["budget_s"] for rs in new_runs.values() for r in rs)
    lines += [
        "",
        f"median evaluations {mo:g} -> {mn:g} ({mn / mo:.2f}x); new better on {wins} of "
        f"{len(names)} datasets; new fit / budget at most {worst:.3f}",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(PEERS))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--space", default="default", help="a preset name or a .toml path")
    parser.add_argument("--output", type=Path, help="write all results as JSON here")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument(
        "--compare", nargs=2, type=Path, metavar=("BASE", "NEW"), help="two --output files"
    )
    args = parser.parse_args(argv)
    if args.compare:
        base, new = (json.loads(p.read_text()) for p in args.compare)
        print(compare(base, new))
        return
    if args.one:
        result = run_one(args.one, args.data_dir, args.budget, args.seed, args.n_jobs, args.space)
        print(json.dumps(result))
        return
    if not (args.data_dir / "manifest.json").is_file():
        sys.exit(
            f"no manifest.json in {args.data_dir}; pass --data-dir pointing at the PMLB datasets"
        )
    results = []
    for name in args.datasets:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            name,
            "--data-dir",
            str(args.data_dir),
            "--budget",
            str(args.budget),
            "--seed",
            str(args.seed),
            "--n-jobs",
            str(args.n_jobs),
            "--space",
            args.space,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name}: FAILED\n{proc.stderr[-2000:]}", file=sys.stderr)
            results.append(
                {
                    "dataset": name,
                    "task": _task_of(args.data_dir, name),
                    "metric": None,
                    "budget_s": args.budget,
                }
            )
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(result)
        if args.output:  # after every run: a sweep cut short keeps what it finished
            args.output.write_text(json.dumps(results, indent=1))
        print(
            f"{name:20s} {result['metric']:.5g}  fit {result['fit_s']:.1f}s  "
            f"evals {result['evaluations']} ({result['evaluations_per_minute']:.1f}/min)  "
            f"failures {result['failures']}  {result['ensemble']}({result['members']})  "
            f"bred {result['bred_share']:.0%} of evals, {result['bred_weight']:.0%} of weight  "
            f"predict {result['predict_s']:.2f}s ({result['predict_s_per_1k']:.3f}s/1k rows, "
            f"{result['predict_over_budget']:.3f} of budget)  "
            f"rss {result['peak_rss_mb']:.0f}/{result['peak_child_rss_mb']:.0f} MB",
            flush=True,
        )
        weights = ", ".join(f"{k} {v:.2f}" for k, v in result["learner_weight"].items())
        print(f"{'':20s} ensemble weight by learner: {weights}", flush=True)
    print()
    print(summarise(results))
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))


def _task_of(data_dir, name):
    return {d["name"]: d["task"] for d in json.loads((data_dir / "manifest.json").read_text())}[
        name
    ]


if __name__ == "__main__":
    main()
