"""The commands: fit, run, resume, predict, report, leaderboard."""

from __future__ import annotations

import datetime as _dt
import json
import sys
from pathlib import Path

import pandas as pd

from ..exceptions import EvoensError, InvalidInputError
from ._board import format_board, leaderboard_csv
from ._job import job_from_args, make_estimator, new_run_dir, normalise_job
from ._table import check_task, infer_task, read_table, split_target

__all__ = [
    "Interrupted",
    "cmd_fit",
    "cmd_run",
    "cmd_resume",
    "cmd_predict",
    "cmd_report",
    "cmd_leaderboard",
]


def _fit(job: dict, run_dir: Path, out) -> int:
    from ..journal import RunLayout
    from ..space import load_space

    layout = RunLayout.at(run_dir)
    load_space(
        job.get("space", "default")
    )  # a bad preset or file fails here, before anything is written
    X, y = split_target(read_table(job["data"]), job["target"], job["data"])
    task = job.get("resolved_task") or job["task"]
    if task == "auto":
        task, why = infer_task(y)
        out.info(f"task: {task} ({why}; --task overrides)")
    check_task(task, y)
    layout.root.mkdir(parents=True, exist_ok=True)
    if not layout.job.exists():
        saved = {
            **job,
            "resolved_task": task,
            "created": f"{_dt.datetime.now():%Y-%m-%d %H:%M:%S}",
        }
        layout.job.write_text(json.dumps(saved, indent=2) + "\n")
    out.info(f"run directory: {layout.root}")
    estimator = make_estimator(job, task, layout.root, out.verbose)
    try:
        estimator.fit(X, y)
    except KeyboardInterrupt:
        raise Interrupted(layout.root) from None
    _write_outputs(estimator, job, layout)
    out.result(
        f"model:       {layout.model}\n"
        f"leaderboard: {layout.leaderboard}\n"
        f"report:      {layout.report}"
    )
    ens = estimator.ensemble_
    out.result(
        f"best single pipeline: {estimator.best_score_:.5g} ({estimator.scoring_}); "
        f"ensemble: {ens.kind} of {len(ens.members)}, held-out {ens.oof_score:.5g}; "
        f"{estimator.n_evaluations_} evaluations"
    )
    return 0


def _write_outputs(estimator, job: dict, layout) -> None:
    from ..persist import save_model
    from ..report import RunData, from_estimator, load_run, write_report

    save_model(
        estimator,
        layout.model,
        metadata={"target": job["target"], "data": job["data"], "run_dir": str(layout.root)},
    )
    leaderboard_csv(estimator.leaderboard_).to_csv(layout.leaderboard, index=False)
    try:
        data = load_run(layout.root)
    except EvoensError:  # pragma: no cover - the files were just written
        data = from_estimator(estimator, layout.root.name)
    assert isinstance(data, RunData)
    write_report(data, layout.report)


class Interrupted(Exception):
    def __init__(self, run_dir):
        super().__init__(
            f"interrupted; the evaluations finished so far are kept: continue with "
            f"`evoens resume {run_dir}`"
        )


def cmd_fit(args, out) -> int:
    job = job_from_args(args)
    return _fit(job, new_run_dir(job), out)


def cmd_run(args, out) -> int:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    path = Path(args.job)
    if not path.is_file():
        raise InvalidInputError(f"job file {path} not found")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"job file {path} is not valid TOML: {exc}") from None
    raw = raw.get("job", raw)
    job = normalise_job(
        {k.replace("-", "_"): v for k, v in raw.items()}, base=path.resolve().parent
    )
    if args.run_dir:
        job["run_dir"] = str(Path(args.run_dir).resolve())
    return _fit(job, new_run_dir(job), out)


def cmd_resume(args, out) -> int:
    from ..journal import RunLayout

    layout = RunLayout.at(args.run_dir)
    if not layout.job.exists():
        raise InvalidInputError(
            f"{layout.root} has no job.json: it was not made by `evoens fit` or `evoens run` "
            "(resume a Python run by fitting again with the same run_dir)"
        )
    job = json.loads(layout.job.read_text())
    if args.time_budget is not None:
        job["time_budget"] = args.time_budget
    if args.generations is not None:
        job["generations"] = args.generations
    job["task"] = job.get("resolved_task", job.get("task", "auto"))
    out.info(f"resuming {layout.root}")
    return _fit(job, layout.root, out)


def _model_path(path: Path) -> Path:
    if path.is_dir():
        for name in ("model.joblib", "model.skops"):
            if (path / name).is_file():
                return path / name
        raise InvalidInputError(
            f"{path} holds no model (model.joblib); did its run finish? "
            f"`evoens resume {path}` continues it"
        )
    if not path.is_file():
        raise InvalidInputError(f"model or run directory {path} not found")
    return path


def cmd_predict(args, out) -> int:
    from ..persist import read_model

    model_file = read_model(_model_path(Path(args.model)))
    model = model_file.estimator
    X = read_table(args.data)
    target = model_file.metadata.get("target")
    if target is not None and target in X.columns:
        X = X.drop(columns=[target])
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise InvalidInputError(
                f"{args.data} lacks columns the model needs: {', '.join(map(str, missing[:20]))}"
            )
        X = X[list(names)]
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise InvalidInputError("--proba needs a classifier; this model is a regressor")
        result = pd.DataFrame(
            model.predict_proba(X), columns=[f"proba_{c}" for c in model.classes_]
        )
    else:
        result = pd.DataFrame({"prediction": model.predict(X)})
    if args.output:
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        if output.suffix.lower() in (".parquet", ".pq"):
            result.to_parquet(output, index=False)
        else:
            result.to_csv(output, index=False)
        out.info(f"{len(result)} predictions written to {output}")
    else:
        result.to_csv(sys.stdout, index=False)
    return 0


def cmd_report(args, out) -> int:
    from ..report import write_report

    run_dir = Path(args.run_dir)
    path = write_report(run_dir, Path(args.output) if args.output else None)
    out.result(f"report: {path}")
    return 0


def cmd_leaderboard(args, out) -> int:
    from ..journal import RunLayout, read_evaluations
    from ..report import leaderboard_from_evaluations

    layout = RunLayout.at(args.run_dir)
    if not layout.root.is_dir():
        raise InvalidInputError(f"run directory {layout.root} not found")
    if layout.journal.exists():
        weights = {}
        if layout.leaderboard.exists():
            saved = pd.read_csv(layout.leaderboard)
            weights = dict(zip(saved["id"], saved["ensemble_weight"]))
        board = leaderboard_from_evaluations(read_evaluations(layout.root).values(), weights)
    elif layout.leaderboard.exists():
        board = pd.read_csv(layout.leaderboard)
    else:
        raise InvalidInputError(
            f"{layout.root} holds no journal or leaderboard: not an evoens run directory"
        )
    shown = board if args.all else board.head(args.top)
    print(format_board(shown), flush=True)
    if not args.all and len(board) > args.top:
        out.info(f"({len(board) - args.top} more; --all shows every evaluation)")
    return 0
