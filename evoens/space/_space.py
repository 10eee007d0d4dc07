"""The :class:`SearchSpace`, loaded from a TOML preset or file.

A space lists learners with hyperparameter ranges (turned into Optuna
distributions), the preprocessing choices each learner allows, a known-good
default per learner and seed configurations with a named source.  The presets
are the TOML files of the repository's top-level ``pipelines/`` folder,
installed as the ``evoens.pipelines`` package; see ``pipelines/default.toml``
for the annotated format.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from ..exceptions import IgnoredLearnersWarning, InvalidSpaceError
from ..learners import resolve_learner
from ._components import STEP_CHOICES
from ._genome import Genome

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["SearchSpace", "LearnerSpec", "Seed", "load_space", "available_presets"]

TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class Seed:
    """A configuration to evaluate first, with where it comes from."""

    genome: Genome
    source: str
    tasks: tuple = TASKS
    priority: float = 0.0  # the portfolio's published priority: higher was picked earlier


@dataclass
class LearnerSpec:
    name: str
    component: str
    params: dict  # name -> optuna distribution
    defaults: dict
    steps: dict  # slot -> tuple of allowed choices
    tasks: tuple = TASKS
    seeds: list = field(default_factory=list)
    learner_class: type | None = (
        None  # resolved once where the space is loaded, shipped to workers by value
    )


@dataclass
class SearchSpace:
    """Learners, their ranges and preprocessing choices; samples genomes.

    Attributes
    ----------
    name : str
    learners : dict of str to LearnerSpec
    step_params : dict
        ``(slot, choice) -> {param: distribution}`` for parametrised steps.
    """

    name: str
    learners: dict
    step_params: dict
    description: str = ""
    source: str = ""

    # --- restriction -------------------------------------------------------
    def for_task(self, task: str) -> "SearchSpace":
        """The learners that apply to ``task``; raises if none do."""
        learners = {n: s for n, s in self.learners.items() if task in s.tasks}
        if not learners:
            raise InvalidSpaceError(f"space {self.name!r} has no learner for a {task} task")
        return SearchSpace(self.name, learners, self.step_params, self.description, self.source)

    def for_sample_weight(self) -> "SearchSpace":
        """The learners that honour ``sample_weight``, for a weighted run.

        Warns once (:class:`~evoens.exceptions.IgnoredLearnersWarning`) naming
        the learners left out; raises if none remain.
        """
        refused = [
            n
            for n in self.learners
            if not getattr(self.learner_class(n), "supports_sample_weight", True)
        ]
        if not refused:
            return self
        if len(refused) == len(self.learners):
            raise InvalidSpaceError(
                f"space {self.name!r} has no learner that takes sample_weight "
                f"(supports_sample_weight=False: {refused}); fit without sample_weight "
                "or use a space with other learners"
            )
        warnings.warn(
            f"sample_weight given: learners {refused} cannot take sample weights and are left out "
            "of the search",
            IgnoredLearnersWarning,
            stacklevel=3,
        )
        learners = {n: s for n, s in self.learners.items() if n not in refused}
        return SearchSpace(self.name, learners, self.step_params, self.description, self.source)

    # --- genomes -----------------------------------------------------------
    def seeds(self, task: str) -> list[Seed]:
        """Each learner's default, then the seeds of all learners interleaved, each
        learner's best-first.

        Each learner's seeds run in the portfolio's priority order; across
        learners they take turns.  (One global priority order was tried: it
        put near-duplicate forest baselines ahead of the boosters' seeds, and
        car and churn scored worse at 60 s.)
        """
        out = [
            Seed(Genome.create(n, s.defaults, self._default_steps(s)), f"{n} default")
            for n, s in self.learners.items()
        ]
        queues = [
            sorted((sd for sd in s.seeds if task in sd.tasks), key=lambda sd: -sd.priority)
            for s in self.learners.values()
        ]
        while any(queues):
            for q in queues:
                if q:
                    out.append(q.pop(0))
        seen, unique = set(), []
        for sd in out:
            if sd.genome not in seen:
                seen.add(sd.genome)
                unique.append(sd)
        return unique

    def _default_steps(self, spec: LearnerSpec) -> dict:
        return {slot: (choices[0], {}) for slot, choices in spec.steps.items()}

    def sample(self, rng: np.random.Generator, learner: str | None = None) -> Genome:
        """A random genome (of ``learner`` if given)."""
        names = list(self.learners)
        name = learner or names[rng.integers(len(names))]
        spec = self.learners[name]
        params = {p: sample_value(d, rng) for p, d in spec.params.items()}
        params = {**{k: v for k, v in spec.defaults.items() if k not in spec.params}, **params}
        steps = {}
        for slot, choices in spec.steps.items():
            choice = choices[rng.integers(len(choices))]
            dists = self.step_params.get((slot, choice), {})
            steps[slot] = (choice, {p: sample_value(d, rng) for p, d in dists.items()})
        return Genome.create(name, params, steps)

    # --- Optuna ------------------------------------------------------------
    def distributions(self, genome: Genome) -> tuple[dict, dict]:
        """``(params, distributions)`` in Optuna's flat naming for one genome."""
        spec = self.learners[genome.learner]
        params = {"learner": genome.learner}
        dists = {"learner": CategoricalDistribution(tuple(self.learners))}
        for k, v in genome.params:
            d = spec.params.get(k)
            if d is not None and _contains(d, v):
                params[f"{genome.learner}.{k}"], dists[f"{genome.learner}.{k}"] = v, d
        for slot, choice, sp in genome.steps:
            name = f"{genome.learner}.step.{slot}"
            allowed = spec.steps.get(slot, ())
            if choice in allowed and len(allowed) > 1:
                params[name], dists[name] = choice, CategoricalDistribution(allowed)
            for k, v in sp:
                d = self.step_params.get((slot, choice), {}).get(k)
                if d is not None and _contains(d, v):
                    params[f"{name}.{choice}.{k}"], dists[f"{name}.{choice}.{k}"] = v, d
        return params, dists

    def suggest(self, trial) -> Genome:
        """Sample a genome through an Optuna trial (define-by-run, conditional on the learner)."""
        name = trial.suggest_categorical("learner", tuple(self.learners))
        spec = self.learners[name]
        params = dict(spec.defaults)
        for k, d in spec.params.items():
            params[k] = _suggest(trial, f"{name}.{k}", d)
        steps = {}
        for slot, choices in spec.steps.items():
            choice = (
                choices[0]
                if len(choices) == 1
                else trial.suggest_categorical(f"{name}.step.{slot}", choices)
            )
            sp = {
                k: _suggest(trial, f"{name}.step.{slot}.{choice}.{k}", d)
                for k, d in self.step_params.get((slot, choice), {}).items()
            }
            steps[slot] = (choice, sp)
        return Genome.create(name, params, steps)

    def component(self, learner: str) -> str:
        return self.learners[learner].component

    def learner_class(self, learner: str) -> type:
        """The learner's class, resolved where the space was loaded.

        A class defined in the user's ``__main__`` (``component =
        "__main__:MyLearner"``) exists only there; worker processes get it by
        value with the space (cloudpickle), never by importing ``__main__``.
        """
        spec = self.learners[learner]
        return spec.learner_class or resolve_learner(spec.component)


