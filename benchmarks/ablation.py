"""Does the evolution pay?  The full engine against itself without breeding, and with TPE alone.

Three modes of the same engine, same folds, same budget, one process per run,
run side by side dataset by dataset (nothing else should run meanwhile):

``full``    the engine as shipped: seeds, then bred generations (mutation,
            crossover, learner swap, step changes, TPE proposals)
``random``  breeding off: the same seeds, then random samples of the space
``tpe``     Optuna's TPE as the only proposer after the seeds

Prints per dataset the test score (BENCHMARKS.md protocol), evaluations, the
share of evaluations that were bred and the share of the final ensemble's
weight that bred candidates hold; then mean ranks over the datasets.

    python benchmarks/ablation.py --budget 300 \\
        --datasets car vehicle phoneme churn satimage wine_quality_white

One seed ranks the modes by run-to-run noise as much as by the engine (the
split and the search both follow the seed), so runs with other seeds are
combined: ``--combine A.json B.json ...`` ranks the modes within each
(dataset, seed) and prints the mean ranks over all of them, per dataset and
overall, with how often the full engine beats each ablation (a later file's
run replaces an earlier one's for the same dataset, seed and mode).
``--rechoose`` scores each run that recorded the ensemble options by the one
the engine's choice rule picks today.  Saved sweeps
are kept in ``benchmarks/sweeps/``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import DEFAULT_DATA, _higher_is_better, _rank, run_one  # noqa: E402

MODES = {"full": None, "random": {}, "tpe": {"tpe": 1.0}}


def run_mode(name, data_dir, budget, seed, n_jobs, mode) -> dict:
    """One dataset in one mode (in a child process): the suite's run with the mode's proposers."""
    import evoens.search._engine as engine

    if MODES[mode] is not None:
        engine.OPERATOR_RATES = dict(MODES[mode])
    return {**run_one(name, data_dir, budget, seed, n_jobs), "mode": mode}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="*",
        default=["car", "vehicle", "phoneme", "churn", "satimage", "wine_quality_white"],
    )
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=list(MODES))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--combine", nargs="+", type=Path, metavar="JSON")
    parser.add_argument(
        "--rechoose",
        action="store_true",
        help="with --combine: score each run by the option today's ensemble rule picks "
        "from its recorded options (suite.py's probe), not by the choice it made",
    )
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.combine:
        results = [r for f in args.combine for r in _load(f)]
        if args.rechoose:
            results = [rechoose(r) for r in results]
        print(combine(results, args.modes))
        return
    if args.one:
        print(
            json.dumps(
                run_mode(
                    args.one[0], args.data_dir, args.budget, args.seed, args.n_jobs, args.one[1]
                )
            )
        )
        return
    results = []
    for name in args.datasets:
        for mode in args.modes:
            cmd = [
                sys.executable,
                __file__,
                "--one",
                name,
                mode,
                "--data-dir",
                str(args.data_dir),
                "--budget",
                str(args.budget),
                "--seed",
                str(args.seed),
                "--n-jobs",
                str(args.n_jobs),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{name} {mode}: FAILED\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(r)
            if args.output:  # after every run: a sweep cut short keeps what it finished
                args.output.write_text(json.dumps(results, indent=1))
            print(
                f"{name:20s} {mode:7s} {r['metric']:.5g}  evals {r['evaluations']:4d}  "
                f"bred {r['bred_share']:.0%} of evaluations, "
                f"{r['bred_weight']:.0%} of ensemble weight  "
                f"generations {r['generations']}  fit {r['fit_s']:.1f}s",
                flush=True,
            )
    print()
    print(summarise(results, args.modes))
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))


def summarise(results, modes) -> str:
    ranks = {m: [] for m in modes}
    lines = ["| dataset | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    for name in dict.fromkeys(r["dataset"] for r in results):
        rows = {r["mode"]: r for r in results if r["dataset"] == name}
        if set(rows) != set(modes):
            continue
        higher = _higher_is_better(rows[modes[0]]["task"])
        values = [rows[m]["metric"] for m in modes]
        for m, rk in zip(modes, _rank(values, higher)):
            ranks[m].append(rk)
        lines.append(f"| {name} | " + " | ".join(f"{v:.5g}" for v in values) + " |")
    lines.append("")
    lines.append(
        "Mean rank (lower is better): "
        + ", ".join(f"{m} {np.mean(r):.2f}" for m, r in ranks.items() if r)
    )
    return "\n".join(lines + _bred_lines(results, modes))


def _bred_lines(results, modes) -> list[str]:
    """Mean share of evaluations and of ensemble weight that bred candidates hold, per mode."""
    lines = []
    for key, label in (("bred_share", "evaluations"), ("bred_weight", "ensemble weight")):
        means = {m: np.mean([r[key] for r in results if r["mode"] == m]) for m in modes}
        lines.append(
            f"Bred share of {label} (mean): " + ", ".join(f"{m} {v:.0%}" for m, v in means.items())
        )
    return lines


def _load(path: Path) -> list[dict]:
    records = json.loads(path.read_text())
    missing = [r["dataset"] for r in records if "seed" not in r]
    if missing:
        raise SystemExit(f"{path}: records without a seed ({', '.join(missing[:3])}, ...)")
    return records


def rechoose(record) -> dict:
    """The record scored by the option the engine's rule picks today among its recorded
    options (runs saved before a change of the rule: the search does not depend on
    it, so the same pool re-chosen is what today's engine would have returned)."""
    from ensemble_choice import probed, rule_engine

    if not probed(record):
        return record
    pick = rule_engine(record["options"])
    return {**record, "metric": record["options"][pick]["test"], "option": pick}


def combine(results, modes) -> str:
    """Mean ranks over (dataset, seed) pairs from several sweeps, and paired wins of full."""
    runs = {}
    for r in results:
        runs.setdefault((r["dataset"], r["seed"]), {})[r["mode"]] = r
    ranks = {}
    wins = {m: [0, 0] for m in modes if m != "full"} if "full" in modes else {}
    for (name, _), rows in sorted(runs.items()):
        if not set(modes) <= set(rows):
            continue
        higher = _higher_is_better(rows[modes[0]]["task"])
        values = [rows[m]["metric"] for m in modes]
        for m, rk in zip(modes, _rank(values, higher)):
            ranks.setdefault(name, {}).setdefault(m, []).append(rk)
        for m in wins:
            better = rows["full"]["metric"] - rows[m]["metric"]
            wins[m][0] += (better > 0) if higher else (better < 0)
            wins[m][1] += 1
    lines = ["| dataset | seeds | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for name, by_mode in ranks.items():
        seeds = len(by_mode[modes[0]])
        cells = " | ".join(f"{np.mean(by_mode[m]):.2f}" for m in modes)
        lines.append(f"| {name} | {seeds} | {cells} |")
    flat = {m: [rk for by_mode in ranks.values() for rk in by_mode[m]] for m in modes}
    lines.append("")
    lines.append(
        f"Mean rank over {len(flat[modes[0]])} (dataset, seed) runs (lower is better): "
        + ", ".join(f"{m} {np.mean(r):.2f}" for m, r in flat.items() if r)
    )
    if wins:
        lines.append(
            "Full beats: " + ", ".join(f"{m} on {w} of {n} runs" for m, (w, n) in wins.items())
        )
    return "\n".join(lines + _bred_lines(results, modes))


if __name__ == "__main__":
    main()
