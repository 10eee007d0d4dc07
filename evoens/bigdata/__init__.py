"""Data no single worker holds: ``fit`` and ``predict`` on a Dask DataFrame.

The search runs as always, task-parallel, on a stratified row sample drawn
on the workers (:mod:`._collection`); the ensemble's XGBoost members then
train on every training partition with ``xgboost.dask`` (:mod:`._train`);
both ensembles are checked on held-out partitions and the better is kept
(:mod:`._fit`).  See "Data larger than a worker" in ``docs/dask.md``.
"""

from ._collection import auto_search_rows, is_dask_collection
from ._fit import fit_collection, predict_collection

__all__ = ["auto_search_rows", "fit_collection", "is_dask_collection", "predict_collection"]
