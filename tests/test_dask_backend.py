"""The Dask backend on real clusters: a LocalCluster, and a scheduler with worker
processes on loopback.

Every test here starts worker processes, so all are marked slow (they still run in CI).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import dask
import numpy as np
import pytest
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from sklearn.datasets import load_breast_cancer

from evoens import EvoEnsembleClassifier
from evoens._data import Dataset, make_folds
from evoens._metrics import get_metric
from evoens.backends import DaskBackend
from evoens.devices import DevicePlan, probe
from evoens.evaluation import Candidate, EvalContext, Status
from evoens.exceptions import DeviceError, InvalidInputError
from evoens.space import Genome, load_space

pytestmark = pytest.mark.slow

_SMALL = dict(population_size=4, space="fast", cv=3, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.random.default_rng(0).choice(len(y), 300, replace=False)
    return X[rows], y[rows]


@pytest.fixture(scope="module")
def client():
    """A user's cluster: 2 worker processes, one retry of a task whose worker died."""
    environ = dict(os.environ)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            memory_limit="1.5GiB",
        )
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()
    os.environ.clear()
    os.environ.update(environ)


class TaskLog(SchedulerPlugin):
    """Scheduler-side record of every evoens task: its dependencies and resource restrictions."""

    name = "evoens-task-log"

    def __init__(self):
        self.tasks = {}

    def update_graph(self, scheduler, *, keys, tasks=(), **kwargs):
        for key in tasks:
            if str(key).startswith("evoens-eval"):
                ts = scheduler.tasks[key]
                self.tasks[key] = (
                    [d.key for d in ts.dependencies],
                    dict(ts.resource_restrictions or {}),
                )


def _reset_task_log(client):
    def reset(dask_scheduler):
        if TaskLog.name not in dask_scheduler.plugins:
            dask_scheduler.add_plugin(TaskLog())
        dask_scheduler.plugins[TaskLog.name].tasks.clear()

    client.run_on_scheduler(reset)


def _task_log(client):
    return client.run_on_scheduler(
        lambda dask_scheduler: dict(dask_scheduler.plugins[TaskLog.name].tasks)
    )


def _context(X, y, space="fast"):
    data = Dataset(
        X.astype(np.float64),
        y.astype(np.int64),
        "binary",
        np.zeros(X.shape[1], dtype=bool),
        make_folds(y, "binary", 3, 0),
        2,
    )
    return EvalContext(
        data, get_metric(None, "binary", np.array([0, 1])), load_space(space).for_task("binary")
    )


def _candidate(i, learner, params=None):
    return Candidate(i, Genome.create(learner, params or {}), 0, seed=i)


def _drain(backend, n, timeout=60):
    records, end = [], time.time() + timeout
    while len(records) < n and time.time() < end:
        records += backend.wait(0.5)
    return records


def _spawned_children():
    import psutil

    return {
        p.pid
        for p in psutil.Process().children(recursive=True)
        if "spawn_main" in " ".join(p.cmdline())
    }


# -- the backend on its own --------------------------------------------------------------


def test_context_scattered_once_and_every_task_depends_on_it(client, data):
    _reset_task_log(client)
    backend = DaskBackend(client=client)
    backend.start(_context(*data))
    assert backend.capacity == 3  # 2 worker threads, plus one task kept queued
    for i in range(6):
        backend.submit(_candidate(i, "logistic", {"C": 10.0 ** (i - 3)}), time.time() + 60)
    records = _drain(backend, 6)
    assert backend.shutdown() == []
    assert sorted(r.id for r in records) == list(range(6))
    assert all(r.ok and r.worker.startswith("tcp://") for r in records)
    assert backend.n_scatters == 1
    log = _task_log(client)
    assert len(log) == 6
    dependencies = {tuple(deps) for deps, _ in log.values()}
    assert (
        len(dependencies) == 1 and len(next(iter(dependencies))) == 1
    )  # one scattered key, shared by all
    assert (
        client.status == "running" and len(client.nthreads()) == 2
    )  # the user's cluster is left running


