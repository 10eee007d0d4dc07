"""Evaluation throughput and worker utilisation of the local and Dask backends.

The same search (space "fast", fixed seed, a number of generations) runs on
each backend with its workers already started; only the search phase is
timed.  Reported per backend:

* evaluations per minute (finished evaluations / search wall time);
* utilisation: busy time / (workers x search wall time), where busy time is
  the sum of the evaluations' own wall times measured on the workers;
* seconds per evaluation, so differences in the candidates proposed (the
  order of results steers the search) can be told from backend overhead.

    python benchmarks/dask_throughput.py                          # ../shared/datasets/phoneme.csv.gz
    python benchmarks/dask_throughput.py path/to/data.csv.gz --generations 8 --population 8
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "phoneme.csv.gz"


def make_context(path: Path, seed: int, cv: int):
    """The run's EvalContext and what the search needs, built as ``fit`` builds them."""
    from evoens._data import Dataset, TabularEncoder, encode_target, make_folds
    from evoens._metrics import get_metric
    from evoens.evaluation._cv import EvalContext
    from evoens.space import load_space

    frame = pd.read_csv(path)
    X, y = frame.drop(columns="target"), frame["target"]
    encoder = TabularEncoder().fit(X)
    codes, classes = encode_target(y, "classification")
    task = "binary" if len(classes) == 2 else "multiclass"
    data = Dataset(encoder.transform(X), codes, task, encoder.categorical_mask, make_folds(codes, task, cv, seed),
                   len(classes), None)
    metric = get_metric(None, task, classes)
    space = load_space("fast").for_task(task)
    return EvalContext(data, metric, space, n_threads=1, device="cpu"), task, metric, codes, space


def make_backend(kind: str, n_workers: int):
    from evoens.backends import DaskBackend, LocalBackend

    return LocalBackend(n_workers) if kind == "local" else DaskBackend(n_workers)


def measure(kind: str, n_workers: int, args) -> dict:
    """Run the search once on a started backend; time only the search."""
    from evoens._run import SearchLimits, quiet_optuna, run_search
    from evoens.search import Evolution

    ctx, task, metric, y, space = make_context(args.data, args.seed, args.cv)
    backend = make_backend(kind, n_workers)
    with quiet_optuna():
        engine = Evolution(space, task, metric, y, args.population, args.seed, args.generations,
                           space.default_genomes(task))
        backend.start(ctx)
        try:
            warm_up(backend, engine)
            started = time.perf_counter()
            records = run_search(engine, backend, SearchLimits())
            wall = time.perf_counter() - started
        finally:
            backend.shutdown()
    busy = sum(r.wall_time for r in records)
    return {"backend": kind, "workers": n_workers, "evaluations": len(records),
            "failed": sum(not r.ok for r in records), "wall_s": wall, "evals_per_min": 60 * len(records) / wall,
            "utilisation": busy / (n_workers * wall), "s_per_eval": busy / max(1, len(records))}


def warm_up(backend, engine) -> None:
    """Import the learners on every worker (one throw-away evaluation each), outside the timing."""
    from evoens.evaluation import Candidate

    first = engine.space.default_genomes(engine.task)[0].genome
    for i in range(backend.capacity):
        backend.submit(Candidate(-1 - i, first, -1, seed=0), None)
    pending = backend.capacity
    while pending:
        pending -= len(backend.wait(1.0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="CSV with a 'target' column")
    parser.add_argument("--generations", type=int, default=6)
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", default="local:2,dask:1,dask:2",
                        help="comma-separated backend:workers (default: local:2,dask:1,dask:2)")
    args = parser.parse_args()
    if not args.data.is_file():
        parser.error(f"dataset {str(args.data)!r} does not exist; give its path as the first argument")

    load = os.getloadavg()[0]
    rows = []
    for spec in args.configs.split(","):
        kind, workers = spec.split(":")
        rows.append(measure(kind, int(workers), args))
        print(f"  {spec}: {rows[-1]['evaluations']} evaluations in {rows[-1]['wall_s']:.1f} s", flush=True)
    table = pd.DataFrame(rows)
    one = table[(table.backend == "dask") & (table.workers == 1)]
    two = table[(table.backend == "dask") & (table.workers == 2)]
    print(f"\n{args.data.name}: {args.generations} generations x {args.population}, space 'fast', cv={args.cv}, "
          f"{os.cpu_count()} cores, load average at start {load:.2f}, at end {os.getloadavg()[0]:.2f}")
    with pd.option_context("display.width", 120, "display.float_format", "{:.2f}".format):
        print(table.to_string(index=False))
    if len(one) and len(two):
        print(f"\nDask 2 workers / 1 worker, evaluations per minute: "
              f"{two.evals_per_min.iloc[0] / one.evals_per_min.iloc[0]:.2f}x")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
