"""Greedy ensemble selection with replacement (Caruana et al., 2004) on OOF predictions."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["greedy_weights", "blend", "marginal_gains"]


def blend(preds: list, weights) -> np.ndarray:
    """Weighted average of prediction arrays (probabilities or values)."""
    out = np.zeros_like(preds[0], dtype=np.float64)
    for p, w in zip(preds, weights):
        if w:
            out += w * p
    return out / max(float(np.sum(weights)), 1e-12)


def greedy_weights(
    preds: list, y, metric, n_iter: int = 25, sample_weight=None, rows=None, deadline=None
) -> np.ndarray:
    """Weights (summing to 1) chosen by greedy forward selection with replacement.

    Starts from the best single member, then repeatedly adds (again, possibly)
    the member whose addition scores best, ``n_iter`` times in all.  ``rows``
    restricts fitting to a subset of rows (for nested evaluation).  Past
    ``deadline`` (``time.time()``) it stops adding and returns what it has.
    """
    if rows is not None:
        preds = [p[rows] for p in preds]
        y = y[rows]
        sample_weight = None if sample_weight is None else sample_weight[rows]
    counts = np.zeros(len(preds))
    current = np.zeros_like(preds[0], dtype=np.float64)
    for step in range(n_iter):
        if step and deadline is not None and time.time() > deadline:
            break
        best_j, best_score = 0, -np.inf
        for j, p in enumerate(preds):
            score = metric(y, (current * step + p) / (step + 1), sample_weight)
            if score > best_score:
                best_j, best_score = j, score
        counts[best_j] += 1
        current = (current * step + preds[best_j]) / (step + 1)
    return counts / counts.sum()


def marginal_gains(
    ensemble_pred, ensemble_size: int, preds: list, y, metric, sample_weight=None
) -> np.ndarray:
    """For each candidate, how much adding one copy of it to the ensemble changes the score."""
    base = metric(y, ensemble_pred, sample_weight)
    n = max(ensemble_size, 1)
    return np.array(
        [metric(y, (ensemble_pred * n + p) / (n + 1), sample_weight) - base for p in preds]
    )
