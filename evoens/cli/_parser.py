"""The argument parser."""

from __future__ import annotations

import argparse

from .._budget import DEFAULT_TIME_BUDGET
from ..backends import BACKENDS
from ..devices import DEVICES
from . import _commands as commands
from ._job import TASKS

__all__ = ["build_parser"]


def _folds(text: str):
    return text if text == "auto" else int(text)


def _common(parser, default):
    """--quiet / --debug / --verbose, accepted before or after the subcommand."""
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="print nothing but errors (no progress)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="a log line per finished evaluation (instead of the live status line)",
    )
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks of errors"
    )


def _search_options(p):
    p.add_argument("--task", choices=TASKS, help="default: auto (see docs/cli.md for the rule)")
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="S",
        dest="time_budget",
        help=(
            f"seconds for the whole fit (default {DEFAULT_TIME_BUDGET:g}; "
            "none when only --generations)"
        ),
    )
    p.add_argument(
        "--generations", type=int, metavar="N", help="stop after N generations (reproducible)"
    )
    p.add_argument(
        "--scoring",
        metavar="NAME",
        help="a scikit-learn scorer name (default: roc_auc, "
        "neg_log_loss or neg_root_mean_squared_error by task)",
    )
    p.add_argument(
        "--space",
        metavar="PRESET|FILE",
        help="search space: default, fast, trees, or a .toml file",
    )
    p.add_argument(
        "--n-jobs", type=int, metavar="N", dest="n_jobs", help="cores to use (-1: all); default 1"
    )
    p.add_argument(
        "--scheduler", metavar="ADDR", help="evaluate on this Dask scheduler (tcp://host:8786)"
    )
    p.add_argument("--device", choices=DEVICES, help="where tree boosters train (default auto)")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default 0)")
    p.add_argument(
        "--cv",
        type=_folds,
        metavar="K|auto",
        help="cross-validation folds (default auto: 8 below 10,000 rows and below 80 rows "
        "per second of budget, else 5)",
    )
    p.add_argument(
        "--population-size",
        type=int,
        metavar="N",
        dest="population_size",
        help="candidates per generation (default 20)",
    )
    p.add_argument(
        "--early-stop",
        type=int,
        metavar="N",
        dest="early_stop",
        help="stop after N generations without improvement",
    )
    p.add_argument(
        "--max-eval-time",
        type=float,
        metavar="S",
        dest="max_eval_time",
        help="seconds one evaluation may take",
    )
    p.add_argument("--backend", choices=BACKENDS, help="where evaluations run")
    p.add_argument(
        "--run-dir",
        metavar="DIR",
        dest="run_dir",
        help="run directory (default: evoens-runs/<data>-<time>)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evoens", description="Evolutionary, ensembling AutoML for tables."
    )
    _common(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, help_text, func):
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p, argparse.SUPPRESS)
        p.set_defaults(func=func)
        return p

    p = command(
        "fit", "search pipelines on a CSV or Parquet file; write a run directory", commands.cmd_fit
    )
    p.add_argument("data", help="CSV (.csv, .csv.gz), TSV or Parquet file")
    p.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    _search_options(p)

    p = command("predict", "predict with a fitted model", commands.cmd_predict)
    p.add_argument("model", metavar="RUN_DIR_OR_MODEL", help="a run directory or a model file")
    p.add_argument(
        "data", help="CSV or Parquet file with the feature columns (the target column is ignored)"
    )
    p.add_argument(
        "--output", metavar="FILE", help="CSV or .parquet file (default: CSV on stdout)"
    )
    p.add_argument("--proba", action="store_true", help="class probabilities instead of labels")

    p = command(
        "resume", "continue a run after a crash, or give it more time", commands.cmd_resume
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="S",
        dest="time_budget",
        help="seconds for this session (default: the run's own budget)",
    )
    p.add_argument("--generations", type=int, metavar="N", help="total generations for the run")

    p = command("report", "write the HTML report of a run", commands.cmd_report)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--output", metavar="FILE", help="default: RUN_DIR/report.html")

    p = command(
        "leaderboard", "print a run's leaderboard (live while it runs)", commands.cmd_leaderboard
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--top", type=int, default=20, metavar="N", help="rows to show (default 20)")
    p.add_argument("--all", action="store_true", help="show every evaluation")

    p = command(
        "run", "fit as described by a TOML job file (see examples/job.toml)", commands.cmd_run
    )
    p.add_argument("job", metavar="JOB.toml")
    p.add_argument("--run-dir", metavar="DIR", dest="run_dir", help="overrides the job's run_dir")
    return parser
