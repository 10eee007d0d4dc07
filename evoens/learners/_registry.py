"""Learner names: the built-in short names, and ``"module:Class"`` for any other learner."""

from __future__ import annotations

import importlib

from ._boosters import LightGBMLearner, XGBoostLearner
from ._catboost import CatBoostLearner
from ._forests import ExtraTreesLearner, RandomForestLearner
from ._knn import KNNLearner
from ._linear import LinearLearner
from ._mlp import MLPLearner
from ._realmlp import RealMLPLearner

__all__ = ["LEARNERS", "resolve_learner"]

#: built-in name -> learner class; a space names any other as ``component = "module:Class"``
LEARNERS = {
    "lightgbm": LightGBMLearner,
    "xgboost": XGBoostLearner,
    "catboost": CatBoostLearner,
    "extra_trees": ExtraTreesLearner,
    "random_forest": RandomForestLearner,
    "mlp": MLPLearner,
    "realmlp": RealMLPLearner,
    "linear": LinearLearner,
    "knn": KNNLearner,
}


def resolve_learner(component: str):
    """The learner class for a built-in name or a ``"module:Class"`` path.

    Raises
    ------
    KeyError
        ``component`` is neither a built-in name nor a ``"module:Class"`` path.
    ImportError, AttributeError
        The module cannot be imported, or has no such class.
    """
    if component in LEARNERS:
        return LEARNERS[component]
    if ":" not in component:
        raise KeyError(
            f"unknown learner component {component!r}; "
            f"built-in: {sorted(LEARNERS)} or 'module:Class'"
        )
    module, _, name = component.partition(":")
    return getattr(importlib.import_module(module), name)
