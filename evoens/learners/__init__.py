"""Learners: the models a search space names, each a small scikit-learn estimator.

Layout, one module per family:

``_base.py``      :class:`Learner`, the base every learner subclasses, and shared helpers
``_boosters.py``  LightGBM and XGBoost (early stopping, deadline callbacks)
``_catboost.py``  CatBoost (the optional ``catboost`` extra)
``_forests.py``   extra trees and random forests, grown in chunks
``_realmlp.py``  RealMLP, a tabular MLP in PyTorch (the optional ``torch`` extra);
                  its network is in ``_torch_net.py``, imported only when it trains
``_mlp.py``, ``_linear.py``, ``_knn.py``   the other families
``_registry.py``  :data:`LEARNERS` (built-in short names) and :func:`resolve_learner`

A search space names a learner by its short name or as ``"module:Class"``;
adding one is a module with a :class:`Learner` subclass plus a TOML block
(see "Adding a learner" in ``CONTRIBUTING.md``); :func:`check_deadline`,
:func:`should_stop` and :func:`fold_time_left` are re-exported here for it.
Learners receive their device already decided (:mod:`evoens.devices`); they
never probe for a GPU.
"""

from .._deadline import check_deadline, fold_time_left, should_stop
from ._base import Learner
from ._boosters import LightGBMLearner, XGBoostLearner
from ._catboost import CatBoostLearner
from ._forests import ExtraTreesLearner, RandomForestLearner
from ._knn import KNNLearner
from ._linear import LinearLearner
from ._mlp import MLPLearner
from ._realmlp import RealMLPLearner
from ._registry import LEARNERS, resolve_learner

__all__ = [
    "Learner",
    "LEARNERS",
    "resolve_learner",
    "LightGBMLearner",
    "XGBoostLearner",
    "CatBoostLearner",
    "ExtraTreesLearner",
    "RandomForestLearner",
    "MLPLearner",
    "RealMLPLearner",
    "LinearLearner",
    "KNNLearner",
    "check_deadline",
    "should_stop",
    "fold_time_left",
]
