"""The HTML report: built from a run directory or an estimator, self-contained, every
section there."""

import base64
import re

import numpy as np
import pytest

from evoens import EvoEnsembleClassifier, EvoEnsembleRegressor
from evoens.evaluation import Candidate, Evaluation, Status
from evoens.persist import save_model
from evoens.report import (
    RunData,
    build_report,
    leaderboard_from_evaluations,
    load_run,
    write_report,
)
from evoens.space import Genome

SMALL = dict(
    population_size=4,
    cv=3,
    space="fast",
    random_state=0,
    device="cpu",
    backend="sequential",
    time_budget=None,
)
SECTIONS = [
    "Leaderboard",
    "Fitness over generations",
    "Every evaluation: time and score",
    "Learner mix over generations",
    "Ensemble",
    "Failures",
    "Time per phase",
]


def images(page: str) -> list:
    return re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, binary_data):
    X, y = binary_data
    path = tmp_path_factory.mktemp("report") / "run"
    model = EvoEnsembleClassifier(generations=2, run_dir=path, **SMALL).fit(X, y)
    save_model(model, path / "model.joblib")
    return path, model


def test_report_from_a_run_directory_has_every_section_and_plot(run_dir):
    path, model = run_dir
    out = write_report(path)
    assert out == path / "report.html"
    page = out.read_text()
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    pngs = images(page)
    assert (
        len(pngs) == 5
    )  # fitness, time and score, learner mix, ensemble weights, time per learner
    for data in pngs:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    for member in model.ensemble_.members:
        assert member.genome.describe().replace(">", "&gt;") in page
    assert f"{len(model.leaderboard_)} (" in page  # the evaluations card


def test_the_page_needs_no_network(run_dir):
    page = build_report(run_dir[0])
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page and "@import" not in page


def test_a_run_without_a_model_is_reported_from_its_journal(run_dir, tmp_path):
    import shutil

    path, model = run_dir
    live = tmp_path / "live"
    shutil.copytree(path, live)
    (live / "model.joblib").unlink()
    data = load_run(live)
    assert not data.complete and data.ensemble is None
    assert len(data.leaderboard) == len(model.leaderboard_)
    page = build_report(data)
    assert "No model yet" in page and "in progress or interrupted" in page


def test_failures_are_grouped_with_their_reasons_and_escaped():
    def record(i, status, score=float("nan"), error="", generation=0, learner="lightgbm"):
        cand = Candidate(i, Genome.create(learner, {"num_leaves": 8 + i}), generation, seed=i)
        return Evaluation(
            cand, status, score=score, error=error, fit_time=0.1 * (i + 1), wall_time=0.2 * (i + 1)
        )

    records = [
        record(0, Status.OK, 0.8),
        record(1, Status.OK, 0.85, generation=1, learner="knn"),
        record(2, Status.ERROR, error="ValueError: <script>alert(1)</script>\nTraceback ..."),
        record(3, Status.ERROR, error="ValueError: <script>alert(1)</script>\nTraceback ..."),
        record(4, Status.TIMEOUT, error="stopped at its deadline", generation=1),
    ]
    data = RunData("synthetic", leaderboard_from_evaluations(records))
    page = build_report(data)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "3 of 5 evaluations did not finish" in page
    assert "#2, #3" in page and "stopped at its deadline" in page


def test_a_single_generation_regression_run_reports(diabetes_data):
    X, y = diabetes_data
    model = EvoEnsembleRegressor(generations=1, **{**SMALL, "population_size": 2}).fit(X, y)
    page = build_report(model)
    assert len(images(page)) == 5
    assert "neg_root_mean_squared_error" in page


def test_terrible_scores_do_not_flatten_the_plots():
    from evoens.report._plots import _score_limits

    scores = np.array([-0.30, -0.31, -0.32, -0.33, -0.35, -0.4, -25.0])
    low, high = _score_limits(scores)
    assert (
        low > -1.0 and high > -0.30
    )  # the log loss of 25 is drawn on the edge, not scaled into view


def test_an_empty_run_still_renders():
    page = build_report(RunData("empty", leaderboard_from_evaluations([]), complete=False))
    assert "No data for fitness over generations" in page


def test_a_directory_that_is_not_a_run_is_a_clear_error(tmp_path):
    from evoens.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError, match="not an evoens run directory"):
        load_run(tmp_path)
    with pytest.raises(InvalidInputError, match="not found"):
        write_report(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_prediction_cost_is_measured_and_reported(run_dir):
    """Each evaluation's prediction time per 1,000 rows is in the leaderboard, the
    ensemble and the report."""
    path, model = run_dir
    board = model.leaderboard_
    ok = board[board.status == "ok"]
    assert (ok["predict_s_per_1k"] > 0).all() and np.isfinite(ok["predict_s_per_1k"]).all()
    assert model.ensemble_.predict_per_1k > 0
    for member in model.ensemble_.members:
        assert member.predict_per_1k == pytest.approx(
            float(ok.loc[ok.id == member.id, "predict_s_per_1k"].iloc[0]), rel=1e-3, abs=1e-5
        )
    page = write_report(path).read_text()
    assert "predict s / 1k rows" in page and "predicting 1,000 rows with the final model" in page
