"""The search space: learners, preprocessing steps, genomes and presets."""

from ._components import LEARNERS, BuildContext, build_pipeline, resolve_learner
from ._genome import Genome
from ._learners import Learner
from ._space import LearnerSpec, SearchSpace, Seed, available_presets, load_space

__all__ = [
    "Genome",
    "SearchSpace",
    "LearnerSpec",
    "Seed",
    "Learner",
    "LEARNERS",
    "BuildContext",
    "build_pipeline",
    "resolve_learner",
    "load_space",
    "available_presets",
]
