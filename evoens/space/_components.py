"""Preprocessing steps and the pipeline builder.

A genome names a learner (a built-in name of :data:`evoens.learners.LEARNERS`,
or ``"module:Class"`` for your own :class:`~evoens.learners.Learner`
subclass) and one choice per step slot.  :func:`build_pipeline` turns it into
a fresh scikit-learn ``Pipeline`` for the run's column layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectPercentile, VarianceThreshold, f_classif, f_regression
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, QuantileTransformer, RobustScaler, StandardScaler

from ..devices import ResolvedDevices
from ..learners import resolve_learner

__all__ = ["STEP_CHOICES", "BuildContext", "build_pipeline"]

#: slot -> the choices a space may name; the first is the slot's default.
#: the one-hot step keeps at most this many columns per categorical column (the rarest
#: levels share the last)
ONEHOT_MAX_CATEGORIES = 32

STEP_CHOICES = {
    "encoder": ("ordinal", "native", "onehot"),
    "scaler": ("none", "standard", "quantile", "robust"),
    "selector": ("none", "percentile", "variance"),
}


@dataclass(frozen=True)
class BuildContext:
    """What a pipeline needs to know about the run to be built.

    ``devices`` is the run's device plan resolved on the process that builds
    (:meth:`evoens.devices.DevicePlan.resolve`): the learner of each
    pipeline gets its own device from it, ``"cpu"`` by default.
    """

    task: str
    categorical_mask: tuple
    n_jobs: int = 1
    devices: ResolvedDevices = ResolvedDevices()
    low_cardinality: tuple = ()  # numeric columns that one-hot encoders expand as well


def _scaler(choice, n_rows_hint=1000):
    if choice == "standard":
        return StandardScaler()
    if choice == "quantile":
        return QuantileTransformer(
            n_quantiles=min(1000, n_rows_hint), output_distribution="normal", subsample=100_000
        )
    if choice == "robust":
        return RobustScaler()
    return None


def _selector(choice, params, task):
    if choice == "percentile":
        score = f_regression if task == "regression" else f_classif
        return SelectPercentile(score, percentile=params.get("percentile", 50))
    if choice == "variance":
        return VarianceThreshold(params.get("threshold", 0.0))
    return None


def build_pipeline(
    genome, component, context: BuildContext, random_state: int, n_rows_hint: int = 1000
):
    """A fresh, unfitted ``Pipeline`` for ``genome`` on the run's columns.

    ``component`` is a learner name, a ``"module:Class"`` path or the class
    itself.  The learner gets its device from ``context.devices``.

    Raises
    ------
    DeviceError
        The run asked for ``device="cuda"`` and this process has no GPU for
        the learner's library.
    """
    learner_cls = component if isinstance(component, type) else resolve_learner(component)
    steps = genome.step_dict
    encoder = steps.get("encoder", ("ordinal", {}))[0]
    scaler = _scaler(steps.get("scaler", ("none", {}))[0], n_rows_hint)
    selector = _selector(*steps.get("selector", ("none", {})), context.task)
    cat_mask = np.asarray(context.categorical_mask, dtype=bool)
    if encoder == "onehot" and len(context.low_cardinality):
        cat_mask = cat_mask | np.asarray(context.low_cardinality, dtype=bool)
    num_idx, cat_idx = np.flatnonzero(~cat_mask), np.flatnonzero(cat_mask)
    impute = not learner_cls.handles_missing or selector is not None
    native = encoder == "native" and learner_cls.native_categorical

    num_steps = []
    if impute:
        num_steps.append(("impute", SimpleImputer(strategy="median", keep_empty_features=True)))
    if scaler is not None:
        num_steps.append(("scale", scaler))
    cat_steps = []
    if len(cat_idx) and encoder == "onehot":
        cat_steps = [
            (
                "impute",
                SimpleImputer(strategy="constant", fill_value=-1, keep_empty_features=True),
            ),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="ignore",
                    max_categories=ONEHOT_MAX_CATEGORIES,
                    sparse_output=False,
                ),
            ),
        ]
    elif len(cat_idx) and impute:
        cat_steps = [
            ("impute", SimpleImputer(strategy="constant", fill_value=-1, keep_empty_features=True))
        ]

    pipeline_steps = []
    if num_steps or cat_steps:
        parts = []
        if len(num_idx):
            parts.append(("num", Pipeline(num_steps) if num_steps else "passthrough", num_idx))
        if len(cat_idx):
            parts.append(("cat", Pipeline(cat_steps) if cat_steps else "passthrough", cat_idx))
        pipeline_steps.append(("columns", ColumnTransformer(parts, sparse_threshold=0.0)))
        categorical = (
            tuple(range(len(num_idx), len(num_idx) + len(cat_idx)))
            if native and not cat_steps
            else ()
        )
    else:
        categorical = tuple(int(i) for i in cat_idx) if native else ()
    if selector is not None:
        pipeline_steps.append(("select", selector))
        categorical = ()  # selection renumbers columns; natives are off behind it
    params = genome.param_dict
    if learner_cls.native_categorical:
        params["native_categorical"] = bool(native and categorical)
    device = context.devices.device(getattr(learner_cls, "gpu_library", None))
    learner = learner_cls(
        task=context.task,
        params=params,
        categorical=categorical,
        n_jobs=context.n_jobs,
        random_state=random_state,
        device=device,
    )
    pipeline_steps.append(("learner", learner))
    return Pipeline(pipeline_steps)
