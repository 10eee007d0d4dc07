"""Everything a report shows, gathered from a run directory or a fitted estimator."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..evaluation import finite_or_none, leaderboard_from_evaluations
from ..exceptions import InvalidInputError
from ..journal import RunLayout, read_evaluations

__all__ = ["RunData", "load_run", "from_estimator", "leaderboard_from_evaluations"]


@dataclass
class RunData:
    """The facts of one run, in plain data (no models)."""

    title: str
    leaderboard: pd.DataFrame
    ensemble: dict | None = (
        None  # kind, members [{id, pipeline, learner, weight, score}], held_out {option: score}
    )
    timing: dict = field(default_factory=dict)  # search_time, fit_time, stop_reason
    info: dict = field(
        default_factory=dict
    )  # data, target, task, scoring, ... for the settings table
    complete: bool = True  # False while the run is going on (or crashed): no model yet

    @property
    def ok(self) -> pd.DataFrame:
        return self.leaderboard[self.leaderboard["status"] == "ok"]

    @property
    def failed(self) -> pd.DataFrame:
        return self.leaderboard[self.leaderboard["status"] != "ok"]


def from_estimator(estimator, title: str = "evoens run", info: dict | None = None) -> RunData:
    """Report data from a fitted estimator (its leaderboard, ensemble and timings)."""
    ens = estimator.ensemble_
    members = [
        {
            "id": m.id,
            "pipeline": m.genome.describe(),
            "learner": m.genome.learner,
            "weight": float(m.weight),
            "score": float(m.score),
            "predict_s_per_1k": finite_or_none(getattr(m, "predict_per_1k", float("nan"))),
        }
        for m in ens.members
    ]
    ensemble = {
        "kind": ens.kind,
        "option": getattr(ens, "option", "") or ens.kind,
        "members": members,
        "oof_score": finite_or_none(ens.oof_score),
        "predict_s_per_1k": finite_or_none(sum(m["predict_s_per_1k"] or 0.0 for m in members)),
        "held_out": {k: finite_or_none(v) for k, v in dict(ens.candidates_scores).items()},
    }
    timing = {
        "search_time": getattr(estimator, "search_time_", None),
        "fit_time": getattr(estimator, "fit_time_", None),
        "stop_reason": getattr(estimator, "stop_reason_", ""),
    }
    facts = {
        "estimator": type(estimator).__name__,
        "task": getattr(estimator, "task_", ""),
        "scoring": getattr(estimator, "scoring_", ""),
        "random_state": estimator.random_state,
        "cv": estimator.cv,
        "population_size": estimator.population_size,
        "space": str(estimator.space),
        "time_budget": estimator.time_budget,
        "generations": estimator.generations,
        "n_jobs": estimator.n_jobs,
        "backend": estimator.backend,
        "device": estimator.device,
    }
    facts.update(info or {})
    return RunData(title, estimator.leaderboard_.copy(), ensemble, timing, facts, True)


def load_run(run_dir) -> RunData:
    """Report data from a run directory: the fitted model when there is one, else the
    journal alone.

    A run still going on, or one that crashed before writing its model, is
    reported from its journal (no ensemble section).
    """
    from ..persist import read_model

    layout = RunLayout.at(run_dir)
    if not layout.root.is_dir():
        raise InvalidInputError(f"run directory {layout.root} not found")
    if not layout.is_run():
        raise InvalidInputError(
            f"{layout.root} is not an evoens run directory (no journal, job or settings file)"
        )
    job = _read_json(layout.job)
    info = _job_facts(job, _read_json(layout.settings))
    title = layout.root.resolve().name
    if layout.model.exists():
        model = read_model(layout.model)
        data = from_estimator(model.estimator, title, info)
        if layout.journal.exists():
            _add_journal_only(data, read_evaluations(layout.root))
        return data
    evaluations = list(read_evaluations(layout.root).values()) if layout.journal.exists() else []
    return RunData(
        title, leaderboard_from_evaluations(evaluations), None, {}, info, complete=False
    )


def _add_journal_only(data: RunData, evaluations: dict) -> None:
    """Journal records the model's leaderboard lacks (a later, unfinished session)."""
    known = set(data.leaderboard["id"].tolist())
    extra = [e for i, e in evaluations.items() if i not in known]
    if extra:
        frame = pd.concat(
            [
                data.leaderboard.drop(columns="rank"),
                leaderboard_from_evaluations(extra).drop(columns="rank"),
            ],
            ignore_index=True,
        )
        frame["_ok"] = frame["status"] == "ok"
        frame = frame.sort_values(
            ["_ok", "score", "id"], ascending=[False, False, True], kind="stable"
        )
        frame = frame.drop(columns="_ok").reset_index(drop=True)
        frame.insert(0, "rank", np.arange(1, len(frame) + 1))
        data.leaderboard = frame


def _job_facts(job: dict, settings: dict) -> dict:
    facts = {}
    if job.get("resolved_task"):
        facts["task"] = (
            job["resolved_task"] if job.get("task") != "auto" else f"{job['resolved_task']} (auto)"
        )
    for key in ("data", "target", "created"):
        if job.get(key) is not None:
            facts[key] = job[key]
    if not job and settings:
        facts.update({k: v for k, v in settings.items() if k != "params"})
    return facts


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
