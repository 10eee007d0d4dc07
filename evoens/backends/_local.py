"""Local worker processes, each fed one candidate at a time.

The run's context (data, folds, metric, space) is written once to a
temporary folder with joblib and memory-mapped by every worker, so data is
not shipped per task.  Each worker has its own pipe, so the driver knows
which candidate a worker holds: when one runs past its deadline (plus a
grace period for the cooperative stop) or dies, only that worker is killed or
replaced and only that candidate is recorded as failed.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
import tempfile
import time
from multiprocessing.connection import wait as wait_connections

import joblib
import cloudpickle

from ..devices import plan_devices, probe
from ..evaluation import Evaluation, Status, evaluate
from ._base import Backend

__all__ = ["LocalBackend"]

_PRELOAD = ["evoens.evaluation", "lightgbm", "xgboost", "sklearn.ensemble", "sklearn.neural_network"]


def _worker_main(conn, ctx_path):
    ctx, metric = joblib.load(ctx_path, mmap_mode="r")
    ctx = dataclasses.replace(ctx, metric=cloudpickle.loads(metric))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        candidate, deadline = msg
        conn.send(evaluate(candidate, ctx, deadline))


@dataclasses.dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: object
    task: tuple | None = None  # (candidate, deadline, started)


class LocalBackend(Backend):
    """``n_workers`` processes on this machine.

    Parameters
    ----------
    n_workers : int
        Worker processes (each learner gets ``ctx.n_threads`` threads).
    grace : float
        Seconds past a deadline before a worker that has not stopped on its
        own is killed and replaced.
    start_method : str
        multiprocessing start method; ``forkserver`` (fast, safe with threads)
        where available, else ``spawn``.
    """

    def __init__(self, n_workers: int = 1, grace: float = 2.0, start_method: str | None = None):
        self.capacity = int(n_workers)
        self.grace = grace
        methods = multiprocessing.get_all_start_methods()
        self.start_method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
        self._workers: list[_Worker] = []
        self._done: list = []
        self._tmp = None
        self.restarts = 0
        self.returned = 0

    # -- lifecycle --------------------------------------------------------
    def start(self, ctx) -> None:
        # the workers run on this machine: decide the device here, before any worker starts
        # (device="cuda" without a GPU fails now, not in every evaluation)
        plan = plan_devices(ctx.device, [probe()] if ctx.device != "cpu" else [], "this machine")
        ctx = dataclasses.replace(ctx, device=plan.device)
        self._mp = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            self._mp.set_forkserver_preload(_PRELOAD)
        self._tmp = tempfile.mkdtemp(prefix="evoens-")
        self._ctx_path = os.path.join(self._tmp, "context.joblib")
        joblib.dump((dataclasses.replace(ctx, metric=None), cloudpickle.dumps(ctx.metric)), self._ctx_path)
        self._workers = [self._spawn() for _ in range(self.capacity)]

    def _spawn(self) -> _Worker:
        parent, child = self._mp.Pipe()
        proc = self._mp.Process(target=_worker_main, args=(child, self._ctx_path), daemon=True)
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def shutdown(self) -> list:
        abandoned = []
        for w in self._workers:
            if w.task is not None:
                abandoned.append(self._failed(w, Status.KILLED, "abandoned: the run stopped while it was running"))
                w.process.kill()
            else:
                try:
                    w.conn.send(None)
                except (OSError, BrokenPipeError):
                    pass
        for w in self._workers:
            w.process.join(timeout=2)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=2)
            w.conn.close()
        self._workers = []
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        return abandoned

    # -- work -------------------------------------------------------------
    @property
    def n_running(self) -> int:
        return sum(w.task is not None for w in self._workers)

    def submit(self, candidate, deadline) -> None:
        worker = next(w for w in self._workers if w.task is None)
        worker.task = (candidate, deadline, time.time())
        try:
            worker.conn.send((candidate, deadline))
        except OSError:
            pass  # the worker died; wait() records the loss and replaces it

    def wait(self, timeout: float) -> list:
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            time.sleep(min(timeout, 0.05))
            return []
        now = time.time()
        kill_times = [w.task[1] + self.grace for w in busy if w.task[1] is not None]
        limit = min([timeout] + [max(0.0, t - now) for t in kill_times])
        objects = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        ready = set(wait_connections(objects, timeout=limit))
        finished = []
        for i, w in enumerate(self._workers):
            if w.task is None:
                continue
            if w.conn in ready:
                try:
                    record = w.conn.recv()
                except (EOFError, OSError):
                    record = None
                if record is not None:
                    w.task = None
                    self.returned += 1
                    finished.append(record)
                    continue
            if not w.process.is_alive():
                code = w.process.exitcode
                finished.append(self._failed(w, Status.KILLED, f"worker process died (exit code {code}): "
                                                               "killed, out of memory or a crash in native code"))
                self._replace(i)
            elif w.task[1] is not None and time.time() > w.task[1] + self.grace:
                finished.append(self._failed(w, Status.TIMEOUT, "killed: still running past its deadline"))
                w.process.kill()
                self._replace(i)
        return finished

    def _failed(self, worker: _Worker, status: Status, reason: str) -> Evaluation:
        candidate, _, started = worker.task
        worker.task = None
        return Evaluation(candidate, status, error=reason, wall_time=time.time() - started,
                          worker=str(worker.process.pid))

    def _replace(self, i: int) -> None:
        if self.returned == 0 and self.restarts >= 2 * self.capacity + 4:
            raise RuntimeError(
                f"evoens worker processes keep dying before finishing any evaluation ({self.restarts} restarts; "
                f"start method {self.start_method!r}). Scripts that fit must guard their entry point with "
                "'if __name__ == \"__main__\":' and run from a file.")
        old = self._workers[i]
        old.process.join(timeout=1)
        old.conn.close()
        self._workers[i] = self._spawn()
        self.restarts += 1
