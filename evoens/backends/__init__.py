"""Where evaluations run: one small interface, several implementations.

:class:`DaskBackend` is imported on first use, so ``import evoens`` does not
import ``distributed``.
"""

from ._base import Backend
from ._local import LocalBackend
from ._sequential import SequentialBackend

__all__ = ["BACKENDS", "Backend", "LocalBackend", "SequentialBackend", "DaskBackend"]

#: the ``backend`` names the estimators and the command accept
BACKENDS = ("local", "sequential", "dask")


def __getattr__(name):
    if name == "DaskBackend":
        from ._dask import DaskBackend

        return DaskBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
