"""The :class:`Evaluation` record: everything one candidate's CV produced."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..space import Genome

__all__ = ["Evaluation", "Status", "Candidate", "finite_or_none"]


def finite_or_none(x):
    """``x`` as a float, or ``None`` when it is missing, not a number, NaN or infinite
    (for JSON)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


class Status(str, Enum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    PRUNED = "pruned"
    KILLED = "killed"


@dataclass(frozen=True)
class Candidate:
    """A genome the search wants evaluated, with its bookkeeping."""

    id: int
    genome: Genome
    generation: int
    seed: int
    operator: str = "init"
    parents: tuple = ()
    source: str = ""
    prune_below: float | None = None


@dataclass
class Evaluation:
    """The result of evaluating one candidate on the run's fixed folds.

    A failed evaluation is a record too: ``status`` says how it ended and
    ``error`` why; it has no score, predictions or models.
    """

    candidate: Candidate
    status: Status
    score: float = float("nan")
    fold_scores: list = field(default_factory=list)
    oof: np.ndarray | None = None  # float32; (n, K) probabilities or (n,) values
    models: list | None = None  # one fitted pipeline per fold
    fit_time: float = 0.0
    predict_time: float = 0.0
    wall_time: float = 0.0
    error: str = ""
    worker: str = ""
    device: str = ""  # where its learner trained: "cpu" or "cuda"
    n_predicted: int = 0  # out-of-fold rows predicted in ``predict_time``

    @property
    def predict_per_1k(self) -> float:
        """Seconds its fold models together take to predict 1,000 rows: what it costs in
        an ensemble."""
        if not self.n_predicted:
            return float("nan")
        return 1000.0 * self.predict_time * len(self.fold_scores) / self.n_predicted

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    @property
    def id(self) -> int:
        return self.candidate.id

    @property
    def genome(self) -> Genome:
        return self.candidate.genome

    def summary(self) -> dict:
        """A flat row for leaderboards and journals (no arrays, no models)."""
        c = self.candidate
        return {
            "id": c.id,
            "generation": c.generation,
            "learner": c.genome.learner,
            "pipeline": c.genome.describe(),
            "score": self.score,
            "fold_scores": [round(float(s), 6) for s in self.fold_scores],
            "status": self.status.value,
            "fit_time": round(self.fit_time, 3),
            "predict_time": round(self.predict_time, 3),
            "predict_s_per_1k": round(self.predict_per_1k, 5),
            "wall_time": round(self.wall_time, 3),
            "device": self.device,
            "operator": c.operator,
            "parents": list(c.parents),
            "source": c.source,
            "error": self.error,
            "genome": c.genome.to_dict(),
        }
