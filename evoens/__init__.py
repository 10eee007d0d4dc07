"""evoens: evolutionary, population-ensembling AutoML for tabular data."""

from .estimator import EvoEnsembleClassifier, EvoEnsembleRegressor
from .exceptions import AllCandidatesFailedError, EvoensError, InvalidInputError, InvalidSpaceError
from .space import Genome, SearchSpace, available_presets, load_space

__version__ = "0.1.0"

__all__ = [
    "EvoEnsembleClassifier",
    "EvoEnsembleRegressor",
    "Genome",
    "SearchSpace",
    "load_space",
    "available_presets",
    "EvoensError",
    "InvalidInputError",
    "InvalidSpaceError",
    "AllCandidatesFailedError",
    "__version__",
]
