"""Data no single worker holds: evoens on a Parquet dataset larger than a worker's memory.

A binary dataset with structure that only many rows reveal (a smooth
nonlinear signal in 16 numeric columns, plus per-level effects of six string
categories, one with 5,000 levels and one with 300, and an interaction
between a category and a numeric column) is written as Parquet partitions,
``--ratio`` times one worker's ``--worker-memory`` as pandas holds it, plus a
separate test set.  On a LocalCluster of ``--workers`` workers with that
memory limit, three models are fitted and scored on the test set:

    (a) LightGBM with its defaults on the search sample alone
    (b) evoens fitted on the search sample only (the whole budget to search)
    (c) evoens fitted on the Dask DataFrame: search on the sample, then the
        chosen boosters trained data-parallel on every training partition

(a) and (b) use the very sample (c) drew (same seed, same size).  Printed:
fit wall time over the budget, each worker's peak memory over its limit
(sampled every half second), evaluations, test AUC, and what (c) did with
each member.  One run of each; the data are cached in ``--dir``.

    python benchmarks/big_data.py                        # 600 s, 4 workers x 2 GiB, 2.1x

Workers of 1 GiB are too small for this engine: the libraries take about
270 MB of each, a full-depth forest's fold models on the search sample and
their transfer took most of the rest, and the data-parallel matrices then
pushed all four over their limit at once (measured at 600 s, 2026-12-04).
    python benchmarks/big_data.py --budget 900 --workers 2 --worker-memory 3GiB
    python benchmarks/big_data.py --budget 60 --ratio 0.2  # a quick check of the script
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: rows per Parquet partition
PART_ROWS = 250_000
N_NUMERIC = 16
#: string categories: name -> number of levels
CATEGORIES = {"city": 5000, "shop": 300, "region": 12, "channel": 6, "device": 4, "plan": 3}


def make_partition(number: int, rows: int = PART_ROWS, seed: int = 0) -> pd.DataFrame:
    """Partition ``number``: rows drawn from the one generative model fixed by ``seed``."""
    table = np.random.default_rng(seed)  # the model: the same for every partition
    effects = {c: table.normal(scale=0.6, size=k) for c, k in CATEGORIES.items()}
    slope = table.normal(scale=0.8, size=CATEGORIES["channel"])
    rng = np.random.default_rng([seed, number])
    x = rng.normal(size=(rows, N_NUMERIC))
    out = pd.DataFrame(x, columns=[f"x{i}" for i in range(N_NUMERIC)])
    f = 1.2 * np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + 0.4 * x[:, 3] ** 2 - 0.4
    f += 0.5 * np.tanh(x[:, 4] + x[:, 5]) + 0.3 * x[:, 6]
    for c, k in CATEGORIES.items():
        # a long tail of levels: the rare ones need many rows to be learnt
        codes = np.minimum((rng.pareto(1.2, rows) * k / 20).astype(np.int64), k - 1)
        out[c] = pd.array([f"{c}-{i:04d}" for i in codes], dtype="str")
        f += effects[c][codes]
        if c == "channel":
            f += slope[codes] * x[:, 7]
    out["y"] = (rng.random(rows) < 1 / (1 + np.exp(-f))).astype(np.int8)
    return out


def write(directory: Path, name: str, parts: range, client, seed: int) -> None:
    import dask.dataframe as dd

    target = directory / name
    stamp = target / "_evoens_parts.json"
    want = {"parts": [parts.start, parts.stop], "rows": PART_ROWS, "seed": seed}
    if stamp.exists() and json.loads(stamp.read_text()) == want:
        return
    frame = dd.from_map(make_partition, list(parts), seed=seed)
    frame.to_parquet(str(target), write_index=False, overwrite=True, compute_kwargs={})
    stamp.write_text(json.dumps(want))


class MemoryWatch(logging.Handler):
    """Each worker's process memory, sampled every half second; keeps the peak per worker
    name (a worker restarted keeps its name: the restarts are counted), and counts the
    workers the nannies (in this process, for a LocalCluster) killed over their limit."""

    def __init__(self, client):
        super().__init__(logging.WARNING)
        self.client, self.peak, self.addresses, self.memory_kills = client, {}, {}, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def emit(self, record):
        if "memory" in record.getMessage().lower():
            self.memory_kills += 1

    def __enter__(self):
        logging.getLogger("distributed.nanny").addHandler(self)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        logging.getLogger("distributed.nanny").removeHandler(self)

    def _run(self):
        while not self._stop.is_set():
            try:
                info = self.client.scheduler_info(n_workers=-1)["workers"]
                for addr, w in info.items():
                    name = w.get("name", addr)
                    memory = w.get("metrics", {}).get("memory", 0)
                    self.peak[name] = max(self.peak.get(name, 0), memory)
                    self.addresses.setdefault(name, set()).add(addr)
            except Exception:  # the scheduler is busy or closing: the next sample will do
                pass
            self._stop.wait(0.5)

    def restarts(self) -> int:
        return sum(len(a) - 1 for a in self.addresses.values())


def auc(model, X, y) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, model.predict_proba(X)[:, 1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-memory", default="2GiB")
    parser.add_argument("--ratio", type=float, default=2.1, help="data / one worker's memory")
    parser.add_argument("--test-rows", type=int, default=500_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/evoens-big-data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--skip-sample-only", action="store_true", help="leave out (b), a second whole run"
    )
    args = parser.parse_args()

    import dask.dataframe as dd
    from dask.utils import format_bytes, parse_bytes
    from distributed import Client, LocalCluster
    from lightgbm import LGBMClassifier

    from evoens import EvoEnsembleClassifier
    from evoens.bigdata._collection import Collection

    limit = parse_bytes(args.worker_memory)
    per_row = make_partition(0, 20_000, args.seed).memory_usage(deep=True).sum() / 20_000
    n_parts = max(2, int(np.ceil(args.ratio * limit / (per_row * PART_ROWS))))
    n_test = max(1, args.test_rows // PART_ROWS)
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        memory_limit=args.worker_memory,
        dashboard_address=":0",
    )
    client = Client(cluster)
    args.dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    write(args.dir, "train", range(n_parts), client, args.seed)
    write(args.dir, "test", range(10_000, 10_000 + n_test), client, args.seed)
    D = dd.read_parquet(str(args.dir / "train"))
    size = per_row * PART_ROWS * n_parts
    print(
        f"data: {n_parts * PART_ROWS:,} rows x {len(D.columns) - 1} columns in {n_parts} "
        f"partitions, {format_bytes(size)} in pandas = {size / limit:.2f}x one worker's "
        f"{format_bytes(limit)}; {args.workers} workers; written in {time.time() - started:.0f} s",
        flush=True,
    )
    test = pd.read_parquet(args.dir / "test")
    X_test, y_test = test.drop(columns="y"), test["y"].to_numpy()
    rows = []

    # (c) the Dask DataFrame: search on a sample, boosters on every partition
    clf = EvoEnsembleClassifier(
        time_budget=args.budget, backend="dask", random_state=args.seed, verbose=1
    )
    with MemoryWatch(client) as watch:
        t = time.time()
        clf.fit(D, "y", client=client)
        wall = time.time() - t
    info = clf.data_parallel_
    rows.append(
        ("(c) evoens, data-parallel", wall, watch, clf.n_evaluations_, auc(clf, X_test, y_test))
    )
    for member, how in info["members"].items():
        print(f"  member #{member}: {how}")
    print(
        f"  check on {info['check_rows']:,} held-out rows: sample-trained "
        f"{info['check_score_sample']:.5f}, data-parallel {info['check_score_all']:.5f}; "
        f"used the {info['used']}",
        flush=True,
    )

    # the sample (c) searched on, drawn again the same way
    coll = Collection.from_input(D, "y", client, clf._seed())
    sample = coll.sample(client, info["search_rows"], coll.class_counts(client), clf._seed())
    X_s, y_s = sample.drop(columns="y"), sample["y"]
    print(f"search sample: {len(sample):,} rows", flush=True)

    # (a) LightGBM defaults on the sample
    cats = list(CATEGORIES)
    as_category = {c: pd.CategoricalDtype(sorted(X_s[c].unique())) for c in cats}
    lgbm = LGBMClassifier(verbose=-1, random_state=args.seed)
    t = time.time()
    lgbm.fit(X_s.astype(as_category), y_s)
    rows.append(
        (
            "(a) LightGBM defaults, sample",
            time.time() - t,
            None,
            1,
            auc(lgbm, X_test.astype(as_category), y_test),
        )
    )

    # (b) evoens on the sample only, the whole budget to its search
    if not args.skip_sample_only:
        only = EvoEnsembleClassifier(
            time_budget=args.budget, backend="dask", random_state=args.seed
        )
        with MemoryWatch(client) as watch:
            t = time.time()
            only.fit(X_s, y_s, client=client)
            wall = time.time() - t
        rows.append(
            (
                "(b) evoens, sample only",
                wall,
                watch,
                only.n_evaluations_,
                auc(only, X_test, y_test),
            )
        )

    print(f"\nbudget {args.budget:.0f} s; test set {len(y_test):,} rows; one run each")
    print("restarts: workers restarted for any cause (evoens restarts one stuck past its")
    print("deadline) / of them, killed by their nanny over the memory limit")
    print(
        f"{'model':32} {'fit s':>7} {'fit/budget':>10} {'peak memory / limit, per worker':>34} "
        f"{'restarts/memory':>15} {'evals':>6} {'test AUC':>9}"
    )
    for name, seconds, watch, evals, score in rows:
        peaks = (
            "-"
            if watch is None
            else " ".join(f"{watch.peak[w] / limit:.2f}" for w in sorted(watch.peak, key=str))
        )
        restarts = "-" if watch is None else f"{watch.restarts()}/{watch.memory_kills}"
        ratio = "-" if watch is None else f"{seconds / args.budget:.3f}"
        print(
            f"{name:32} {seconds:7.1f} {ratio:>10} {peaks:>34} {restarts:>15} {evals:6d} "
            f"{score:9.5f}"
        )
    client.close()
    cluster.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
