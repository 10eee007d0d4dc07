"""``fit`` on a Dask DataFrame that no task holds whole, on a real cluster.

A scheduler and two worker processes (with a memory limit, under nannies)
started by the ``dask`` command, as on a cluster; a DataFrame of numeric and
categorical columns in several partitions.  The scheduler runs outside the
test process: XGBoost's tracker runs in the scheduler, and a crash there must
fail a test with the scheduler's log, not abort the whole test session (as
a ``LocalCluster``'s in-process scheduler would).  What the tests assert about where
work ran comes from the scheduler's own records (a SchedulerPlugin), not from
evoens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.utils import key_split
from distributed import Client
from distributed.diagnostics.plugin import SchedulerPlugin

from evoens import EvoEnsembleClassifier, EvoEnsembleRegressor
from evoens.bigdata._train import LATE, PER_WORKER
from evoens.exceptions import InvalidInputError

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

ROWS, PARTITIONS = 12_000, 8
# search on an eighth of the rows: the boosters' data-parallel phase must use all of them
_FIT = dict(space="fast", search_rows=1500, random_state=0, backend="dask")


def _frame(rows=ROWS, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, 5)), columns=[f"x{i}" for i in range(5)])
    X["colour"] = pd.Categorical(rng.choice(["red", "green", "blue", "grey"], rows))
    X["town"] = rng.choice(["a", "b", "c"], rows).astype(object)
    signal_ = X.x0 + X.x1 * X.x2 + 0.8 * (X.colour == "red") - 0.5 * (X.town == "c")
    y = np.where(signal_ + rng.normal(scale=0.7, size=rows) > 0, "yes", "no")
    return X, pd.Series(y, name="label")


class _Cluster:
    """``dask scheduler`` and ``dask worker --nworkers 2`` in their own processes."""

    def __init__(self, folder):
        folder = Path(folder)
        self.log_path = folder / "cluster.log"
        self.log = open(self.log_path, "wb")
        scheduler_file = folder / "scheduler.json"
        env = {
            **os.environ,
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "3",
            # the scheduler unpickles this module's plugin
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }

        def spawn(*args):
            return subprocess.Popen(
                [sys.executable, "-m", "dask", *args, "--no-dashboard", "--host", "127.0.0.1"],
                env=env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )

        self.procs = [spawn("scheduler", "--scheduler-file", str(scheduler_file), "--port", "0")]
        try:
            end = time.time() + 60
            while not scheduler_file.exists() or not scheduler_file.read_text().strip():
                assert time.time() < end and self.procs[0].poll() is None, self.tail()
                time.sleep(0.1)
            address = json.loads(scheduler_file.read_text())["address"]
            self.procs.append(
                spawn(
                    "worker",
                    address,
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--memory-limit",
                    "1.5GiB",
                )
            )
            self.client = Client(address, set_as_default=False)
            self.client.wait_for_workers(2, timeout=60)
        except BaseException:
            self.close()
            raise

    def alive(self):
        """Whether the scheduler still runs, with its log's tail when it does not."""
        code = self.procs[0].poll()
        return code is None, f"scheduler exited with {code}:\n{self.tail()}"

    def tail(self, chars=4000):
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def close(self):
        if getattr(self, "client", None) is not None:
            self.client.close()
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.log.close()


class TaskRecords(SchedulerPlugin):
    """Every task that finished: its key, the worker that ran it, the bytes of its
    inputs (the sum over its dependencies) and of its result."""

    name = "evoens-test-records"

    def __init__(self):
        self.done = []

    def transition(self, key, start, finish, *args, stimulus_id=None, **kwargs):
        if start == "processing" and finish == "memory":
            ts = self.scheduler.tasks.get(key)
            inputs = sum(d.nbytes for d in ts.dependencies) if ts is not None else 0
            self.done.append((key_split(key), kwargs.get("worker"), inputs))

    async def start(self, scheduler):
        self.scheduler = scheduler


