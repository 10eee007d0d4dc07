"""Input validation and the run's :class:`Dataset`.

Every candidate pipeline sees the same numeric matrix: numeric columns as
floats, categorical columns (object, string, category) as integer codes with
``NaN`` for missing *and for categories unseen at fit time* (documented
behaviour: an unseen category is treated as a missing value).  The folds are
fixed once per run and shared by every candidate.

Columns are matched by position, as in scikit-learn (the estimator checks the
names first).  Categories are matched by value, not by spelling: ``1``,
``1.0`` and ``"1"`` are one category, as are ``True``, ``np.True_`` and
``"True"``, so data read back from a CSV file encodes as it did at fit.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from .exceptions import InvalidInputError, InvalidTypeError

__all__ = [
    "TabularEncoder",
    "encode_target",
    "Dataset",
    "make_folds",
    "integer_coded_mask",
    "check_2d",
    "check_sample_weight",
]


def _as_frame(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    if hasattr(X, "__dataframe__") or hasattr(X, "to_pandas"):
        return X.to_pandas() if hasattr(X, "to_pandas") else pd.api.interchange.from_dataframe(X)
    if hasattr(X, "toarray"):
        raise InvalidInputError(
            "X: sparse matrices are not supported; pass a dense array or a DataFrame"
        )
    arr = np.asarray(X)
    if arr.ndim == 1:
        raise InvalidInputError(
            "X must be 2-dimensional (n_samples, n_features); got a 1-d array of shape "
            f"{arr.shape}. Reshape your data either using array.reshape(-1, 1) if your data "
            "has a single feature or array.reshape(1, -1) if it contains a single sample."
        )
    if arr.ndim != 2:
        raise InvalidInputError(
            f"X must be 2-dimensional; got an array with {arr.ndim} dimensions"
        )
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def _column_kind(name, s: pd.Series) -> str:
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "numeric"
    if pd.api.types.is_complex_dtype(dtype):
        raise InvalidInputError(f"Complex data not supported: X column {name!r} has dtype {dtype}")
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise InvalidInputError(
            f"X column {name!r} has unsupported dtype {dtype}; convert dates to numbers "
            "(e.g. day of year, seconds since an epoch) before fitting"
        )
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        values = s.dropna()
        if (
            len(values)
            and values.map(lambda v: isinstance(v, (bytes, dict, list, set, tuple))).any()
        ):
            raise InvalidTypeError(
                "argument must be a string or a number: "
                f"X column {name!r} holds containers or bytes"
            )
        numeric = pd.to_numeric(values, errors="coerce")
        if (
            len(values)
            and numeric.notna().all()
            and not values.map(lambda v: isinstance(v, str)).any()
        ):
            return "numeric"
        return "categorical"
    raise InvalidInputError(f"X column {name!r} has unsupported dtype {dtype}")


@dataclass
class TabularEncoder:
    """Learns column kinds and category lists at fit; maps any X to a float matrix.

    ``categories`` maps a column name to its categories as strings, in code
    order; categories equal by value (``1`` and ``"1.0"``) are kept once.
    """

    columns: list = field(default_factory=list)
    kinds: list = field(default_factory=list)
    categories: dict = field(default_factory=dict)

    def fit(self, X) -> "TabularEncoder":
        frame = _as_frame(X)
        if frame.shape[0] == 0:
            raise InvalidInputError(
                f"X is empty: 0 sample(s) (shape={frame.shape}) while a minimum of 1 is required."
            )
        if frame.shape[1] == 0:
            raise InvalidInputError(
                f"X has 0 feature(s) (shape={frame.shape}) while a minimum of 1 is required."
            )
        self.columns = list(frame.columns)
        self.kinds = [_column_kind(c, frame.iloc[:, j]) for j, c in enumerate(self.columns)]
        self.categories = {}
        for j, (c, kind) in enumerate(zip(self.columns, self.kinds)):
            if kind == "categorical":
                self.categories[c] = _learn_categories(frame.iloc[:, j])
        return self

    @property
    def categorical_mask(self) -> np.ndarray:
        return np.array([k == "categorical" for k in self.kinds], dtype=bool)

    def transform(self, X) -> np.ndarray:
        frame = _as_frame(X)
        if frame.shape[0] == 0:
            raise InvalidInputError("X is empty: 0 samples (rows) given; at least one is required")
        if frame.shape[1] != len(self.columns):
            raise InvalidInputError(
                f"X has {frame.shape[1]} features, but this model was fitted with "
                f"{len(self.columns)} features"
            )
        out = np.empty((frame.shape[0], len(self.columns)), dtype=np.float64)
        for j, (c, kind) in enumerate(zip(self.columns, self.kinds)):
            s = frame.iloc[
                :, j
            ]  # by position, as scikit-learn: names were checked by the estimator
            if kind == "categorical":
                out[:, j] = _encode_categories(s, self.categories[c])
            else:
                try:
                    out[:, j] = _encode_numbers(s)
                except (TypeError, ValueError) as exc:
                    raise InvalidInputError(
                        f"X column {c!r} must be numeric, as it was at fit: {exc}"
                    ) from None
        return out


def _category_key(value) -> tuple:
    """What a category is matched by: ``1``, ``1.0`` and ``"1"`` share a key; so do
    ``True`` and ``"True"``."""
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, numbers.Integral):
        return ("number", int(value))
    if isinstance(value, np.floating):
        value = float(str(value))  # float32 0.1 is the category "0.1", not 0.10000000149
    if isinstance(value, float):
        return _number_key(value)
    text = str(value)
    if text.lower() in ("true", "false"):
        return ("bool", text.lower() == "true")
    number = _parse_number(text)
    return ("str", text) if number is None else number


def _number_key(number: float) -> tuple:
    return ("number", int(number)) if number.is_integer() else ("number", number)


def _parse_number(text: str) -> tuple | None:
    if text != text.strip() or "_" in text:
        return None
    try:
        return ("number", int(text))
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else _number_key(number)


def _learn_categories(s: pd.Series) -> list:
    """A categorical column's categories as strings: the dtype's order, else sorted;
    one per key."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        values = [str(v) for v in s.cat.categories]
    else:
        values = sorted(pd.unique(s.dropna().astype(str)))
    seen, kept = set(), []
    for value in values:
        key = _category_key(value)
        if key not in seen:
            seen.add(key)
            kept.append(str(value))
    return kept


