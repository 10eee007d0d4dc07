"""The job: everything a fit needs, saved in the run directory for resume."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from .._budget import DEFAULT_TIME_BUDGET
from ..exceptions import InvalidInputError

__all__ = ["JOB_KEYS", "TASKS", "job_from_args", "normalise_job", "make_estimator", "new_run_dir"]

TASKS = ("auto", "binary", "multiclass", "regression")
JOB_KEYS = {
    "data",
    "target",
    "task",
    "time_budget",
    "generations",
    "scoring",
    "space",
    "n_jobs",
    "scheduler",
    "device",
    "seed",
    "cv",
    "population_size",
    "early_stop",
    "max_eval_time",
    "backend",
    "run_dir",
}


def job_from_args(args) -> dict:
    job = {key: getattr(args, key) for key in JOB_KEYS if getattr(args, key, None) is not None}
    return normalise_job(job, base=Path.cwd())


def normalise_job(job: dict, base: Path) -> dict:
    unknown = sorted(set(job) - JOB_KEYS)
    if unknown:
        raise InvalidInputError(
            f"unknown job settings: {', '.join(unknown)}; known: {', '.join(sorted(JOB_KEYS))}"
        )
    for key in ("data", "target"):
        if not job.get(key):
            raise InvalidInputError(f"the job needs {key!r}")
    job = dict(job)
    job["data"] = str((base / job["data"]).resolve())
    space = str(job.get("space", "default"))
    if space.endswith(".toml") or "/" in space or "\\" in space:
        space = str((base / space).resolve())
    job["space"] = space
    if job.get("run_dir"):
        job["run_dir"] = str((base / job["run_dir"]).resolve())
    job.setdefault("task", "auto")
    if job["task"] not in TASKS:
        raise InvalidInputError(f"task must be one of {', '.join(TASKS)}; got {job['task']!r}")
    if job.get("time_budget") is None and job.get("generations") is None:
        job["time_budget"] = DEFAULT_TIME_BUDGET
    job.setdefault("seed", 0)
    return job


def make_estimator(job: dict, task: str, run_dir: Path, verbose: int):
    from ..estimator import EvoEnsembleClassifier, EvoEnsembleRegressor

    cls = EvoEnsembleRegressor if task == "regression" else EvoEnsembleClassifier
    params = {
        "time_budget": job.get("time_budget"),
        "generations": job.get("generations"),
        "scoring": job.get("scoring"),
        "space": job.get("space", "default"),
        "n_jobs": job.get("n_jobs", 1),
        "random_state": job.get("seed", 0),
        "device": job.get("device", "auto"),
        "run_dir": str(run_dir),
        "verbose": verbose,
        "scheduler": job.get("scheduler"),
    }
    for key in ("cv", "population_size", "early_stop", "max_eval_time", "backend"):
        if job.get(key) is not None:
            params[key] = job[key]
    if job.get("scheduler"):
        params["backend"] = "dask"
    return cls(**params)


def new_run_dir(job: dict) -> Path:
    if job.get("run_dir"):
        path = Path(job["run_dir"])
        if path.exists() and any(path.iterdir()):
            from ..journal import RunLayout

            if RunLayout.at(path).is_run():
                raise InvalidInputError(
                    f"{path} already holds a run; continue it with `evoens resume {path}`, "
                    "or choose another --run-dir"
                )
            raise InvalidInputError(
                f"run directory {path} exists and is not empty; choose another --run-dir"
            )
        return path
    stem = Path(job["data"]).name.split(".")[0]
    base = Path.cwd() / "evoens-runs" / f"{stem}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path
