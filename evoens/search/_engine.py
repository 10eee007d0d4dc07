"""The evolutionary search as a plain state object: results in, candidates out.

Generations are logical: generation ``g + 2`` is bred as soon as every
candidate of generation ``g`` has been told, from the results of generations
``0..g`` only.  So a freed worker always finds generation ``g + 1`` to work
on while ``g``'s stragglers finish, and the order in which results arrive
never changes what is bred: runs bounded by generations are reproducible.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from ..ensemble import greedy_weights, marginal_gains
from ..evaluation import Candidate, Evaluation
from ..space import SearchSpace
from . import _operators as ops
from ._selection import select_parents, tournament

__all__ = ["Evolution", "OPERATOR_RATES"]

#: how children are made, by probability
OPERATOR_RATES = {"perturb": 0.35, "tpe": 0.25, "crossover": 0.15, "step": 0.15, "swap": 0.10}


class Evolution:
    """Proposes candidates and learns from their evaluations.

    Parameters
    ----------
    space : SearchSpace
        Already restricted to the run's task.
    task : str
    metric : Metric
    y : ndarray
        Encoded target, for ensemble-gain computations on OOF predictions.
    population_size : int
    random_state : int
    max_generations : int, optional
    seeds : list of Seed
        Evaluated first (learner defaults, then portfolio configurations).
    """

    def __init__(self, space: SearchSpace, task, metric, y, population_size=20, random_state=0,
                 max_generations=None, seeds=(), sample_weight=None, gain_rows=5000):
        self.space, self.task, self.metric, self.y = space, task, metric, y
        self.population_size = int(population_size)
        self.max_generations = max_generations
        self.sample_weight = sample_weight
        self._seed_seq = np.random.SeedSequence(random_state)
        self._root = int(self._seed_seq.generate_state(1)[0])
        self._queues: dict[int, deque] = {}
        self._expected: dict[int, set] = {}
        self.archive: dict[int, Evaluation] = {}
        self._seen: set = set()
        self._next_id = 0
        self._bred = -1
        self._complete = -1
        self.exhausted = False
        self.best_by_generation: list[float] = []
        self._trial_of: dict[int, int] = {}
        self._told_tpe: set = set()
        self._gain_rows = self._subsample(len(y), gain_rows)
        sampler = optuna.samplers.TPESampler(seed=self._root % (2**31), n_startup_trials=10)
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self._initial(list(seeds))

    # -- public state machine ---------------------------------------------
    def ask(self) -> Candidate | None:
        """The next candidate to evaluate, or None if the search must wait (or is done)."""
        for g in sorted(self._queues):
            if self._queues[g]:
                return self._queues[g].popleft()
        return None

    def tell(self, evaluation: Evaluation, breed: bool = True) -> None:
        """Record a finished evaluation; breeds new generations when one completes."""
        self.archive[evaluation.id] = evaluation
        self._expected.get(evaluation.candidate.generation, set()).discard(evaluation.id)
        if breed:
            self._advance()

    def has_queued(self) -> bool:
        return any(self._queues.values())

    @property
    def completed_generations(self) -> int:
        return self._complete + 1

    @property
    def done(self) -> bool:
        """Nothing left to propose and nothing outstanding."""
        return not any(self._queues.values()) and not any(self._expected.values())

    def stalled_generations(self) -> int:
        """Completed generations since the best score last improved."""
        best, since = -np.inf, 0
        for score in self.best_by_generation:
            if score > best + 1e-12:
                best, since = score, 0
            else:
                since += 1
        return since

    def best(self) -> Evaluation | None:
        ok = [e for e in self.archive.values() if e.ok]
        return max(ok, key=lambda e: (e.score, -e.id)) if ok else None

    # -- generations --------------------------------------------------------
    def _initial(self, seeds):
        rng = self._rng("init")
        for g in (0, 1):
            if self.max_generations is not None and g >= self.max_generations:
                break
            made = []
            while len(made) < self.population_size and seeds:
                sd = seeds.pop(0)
                if sd.genome.key not in self._seen:
                    made.append(self._candidate(sd.genome, g, "init", (), sd.source))
            tries = 0
            while len(made) < self.population_size and tries < 50 * self.population_size:
                tries += 1
                genome = self.space.sample(rng)
                if genome.key not in self._seen:
                    made.append(self._candidate(genome, g, "random", (), "random sample"))
            self._enqueue(g, made)
        self._bred = 1

    def _advance(self):
        while (self._complete + 1) in self._expected and not self._expected[self._complete + 1]:
            g = self._complete = self._complete + 1
            scores = [e.score for e in self.archive.values() if e.ok and e.candidate.generation <= g]
            self.best_by_generation.append(max(scores) if scores else -np.inf)
            target = g + 2
            if not self.exhausted and (self.max_generations is None or target < self.max_generations):
                children = self._breed(target, g)
                self.exhausted = not children
                self._enqueue(target, children)
                self._bred = target

    def _enqueue(self, g, candidates):
        self._queues[g] = deque(candidates)
        self._expected[g] = {c.id for c in candidates}

    def _candidate(self, genome, generation, operator, parents, source="", prune_below=None) -> Candidate:
        self._seen.add(genome.key)
        cid = self._next_id
        self._next_id += 1
        seed = int(np.random.SeedSequence(self._root, spawn_key=(cid,)).generate_state(1)[0] % (2**31))
        return Candidate(cid, genome, generation, seed, operator, tuple(parents), source, prune_below)

    def _rng(self, *key) -> np.random.Generator:
        words = [sum(ord(ch) * 31**i for i, ch in enumerate(k)) % (2**31) if isinstance(k, str) else int(k)
                 for k in key]
        return np.random.default_rng(np.random.SeedSequence(self._root, spawn_key=tuple(words)))

    # -- breeding -------------------------------------------------------------
    def _breed(self, target: int, basis_gen: int) -> list[Candidate]:
        rng = self._rng("breed", target)
        basis = sorted((e for e in self.archive.values() if e.candidate.generation <= basis_gen), key=lambda e: e.id)
        self._tell_tpe(basis)
        ok = [e for e in basis if e.ok]
        prune_below = self._prune_threshold(ok)
        if not ok:
            return self._fill_random(rng, target, [], prune_below)
        score = np.array([e.score for e in ok])
        gain = self._ensemble_gains(ok)
        cost = np.array([e.fit_time for e in ok])
        pool = select_parents(score, gain, cost, self.population_size)
        names, rates = zip(*OPERATOR_RATES.items())
        children = []
        for _ in range(self.population_size):
            for _attempt in range(20):
                op = names[rng.choice(len(names), p=np.array(rates) / sum(rates))]
                child = self._make_child(op, ok, pool, score, rng, target, prune_below)
                if child is not None:
                    children.append(child)
                    break
        return self._fill_random(rng, target, children, prune_below)

    def _make_child(self, op, ok, pool, score, rng, target, prune_below):
        if op == "tpe":
            trial = self.study.ask()
            genome = self.space.suggest(trial)
            if genome.key in self._seen:
                self.study.tell(trial, state=TrialState.FAIL)
                return None
            child = self._candidate(genome, target, "tpe", (), "TPE proposal", prune_below)
            self._trial_of[child.id] = trial.number
            return child
        a = ok[tournament(pool, score, rng)]
        if op == "crossover":
            same = [(i, r) for i, r in pool if ok[i].genome.learner == a.genome.learner and ok[i].id != a.id]
            if not same:
                return None
            b = ok[tournament(same, score, rng)]
            genome, parents = ops.crossover(a.genome, b.genome, self.space, rng), (a.id, b.id)
        else:
            fn = {"perturb": ops.perturb, "step": ops.mutate_step, "swap": ops.swap_learner}[op]
            genome, parents = fn(a.genome, self.space, rng), (a.id,)
        if genome.key in self._seen:
            return None
        return self._candidate(genome, target, op, parents, "", prune_below)

    def _fill_random(self, rng, target, children, prune_below):
        tries = 0
        while len(children) < self.population_size and tries < 50:
            tries += 1
            genome = self.space.sample(rng)
            if genome.key not in self._seen:
                children.append(self._candidate(genome, target, "random", (), "random sample", prune_below))
        return children

    def _prune_threshold(self, ok):
        """Far below the population: under the lower Tukey fence of the scores so far."""
        if len(ok) < 8:
            return None
        q1, q3 = np.percentile([e.score for e in ok], [25, 75])
        return float(q1 - 1.5 * (q3 - q1))

    def _subsample(self, n, k):
        if n <= k:
            return None
        return np.sort(np.random.default_rng(self._root).choice(n, k, replace=False))

    def _ensemble_gains(self, ok) -> np.ndarray:
        """Each candidate's marginal gain to the current greedy ensemble (top by score)."""
        rows = self._gain_rows
        y = self.y if rows is None else self.y[rows]
        w = self.sample_weight if (self.sample_weight is None or rows is None) else self.sample_weight[rows]
        preds = [e.oof.astype(np.float64) if rows is None else e.oof[rows].astype(np.float64) for e in ok]
        order = np.argsort([-e.score for e in ok], kind="stable")[:20]
        weights = greedy_weights([preds[j] for j in order], y, self.metric, n_iter=10, sample_weight=w)
        ens = sum(wt * preds[j] for wt, j in zip(weights, order))
        return marginal_gains(ens, 10, preds, y, self.metric, w)

    def _tell_tpe(self, basis):
        for e in basis:
            if e.id in self._told_tpe:
                continue
            self._told_tpe.add(e.id)
            value = e.score if e.ok else None
            state = TrialState.COMPLETE if e.ok else TrialState.FAIL
            if e.id in self._trial_of:
                self.study.tell(self._trial_of[e.id], value, state=state)
                continue
            params, dists = self.space.distributions(e.genome)
            if not isinstance(dists.get("learner"), CategoricalDistribution):
                continue
            self.study.add_trial(create_trial(params=params, distributions=dists, value=value, state=state))
