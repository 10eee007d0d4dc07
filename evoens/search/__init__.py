"""The evolutionary search: a state machine that knows nothing of workers."""

from ._engine import OPERATOR_RATES, Evolution
from ._operators import crossover, mutate_step, perturb, swap_learner
from ._selection import pareto_fronts, select_parents, tournament

__all__ = [
    "Evolution",
    "OPERATOR_RATES",
    "perturb",
    "swap_learner",
    "mutate_step",
    "crossover",
    "pareto_fronts",
    "select_parents",
    "tournament",
]
