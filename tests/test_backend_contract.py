"""The :class:`~evoens.backends.Backend` contract, run over every backend.

One test class, :class:`TestBackendContract`, runs over the in-process
sequential backend, local worker processes and a Dask ``LocalCluster`` of two
worker processes (started once for the module), with real learners on 300 rows
of scikit-learn's breast cancer data.  The contract is the one the driver loop
relies on: every submitted candidate comes back exactly once, from
:meth:`~Backend.wait` or :meth:`~Backend.shutdown`, as an
:class:`~evoens.evaluation.Evaluation`; a failure is a record, never an
exception; ``n_running`` counts what is out; shutdown is prompt.
"""

from __future__ import annotations

import os
import time

import dask
import numpy as np
import psutil
import pytest
from sklearn.datasets import load_breast_cancer

from evoens._data import Dataset, make_folds
from evoens._metrics import get_metric
from evoens.backends import LocalBackend, SequentialBackend
from evoens.evaluation import Candidate, EvalContext, Status
from evoens.space import Genome, load_space

KINDS = ["sequential", "local", "dask"]
N_ROWS, N_FOLDS = 300, 3

SPACE = """
name = "backend-contract"
[learners.linear]
component = "linear"
[learners.lightgbm]
component = "lightgbm"
[learners.slow]
component = "tests._contract_learners:SlowLearner"
[learners.slow_to_pickle]
component = "tests._contract_learners:SlowToPickleLearner"
[learners.stalling]
component = "tests._contract_learners:StallingLearner"
[learners.crashing]
component = "tests._contract_learners:CrashingLearner"
[learners.failing]
component = "evoens.testing:FailingLearner"
[learners.hanging]
component = "evoens.testing:HangingLearner"
"""


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The run's context: 300 rows, 3 fixed folds, a space of real and misbehaving learners."""
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.random.default_rng(0).choice(len(y), N_ROWS, replace=False)
    X, y = X[rows].astype(np.float64), y[rows].astype(np.int64)
    data = Dataset(
        X, y, "binary", np.zeros(X.shape[1], dtype=bool), make_folds(y, "binary", N_FOLDS, 0), 2
    )
    path = tmp_path_factory.mktemp("space") / "contract.toml"
    path.write_text(SPACE)
    space = load_space(str(path)).for_task("binary")
    return EvalContext(data, get_metric(None, "binary", np.array([0, 1])), space, n_threads=1)


@pytest.fixture(scope="module")
def dask_client():
    """A user's cluster of 2 worker processes, set up as the one evoens starts itself."""
    from distributed import Client, LocalCluster

    from evoens.backends._dask_cluster import LOCAL_CLUSTER_CONFIG

    environ = dict(os.environ)
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            memory_limit="2GiB",
        )
    client = Client(cluster, set_as_default=False)
    client.run(_warm_up)  # imports once, so that timing-sensitive checks do not pay for them
    # The LocalCluster closes a worker's nanny for good when, lost-worker-timeout (15 s) after
    # the worker was lost, no worker of that name is registered: a worker lost twice 15 s apart
    # (these tests kill workers on purpose) can be caught restarting and never come back.
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "1h"}):
        yield client
    client.close()
    cluster.close()
    os.environ.clear()  # the nannies set OMP_NUM_THREADS=1 and friends in this process too
    os.environ.update(environ)


def _warm_up():
    import lightgbm  # noqa: F401

    import tests._contract_learners  # noqa: F401
    from evoens.evaluation import evaluate  # noqa: F401


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def make_backend(kind, context, request):
    """Backends of this kind, started on the context; each shut down after the test."""
    made = []

    def make():
        if kind == "sequential":
            backend = SequentialBackend()
        elif kind == "local":
            backend = LocalBackend(n_workers=2)
        else:
            from evoens.backends import DaskBackend

            backend = DaskBackend(client=request.getfixturevalue("dask_client"))
        made.append(backend)
        backend.start(context)
        return backend

    yield make
    for backend in made:
        backend.shutdown()
    if kind == "dask":  # the next test gets the cluster as this one found it
        _wait_for_idle_cluster(request.getfixturevalue("dask_client"))


@pytest.fixture
def backend(make_backend):
    return make_backend()


def _wait_for_idle_cluster(client, timeout=60.0):
    """Both workers up, no key left on the scheduler, no task still running on a worker."""
    end, state = time.time() + timeout, None
    while time.time() < end:
        running = client.run(_executing, on_error="return")
        state = (len(client.nthreads()), _scheduler_keys(client), running)
        if state[0] == 2 and not state[1] and not any(running.values()):
            client.run(_warm_up)  # a restarted worker imports again, outside the next test
            return
        time.sleep(0.1)
    raise AssertionError(
        f"{timeout}s after the backend shut down, the cluster has (workers, "
        f"keys, running tasks) = {state}"
    )


