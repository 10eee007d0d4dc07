"""One :class:`~evoens.evaluation.Evaluation` as one Optuna trial, and back.

Everything but the arrays and models goes into the trial's user attributes
(plain JSON), so ``optuna-dashboard`` shows it; the trial's value is the
cross-validated score of an ``ok`` evaluation.  NaN is written as ``null``
(JSON has no NaN).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from optuna.trial import FrozenTrial, TrialState

from ..evaluation import Candidate, Evaluation, Status, finite_or_none
from ..space import Genome

__all__ = ["to_trial", "from_attrs", "RECORD_VERSION"]

#: bumped when the attributes below change incompatibly
RECORD_VERSION = 1

_STATES = {Status.OK: TrialState.COMPLETE, Status.PRUNED: TrialState.PRUNED}


def _float(x):
    return float("nan") if x is None else float(x)


def to_attrs(evaluation: Evaluation) -> dict:
    c = evaluation.candidate
    return {
        "record_version": RECORD_VERSION,
        "candidate_id": int(c.id),
        "generation": int(c.generation),
        "seed": int(c.seed),
        "operator": c.operator,
        "parents": [int(p) for p in c.parents],
        "source": c.source,
        "prune_below": None if c.prune_below is None else finite_or_none(c.prune_below),
        "learner": c.genome.learner,
        "pipeline": c.genome.describe(),
        "genome": c.genome.to_dict(),
        "status": evaluation.status.value,
        "score": finite_or_none(evaluation.score),
        "fold_scores": [finite_or_none(s) for s in evaluation.fold_scores],
        "fit_time": float(evaluation.fit_time),
        "predict_time": float(evaluation.predict_time),
        "n_predicted": int(evaluation.n_predicted),
        "wall_time": float(evaluation.wall_time),
        "error": evaluation.error,
        "worker": str(evaluation.worker),
        "device": str(evaluation.device),
    }


def to_trial(evaluation: Evaluation, finished: datetime | None = None) -> FrozenTrial:
    """An Optuna trial recording ``evaluation`` (COMPLETE, PRUNED or FAIL)."""
    finished = finished or datetime.now(timezone.utc)
    state = _STATES.get(evaluation.status, TrialState.FAIL)
    value = finite_or_none(evaluation.score) if state == TrialState.COMPLETE else None
    if state == TrialState.COMPLETE and value is None:
        state = (
            TrialState.FAIL
        )  # an "ok" record without a finite score: keep it, but not as a value
    started = finished - timedelta(seconds=max(0.0, float(evaluation.wall_time)))
    trial = FrozenTrial(
        number=0,
        state=state,
        value=value,
        datetime_start=started,
        datetime_complete=finished,
        params={},
        distributions={},
        user_attrs=to_attrs(evaluation),
        system_attrs={},
        intermediate_values={},
        trial_id=0,
    )
    trial._validate()
    return trial


def from_attrs(attrs: dict) -> Evaluation:
    """The evaluation a trial's user attributes describe (without arrays and models)."""
    genome = Genome.from_dict(attrs["genome"])
    candidate = Candidate(
        id=int(attrs["candidate_id"]),
        genome=genome,
        generation=int(attrs["generation"]),
        seed=int(attrs["seed"]),
        operator=attrs.get("operator", ""),
        parents=tuple(attrs.get("parents", ())),
        source=attrs.get("source", ""),
        prune_below=attrs.get("prune_below"),
    )
    return Evaluation(
        candidate=candidate,
        status=Status(attrs["status"]),
        score=_float(attrs.get("score")),
        fold_scores=[_float(s) for s in attrs.get("fold_scores", [])],
        fit_time=float(attrs.get("fit_time", 0.0)),
        predict_time=float(attrs.get("predict_time", 0.0)),
        wall_time=float(attrs.get("wall_time", 0.0)),
        error=attrs.get("error", ""),
        worker=attrs.get("worker", ""),
        device=attrs.get("device", ""),
        n_predicted=int(attrs.get("n_predicted", 0)),
    )
