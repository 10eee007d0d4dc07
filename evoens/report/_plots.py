"""The report's figures, drawn with Matplotlib (no pyplot, no global state) as PNG data URIs."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

__all__ = [
    "learner_colors",
    "fitness_by_generation",
    "time_vs_score",
    "learner_mix",
    "ensemble_weights",
    "time_by_learner",
]

_PALETTE = [
    "#4C72B0",
    "#DD8452",
    "#55A868",
    "#C44E52",
    "#8172B3",
    "#937860",
    "#DA8BC3",
    "#8C8C8C",
    "#CCB974",
    "#64B5CD",
]
_DPI = 110


def learner_colors(learners) -> dict:
    """One fixed colour per learner name (sorted), shared by every figure."""
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(sorted(set(learners)))}


def _figure(width=7.5, height=3.6) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    return fig


def _style(ax, xlabel="", ylabel="", title=""):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def to_data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _score_limits(scores: np.ndarray):
    """Y limits that keep the interesting top of the score range readable.

    Very bad scores (a log loss of 20 next to 0.3) would squash every other
    point into a line; the axis stops at a robust low end and the points
    below it are drawn on the edge as triangles.
    """
    scores = scores[np.isfinite(scores)]
    if len(scores) == 0:
        return None
    top, median = float(scores.max()), float(np.median(scores))
    low = max(float(scores.min()), median - 3.0 * (top - median))
    span = top - low or abs(top) * 0.01 or 1.0
    return low - 0.06 * span, top + 0.06 * span


def _generation_axis(ax, gens) -> None:
    """Whole-number ticks, and room around a single generation."""
    low, high = int(np.min(gens)), int(np.max(gens))
    ax.set_xlim(low - 0.6, high + 0.6)
    if high - low < 15:
        ax.xaxis.set_major_locator(FixedLocator(range(low, high + 1)))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _clip(ax, x, y, limits, **kwargs):
    """Draw the points below the axis on its edge as triangles; returns the mask of the others."""
    below = y < limits[0]
    if below.any():
        ax.scatter(
            np.asarray(x)[below],
            np.full(below.sum(), limits[0]),
            marker="v",
            clip_on=False,
            **kwargs,
        )
    return ~below


def _note_clipped(ax, y, limits) -> None:
    n = int((np.asarray(y, dtype=float) < limits[0]).sum())
    if n:
        ax.text(
            0.99,
            0.02,
            f"\u25bc {n} below {limits[0]:.3g}",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color="#555555",
        )


def fitness_by_generation(board: pd.DataFrame, scoring: str) -> str | None:
    ok = board[board["status"] == "ok"]
    if ok.empty:
        return None
    by_gen = ok.groupby("generation")["score"]
    gens = np.array(sorted(by_gen.groups))
    best = by_gen.max().reindex(gens).to_numpy()
    median = by_gen.median().reindex(gens).to_numpy()
    best_so_far = np.maximum.accumulate(best)
    fig = _figure()
    ax = fig.add_subplot()
    limits = _score_limits(ok["score"].to_numpy(dtype=float))
    span = limits[1] - limits[0]
    limits = (
        min(limits[0], float(np.nanmin(median)) - 0.06 * span),
        limits[1],
    )  # the median lines stay in view
    ax.scatter(ok["generation"], ok["score"], s=10, color="#b0b0b0", label="evaluation", zorder=1)
    ax.plot(
        gens, median, marker="o", ms=4, color="#DD8452", label="median of generation", zorder=2
    )
    ax.plot(
        gens,
        best,
        marker="o",
        ms=4,
        color="#4C72B0",
        alpha=0.6,
        label="best of generation",
        zorder=3,
    )
    ax.step(
        gens,
        best_so_far,
        where="post",
        color="#222222",
        linewidth=2,
        label="best so far",
        zorder=4,
    )
    ax.set_ylim(*limits)
    _clip(ax, ok["generation"], ok["score"].to_numpy(dtype=float), limits, s=14, color="#b0b0b0")
    _note_clipped(ax, ok["score"], limits)
    _generation_axis(ax, gens)
    _style(ax, "generation", scoring or "score")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return to_data_uri(fig)


def time_vs_score(board: pd.DataFrame, colors: dict, members: set, scoring: str) -> str | None:
    ok = board[board["status"] == "ok"]
    if ok.empty:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    limits = _score_limits(ok["score"].to_numpy(dtype=float))
    seconds = np.maximum(ok["wall_time"].to_numpy(dtype=float), 1e-2)
    for learner, part in ok.groupby("learner"):
        t = np.maximum(part["wall_time"].to_numpy(dtype=float), 1e-2)
        y = part["score"].to_numpy(dtype=float)
        keep = _clip(ax, t, y, limits, s=22, color=colors[learner], alpha=0.8)
        ax.scatter(
            t[keep],
            y[keep],
            s=22,
            color=colors[learner],
            alpha=0.8,
            label=learner,
            edgecolors="none",
        )
    in_ens = ok[ok["id"].isin(members)]
    if not in_ens.empty:
        ax.scatter(
            np.maximum(in_ens["wall_time"].to_numpy(dtype=float), 1e-2),
            in_ens["score"],
            s=80,
            facecolors="none",
            edgecolors="#222222",
            linewidths=1.2,
            label="in ensemble",
        )
    ax.set_xscale("log")
    ax.set_ylim(*limits)
    _note_clipped(ax, ok["score"], limits)
    ax.xaxis.set_major_formatter("{x:g}")
    if (
        seconds.max() / seconds.min() < 30
    ):  # a short log range has few major ticks: label the minor ones too
        ax.xaxis.set_minor_formatter(FuncFormatter(_minor_label))
    _style(ax, "wall time of the evaluation (s, log scale)", scoring or "score")
    ax.legend(
        loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, markerscale=1.4
    )
    return to_data_uri(fig)


def _minor_label(x, pos) -> str:
    lead = x / 10 ** np.floor(np.log10(x))
    return f"{x:g}" if round(lead) in (2, 5) else ""


def learner_mix(board: pd.DataFrame, colors: dict) -> str | None:
    if board.empty:
        return None
    counts = board.groupby(["generation", "learner"]).size().unstack(fill_value=0)
    counts = counts.reindex(sorted(counts.columns), axis=1)
    gens = counts.index.to_numpy()
    fig = _figure(height=3.2)
    ax = fig.add_subplot()
    bottom = np.zeros(len(gens))
    for learner in counts.columns:
        values = counts[learner].to_numpy()
        ax.bar(gens, values, bottom=bottom, color=colors[learner], label=learner, width=0.8)
        bottom += values
    _generation_axis(ax, gens)
    _style(ax, "generation", "evaluations")
    ax.grid(False, axis="x")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return to_data_uri(fig)


def ensemble_weights(members: list, colors: dict) -> str | None:
    if not members:
        return None
    members = sorted(members, key=lambda m: m["weight"])
    labels = [f"#{m['id']} {m['learner']}" for m in members]
    fig = _figure(width=4.8, height=max(1.6, 0.34 * len(members) + 0.9))
    ax = fig.add_subplot()
    ax.barh(
        labels,
        [m["weight"] for m in members],
        color=[colors.get(m["learner"], "#888") for m in members],
    )
    for i, m in enumerate(members):
        ax.text(m["weight"], i, f" {m['weight']:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, max(m["weight"] for m in members) * 1.15)
    _style(ax, "weight")
    ax.grid(False, axis="y")
    return to_data_uri(fig)


def time_by_learner(board: pd.DataFrame, colors: dict) -> str | None:
    if board.empty:
        return None
    sums = board.groupby("learner")[["fit_time", "predict_time"]].sum().sort_values("fit_time")
    fig = _figure(width=4.8, height=max(1.6, 0.34 * len(sums) + 1.0))
    ax = fig.add_subplot()
    ax.barh(sums.index, sums["fit_time"], color=[colors[k] for k in sums.index])
    ax.barh(sums.index, sums["predict_time"], left=sums["fit_time"], color="#c8c8c8")
    _style(ax, "seconds, summed over folds and candidates")
    ax.grid(False, axis="y")
    ax.legend(
        handles=[
            Patch(color="#666666", label="fit (learner colour)"),
            Patch(color="#c8c8c8", label="predict"),
        ],
        loc="lower right",
        fontsize=8,
        frameon=False,
    )
    return to_data_uri(fig)