def _suggest(trial, name, d):
    if isinstance(d, CategoricalDistribution):
        return trial.suggest_categorical(name, d.choices)
    if isinstance(d, IntDistribution):
        return trial.suggest_int(name, d.low, d.high, log=d.log)
    return trial.suggest_float(name, d.low, d.high, log=d.log)


def sample_value(d, rng: np.random.Generator):
    if isinstance(d, CategoricalDistribution):
        return d.choices[rng.integers(len(d.choices))]
    if d.log:
        x = math.exp(rng.uniform(math.log(d.low), math.log(d.high)))
    else:
        x = rng.uniform(d.low, d.high)
    if isinstance(d, IntDistribution):
        return int(min(d.high, max(d.low, round(x))))
    return float(x)


def _contains(d, v) -> bool:
    if isinstance(d, CategoricalDistribution):
        return v in d.choices
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(d, IntDistribution) and int(v) != v:
        return False
    return d.low <= v <= d.high


# --- loading ---------------------------------------------------------------


def _presets_folder():
    """The folder of preset TOML files, as a Traversable or a Path.

    Installed, it is the ``evoens.pipelines`` package; imported from a source
    checkout (``evoens/`` beside ``pipelines/``), it is the ``pipelines/`` folder.
    """
    try:
        installed = resources.files("evoens.pipelines")
        if installed.joinpath(
            "default.toml"
        ).is_file():  # not a leftover evoens/pipelines/__pycache__
            return installed
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "pipelines"


