"""The ``evoens`` command: batch AutoML on a CSV or Parquet file.

::

    evoens fit data.csv --target y --time-budget 300      # writes a run directory
    evoens predict RUN_DIR new.csv --output predictions.csv
    evoens resume RUN_DIR --time-budget 600               # after a crash, or for more time
    evoens report RUN_DIR                                 # RUN_DIR/report.html
    evoens leaderboard RUN_DIR
    evoens run job.toml                                   # fit, every option in a file

Errors are one line on stderr and a non-zero exit status (``--debug`` shows
the traceback).  See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import warnings
from pathlib import Path

import pandas as pd

from .exceptions import EvoensError, InvalidInputError

__all__ = ["main", "infer_task", "read_table"]

_TASKS = ("auto", "binary", "multiclass", "regression")
#: an integer target with at most this many distinct values is a class label under ``--task auto``
MAX_AUTO_CLASSES = 20
_JOB_KEYS = {"data", "target", "task", "time_budget", "generations", "scoring", "space", "n_jobs", "scheduler",
             "device", "seed", "cv", "population_size", "early_stop", "max_eval_time", "backend", "run_dir"}
_DEFAULT_BUDGET = 60.0


# -- data -----------------------------------------------------------------------
def read_table(path) -> pd.DataFrame:
    """A CSV (optionally compressed), TSV or Parquet file as a DataFrame."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"data file {path} not found")
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if suffixes and suffixes[-1] in (".parquet", ".pq"):
            return pd.read_parquet(path)
        sep = "\t" if ".tsv" in suffixes else ","
        return pd.read_csv(path, sep=sep)
    except (ValueError, OSError, ImportError) as exc:
        raise InvalidInputError(f"cannot read data file {path}: {exc}") from None


def infer_task(y: pd.Series) -> tuple[str, str]:
    """The task for ``--task auto``, and why.

    Classification when the target is not numeric (text, categories,
    booleans), has exactly two distinct values, or has an integer dtype with
    at most ``MAX_AUTO_CLASSES`` (20) distinct values; regression otherwise (a
    float column, or integers with more distinct values).
    """
    n = int(y.nunique(dropna=True))
    kind = "binary" if n == 2 else "multiclass"
    if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
        return kind, f"non-numeric target with {n} distinct values"
    if n == 2:
        return "binary", "numeric target with 2 distinct values"
    if pd.api.types.is_integer_dtype(y.dtype) and n <= MAX_AUTO_CLASSES:
        return "multiclass", f"integer target with {n} distinct values"
    what = "float" if pd.api.types.is_float_dtype(y.dtype) else f"integer ({n} distinct values)"
    return "regression", f"{what} target"


def _split_target(frame: pd.DataFrame, target: str, path) -> tuple[pd.DataFrame, pd.Series]:
    if target not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:20])) + (", ..." if frame.shape[1] > 20 else "")
        raise InvalidInputError(f"target column {target!r} is not in {path}; its columns are: {shown}")
    return frame.drop(columns=[target]), frame[target]


def _check_task(task: str, y: pd.Series) -> None:
    n = int(y.nunique(dropna=True))
    if task == "binary" and n != 2:
        raise InvalidInputError(f"--task binary needs a target with 2 distinct values; it has {n}")
    if task == "multiclass" and n < 3:
        raise InvalidInputError(f"--task multiclass needs a target with at least 3 distinct values; it has {n}")


# -- the job: everything a fit needs, saved in the run directory for resume -------------------------
def _job_from_args(args) -> dict:
    job = {key: getattr(args, key) for key in _JOB_KEYS if getattr(args, key, None) is not None}
    return _normalise_job(job, base=Path.cwd())


def _normalise_job(job: dict, base: Path) -> dict:
    unknown = sorted(set(job) - _JOB_KEYS)
    if unknown:
        raise InvalidInputError(f"unknown job settings: {', '.join(unknown)}; known: {', '.join(sorted(_JOB_KEYS))}")
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
    if job["task"] not in _TASKS:
        raise InvalidInputError(f"task must be one of {', '.join(_TASKS)}; got {job['task']!r}")
    if job.get("time_budget") is None and job.get("generations") is None:
        job["time_budget"] = _DEFAULT_BUDGET
    job.setdefault("seed", 0)
    return job


