"""An HTML report of a run: leaderboard, fitness, learners, ensemble, failures, timings.

The page is one self-contained file (inline CSS, plots as embedded PNG), so
it opens anywhere with no network.

>>> from evoens.report import write_report
>>> write_report("runs/my-run")            # doctest: +SKIP
PosixPath('runs/my-run/report.html')
"""

from __future__ import annotations

from pathlib import Path

from ._html import render
from ._run_data import RunData, from_estimator, leaderboard_from_evaluations, load_run

__all__ = [
    "build_report",
    "write_report",
    "RunData",
    "load_run",
    "from_estimator",
    "leaderboard_from_evaluations",
]


def build_report(source) -> str:
    """The report page as HTML text, from a run directory, a :class:`RunData` or a
    fitted estimator."""
    if isinstance(source, RunData):
        data = source
    elif hasattr(source, "ensemble_"):
        data = from_estimator(source)
    else:
        data = load_run(source)
    return render(data)


def write_report(source, output=None) -> Path:
    """Write the report; by default to ``report.html`` in the run directory.

    Parameters
    ----------
    source : str, Path, RunData or fitted estimator
    output : str or Path, optional
        Required unless ``source`` is a run directory.
    """
    if output is None:
        if isinstance(source, (str, Path)):
            output = Path(source) / "report.html"
        else:
            raise ValueError("output is required when the source is not a run directory")
    page = build_report(source)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(output)
    return output