def _records(client):
    return client.run_on_scheduler(
        lambda dask_scheduler: list(dask_scheduler.plugins[TaskRecords.name].done)
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    environ = dict(os.environ)
    cluster = _Cluster(tmp_path_factory.mktemp("cluster"))
    cluster.client.register_plugin(TaskRecords())
    yield cluster, cluster.client
    assert cluster.alive()[0], cluster.alive()[1]
    cluster.close()
    os.environ.clear()
    os.environ.update(environ)


@pytest.fixture(scope="module")
def fitted(cluster):
    _, client = cluster
    X, y = _frame()
    D = dd.from_pandas(X.assign(label=y), npartitions=PARTITIONS)
    clf = EvoEnsembleClassifier(time_budget=30, **_FIT)
    clf.fit(D.drop(columns="label"), D["label"], client=client)
    return clf, X, D, _records(client)


def test_fit_trains_the_boosters_on_all_rows_across_both_workers(cluster, fitted):
    _, client = cluster
    clf, X, D, records = fitted
    info = clf.data_parallel_
    assert info["rows"] == ROWS and info["partitions"] == PARTITIONS
    assert info["train_partitions"] + info["holdout_partitions"] == PARTITIONS
    assert 1000 <= info["search_rows"] <= 2200 and info["check_rows"] > 0
    trained = [m for m, how in info["members"].items() if how.startswith("trained on all")]
    assert trained, info["members"]
    assert 0.5 < info["check_score_all"] <= 1 and 0.5 < info["check_score_sample"] <= 1
    # the scheduler saw boosting tasks on both workers
    workers = set(client.scheduler_info(n_workers=-1)["workers"])
    boosting = {w for name, w, _ in records if name == PER_WORKER}
    assert boosting == workers, records[-20:]


def test_no_task_received_the_full_training_set(fitted):
    clf, X, D, records = fitted
    # the training rows as the boosters read them: float32 features (one column per
    # feature at least) and the label; a task that got them all had at least this much
    full = clf.data_parallel_["train_rows"] * (X.shape[1] + 1) * 4
    largest = max(records, key=lambda r: r[2])
    assert largest[2] < 0.9 * full, largest
    # yet each boosting task read more rows than the whole search sample
    boosting = [b for name, _, b in records if name == PER_WORKER]
    assert min(boosting) > clf.data_parallel_["search_rows"] * (X.shape[1] + 1) * 4


def test_predict_on_a_dask_dataframe_is_lazy_and_equals_in_memory(fitted):
    clf, X, D, _ = fitted
    Xd = D.drop(columns="label")
    proba = clf.predict_proba(Xd)
    labels = clf.predict(Xd)
    assert isinstance(proba, dd.DataFrame) and isinstance(labels, dd.Series)
    assert proba.npartitions == labels.npartitions == PARTITIONS
    assert list(proba.columns) == [str(c) for c in clf.classes_]
    np.testing.assert_allclose(proba.compute().to_numpy(), clf.predict_proba(X), atol=1e-9)
    assert (labels.compute().to_numpy() == clf.predict(X)).all()


def test_regression_target_given_as_a_column_name(cluster):
    _, client = cluster
    X, _ = _frame(4000, seed=1)
    X["y"] = X.x0 * 2 + X.x1**2 + np.random.default_rng(1).normal(scale=0.3, size=len(X))
    D = dd.from_pandas(X, npartitions=4)
    reg = EvoEnsembleRegressor(time_budget=20, **{**_FIT, "search_rows": 1000})
    reg.fit(D, "y", client=client)
    assert reg.data_parallel_["check_score_all"] is not None
    pred = reg.predict(D.drop(columns="y")).compute()
    assert len(pred) == len(X) and np.isfinite(pred).all()
    np.testing.assert_allclose(pred.to_numpy(), reg.predict(X.drop(columns="y")), atol=1e-9)


@pytest.mark.parametrize(
    "y, kwargs, message",
    [
        (np.zeros(100), {}, "must be a Dask Series or the name of a column"),
        ("target", {}, "names no column"),
        ("label", {"sample_weight": np.ones(100)}, "sample_weight is not supported"),
        ("label", {"backend": "local"}, "needs backend='dask'"),
    ],
)
def test_bad_input_gets_a_clear_error_before_any_cluster_starts(y, kwargs, message):
    X, labels = _frame(100)
    D = dd.from_pandas(X.assign(label=labels), npartitions=2)
    backend = kwargs.pop("backend", "dask")
    clf = EvoEnsembleClassifier(time_budget=10, space="fast", backend=backend)
    started = time.time()
    with pytest.raises(InvalidInputError, match=message):
        clf.fit(D, y, **kwargs)
    assert time.time() - started < 5  # no cluster was started to find out


@pytest.mark.parametrize("victims", ["one", "all"])
def test_a_worker_killed_while_boosting_still_gives_a_model(capfd, tmp_path, victims):
    """One worker, or every worker at once (as a memory limit did in the big-data
    benchmark: the retry then waited forever on tasks held for the dead workers)."""
    environ = dict(os.environ)
    cluster = _Cluster(tmp_path)
    client = cluster.client
    try:
        pids = client.run(os.getpid)
        killed = {}

        def kill_a_boosting_worker():
            end = time.time() + 120
            while time.time() < end and not killed:
                for addr, keys in client.processing().items():
                    if any(key_split(k) == PER_WORKER for k in keys):
                        for victim in [addr] if victims == "one" else list(pids):
                            os.kill(pids[victim], signal.SIGKILL)
                        killed["worker"] = addr
                        return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_a_boosting_worker, daemon=True)
        killer.start()
        X, y = _frame()
        D = dd.from_pandas(X.assign(label=y), npartitions=PARTITIONS)
        clf = EvoEnsembleClassifier(time_budget=30, verbose=1, **_FIT)
        clf.fit(D.drop(columns="label"), D["label"], client=client)
        killer.join(5)
        assert killed, "no boosting task was seen running"
        err = capfd.readouterr().err
        assert "retrying" in err or "kept its sample-trained" in err, err[-3000:]
        # no call waits past a member's deadline by more than LATE; workers restart meanwhile
        assert clf.fit_time_ < 30 * 1.05 + LATE + 15
        # and no worker still holds its thread waiting on a dead peer (xgboost's collective
        # wait was 120 s: a check placed on that worker waited for it, 137 s in all on CI)
        for addr in client.scheduler_info(n_workers=-1)["workers"]:
            free = client.submit(os.getpid, workers=[addr], allow_other_workers=False, pure=False)
            assert free.result(timeout=10) > 0
        assert clf.predict_proba(X).shape == (len(X), 2)
        assert clf.score(X, y) > 0.7
        assert cluster.alive()[0], cluster.alive()[1]
    finally:
        cluster.close()
        os.environ.clear()
        os.environ.update(environ)
