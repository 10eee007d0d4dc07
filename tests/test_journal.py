"""The run journal: durable records, reloading, refusing other runs, surviving torn writes."""

import json
import warnings

import numpy as np
import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from evoens.evaluation import Candidate, Evaluation, Status
from evoens.exceptions import EvoensWarning, InvalidInputError, RunDirectoryBusyError
from evoens.journal import STUDY_NAME, RunJournal, RunLayout, read_evaluations
from evoens.journal._files import repair_tail
from evoens.space import Genome

SETTINGS = {
    "estimator": "EvoEnsembleClassifier",
    "random_state": 0,
    "cv": 3,
    "population_size": 4,
    "scoring": "None",
    "space": "fast",
    "params": {"time_budget": "60"},
}


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + rng.normal(scale=0.5, size=60) > 0).astype(int)
    folds = [
        (np.arange(20, 60), np.arange(0, 20)),
        (np.r_[0:20, 40:60], np.arange(20, 40)),
        (np.arange(0, 40), np.arange(40, 60)),
    ]
    return X, y, folds


def _ok(i, X, y, generation=0):
    genome = Genome.create("logistic", {"C": 1.0 + i}, {"scaler": ("standard", {})})
    models = [
        make_pipeline(StandardScaler(), LogisticRegression(C=1.0 + i)).fit(X, y) for _ in range(3)
    ]
    oof = np.column_stack(
        [1 - models[0].predict_proba(X)[:, 1], models[0].predict_proba(X)[:, 1]]
    ).astype(np.float32)
    cand = Candidate(
        i, genome, generation, seed=100 + i, operator="perturb", parents=(0,), source="test"
    )
    return Evaluation(
        cand,
        Status.OK,
        score=0.9 - 0.01 * i,
        fold_scores=[0.9, 0.91, 0.89],
        oof=oof,
        models=models,
        fit_time=0.5,
        predict_time=0.1,
        wall_time=0.7,
        worker="w1",
    )


def _failed(i, status=Status.ERROR, error="ValueError: boom\nTraceback..."):
    genome = Genome.create("knn", {"n_neighbors": 5 + i})
    return Evaluation(Candidate(i, genome, 1, seed=7), status, error=error, wall_time=0.2)


def _open(path, rows, **changes):
    X, y, folds = rows
    return RunJournal.open(
        path, settings={**SETTINGS, **changes}, fingerprint="abc123", folds=folds
    )


def test_append_then_load_rebuilds_every_evaluation(tmp_path, rows):
    X, y, _ = rows
    records = [
        _ok(0, X, y),
        _failed(1),
        _failed(2, Status.PRUNED, "below the threshold"),
        _ok(3, X, y, 1),
    ]
    with _open(tmp_path, rows) as journal:
        for e in records:
            journal.append(e)
    with _open(tmp_path, rows) as journal:
        loaded = journal.load()
    assert sorted(loaded) == [0, 1, 2, 3]
    for e in records:
        back = loaded[e.id]
        assert back.candidate == e.candidate
        assert back.status == e.status and back.error == e.error
        assert back.fold_scores == e.fold_scores and back.wall_time == e.wall_time
        assert np.isnan(back.score) if not e.ok else back.score == e.score
    np.testing.assert_array_equal(loaded[0].oof, records[0].oof)
    assert loaded[0].oof.dtype == np.float32
    np.testing.assert_array_equal(
        loaded[3].models[1].predict_proba(X), records[3].models[1].predict_proba(X)
    )
    assert loaded[1].oof is None and loaded[1].models is None


def test_new_run_writes_settings_fingerprint_and_folds(tmp_path, rows):
    _, _, folds = rows
    _open(tmp_path, rows).close()
    layout = RunLayout.at(tmp_path)
    assert json.loads(layout.settings.read_text())["random_state"] == 0
    assert layout.fingerprint.read_text().strip() == "abc123"
    with np.load(layout.folds) as saved:
        np.testing.assert_array_equal(saved["test_1"], folds[1][1])


def test_a_different_dataset_is_refused_with_both_fingerprints(tmp_path, rows):
    _, _, folds = rows
    _open(tmp_path, rows).close()
    with pytest.raises(
        InvalidInputError,
        match=r"was made for a different dataset \(fingerprint abc123 != zzz999\)",
    ):
        RunJournal.open(tmp_path, settings=SETTINGS, fingerprint="zzz999", folds=folds)


def test_different_settings_are_refused_and_named(tmp_path, rows):
    _open(tmp_path, rows).close()
    with pytest.raises(InvalidInputError, match=r"different settings \(random_state 0 != 1"):
        _open(tmp_path, rows, random_state=1)
    with pytest.raises(InvalidInputError, match="cv 3 != 5"):
        _open(tmp_path, rows, cv=5)


def test_budget_and_other_free_params_may_change_between_sessions(tmp_path, rows):
    _open(tmp_path, rows).close()
    _open(tmp_path, rows, params={"time_budget": "600", "verbose": "1"}).close()


def test_different_folds_are_refused(tmp_path, rows):
    X, y, folds = rows
    _open(tmp_path, rows).close()
    swapped = [folds[1], folds[0], folds[2]]
    with pytest.raises(InvalidInputError, match="different CV folds"):
        RunJournal.open(tmp_path, settings=SETTINGS, fingerprint="abc123", folds=swapped)


