"""The evolutionary search as a state machine, tested without any workers."""

import numpy as np
import pytest

from evoens._metrics import get_metric
from evoens.evaluation import Evaluation, Status
from evoens.search import Evolution, crossover, mutate_step, pareto_fronts, perturb, swap_learner
from evoens.space import Genome, load_space

TASK = "binary"


def _space():
    return load_space("default").for_task(TASK)


def _engine(seed=0, generations=None, population=6, **kwargs):
    rng = np.random.default_rng(99)
    y = rng.integers(0, 2, 200)
    space = _space()
    engine = Evolution(
        space,
        TASK,
        get_metric(None, TASK),
        y,
        population,
        seed,
        generations,
        space.seeds(TASK),
        **kwargs,
    )
    return engine, y


def _fake_evaluation(candidate, y, quality):
    """A real record for a candidate: OOF probabilities of the given quality (for the
    state machine)."""
    rng = np.random.default_rng(candidate.id)
    p1 = np.clip(quality * y + (1 - quality) * rng.random(len(y)), 0, 1)
    oof = np.column_stack([1 - p1, p1]).astype(np.float32)
    score = get_metric(None, TASK)(y, oof)
    return Evaluation(
        candidate,
        Status.OK,
        score=score,
        oof=oof,
        models=[],
        fit_time=0.1 + candidate.id % 3,
        fold_scores=[score] * 3,
    )


def _drive(engine, y, order=None, limit=60):
    """Ask everything available, tell in the given order ('fifo' or 'reverse'), until
    ``limit`` told."""
    told = []
    while len(told) < limit:
        batch = []
        while (c := engine.ask()) is not None:
            batch.append(c)
        if not batch:
            break
        if order == "reverse":
            batch.reverse()
        for c in batch:
            engine.tell(_fake_evaluation(c, y, 0.2 + 0.6 * ((c.id * 7) % 11) / 10))
            told.append(c)
    return told


BRED = {"perturb", "tpe", "crossover", "step", "swap"}


def test_generation_zero_is_half_a_population_of_defaults_then_portfolio():
    engine, _ = _engine(population=8)
    first = [engine.ask() for _ in range(4)]
    assert [c.generation for c in first] == [0] * 4
    assert first[0].source.endswith("default")
    assert engine.ask() is None  # generation 1 is bred from generation 0's results


def test_each_learners_seeds_follow_the_portfolio_priority_with_one_mlp_in_generation_zero():
    seeds = _space().seeds(TASK)
    for learner in {sd.genome.learner for sd in seeds}:
        portfolio = [
            sd.priority for sd in seeds if "TabRepo" in sd.source and sd.genome.learner == learner
        ]
        assert portfolio == sorted(portfolio, reverse=True)
    engine, _ = _engine(population=40)
    gen0 = [engine.ask() for _ in range(20)]
    assert sum(c.genome.learner == "mlp" for c in gen0) == 1


def test_generation_one_is_bred_from_generation_zero_with_immigrant_seeds():
    engine, y = _engine(population=8)
    gen0 = [engine.ask() for _ in range(4)]
    for c in gen0:
        engine.tell(_fake_evaluation(c, y, 0.5))
    gen1 = []
    while (c := engine.ask()) is not None:
        gen1.append(c)
    assert len(gen1) == 8 and {c.generation for c in gen1} == {1}
    assert sum(c.operator in BRED for c in gen1) == 6
    assert sum(c.operator == "init" for c in gen1) == 2  # a quarter: waiting seeds join
    assert all(set(c.parents) <= {g.id for g in gen0} for c in gen1)


def _mlp_ranked(quality):
    """A time-bounded engine with generation 0 told but for one straggler, its one MLP
    at ``quality`` (the others 0.3-0.6)."""
    engine, y = _engine(population=16, time_bounded=True)
    gen0 = [engine.ask() for _ in range(8)]
    assert [c.genome.learner for c in gen0].count("mlp") == 1
    straggler = next(c for c in gen0 if c.genome.learner != "mlp")
    for i, c in enumerate(gen0):
        if c is not straggler:
            q = quality if c.genome.learner == "mlp" else 0.3 + i / 20
            engine.tell(_fake_evaluation(c, y, q))
    return engine, y


