"""Save and load fitted models, recording the library versions they were made with.

Two formats, chosen by the file name:

- ``*.skops`` — `skops <https://skops.readthedocs.io>`_'s format, which
  loads without running code from the file: every type it names must be
  trusted first.  :func:`load_model` trusts classes (never functions) from
  evoens, scikit-learn, NumPy and SciPy, and the LightGBM and XGBoost
  ``Booster`` classes, and refuses a file naming anything else
  (:class:`~evoens.exceptions.UntrustedModelError`).  Use it for a model
  from a source you do not trust.  Needs ``pip install evoens[safe]``.
- anything else (``model.joblib``) — joblib's pickle.  Fast and complete,
  but **loading a pickle runs whatever code the file holds**: load only
  files you made or trust.

Both record the versions of Python, evoens, scikit-learn, LightGBM, XGBoost
and NumPy; loading under other versions warns
(:class:`~evoens.exceptions.VersionMismatchWarning`).
"""

from __future__ import annotations

import copy
import importlib
import inspect
import platform
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import joblib

from .exceptions import InvalidInputError, UntrustedModelError, VersionMismatchWarning

__all__ = [
    "save_model",
    "load_model",
    "read_model",
    "ModelFile",
    "library_versions",
    "SAFE_SUFFIX",
]

FORMAT = "evoens-model"
FORMAT_VERSION = 1
SAFE_SUFFIX = ".skops"

#: the libraries whose versions must match for a model to behave as it did
#: (catboost and torch only where the model was saved with them installed: optional extras)
_CHECKED = ("evoens", "scikit-learn", "lightgbm", "xgboost", "catboost", "torch")
_RECORDED = _CHECKED + ("numpy", "python")

_TRUSTED_PREFIXES = ("evoens.", "sklearn.", "numpy.", "scipy.")
_TRUSTED_NAMES = frozenset(
    {
        "lightgbm.basic.Booster",
        "xgboost.core.Booster",
        "catboost.core.CatBoost",  # its state is the model in CatBoost's own format
        "collections.OrderedDict",
    }
)


@dataclass
class ModelFile:
    """What a model file holds: the estimator, the versions it was saved with, metadata."""

    estimator: object
    versions: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


def library_versions() -> dict:
    """The installed versions that a saved model depends on."""
    out = {"python": platform.python_version()}
    for name in _RECORDED:
        if name == "python":
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def save_model(estimator, path, metadata: dict | None = None) -> Path:
    """Write a fitted estimator to ``path`` (``.skops``: safe format; else joblib).

    Parameters
    ----------
    estimator : fitted EvoEnsembleClassifier or EvoEnsembleRegressor
    path : str or Path
    metadata : dict, optional
        JSON-like extras kept with the model (the command stores the target
        column and the data file here).

    Returns
    -------
    Path
    """
    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": library_versions(),
        "metadata": dict(metadata or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix == SAFE_SUFFIX:
        sio = _skops()
        estimator, payload["leaderboard"] = _without_frame(estimator)
        payload["estimator"] = estimator
        sio.dump(payload, tmp)
    else:
        payload["estimator"] = estimator
        joblib.dump(payload, tmp)
    tmp.replace(path)
    return path


def load_model(path, trusted=()):
    """Load a model written by :func:`save_model`; warns when versions differ.

    Parameters
    ----------
    path : str or Path
        A ``.skops`` file is loaded safely (see the module notes); any other
        file is unpickled — only load those from a source you trust.
    trusted : sequence of str, optional
        More type names to trust in a ``.skops`` file (as listed in the
        :class:`~evoens.exceptions.UntrustedModelError` message).

    Returns
    -------
    estimator
    """
    return read_model(path, trusted).estimator


def read_model(path, trusted=()) -> ModelFile:
    """Like :func:`load_model`, but also returns the saved versions and metadata."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"model file {path} not found")
    if path.suffix == SAFE_SUFFIX:
        payload = _load_safe(path, trusted)
    else:
        payload = joblib.load(path)
    if not (isinstance(payload, dict) and payload.get("format") == FORMAT):
        # a bare pickled estimator: accept it, without version information
        return ModelFile(payload)
    _check_versions(path, payload.get("versions", {}))
    estimator = payload["estimator"]
    if "leaderboard" in payload:
        import pandas as pd

        estimator.leaderboard_ = pd.DataFrame(payload["leaderboard"])
    return ModelFile(estimator, payload.get("versions", {}), payload.get("metadata", {}))


def _check_versions(path, saved: dict) -> None:
    current = library_versions()
    diffs = [
        f"{name} {saved.get(name)} (now {current.get(name)})"
        for name in _CHECKED
        if saved.get(name) is not None and saved.get(name) != current.get(name)
    ]
    if diffs:
        warnings.warn(
            f"model file {path} was saved with {', '.join(diffs)}; its predictions may "
            "differ or fail. Install those versions, or fit the model again.",
            VersionMismatchWarning,
            stacklevel=3,
        )


def _skops():
    try:
        import skops.io as sio
    except ImportError:
        raise InvalidInputError(
            "the safe model format (.skops) needs skops: pip install 'evoens[safe]'"
        ) from None
    return sio


def _without_frame(estimator):
    """A shallow copy whose ``leaderboard_`` (a DataFrame, which skops cannot store)
    is plain lists."""
    frame = getattr(estimator, "leaderboard_", None)
    if frame is None:
        return estimator, None
    estimator = copy.copy(estimator)
    del estimator.leaderboard_
    return estimator, {k: list(v) for k, v in frame.to_dict(orient="list").items()}


def _load_safe(path: Path, extra_trusted) -> dict:
    sio = _skops()
    names = sio.get_untrusted_types(file=path)
    extra = set(extra_trusted or ())
    refused = sorted(n for n in names if n not in extra and not _is_trusted_class(n))
    if refused:
        raise UntrustedModelError(
            f"model file {path} names types that are not trusted: {', '.join(refused)}. "
            "If you trust the file's source, pass them as load_model(path, trusted=[...])"
        )
    return sio.load(path, trusted=list(names))


def _is_trusted_class(name: str) -> bool:
    """A class (not a function) of a trusted library, or one of a few named types."""
    if name in _TRUSTED_NAMES:
        return True
    if not name.startswith(_TRUSTED_PREFIXES):
        return False
    module_name, _, attr = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        return False
    return inspect.isclass(obj)
