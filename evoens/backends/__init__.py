"""Where evaluations run: one small interface, several implementations."""

from ._base import Backend
from ._local import LocalBackend
from ._sequential import SequentialBackend

__all__ = ["Backend", "LocalBackend", "SequentialBackend"]
