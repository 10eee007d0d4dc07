"""Where the GPU-capable learners train: the run's device plan, GPU detection, library parameters.

``device`` takes three values (:data:`DEVICES`):

``"cpu"``   everything on CPU.
``"auto"``  a GPU where the process that trains can use one, else CPU.
``"cuda"``  a GPU; :class:`~evoens.exceptions.DeviceError` when there is none.

The device is decided in two steps, each once:

1. **Per run**, by the backend's :meth:`~evoens.backends.Backend.start`:
   :func:`plan_devices` checks the requested device and, from probes of the
   processes that will train (:func:`probe`), makes the run's
   :class:`DevicePlan`, which travels to every worker inside the run's
   context.  ``"cuda"`` with no usable GPU fails here, before the search.
2. **Per process**, where a learner is built: :meth:`DevicePlan.resolve`
   turns the plan into each GPU library's concrete device, ``"cpu"`` or
   ``"cuda"`` (:class:`ResolvedDevices`, cached per process).

Learners only map that concrete device to their library's parameters
(:func:`xgboost_params`, :func:`lightgbm_params`), so no library falls back to
CPU with a warning of its own.  XGBoost from PyPI is CUDA-enabled
(``device="cuda"``).  LightGBM's PyPI wheel has no CUDA learner; it has the
OpenCL learner (``device_type="gpu"``), used only where OpenCL finds an
NVIDIA device.  Elsewhere LightGBM trains on CPU.  CatBoost (the ``catboost``
extra) and the RealMLP learner (PyTorch, the ``torch`` extra) train on CUDA
where their library is installed and sees a device.

Examples
--------
>>> from evoens.devices import plan_devices, xgboost_params
>>> plan = plan_devices("cpu", [], "this machine")
>>> plan.resolve().device("xgboost")
'cpu'
>>> xgboost_params("cpu")
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
    "gpu_available",
    "lightgbm_gpu_available",
    "catboost_gpu_available",
    "torch_gpu_available",
    "probe",
    "DevicePlan",
    "ResolvedDevices",
    "plan_devices",
    "xgboost_params",
    "lightgbm_params",
]

logger = logging.getLogger("evoens")

#: the values ``device`` takes
DEVICES = ("auto", "cpu", "cuda")

#: learner component -> the library whose GPU support it uses
GPU_LIBRARIES = {
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "realmlp": "torch",
}

_CACHE: dict = {}


def _cached(name, compute):
    if name not in _CACHE:
        _CACHE[name] = compute()
    return _CACHE[name]


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
            params = {"device": "cuda", "tree_method": "hist", "nthread": 1, "verbosity": 0}
            booster = xgb.train(params, data, 1)
        except xgb.core.XGBoostError:
            return False
    config = json.loads(booster.save_config())
    device = config["learner"]["generic_param"].get("device", "cpu")
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
            params = {
                "device_type": "gpu",
                "objective": "binary",
                "verbosity": 1,
                "num_threads": 1,
            }
            lgb.train(params, data, 1)
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


def catboost_gpu_available() -> bool:
    """Whether CatBoost is installed here and sees a CUDA device (cached per process)."""

    def compute():
        if _cuda_device_count() == 0:
            return False
        try:
            from catboost.utils import get_gpu_device_count
        except ImportError:
            return False
        return get_gpu_device_count() > 0

    return bool(_cached("catboost_gpu", compute))


def torch_gpu_available() -> bool:
    """Whether PyTorch is installed here and sees a CUDA device (cached per process)."""

    def compute():
        if _cuda_device_count() == 0:
            return False
        try:
            import torch
        except ImportError:
            return False
        return torch.cuda.is_available() and torch.cuda.device_count() > 0

    return bool(_cached("torch_gpu", compute))


def probe() -> dict:
    """What this process can use; run on each Dask worker through ``client.run``."""
    cuda = gpu_available()
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cuda": cuda,
        "lightgbm_gpu": lightgbm_gpu_available() if cuda else False,
        "catboost_gpu": catboost_gpu_available() if cuda else False,
        "torch_gpu": torch_gpu_available() if cuda else False,
    }


# -- each library's parameters for a decided device ------------------------------------


def xgboost_params(device: str) -> dict:
    """XGBoost's parameters for a decided device, ``"cpu"`` or ``"cuda"``.

    XGBoost 2 and later take ``device="cuda"`` (``tree_method="gpu_hist"`` is gone).
    """
    return {"device": device}


def lightgbm_params(device: str) -> dict:
    """LightGBM's parameters for a decided device: its OpenCL GPU learner, or nothing (CPU).

    The PyPI wheel has no CUDA learner (``device_type="cuda"`` raises), so
    ``"cuda"`` means ``device_type="gpu"``.  The plan gives LightGBM
    ``"cuda"`` only where OpenCL finds an NVIDIA GPU
    (:func:`lightgbm_gpu_available`).
    """
    return {"device_type": "gpu"} if device == "cuda" else {}


# -- the run's plan, and its resolution on each process -----------------------------------


@dataclass(frozen=True)
class ResolvedDevices:
    """The run's plan as one process carries it out: each GPU library's device here.

    Attributes
    ----------
    devices : tuple of (str, str)
        ``(library, device)`` for each library the plan puts on a GPU, with
        ``device`` ``"cuda"`` where this process can use it, else ``"cpu"``.
        Other libraries, and learners of none, train on CPU.
    missing : str
        Why this process cannot give those libraries the GPU that
        ``device="cuda"`` demands; empty when it can.
    """

    devices: tuple = ()
    missing: str = ""

    def device(self, library: str | None) -> str:
        """``"cpu"`` or ``"cuda"`` for a learner of ``library`` (``None``: no GPU library).

        Raises
        ------
        DeviceError
            The run asked for ``"cuda"``, the plan puts ``library`` on a GPU
            and this process has none.
        """
        planned = dict(self.devices)
        if library in planned and self.missing:
            raise DeviceError(self.missing)
        return planned.get(library, "cpu")


@dataclass(frozen=True)
class DevicePlan:
    """What a backend does with the run's ``device``, decided once per run.

    Attributes
    ----------
    device : str
        ``"cpu"``, or the requested ``"auto"``/``"cuda"`` (each process that
        trains then resolves it for itself, :meth:`resolve`).
    gpu_libraries : frozenset
        Libraries (``"xgboost"``, ``"lightgbm"``, ``"catboost"``, ``"torch"``) whose
        candidates train on a GPU; on a Dask cluster they go only to workers with a
        ``GPU`` resource.
    """

    device: str = "cpu"
    gpu_libraries: frozenset = frozenset()

    def uses_gpu(self, component: str) -> bool:
        """Whether candidates of this learner component need a GPU worker."""
        return GPU_LIBRARIES.get(component) in self.gpu_libraries

    def resolve(self) -> ResolvedDevices:
        """Each GPU library's device on this process; probed once per process and cached."""
        return _cached(("plan", self), self._resolve_here)

    def _resolve_here(self) -> ResolvedDevices:
        libraries = sorted(self.gpu_libraries)
        if not libraries:
            return ResolvedDevices()
        if not gpu_available():
            if self.device != "cuda":
                return ResolvedDevices()
            return ResolvedDevices(tuple((lib, "cpu") for lib in libraries), _no_gpu_here())
        # XGBoost trains wherever CUDA does; LightGBM's OpenCL learner, CatBoost and
        # PyTorch (optional extras) need their own checks
        own = {
            "lightgbm": lightgbm_gpu_available,
            "catboost": catboost_gpu_available,
            "torch": torch_gpu_available,
        }
        return ResolvedDevices(
            tuple((lib, "cuda" if lib not in own or own[lib]() else "cpu") for lib in libraries)
        )


def _no_gpu_here() -> str:
    return (
        f"device='cuda' but {socket.gethostname()} (pid {os.getpid()}) has no usable "
        "NVIDIA GPU (no CUDA driver, no visible device, or XGBoost could not train on it); "
        "use device='auto' or 'cpu'"
    )


def plan_devices(requested: str, probes: list, where: str) -> DevicePlan:
    """Decide, once per run and before the search, where the boosters train.

    The one place where the requested device is checked.

    Parameters
    ----------
    requested : {"auto", "cpu", "cuda"}
    probes : list of dict
        :func:`probe` results of the processes that may run GPU candidates.
    where : str
        Words for those processes, for messages (``"this machine"``).

    Raises
    ------
    InvalidInputError
        ``requested`` is not one of :data:`DEVICES`.
    DeviceError
        ``requested="cuda"`` and none of ``probes`` has a usable NVIDIA GPU.
    """
    if requested not in DEVICES:
        raise InvalidInputError(f"device must be one of {DEVICES}; got {requested!r}")
    if requested == "cpu":
        return DevicePlan()
    usable = [p for p in probes if p.get("cuda")]
    if not usable:
        if requested == "cuda":
            raise DeviceError(
                f"device='cuda' but no usable NVIDIA GPU was found on {where}; "
                "use device='auto' (GPU where there is one) or device='cpu'"
            )
        logger.info(
            "evoens: device='auto' found no usable NVIDIA GPU on %s; "
            "every candidate trains on CPU",
            where,
        )
        return DevicePlan()
    libraries = {"xgboost"}
    if any(p.get("catboost_gpu") for p in usable):
        libraries.add("catboost")
    if any(p.get("torch_gpu") for p in usable):
        libraries.add("torch")
    if any(p.get("lightgbm_gpu") for p in usable):
        libraries.add("lightgbm")
    else:
        message = (
            "LightGBM candidates train on CPU: LightGBM's PyPI wheel has no CUDA learner "
            "and its OpenCL learner (device_type='gpu') found no NVIDIA GPU on "
            f"{where}; XGBoost candidates use the GPU"
        )
        if requested == "cuda":
            warnings.warn(message, DeviceWarning, stacklevel=3)
        else:
            logger.info("evoens: %s", message)
    return DevicePlan(requested, frozenset(libraries))
