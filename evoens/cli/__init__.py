"""The ``evoens`` command: batch AutoML on a CSV or Parquet file.

::

    evoens fit data.csv --target y --time-budget 300      # writes a run directory
    evoens predict RUN_DIR new.csv --output predictions.csv
    evoens resume RUN_DIR --time-budget 600               # after a crash, or for more time
    evoens report RUN_DIR                                 # RUN_DIR/report.html
    evoens leaderboard RUN_DIR
    evoens run job.toml                                   # fit, every option in a file

Errors are one line on stderr and a non-zero exit status (``--debug`` shows
the traceback).  See ``docs/cli.md``.

Inside: ``_table`` reads the data and decides the task, ``_job`` turns
options or a job file into the estimator, ``_commands`` holds one function
per command, ``_board`` prints leaderboards, ``_parser`` the arguments.
"""

from __future__ import annotations

import sys
import warnings

from ..exceptions import EvoensError
from ._commands import Interrupted
from ._parser import build_parser
from ._table import MAX_AUTO_CLASSES, infer_task, read_table

__all__ = ["main", "build_parser", "infer_task", "read_table", "MAX_AUTO_CLASSES"]


class _Output:
    """Where the command's messages go: info and progress on stderr, results on stdout."""

    def __init__(self, quiet: bool, verbose: bool):
        self.quiet = quiet
        self.verbose = 0 if quiet else (2 if verbose else 1)

    def info(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def result(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"evoens: warning: {message}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    """Run the ``evoens`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = _Output(args.quiet, args.verbose)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args, out) or 0)
        except Interrupted as exc:
            print(f"\nevoens: {exc}", file=sys.stderr)
            return 130
        except KeyboardInterrupt:
            print("\nevoens: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - the one place that turns errors into an exit status
            if args.debug:
                raise
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            prefix = "" if isinstance(exc, (EvoensError, OSError)) else f"{type(exc).__name__}: "
            print(f"evoens: error: {prefix}{text}", file=sys.stderr)
            if not isinstance(exc, EvoensError):
                print("(run with --debug for the traceback)", file=sys.stderr)
            return 1
