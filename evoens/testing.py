"""Misbehaving learners, for testing how a run copes with them.

Name them in a search-space file as ``component = "evoens.testing:HangingLearner"``.
They are test doubles of a *pipeline*, never of evoens itself: the engine
around them runs for real.

Examples
--------
A space whose only learner never finishes::

    [learners.hang]
    component = "evoens.testing:HangingLearner"
"""

from __future__ import annotations

import time

import numpy as np

from .learners import Learner

__all__ = ["HangingLearner", "FailingLearner", "MemoryHogLearner"]


class HangingLearner(Learner):
    """``fit`` never returns and never checks its deadline (like a stuck native loop)."""

    def _fit(self, X, y, sample_weight, params):
        while True:
            time.sleep(0.05)

    def _predict(self, X):  # pragma: no cover - fit never returns
        raise AssertionError("unreachable")


class FailingLearner(Learner):
    """``fit`` raises ``RuntimeError``."""

    def _fit(self, X, y, sample_weight, params):
        raise RuntimeError("FailingLearner always fails")

    def _predict(self, X):  # pragma: no cover - fit always raises
        raise AssertionError("unreachable")


class MemoryHogLearner(Learner):
    """``fit`` keeps allocating (and touching) memory: ``params["chunk_mb"]`` MiB at a
    time, forever."""

    def _fit(self, X, y, sample_weight, params):
        chunk = int(params.get("chunk_mb", 100)) * 2**20
        hoard = []
        while True:
            hoard.append(np.ones(chunk, dtype=np.uint8))
            time.sleep(0.02)

    def _predict(self, X):  # pragma: no cover - fit never returns
        raise AssertionError("unreachable")