def _scheduler_keys(client):
    return client.run_on_scheduler(lambda dask_scheduler: sorted(map(str, dask_scheduler.tasks)))


def _executing(dask_worker):
    return sorted(str(ts.key) for ts in dask_worker.state.executing)


# -- helpers ----------------------------------------------------------------------------------


def _candidate(i, learner, **params):
    steps = {"scaler": ("standard", {})} if learner == "linear" else None
    return Candidate(i, Genome.create(learner, params, steps), generation=0, seed=i)


def _check_counts(backend, submitted, returned):
    """``n_running``: submitted and not yet returned; ``idle``: never more than is free."""
    assert backend.n_running == submitted - returned
    # Dask's capacity follows the cluster's threads, re-read once a second: read it either side
    before, idle, after = backend.capacity, backend.idle, backend.capacity
    assert 0 <= idle <= max(0, max(before, after) - backend.n_running)


def _drive(backend, work, timeout=90.0):
    """The driver's loop over ``[(candidate, seconds it may take or None)]``: submit while idle,
    wait for records, until every candidate is back; returns the records in the order received."""
    pending, records, submitted = list(work), [], 0
    end = time.time() + timeout
    while (pending or backend.n_running) and time.time() < end:
        while pending and backend.idle > 0:
            candidate, seconds = pending.pop(0)
            backend.submit(candidate, None if seconds is None else time.time() + seconds)
            submitted += 1
            _check_counts(backend, submitted, len(records))
        records += backend.wait(0.2)
        _check_counts(backend, submitted, len(records))
    assert not pending and backend.n_running == 0, f"not back within {timeout}s"
    return records


def _await_ready(backend, timeout=60.0):
    """Wait until every slot is free (local workers start, or restart, in the background)."""
    end = time.time() + timeout
    while backend.idle < backend.capacity - backend.n_running and time.time() < end:
        assert backend.wait(0.1) == []
    assert backend.idle == backend.capacity - backend.n_running, "the workers did not start"


def _assert_scored(record, candidate, context):
    assert record.candidate == candidate
    assert record.status == Status.OK, record.error
    assert np.isfinite(record.score) and len(record.fold_scores) == N_FOLDS
    assert record.oof.shape == (N_ROWS, 2) and np.isfinite(record.oof).all()
    np.testing.assert_allclose(record.oof.sum(axis=1), 1.0, rtol=1e-5)
    assert record.score == pytest.approx(context.metric(context.data.y, record.oof), abs=1e-4)


def _assert_failed(record, status):
    assert record.status == status, (record.status, record.error)
    assert record.error and record.oof is None and not np.isfinite(record.score)


def _assert_goes_on(backend, context, i=99):
    """After a failure the same backend still evaluates the next candidate."""
    candidate = _candidate(i, "linear")
    [record] = _drive(backend, [(candidate, 60.0)])
    _assert_scored(record, candidate, context)


# -- the contract -----------------------------------------------------------------------------