def _folds(text: str):
    return text if text == "auto" else int(text)


def _make_estimator(job: dict, task: str, run_dir: Path, verbose: int):
    from .estimator import EvoEnsembleClassifier, EvoEnsembleRegressor

    cls = EvoEnsembleRegressor if task == "regression" else EvoEnsembleClassifier
    params = {"time_budget": job.get("time_budget"), "generations": job.get("generations"),
              "scoring": job.get("scoring"), "space": job.get("space", "default"), "n_jobs": job.get("n_jobs", 1),
              "random_state": job.get("seed", 0), "device": job.get("device", "auto"), "run_dir": str(run_dir),
              "verbose": verbose, "scheduler": job.get("scheduler")}
    for key in ("cv", "population_size", "early_stop", "max_eval_time", "backend"):
        if job.get(key) is not None:
            params[key] = job[key]
    if job.get("scheduler"):
        params["backend"] = "dask"
    return cls(**params)


def _new_run_dir(job: dict) -> Path:
    if job.get("run_dir"):
        path = Path(job["run_dir"])
        if path.exists() and any(path.iterdir()):
            from .journal import RunLayout

            if RunLayout.at(path).is_run():
                raise InvalidInputError(f"{path} already holds a run; continue it with `evoens resume {path}`, "
                                        "or choose another --run-dir")
            raise InvalidInputError(f"run directory {path} exists and is not empty; choose another --run-dir")
        return path
    stem = Path(job["data"]).name.split(".")[0]
    base = Path.cwd() / "evoens-runs" / f"{stem}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def _fit(job: dict, run_dir: Path, out) -> int:
    from .journal import RunLayout
    from .space import load_space

    layout = RunLayout.at(run_dir)
    load_space(job.get("space", "default"))  # a bad preset or file fails here, before anything is written
    X, y = _split_target(read_table(job["data"]), job["target"], job["data"])
    task = job.get("resolved_task") or job["task"]
    if task == "auto":
        task, why = infer_task(y)
        out.info(f"task: {task} ({why}; --task overrides)")
    _check_task(task, y)
    layout.root.mkdir(parents=True, exist_ok=True)
    if not layout.job.exists():
        saved = {**job, "resolved_task": task, "created": f"{_dt.datetime.now():%Y-%m-%d %H:%M:%S}"}
        layout.job.write_text(json.dumps(saved, indent=2) + "\n")
    out.info(f"run directory: {layout.root}")
    estimator = _make_estimator(job, task, layout.root, out.verbose)
    try:
        estimator.fit(X, y)
    except KeyboardInterrupt:
        raise _Interrupted(layout.root) from None
    _write_outputs(estimator, job, layout)
    out.result(f"model:       {layout.model}\nleaderboard: {layout.leaderboard}\nreport:      {layout.report}")
    ens = estimator.ensemble_
    out.result(f"best single pipeline: {estimator.best_score_:.5g} ({estimator.scoring_}); ensemble: {ens.kind} "
               f"of {len(ens.members)}, held-out {ens.oof_score:.5g}; {estimator.n_evaluations_} evaluations")
    return 0


def _write_outputs(estimator, job: dict, layout) -> None:
    from .persist import save_model
    from .report import RunData, from_estimator, load_run, write_report

    save_model(estimator, layout.model, metadata={"target": job["target"], "data": job["data"],
                                                  "run_dir": str(layout.root)})
    _leaderboard_csv(estimator.leaderboard_).to_csv(layout.leaderboard, index=False)
    try:
        data = load_run(layout.root)
    except EvoensError:  # pragma: no cover - the files were just written
        data = from_estimator(estimator, layout.root.name)
    assert isinstance(data, RunData)
    write_report(data, layout.report)


