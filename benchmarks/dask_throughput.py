"""Evaluation throughput and worker utilisation of the local and Dask backends.

A fixed workload (each learner's default from the "fast" space, then random
genomes from a fixed seed) is evaluated on each backend, its workers started
and warmed up first, through the driver's refill loop (submit while there is
room, collect as evaluations finish).  Only the evaluations are timed.  The
backends run side by side in each of ``--repeats`` sweeps, and medians are
reported, because the machine is shared.  Per backend:

* evaluations per minute (evaluations / wall time);
* utilisation: busy time / (workers x wall time), where busy time is the sum
  of the evaluations' own wall times measured on the workers;
* seconds per evaluation (longer when workers compete for cores);
* and, per sweep, the machine's own scaling: how much faster 2 processes do
  CPU work than 1 right now (2.00x on 2 idle cores), the bound on any
  2-worker speed-up.

    python benchmarks/dask_throughput.py  # ../shared/datasets/phoneme.csv.gz
    python benchmarks/dask_throughput.py path/to/data.csv.gz --candidates 40 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter, deque
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "phoneme.csv.gz"


def make_context(path: Path, seed: int, cv: int):
    """The run's EvalContext, built as ``fit`` builds it."""
    from evoens._data import Dataset, TabularEncoder, encode_target, make_folds
    from evoens._metrics import get_metric
    from evoens.evaluation import EvalContext
    from evoens.space import load_space

    frame = pd.read_csv(path)
    X, y = frame.drop(columns="target"), frame["target"]
    encoder = TabularEncoder().fit(X)
    codes, classes = encode_target(y, "classification")
    task = "binary" if len(classes) == 2 else "multiclass"
    data = Dataset(
        encoder.transform(X),
        codes,
        task,
        encoder.categorical_mask,
        make_folds(codes, task, cv, seed),
        len(classes),
        None,
    )
    space = load_space("fast").for_task(task)
    return EvalContext(data, get_metric(None, task, classes), space, n_threads=1, device="cpu")


def make_backend(kind: str, n_workers: int):
    from evoens.backends import DaskBackend, LocalBackend

    return LocalBackend(n_workers) if kind == "local" else DaskBackend(n_workers)


def fixed_workload(ctx, n: int, seed: int) -> list:
    """The candidates every backend evaluates: each learner's default, then random
    genomes (fixed seed)."""
    from evoens.evaluation import Candidate

    rng = np.random.default_rng(seed)
    genomes = [s.genome for s in ctx.space.seeds(ctx.data.task)][:n]
    genomes += [ctx.space.sample(rng) for _ in range(n - len(genomes))]
    return [Candidate(i, g, 0, seed=seed + i) for i, g in enumerate(genomes)]


def feed(backend, candidates) -> list:
    """The driver's refill loop: submit while a worker (or the queue) has room,
    collect as they finish."""
    todo, records = deque(candidates), []
    while todo or backend.n_running:
        while todo and backend.idle > 0:
            backend.submit(todo.popleft(), None)
        records += backend.wait(0.5)
    return records


def measure(kind: str, n_workers: int, ctx, candidates) -> dict:
    """Evaluate ``candidates`` on a started, warmed-up backend; time only the evaluations."""
    backend = make_backend(kind, n_workers)
    backend.start(ctx)
    try:
        feed(
            backend, candidates[: backend.capacity]
        )  # warm-up: imports and first fits on every worker
        started = time.perf_counter()
        records = feed(backend, candidates)
        wall = time.perf_counter() - started
    finally:
        backend.shutdown()
    busy = sum(r.wall_time for r in records)
    statuses = Counter(r.status.value for r in records)
    return {
        "backend": kind,
        "workers": n_workers,
        "evaluations": len(records),
        "not_ok": ",".join(f"{k}={v}" for k, v in sorted(statuses.items()) if k != "ok") or "-",
        "wall_s": wall,
        "evals_per_min": 60 * len(records) / wall,
        "utilisation": busy / (n_workers * wall),
        "s_per_eval": busy / max(1, len(records)),
    }


