"""The leaderboard as text (for the terminal) and as CSV cells."""

from __future__ import annotations

import json
import shutil

import pandas as pd

__all__ = ["format_board", "leaderboard_csv"]


def format_board(board: pd.DataFrame, width: int | None = None) -> str:
    """A plain-text leaderboard: numbers right-aligned, the pipeline cut to the terminal width."""
    columns = [
        ("rank", "rank", "d"),
        ("id", "id", "d"),
        ("generation", "gen", "d"),
        ("learner", "learner", "s"),
        ("score", "score", ".5g"),
        ("status", "status", "s"),
        ("fit_time", "fit_s", ".2f"),
        ("ensemble_weight", "weight", ".2f"),
    ]
    cells = [[h for _, h, _ in columns]]
    for _, row in board.iterrows():
        cells.append([_cell_text(row[c], f) for c, _, f in columns])
    widths = [max(len(r[j]) for r in cells) for j in range(len(columns))]
    width = width or shutil.get_terminal_size((160, 24)).columns
    room = max(20, width - sum(widths) - 2 * len(widths) - 1)
    lines = []
    for i, r in enumerate(cells):
        parts = [
            t.ljust(w) if f == "s" else t.rjust(w) for t, w, (_, _, f) in zip(r, widths, columns)
        ]
        pipe = "pipeline" if i == 0 else str(board.iloc[i - 1]["pipeline"])
        lines.append(
            "  ".join(parts) + "  " + (pipe if len(pipe) <= room else pipe[: room - 1] + "…")
        )
    return "\n".join(lines)


def _cell_text(value, fmt) -> str:
    if fmt == "s":
        return str(value)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value != value:  # NaN
        return "-"
    if fmt == "d":
        return str(int(value))
    if fmt == ".2f" and value == 0:
        return ""
    return format(value, fmt)


def leaderboard_csv(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for col in ("fold_scores", "parents", "genome"):
        if col in frame:
            frame[col] = [json.dumps(v, sort_keys=True) for v in frame[col]]
    return frame
