"""The search space: preprocessing steps, genomes, presets and the pipeline builder.

Learners live in :mod:`evoens.learners`; ``Learner`` is re-exported here for
custom learners written against ``evoens.space.Learner``.
"""

from ..learners import Learner
from ._components import BuildContext, build_pipeline
from ._genome import Genome
from ._space import LearnerSpec, SearchSpace, Seed, available_presets, load_space, sample_value

__all__ = [
    "Genome",
    "SearchSpace",
    "LearnerSpec",
    "Seed",
    "Learner",
    "BuildContext",
    "build_pipeline",
    "load_space",
    "available_presets",
    "sample_value",
]
