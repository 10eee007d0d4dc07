"""Progress of a search as it runs: a live status line on a terminal, log lines elsewhere.

:func:`make_reporter` returns the callback the estimator calls after every
finished evaluation, ``(evaluation, engine) -> None``.

- On a terminal (``stream.isatty()``) and ``verbose=1``: one status line,
  rewritten in place (``\\r``) — elapsed time and budget left, the
  generation, evaluations done and failed, the best score so far.  The
  cursor is left at the start of the line, so whatever is printed next
  (the summary at the end of ``fit``, a warning) replaces it.
- Elsewhere (a log file, a pipe, CI), or with ``verbose >= 2``: one plain
  line per finished evaluation, with the same figures.
- ``verbose=0``: no callback at all.
"""

from __future__ import annotations

import shutil
import sys
import time

__all__ = ["make_reporter", "format_duration"]

_MAX_LIVE_WIDTH = 78  # shorter than fit's closing summary, which overwrites it


def format_duration(seconds: float) -> str:
    """``"42s"``, ``"3m05s"``, ``"1h02m"``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class _Tally:
    """What the reporter knows about the run so far."""

    def __init__(self, started: float, time_budget):
        self.started = started
        self.time_budget = None if time_budget is None else float(time_budget)
        self.done = 0
        self.failed = 0
        self.generation = (
            0  # the latest generation seen (stragglers of older ones may still finish)
        )

    def count(self, evaluation, engine) -> None:
        self.done += 1
        self.failed += not evaluation.ok
        self.generation = max(self.generation, int(evaluation.candidate.generation))
        archive = getattr(engine, "archive", None)
        if archive is not None:  # a resumed run's replayed evaluations count too
            self.done = max(self.done, len(archive))

    def elapsed(self) -> float:
        return time.time() - self.started

    def left(self) -> str:
        if self.time_budget is None:
            return ""
        return f", {format_duration(max(0.0, self.time_budget - self.elapsed()))} left"


def _best(engine) -> str:
    best = engine.best() if engine is not None else None
    if best is None:
        return "best -"
    return f"best {best.score:.5g} ({best.genome.learner})"


class _LiveLine:
    def __init__(self, tally: _Tally, stream):
        self.tally, self.stream = tally, stream

    def __call__(self, evaluation, engine) -> None:
        t = self.tally
        t.count(evaluation, engine)
        failed = f", {t.failed} failed" if t.failed else ""
        line = (
            f"evoens {format_duration(t.elapsed())}{t.left()} | gen {t.generation} | "
            f"{t.done} done{failed} | {_best(engine)}"
        )
        width = min(_MAX_LIVE_WIDTH, shutil.get_terminal_size((80, 24)).columns - 1)
        self.stream.write("\r\033[K" + line[:width] + "\r")
        self.stream.flush()


class _LogLines:
    def __init__(self, tally: _Tally, stream):
        self.tally, self.stream = tally, stream

    def __call__(self, evaluation, engine) -> None:
        t = self.tally
        t.count(evaluation, engine)
        score = f"{evaluation.score:.5g}" if evaluation.ok else "-"
        reason = (
            ""
            if evaluation.ok
            else f" ({evaluation.error.splitlines()[0][:60]})"
            if evaluation.error
            else ""
        )
        print(
            f"[evoens {t.elapsed():7.1f}s] gen {evaluation.candidate.generation} #{evaluation.id} "
            f"{evaluation.status.value} {score}{reason} | {_best(engine)} | "
            f"{t.done} done, {t.failed} failed{t.left()} | {evaluation.genome.describe()[:70]}",
            file=self.stream,
            flush=True,
        )


def make_reporter(verbose: int, started: float, time_budget=None, stream=None):
    """The per-evaluation progress callback for a run, or ``None`` when silent.

    Parameters
    ----------
    verbose : int
        0: silent; 1: a live status line on a terminal, log lines otherwise;
        2 or more: log lines always.
    started : float
        ``time.time()`` when the run started.
    time_budget : float or None
        The run's budget in seconds, to show the time left.
    stream : file, optional
        Where to write; ``sys.stderr`` by default.

    Returns
    -------
    callable or None
        ``report(evaluation, engine)``; ``engine`` needs ``best()``; its
        ``archive``, when it has one, also counts a resumed run's replayed
        evaluations.
    """
    if not verbose:
        return None
    stream = sys.stderr if stream is None else stream
    tally = _Tally(started, time_budget)
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    if verbose == 1 and is_tty:
        return _LiveLine(tally, stream)
    return _LogLines(tally, stream)