def test_a_held_back_seed_runs_next_once_its_learner_proves_itself():
    # the MLP ranks first: the portfolio's next MLP seed fills the idle worker, ahead
    # of the seeds that waited before it and of the cheap-first limit
    engine, y = _mlp_ranked(0.95)
    waiting = [sd.genome.learner for sd in engine._immigrants]
    assert waiting[0] != "mlp" and "mlp" in waiting
    released = engine.ask(time_left=1e6, max_cost=1e-3)
    assert released.genome.learner == "mlp" and released.operator == "init"
    # one at a time: the next MLP seed waits for this one's result...
    assert all(engine.ask(time_left=1e6).genome.learner != "mlp" for _ in range(3))
    # ...and runs only if it too ranks in the top quarter
    engine.tell(_fake_evaluation(released, y, 0.1))
    assert "mlp" not in engine._proven([e for e in engine.archive.values() if e.ok])
    # an MLP in the middle of the field holds its later seeds back
    engine, _ = _mlp_ranked(0.45)
    assert engine.ask(time_left=1e6).genome.learner != "mlp"
    assert not engine._proven([e for e in engine.archive.values() if e.ok])


def test_time_bounded_workers_never_idle_at_a_generation_barrier():
    engine, y = _engine(population=4, time_bounded=True)
    gen0 = [engine.ask() for _ in range(2)]
    filler = engine.ask()
    assert (
        filler is not None and filler.generation == 1
    )  # gen 0 still running: a waiting seed fills in
    for c in gen0:
        engine.tell(_fake_evaluation(c, y, 0.5))
    engine.tell(_fake_evaluation(filler, y, 0.5))
    gen1 = [engine.ask() for _ in range(3)]
    assert all(
        c is not None and c.generation == 1 for c in gen1
    )  # generation 1 breeds 3, the filler was 1
    for c in gen1[:2]:
        engine.tell(_fake_evaluation(c, y, 0.5))
    bred_filler = (
        engine.ask()
    )  # one of generation 1 still runs; with 5 results in, the filler is bred
    assert bred_filler.generation == 2 and bred_filler.operator in BRED | {"random"}


def test_near_the_end_only_candidates_expected_to_finish_are_proposed():
    engine, y = _engine(population=8, time_bounded=True, n_folds=3)
    gen0 = [engine.ask() for _ in range(4)]
    slow = gen0[0].genome.learner
    for c in gen0:
        e = _fake_evaluation(c, y, 0.5)
        e.wall_time = 30.0 if c.genome.learner == slow else 1.0
        engine.tell(e)
    assert engine.expected_cost(gen0[0].genome) == 30.0
    assert slow == "lightgbm"  # a booster at half the learning rate runs about twice the rounds
    slower = Genome.create(slow, {**gen0[0].genome.param_dict, "learning_rate": 0.025})
    assert engine.expected_cost(slower) == pytest.approx(60.0)
    pruned = _fake_evaluation(gen0[1], y, 0.5)  # one fold of three in 2 s: a full one costs 6 s
    pruned.fold_scores, pruned.wall_time = pruned.fold_scores[:1], 2.0
    pruned.status = Status.PRUNED
    engine.tell(pruned)
    assert engine.expected_cost(gen0[1].genome) == pytest.approx(3.5)
    proposed = []
    while (c := engine.ask(time_left=10.0)) is not None and len(proposed) < 30:
        proposed.append(c)
    assert proposed and all(c.genome.learner != slow for c in proposed)
    assert engine.ask(time_left=None) is not None  # no limit: anything queued goes


def test_a_child_is_priced_at_its_parents_cost_not_its_learners_median():
    engine, y = _engine(population=40, time_bounded=True)
    boosters = [c for c in (engine.ask() for _ in range(20)) if c.genome.learner == "lightgbm"]
    assert len(boosters) >= 3
    slow, fast = boosters[0], boosters[1:]
    for c in boosters:
        e = _fake_evaluation(c, y, 0.5)
        e.wall_time = 30.0 if c is slow else 1.0
        engine.tell(e)
    child = perturb(slow.genome, _space(), np.random.default_rng(0))
    relative = engine._relative_cost(child) / engine._relative_cost(slow.genome)
    assert engine.expected_cost(child) < 30.0 * relative  # the learner's median: 1 s
    assert engine.expected_cost(child, (slow.id,)) == pytest.approx(30.0 * relative)
    assert not engine.fits(child, 20.0 * relative, (slow.id,))
    assert engine.fits(child, 20.0 * relative, (fast[0].id,))


