"""Resuming a run: evaluations in the journal are kept and never run again."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from sklearn.datasets import load_breast_cancer

from evoens import EvoEnsembleClassifier
from evoens.exceptions import InvalidInputError
from evoens.journal import STUDY_NAME, RunLayout, read_evaluations
from evoens.persist import load_model

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(
    population_size=4,
    cv=3,
    space="fast",
    random_state=0,
    device="cpu",
    backend="sequential",
    time_budget=None,
)


def journal_ids(run_dir) -> list:
    """Candidate ids of every record in the journal, duplicates included."""
    storage = JournalStorage(JournalFileBackend(str(RunLayout.at(run_dir).journal)))
    study_id = storage.get_study_id_from_name(STUDY_NAME)
    return [t.user_attrs["candidate_id"] for t in storage.get_all_trials(study_id)]


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:, :8], y


def test_resume_skips_evaluated_candidates(tmp_path, cancer):
    X, y = cancer
    first = EvoEnsembleClassifier(generations=2, run_dir=tmp_path, **SMALL).fit(X, y)
    before = read_evaluations(tmp_path)
    assert len(before) == first.n_evaluations_ == 2 + 4
    second = EvoEnsembleClassifier(generations=3, run_dir=tmp_path, **SMALL).fit(X, y)
    ids = journal_ids(tmp_path)
    assert len(ids) == len(set(ids)) == second.n_evaluations_ == 10  # 4 new, none twice
    board = second.leaderboard_.set_index("id")
    for i, e in before.items():  # replayed records, not re-run: same times to the millisecond
        assert board.loc[i, "fit_time"] == round(e.fit_time, 3)
        assert board.loc[i, "score"] == e.score


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, cancer):
    X, y = cancer
    EvoEnsembleClassifier(generations=1, run_dir=tmp_path / "split", **SMALL).fit(X, y)
    resumed = EvoEnsembleClassifier(generations=2, run_dir=tmp_path / "split", **SMALL).fit(X, y)
    straight = EvoEnsembleClassifier(generations=2, **SMALL).fit(X, y)
    cols = ["id", "learner", "pipeline", "score"]
    assert resumed.leaderboard_[cols].equals(straight.leaderboard_[cols])
    np.testing.assert_allclose(resumed.predict_proba(X), straight.predict_proba(X))


def test_fitting_other_data_into_a_run_directory_is_refused(tmp_path, cancer):
    X, y = cancer
    EvoEnsembleClassifier(generations=1, run_dir=tmp_path, **SMALL).fit(X, y)
    with pytest.raises(InvalidInputError, match="was made for a different dataset"):
        EvoEnsembleClassifier(generations=1, run_dir=tmp_path, **SMALL).fit(
            X.iloc[:300], y.iloc[:300]
        )
    with pytest.raises(InvalidInputError, match="random_state 0 != 1"):
        EvoEnsembleClassifier(generations=1, run_dir=tmp_path, **{**SMALL, "random_state": 1}).fit(
            X, y
        )


@pytest.mark.slow
def test_resume_after_sigkill_keeps_every_finished_evaluation(tmp_path, cancer):
    """Kill ``evoens fit`` (driver and workers) mid-run; ``evoens resume`` continues
    without re-running."""
    X, y = cancer
    data = tmp_path / "cancer.csv"
    X.assign(label=y).to_csv(data, index=False)
    run_dir = tmp_path / "run"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        "-m",
        "evoens.cli",
        "fit",
        str(data),
        "--target",
        "label",
        "--generations",
        "50",
        "--population-size",
        "4",
        "--cv",
        "3",
        "--space",
        "fast",
        "--n-jobs",
        "2",
        "--device",
        "cpu",
        "--seed",
        "0",
        "--run-dir",
        str(run_dir),
        "--quiet",
    ]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 90
        before = {}
        while time.time() < deadline and proc.poll() is None:
            if RunLayout.at(run_dir).journal.exists():
                before = read_evaluations(run_dir)
                if len(before) >= 3:
                    break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1].decode()
        os.killpg(
            proc.pid, signal.SIGKILL
        )  # the driver and its worker processes, with no chance to clean up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = read_evaluations(run_dir)  # what was durable at the kill
    assert len(before) >= 3 and not (run_dir / "model.joblib").exists()
    journal = RunLayout.at(run_dir).journal
    with open(journal, "ab") as f:  # as if the kill had hit in the middle of writing a record
        f.write(b'{"op_code": 4, "worker_id": "dead", "study_id": 0, "user_att')

    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "evoens.cli",
            "resume",
            str(run_dir),
            "--generations",
            "3",
            "--quiet",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "dropped a torn or corrupted last record" in resumed.stderr
    ids = journal_ids(run_dir)
    assert len(ids) == len(set(ids)), "an evaluation was recorded twice: it ran again"
    after = read_evaluations(run_dir)
    for i, e in before.items():
        assert after[i].status == e.status and after[i].fit_time == e.fit_time
        assert after[i].score == e.score or (np.isnan(e.score) and np.isnan(after[i].score))
    model = load_model(run_dir / "model.joblib")
    assert set(before) <= set(model.leaderboard_["id"])
    assert model.predict(X).shape == (len(X),)
    assert (
        json.loads((run_dir / "job.json").read_text())["generations"] == 50
    )  # the run's own job, unchanged
