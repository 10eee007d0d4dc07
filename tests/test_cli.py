"""The ``evoens`` command, run for real in a subprocess, and its pieces in-process."""

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from evoens.cli import infer_task, main
from evoens.persist import load_model
from evoens.progress import make_reporter

REPO = Path(__file__).resolve().parents[1]
SMALL = [
    "--population-size",
    "4",
    "--cv",
    "3",
    "--space",
    "fast",
    "--seed",
    "0",
    "--device",
    "cpu",
]


def evoens(*args, cwd, timeout=120):
    """Run the real command in a fresh interpreter; returns the CompletedProcess."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "evoens.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_cancer_csv(path: Path) -> Path:
    """Breast cancer data with string labels and a text column, as a user's CSV would have them."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = X.iloc[:, :8].copy()
    frame["site"] = np.where(np.arange(len(frame)) % 3 == 0, "north", "south")
    frame["diagnosis"] = np.where(y == 1, "benign", "malignant")
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted_run(tmp_path_factory):
    """One real ``evoens fit`` shared by the tests that read its run directory."""
    tmp = tmp_path_factory.mktemp("cli")
    data = write_cancer_csv(tmp / "cancer.csv")
    run_dir = tmp / "run"
    result = evoens(
        "fit",
        data,
        "--target",
        "diagnosis",
        "--generations",
        "2",
        "--n-jobs",
        "2",
        *SMALL,
        "--run-dir",
        run_dir,
        cwd=tmp,
    )
    assert result.returncode == 0, result.stderr
    return tmp, data, run_dir, result


def test_fit_writes_the_run_directory_and_says_where(fitted_run):
    _, _, run_dir, result = fitted_run
    for name in (
        "model.joblib",
        "leaderboard.csv",
        "report.html",
        "journal.log",
        "job.json",
        "settings.json",
    ):
        assert (run_dir / name).is_file(), name
    assert str(run_dir / "model.joblib") in result.stdout
    assert "task: binary" in result.stderr
    board = pd.read_csv(run_dir / "leaderboard.csv")
    model = load_model(run_dir / "model.joblib")
    assert len(board) == model.n_evaluations_ == 2 + 4  # half a population, then a bred one
    assert list(board["rank"]) == list(range(1, 7))
    assert json.loads(board.loc[0, "genome"])["learner"] == board.loc[0, "learner"]
    job = json.loads((run_dir / "job.json").read_text())
    assert job["resolved_task"] == "binary" and job["target"] == "diagnosis"


def test_predict_matches_the_estimator(fitted_run, tmp_path):
    tmp, data, run_dir, _ = fitted_run
    out = tmp_path / "pred.csv"
    result = evoens("predict", run_dir, data, "--output", out, cwd=tmp)
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(out)
    frame = pd.read_csv(data)
    model = load_model(run_dir / "model.joblib")
    expected = model.predict(frame.drop(columns="diagnosis"))
    assert predicted.shape == (len(frame), 1)
    assert (predicted["prediction"].to_numpy() == expected).all()
    assert set(predicted["prediction"]) <= {"benign", "malignant"}


def test_predict_probabilities_to_stdout_from_the_model_file(fitted_run):
    tmp, data, run_dir, _ = fitted_run
    frame = pd.read_csv(data).drop(columns="diagnosis")
    result = evoens("predict", run_dir / "model.joblib", data, "--proba", cwd=tmp)
    assert result.returncode == 0, result.stderr
    proba = pd.read_csv(io.StringIO(result.stdout))
    assert list(proba.columns) == ["proba_benign", "proba_malignant"]
    model = load_model(run_dir / "model.joblib")
    np.testing.assert_allclose(proba.to_numpy(), model.predict_proba(frame), rtol=1e-6, atol=1e-9)


def test_report_command_writes_a_self_contained_page(fitted_run, tmp_path):
    tmp, _, run_dir, _ = fitted_run
    out = tmp_path / "r" / "report.html"
    result = evoens("report", run_dir, "--output", out, cwd=tmp)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert page.count('src="data:image/png;base64,') >= 5
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "Leaderboard" in page and "Ensemble" in page


def test_leaderboard_command_prints_the_best_first(fitted_run):
    tmp, _, run_dir, _ = fitted_run
    result = evoens("leaderboard", run_dir, "--top", "3", cwd=tmp)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["rank", "id", "gen", "learner"]
    assert len(lines) == 4 and lines[1].split()[0] == "1"
    assert "3 more" in result.stderr


def test_fit_refuses_a_run_directory_that_holds_a_run(fitted_run, capsys):
    _, data, run_dir, _ = fitted_run
    assert main(["fit", str(data), "--target", "diagnosis", "--run-dir", str(run_dir)]) == 1
    err = capsys.readouterr().err
    assert "already holds a run" in err and "evoens resume" in err


