"""RealMLP: a tabular MLP tuned by default, in PyTorch (the ``torch`` extra).

The recipe is RealMLP-TD's: Holzmüller, Grinsztajn and Steinwart, "Better by
Default: Strong Pre-Tuned MLPs and Boosted Trees on Tabular Data" (NeurIPS
2024), with the defaults its authors publish (pytabkit,
``DefaultParams.RealMLP_TD_CLASS`` and ``RealMLP_TD_REG``):

- **Inputs.** Numeric columns are centred on their median, divided by their
  interquartile range and smoothly clipped, ``x / sqrt(1 + (x / 3)^2)``.
  Categorical columns with at most 9 categories are one-hot; larger ones get
  an embedding of size 8.
- **Numeric embeddings** ("PBLD"): per column, 16 periodic features
  ``cos(2 pi (w x + b))`` with ``w ~ N(0, 0.1^2)``, mapped linearly to 3
  values, next to ``x`` itself.
- **Network.** A learnable scale per input (learning rate x6), then three
  hidden layers of 256 in the neural-tangent parametrisation. Activations are
  parametric SELU (classification) or Mish (regression). Dropout is 0.15 and
  weight decay 0.02, both fading on a flat-then-cosine schedule.
- **Training.** Adam with beta2 = 0.95. The learning rate is 0.04
  (classification) or 0.2 (regression), on the "coslog4" schedule: four
  cosine cycles on a log time scale. Batch size is 256 and there are 256
  epochs.
- **Targets.** Label smoothing of 0.1 for classification. For regression the
  target is standardised and predictions are clamped to the training range.
- **The best epoch** on the fold's inner holdout is kept.

Where this learner differs, and why:

- **Time budgets.** Epochs scale down with the rows: 256 up to 4,096 rows,
  then fewer, and at least 32. The batch grows past 256 from 8,192 rows, up
  to 1,024. After the first epoch the schedule is compressed into the epochs
  that fit the fold's time share, so it completes rather than being cut off.
  Deadlines are checked after every epoch (and every 64 batches within one).
- **Choosing the best epoch.** It is chosen by holdout log loss (or squared
  error), not classification error, because evoens scores probabilities.
  Label smoothing costs calibration, as the paper notes for log loss, so a
  temperature fitted on the holdout rescales the logits.
- **Simplifications.** Biases start at zero and weights at N(0, 1): the
  paper's data-dependent initialisation ("std", "he+5") was tried and left
  out, since classification scored the same and regression was less stable.
  No model is refit without the holdout.

The network trains on a GPU when the run's device plan gives this learner
one (``device="cuda"``). It always predicts on CPU, and pickles as NumPy
arrays, so a model trained on a GPU loads and predicts on a machine without
one. Install it with ``pip install "evoens[torch]"``.
"""

from __future__ import annotations

import contextlib
import math
import time

import numpy as np

from .._deadline import check_deadline, fold_time_left, should_stop, time_left
from ._base import Learner

__all__ = ["RealMLPLearner"]

#: categorical columns with at most this many categories are one-hot; larger are embedded
_ONE_HOT_MAX = 9
_PREDICT_BATCH = 8192


