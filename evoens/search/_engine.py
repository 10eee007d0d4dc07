"""The evolutionary search as a plain state object: results in, candidates out.

Generation 0 is the first half-population of seeds (learner defaults, then
the portfolio, at most one MLP).  Generation ``g + 1`` is bred as
soon as every candidate of generation ``g`` has been told, from the results
of generations ``0..g``; the remaining seeds join bred generations as
immigrants (:data:`IMMIGRANT_SHARE`), those of a learner held back in
generation 0 first once it ranks in the top quarter.  In a time-bounded run
a worker that would idle at that barrier gets a filler (such a held-back
seed, else a child bred from every result so far, else a waiting seed) and
the measured fit time is one of the selection objectives; a run bounded by
generations uses neither, so what it breeds never depends on a clock or on
the order results arrive: it is reproducible.

Near the end of a time-bounded run, :meth:`Evolution.ask` proposes only
candidates whose expected cost fits the time left: the median cost of their
learner's evaluations in this run, each scaled to all folds.  A candidate
that would be stopped at the search's end wastes its worker's last seconds
and returns nothing; a worker that nothing queued fits gets a child bred from
a parent that does (a cheap learner), rather than idling to the end.  A
candidate starts under the pruning bar of every result in when it starts.
Throughout such a run, cheap candidates go first: one
expected to cost more than ``max_cost`` (an eighth of the search's
worker-seconds, :meth:`Budget.frugal_cost <evoens._budget.Budget.frugal_cost>`)
waits while a cheaper one can run.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from ..ensemble import greedy_weights, marginal_gains
from ..evaluation import Candidate, Evaluation
from ..space import Genome, SearchSpace
from . import _operators as ops
from ._selection import select_parents, tournament

__all__ = ["Evolution", "OPERATOR_RATES"]

#: the pruning bar's percentile of the population's first folds, for seeds and random
#: samples, and for bred children
PRUNE_PERCENTILE = {"seed": 25, "child": 50}
#: the share of a bred generation given to the portfolio seeds still waiting (immigrants)
IMMIGRANT_SHARE = 0.25
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
        Evaluated first (learner defaults, then portfolio configurations);
        those beyond generation 0 join bred generations as immigrants.
    time_bounded : bool
        The run stops on a clock: idle workers get fillers, and the measured
        fit time is a selection objective.  False keeps the search reproducible.
    categorical, low_cardinality : bool
        Whether the data has categorical columns (and integer-coded ones that
        one-hot encoders expand): without them, encoder choices that cannot
        change the pipeline make no new candidate.
    n_folds : int
        Folds of a full evaluation, to scale a pruned candidate's cost.
    """

    #: children a filler may breed before one is expected to fit the time left
    FILLER_ATTEMPTS = 4

    def __init__(
        self,
        space: SearchSpace,
        task,
        metric,
        y,
        population_size=20,
        random_state=0,
        max_generations=None,
        seeds=(),
        sample_weight=None,
        gain_rows=5000,
        *,
        time_bounded=False,
        categorical=True,
        low_cardinality=True,
        n_folds=1,
    ):
        self.space, self.task, self.metric, self.y = space, task, metric, y
        self.population_size = int(population_size)
        self.max_generations = max_generations
        self.sample_weight = sample_weight
        self.time_bounded = bool(time_bounded)
        self._categorical, self._low_cardinality = bool(categorical), bool(low_cardinality)
        self.n_folds = max(1, int(n_folds))
        self._costs: dict[str, list[float]] = {}
        self._unit_cost: dict[int, float] = {}  # id -> its cost at the learner's defaults
        self._starved = (-1, 0.0)  # (archive size, time limit) when no filler fitted
        self._gains: tuple = ((), None)  # (ids, gains) of the last ensemble-gain computation
        self._immigrants: deque = deque()
        self._held: set = set()  # learners whose later seeds first_generation_limit held back
        self._released: dict = {}  # held learner -> id of its last seed released
        self._defaults: dict = {}
        self.n_fillers = 0
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
    def ask(
        self, time_left: float | None = None, max_cost: float | None = None
    ) -> Candidate | None:
        """The next candidate to evaluate, or None if the search must wait (or is done).

        Parameters
        ----------
        time_left : float, optional
            Seconds the search has left.  Only candidates whose expected cost
            fits are proposed (the others stay queued); None: no limit.
        max_cost : float, optional
            Cheap first: candidates expected to cost more wait while one that
            costs less can be proposed (a filler included); when none can, the
            limit is ``time_left`` alone.
        """
        limits = [time_left]
        if max_cost is not None and (time_left is None or max_cost < time_left):
            limits.insert(0, max_cost)
        for limit in limits:
            candidate = self._next(limit, time_left)
            if candidate is not None:
                return self._with_current_bar(candidate) if self.time_bounded else candidate
        return None

    def _with_current_bar(self, candidate: Candidate) -> Candidate:
        """``candidate`` with the pruning bar of every result so far, where that is higher.

        A candidate is made with the bar of the results it was bred from; one
        that starts later (generation 0's seeds, immigrants, children queued
        behind a generation) faces the results that arrived meanwhile.  Only
        in a time-bounded run: a run bounded by generations keeps the bar of
        its basis, so that what is pruned never depends on arrival order.
        """
        child = candidate.operator in OPERATOR_RATES
        bar = self._prune_threshold([e for e in self.archive.values() if e.ok], child)
        if bar is None or (candidate.prune_below is not None and candidate.prune_below >= bar):
            return candidate
        return replace(candidate, prune_below=bar)

    def _next(self, time_left: float | None, horizon: float | None = None) -> Candidate | None:
        for g in sorted(self._queues):
            queue = self._queues[g]
            for i, candidate in enumerate(queue):
                if self.fits(candidate.genome, time_left, candidate.parents):
                    del queue[i]
                    return candidate
        if self.time_bounded:
            return self._filler(time_left, horizon)
        return None

    def expected_cost(self, genome: Genome, parents=()) -> float | None:
        """Expected seconds of a full evaluation of ``genome``; None before any of its learner.

        A cost measured in this run, scaled by the learner's
        :meth:`relative_cost` of the two genomes (boosters: rounds grow as the
        learning rate shrinks): the mean of its ``parents``' of the same
        learner where there are any (a child of a slow parent is slow: on car
        a LightGBM child that its learner's median said would fit ran for
        20 s and was stopped unfinished at the end in each of four runs),
        else the median of its learner's evaluations.  A pruned
        evaluation counts its cost per fold times the folds; one stopped
        before a fold finished counts its wall time (a lower bound).
        """
        costs = self._costs.get(genome.learner)
        if not costs:
            return None
        own = [
            self._unit_cost[p]
            for p in parents
            if p in self._unit_cost and self.archive[p].genome.learner == genome.learner
        ]
        base = float(np.mean(own)) if own else float(np.median(costs))
        return base * self._relative_cost(genome)

    def fits(self, genome: Genome, time_left: float | None, parents=()) -> bool:
        """Whether an evaluation of ``genome`` (bred from ``parents``, ids) is expected to
        finish in ``time_left`` seconds."""
        cost = None if time_left is None else self.expected_cost(genome, parents)
        return cost is None or cost <= time_left

    def _relative_cost(self, genome: Genome) -> float:
        relative = getattr(self.space.learner_class(genome.learner), "relative_cost", None)
        return 1.0 if relative is None else max(1e-3, float(relative(genome.param_dict)))

    def tell(self, evaluation: Evaluation, breed: bool = True) -> None:
        """Record a finished evaluation; breeds new generations when one completes."""
        self.archive[evaluation.id] = evaluation
        done = len(evaluation.fold_scores)
        scale = self.n_folds / done if 0 < done < self.n_folds else 1.0
        unit = evaluation.wall_time * scale / self._relative_cost(evaluation.genome)
        self._costs.setdefault(evaluation.genome.learner, []).append(unit)
        self._unit_cost[evaluation.id] = unit
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
        """Generation 0: the first seeds (half a population); the rest wait as immigrants."""
        rng = self._rng("init")
        size = max(2, self.population_size // 2)
        made, later, limits = [], [], {}
        for sd in seeds:
            limit = getattr(
                self.space.learner_class(sd.genome.learner), "first_generation_limit", None
            )
            n = limits.get(sd.genome.learner, 0)
            if limit is not None and n >= limit:
                self._held.add(sd.genome.learner)
            if len(made) >= size or sd.genome.learner in self._held:
                later.append(sd)
            elif self._key(sd.genome) not in self._seen:
                limits[sd.genome.learner] = n + 1
                made.append(self._candidate(sd.genome, 0, "init", (), sd.source))
        tries = 0
        while len(made) < size and tries < 50 * size:
            tries += 1
            genome = self.space.sample(rng)
            if self._key(genome) not in self._seen:
                made.append(self._candidate(genome, 0, "random", (), "random sample"))
        self._immigrants = deque(later)
        self._enqueue(0, made)
        self._bred = 0

    def _advance(self):
        while (self._complete + 1) <= self._bred and not self._expected.get(self._complete + 1):
            g = self._complete = self._complete + 1
            scores = [
                e.score for e in self.archive.values() if e.ok and e.candidate.generation <= g
            ]
            self.best_by_generation.append(max(scores) if scores else -np.inf)
            target = g + 1
            if not self.exhausted and (
                self.max_generations is None or target < self.max_generations
            ):
                size = (
                    self.population_size
                    - len(self._expected.get(target, ()))
                    - self._told_in(target)
                )
                children = self._breed(target, g, size) if size > 0 else []
                self.exhausted = size > 0 and not children
                self._enqueue(target, children)
                self._bred = target

    def _told_in(self, g) -> int:
        return sum(1 for e in self.archive.values() if e.candidate.generation == g)

    def _filler(
        self, time_left: float | None = None, horizon: float | None = None
    ) -> Candidate | None:
        """A candidate for a worker that would idle at a generation barrier
        (time-bounded runs only).

        It joins the generation about to be bred (which then breeds fewer):
        a held-back seed of a learner that proved itself (:meth:`_immigrant`),
        else a child bred from every result so far once there are a few, else a
        waiting seed.  (Seeds first would fill the whole next generation while
        generation 0's stragglers run, and breeding would start a generation late.)
        """
        target = self._bred + 1
        if self.exhausted or (self.max_generations is not None and target >= self.max_generations):
            return None
        size, limit = self._starved
        if time_left is not None and size == len(self.archive) and limit >= time_left:
            return None  # nothing fitted a moment ago, and nothing new has been learned
        ok = [e for e in self.archive.values() if e.ok]
        # a proven learner's held-back seed first, held to the search's end, not to
        # the cheap-first limit: its learner has shown that it is worth its cost
        horizon = time_left if horizon is None else horizon
        bar = self._prune_threshold(ok)
        child = self._immigrant(target, horizon, bar, ok, proven=True)
        if child is None and len(ok) >= max(4, self.population_size // 4):
            for attempt in range(self.FILLER_ATTEMPTS + 1):
                tag = ("filler", self.n_fillers, attempt)
                # the last try breeds only from parents expected to fit the time left
                fitting = time_left if attempt == self.FILLER_ATTEMPTS else None
                children = self._breed(target, None, 1, tag=tag, fitting=fitting)
                child = children[0] if children else None
                if child is None or self.fits(child.genome, time_left, child.parents):
                    break
                child = None  # expected to outlast the search: try another
        if child is None:
            child = self._immigrant(target, time_left, bar, ok)
        if child is not None:
            self.n_fillers += 1
            self._expected.setdefault(target, set()).add(child.id)
        elif time_left is not None:
            self._starved = (len(self.archive), time_left)
        return child

    def _immigrant(
        self, target, time_left=None, prune_below=None, ok=(), proven=False
    ) -> Candidate | None:
        """The next waiting seed (that fits ``time_left``) as a candidate of ``target``.

        A seed that ``first_generation_limit`` held back goes first once its
        learner has proved itself among ``ok`` (:meth:`_proven`): on car an MLP
        seed ranked second of generation 0 and the portfolio's next MLP seed
        waited behind every other seed, never to run.  ``proven`` takes only
        those.  Like a child, it stops after its first fold if that fold
        scores below ``prune_below``.
        """
        learners = self._proven(ok)
        order = sorted(
            range(len(self._immigrants)),
            key=lambda i: self._immigrants[i].genome.learner not in learners,
        )
        for i in order:
            sd = self._immigrants[i]
            if proven and sd.genome.learner not in learners:
                break
            if self._key(sd.genome) in self._seen or not self.fits(sd.genome, time_left):
                continue
            del self._immigrants[i]
            child = self._candidate(sd.genome, target, "init", (), sd.source, prune_below)
            if sd.genome.learner in learners:
                self._released[sd.genome.learner] = child.id
            return child
        return None

    def _proven(self, ok) -> set:
        """The held-back learners that proved themselves among ``ok``: a result in the
        top quarter of the population, and the seed last released for it (if any)
        among them.  One released seed at a time, each earning the next."""
        elite = self._elite(ok) if self._held else []
        if len(elite) < 4:
            return set()
        bar = np.percentile([e.score for e in elite], 75)
        top = {e.id: e.genome.learner for e in elite if e.score >= bar}
        return {
            learner
            for learner in self._held & set(top.values())
            if learner not in self._released or self._released[learner] in top
        }

    def _enqueue(self, g, candidates):
        self._queues.setdefault(g, deque()).extend(candidates)
        self._expected.setdefault(g, set()).update(c.id for c in candidates)

    def _key(self, genome) -> str:
        """The de-duplication key: the genome's, with choices that cannot matter on this
        data normalised.

        Without categorical columns the encoder cannot change a pipeline
        (nor can one-hot without integer-coded ones); a parameter at its
        learner's effective default is the same as one left out.
        """
        spec = self.space.learners[genome.learner]
        steps = genome.step_dict
        choice = steps.get("encoder", (None, {}))[0]
        if (
            choice is not None
            and not self._categorical
            and not (choice == "onehot" and self._low_cardinality)
        ):
            allowed = spec.steps.get("encoder", ())
            neutral = [c for c in allowed if c != "onehot" or self._low_cardinality] or [choice]
            steps["encoder"] = (neutral[0], {})
        defaults = self._param_defaults(genome.learner)
        params = {k: v for k, v in genome.params if k not in defaults or defaults[k] != v}
        return Genome.create(genome.learner, params, steps).key

    def _param_defaults(self, learner: str) -> dict:
        """The learner's ``param_defaults``, rounded as genome values are (computed once
        per learner)."""
        if learner not in self._defaults:
            defaults = getattr(self.space.learner_class(learner), "param_defaults", {})
            self._defaults[learner] = Genome.create(learner, defaults).param_dict
        return self._defaults[learner]

    def _candidate(
        self, genome, generation, operator, parents, source="", prune_below=None
    ) -> Candidate:
        self._seen.add(self._key(genome))
        cid = self._next_id
        self._next_id += 1
        seed = int(
            np.random.SeedSequence(self._root, spawn_key=(cid,)).generate_state(1)[0] % (2**31)
        )
        return Candidate(
            cid, genome, generation, seed, operator, tuple(parents), source, prune_below
        )

    def _rng(self, *key) -> np.random.Generator:
        words = [
            sum(ord(ch) * 31**i for i, ch in enumerate(k)) % (2**31)
            if isinstance(k, str)
            else int(k)
            for k in key
        ]
        return np.random.default_rng(np.random.SeedSequence(self._root, spawn_key=tuple(words)))

    # -- breeding -------------------------------------------------------------
    def _breed(
        self, target: int, basis_gen: int | None, size: int, tag=(), fitting=None
    ) -> list[Candidate]:
        """``size`` candidates for generation ``target`` from the results of generations
        ``<= basis_gen`` (all results so far when None): immigrants first while seeds wait,
        then children.

        ``fitting`` (seconds, a filler's last try near the search's end): parents
        only among the better half of the population whose genome is expected to
        fit it, and only the operators that keep the parent's learner (a child
        costs about what its parent did), so a cheap learner that scores well
        fills the last seconds of a worker that would otherwise idle.  A weak
        one does not: dozens of its near-copies, bred at the end, took half the
        ensemble's weight on car and scored worse.
        """
        rng = self._rng("breed", target, *tag)
        basis = sorted(
            (
                e
                for e in self.archive.values()
                if basis_gen is None or e.candidate.generation <= basis_gen
            ),
            key=lambda e: e.id,
        )
        self._tell_tpe(basis)
        children = []
        n_immigrants = (
            min(size, int(np.ceil(size * IMMIGRANT_SHARE))) if not tag else 0
        )
        ok = [e for e in basis if e.ok]
        prune_below = self._prune_threshold(ok)
        child_bar = self._prune_threshold(ok, child=True)
        while len(children) < n_immigrants:
            if (child := self._immigrant(target, None, prune_below, ok)) is None:
                break
            children.append(child)
        if not ok:
            return self._fill_random(rng, target, children, prune_below, size)
        score = np.array([e.score for e in ok])
        gain = self._ensemble_gains(ok)
        cost = np.array([e.fit_time for e in ok]) if self.time_bounded else np.zeros(len(ok))
        rates = dict(OPERATOR_RATES)
        keep = np.arange(len(ok))
        if fitting is not None:
            good = float(np.median([e.score for e in self._elite(ok)]))
            keep = np.array(
                [
                    i
                    for i, e in enumerate(ok)
                    if e.score >= good and self.fits(e.genome, fitting, (e.id,))
                ],
                int,
            )
            rates = {op: r for op, r in rates.items() if op in ("perturb", "step", "crossover")}
            if not len(keep):
                return children
        pool = [
            (int(keep[i]), front)
            for i, front in select_parents(
                score[keep], gain[keep], cost[keep], self.population_size
            )
        ]
        names, rates = zip(*rates.items()) if rates else ((), ())
        while names and len(children) < size:
            for _attempt in range(20):
                op = names[rng.choice(len(names), p=np.array(rates) / sum(rates))]
                child = self._make_child(op, ok, pool, score, rng, target, child_bar)
                if child is not None:
                    children.append(child)
                    break
            else:
                break
        return self._fill_random(rng, target, children, prune_below, size)

    def _make_child(self, op, ok, pool, score, rng, target, prune_below):
        if op == "tpe":
            trial = self.study.ask()
            genome = self.space.suggest(trial)
            if self._key(genome) in self._seen:
                self.study.tell(trial, state=TrialState.FAIL)
                return None
            child = self._candidate(genome, target, "tpe", (), "TPE proposal", prune_below)
            self._trial_of[child.id] = trial
            return child
        a = ok[tournament(pool, score, rng)]
        if op == "crossover":
            same = [
                (i, r)
                for i, r in pool
                if ok[i].genome.learner == a.genome.learner and ok[i].id != a.id
            ]
            if not same:
                return None
            b = ok[tournament(same, score, rng)]
            genome, parents = ops.crossover(a.genome, b.genome, self.space, rng), (a.id, b.id)
        else:
            fn = {"perturb": ops.perturb, "step": ops.mutate_step, "swap": ops.swap_learner}[op]
            genome, parents = fn(a.genome, self.space, rng), (a.id,)
        if self._key(genome) in self._seen:
            return None
        return self._candidate(genome, target, op, parents, "", prune_below)

    def _fill_random(self, rng, target, children, prune_below, size):
        tries = 0
        while len(children) < size and tries < 50:
            tries += 1
            genome = self.space.sample(rng)
            if self._key(genome) not in self._seen:
                children.append(
                    self._candidate(genome, target, "random", (), "random sample", prune_below)
                )
        return children

    def _prune_threshold(self, ok, child=False):
        """Multi-fidelity over folds: a candidate whose first fold scores below the
        bar, a percentile of the population's first folds (the same rows), stops there,
        at 1/k of a full evaluation's cost.  The population is the best
        ``population_size`` results so far (at least 8), so the bar rises as the search
        improves.  A seed or a random sample faces the lowest quarter
        (:data:`PRUNE_PERCENTILE`); a bred child the median (successive halving
        with a rate of 2): a child is worth its whole evaluation only if it may
        improve on the better half it was bred from."""
        firsts = [
            e.fold_scores[0]
            for e in self._elite(ok)
            if e.fold_scores and np.isfinite(e.fold_scores[0])
        ]
        if len(firsts) < 8:
            return None
        return float(np.percentile(firsts, PRUNE_PERCENTILE["child" if child else "seed"]))

    def _elite(self, ok) -> list[Evaluation]:
        """The population: the best ``population_size`` results so far (at least 8)."""
        return sorted(ok, key=lambda e: (-e.score, e.id))[: max(8, self.population_size)]

    def _subsample(self, n, k):
        if n <= k:
            return None
        return np.sort(np.random.default_rng(self._root).choice(n, k, replace=False))

    def _ensemble_gains(self, ok) -> np.ndarray:
        """Each candidate's marginal gain to the current greedy ensemble (top by score)."""
        ids = tuple(e.id for e in ok)
        if self._gains[0] == ids:  # fillers breed often from the same results
            return self._gains[1]
        self._gains = (ids, self._compute_gains(ok))
        return self._gains[1]

    def _compute_gains(self, ok) -> np.ndarray:
        rows = self._gain_rows
        y = self.y if rows is None else self.y[rows]
        w = (
            self.sample_weight
            if (self.sample_weight is None or rows is None)
            else self.sample_weight[rows]
        )
        preds = [
            e.oof.astype(np.float64) if rows is None else e.oof[rows].astype(np.float64)
            for e in ok
        ]
        order = np.argsort([-e.score for e in ok], kind="stable")[:20]
        weights = greedy_weights(
            [preds[j] for j in order], y, self.metric, n_iter=10, sample_weight=w
        )
        ens = sum(wt * preds[j] for wt, j in zip(weights, order))
        return marginal_gains(ens, 10, preds, y, self.metric, w)

    def _tell_tpe(self, basis):
        """Tell TPE every evaluation, failures included, in a form it learns from.

        Pruned candidates are ``PRUNED`` trials with their first fold's score
        as the intermediate value (Optuna's TPE ranks them below the complete
        ones, by that value).  Errors and timeouts, which TPE ignores as
        ``FAIL``, are told as complete trials scoring below the worst
        successful one, so it stops proposing their region.
        """
        scores = [e.score for e in self.archive.values() if e.ok]
        penalty = None if not scores else min(scores) - 0.1 * (max(scores) - min(scores)) - 1e-9
        for e in basis:
            if e.id in self._told_tpe:
                continue
            self._told_tpe.add(e.id)
            state, value, first = self._tpe_outcome(e, penalty)
            if e.id in self._trial_of:
                trial = self._trial_of.pop(e.id)
                if first is not None:
                    trial.report(first, 0)
                self.study.tell(trial, value, state=state)
                continue
            params, dists = self.space.distributions(e.genome)
            if not isinstance(dists.get("learner"), CategoricalDistribution):
                continue
            self.study.add_trial(
                create_trial(
                    params=params,
                    distributions=dists,
                    value=value,
                    state=state,
                    intermediate_values={} if first is None else {0: first},
                )
            )

    @staticmethod
    def _tpe_outcome(e, penalty):
        """``(state, value, first fold's score)`` to tell TPE about ``e``."""
        if e.ok:
            return TrialState.COMPLETE, e.score, None
        first = e.fold_scores[0] if e.fold_scores and np.isfinite(e.fold_scores[0]) else None
        if e.status.value == "pruned" and first is not None:
            return TrialState.PRUNED, None, float(first)
        if penalty is not None:
            return TrialState.COMPLETE, float(penalty), None
        return TrialState.FAIL, None, None
