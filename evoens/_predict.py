"""Predictions of a fitted pipeline in the run's layout (all classes, by code)."""

from __future__ import annotations

import numpy as np

__all__ = ["predict_aligned"]


def predict_aligned(pipeline, X, task: str, n_classes: int) -> np.ndarray:
    """Probabilities over all the run's classes (columns by class code), or values."""
    if task == "regression":
        return np.asarray(pipeline.predict(X), dtype=np.float64)
    proba = np.asarray(pipeline.predict_proba(X), dtype=np.float64)
    out = np.zeros((len(X), n_classes))
    out[:, np.asarray(pipeline.classes_, dtype=np.int64)] = proba
    return out
