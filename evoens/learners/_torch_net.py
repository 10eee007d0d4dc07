"""The RealMLP network and its training schedules, in PyTorch (imported only by
:mod:`evoens.learners._realmlp`, only when the ``torch`` extra is installed).

Every piece follows RealMLP-TD (Holzmüller, Grinsztajn and Steinwart, "Better
by Default: Strong Pre-Tuned MLPs and Boosted Trees on Tabular Data",
NeurIPS 2024); the learner's module docstring lists the recipe and where this
one differs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RealMLP", "coslog4", "flat_cos", "param_groups"]

_ACTIVATIONS = {"selu": F.selu, "mish": F.mish, "relu": F.relu}


def coslog4(t: float) -> float:
    """The learning-rate factor at progress ``t`` in [0, 1]: four cosine cycles on a
    log time scale, each from 0 up to 1 and back (the last ends at ``t = 1``)."""
    return 0.5 - 0.5 * math.cos(2 * math.pi * math.log2(1 + 15 * min(max(t, 0.0), 1.0)))


def flat_cos(t: float) -> float:
    """Dropout's and weight decay's factor: 1 for the first half, then a cosine to 0."""
    return 1.0 if t < 0.5 else 0.5 + 0.5 * math.cos(math.pi * (2 * t - 1))


class NTKLinear(nn.Module):
    """A linear layer in the neural-tangent parametrisation: weights drawn from
    N(0, 1) and scaled by 1/sqrt(fan-in) in the forward pass."""

    def __init__(self, n_in: int, n_out: int, generator):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in, generator=generator))
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.factor = 1.0 / math.sqrt(max(n_in, 1))

    def forward(self, x):
        return F.linear(x, self.weight * self.factor, self.bias)


class ParametricActivation(nn.Module):
    """``x + alpha * (f(x) - x)`` with one learnable ``alpha`` per unit, starting at 1."""

    def __init__(self, width: int, name: str):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(width))
        self.fn = _ACTIVATIONS[name]

    def forward(self, x):
        return x + self.alpha * (self.fn(x) - x)


class PeriodicEmbedding(nn.Module):
    """Numeric embeddings "PBLD": per column, ``hidden`` periodic features
    ``cos(2 pi (w x + b))`` with ``w ~ N(0, sigma^2)``, mapped linearly to
    ``out`` values, next to ``x`` itself (``out + 1`` values per column)."""

    def __init__(self, n_cols: int, sigma: float, generator, hidden: int = 16, out: int = 3):
        super().__init__()
        self.frequency = nn.Parameter(sigma * torch.randn(n_cols, hidden, generator=generator))
        self.phase = nn.Parameter(torch.rand(n_cols, hidden, generator=generator) - 0.5)
        self.weight = nn.Parameter(torch.randn(n_cols, hidden, out, generator=generator))
        self.bias = nn.Parameter(torch.zeros(n_cols, out))
        self.factor = 1.0 / math.sqrt(hidden)

    def forward(self, x):
        periodic = torch.cos(2 * math.pi * (x[..., None] * self.frequency + self.phase))
        mapped = torch.einsum("bfh,fho->bfo", periodic, self.weight) * self.factor + self.bias
        return torch.cat([x[..., None], mapped], dim=-1).flatten(1)


class RealMLP(nn.Module):
    """Inputs (numeric embeddings, one-hot columns, category embeddings), a learnable
    scale per input, ``hidden`` NTK layers with parametric activations and dropout,
    and a linear output."""

    def __init__(
        self,
        n_numeric: int,
        n_onehot: int,
        embedding_sizes: tuple,
        n_out: int,
        hidden: tuple = (256, 256, 256),
        activation: str = "selu",
        sigma: float = 0.1,
        embedding_dim: int = 8,
        seed: int = 0,
    ):
        super().__init__()
        g = torch.Generator().manual_seed(int(seed))
        self.periodic = PeriodicEmbedding(n_numeric, sigma, g) if n_numeric else None
        self.embeddings = nn.ModuleList()
        for size in embedding_sizes:
            table = nn.Embedding(int(size), embedding_dim)
            with torch.no_grad():
                table.weight.copy_(torch.randn(int(size), embedding_dim, generator=g))
            self.embeddings.append(table)
        width = 4 * n_numeric + n_onehot + embedding_dim * len(embedding_sizes)
        self.scale = nn.Parameter(torch.ones(width))
        self.layers = nn.ModuleList()
        self.activations = nn.ModuleList()
        for size in hidden:
            self.layers.append(NTKLinear(width, int(size), g))
            self.activations.append(ParametricActivation(int(size), activation))
            width = int(size)
        self.dropout = nn.Dropout(0.0)
        self.out = NTKLinear(width, n_out, g)

    def forward(self, numeric, onehot, codes):
        parts = [] if self.periodic is None else [self.periodic(numeric)]
        parts.append(onehot)
        parts += [table(codes[:, j]) for j, table in enumerate(self.embeddings)]
        x = torch.cat(parts, dim=1) * self.scale
        for layer, activation in zip(self.layers, self.activations):
            x = self.dropout(activation(layer(x)))
        return self.out(x)


def param_groups(net: RealMLP, lr: float, weight_decay: float) -> list:
    """Adam's parameter groups with RealMLP-TD's learning-rate factors: the input scale
    x6, biases, activation mixes and numeric embeddings x0.1; weight decay on the
    layers' weights only."""
    groups = {"weights": [], "scale": [], "slow": [], "embeddings": []}
    for name, p in net.named_parameters():
        if name == "scale":
            groups["scale"].append(p)
        elif name.startswith("periodic.") or name.endswith(".bias") or name.endswith(".alpha"):
            groups["slow"].append(p)
        elif name.startswith("embeddings."):
            groups["embeddings"].append(p)
        else:
            groups["weights"].append(p)
    factors = {"weights": 1.0, "scale": 6.0, "slow": 0.1, "embeddings": 1.0}
    return [
        {
            "params": params,
            "lr": lr * factors[key],
            "base_lr": lr * factors[key],
            "weight_decay": weight_decay if key == "weights" else 0.0,
            "base_weight_decay": weight_decay if key == "weights" else 0.0,
        }
        for key, params in groups.items()
        if params
    ]