def _leaderboard_csv(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for col in ("fold_scores", "parents", "genome"):
        if col in frame:
            frame[col] = [json.dumps(v, sort_keys=True) for v in frame[col]]
    return frame


class _Interrupted(Exception):
    def __init__(self, run_dir):
        super().__init__(f"interrupted; the evaluations finished so far are kept: continue with "
                         f"`evoens resume {run_dir}`")


# -- commands -----------------------------------------------------------------------
def _cmd_fit(args, out) -> int:
    job = _job_from_args(args)
    return _fit(job, _new_run_dir(job), out)


def _cmd_run(args, out) -> int:
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
    job = _normalise_job({k.replace("-", "_"): v for k, v in raw.items()}, base=path.resolve().parent)
    if args.run_dir:
        job["run_dir"] = str(Path(args.run_dir).resolve())
    return _fit(job, _new_run_dir(job), out)


def _cmd_resume(args, out) -> int:
    from .journal import RunLayout

    layout = RunLayout.at(args.run_dir)
    if not layout.job.exists():
        raise InvalidInputError(f"{layout.root} has no job.json: it was not made by `evoens fit` or `evoens run` "
                                "(resume a Python run by fitting again with the same run_dir)")
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
        raise InvalidInputError(f"{path} holds no model (model.joblib); did its run finish? "
                                f"`evoens resume {path}` continues it")
    if not path.is_file():
        raise InvalidInputError(f"model or run directory {path} not found")
    return path


def _cmd_predict(args, out) -> int:
    from .persist import read_model

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
            raise InvalidInputError(f"{args.data} lacks columns the model needs: {', '.join(map(str, missing[:20]))}")
        X = X[list(names)]
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise InvalidInputError("--proba needs a classifier; this model is a regressor")
        result = pd.DataFrame(model.predict_proba(X), columns=[f"proba_{c}" for c in model.classes_])
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


def _cmd_report(args, out) -> int:
    from .report import write_report

    run_dir = Path(args.run_dir)
    path = write_report(run_dir, Path(args.output) if args.output else None)
    out.result(f"report: {path}")
    return 0


def _cmd_leaderboard(args, out) -> int:
    from .journal import RunLayout, read_evaluations
    from .report import leaderboard_from_evaluations

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
        raise InvalidInputError(f"{layout.root} holds no journal or leaderboard: not an evoens run directory")
    shown = board if args.all else board.head(args.top)
    print(_format_board(shown), flush=True)
    if not args.all and len(board) > args.top:
        out.info(f"({len(board) - args.top} more; --all shows every evaluation)")
    return 0


def _format_board(board: pd.DataFrame, width: int | None = None) -> str:
    """A plain-text leaderboard: numbers right-aligned, the pipeline cut to the terminal width."""
    import shutil

    columns = [("rank", "rank", "d"), ("id", "id", "d"), ("generation", "gen", "d"), ("learner", "learner", "s"),
               ("score", "score", ".5g"), ("status", "status", "s"), ("fit_time", "fit_s", ".2f"),
               ("ensemble_weight", "weight", ".2f")]
    cells = [[h for _, h, _ in columns]]
    for _, row in board.iterrows():
        cells.append([_cell_text(row[c], f) for c, _, f in columns])
    widths = [max(len(r[j]) for r in cells) for j in range(len(columns))]
    width = width or shutil.get_terminal_size((160, 24)).columns
    room = max(20, width - sum(widths) - 2 * len(widths) - 1)
    lines = []
    for i, r in enumerate(cells):
        parts = [t.ljust(w) if f == "s" else t.rjust(w) for t, w, (_, _, f) in zip(r, widths, columns)]
        pipe = "pipeline" if i == 0 else str(board.iloc[i - 1]["pipeline"])
        lines.append("  ".join(parts) + "  " + (pipe if len(pipe) <= room else pipe[: room - 1] + "…"))
    return "\n".join(lines)


def _cell_text(value, fmt) -> str:
    if fmt == "s":
        return str(value)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value != value:  # NaN
        return "-"
    if fmt == "d":
        return str(int(value))
    if fmt == ".2f" and value == 0:
        return ""
    return format(value, fmt)


# -- the parser ------------------------------------------------------------------------
def _common(parser, default):
    """--quiet / --debug / --verbose, accepted before or after the subcommand."""
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="print nothing but errors (no progress)")
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="a log line per finished evaluation (instead of the live status line)")
    parser.add_argument("--debug", action="store_true", default=default, help="show tracebacks of errors")