def available_presets() -> list[str]:
    """Names of the presets shipped inside the package."""
    return sorted(p.name[:-5] for p in _presets_folder().iterdir() if p.name.endswith(".toml"))


def load_space(space="default") -> SearchSpace:
    """Load a preset by name, a TOML file by path, or pass a :class:`SearchSpace` through.

    Raises
    ------
    InvalidSpaceError
        Naming the file, the key and the problem.
    """
    if isinstance(space, SearchSpace):
        return space
    if not isinstance(space, (str, Path)):
        raise InvalidSpaceError(
            f"space must be a preset name, a path or a SearchSpace; got {space!r}"
        )
    doc, text_source = _read(space)
    return _parse(_extend(doc, text_source, (text_source,)), text_source)


def _read(space) -> tuple[dict, str]:
    """The TOML document of a preset name or a file path, and words naming it."""
    text_source = str(space)
    if (
        isinstance(space, str)
        and not space.endswith(".toml")
        and "/" not in space
        and "\\" not in space
    ):
        if space not in available_presets():
            raise InvalidSpaceError(
                f"unknown space preset {space!r}; presets: {available_presets()} or a .toml path"
            )
        text = _presets_folder().joinpath(f"{space}.toml").read_text()
        text_source = f"preset {space!r}"
    else:
        path = Path(space)
        if not path.is_file():
            raise InvalidSpaceError(f"space file {str(path)!r} does not exist")
        text = path.read_text()
    try:
        return tomllib.loads(text), text_source
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSpaceError(f"{text_source}: not valid TOML: {exc}") from None


def _extend(doc: dict, where: str, chain: tuple) -> dict:
    """``extends = "preset"``: that preset's steps and learners, then this document's
    (a learner of the same name replaces the preset's)."""
    base_name = doc.get("extends")
    if base_name is None:
        return doc
    if not isinstance(base_name, str) or base_name not in available_presets():
        raise _err(where, "extends", f"must name a preset, one of {available_presets()}")
    base, base_where = _read(base_name)
    if base_where in chain:
        raise _err(where, "extends", f"presets extend each other in a cycle: {list(chain)}")
    base = _extend(base, base_where, chain + (base_where,))
    out = {k: v for k, v in doc.items() if k != "extends"}
    steps, learners = doc.get("steps", {}), doc.get("learners", {})
    if isinstance(steps, dict) and all(isinstance(c, dict) for c in steps.values()):
        out["steps"] = {slot: dict(choices) for slot, choices in base.get("steps", {}).items()}
        for slot, choices in steps.items():
            out["steps"].setdefault(slot, {}).update(choices)
    if isinstance(learners, dict):  # anything else is reported by _parse
        out["learners"] = {**base.get("learners", {}), **learners}
    return out


def _err(where, key, problem):
    return InvalidSpaceError(f"{where}: key {key!r}: {problem}")


