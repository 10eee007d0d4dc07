"""Reading the data file and deciding the task."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..exceptions import InvalidInputError

__all__ = ["read_table", "infer_task", "split_target", "check_task", "MAX_AUTO_CLASSES"]

#: an integer target with at most this many distinct values is a class label under ``--task auto``
MAX_AUTO_CLASSES = 20


def read_table(path) -> pd.DataFrame:
    """A CSV (optionally compressed), TSV or Parquet file as a DataFrame."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"data file {path} not found")
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if suffixes and suffixes[-1] in (".parquet", ".pq"):
            return pd.read_parquet(path)
        sep = "\t" if ".tsv" in suffixes else ","
        return pd.read_csv(path, sep=sep)
    except (ValueError, OSError, ImportError) as exc:
        raise InvalidInputError(f"cannot read data file {path}: {exc}") from None


def infer_task(y: pd.Series) -> tuple[str, str]:
    """The task for ``--task auto``, and why.

    Classification when the target is not numeric (text, categories,
    booleans), has exactly two distinct values, or has an integer dtype with
    at most ``MAX_AUTO_CLASSES`` (20) distinct values; regression otherwise (a
    float column, or integers with more distinct values).
    """
    n = int(y.nunique(dropna=True))
    kind = "binary" if n == 2 else "multiclass"
    if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
        return kind, f"non-numeric target with {n} distinct values"
    if n == 2:
        return "binary", "numeric target with 2 distinct values"
    if pd.api.types.is_integer_dtype(y.dtype) and n <= MAX_AUTO_CLASSES:
        return "multiclass", f"integer target with {n} distinct values"
    what = "float" if pd.api.types.is_float_dtype(y.dtype) else f"integer ({n} distinct values)"
    return "regression", f"{what} target"


def split_target(frame: pd.DataFrame, target: str, path) -> tuple[pd.DataFrame, pd.Series]:
    if target not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:20])) + (
            ", ..." if frame.shape[1] > 20 else ""
        )
        raise InvalidInputError(
            f"target column {target!r} is not in {path}; its columns are: {shown}"
        )
    return frame.drop(columns=[target]), frame[target]


def check_task(task: str, y: pd.Series) -> None:
    n = int(y.nunique(dropna=True))
    if task == "binary" and n != 2:
        raise InvalidInputError(f"--task binary needs a target with 2 distinct values; it has {n}")
    if task == "multiclass" and n < 3:
        raise InvalidInputError(
            f"--task multiclass needs a target with at least 3 distinct values; it has {n}"
        )
