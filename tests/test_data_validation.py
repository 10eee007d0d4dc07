"""Bad input gets a clear error naming the problem; unseen categories are handled."""

import numpy as np
import pandas as pd
import pytest

from evoens import EvoEnsembleClassifier, EvoEnsembleRegressor, InvalidInputError
from evoens._data import TabularEncoder

from .conftest import FAST

TINY = dict(generations=1, population_size=2, backend="sequential", time_budget=None, **FAST)


def _xy(n=40):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)), rng.integers(0, 2, n)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_regression_target_is_rejected(bad):
    X, y = _xy()
    y = y.astype(float)
    y[3] = bad
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        EvoEnsembleRegressor(**TINY).fit(X, y)


def test_nan_in_class_labels_is_rejected():
    X, y = _xy()
    y = y.astype(float)
    y[0] = np.nan
    with pytest.raises(InvalidInputError, match="missing"):
        EvoEnsembleClassifier(**TINY).fit(X, y)


def test_all_nan_target_is_rejected():
    X, _ = _xy()
    with pytest.raises(InvalidInputError, match="all NaN"):
        EvoEnsembleRegressor(**TINY).fit(X, np.full(len(X), np.nan))
    with pytest.raises(InvalidInputError, match="all NaN"):
        EvoEnsembleClassifier(**TINY).fit(X, np.full(len(X), np.nan))


def test_single_class_is_rejected():
    X, _ = _xy()
    with pytest.raises(InvalidInputError, match="only 1 class"):
        EvoEnsembleClassifier(**TINY).fit(X, np.ones(len(X)))


def test_length_mismatch_is_rejected():
    X, y = _xy()
    with pytest.raises(InvalidInputError, match="inconsistent numbers of samples"):
        EvoEnsembleClassifier(**TINY).fit(X, y[:-1])


def test_empty_x_and_zero_columns_are_rejected():
    with pytest.raises(InvalidInputError, match="0 sample"):
        EvoEnsembleClassifier(**TINY).fit(np.empty((0, 3)), np.array([]))
    with pytest.raises(InvalidInputError, match="0 feature"):
        EvoEnsembleClassifier(**TINY).fit(np.empty((10, 0)), np.arange(10) % 2)
    with pytest.raises(InvalidInputError, match="0 feature"):
        EvoEnsembleClassifier(**TINY).fit(pd.DataFrame(index=range(10)), np.arange(10) % 2)


def test_continuous_target_for_classifier_is_rejected():
    X, _ = _xy()
    with pytest.raises(InvalidInputError, match="continuous"):
        EvoEnsembleClassifier(**TINY).fit(X, np.linspace(0, 1, len(X)))


@pytest.mark.parametrize(
    "column, message",
    [
        (pd.date_range("2020-01-01", periods=40), "unsupported dtype"),
        (np.arange(40) * (1 + 1j), "Complex data not supported"),
        (pd.to_timedelta(np.arange(40), unit="s"), "unsupported dtype"),
    ],
)
def test_unsupported_dtypes_name_the_column(column, message):
    X = pd.DataFrame({"ok": np.arange(40.0), "bad col": column})
    with pytest.raises(InvalidInputError, match=message) as info:
        EvoEnsembleClassifier(**TINY).fit(X, np.arange(40) % 2)
    assert "bad col" in str(info.value)


def test_predict_with_a_different_column_set_is_rejected(mixed_frame):
    X, y = mixed_frame
    clf = EvoEnsembleClassifier(**TINY).fit(X, y)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X.rename(columns={"x": "renamed"}))
    with pytest.raises(ValueError, match="missing:\n- flag"):
        clf.predict(X.drop(columns="flag"))
    with pytest.raises(ValueError, match="3 features"):
        clf.predict(np.zeros((2, 3)))


def test_bad_parameters_name_the_parameter_rule_and_value():
    X, y = _xy()
    for params, name in [
        ({"population_size": 0}, "population_size"),
        ({"cv": 1}, "cv"),
        ({"cv": "many"}, "cv"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"time_budget": -5}, "time_budget"),
        ({"backend": "spark"}, "backend"),
        ({"scoring": "no_such_metric"}, "scoring"),
    ]:
        with pytest.raises(InvalidInputError, match=name):
            EvoEnsembleClassifier(**{**TINY, **params}).fit(X, y)


def test_unseen_categories_at_predict_are_treated_as_missing(mixed_frame):
    X, y = mixed_frame
    clf = EvoEnsembleClassifier(**TINY).fit(X, y)
    unseen = X.head(5).copy()
    unseen["colour"] = ["purple", "teal", "red", "mauve", None]
    missing = X.head(5).copy()
    missing["colour"] = [None, None, "red", None, None]
    np.testing.assert_allclose(clf.predict_proba(unseen), clf.predict_proba(missing))
    assert set(clf.predict(unseen)) <= {"yes", "no"}


def test_encoder_codes_categories_and_keeps_numbers():
    X = pd.DataFrame({"n": [1.5, None, 3.0], "s": ["a", "b", None], "b": [True, False, True]})
    enc = TabularEncoder().fit(X)
    assert enc.kinds == ["numeric", "categorical", "numeric"]
    out = enc.transform(X)
    assert np.isnan(out[1, 0]) and np.isnan(out[2, 1])
    assert out[0, 1] == 0 and out[1, 1] == 1 and out[0, 2] == 1.0