def _distribution(where, key, spec):
    if not isinstance(spec, dict):
        raise _err(
            where,
            key,
            f"expected a table like {{low = 1, high = 10}} or {{choices = [...]}}; got {spec!r}",
        )
    unknown = set(spec) - {"low", "high", "log", "type", "choices", "step"}
    if unknown:
        raise _err(where, key, f"unknown field(s) {sorted(unknown)}")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise _err(where, key, "choices must be a non-empty list")
        return CategoricalDistribution(tuple(choices))
    if "low" not in spec or "high" not in spec:
        raise _err(where, key, "a range needs both 'low' and 'high' (or give 'choices')")
    low, high, log = spec["low"], spec["high"], bool(spec.get("log", False))
    kind = spec.get("type") or (
        "int" if isinstance(low, int) and isinstance(high, int) else "float"
    )
    if kind not in ("int", "float"):
        raise _err(where, key, f"type must be 'int' or 'float'; got {kind!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        raise _err(where, key, f"low and high must be numbers; got {low!r}, {high!r}")
    if low > high:
        raise _err(where, key, f"low ({low}) must not exceed high ({high})")
    if log and low <= 0:
        raise _err(where, key, f"a log range needs low > 0; got {low}")
    if kind == "int":
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(float(low), float(high), log=log)


def _parse(doc: dict, where: str) -> SearchSpace:
    unknown = set(doc) - {"name", "description", "source", "steps", "learners"}
    if unknown:
        raise _err(
            where,
            sorted(unknown)[0],
            "unknown top-level key (expected extends, name, description, source, steps, learners)",
        )
    step_params = {}
    for slot, choices in doc.get("steps", {}).items():
        if slot not in STEP_CHOICES:
            raise _err(where, f"steps.{slot}", f"unknown step slot; slots: {list(STEP_CHOICES)}")
        for choice, params in choices.items():
            if choice not in STEP_CHOICES[slot]:
                raise _err(
                    where,
                    f"steps.{slot}.{choice}",
                    f"unknown choice; choices: {list(STEP_CHOICES[slot])}",
                )
            step_params[(slot, choice)] = {
                k: _distribution(where, f"steps.{slot}.{choice}.{k}", v) for k, v in params.items()
            }
    learners_doc = doc.get("learners")
    if not isinstance(learners_doc, dict) or not learners_doc:
        raise _err(where, "learners", "a space needs at least one [learners.NAME] table")
    learners = {name: _parse_learner(where, name, body) for name, body in learners_doc.items()}
    return SearchSpace(
        doc.get("name", where),
        learners,
        step_params,
        doc.get("description", ""),
        doc.get("source", ""),
    )


def _parse_learner(where, name, body) -> LearnerSpec:
    key = f"learners.{name}"
    if not isinstance(body, dict):
        raise _err(where, key, "must be a table")
    unknown = set(body) - {"component", "params", "defaults", "steps", "tasks", "seeds"}
    if unknown:
        raise _err(
            where,
            f"{key}.{sorted(unknown)[0]}",
            "unknown key (expected component, params, defaults, steps, tasks, seeds)",
        )
    component = body.get("component", name)
    try:
        learner_class = resolve_learner(component)
    except (KeyError, ImportError, AttributeError) as exc:
        raise _err(where, f"{key}.component", str(exc)) from None
    if getattr(learner_class, "requires", None):
        module, extra = learner_class.requires
        if importlib.util.find_spec(module) is None:
            raise _err(
                where,
                f"{key}.component",
                f"{component!r} needs the {module!r} package, which is not installed: "
                f'pip install "evoens[{extra}]"',
            )
    params = {
        k: _distribution(where, f"{key}.params.{k}", v) for k, v in body.get("params", {}).items()
    }
    defaults = dict(body.get("defaults", {}))
    tasks = tuple(body.get("tasks", TASKS))
    bad = set(tasks) - set(TASKS)
    if bad:
        raise _err(where, f"{key}.tasks", f"unknown task(s) {sorted(bad)}; tasks: {list(TASKS)}")
    steps = {}
    for slot, choices in body.get("steps", {}).items():
        if slot not in STEP_CHOICES:
            raise _err(
                where, f"{key}.steps.{slot}", f"unknown step slot; slots: {list(STEP_CHOICES)}"
            )
        choices = [choices] if isinstance(choices, str) else list(choices)
        bad = [c for c in choices if c not in STEP_CHOICES[slot]]
        if bad or not choices:
            raise _err(
                where,
                f"{key}.steps.{slot}",
                f"unknown choice(s) {bad}; choices: {list(STEP_CHOICES[slot])}",
            )
        steps[slot] = tuple(choices)
    spec = LearnerSpec(
        name, component, params, defaults, steps, tasks, learner_class=learner_class
    )
    known = set(params) | set(defaults)
    for i, seed in enumerate(body.get("seeds", [])):
        skey = f"{key}.seeds[{i}]"
        if "source" not in seed:
            raise _err(
                where,
                skey,
                "every seed needs a 'source' naming where the configuration comes from",
            )
        bad = set(seed.get("params", {})) - known
        if bad:
            raise _err(
                where, f"{skey}.params", f"unknown parameter(s) {sorted(bad)} for learner {name!r}"
            )
        seed_steps = dict(SearchSpace._default_steps(None, spec))
        for slot, choice in seed.get("steps", {}).items():
            if choice not in steps.get(slot, ()):
                raise _err(
                    where,
                    f"{skey}.steps.{slot}",
                    f"{choice!r} is not among this learner's choices",
                )
            seed_steps[slot] = (choice, {})
        genome = Genome.create(name, {**defaults, **seed.get("params", {})}, seed_steps)
        priority = seed.get("priority", 0.0)
        if isinstance(priority, bool) or not isinstance(priority, (int, float)):
            raise _err(where, f"{skey}.priority", f"must be a number; got {priority!r}")
        spec.seeds.append(
            Seed(genome, seed["source"], tuple(seed.get("tasks", tasks)), float(priority))
        )
    return spec
