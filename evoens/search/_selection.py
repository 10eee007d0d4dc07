"""Selection on several objectives: CV score, ensemble gain and cost."""

from __future__ import annotations

import numpy as np

__all__ = ["pareto_fronts", "select_parents", "tournament"]


def pareto_fronts(objectives: np.ndarray) -> list[list[int]]:
    """Non-dominated sorting; ``objectives`` is (n, m), every column maximised."""
    n = len(objectives)
    dominated_by = [[] for _ in range(n)]
    counts = np.zeros(n, dtype=int)
    for i in range(n):
        better_eq = np.all(objectives >= objectives[i], axis=1)
        strictly = np.any(objectives > objectives[i], axis=1)
        dominators = np.flatnonzero(better_eq & strictly)
        counts[i] = len(dominators)
        for j in dominators:
            dominated_by[j].append(i)
    fronts, current = [], [i for i in range(n) if counts[i] == 0]
    while current:
        fronts.append(sorted(current))
        nxt = []
        for i in current:
            for j in dominated_by[i]:
                counts[j] -= 1
                if counts[j] == 0:
                    nxt.append(j)
        current = nxt
    return fronts


def select_parents(score, gain, cost, size: int) -> list[tuple[int, int]]:
    """The parent pool: ``(index, front)`` from the best Pareto fronts until ``size`` are in.

    Objectives: higher score, higher ensemble gain, lower cost (log fit time).
    """
    objectives = np.column_stack([score, gain, -np.log1p(cost)])
    pool = []
    for rank, front in enumerate(pareto_fronts(objectives)):
        pool += [(i, rank) for i in sorted(front, key=lambda i: -score[i])]
        if len(pool) >= size:
            break
    return pool


def tournament(pool: list[tuple[int, int]], score, rng: np.random.Generator, k: int = 2) -> int:
    """Best of ``k`` drawn from the pool, by (front, score)."""
    picks = [pool[i] for i in rng.choice(len(pool), size=min(k, len(pool)), replace=False)]
    return min(picks, key=lambda p: (p[1], -score[p[0]]))[0]
