"""Which rule should choose the final model?  Judged on test, from saved sweeps.

The ensemble step weighs options on the run's pool by their held-out score
over the run's folds: until 2026-12-08 four (single best, greedy-weighted, a
stacker on the greedy members, a stacker on the best by score) and the best
held-out score won; now the greedy-weighted ensemble and the stacker on its
members, the stacker unless clearly beaten (rule ``engine``).  ``suite.py`` records
each option's held-out score per fold and its test score (``options``), so a
rule for choosing among them can be scored on test without rerunning a
search: the same pools, a different choice.

    python benchmarks/ensemble_choice.py benchmarks/sweeps/*.json

Prints, per run, each option's test score and what each rule picks, then per
rule how often it beats, ties and loses to the former rule (``best``), under
which the saved sweeps chose, and its mean test rank among the options.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import _higher_is_better, _rank  # noqa: E402

ORDER = ("single", "weighted", "stacked", "stacked-top")


def _paired(options, a, b):
    """Mean and standard error of fold-by-fold held-out differences ``a - b``."""
    d = np.asarray(options[a]["held_out_folds"]) - np.asarray(options[b]["held_out_folds"])
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


def probed(record) -> bool:
    """Whether a saved run recorded its ensemble options (suite.py's probe) without error."""
    options = record.get("options")
    return (
        isinstance(options, dict)
        and "error" not in options
        and all(isinstance(o, dict) for o in options.values())  # overfit.py: bare scores
    )


def rule_best(options):
    """The engine's rule until the sweeps of 2026-12-08: the best held-out score; ties to
    the simpler option.  Sweeps recorded before then chose by it, so it is the baseline."""
    names = [n for n in ORDER if n in options]
    return max(names, key=lambda n: (options[n]["held_out"], -names.index(n)))


def rule_weighted_unless(z):
    """The weighted ensemble unless another option beats it fold by fold by more than
    ``z`` standard errors of the paired differences (then the best of those)."""

    def rule(options):
        if "weighted" not in options:
            return rule_best(options)
        better = [
            n
            for n in ORDER
            if n in options and n != "weighted" and _beats(options, n, "weighted", z)
        ]
        if not better:
            return "weighted"
        return max(better, key=lambda n: options[n]["held_out"])

    return rule


def _beats(options, a, b, z):
    mean, se = _paired(options, a, b)
    return mean > z * se


def rule_one_se(options):
    """The simplest option within one standard error (paired, per fold) of the best."""
    best = rule_best(options)
    for n in ORDER:
        if n in options:
            mean, se = _paired(options, best, n)
            if mean <= se:
                return n
    return best


def rule_engine(options):
    """The engine's rule today (``evoens.ensemble._builder._choose``): the stacker unless
    the weighted ensemble beats it fold by fold by more than ``STACKER_MARGIN_SE``
    standard errors."""
    from evoens.ensemble._builder import _choose

    compared = {n: options[n] for n in ("weighted", "stacked") if n in options}
    return _choose(
        {n: o["held_out"] for n, o in compared.items()},
        {n: o["held_out_folds"] for n, o in compared.items()},
    )


RULES = {
    "best": rule_best,
    "weighted": lambda o: "weighted" if "weighted" in o else rule_best(o),
    "weighted-unless-1se": rule_weighted_unless(1.0),
    "weighted-unless-2se": rule_weighted_unless(2.0),
    "one-se": rule_one_se,
    "stacked": lambda o: "stacked" if "stacked" in o else rule_best(o),
    "engine": rule_engine,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path)
    args = parser.parse_args(argv)
    runs = [r for f in args.sweeps for r in json.loads(f.read_text()) if probed(r)]
    if not runs:
        raise SystemExit("no run in these sweeps records its options (suite.py's 'options')")
    lines = [
        "| dataset | seed | budget | mode | "
        + " | ".join(ORDER)
        + " | "
        + " | ".join(RULES)
        + " |"
    ]
    lines.append("|---" * (4 + len(ORDER) + len(RULES)) + "|")
    tally = {name: [0, 0, 0] for name in RULES}
    ranks = {name: [] for name in RULES}
    gains = {name: [] for name in RULES}
    for r in runs:
        options, higher = r["options"], _higher_is_better(r["task"])
        names = [n for n in ORDER if n in options]
        tests = [options[n]["test"] for n in names]
        rank = dict(zip(names, _rank(tests, higher)))
        picks = {name: rule(options) for name, rule in RULES.items()}
        base = options[picks["best"]]["test"]
        for name, pick in picks.items():
            t = options[pick]["test"]
            ranks[name].append(rank[pick])
            gains[name].append((t - base) / abs(base) * (1 if higher else -1))
            won = (t > base) if higher else (t < base)
            tally[name][0 if won else (1 if t == base else 2)] += 1
        cells = " | ".join(f"{options[n]['test']:.5g}" if n in options else "" for n in ORDER)
        lines.append(
            f"| {r['dataset']} | {r.get('seed')} | {r['budget_s']:g} | {r.get('mode', '')} | "
            f"{cells} | " + " | ".join(picks.values()) + " |"
        )
    lines.append("")
    lines.append(f"{len(runs)} runs; against the former rule (best held-out):")
    for name in RULES:
        won, tied, lost = tally[name]
        lines.append(
            f"  {name:22s} better on {won}, same on {tied}, worse on {lost}; "
            f"mean test rank among the options {np.mean(ranks[name]):.2f}; "
            f"mean relative test gain {100 * np.mean(gains[name]):+.2f}%"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
