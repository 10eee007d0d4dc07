"""A run: the wiring of one fit (backend, journal, progress, search loop, ensemble, refit)."""

from ._loop import run_search
from ._run import Run, RunOptions, RunResult, make_backend

__all__ = ["Run", "RunOptions", "RunResult", "make_backend", "run_search"]