def test_resume_against_different_data_fails_with_one_clear_line(fitted_run, tmp_path):
    tmp, data, run_dir, _ = fitted_run
    moved = tmp_path / "run"
    import shutil

    shutil.copytree(run_dir, moved)
    other = tmp_path / "other.csv"
    pd.read_csv(data).iloc[:400].to_csv(other, index=False)
    job = json.loads((moved / "job.json").read_text())
    (moved / "job.json").write_text(json.dumps({**job, "data": str(other)}))
    result = evoens("resume", moved, "--time-budget", "20", "--quiet", cwd=tmp)
    assert result.returncode == 1
    assert result.stderr.startswith("evoens: error: run directory")
    assert "was made for a different dataset (fingerprint" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_run_job_file_regression(tmp_path):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X.assign(progression=y).to_csv(tmp_path / "diabetes.csv", index=False)
    (tmp_path / "job.toml").write_text(
        'data = "diabetes.csv"\ntarget = "progression"\ngenerations = 1\n'
        'population_size = 2\ncv = 3\nspace = "fast"\nseed = 1\ndevice = "cpu"\n'
        'backend = "sequential"\nrun_dir = "out/diabetes"\n'
    )
    result = evoens("run", "job.toml", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    run_dir = tmp_path / "out" / "diabetes"
    assert json.loads((run_dir / "job.json").read_text())["resolved_task"] == "regression"
    pred = evoens("predict", run_dir, tmp_path / "diabetes.csv", "--quiet", cwd=tmp_path)
    values = pd.read_csv(io.StringIO(pred.stdout))["prediction"]
    assert len(values) == len(X) and values.between(0, 400).all()


def test_the_example_job_file_is_valid():
    from evoens.cli._job import normalise_job

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    path = REPO / "examples" / "job.toml"
    job = normalise_job(tomllib.loads(path.read_text()), base=path.parent)
    assert job["data"].endswith("phoneme.csv.gz") and job["target"] == "target"
    assert Path(job["data"]).is_file()  # the bundled data: the example runs from a clean clone


@pytest.mark.parametrize("command", ["fit", "predict", "resume", "report", "leaderboard", "run"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: evoens {command}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["fit", "missing.csv", "--target", "y"], "missing.csv not found"),
        (["fit", "{data}", "--target", "nope"], "target column 'nope' is not in"),
        (
            ["fit", "{data}", "--target", "diagnosis", "--space", "turbo"],
            "unknown space preset 'turbo'",
        ),
        (
            ["fit", "{data}", "--target", "diagnosis", "--task", "multiclass"],
            "needs a target with at least 3",
        ),
        (["predict", "{tmp}", "{data}"], "holds no model"),
        (["report", "{tmp}/nowhere"], "not found"),
        (["resume", "{tmp}"], "has no job.json"),
        (["run", "{tmp}/job.toml"], "job file"),
    ],
)
def test_errors_are_one_line_without_traceback(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = write_cancer_csv(tmp_path / "cancer.csv")
    args = [a.format(data=data, tmp=tmp_path) for a in args]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("evoens: error: ") and message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    from evoens.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError):
        main(["--debug", "fit", str(tmp_path / "missing.csv"), "--target", "y"])


def test_a_crash_in_the_real_command_is_one_line(tmp_path):
    result = evoens("fit", tmp_path / "missing.csv", "--target", "y", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr.strip() == f"evoens: error: data file {tmp_path / 'missing.csv'} not found"
    )


@pytest.mark.parametrize(
    "values, expected",
    [
        (["a", "b", "a"], "binary"),
        ([True, False, True], "binary"),
        ([1, 2, 3, 1, 2], "multiclass"),
        ([0.0, 1.0, 0.0], "binary"),
        ([0.5, 1.5, 2.5], "regression"),
        ([0.0, 5.0, 10.0, 15.0], "regression"),  # integral floats are measurements, not labels
        (list(range(30)), "regression"),  # many distinct integers: a count
    ],
)
def test_task_inference_rule(values, expected):
    assert infer_task(pd.Series(values))[0] == expected


def test_csv_parquet_and_tsv_are_read(tmp_path):
    from evoens.cli import read_table

    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    frame.to_csv(tmp_path / "d.csv.gz", index=False)
    for name in ("d.parquet", "d.tsv", "d.csv.gz"):
        pd.testing.assert_frame_equal(read_table(tmp_path / name), frame)


# -- progress ----------------------------------------------------------------------
class _Engine:
    completed_generations = 2

    def __init__(self, best):
        self._best, self.archive = best, {}

    def best(self):
        return self._best


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _evaluations():
    from evoens.evaluation import Candidate, Evaluation, Status
    from evoens.space import Genome

    ok = Evaluation(
        Candidate(3, Genome.create("lightgbm", {"num_leaves": 31}), 2, 0),
        Status.OK,
        score=0.91234567,
    )
    bad = Evaluation(
        Candidate(4, Genome.create("knn"), 2, 0), Status.ERROR, error="ValueError: no\nmore"
    )
    return ok, bad


def test_progress_on_a_terminal_is_one_rewritten_line():
    ok, bad = _evaluations()
    stream = _Terminal()
    report = make_reporter(1, started=time.time() - 12.0, time_budget=60, stream=stream)
    report(ok, _Engine(ok))
    report(bad, _Engine(ok))
    text = stream.getvalue()
    assert "\n" not in text and text.count("\r") == 4
    last = text.split("\r")[-2]
    assert "gen 2" in last and "2 done, 1 failed" in last and "best 0.91235 (lightgbm)" in last
    assert "evoens 12s, 48s left" in last
    assert len(last.replace("\033[K", "")) <= 78


def test_progress_elsewhere_is_a_log_line_per_evaluation():
    ok, bad = _evaluations()
    stream = io.StringIO()
    report = make_reporter(1, started=0.0, time_budget=None, stream=stream)
    report(ok, _Engine(ok))
    report(bad, _Engine(ok))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "#3 ok 0.91235" in lines[0] and "#4 error - (ValueError: no)" in lines[1]
    assert "left" not in lines[0]


def test_progress_is_silent_when_quiet_and_logs_with_verbose_2_on_a_terminal():
    assert make_reporter(0, started=0.0) is None
    stream = _Terminal()
    ok, _ = _evaluations()
    make_reporter(2, started=0.0, stream=stream)(ok, _Engine(ok))
    assert stream.getvalue().endswith("\n") and "\r" not in stream.getvalue()