def _encode_categories(s: pd.Series, categories: list) -> np.ndarray:
    """Category codes by value; ``NaN`` for missing values and for categories unseen at fit."""
    lookup = {}
    for code, category in enumerate(categories):
        lookup.setdefault(_category_key(category), code)
    codes, uniques = pd.factorize(s)
    by_unique = [lookup.get(_category_key(u), np.nan) for u in uniques]
    return np.asarray(by_unique + [np.nan], dtype=np.float64)[
        codes
    ]  # code -1 (missing) picks the NaN


def _encode_numbers(s: pd.Series) -> np.ndarray:
    """A numeric column as floats; text ``"True"``/``"False"`` (any case) reads as 1 and 0."""
    dtype = s.dtype
    if not (
        pd.api.types.is_object_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return pd.to_numeric(s, errors="raise").astype("float64").to_numpy(na_value=np.nan)
    codes, uniques = pd.factorize(s)
    values = [_BOOL_TEXT.get(u.lower(), u) if isinstance(u, str) else u for u in uniques]
    parsed = pd.to_numeric(pd.Series(values, dtype=object), errors="raise").astype("float64")
    return np.append(parsed.to_numpy(na_value=np.nan), np.nan)[
        codes
    ]  # code -1 (missing) picks the NaN


_BOOL_TEXT = {"true": 1.0, "false": 0.0}


def encode_target(y, task: str):
    """Validate ``y`` and encode it: class codes 0..K-1 (and the classes) or floats."""
    if y is None:
        raise InvalidInputError("requires y to be passed, but the target y is None")
    if isinstance(y, (pd.DataFrame,)) and y.shape[1] == 1:
        y = y.iloc[:, 0]
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it is raveled.",
            _data_conversion_warning(),
            stacklevel=3,
        )
        arr = arr.ravel()
    if arr.ndim != 1:
        raise InvalidInputError(f"y must be 1-dimensional; got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InvalidInputError("y is empty: 0 samples given")
    if task == "regression":
        try:
            values = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise InvalidInputError(
                "y must be numeric for regression; got non-numeric values"
            ) from None
        _check_finite_target(values)
        return values, None
    missing = pd.isna(pd.Series(arr)).to_numpy()
    if missing.all():
        raise InvalidInputError("y is all NaN: every target value is missing")
    if missing.any():
        raise InvalidInputError(
            f"y contains {int(missing.sum())} missing (NaN) values; drop or impute those rows"
        )
    if arr.dtype.kind == "f":
        _check_finite_target(arr)
        if not np.all(arr == np.round(arr)):
            raise InvalidInputError(
                "Unknown label type: y holds continuous values; a classifier needs class labels. "
                "Use EvoEnsembleRegressor for a continuous target."
            )
    classes, codes = np.unique(arr, return_inverse=True)
    if len(classes) < 2:
        raise InvalidInputError(
            f"y has only 1 class ({classes[0]!r}); a classifier needs at least 2 classes"
        )
    return codes.astype(np.int64), classes


def _check_finite_target(values: np.ndarray) -> None:
    if np.isnan(values).all():
        raise InvalidInputError("y is all NaN: every target value is missing")
    n_bad = int((~np.isfinite(values)).sum())
    if n_bad:
        raise InvalidInputError(
            f"y contains {n_bad} NaN or infinite values; drop or fix those rows"
        )


def _data_conversion_warning():
    from sklearn.exceptions import DataConversionWarning

    return DataConversionWarning


def check_2d(X) -> None:
    """Refuse a 1-d (or 3-d) ``X`` with scikit-learn's words for the fix."""
    if not hasattr(X, "columns") and not hasattr(X, "toarray") and np.asarray(X).ndim != 2:
        raise InvalidInputError(
            f"Expected a 2-dimensional X (n_samples, n_features); got {np.asarray(X).ndim} "
            "dimension(s). Reshape your data either using array.reshape(-1, 1) if your data has a "
            "single feature or array.reshape(1, -1) if it contains a single sample."
        )


def check_sample_weight(sample_weight, n_rows: int, y_codes=None) -> np.ndarray | None:
    """``sample_weight`` as finite, non-negative float64, with at least 2 weighted classes.

    ``y_codes`` (a classifier's encoded target) checks the classes; ``None`` for regression.
    """
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64).ravel()
    if w.shape[0] != n_rows:
        raise InvalidInputError(f"sample_weight has {w.shape[0]} values for {n_rows} samples")
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise InvalidInputError("sample_weight must be finite, non-negative and not all zero")
    if y_codes is not None and len(np.unique(y_codes[w > 0])) < 2:
        raise InvalidInputError(
            "only 1 class has non-zero sample_weight; a classifier needs at least 2 classes"
        )
    return w


