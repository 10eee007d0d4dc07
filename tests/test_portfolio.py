"""Every portfolio seed in every preset matches the published portfolio, value and type.

``tests/data/tabrepo-2023.json`` is a copy of the portfolio the project was
given (``shared/portfolio/`` beside the repository; checked equal when it is
there).  A seed names its configuration after ``": "`` in its ``source``.
Values outside the learner's search range are clipped into it (the MLP's
weight decay, its depth); a float stays a float and an int an int, because
scikit-learn reads ``max_features=1`` as one feature and ``1.0`` as all.
"""

import json
import math
from pathlib import Path

import pytest
from optuna.distributions import CategoricalDistribution

from evoens.space import available_presets, load_space

HERE = Path(__file__).resolve().parent
PORTFOLIO = json.loads((HERE / "data" / "tabrepo-2023.json").read_text())
SHARED = HERE.parents[1] / "shared" / "portfolio" / "tabrepo-2023.json"
FAMILY = {
    "lightgbm": "GBM",
    "xgboost": "XGB",
    "extra_trees": "XT",
    "random_forest": "RF",
    "mlp": "NN_TORCH",
}
# the MLP's settings map loosely to scikit-learn's (the portfolio file says so):
# name here -> name there
MLP_NAMES = {
    "hidden_size": "hidden_size",
    "num_layers": "num_layers",
    "learning_rate_init": "learning_rate",
    "alpha": "weight_decay",
}
CONFIGS = {
    c["name"]: (family, c) for family, configs in PORTFOLIO["families"].items() for c in configs
}


def _portfolio_seeds():
    for preset in available_presets():
        space = load_space(preset)
        for name, spec in space.learners.items():
            for seed in spec.seeds:
                if "TabRepo 2023 portfolio" in seed.source:
                    yield pytest.param(
                        preset, spec, seed, id=f"{preset}-{seed.source.split(': ', 1)[1][:20]}"
                    )


def test_the_copy_is_the_portfolio_the_project_was_given():
    if not SHARED.is_file():
        pytest.skip("shared/portfolio/ is not beside this checkout")
    assert json.loads(SHARED.read_text()) == PORTFOLIO


def _expected(spec, name, value):
    dist = spec.params.get(name)
    if (
        dist is not None
        and not isinstance(dist, CategoricalDistribution)
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    ):
        return type(value)(min(max(value, dist.low), dist.high))
    return value


def _same_type(a, b) -> bool:
    kinds = (bool, int, float, str)
    return next(k for k in kinds if isinstance(a, k)) is next(k for k in kinds if isinstance(b, k))


@pytest.mark.parametrize("preset, spec, seed", list(_portfolio_seeds()))
def test_seed_matches_the_portfolio(preset, spec, seed):
    name = seed.source.split(": ", 1)[1].split(",")[0].strip()
    assert name in CONFIGS, f"{preset}: {seed.source!r} names no configuration of the portfolio"
    family, config = CONFIGS[name]
    assert family == FAMILY[spec.component]
    assert seed.priority == config["priority"]
    if config["problem_types"]:
        assert set(seed.tasks) <= set(config["problem_types"])
    ours = {**spec.defaults, **dict(seed.genome.params)}
    published = dict(config["params"])
    if family == "XGB":
        native = published.pop("enable_categorical", False)
        assert seed.genome.step_dict["encoder"][0] == (
            "native" if native else spec.steps["encoder"][0]
        )
    if family == "NN_TORCH":
        published = {
            here: published[there] for here, there in MLP_NAMES.items() if there in published
        }
    for key, value in published.items():
        want = _expected(spec, key, value)
        got = ours.get(key)
        assert got is not None, f"{name}: {key} missing"
        assert _same_type(got, want), (
            f"{name}: {key} = {got!r} ({type(got).__name__}), published {value!r}"
        )
        if isinstance(want, float):
            assert math.isclose(got, want, rel_tol=1e-4), (
                f"{name}: {key} = {got!r}, published {value!r}"
            )
        else:
            assert got == want, f"{name}: {key} = {got!r}, published {value!r}"


def test_no_integer_max_features_of_one_remains():
    for preset in available_presets():
        for spec in load_space(preset).learners.values():
            for seed in spec.seeds:
                value = dict(seed.genome.params).get("max_features")
                assert not (isinstance(value, int) and value == 1), f"{preset}: {seed.source}"