def _search_options(p):
    p.add_argument("--task", choices=_TASKS, help="default: auto (see docs/cli.md for the rule)")
    p.add_argument("--time-budget", type=float, metavar="S", dest="time_budget",
                   help=f"seconds for the whole fit (default {_DEFAULT_BUDGET:g}; none when only --generations)")
    p.add_argument("--generations", type=int, metavar="N", help="stop after N generations (reproducible)")
    p.add_argument("--scoring", metavar="NAME", help="a scikit-learn scorer name (default: roc_auc, "
                   "neg_log_loss or neg_root_mean_squared_error by task)")
    p.add_argument("--space", metavar="PRESET|FILE", help="search space: default, fast, trees, or a .toml file")
    p.add_argument("--n-jobs", type=int, metavar="N", dest="n_jobs", help="cores to use (-1: all); default 1")
    p.add_argument("--scheduler", metavar="ADDR", help="evaluate on this Dask scheduler (tcp://host:8786)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where tree boosters train (default auto)")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default 0)")
    p.add_argument("--cv", type=_folds, metavar="K|auto",
                   help="cross-validation folds (default auto: 8 below 10,000 rows, else 5)")
    p.add_argument("--population-size", type=int, metavar="N", dest="population_size",
                   help="candidates per generation (default 20)")
    p.add_argument("--early-stop", type=int, metavar="N", dest="early_stop",
                   help="stop after N generations without improvement")
    p.add_argument("--max-eval-time", type=float, metavar="S", dest="max_eval_time",
                   help="seconds one evaluation may take")
    p.add_argument("--backend", choices=("local", "sequential", "dask"), help="where evaluations run")
    p.add_argument("--run-dir", metavar="DIR", dest="run_dir",
                   help="run directory (default: evoens-runs/<data>-<time>)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evoens", description="Evolutionary, ensembling AutoML for tables.")
    _common(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, help_text, func):
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p, argparse.SUPPRESS)
        p.set_defaults(func=func)
        return p

    p = command("fit", "search pipelines on a CSV or Parquet file; write a run directory", _cmd_fit)
    p.add_argument("data", help="CSV (.csv, .csv.gz), TSV or Parquet file")
    p.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    _search_options(p)

    p = command("predict", "predict with a fitted model", _cmd_predict)
    p.add_argument("model", metavar="RUN_DIR_OR_MODEL", help="a run directory or a model file")
    p.add_argument("data", help="CSV or Parquet file with the feature columns (the target column is ignored)")
    p.add_argument("--output", metavar="FILE", help="CSV or .parquet file (default: CSV on stdout)")
    p.add_argument("--proba", action="store_true", help="class probabilities instead of labels")

    p = command("resume", "continue a run after a crash, or give it more time", _cmd_resume)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--time-budget", type=float, metavar="S", dest="time_budget",
                   help="seconds for this session (default: the run's own budget)")
    p.add_argument("--generations", type=int, metavar="N", help="total generations for the run")

    p = command("report", "write the HTML report of a run", _cmd_report)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--output", metavar="FILE", help="default: RUN_DIR/report.html")

    p = command("leaderboard", "print a run's leaderboard (live while it runs)", _cmd_leaderboard)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--top", type=int, default=20, metavar="N", help="rows to show (default 20)")
    p.add_argument("--all", action="store_true", help="show every evaluation")

    p = command("run", "fit as described by a TOML job file (see examples/job.toml)", _cmd_run)
    p.add_argument("job", metavar="JOB.toml")
    p.add_argument("--run-dir", metavar="DIR", dest="run_dir", help="overrides the job's run_dir")
    return parser


class _Output:
    """Where the command's messages go: info and progress on stderr, results on stdout."""

    def __init__(self, quiet: bool, verbose: bool):
        self.quiet = quiet
        self.verbose = 0 if quiet else (2 if verbose else 1)

    def info(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def result(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"evoens: warning: {message}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    """Run the ``evoens`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = _Output(args.quiet, args.verbose)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args, out) or 0)
        except _Interrupted as exc:
            print(f"\nevoens: {exc}", file=sys.stderr)
            return 130
        except KeyboardInterrupt:
            print("\nevoens: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - the one place that turns errors into an exit status
            if args.debug:
                raise
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            prefix = "" if isinstance(exc, (EvoensError, OSError)) else f"{type(exc).__name__}: "
            print(f"evoens: error: {prefix}{text}", file=sys.stderr)
            if not isinstance(exc, EvoensError):
                print("(run with --debug for the traceback)", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
