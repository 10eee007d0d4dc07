"""The leaderboard: one row per evaluation, best first, failures last."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["leaderboard_from_evaluations", "LEADERBOARD_COLUMNS"]

LEADERBOARD_COLUMNS = [
    "rank",
    "id",
    "generation",
    "learner",
    "pipeline",
    "score",
    "fold_scores",
    "status",
    "fit_time",
    "predict_time",
    "predict_s_per_1k",
    "wall_time",
    "device",
    "operator",
    "parents",
    "source",
    "error",
    "genome",
    "ensemble_weight",
]


def leaderboard_from_evaluations(evaluations, weights=None) -> pd.DataFrame:
    """The estimator's ``leaderboard_`` layout, built from evaluation records."""
    weights = weights or {}
    rows = [{**e.summary(), "ensemble_weight": weights.get(e.id, 0.0)} for e in evaluations]
    if not rows:
        return pd.DataFrame(columns=LEADERBOARD_COLUMNS)
    frame = pd.DataFrame(rows)
    frame["_ok"] = frame["status"] == "ok"
    frame = frame.sort_values(
        ["_ok", "score", "id"], ascending=[False, False, True], kind="stable"
    )
    frame = frame.drop(columns="_ok").reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame
