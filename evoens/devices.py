"""Where the tree boosters train: GPU detection and per-library device parameters.

Detection runs *on the process that will train* (a Dask worker, a local
worker process): the driver of a cluster job usually has no GPU.  Each probe
runs once per process and is cached.

``device`` takes three values:

``"cpu"``   everything on CPU.
``"auto"``  a GPU when this process can use one, else CPU.
``"cuda"``  a GPU; :class:`~evoens.exceptions.DeviceError` when there is none.

Each library gets its own parameters (:func:`xgboost_params`,
:func:`lightgbm_params`), decided before fitting, so no library falls back
to CPU with a warning of its own.  XGBoost from PyPI is CUDA-enabled
(``device="cuda"``).  LightGBM's PyPI wheel has no CUDA learner; it has the
OpenCL learner (``device_type="gpu"``), used only where OpenCL finds an
NVIDIA device.  Elsewhere LightGBM trains on CPU.

Examples
--------
>>> from evoens.devices import resolve_device, xgboost_params
>>> resolve_device("cpu")
'cpu'
>>> xgboost_params(resolve_device("cpu"))
{'device': 'cpu'}
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import logging
import os
import socket
import warnings
from dataclasses import dataclass

from .exceptions import DeviceError, DeviceWarning, InvalidInputError

__all__ = [
    "DEVICES",
    "GPU_LIBRARIES",
    "resolve_device",
    "gpu_available",
    "lightgbm_gpu_available",
    "xgboost_params",
    "lightgbm_params",
    "probe",
    "DevicePlan",
    "plan_devices",
]

logger = logging.getLogger("evoens")

DEVICES = ("auto", "cpu", "cuda")

#: learner component -> the library whose GPU support it uses
GPU_LIBRARIES = {"xgboost": "xgboost", "lightgbm": "lightgbm"}

_CACHE: dict[str, object] = {}


def _cached(name, compute):
    if name not in _CACHE:
        _CACHE[name] = compute()
    return _CACHE[name]


def _check(requested) -> None:
    if requested not in DEVICES:
        raise InvalidInputError(f"device must be one of {DEVICES}; got {requested!r}")


# -- detection ---------------------------------------------------------------

def _cuda_device_count() -> int:
    """CUDA devices visible to this process per the driver API; 0 without a driver.

    Cheap (no library import) and honours ``CUDA_VISIBLE_DEVICES``.
    """
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return int(count.value)
    return 0


def _xgboost_trains_on_gpu() -> bool:
    """Train a one-round XGBoost model on ``cuda`` and read back where it trained.

    XGBoost falls back to CPU with a warning when it finds no usable GPU; its
    saved configuration then says ``cpu``.
    """
    import numpy as np
    import xgboost as xgb

    if not xgb.build_info().get("USE_CUDA", False):
        return False
    X = np.arange(16, dtype=np.float32).reshape(8, 2)
    data = xgb.DMatrix(X, label=np.tile([0.0, 1.0], 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            booster = xgb.train({"device": "cuda", "tree_method": "hist", "nthread": 1, "verbosity": 0}, data, 1)
        except xgb.core.XGBoostError:
            return False
    device = json.loads(booster.save_config())["learner"]["generic_param"].get("device", "cpu")
    return device.startswith("cuda")


def gpu_available() -> bool:
    """Whether this process can train XGBoost on an NVIDIA GPU (cached per process)."""
    return bool(_cached("cuda", lambda: _cuda_device_count() > 0 and _xgboost_trains_on_gpu()))


def _lightgbm_opencl_device() -> str:
    """The device LightGBM's OpenCL learner picks, as LightGBM names it; "" when none."""
    import lightgbm as lgb
    import numpy as np

    X = np.arange(200, dtype=np.float64).reshape(100, 2)
    data = lgb.Dataset(X, np.tile([0.0, 1.0], 50), params={"verbosity": -1})
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            lgb.train({"device_type": "gpu", "objective": "binary", "verbosity": 1, "num_threads": 1}, data, 1)
    except lgb.basic.LightGBMError:
        return ""
    lines = [line for line in out.getvalue().splitlines() if "Using GPU Device" in line]
    return lines[0].split("Using GPU Device:", 1)[1].strip() if lines else "OpenCL device"


def lightgbm_gpu_available() -> bool:
    """Whether LightGBM's OpenCL learner finds an NVIDIA GPU here (cached per process).

    An OpenCL device is not necessarily a GPU (POCL and Intel's runtime
    offer the CPU), so only an NVIDIA device counts.
    """
    def compute():
        if _cuda_device_count() == 0:
            return False
        return "nvidia" in _lightgbm_opencl_device().lower()

    return bool(_cached("lightgbm_gpu", compute))


def probe() -> dict:
    """What this process can use; run on each Dask worker through ``client.run``."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "cuda": gpu_available(),
            "lightgbm_gpu": lightgbm_gpu_available() if gpu_available() else False}


# -- resolution and mapping ----------------------------------------------------

def resolve_device(requested: str) -> str:
    """``"cpu"`` or ``"cuda"`` for a requested device, decided on this process.

    Parameters
    ----------
    requested : {"auto", "cpu", "cuda"}

    Returns
    -------
    str
        ``"cuda"`` when requested (or ``"auto"``) and an NVIDIA GPU is usable here.

    Raises
    ------
    DeviceError
        ``"cuda"`` was requested and this process has no usable NVIDIA GPU.
    """
    _check(requested)
    if requested == "cpu":
        return "cpu"
    if gpu_available():
        return "cuda"
    if requested == "cuda":
        raise DeviceError(f"device='cuda' but {socket.gethostname()} (pid {os.getpid()}) has no usable NVIDIA GPU "
                          "(no CUDA driver, no visible device, or XGBoost could not train on it); "
                          "use device='auto' or 'cpu'")
    return "cpu"


def xgboost_params(device: str) -> dict:
    """XGBoost's parameters for a resolved device (``"cpu"`` or ``"cuda"``).

    XGBoost 2 and later take ``device="cuda"`` (``tree_method="gpu_hist"`` is
    gone).  Resolve ``"auto"`` with :func:`resolve_device` first.
    """
    if device not in ("cpu", "cuda"):
        raise InvalidInputError(f"xgboost_params needs a resolved device, 'cpu' or 'cuda'; got {device!r}")
    return {"device": device}


def lightgbm_params(device: str, opencl_gpu: bool | None = None) -> dict:
    """LightGBM's parameters for a resolved device: its OpenCL GPU learner or nothing (CPU).

    The PyPI wheel has no CUDA learner (``device_type="cuda"`` raises), so a
    GPU means ``device_type="gpu"``, and only where OpenCL finds an NVIDIA GPU
    (``opencl_gpu``; probed on this process when None).
    """
    if device not in ("cpu", "cuda"):
        raise InvalidInputError(f"lightgbm_params needs a resolved device, 'cpu' or 'cuda'; got {device!r}")
    if device == "cpu":
        return {}
    usable = lightgbm_gpu_available() if opencl_gpu is None else opencl_gpu
    return {"device_type": "gpu"} if usable else {}


# -- the driver's plan for a run -------------------------------------------------

@dataclass(frozen=True)
class DevicePlan:
    """What a backend does with the run's ``device``.

    Attributes
    ----------
    device : str
        The device the workers are told: ``"cpu"``, or the requested
        ``"auto"``/``"cuda"`` (each worker then resolves it for itself).
    gpu_libraries : frozenset
        Libraries (``"xgboost"``, ``"lightgbm"``) whose candidates train on a
        GPU; on a Dask cluster they go only to workers with a ``GPU`` resource.
    """

    device: str = "cpu"
    gpu_libraries: frozenset = frozenset()

    def uses_gpu(self, component: str) -> bool:
        """Whether candidates of this learner component need a GPU worker."""
        return GPU_LIBRARIES.get(component) in self.gpu_libraries


def plan_devices(requested: str, probes: list, where: str) -> DevicePlan:
    """Decide, once per run and before the search, where the boosters train.

    Parameters
    ----------
    requested : {"auto", "cpu", "cuda"}
    probes : list of dict
        :func:`probe` results of the processes that may run GPU candidates.
    where : str
        Words for those processes, for messages (``"this machine"``).

    Raises
    ------
    DeviceError
        ``requested="cuda"`` and none of ``probes`` has a usable NVIDIA GPU.
    """
    _check(requested)
    if requested == "cpu":
        return DevicePlan()
    usable = [p for p in probes if p.get("cuda")]
    if not usable:
        if requested == "cuda":
            raise DeviceError(f"device='cuda' but no usable NVIDIA GPU was found on {where}; "
                              "use device='auto' (GPU where there is one) or device='cpu'")
        logger.info("evoens: device='auto' found no usable NVIDIA GPU on %s; every candidate trains on CPU", where)
        return DevicePlan()
    libraries = {"xgboost"}
    if any(p.get("lightgbm_gpu") for p in usable):
        libraries.add("lightgbm")
    else:
        message = (f"LightGBM candidates train on CPU: LightGBM's PyPI wheel has no CUDA learner and its OpenCL "
                   f"learner (device_type='gpu') found no NVIDIA GPU on {where}; XGBoost candidates use the GPU")
        if requested == "cuda":
            warnings.warn(message, DeviceWarning, stacklevel=3)
        else:
            logger.info("evoens: %s", message)
    return DevicePlan(requested, frozenset(libraries))
