"""Shared fixtures: small real datasets from scikit-learn's bundled data."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

FAST = dict(space="fast", cv=3, random_state=0, device="cpu")


@pytest.fixture(scope="session")
def binary_data():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:, :8], y


@pytest.fixture(scope="session")
def wine_data():
    return load_wine(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def diabetes_data():
    return load_diabetes(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def mixed_frame():
    """Numeric, categorical, string, boolean columns with missing values; string labels."""
    rng = np.random.default_rng(0)
    n = 240
    x = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    size = pd.Categorical(rng.choice(["S", "M", "L"], size=n))
    flag = rng.random(n) > 0.5
    noisy = rng.normal(size=n)
    noisy[rng.random(n) < 0.1] = np.nan
    colour = colour.astype(object)
    colour[rng.random(n) < 0.05] = None
    logit = 1.5 * x + (np.asarray(colour, dtype=str) == "red") * 1.5 + flag - 0.5
    y = np.where(logit + rng.logistic(size=n) > 0, "yes", "no")
    X = pd.DataFrame({"x": x, "colour": colour, "size": size, "flag": flag, "noisy value": noisy})
    return X, pd.Series(y, name="target")
