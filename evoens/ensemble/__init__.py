"""Ensembles over out-of-fold predictions: pure math, no knowledge of the search."""

from ._builder import EnsembleBuilder, EnsembleModel, Member
from ._greedy import blend, greedy_weights, marginal_gains
from ._stacking import Stacker

__all__ = [
    "EnsembleBuilder",
    "EnsembleModel",
    "Member",
    "Stacker",
    "blend",
    "greedy_weights",
    "marginal_gains",
]