class _Inputs:
    """The fitted input transformation: numeric columns scaled and smoothly clipped,
    categorical ones one-hot or as codes for an embedding (unseen and missing: 0)."""

    def __init__(self, X, categorical):
        cats = set(int(j) for j in categorical)
        self.numeric = [j for j in range(X.shape[1]) if j not in cats]
        self.levels, self.onehot, self.embedded = {}, [], []
        for j in sorted(cats):
            column = X[:, j]
            self.levels[j] = np.unique(column[~np.isnan(column)])
            (self.onehot if len(self.levels[j]) <= _ONE_HOT_MAX else self.embedded).append(j)
        num = X[:, self.numeric]
        present = ~np.isnan(num).all(axis=0)
        self.median = np.zeros(num.shape[1])
        scale = np.ones(num.shape[1])
        if present.any():
            part = num[:, present]
            q25, q50, q75 = np.nanquantile(part, [0.25, 0.5, 0.75], axis=0)
            spread = q75 - q25
            flat = spread <= 0  # fall back on half the range, then on 1
            spread[flat] = 0.5 * (np.nanmax(part, axis=0) - np.nanmin(part, axis=0))[flat]
            spread[spread <= 0] = 1.0
            self.median[present], scale[present] = q50, spread
        self.scale = scale

    @property
    def embedding_sizes(self) -> tuple:
        return tuple(len(self.levels[j]) + 1 for j in self.embedded)

    @property
    def n_onehot(self) -> int:
        return sum(len(self.levels[j]) for j in self.onehot)

    def _codes(self, X, j):
        """1 + the index of each value among the column's levels; 0 for missing or unseen."""
        levels, column = self.levels[j], X[:, j]
        pos = np.clip(np.searchsorted(levels, column), 0, max(len(levels) - 1, 0))
        found = (len(levels) > 0) & ~np.isnan(column)
        found &= levels[pos] == column if len(levels) else found
        return np.where(found, pos + 1, 0)

    def transform(self, X):
        """``(numeric, onehot, codes)`` arrays: float32, float32, int64."""
        num = (X[:, self.numeric] - self.median) / self.scale
        num = np.nan_to_num(num, nan=0.0, posinf=0.0, neginf=0.0)
        num = num / np.sqrt(1.0 + (num / 3.0) ** 2)
        onehot = [
            (self._codes(X, j)[:, None] == np.arange(1, len(self.levels[j]) + 1)[None, :])
            for j in self.onehot
        ]
        onehot = np.hstack(onehot) if onehot else np.zeros((len(X), 0))
        codes = [self._codes(X, j) for j in self.embedded]
        codes = np.column_stack(codes) if codes else np.zeros((len(X), 0))
        return num.astype(np.float32), onehot.astype(np.float32), codes.astype(np.int64)


def _batch_size(n_rows: int) -> int:
    """256 up to 8,192 rows, then doubling with the rows, up to 1,024."""
    return int(min(1024, max(256, 2 ** math.floor(math.log2(max(n_rows, 1) / 32)))))