def test_failures_are_records_and_shutdown_abandons_in_flight(client, data, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text(
        textwrap.dedent("""
        [learners.fail]
        component = "evoens.testing:FailingLearner"
        [learners.logistic]
        component = "linear"
    """)
    )
    backend = DaskBackend(client=client)
    backend.start(_context(*data, space=str(space)))
    backend.submit(_candidate(0, "fail"), None)
    [record] = _drain(backend, 1)
    assert record.status == Status.ERROR and "FailingLearner always fails" in record.error
    backend.submit(_candidate(1, "logistic"), None)
    abandoned = backend.shutdown()
    assert [(r.id, r.status) for r in abandoned] == [(1, Status.KILLED)]
    assert abandoned[0].error.startswith("abandoned")
    assert backend.shutdown() == []  # idempotent: the driver and fit's finally both call it


def test_gpu_candidates_go_only_to_workers_with_a_gpu_resource(client, data):
    _reset_task_log(client)
    backend = DaskBackend(client=client)
    backend.start(_context(*data))
    backend.device_plan, backend._route_gpu = DevicePlan("cuda", frozenset({"xgboost"})), True
    backend.submit(_candidate(0, "xgboost"), None)
    backend.submit(_candidate(1, "logistic"), None)
    records = _drain(backend, 1, timeout=20)
    assert [r.id for r in records] == [1]  # no worker here has a GPU: the xgboost task waits
    log = _task_log(client)
    restrictions = {key.rsplit("-", 2)[-2]: res for key, (_, res) in log.items()}
    assert restrictions == {"0": {"GPU": 1}, "1": {}}
    assert [r.id for r in backend.shutdown()] == [0]


# -- through the estimator -------------------------------------------------------------------


def test_fit_on_own_local_cluster_closes_it_and_restores_environment(data):
    environ, children = dict(os.environ), _spawned_children()
    clf = EvoEnsembleClassifier(
        backend="dask", n_jobs=2, generations=2, time_budget=None, **_SMALL
    )
    clf.fit(*data)
    assert clf.n_evaluations_ == 2 + 4  # half a population, then a bred one
    assert (clf.leaderboard_["status"] == "ok").all()
    assert clf.leaderboard_["pipeline"].nunique() == 6
    assert clf.predict_proba(data[0][:5]).shape == (5, 2)
    assert dict(os.environ) == environ  # the nannies' OMP_NUM_THREADS=1 and friends are undone
    deadline = time.time() + 10
    while _spawned_children() - children and time.time() < deadline:
        time.sleep(0.2)
    assert _spawned_children() - children == set()  # the cluster evoens started is gone


def test_fit_with_user_client_leaves_it_open_and_scatters_once(client, data):
    _reset_task_log(client)
    clf = EvoEnsembleClassifier(backend="local", generations=2, time_budget=None, **_SMALL)
    clf.fit(*data, client=client)  # a client passed to fit selects the Dask backend
    assert clf.n_evaluations_ == 6 and (clf.leaderboard_["status"] == "ok").all()
    assert clf.leaderboard_["pipeline"].nunique() == 6
    log = _task_log(client)
    assert len(log) == 6
    assert len({tuple(deps) for deps, _ in log.values()}) == 1
    assert client.status == "running" and len(client.nthreads()) == 2


def test_runs_bounded_by_generations_are_reproducible_on_dask(client, data):
    fits = [
        EvoEnsembleClassifier(generations=2, time_budget=None, **_SMALL).fit(*data, client=client)
        for _ in range(2)
    ]
    columns = ["id", "pipeline", "score", "status"]
    assert fits[0].leaderboard_[columns].equals(fits[1].leaderboard_[columns])
    np.testing.assert_array_equal(fits[0].predict_proba(data[0]), fits[1].predict_proba(data[0]))


def test_scheduler_and_client_naming_different_clusters_is_an_error(client, data):
    clf = EvoEnsembleClassifier(
        backend="dask", scheduler="tcp://127.0.0.1:1", generations=1, time_budget=None, **_SMALL
    )
    with pytest.raises(InvalidInputError, match="different clusters"):
        clf.fit(*data, client=client)


def test_cuda_with_no_gpu_on_any_worker_fails_before_the_search(client, data):
    if any(p["cuda"] for p in client.run(probe).values()):
        pytest.skip("a worker has a usable GPU")
    clf = EvoEnsembleClassifier(device="cuda", generations=1, time_budget=None, **_SMALL)
    with pytest.raises(
        DeviceError, match="no usable NVIDIA GPU was found on any of the 2 workers"
    ):
        clf.fit(*data, client=client)
    assert not hasattr(clf, "leaderboard_")
    assert client.status == "running" and len(client.nthreads()) == 2


@pytest.mark.parametrize("cluster", ["user's", "evoens'"])
def test_hanging_candidate_is_abandoned_and_fit_keeps_its_budget(cluster, client, data, tmp_path):
    space = tmp_path / "hang.toml"
    space.write_text(
        textwrap.dedent("""
        [learners.hang]
        component = "evoens.testing:HangingLearner"
        [learners.logistic]
        component = "linear"
        [learners.logistic.params]
        C = { low = 0.001, high = 1000.0, log = true }
    """)
    )
    budget = 12.0 if cluster == "user's" else 20.0  # evoens' own cluster starts inside the budget
    clf = EvoEnsembleClassifier(
        backend="dask",
        n_jobs=2,
        time_budget=budget,
        max_eval_time=3.0,
        population_size=4,
        space=str(space),
        cv=3,
        random_state=0,
    )
    started = time.time()
    clf.fit(*data, **({"client": client} if cluster == "user's" else {}))
    elapsed = time.time() - started
    assert elapsed <= budget * 1.05
    board = clf.leaderboard_.set_index("learner")
    hang = board.loc[["hang"]]
    assert (hang["status"] == "timeout").all() and hang["error"].str.contains(
        "past its deadline"
    ).all()
    assert (board.loc["logistic", "status"] == "ok").any()


def test_memory_hungry_candidate_killed_by_nanny_is_a_record(client, data, tmp_path):
    space = tmp_path / "hog.toml"
    space.write_text(
        textwrap.dedent("""
        [learners.hog]
        component = "evoens.testing:MemoryHogLearner"
        [learners.logistic]
        component = "linear"
    """)
    )
    clf = EvoEnsembleClassifier(
        generations=1,
        time_budget=None,
        max_eval_time=60,
        population_size=2,
        space=str(space),
        cv=3,
        random_state=0,
    )
    clf.fit(*data, client=client)
    board = clf.leaderboard_.set_index("learner")
    assert board.loc["hog", "status"] == "killed"
    assert "died" in board.loc["hog", "error"]
    assert board.loc["logistic", "status"] == "ok"


# -- a scheduler and workers started from the command line, one killed mid-run ---------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args):
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture
def cli_cluster():
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        _start(
            [
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                ":0",
            ]
        )
    ]
    workers = {}
    for name in ("w0", "w1"):
        workers[name] = _start(
            [
                "distributed.cli.dask_worker",
                address,
                "--nthreads",
                "1",
                "--name",
                name,
                "--no-nanny",
                "--no-dashboard",
                "--memory-limit",
                "0",
            ]
        )
    yield address, workers
    for proc in procs + list(workers.values()):
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_worker_killed_mid_run_costs_only_its_evaluations(cli_cluster, data):
    import threading

    address, workers = cli_cluster
    watcher = Client(address, set_as_default=False, timeout=30)
    watcher.wait_for_workers(2, timeout=60)
    names = {a: w["name"] for a, w in watcher.scheduler_info(n_workers=-1)["workers"].items()}
    killed = {}

    def kill_first_busy_worker():
        end = time.time() + 60
        while time.time() < end and not killed:
            for addr, keys in watcher.processing().items():
                if any(str(k).startswith("evoens-eval") for k in keys):
                    workers[names[addr]].send_signal(signal.SIGKILL)
                    killed["worker"], killed["keys"] = names[addr], list(keys)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_busy_worker, daemon=True)
    killer.start()
    clf = EvoEnsembleClassifier(
        backend="dask", scheduler=address, generations=2, time_budget=None, **_SMALL
    )
    clf.fit(*data)
    killer.join(5)
    watcher.close()
    assert killed, "no evoens task was seen running"
    assert clf.n_evaluations_ == 6
    board = clf.leaderboard_
    assert set(board["status"]) <= {"ok", "killed"}
    lost = board[board["status"] == "killed"]
    assert (
        lost["error"].str.contains("worker").all()
    )  # lost ones say why; the others were retried elsewhere
    assert (board["status"] == "ok").sum() >= 4
    assert clf.predict(data[0][:3]).shape == (3,)


def test_own_cluster_keeps_lost_workers_for_its_life_and_restores_the_setting():
    from evoens.backends._dask_cluster import Cluster

    key = "distributed.deploy.lost-worker-timeout"
    before, environ = dask.config.get(key), dict(os.environ)
    cluster = Cluster(n_workers=1)
    cluster.open()
    try:
        # a worker restarted twice ~15 s apart must not be closed for good mid-restart
        assert dask.config.get(key) == "1h"
        assert len(cluster.client.nthreads()) == 1
    finally:
        cluster.close({})
    assert dask.config.get(key) == before
    assert dict(os.environ) == environ