def test_integer_coded_columns_are_one_hot_expanded_for_one_hot_learners():
    from evoens._data import integer_coded_mask
    from evoens.space import BuildContext, Genome, build_pipeline

    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.integers(1, 5, 100), rng.normal(size=100), rng.integers(0, 2, 100)]
    ).astype(float)
    mask = integer_coded_mask(X, np.zeros(3, dtype=bool))
    assert mask.tolist() == [
        True,
        False,
        False,
    ]  # 4 codes yes; continuous no; binary stays numeric
    context = BuildContext("binary", (False, False, False), low_cardinality=tuple(mask))
    onehot = build_pipeline(
        Genome.create("lin", {}, {"encoder": ("onehot", {})}), "linear", context, 0
    )
    onehot.fit(X, rng.integers(0, 2, 100))
    assert onehot[:-1].transform(X).shape[1] == 2 + 4


@pytest.fixture(scope="module")
def mixed_model(mixed_frame):
    X, y = mixed_frame
    return EvoEnsembleClassifier(**TINY).fit(X, y)


def test_array_and_frame_inputs_are_matched_by_position(mixed_frame, mixed_model):
    X, y = _xy()
    on_array = EvoEnsembleClassifier(**TINY).fit(X, y)
    expected = on_array.predict_proba(X)
    np.testing.assert_array_equal(on_array.predict_proba(pd.DataFrame(X)), expected)
    with pytest.warns(UserWarning, match="feature names"):
        named = on_array.predict_proba(pd.DataFrame(X, columns=["a", "b", "c"]))
    np.testing.assert_array_equal(named, expected)

    X, _ = mixed_frame
    with pytest.warns(UserWarning, match="feature names"):
        from_array = mixed_model.predict_proba(X.to_numpy())
    np.testing.assert_array_equal(from_array, mixed_model.predict_proba(X))


def _coded_frame(n=120):
    """A target driven by a category column, with numeric codes, text codes and a
    boolean flag (missing values in each)."""
    rng = np.random.default_rng(1)
    code = [None if i % 17 == 0 else int(v) for i, v in enumerate(rng.integers(1, 4, n))]
    flag = [
        None if missing else bool(v)
        for v, missing in zip(rng.random(n) > 0.5, rng.random(n) < 0.1)
    ]
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "code": pd.Categorical(code),  # categories: the integers 1, 2, 3
            "text code": pd.Series([None if v is None else str(v) for v in code], dtype=object),
            "flag": pd.Series(flag, dtype=object),
        }
    )
    y = np.where(
        (X["code"].to_numpy(dtype=float, na_value=0) >= 2) ^ (rng.random(n) < 0.1), "a", "b"
    )
    return X, y


def test_data_read_back_from_csv_predicts_as_at_fit(tmp_path):
    X, y = _coded_frame()
    clf = EvoEnsembleClassifier(**TINY).fit(X, y)
    X.to_csv(tmp_path / "X.csv", index=False)
    for read in (pd.read_csv, lambda path: pd.read_csv(path, dtype=str)):
        back = read(tmp_path / "X.csv")
        assert (
            back["code"].dtype != X["code"].dtype
        )  # floats 1.0, 2.0 (or text) where fit saw categories 1, 2
        np.testing.assert_allclose(
            clf.predict_proba(back), clf.predict_proba(X), rtol=0, atol=1e-12
        )


def test_categories_match_by_value_not_spelling():
    fit = pd.DataFrame(
        {
            "ints": pd.Categorical([1, 2, 3, None]),
            "text numbers": ["1", "2.5", None, "x"],
            "text bools": ["true", "false", "unknown", None],
            "mixed": [1, 1.0, "1", "b"],
        }
    )
    encoder = TabularEncoder().fit(fit)
    assert encoder.categories["mixed"] == ["1", "b"]  # 1, 1.0 and "1" are one category
    same = pd.DataFrame(
        {
            "ints": [1.0, 2.0, 3.0, np.nan],
            "text numbers": [1, 2.5, np.nan, "x"],
            "text bools": [np.True_, False, "unknown", None],
            "mixed": ["1.0", np.int64(1), 1.0, "b"],
        }
    )
    np.testing.assert_array_equal(encoder.transform(same), encoder.transform(fit))
    unseen = encoder.transform(
        pd.DataFrame({"ints": [4.0], "text numbers": [3], "text bools": [1], "mixed": [2]})
    )
    assert np.isnan(unseen).all()  # unseen at fit: missing, as before


def test_reordered_columns_error_says_how_to_fix(mixed_frame, mixed_model):
    X, _ = mixed_frame
    with pytest.raises(ValueError, match=r"same order(.|\n)*X\[model\.feature_names_in_\]"):
        mixed_model.predict(X[X.columns[::-1]])
    reordered = X[X.columns[::-1]]
    np.testing.assert_array_equal(
        mixed_model.predict(reordered[mixed_model.feature_names_in_]), mixed_model.predict(X)
    )
