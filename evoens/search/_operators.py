"""Variation operators: each takes genomes and a generator, returns a new genome."""

from __future__ import annotations

import math

import numpy as np
from optuna.distributions import CategoricalDistribution, IntDistribution

from ..space import Genome, SearchSpace, sample_value

__all__ = ["perturb", "swap_learner", "mutate_step", "crossover"]


def _nudge(d, value, rng, scale=0.2):
    """A Gaussian step of ``scale`` x the range (in log space for log ranges), clipped."""
    if isinstance(d, CategoricalDistribution) or value is None or isinstance(value, (bool, str)):
        return sample_value(d, rng)
    lo, hi = (math.log(d.low), math.log(d.high)) if d.log else (d.low, d.high)
    x = math.log(max(value, d.low)) if d.log else value
    x = min(hi, max(lo, x + rng.normal(0.0, scale * (hi - lo))))
    x = math.exp(x) if d.log else x
    return int(round(x)) if isinstance(d, IntDistribution) else float(x)


def perturb(genome: Genome, space: SearchSpace, rng: np.random.Generator) -> Genome:
    """Change one or two hyperparameters (learner or step) by a small step."""
    spec = space.learners[genome.learner]
    targets = [("learner", k, d) for k, d in spec.params.items()]
    steps = genome.step_dict
    for slot, (choice, _) in steps.items():
        targets += [(slot, k, d) for k, d in space.step_params.get((slot, choice), {}).items()]
    if not targets:
        return mutate_step(genome, space, rng)
    params = genome.param_dict
    for i in rng.choice(
        len(targets), size=min(len(targets), int(rng.integers(1, 3))), replace=False
    ):
        where, k, d = targets[i]
        if where == "learner":
            params[k] = _nudge(d, params.get(k), rng)
        else:
            choice, sp = steps[where]
            steps[where] = (choice, {**sp, k: _nudge(d, sp.get(k), rng)})
    return Genome.create(genome.learner, params, steps)


def swap_learner(genome: Genome, space: SearchSpace, rng: np.random.Generator) -> Genome:
    """Another learner (random hyperparameters), keeping the preprocessing it allows."""
    others = [n for n in space.learners if n != genome.learner]
    if not others:
        return perturb(genome, space, rng)
    fresh = space.sample(rng, others[rng.integers(len(others))])
    allowed = space.learners[fresh.learner].steps
    steps = fresh.step_dict
    for slot, (choice, sp) in genome.step_dict.items():
        if choice in allowed.get(slot, ()):
            steps[slot] = (choice, sp)
    return Genome.create(fresh.learner, fresh.param_dict, steps)


def mutate_step(genome: Genome, space: SearchSpace, rng: np.random.Generator) -> Genome:
    """Insert, remove or replace a preprocessing step (a slot's choice changes)."""
    spec = space.learners[genome.learner]
    slots = [s for s, choices in spec.steps.items() if len(choices) > 1]
    if not slots:
        return perturb(genome, space, rng) if spec.params else genome
    slot = slots[rng.integers(len(slots))]
    steps = genome.step_dict
    current = steps.get(slot, (spec.steps[slot][0], {}))[0]
    choices = [c for c in spec.steps[slot] if c != current]
    choice = choices[rng.integers(len(choices))]
    dists = space.step_params.get((slot, choice), {})
    steps[slot] = (choice, {k: sample_value(d, rng) for k, d in dists.items()})
    return Genome.create(genome.learner, genome.param_dict, steps)


def crossover(a: Genome, b: Genome, space: SearchSpace, rng: np.random.Generator) -> Genome:
    """Uniform crossover of two parents with the same learner; otherwise perturb ``a``."""
    if a.learner != b.learner:
        return perturb(a, space, rng)
    pa, pb = a.param_dict, b.param_dict
    params = {
        k: (pa if (k in pa and (k not in pb or rng.random() < 0.5)) else pb)[k]
        for k in sorted(set(pa) | set(pb))
    }
    sa, sb = a.step_dict, b.step_dict
    steps = {
        s: (sa if (s in sa and (s not in sb or rng.random() < 0.5)) else sb)[s]
        for s in sorted(set(sa) | set(sb))
    }
    return Genome.create(a.learner, params, steps)