#: ``cv="auto"`` takes 8 folds below this many rows per second of budget ...
AUTO_FOLDS_ROWS_PER_SECOND = 80
#: ... and below this many rows, with a budget or without
AUTO_FOLDS_MAX_ROWS = 10_000


def auto_folds(n_rows: int, time_budget: float | None = None) -> int:
    """Folds for ``cv="auto"``: 8 on small data, 5 where the budget is short for the rows.

    Predictions average the fold models, each trained on (k-1)/k of the
    rows, and an evaluation with 8 folds costs about 1.75x one with 5 (7/8 of
    the rows 8 times against 4/5 of them 5 times).  At 60 s on 2 cores, 5
    folds made 1.5-2.5x the evaluations, yet scored worse on churn and wine
    (3,700 rows, both splits tried) and better on satimage, 197_cpu_act and
    503_wind (4,800-6,100 rows): 8 folds below 10,000 rows and below
    :data:`AUTO_FOLDS_ROWS_PER_SECOND` rows per second of budget (4,800 at
    60 s; from 125 s on, the row limit alone), else 5.
    """
    limit = AUTO_FOLDS_MAX_ROWS
    if time_budget is not None:
        limit = min(limit, AUTO_FOLDS_ROWS_PER_SECOND * time_budget)
    return 8 if n_rows < limit else 5


def make_folds(
    y: np.ndarray, task: str, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The run's fixed CV folds (stratified for classification), as index arrays."""
    n = len(y)
    if task == "regression":
        k = min(n_splits, n)
        if k < 2:
            raise InvalidInputError(
                f"need at least 2 samples for cross-validation; got n_samples={n}"
            )
        splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
    else:
        largest = int(np.bincount(y).max())
        k = min(n_splits, largest)
        if k < 2:
            raise InvalidInputError(
                "need at least 2 samples of some class for cross-validation; "
                f"the largest class has n_samples={largest}"
            )
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" is expected here
        return [
            (tr.astype(np.int64), te.astype(np.int64)) for tr, te in splitter.split(np.zeros(n), y)
        ]


def integer_coded_mask(
    X: np.ndarray, categorical_mask: np.ndarray, max_values: int = 10
) -> np.ndarray:
    """Numeric columns that look like integer-coded categories: 3 to ``max_values`` integer values.

    Trees use them as numbers; learners that one-hot encode categories expand
    them too (PMLB, like many sources, stores categories as integer codes).
    """
    mask = np.zeros(X.shape[1], dtype=bool)
    for j in np.flatnonzero(~np.asarray(categorical_mask, dtype=bool)):
        values = np.unique(X[:, j][~np.isnan(X[:, j])])
        mask[j] = 3 <= len(values) <= max_values and bool(np.all(values == np.round(values)))
    return mask


@dataclass
class Dataset:
    """What every evaluation needs: the encoded matrix, target, folds and task."""

    X: np.ndarray
    y: np.ndarray
    task: str  # "binary" | "multiclass" | "regression"
    categorical_mask: np.ndarray
    folds: list
    n_classes: int = 0
    sample_weight: np.ndarray | None = None
    low_cardinality: np.ndarray | None = None  # integer-coded columns one-hot encoders also expand

    def __post_init__(self):
        if self.low_cardinality is None:
            self.low_cardinality = integer_coded_mask(self.X, self.categorical_mask)

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.X).tobytes())
        h.update(np.ascontiguousarray(self.y).tobytes())
        h.update(self.categorical_mask.tobytes())
        return h.hexdigest()[:16]
