"""The package installs the way a user gets it: presets from the top-level
``pipelines/`` come along."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter from an empty folder, so only the installed copy can be imported.
CHECK_INSTALLED = """
import sys
from pathlib import Path
import numpy as np
import evoens
from evoens import EvoEnsembleClassifier
from evoens.space import available_presets, load_space

assert Path(evoens.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), evoens.__file__
assert {"default", "fast", "trees"} <= set(available_presets()), available_presets()
assert load_space("fast").name == "fast"
rng = np.random.default_rng(0)
X, y = rng.normal(size=(60, 3)), np.arange(60) % 2
clf = EvoEnsembleClassifier(space="fast", backend="sequential", generations=1, population_size=2,
                            cv=2, random_state=0, device="cpu").fit(X, y)
assert clf.predict(X).shape == (60,)
"""


def test_listed_packages_are_the_source_subpackages():
    """``pyproject.toml`` lists the packages by hand (for ``package-dir``); a new
    subpackage must be added."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    source = {
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "evoens").rglob("__init__.py")
    }
    assert set(config["packages"]) == source | {"evoens.pipelines"}
    assert config["package-dir"] == {"evoens.pipelines": "pipelines"}
    assert (REPO / "pipelines" / "__init__.py").is_file()
    assert "*.toml" in config["package-data"]["evoens.pipelines"]


@pytest.mark.slow
def test_installed_package_finds_its_presets(tmp_path):
    pytest.importorskip(
        "setuptools",
        minversion="68",
        reason="building evoens needs setuptools>=68 (the test extra)",
    )
    pytest.importorskip("wheel", reason="building evoens needs wheel (the test extra)")
    source, site, elsewhere = tmp_path / "src", tmp_path / "site", tmp_path / "elsewhere"
    source.mkdir()
    elsewhere.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("evoens", "pipelines"):
        shutil.copytree(
            REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )

    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            site,
            source,
        ],
        cwd=tmp_path,
    )
    assert sorted(p.name for p in (site / "evoens" / "pipelines").glob("*.toml")) == [
        "catboost.toml",
        "default.toml",
        "fast.toml",
        "realmlp.toml",
        "trees.toml",
    ]
    run(
        [sys.executable, "-c", CHECK_INSTALLED, site],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(site)},
    )


def run(command, **kwargs):
    result = subprocess.run(
        list(map(str, command)), capture_output=True, text=True, timeout=300, **kwargs
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
