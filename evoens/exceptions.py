"""The exceptions and warnings evoens raises, rooted in :class:`EvoensError`.

Each exception also subclasses the built-in a caller would naturally catch,
so ``except ValueError`` keeps working around evoens code.
"""

__all__ = [
    "EvoensError",
    "InvalidInputError",
    "InvalidTypeError",
    "InvalidSpaceError",
    "AllCandidatesFailedError",
    "DeadlineExceeded",
    "DeviceError",
    "ClusterError",
    "EvoensWarning",
    "DeviceWarning",
    "FailedEvaluationsWarning",
]


class EvoensError(Exception):
    """Root of every exception raised by evoens."""


class InvalidInputError(EvoensError, ValueError):
    """The data or a parameter given by the caller breaks a rule."""


class InvalidTypeError(EvoensError, TypeError):
    """A value in the data has a type evoens cannot use."""


class InvalidSpaceError(EvoensError, ValueError):
    """A search-space file is malformed; the message names file, key and problem."""


class AllCandidatesFailedError(EvoensError, RuntimeError):
    """Every evaluated pipeline failed, so there is no model to return."""


class DeadlineExceeded(EvoensError, TimeoutError):
    """Raised inside an evaluation when its deadline has passed."""


class DeviceError(EvoensError, RuntimeError):
    """A requested device is not there: ``device="cuda"`` where no worker has a usable GPU."""


class ClusterError(EvoensError, RuntimeError):
    """A Dask cluster cannot be reached, or no worker joined it in time."""


class EvoensWarning(UserWarning):
    """Root of every warning issued by evoens."""


class DeviceWarning(EvoensWarning):
    """A requested device could not be used and a fallback was taken."""


class FailedEvaluationsWarning(EvoensWarning):
    """Some pipelines failed during the search (they are in the leaderboard)."""


class IgnoredLearnersWarning(EvoensWarning):
    """Learners of the search space were left out of a run (e.g. they cannot take
    ``sample_weight``)."""


class RunDirectoryBusyError(EvoensError, RuntimeError):
    """Another process is writing to the run directory (it holds the run's lock)."""


class UntrustedModelError(EvoensError, ValueError):
    """A model file names types that the safe loader does not trust."""


class VersionMismatchWarning(EvoensWarning):
    """A model file was saved with other versions of evoens or its learners."""


__all__ += [
    "RunDirectoryBusyError",
    "UntrustedModelError",
    "VersionMismatchWarning",
    "IgnoredLearnersWarning",
]