def test_cheap_candidates_go_first_and_expensive_ones_still_run_when_nothing_else_can():
    engine, y = _engine(population=20, time_bounded=True)
    first = engine.ask(time_left=100.0, max_cost=5.0)  # nothing measured yet: anything goes
    assert first.genome.learner == "lightgbm"
    e = _fake_evaluation(first, y, 0.5)
    e.wall_time = 20.0
    engine.tell(e)
    waiting = [c for c in engine._queues[0] if c.genome.learner == "lightgbm"]
    assert waiting  # GBMXT, GBMLarge: expected at 20 s x their learning-rate ratio
    proposed = [engine.ask(time_left=100.0, max_cost=5.0) for _ in range(6)]
    assert all(c is not None and c.genome.learner != "lightgbm" for c in proposed)
    assert all(c in engine._queues[0] for c in waiting)  # they wait, they are not dropped
    # every learner measured at 20 s: nothing is cheap, so the queued ones run after all
    for c in proposed:
        e = _fake_evaluation(c, y, 0.5)
        e.wall_time = 20.0
        engine.tell(e)
    late = engine.ask(time_left=100.0, max_cost=5.0)
    assert late is not None and engine.expected_cost(late.genome) > 5.0
    # and never one expected to outlast the time left, whatever the cap
    while (c := engine.ask(time_left=10.0, max_cost=50.0)) is not None:
        assert engine.expected_cost(c.genome) is None or engine.expected_cost(c.genome) <= 10.0


def test_breeding_is_independent_of_completion_order():
    a, y = _engine(seed=3)
    b, _ = _engine(seed=3)
    told_a = _drive(a, y, "fifo")
    told_b = _drive(b, y, "reverse")
    key = lambda told: sorted((c.id, c.genome.key, c.operator) for c in told)  # noqa: E731
    assert key(told_a) == key(told_b)


def test_no_genome_is_proposed_twice():
    engine, y = _engine(population=8)
    told = _drive(engine, y, limit=120)
    keys = [c.genome.key for c in told]
    assert len(keys) == len(set(keys))


def test_children_record_operators_and_parents():
    engine, y = _engine(population=8)
    told = _drive(engine, y, limit=80)
    bred = [c for c in told if c.generation >= 2]
    assert bred
    ops = {c.operator for c in bred}
    assert ops & {"perturb", "crossover", "step", "swap"} and "tpe" in ops
    ids = {c.id for c in told}
    assert all(set(c.parents) <= ids for c in bred)


def test_generation_limit_is_respected():
    engine, y = _engine(population=5, generations=3)
    told = _drive(engine, y, limit=1000)
    assert max(c.generation for c in told) == 2 and len(told) == 2 + 5 + 5
    assert engine.done


def test_encoder_choices_that_cannot_matter_make_no_new_candidate():
    from evoens.space import Genome

    numeric, _ = _engine(categorical=False, low_cardinality=False)
    mixed, _ = _engine(categorical=True)
    native = Genome.create("lightgbm", {"num_leaves": 40}, {"encoder": ("native", {})})
    ordinal = Genome.create("lightgbm", {"num_leaves": 40}, {"encoder": ("ordinal", {})})
    assert numeric._key(native) == numeric._key(ordinal)
    assert mixed._key(native) != mixed._key(ordinal)


def test_a_parameter_at_its_default_is_no_new_candidate():
    from evoens.space import Genome

    engine, _ = _engine()
    steps = {"encoder": ("native", {})}
    assert engine._key(Genome.create("lightgbm", {"num_leaves": 31}, steps)) == engine._key(
        Genome.create("lightgbm", {}, steps)
    )
    assert engine._key(Genome.create("lightgbm", {"num_leaves": 32}, steps)) != engine._key(
        Genome.create("lightgbm", {}, steps)
    )


def test_tpe_learns_from_pruned_and_failed_candidates():
    from optuna.trial import TrialState

    engine, y = _engine(population=8)
    gen0 = [engine.ask() for _ in range(4)]
    records = [_fake_evaluation(c, y, 0.6) for c in gen0[:2]]
    records.append(Evaluation(gen0[2], Status.PRUNED, fold_scores=[0.51]))
    records.append(Evaluation(gen0[3], Status.TIMEOUT, error="stopped at its deadline"))
    for r in records:
        engine.tell(r)
    trials = engine.study.get_trials(deepcopy=False)
    states = [t.state for t in trials]
    assert states.count(TrialState.PRUNED) == 1 and TrialState.FAIL not in states
    pruned = next(t for t in trials if t.state == TrialState.PRUNED)
    assert pruned.intermediate_values == {0: 0.51}
    complete = sorted(t.value for t in trials if t.state == TrialState.COMPLETE)
    assert len(complete) == 3 and complete[0] < min(
        r.score for r in records[:2]
    )  # the timeout, penalised


def test_pruning_threshold_appears_once_the_population_has_scores():
    engine, y = _engine(population=6)
    told = _drive(engine, y, limit=30)
    assert all(c.prune_below is None for c in told if c.generation < 2)
    assert any(c.prune_below is not None for c in told if c.generation >= 2)