def test_a_torn_last_line_is_dropped_and_the_rest_kept(tmp_path, rows):
    X, y, _ = rows
    with _open(tmp_path, rows) as journal:
        for i in range(3):
            journal.append(_ok(i, X, y))
    path = RunLayout.at(tmp_path).journal
    lines = path.read_bytes().splitlines(keepends=True)
    with open(path, "ab") as f:  # a writer killed half-way through its next record
        f.write(lines[-1][: len(lines[-1]) // 2])
    assert sorted(read_evaluations(tmp_path)) == [0, 1, 2]  # a reader copes without repairing
    with pytest.warns(EvoensWarning, match="dropped a torn or corrupted last record"):
        journal = _open(tmp_path, rows)
    assert sorted(journal.load()) == [0, 1, 2]
    journal.append(_failed(3))  # appending goes on after the repair
    journal.close()
    with _open(tmp_path, rows) as journal:
        assert sorted(journal.load()) == [0, 1, 2, 3]


def test_a_corrupted_complete_last_line_is_dropped(tmp_path, rows):
    X, y, _ = rows
    with _open(tmp_path, rows) as journal:
        journal.append(_ok(0, X, y))
        journal.append(_failed(1))
    path = RunLayout.at(tmp_path).journal
    with open(path, "ab") as f:
        f.write(b'{"op_code": 4, "worker_id": "x", "study_id": 0, "user_attrs": {"cand\x00\xff}\n')
    with pytest.warns(EvoensWarning):
        journal = _open(tmp_path, rows)
    with journal:
        assert sorted(journal.load()) == [0, 1]


def test_repair_tail_keeps_complete_lines():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.log"
        path.write_bytes(b'{"a": 1}\n{"b": 2}\nnot json\n{"c"')
        assert repair_tail(path) == len(b'not json\n{"c"')
        assert path.read_bytes() == b'{"a": 1}\n{"b": 2}\n'
        assert repair_tail(path) == 0
        path.write_bytes(b'{"only": "torn')
        repair_tail(path)
        assert path.read_bytes() == b""


def test_a_second_writer_is_refused_while_the_first_holds_the_run(tmp_path, rows):
    first = _open(tmp_path, rows)
    with pytest.raises(RunDirectoryBusyError, match="in use by another evoens process"):
        _open(tmp_path, rows)
    first.close()
    _open(tmp_path, rows).close()


def test_timeouts_and_killed_evaluations_are_recorded_but_run_again_on_resume(tmp_path, rows):
    X, y, _ = rows
    with _open(tmp_path, rows) as journal:
        journal.append(
            _failed(0, Status.KILLED, "abandoned: the run stopped while it was running")
        )
        journal.append(_failed(1, Status.TIMEOUT, "stopped at its deadline"))
        journal.append(_failed(2, Status.ERROR))
        journal.append(_ok(3, X, y))
    assert sorted(read_evaluations(tmp_path)) == [0, 1, 2, 3]  # the report sees everything
    with _open(tmp_path, rows) as journal:
        assert sorted(journal.load()) == [2, 3]  # a resumed run replays only these
        journal.append(_ok(1, X, y))  # candidate 1 evaluated again, with more time
    with _open(tmp_path, rows) as journal:
        loaded = journal.load()
    assert sorted(loaded) == [1, 2, 3] and loaded[1].ok and loaded[1].models is not None
    assert read_evaluations(tmp_path)[1].status == Status.OK  # the latest record counts


def test_an_evaluation_whose_files_are_lost_is_left_out_to_run_again(tmp_path, rows):
    X, y, _ = rows
    with _open(tmp_path, rows) as journal:
        journal.append(_ok(0, X, y))
        journal.append(_ok(1, X, y))
    RunLayout.at(tmp_path).models(1).write_bytes(b"not a joblib file")
    with _open(tmp_path, rows) as journal, pytest.warns(EvoensWarning, match="evaluation 1"):
        loaded = journal.load()
    assert sorted(loaded) == [0]


def test_optuna_reads_the_journal_as_a_study(tmp_path, rows):
    """What optuna-dashboard relies on: a study named "evoens", one trial per evaluation."""
    X, y, _ = rows
    with _open(tmp_path, rows) as journal:
        journal.append(_ok(0, X, y))
        journal.append(_failed(1))
        journal.append(_failed(2, Status.PRUNED, "pruned"))
    storage = JournalStorage(JournalFileBackend(str(RunLayout.at(tmp_path).journal)))
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    states = [t.state for t in study.trials]
    assert states == [
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.PRUNED,
    ]
    assert study.best_value == pytest.approx(0.9)
    assert study.trials[0].user_attrs["learner"] == "logistic"
    assert study.trials[1].user_attrs["error"].startswith("ValueError: boom")


def test_no_file_is_left_half_written(tmp_path, rows):
    X, y, _ = rows
    with _open(tmp_path, rows) as journal:
        journal.append(_ok(0, X, y))
    leftovers = [p.name for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []


def test_reading_a_directory_without_a_journal_is_a_clear_error(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidInputError, match="holds no run journal"):
            read_evaluations(tmp_path)
