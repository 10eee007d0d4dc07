"""The user's Dask DataFrame, split into training and held-out partitions, and the
search sample drawn from it on the workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import InvalidInputError

__all__ = ["Collection", "is_dask_collection", "auto_search_rows"]

#: the search sample never exceeds this many rows: past it a fold fit of a default
#: booster takes seconds per core, and the search's evaluations, not its rows, limit
#: it (1M rows x 50 columns completed 3 of 7 evaluations in 300 s on 2 cores)
SEARCH_ROWS_MAX = 100_000
#: the sample's float64 matrix takes at most this share of the smallest worker's
#: memory limit: the worker holds the scattered sample, the fold copies each
#: evaluation makes (training rows, the booster's own matrix, predictions) and
#: the results of the tasks around it
SEARCH_MEMORY_SHARE = 1 / 20
#: and the models an evaluation holds take at most a quarter of it, at this many
#: bytes per sample row: a full-depth forest's fold models (64 trees growing, the
#: other folds' 38 kept) took about 590 MB on 28,000 training rows of noisy binary
#: data; at 32,000 rows a 1 GiB worker was killed over its limit
MODEL_BYTES_PER_ROW = 20_000
#: the sample never holds fewer than this many rows of a class (or all of them)
MIN_CLASS_ROWS = 30
#: share of the partitions held out of training: half their rows early-stop the
#: data-parallel boosters, the other half check the final model
HOLDOUT_SHARE = 0.1
#: the name the target column takes when ``y`` is a separate Dask Series
TARGET = "__evoens_target__"


def is_dask_collection(X) -> bool:
    """Whether ``X`` is a Dask DataFrame (imports nothing that is not already loaded)."""
    return type(X).__module__.startswith("dask.dataframe")


def auto_search_rows(n_numeric: int, n_categorical: int, worker_memory: float) -> int:
    """The "auto" sample size: the widest matrix a pipeline may build from the sample
    (every categorical column one-hot encoded to its most columns) takes at most
    :data:`SEARCH_MEMORY_SHARE` of the smallest worker's memory, and the fold
    models of an evaluation a quarter of it (:data:`MODEL_BYTES_PER_ROW`); at
    most :data:`SEARCH_ROWS_MAX` rows.

    >>> auto_search_rows(50, 0, 16 * 1024**3)
    100000
    >>> auto_search_rows(16, 6, 2 * 1024**3), auto_search_rows(16, 6, 1024**3)
    (26843, 13421)
    """
    from ..space._components import ONEHOT_MAX_CATEGORIES

    width = n_numeric + ONEHOT_MAX_CATEGORIES * n_categorical + 1  # and the target
    rows = min(
        SEARCH_MEMORY_SHARE * worker_memory / (8.0 * width),
        0.25 * worker_memory / MODEL_BYTES_PER_ROW,
    )
    return int(min(SEARCH_ROWS_MAX, rows))


@dataclass
class Collection:
    """A Dask DataFrame of features and target, with its training and held-out partitions.

    Built by :meth:`from_input`; ``frame`` holds the feature columns and the
    ``target`` column.
    """

    frame: object  # dask.dataframe.DataFrame
    target: str
    columns: list
    train: list
    holdout: list
    rows: np.ndarray  # rows per partition

    @staticmethod
    def joined(X, y):
        """``X`` with the target as a column, and its name; a clear error for a ``y`` that
        is neither a Dask Series of ``X``'s partitions nor a column name (checked before
        any cluster starts)."""
        if isinstance(y, str):
            if y not in X.columns:
                raise InvalidInputError(
                    f"y={y!r} names no column of the Dask DataFrame X; "
                    f"its columns are {list(X.columns)[:10]}"
                )
            frame, target = X, y
        elif is_dask_collection(y):
            if getattr(y, "ndim", 1) != 1:
                raise InvalidInputError("y must be a Dask Series (one column) or a column name")
            if y.npartitions != X.npartitions:
                raise InvalidInputError(
                    f"X and y have different partitions: X has {X.npartitions}, "
                    f"y has {y.npartitions}; give y as a column name of X instead"
                )
            frame, target = X.assign(**{TARGET: y}), TARGET
        else:
            raise InvalidInputError(
                "with a Dask DataFrame X, y must be a Dask Series or the name of a column of X; "
                f"got {type(y).__name__}"
            )
        return frame, target

    @classmethod
    def from_input(cls, X, y, client, seed: int) -> Collection:
        """Validate ``X`` and ``y`` (a Dask Series of the same partitions, or a column name)."""
        frame, target = cls.joined(X, y)
        if frame.npartitions < 2:
            frame = frame.repartition(npartitions=2)
        rows = np.asarray(client.compute(frame.map_partitions(len)).result(), dtype=np.int64)
        if rows.sum() == 0:
            raise InvalidInputError("X is empty: 0 samples (rows) given; at least one is required")
        nonempty = np.flatnonzero(rows > 0)
        if len(nonempty) < 2:
            raise InvalidInputError(
                "the Dask DataFrame X has fewer than 2 non-empty partitions; repartition it "
                "(X.repartition(npartitions=...)) or pass a pandas DataFrame"
            )
        n_hold = max(1, int(round(HOLDOUT_SHARE * len(nonempty))))
        rng = np.random.default_rng(seed)
        holdout = sorted(int(i) for i in rng.choice(nonempty, n_hold, replace=False))
        train = [int(i) for i in nonempty if i not in set(holdout)]
        columns = [c for c in frame.columns if c != target]
        return cls(frame, target, columns, train, holdout, rows)

    @property
    def n_categorical(self) -> int:
        """Feature columns that are not numbers (strings, categories)."""
        dtypes = self.frame._meta[self.columns].dtypes
        return int(sum(not pd.api.types.is_numeric_dtype(t) for t in dtypes))

    @property
    def n_rows(self) -> int:
        return int(self.rows.sum())

    @property
    def n_train_rows(self) -> int:
        return int(self.rows[self.train].sum())

    def part(self, which: list):
        return self.frame.partitions[list(which)]

    def class_counts(self, client) -> pd.Series:
        """Rows per class over the training partitions (a classifier's target)."""
        counts = client.compute(self.part(self.train)[self.target].value_counts()).result()
        return counts.sort_index()

    def sample(self, client, n_rows: int, counts: pd.Series | None, seed: int) -> pd.DataFrame:
        """About ``n_rows`` rows of the training partitions, stratified by class, drawn on
        the workers; every class keeps at least :data:`MIN_CLASS_ROWS` rows (or all)."""
        fraction = min(1.0, n_rows / max(1, self.n_train_rows))
        if counts is None:
            fractions = fraction
        else:
            fractions = {
                label: min(1.0, max(fraction, MIN_CLASS_ROWS / count))
                for label, count in counts.items()
            }
        drawn = self.part(self.train).map_partitions(
            _sample_partition, self.target, fractions, seed, meta=self.frame._meta
        )
        sample = client.compute(drawn).result()
        return sample.reset_index(drop=True)

    @property
    def n_holdout_rows(self) -> int:
        return int(self.rows[self.holdout].sum())

    def holdout_halves(self, every: int = 1):
        """The held-out rows as two collections: even rows early-stop, odd rows check
        (one odd row in ``every``, where predicting them all would take too long)."""
        held = self.part(self.holdout)
        meta = self.frame._meta
        stop = held.map_partitions(lambda p: p.iloc[0::2], meta=meta)
        check = held.map_partitions(lambda p: p.iloc[1 :: 2 * every], meta=meta)
        return stop, check


def _sample_partition(part, target, fractions, seed, partition_info=None):
    number = 0 if partition_info is None else int(partition_info["number"])
    u = np.random.default_rng([seed, number]).random(len(part))
    if isinstance(fractions, dict):
        keep = u < part[target].map(fractions).fillna(0.0).to_numpy(dtype=np.float64)
    else:
        keep = u < fractions
    return part[keep]