def test_the_pruning_bar_rises_with_the_population():
    engine, y = _engine(population=8)
    candidates = [engine.ask() for _ in range(4)]
    weak = [_fake_evaluation(c, y, 0.1) for c in candidates] * 3
    strong = [_fake_evaluation(c, y, 0.9) for c in candidates] * 2
    assert engine._prune_threshold(weak) < engine._prune_threshold(weak + strong)
    assert engine._prune_threshold(weak + strong) >= min(e.score for e in strong)
    # a bred child faces the population's median first fold, a seed its lowest quarter
    population = []
    for q in np.linspace(0.5, 0.9, 8):
        e = _fake_evaluation(candidates[0], y, 0.5)
        e.score, e.fold_scores = float(q), [float(q)] * 3
        population.append(e)
    assert engine._prune_threshold(population) == pytest.approx(0.6)
    assert engine._prune_threshold(population, child=True) == pytest.approx(0.7)


def test_a_time_bounded_candidate_faces_the_bar_of_the_results_in_when_it_starts():
    for bounded in (True, False):
        engine, y = _engine(population=40, time_bounded=bounded)
        first = [engine.ask() for _ in range(8)]  # generation 0 has 20: 12 still queued
        assert all(c.prune_below is None for c in first)
        for c in first:
            engine.tell(_fake_evaluation(c, y, 0.2 + 0.1 * (c.id % 5)))
        bar = engine._prune_threshold([e for e in engine.archive.values() if e.ok])
        later = engine.ask()
        assert later.generation == 0
        # a run bounded by generations keeps the bar it was made with: nothing depends
        # on when results arrive
        assert later.prune_below == (bar if bounded else None)


def _near_the_end(cheap_quality):
    """An engine whose generation 0 is told (the cheap learner at ``cheap_quality``, the
    others at 0.6-0.8 and 30 s each), with nothing queued or waiting."""
    engine, y = _engine(population=8, time_bounded=True, n_folds=3)
    gen0 = [engine.ask() for _ in range(4)]
    assert "logistic" in {c.genome.learner for c in gen0}
    for i, c in enumerate(gen0):
        cheap = c.genome.learner == "logistic"
        e = _fake_evaluation(c, y, cheap_quality if cheap else 0.8 - 0.1 * i)
        e.wall_time = 0.2 if cheap else 30.0
        engine.tell(e)
    engine._immigrants.clear()  # no waiting seed to fall back on
    for g in list(engine._queues):
        engine._queues[g].clear()  # generation 1 is queued behind its barrier
    return engine


def test_a_filler_near_the_end_is_bred_from_a_good_parent_expected_to_fit():
    engine = _near_the_end(cheap_quality=0.9)
    proposed = [engine.ask(time_left=2.0) for _ in range(3)]
    assert all(c is not None for c in proposed)  # the worker does not idle
    assert all(c.genome.learner == "logistic" and c.operator in BRED for c in proposed)
    assert all(engine.fits(c.genome, 2.0) for c in proposed)
    # a weak cheap learner breeds no fillers: its near-copies would crowd the ensemble
    assert _near_the_end(cheap_quality=0.1).ask(time_left=2.0) is None


def test_stalled_generations_counts_since_last_improvement():
    engine, _ = _engine()
    engine.best_by_generation = [0.5, 0.7, 0.7, 0.69]
    assert engine.stalled_generations() == 2


@pytest.mark.parametrize("op", [perturb, mutate_step, swap_learner])
def test_mutation_operators_keep_genomes_valid(op):
    space, rng = _space(), np.random.default_rng(0)
    for _ in range(30):
        parent = space.sample(rng)
        child = op(parent, space, rng)
        spec = space.learners[child.learner]
        for slot, choice, _ in child.steps:
            assert choice in spec.steps[slot]
        for k, v in child.params:
            d = spec.params.get(k)
            if d is not None and hasattr(d, "low"):
                assert d.low <= v <= d.high


def test_crossover_mixes_parents_of_one_learner():
    space, rng = _space(), np.random.default_rng(1)
    a, b = space.sample(rng, "lightgbm"), space.sample(rng, "lightgbm")
    child = crossover(a, b, space, rng)
    assert child.learner == "lightgbm"
    assert all(v in (a.param_dict.get(k), b.param_dict.get(k)) for k, v in child.params)


def test_pareto_fronts_rank_by_dominance():
    objectives = np.array([[1.0, 1.0], [0.5, 0.5], [1.0, 0.2], [0.2, 1.0]])
    fronts = pareto_fronts(objectives)
    assert fronts == [[0], [1, 2, 3]]
    assert pareto_fronts(np.array([[1.0, 1.0], [0.5, 0.5], [0.2, 0.2]])) == [[0], [1], [2]]
