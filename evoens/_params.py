"""The estimators' parameters, checked at ``fit`` (never in ``__init__``), as scikit-learn does.

Each error names the parameter, the rule and the value received.
"""

from __future__ import annotations

import numbers

from .backends import BACKENDS
from .devices import DEVICES
from .exceptions import InvalidInputError

__all__ = ["check_params"]

#: numeric parameter -> (lowest value, an int?, None allowed?, the lowest value allowed?)
NUMBERS = {
    "time_budget": (0, False, True, False),
    "generations": (1, True, True, True),
    "population_size": (1, True, False, True),
    "early_stop": (1, True, True, True),
    "max_eval_time": (0, False, True, False),
    "verbose": (0, True, False, True),
}
#: parameter -> the values it takes
CHOICES = {"backend": BACKENDS, "device": DEVICES}


def check_params(params: dict) -> None:
    """Raise :class:`~evoens.exceptions.InvalidInputError` for the first bad parameter."""
    for name, (low, integer, allow_none, inclusive) in NUMBERS.items():
        _check_number(name, params[name], low, integer, allow_none, inclusive)
    if params["time_budget"] is None and params["generations"] is None:
        raise InvalidInputError(
            "time_budget and generations are both None: the search would never stop"
        )
    cv = params["cv"]
    if cv != "auto" and not (_is_int(cv) and cv >= 2):
        raise InvalidInputError(f"cv must be an int >= 2 or 'auto'; got {cv!r}")
    n_jobs = params["n_jobs"]
    if not (_is_int(n_jobs) and (n_jobs >= 1 or n_jobs == -1)):
        raise InvalidInputError(f"n_jobs must be a positive int or -1 (all cores); got {n_jobs!r}")
    for name, choices in CHOICES.items():
        if params[name] not in choices:
            raise InvalidInputError(f"{name} must be one of {choices}; got {params[name]!r}")
    if params["scheduler"] is not None and params["backend"] != "dask":
        raise InvalidInputError(
            f"scheduler={params['scheduler']!r} needs backend='dask'; "
            f"got backend={params['backend']!r}"
        )
    if not isinstance(params["refit"], bool):
        raise InvalidInputError(f"refit must be True or False; got {params['refit']!r}")
    rows = params["search_rows"]
    if rows != "auto" and not (_is_int(rows) and rows >= 100):
        raise InvalidInputError(f"search_rows must be an int >= 100 or 'auto'; got {rows!r}")
    seed = params["random_state"]
    if seed is not None and not isinstance(seed, numbers.Integral):
        raise InvalidInputError(f"random_state must be an int or None; got {seed!r}")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_number(name, value, low, integer, allow_none, inclusive) -> None:
    if value is None and allow_none:
        return
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if not (ok and (value >= low if inclusive else value > low)):
        rule = f"{'an int' if integer else 'a number'} {'>=' if inclusive else '>'} {low}"
        allowed = " or None" if allow_none else ""
        raise InvalidInputError(f"{name} must be {rule}{allowed}; got {value!r}")