def _spin(seconds_of_work: int) -> float:
    """A fixed amount of single-threaded CPU work; returns its wall time."""
    started = time.perf_counter()
    x = 0
    for i in range(seconds_of_work * 10_000_000):
        x += i & 7
    return time.perf_counter() - started


def cpu_scaling(n: int = 2) -> float:
    """How much faster ``n`` processes do ``n`` units of CPU work than one does,
    on this machine now.

    On an idle machine with ``n`` cores it is ``n``; other users' processes
    lower it.  It bounds what ``n`` workers can gain over one.
    """
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(n) as pool:
        alone = pool.apply(_spin, (3,))
        together = max(pool.map(_spin, [3] * n))
    return n * alone / together


def warm_up(backend, engine) -> None:
    """Import the learners on every worker (one throw-away evaluation each), outside the timing."""
    from evoens.evaluation import Candidate

    first = engine.space.seeds(engine.task)[0].genome
    for i in range(backend.capacity):
        backend.submit(Candidate(-1 - i, first, -1, seed=0), None)
    pending = backend.capacity
    while pending:
        pending -= len(backend.wait(1.0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data", nargs="?", type=Path, default=DEFAULT_DATA, help="CSV with a 'target' column"
    )
    parser.add_argument(
        "--candidates", type=int, default=40, help="evaluations per backend and sweep"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="sweeps over the backends; medians are reported"
    )
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--configs",
        default="local:2,dask:1,dask:2",
        help="comma-separated backend:workers (default: local:2,dask:1,dask:2)",
    )
    args = parser.parse_args()
    if not args.data.is_file():
        parser.error(
            f"dataset {str(args.data)!r} does not exist; give its path as the first argument"
        )

    ctx = make_context(args.data, args.seed, args.cv)
    candidates = fixed_workload(ctx, args.candidates, args.seed)
    load, rows, scaling = os.getloadavg()[0], [], []
    for repeat in range(args.repeats):
        scaling.append(cpu_scaling())
        for spec in args.configs.split(","):
            kind, workers = spec.split(":")
            rows.append({"repeat": repeat, **measure(kind, int(workers), ctx, candidates)})
            print(
                f"  sweep {repeat + 1}, {spec}: {rows[-1]['evaluations']} evaluations in "
                f"{rows[-1]['wall_s']:.1f} s",
                flush=True,
            )
    scaling.append(cpu_scaling())
    report(args, pd.DataFrame(rows), scaling, load)


def report(args, table, scaling, load) -> None:
    print(
        f"\n{args.data.name}: {args.candidates} candidates (space 'fast', fixed seed) "
        f"per backend, cv={args.cv}, "
        f"{args.repeats} sweep(s); {os.cpu_count()} cores, load average {load:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end"
    )
    with pd.option_context("display.width", 140, "display.float_format", "{:.2f}".format):
        print(table.to_string(index=False))
        numbers = ["wall_s", "evals_per_min", "utilisation", "s_per_eval"]
        medians = table.groupby(["backend", "workers"], sort=False)[numbers].median().reset_index()
        print("\nmedians")
        print(medians.to_string(index=False))
    one = medians[(medians.backend == "dask") & (medians.workers == 1)]
    two = medians[(medians.backend == "dask") & (medians.workers == 2)]
    if len(one) and len(two):
        print(
            f"\nDask 2 workers / 1 worker, evaluations per minute (medians): "
            f"{two.evals_per_min.iloc[0] / one.evals_per_min.iloc[0]:.2f}x"
        )
    print(
        "CPU work done by 2 processes at once / by 1 process, before each sweep and at the end: "
        + ", ".join(f"{x:.2f}x" for x in scaling)
        + " (2.00x on 2 idle cores: the bound on a 2-worker speed-up)"
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