def _epochs(n_rows: int, max_epochs: int) -> int:
    """``max_epochs`` up to 4,096 rows, then fewer in proportion (at least 32)."""
    return int(max(min(32, max_epochs), min(max_epochs, max_epochs * 4096 // max(n_rows, 1))))


@contextlib.contextmanager
def _torch_threads(n: int):
    """PyTorch's intra-op threads for the block (a process-wide setting), then restored."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class RealMLPLearner(Learner):
    """RealMLP-TD in PyTorch; see the module docstring for the recipe.

    Parameters (``params``) and their defaults by task are in
    :meth:`defaults`: ``lr``, ``layers`` (width x depth, ``"256x3"``),
    ``activation`` (``"selu"``, ``"mish"``, ``"relu"``), ``p_drop``,
    ``weight_decay``, ``plr_sigma``, ``ls_eps`` (classification only), ``max_epochs``.
    """

    handles_missing = True
    native_categorical = True
    gpu_library = "torch"
    requires = ("torch", "torch")
    #: holdout epochs without improvement before training stops (the schedule's later
    #: cycles usually improve again, so this is generous)
    patience = 64

    def defaults(self) -> dict:
        """RealMLP-TD's defaults for this learner's task."""
        classification = self._is_classifier
        return {
            "lr": 0.04 if classification else 0.2,
            "layers": "256x3",
            "activation": "selu" if classification else "mish",
            "p_drop": 0.15,
            "weight_decay": 0.02,
            "plr_sigma": 0.1,
            "ls_eps": 0.1 if classification else 0.0,
            "max_epochs": 256,
        }

    def _settings(self, params) -> dict:
        full = {**self.defaults(), **params}
        width, _, depth = str(full.pop("layers")).partition("x")
        full["hidden_sizes"] = (int(width),) * int(depth or 1)
        if not self._is_classifier:
            full["ls_eps"] = 0.0
        return full

    # -- fitting ---------------------------------------------------------------------
    def _fit(self, X, y, sample_weight, params):
        native = params.pop("native_categorical", False)
        settings = self._settings(params)
        self.net_, self.net_state_, self.n_epochs_ = None, None, 0
        self.temperature_ = 1.0
        if self._is_classifier and len(self.classes_) == 1:
            return  # one class in this fold: predicted with certainty
        split = self._holdout(y)
        tr, va = split if split is not None else (np.arange(len(y)), None)
        self.inputs_ = _Inputs(X[tr], self.categorical if native else ())
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if self._is_classifier:
            target = y
        else:
            self.y_mean_, self.y_std_ = float(np.mean(y[tr])), float(np.std(y[tr]) or 1.0)
            self.y_range_ = (float(np.min(y)), float(np.max(y)))
            target = (y - self.y_mean_) / self.y_std_
        self.net_config_ = {
            "n_numeric": len(self.inputs_.numeric),
            "n_onehot": self.inputs_.n_onehot,
            "embedding_sizes": self.inputs_.embedding_sizes,
            "n_out": len(self.classes_) if self._is_classifier else 1,
            "hidden": settings["hidden_sizes"],
            "activation": str(settings["activation"]),
            "sigma": float(settings["plr_sigma"]),
            "seed": int(self.random_state),
        }
        import torch

        with torch.random.fork_rng(devices=[]), _torch_threads(self.n_jobs):
            torch.manual_seed(int(self.random_state))
            self._train(X, target, w, tr, va, settings)

    def _tensors(self, X, rows, device):
        import torch

        return tuple(torch.from_numpy(a).to(device) for a in self.inputs_.transform(X[rows]))

    def _loss(self, out, target, weight, ls_eps=0.0):
        import torch.nn.functional as F

        if self._is_classifier:
            each = F.cross_entropy(out, target, reduction="none", label_smoothing=ls_eps)
        else:
            each = (out[:, 0] - target) ** 2
        return (
            each.mean()
            if weight is None
            else (each * weight).sum() / weight.sum().clamp_min(1e-12)
        )

    def _train(self, X, target, w, tr, va, settings):
        import torch

        from ._torch_net import RealMLP, coslog4, flat_cos, param_groups

        device = torch.device("cuda" if self.device == "cuda" else "cpu")
        dtype = torch.int64 if self._is_classifier else torch.float32
        inputs = self._tensors(X, tr, device)
        y_tr = torch.as_tensor(target[tr], dtype=dtype, device=device)
        w_tr = None if w is None else torch.as_tensor(w[tr], dtype=torch.float32, device=device)
        net = RealMLP(**self.net_config_).to(device)
        groups = param_groups(net, float(settings["lr"]), float(settings["weight_decay"]))
        opt = torch.optim.AdamW(groups, betas=(0.9, 0.95))
        n = len(tr)
        batch = _batch_size(n)
        steps_per_epoch = math.ceil(n / batch)
        epochs = _epochs(n, int(settings["max_epochs"]))
        holdout = None
        if va is not None:
            y_va = torch.as_tensor(target[va], dtype=dtype, device=device)
            w_va = (
                None if w is None else torch.as_tensor(w[va], dtype=torch.float32, device=device)
            )
            holdout = (self._tensors(X, va, device), y_va, w_va)
        best, best_loss, since, step = None, math.inf, 0, 0
        started = time.perf_counter()
        epoch = 0
        while epoch < epochs:
            net.train()
            order = torch.randperm(n, device=device)
            for b in range(steps_per_epoch):
                t = step / (epochs * steps_per_epoch)
                net.dropout.p = float(settings["p_drop"]) * flat_cos(t)
                for g in opt.param_groups:
                    g["lr"] = g["base_lr"] * coslog4(t)
                    g["weight_decay"] = g["base_weight_decay"] * flat_cos(t)
                rows = order[b * batch : (b + 1) * batch]
                out = net(*(a[rows] for a in inputs))
                loss = self._loss(
                    out, y_tr[rows], None if w_tr is None else w_tr[rows], settings["ls_eps"]
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                if step % 64 == 0 and b + 1 < steps_per_epoch:  # long epochs: ask meanwhile
                    check_deadline()
                    if should_stop():
                        break
            epoch += 1
            check_deadline()
            if holdout is not None:
                current = self._holdout_loss(net, holdout)
                if current < best_loss:
                    best_loss, since = current, 0
                    best = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    since += 1
            if epoch == 1:
                epochs = self._epochs_that_fit(epochs, time.perf_counter() - started)
            if should_stop() or since >= self.patience:
                break
        self.n_epochs_ = epoch
        if best is not None:
            net.load_state_dict(best)
        if holdout is not None and self._is_classifier:
            self.temperature_ = _temperature(self._logits(net, holdout[0]), holdout[1], holdout[2])
        net = net.to("cpu").eval()
        self.net_ = net
        self.net_state_ = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}

    @staticmethod
    def _epochs_that_fit(planned: int, first_epoch_seconds: float) -> int:
        """Epochs that fit the fold's time share (and half the evaluation's time left: the
        other folds need theirs), from the first's duration; at least 2 so that the
        schedule has a second epoch at a low rate."""
        left = min(fold_time_left(), 0.5 * time_left())
        if math.isinf(left):
            return planned
        return int(max(2, min(planned, 1 + 0.85 * left / max(first_epoch_seconds, 1e-6))))

    def _logits(self, net, tensors):
        import torch

        net.eval()
        with torch.no_grad():
            return torch.cat(
                [
                    net(*(a[i : i + _PREDICT_BATCH] for a in tensors))
                    for i in range(0, len(tensors[0]), _PREDICT_BATCH)
                ]
            )

    def _holdout_loss(self, net, holdout) -> float:
        tensors, target, weight = holdout
        return float(self._loss(self._logits(net, tensors), target, weight))

    # -- prediction ------------------------------------------------------------------
    def _network(self):
        """The fitted network on CPU (rebuilt from its arrays after unpickling)."""
        if getattr(self, "net_", None) is None:
            import torch

            from ._torch_net import RealMLP

            net = RealMLP(**self.net_config_)
            net.load_state_dict({k: torch.from_numpy(v) for k, v in self.net_state_.items()})
            self.net_ = net.eval()
        return self.net_

    def _predict(self, X):
        if self.net_state_ is None:
            return np.ones((len(X), 1))
        import torch

        with _torch_threads(self.n_jobs):
            tensors = tuple(torch.from_numpy(a) for a in self.inputs_.transform(X))
            out = self._logits(self._network(), tensors).double()
        if self._is_classifier:
            return torch.softmax(out / self.temperature_, dim=1).numpy()
        pred = out[:, 0].numpy() * self.y_std_ + self.y_mean_
        return np.clip(pred, *self.y_range_)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("net_", None)  # the arrays in net_state_ rebuild it, on any machine
        return state


def _temperature(logits, target, weight) -> float:
    """The temperature that minimises the holdout's log loss of ``softmax(logits / T)``."""
    import torch.nn.functional as F
    from scipy.optimize import minimize_scalar

    logits = logits.detach().double()

    def loss(log_t):
        each = F.cross_entropy(logits / math.exp(log_t), target, reduction="none")
        if weight is not None:
            return float((each * weight).sum() / weight.sum().clamp_min(1e-12))
        return float(each.mean())

    found = minimize_scalar(loss, bounds=(math.log(0.05), math.log(20.0)), method="bounded")
    return float(math.exp(found.x)) if found.success else 1.0