@pytest.mark.slow
class TestBackendContract:
    """Every backend, the same behaviour.  ``kind`` names the backend under test."""

    def test_every_candidate_comes_back_once_as_a_scored_record(self, backend, context):
        candidates = [_candidate(i, "linear", C=10.0 ** (i - 2)) for i in range(4)]
        candidates.append(_candidate(4, "lightgbm", n_estimators=20, num_leaves=7))
        records = _drive(backend, [(c, 60.0) for c in candidates])
        assert sorted(r.id for r in records) == [c.id for c in candidates]
        by_id = {r.id: r for r in records}
        for candidate in candidates:
            _assert_scored(by_id[candidate.id], candidate, context)
        assert backend.n_running == 0
        assert backend.wait(0.2) == []  # nothing comes back twice
        _await_ready(backend)  # every slot is free again (local workers may still be starting)
        assert backend.idle == backend.capacity
        assert backend.shutdown() == []  # nothing was left in flight

    def test_n_running_and_idle_follow_submit_and_wait(self, backend, context):
        _await_ready(backend)
        capacity = backend.capacity
        assert capacity >= 1 and backend.n_running == 0 and backend.idle == capacity
        candidates = [_candidate(i, "linear") for i in range(capacity)]
        for n, candidate in enumerate(candidates, start=1):
            backend.submit(candidate, time.time() + 60.0)
            assert backend.n_running == n and backend.idle == capacity - n
        records, end = [], time.time() + 60.0
        while len(records) < capacity and time.time() < end:
            records += backend.wait(0.2)
            assert backend.n_running == capacity - len(records)
        assert sorted(r.id for r in records) == list(range(capacity))
        assert backend.n_running == 0 and backend.idle == capacity

    def test_results_come_back_in_any_order_matched_by_id(self, backend, context):
        slow = _candidate(0, "slow", seconds=0.5)  # 3 folds: about 1.5 s
        fast = [_candidate(i, "linear", C=float(i)) for i in range(1, 5)]
        _await_ready(backend)  # every worker free and started, before the order means anything
        records = _drive(backend, [(c, 60.0) for c in [slow, *fast]])
        order = [r.id for r in records]
        assert sorted(order) == [0, 1, 2, 3, 4]
        by_id = {r.id: r for r in records}
        for candidate in [slow, *fast]:
            _assert_scored(by_id[candidate.id], candidate, context)
        if backend.capacity > 1:  # the slow one does not hold back those submitted after it
            assert order[0] != slow.id, order

    def test_cooperative_learner_past_its_deadline_is_a_timeout(self, backend, context):
        start = time.time()
        [record] = _drive(backend, [(_candidate(0, "stalling"), 1.0)])
        _assert_failed(record, Status.TIMEOUT)
        assert time.time() - start < 1.0 + 20.0  # stopped at its deadline, not left running
        _assert_goes_on(backend, context)

    def test_record_sent_past_the_grace_is_kept_when_the_work_ended_in_time(
        self, backend, context
    ):
        # 3 folds of 2 s each to pickle: the record arrives about 6 s after submission, past a
        # 2.5 s deadline and its 2 s grace; the evaluation itself ended in time (it fits in
        # well under a second, but a 1 s deadline was missed once on a busy 2-core machine,
        # on Dask), so it is no timeout
        _await_ready(backend)
        candidate = _candidate(0, "slow_to_pickle", seconds=2.0)
        [record] = _drive(backend, [(candidate, 2.5)])
        _assert_scored(record, candidate, context)
        _assert_goes_on(backend, context)

    def test_learner_ignoring_its_deadline_is_stopped_as_a_timeout(self, backend, context, kind):
        if kind == "sequential":
            pytest.skip(
                "deadlines are cooperative in the sequential backend, and it evaluates in "
                "the test's own process: a learner that never checks would hang the test"
            )
        start = time.time()
        [record] = _drive(backend, [(_candidate(0, "hanging"), 1.0)])
        _assert_failed(record, Status.TIMEOUT)
        assert time.time() - start < 1.0 + backend.grace + 20.0
        _assert_goes_on(backend, context)

    def test_worker_that_dies_is_a_killed_record_and_the_run_goes_on(self, backend, context, kind):
        if kind == "sequential":
            pytest.skip(
                "the sequential backend evaluates in the test's own process: a learner "
                "that ends its process (os._exit) would take the test run down with it"
            )
        [record] = _drive(backend, [(_candidate(0, "crashing"), 60.0)])
        _assert_failed(record, Status.KILLED)
        assert "died" in record.error
        _assert_goes_on(backend, context)

    def test_failing_pipeline_is_an_error_record_with_its_message(self, backend, context):
        failing, fine = _candidate(0, "failing"), _candidate(1, "linear")
        records = _drive(backend, [(failing, 60.0), (fine, 60.0)])
        by_id = {r.id: r for r in records}
        assert sorted(by_id) == [0, 1]
        _assert_failed(by_id[0], Status.ERROR)
        assert "RuntimeError: FailingLearner always fails" in by_id[0].error
        _assert_scored(by_id[1], fine, context)

    def test_shutdown_returns_the_abandoned_promptly_and_releases_workers(
        self, backend, make_backend, context, kind, request
    ):
        _await_ready(backend)
        slow = [_candidate(i, "slow", seconds=3.0) for i in range(backend.capacity)]
        for candidate in slow:  # each stops at its deadline, long after the shutdown
            backend.submit(candidate, time.time() + 2.5)
        time.sleep(0.5)  # the process backends start on them
        start = time.time()
        abandoned = backend.shutdown()
        assert time.time() - start < 30.0, "shutdown hung"
        assert sorted(r.id for r in abandoned) == [c.id for c in slow]
        for record in abandoned:
            _assert_failed(record, Status.KILLED)
        assert backend.n_running == 0
        assert backend.shutdown() == [] and backend.wait(0.1) == []  # once, and only once
        if kind == "local":  # the workers that held them are gone
            assert not any(psutil.pid_exists(int(r.worker)) for r in abandoned)
        if kind == "dask":  # the scheduler forgets the run's data and tasks
            client, end = request.getfixturevalue("dask_client"), time.time() + 10.0
            while _scheduler_keys(client) and time.time() < end:
                time.sleep(0.1)
            assert _scheduler_keys(client) == []
        fresh = make_backend()  # what it held is free for the next run
        candidate = _candidate(9, "linear")
        [record] = _drive(fresh, [(candidate, 60.0)])
        _assert_scored(record, candidate, context)
