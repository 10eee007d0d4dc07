"""Evaluations per minute of XGBoost, LightGBM, CatBoost and RealMLP candidates, CPU \
against GPU (run on a GPU machine).

The data (default: adult, the largest bundled classification dataset) is
replicated to ``--rows`` rows (1,000,000 by default).  The same candidates
(each learner's default from the "fast" space, then random ones from a fixed
seed; CatBoost's from the "catboost" space and RealMLP's from the "realmlp"
space, when the ``catboost`` and ``torch`` extras are installed) are
cross-validated once per device through ``evoens.evaluation.evaluate``, the
function the workers run: on CPU with every core as learner threads, on the
GPU with one thread.  Prints a table of seconds per evaluation and
evaluations per minute.

    python benchmarks/gpu.py                          # ../shared/datasets/adult.csv.gz
    python benchmarks/gpu.py path/to/537_houses.csv.gz --rows 2000000 --candidates 4
    python benchmarks/gpu.py --cpu-only --rows 50000  # check the script on a machine without a GPU

Exits with status 2 and a message when no usable NVIDIA GPU is found.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "adult.csv.gz"


def gpu_or_exit(cpu_only: bool) -> dict:
    """Which libraries can use the GPU here; exits cleanly when none can."""
    from evoens.devices import (
        catboost_gpu_available,
        gpu_available,
        lightgbm_gpu_available,
        torch_gpu_available,
    )

    if cpu_only:
        return {"xgboost": False, "lightgbm": False, "catboost": False, "realmlp": False}
    if not gpu_available():
        print(
            "benchmarks/gpu.py: no usable NVIDIA GPU on this machine (no CUDA driver or "
            "visible device, or XGBoost could not train on it). Run it on a GPU machine, "
            "or pass --cpu-only to time the CPU half.",
            file=sys.stderr,
        )
        sys.exit(2)
    return {
        "xgboost": True,
        "lightgbm": lightgbm_gpu_available(),
        "catboost": catboost_gpu_available(),
        "realmlp": torch_gpu_available(),
    }


def replicated_context(path: Path, rows: int, seed: int, cv: int):
    """The run's EvalContext on ``path`` tiled to ``rows`` rows (numeric columns
    lightly jittered)."""
    from evoens._data import Dataset, TabularEncoder, encode_target, make_folds
    from evoens._metrics import get_metric
    from evoens.evaluation import EvalContext
    from evoens.space import load_space

    frame = pd.read_csv(path)
    rng = np.random.default_rng(seed)
    frame = frame.iloc[np.resize(np.arange(len(frame)), rows)].reset_index(drop=True)
    X, y = frame.drop(columns="target"), frame["target"]
    encoder = TabularEncoder().fit(X)
    Xe = encoder.transform(X)
    numeric = ~np.asarray(encoder.categorical_mask, dtype=bool)
    Xe[:, numeric] += rng.normal(scale=1e-6, size=(rows, int(numeric.sum()))) * np.nanstd(
        Xe[:, numeric], axis=0
    )
    regression = y.nunique() > 20
    codes, classes = encode_target(y, "regression" if regression else "classification")
    task = "regression" if classes is None else ("binary" if len(classes) == 2 else "multiclass")
    data = Dataset(
        Xe,
        codes,
        task,
        encoder.categorical_mask,
        make_folds(codes, task, cv, seed),
        0 if classes is None else len(classes),
        None,
    )
    return EvalContext(data, get_metric(None, task, classes), load_space("fast").for_task(task))


def candidates(ctx, learner: str, n: int, seed: int) -> list:
    """The learner's default configuration, then ``n - 1`` random ones (the same
    for every device)."""
    from evoens.evaluation import Candidate

    rng = np.random.default_rng(seed)
    default = next(s.genome for s in ctx.space.seeds(ctx.data.task) if s.genome.learner == learner)
    genomes = [default] + [ctx.space.sample(rng, learner) for _ in range(n - 1)]
    return [Candidate(i, g, 0, seed=seed + i) for i, g in enumerate(genomes)]


def time_device(base_ctx, args, learner: str, device: str) -> dict:
    """Cross-validate the candidates one after another on ``device``."""
    from evoens.devices import plan_devices, probe
    from evoens.evaluation import evaluate
    from evoens.space import load_space

    threads = 1 if device == "cuda" else (os.cpu_count() or 1)
    plan = plan_devices(device, [probe()], "this machine")  # as a backend's start decides it
    ctx = dataclasses.replace(base_ctx, n_threads=threads, device=device, device_plan=plan)
    if learner not in ctx.space.learners:
        ctx = dataclasses.replace(ctx, space=load_space(learner).for_task(ctx.data.task))
    records, started = [], time.perf_counter()
    for candidate in candidates(ctx, learner, args.candidates, args.seed):
        records.append(evaluate(candidate, ctx))
    wall = time.perf_counter() - started
    failed = [r for r in records if not r.ok]
    return {
        "learner": learner,
        "device": device,
        "threads": threads,
        "evaluations": len(records),
        "failed": len(failed),
        "s_per_eval": wall / len(records),
        "evals_per_min": 60 * len(records) / wall,
        "mean_score": float(np.nanmean([r.score for r in records]))
        if len(failed) < len(records)
        else np.nan,
        "first_error": failed[0].error.splitlines()[0] if failed else "",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data", nargs="?", type=Path, default=DEFAULT_DATA, help="CSV with a 'target' column"
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--candidates", type=int, default=3, help="candidates per learner and device"
    )
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cpu-only", action="store_true", help="time only the CPU half (no GPU needed)"
    )
    args = parser.parse_args()
    if not args.data.is_file():
        parser.error(
            f"dataset {str(args.data)!r} does not exist; give its path as the first argument"
        )
    usable = gpu_or_exit(args.cpu_only)
    base_ctx = replicated_context(args.data, args.rows, args.seed, args.cv)

    import importlib.util

    learners = ["xgboost", "lightgbm"]
    for learner, module, extra in (
        ("catboost", "catboost", "catboost"),
        ("realmlp", "torch", "torch"),
    ):
        if importlib.util.find_spec(module) is not None:
            learners.append(learner)
        else:
            print(f'  {learner}: skipped (pip install "evoens[{extra}]")', flush=True)
    rows = []
    for learner in learners:
        for device in ("cpu", "cuda"):
            if device == "cuda" and not usable[learner]:
                print(f"  {learner} on cuda: skipped (no GPU learner usable here)", flush=True)
                continue
            rows.append(time_device(base_ctx, args, learner, device))
            print(
                f"  {learner} on {device}: {rows[-1]['s_per_eval']:.1f} s per evaluation",
                flush=True,
            )
    table = pd.DataFrame(rows)
    print(
        f"\n{args.data.name} replicated to {args.rows:,} rows, cv={args.cv}, "
        f"{args.candidates} candidates each, {os.cpu_count()} cores"
    )
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    for learner in learners:
        part = table[table.learner == learner].set_index("device")
        if {"cpu", "cuda"} <= set(part.index):
            print(
                f"{learner}: GPU "
                f"{part.loc['cuda', 'evals_per_min'] / part.loc['cpu', 'evals_per_min']:.2f}x "
                "the evaluations per minute of the CPU"
            )


if __name__ == "__main__":
    main()
