"""Search spaces load from presets and files; malformed files say file, key and problem."""

import numpy as np
import pytest

from evoens import Genome, InvalidSpaceError, available_presets, load_space
from evoens.space import BuildContext, build_pipeline

MINIMAL = """
name = "mine"
[learners.lgbm]
component = "lightgbm"
[learners.lgbm.params]
num_leaves = { low = 4, high = 64, log = true }
"""


def test_presets_ship_with_the_package_and_cover_the_learners():
    assert {"default", "fast", "trees"} <= set(available_presets())
    space = load_space("default")
    components = {spec.component for spec in space.learners.values()}
    assert {"lightgbm", "xgboost", "mlp", "linear", "extra_trees"} <= components
    for task in ("binary", "multiclass", "regression"):
        assert space.for_task(task).seeds(task)


def test_every_seed_names_its_source():
    space = load_space("default").for_task("binary")
    seeds = space.seeds("binary")
    assert all(sd.source for sd in seeds)
    assert any("TabRepo" in sd.source for sd in seeds)


def test_user_file_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL)
    space = load_space(str(path))
    assert list(space.learners) == ["lgbm"]
    genome = space.sample(np.random.default_rng(0))
    assert 4 <= genome.param_dict["num_leaves"] <= 64


@pytest.mark.parametrize(
    "text, key, problem",
    [
        (
            MINIMAL.replace("low = 4", "low = 400"),
            "learners.lgbm.params.num_leaves",
            "must not exceed",
        ),
        (MINIMAL.replace('"lightgbm"', '"nosuch"'), "learners.lgbm.component", "unknown learner"),
        (
            MINIMAL.replace("log = true", "log = true, spread = 2"),
            "learners.lgbm.params.num_leaves",
            "unknown field",
        ),
        (
            MINIMAL + "\n[learners.lgbm.steps]\nscaler = ['fancy']\n",
            "learners.lgbm.steps.scaler",
            "unknown choice",
        ),
        (
            MINIMAL + "\n[[learners.lgbm.seeds]]\nparams = { num_leaves = 8 }\n",
            "learners.lgbm.seeds[0]",
            "source",
        ),
        ('name = "x"\n', "learners", "at least one"),
        ('extends = "nosuch"\n' + MINIMAL, "extends", "must name a preset"),
        (MINIMAL + "\nnum_leaves = [", "", "not valid TOML"),
    ],
)
def test_malformed_space_names_file_key_and_problem(tmp_path, text, key, problem):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(InvalidSpaceError) as info:
        load_space(str(path))
    message = str(info.value)
    assert str(path) in message and key in message and problem in message


def test_a_user_file_extends_a_preset_adding_and_replacing_learners(tmp_path):
    path = tmp_path / "more.toml"
    path.write_text(
        'extends = "default"\nname = "more"\n'
        '[learners.knn]\ncomponent = "knn"\n[learners.knn.defaults]\nn_neighbors = 7\n'
        + MINIMAL.replace('name = "mine"', "")  # its [learners.lgbm] table
    )
    space, default = load_space(str(path)), load_space("default")
    assert space.name == "more"
    assert list(space.learners) == list(default.learners) + ["lgbm"]
    assert space.learners["knn"].defaults == {"n_neighbors": 7} and not space.learners["knn"].seeds
    assert space.learners["xgboost"].seeds == default.learners["xgboost"].seeds
    assert space.step_params == default.step_params


def test_unknown_preset_lists_the_presets():
    with pytest.raises(InvalidSpaceError, match="fast"):
        load_space("fastest")


def test_genome_is_canonical_hashable_and_round_trips():
    a = Genome.create(
        "lightgbm", {"num_leaves": 31, "learning_rate": 0.0500000001}, {"encoder": ("native", {})}
    )
    b = Genome.create(
        "lightgbm", {"learning_rate": 0.05, "num_leaves": 31}, {"encoder": ("native", {})}
    )
    assert a == b and hash(a) == hash(b) and a.key == b.key
    assert len({a, b}) == 1
    assert Genome.from_dict(a.to_dict()) == a
    assert a != a.with_params(num_leaves=32)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_default_genome_builds_a_working_pipeline(task):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    X[:, 3] = rng.integers(0, 3, 120)
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (
        rng.normal(size=120)
        if task == "regression"
        else rng.integers(0, 2 if task == "binary" else 3, 120)
    )
    space = load_space("default").for_task(task)
    context = BuildContext(task, (False, False, False, True))
    for name, spec in space.learners.items():
        pipe = build_pipeline(space.sample(rng, name), spec.component, context, 0)
        pipe.fit(X, y)
        assert len(pipe.predict(X)) == len(X)


def test_a_space_naming_a_learner_whose_extra_is_missing_says_which_to_install(tmp_path):
    space = tmp_path / "needs.toml"
    space.write_text(
        '[learners.needy]\ncomponent = "tests._contract_learners:NeedsAnExtraLearner"\n'
    )
    with pytest.raises(InvalidSpaceError, match=r'needs the .*not installed: pip install "evoens'):
        load_space(str(space))
