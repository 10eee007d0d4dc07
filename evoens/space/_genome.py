"""The :class:`Genome`: an immutable, hashable description of one pipeline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Genome"]


def _freeze(params: dict) -> tuple:
    return tuple(sorted((str(k), _canonical_value(v)) for k, v in params.items()))


def _canonical_value(v: Any):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int) or (hasattr(v, "dtype") and getattr(v, "dtype").kind in "iu"):
        return int(v)
    if isinstance(v, float) or hasattr(v, "dtype"):
        return float(f"{float(v):.5g}")  # 5 significant digits: the search's resolution
    raise TypeError(f"genome values must be scalars; got {type(v).__name__}")


@dataclass(frozen=True)
class Genome:
    """One pipeline: a learner with hyperparameters and its preprocessing steps.

    ``steps`` maps a step slot (``"encoder"``, ``"scaler"``, ``"selector"``) to
    ``(choice, params)``.  Parameters are stored sorted and floats rounded to
    five significant digits, so equal pipelines have equal genomes, equal
    hashes and equal :attr:`key`.

    Examples
    --------
    >>> g = Genome.create("lightgbm", {"num_leaves": 31}, {"encoder": ("native", {})})
    >>> g == Genome.from_dict(g.to_dict())
    True
    """

    learner: str
    params: tuple = ()
    steps: tuple = ()  # ((slot, choice, params_tuple), ...) sorted by slot
    _key: str = field(default="", compare=False, repr=False)

    @classmethod
    def create(
        cls, learner: str, params: dict | None = None, steps: dict | None = None
    ) -> "Genome":
        frozen_steps = tuple(
            sorted(
                (slot, str(choice), _freeze(p or {}))
                for slot, (choice, p) in (steps or {}).items()
            )
        )
        genome = cls(str(learner), _freeze(params or {}), frozen_steps)
        object.__setattr__(genome, "_key", json.dumps(genome.to_dict(), sort_keys=True))
        return genome

    @property
    def param_dict(self) -> dict:
        return dict(self.params)

    @property
    def step_dict(self) -> dict:
        return {slot: (choice, dict(p)) for slot, choice, p in self.steps}

    @property
    def key(self) -> str:
        """Canonical JSON text: the identity used for de-duplication and the journal."""
        return self._key or json.dumps(self.to_dict(), sort_keys=True)

    def to_dict(self) -> dict:
        return {
            "learner": self.learner,
            "params": dict(self.params),
            "steps": {
                slot: {"choice": choice, "params": dict(p)} for slot, choice, p in self.steps
            },
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Genome":
        steps = {
            slot: (s["choice"], s.get("params", {})) for slot, s in d.get("steps", {}).items()
        }
        return cls.create(d["learner"], d.get("params", {}), steps)

    def with_params(self, **changes) -> "Genome":
        return Genome.create(self.learner, {**self.param_dict, **changes}, self.step_dict)

    def describe(self) -> str:
        """A short human-readable line, for leaderboards and logs."""
        steps = [choice for _, choice, _ in self.steps if choice not in ("none", "native")]
        params = ", ".join(f"{k}={v}" for k, v in self.params)
        return " > ".join(steps + [f"{self.learner}({params})"])

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, Genome) and self.key == other.key
