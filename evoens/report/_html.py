"""The report as one self-contained HTML page (inline CSS, images as data URIs, no scripts)."""

from __future__ import annotations

import datetime as _dt
import html
import math

from . import _plots as plots
from ._run_data import RunData

__all__ = ["render"]

_TOP_ROWS = 25

_CSS = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, \
sans-serif; color: #222;
       margin: 0; background: #f6f7f9; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; \
min-height: 100vh; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #e3e3e3; }
.sub { color: #666; margin: 0 0 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 10px; }
.card { border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px 12px; background: #fafbfc; }
.card .k { color: #666; font-size: 12px; }
.card .v { font-size: 18px; font-weight: 600; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.pipe { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; \
overflow-wrap: anywhere; }
tr.member td { background: #eef5ff; }
.status-ok { color: #2e7d32; } .status-error, .status-killed { color: #c62828; }
.status-timeout, .status-pruned { color: #a15c00; }
img { max-width: 100%; height: auto; display: block; margin: 6px 0; }
details summary { cursor: pointer; color: #4C72B0; margin: 8px 0; }
.note { color: #666; font-size: 13px; }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 18px; \
align-items: start; }
@media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } }
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _fmt(value, digits=5) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}g}"
    return str(value)


def _seconds(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.1f} s" if value < 600 else f"{value / 60:.1f} min"


def _table(headers, rows, numeric=(), row_classes=None) -> str:
    head = "".join(
        f'<th class="num">{_e(h)}</th>' if h in numeric else f"<th>{_e(h)}</th>" for h in headers
    )
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = "".join(_cell(h, v, numeric) for h, v in zip(headers, row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell(header, value, numeric) -> str:
    if header in numeric:
        return f'<td class="num">{_e(value)}</td>'
    if header == "pipeline":
        return f'<td class="pipe">{_e(value)}</td>'
    if header == "status":
        return f'<td class="status-{_e(value)}">{_e(value)}</td>'
    return f"<td>{_e(value)}</td>"


def _image(uri, alt) -> str:
    return (
        f'<img src="{uri}" alt="{_e(alt)}">'
        if uri
        else f'<p class="note">No data for {_e(alt)}.</p>'
    )


def _cards(data: RunData) -> str:
    board, ok, failed = data.leaderboard, data.ok, data.failed
    best = ok.iloc[0] if not ok.empty else None
    items = [
        ("best single pipeline", f"{_fmt(best['score'])}" if best is not None else "–"),
        ("best learner", best["learner"] if best is not None else "–"),
    ]
    if data.ensemble:
        items.append(
            ("ensemble", f"{data.ensemble['kind']}, {len(data.ensemble['members'])} members")
        )
        items.append(("ensemble held-out score", _fmt(data.ensemble.get("oof_score"))))
    items += [
        ("evaluations", f"{len(board)} ({len(failed)} failed)"),
        ("generations", str(int(board["generation"].max()) + 1) if not board.empty else "0"),
    ]
    if data.timing.get("fit_time") is not None:
        items.append(("fit time", _seconds(data.timing["fit_time"])))
    if data.timing.get("stop_reason"):
        items.append(("stopped on", data.timing["stop_reason"]))
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>'
            for k, v in items
        )
        + "</div>"
    )


def _leaderboard(data: RunData, members: set) -> str:
    headers = [
        "rank",
        "id",
        "gen",
        "learner",
        "score",
        "status",
        "device",
        "fit s",
        "predict s / 1k rows",
        "wall s",
        "weight",
        "operator",
        "pipeline",
    ]
    numeric = {"rank", "id", "gen", "score", "fit s", "predict s / 1k rows", "wall s", "weight"}

    def rows(frame):
        return [
            [
                r["rank"],
                r["id"],
                r["generation"],
                r["learner"],
                _fmt(_float(r["score"])),
                r["status"],
                r["device"] if isinstance(r.get("device"), str) else "",
                f"{_float(r['fit_time']):.2f}",
                _per_1k(r.get("predict_s_per_1k")),
                f"{_float(r['wall_time']):.2f}",
                f"{_float(r.get('ensemble_weight', 0.0)):.2f}"
                if _float(r.get("ensemble_weight", 0.0))
                else "",
                r.get("operator", ""),
                r["pipeline"],
            ]
            for _, r in frame.iterrows()
        ]

    def classes(frame):
        return ["member" if i in members else "" for i in frame["id"]]

    board = data.leaderboard
    top = board.head(_TOP_ROWS)
    out = _table(headers, rows(top), numeric, classes(top))
    if len(board) > _TOP_ROWS:
        rest = board.iloc[_TOP_ROWS:]
        out += (
            f"<details><summary>All {len(board)} evaluations</summary>"
            f"{_table(headers, rows(rest), numeric, classes(rest))}</details>"
        )
    return (
        out + '<p class="note">Highlighted rows are ensemble members. Scores are cross-validated '
        "(out-of-fold); larger is better.</p>"
    )


def _ensemble(data: RunData, colors) -> str:
    if not data.ensemble:
        return (
            '<p class="note">No model yet: the run is going on, or stopped before building '
            "its ensemble (<code>evoens resume</code> continues it).</p>"
        )
    ens = data.ensemble
    members = sorted(ens["members"], key=lambda m: -m["weight"])
    table = _table(
        ["id", "learner", "weight", "score", "predict s / 1k rows", "pipeline"],
        [
            [
                m["id"],
                m["learner"],
                f"{m['weight']:.3f}",
                _fmt(m["score"]),
                _per_1k(m.get("predict_s_per_1k")),
                m["pipeline"],
            ]
            for m in members
        ],
        {"id", "weight", "score", "predict s / 1k rows"},
    )
    held = ens.get("held_out") or {}
    choice = ""
    if held:
        parts = ", ".join(f"{_e(k)} {_fmt(v)}" for k, v in held.items())
        choice = (
            f'<p class="note">Chosen: <b>{_e(ens.get("option") or ens["kind"])}</b>. '
            f"Held-out (out-of-fold) score of each option: {parts}.</p>"
        )
    if ens["kind"] == "stacked":
        choice += (
            '<p class="note">A stacker combines these members; '
            "the weights shown are uniform placeholders.</p>"
        )
    return (
        f'{choice}<div class="grid2"><div>{table}</div><div>'
        f"{_image(plots.ensemble_weights(ens['members'], colors), 'ensemble weights')}</div></div>"
    )


def _failures(data: RunData) -> str:
    failed = data.failed
    if failed.empty:
        return '<p class="note">No evaluation failed.</p>'
    groups = {}
    for _, r in failed.iterrows():
        reason = (str(r.get("error") or "").strip().splitlines() or ["(no message)"])[0][:200]
        key = (r["status"], r["learner"], reason)
        groups.setdefault(key, []).append(int(r["id"]))
    rows = [
        [
            status,
            learner,
            len(ids),
            ", ".join(f"#{i}" for i in sorted(ids)[:12]) + (" …" if len(ids) > 12 else ""),
            reason,
        ]
        for (status, learner, reason), ids in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    ]
    return (
        f'<p class="note">{len(failed)} of {len(data.leaderboard)} evaluations '
        "did not finish with a score; each cost only itself.</p>"
        + _table(["status", "learner", "count", "ids", "reason"], rows, {"count"})
    )


def _timing(data: RunData, colors) -> str:
    board, t = data.leaderboard, data.timing
    rows = []
    if t.get("search_time") is not None:
        rows.append(["search (wall clock, last session)", _seconds(t["search_time"])])
    if t.get("fit_time") is not None and t.get("search_time") is not None:
        rows.append(["ensemble building and refit", _seconds(t["fit_time"] - t["search_time"])])
        rows.append(["fit, total", _seconds(t["fit_time"])])
    if data.ensemble and data.ensemble.get("predict_s_per_1k") is not None:
        rows.append(
            [
                "predicting 1,000 rows with the final model (measured in the evaluations)",
                _per_1k(data.ensemble["predict_s_per_1k"]),
            ]
        )
    if not board.empty:
        rows.append(
            [
                "model fitting in evaluations (sum over folds)",
                _seconds(float(board["fit_time"].sum())),
            ]
        )
        rows.append(
            [
                "predicting in evaluations (sum over folds)",
                _seconds(float(board["predict_time"].sum())),
            ]
        )
        rows.append(["evaluation wall time (sum)", _seconds(float(board["wall_time"].sum()))])
    table = _table(["phase", "time"], rows, {"time"})
    return (
        f'<div class="grid2"><div>{table}</div><div>'
        f"{_image(plots.time_by_learner(board, colors), 'time per learner')}</div></div>"
    )


def _settings(data: RunData) -> str:
    if not data.info:
        return ""
    rows = [[k, "none" if v is None else v] for k, v in data.info.items()]
    return "<h2>Run settings</h2>" + _table(["setting", "value"], rows)


def _per_1k(x) -> str:
    x = _float(x)
    return "" if not math.isfinite(x) else (f"{x:.3f}" if x >= 0.01 else f"{x:.2g}")


def _float(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def render(data: RunData) -> str:
    """The whole report page for ``data``."""
    board = data.leaderboard
    colors = plots.learner_colors(board["learner"]) if not board.empty else {}
    members = {m["id"] for m in (data.ensemble or {}).get("members", [])}
    scoring = str(data.info.get("scoring") or "")
    status = "" if data.complete else " — in progress or interrupted (from the journal)"
    made = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    sections = [
        f"<h1>evoens run: {_e(data.title)}</h1>",
        f'<p class="sub">Report made {made}{_e(status)}. Scoring: {_e(scoring or "default")}.</p>',
        _cards(data),
        "<h2>Leaderboard</h2>",
        _leaderboard(data, members),
        "<h2>Fitness over generations</h2>",
        _image(plots.fitness_by_generation(board, scoring), "fitness over generations"),
        "<h2>Every evaluation: time and score</h2>",
        _image(plots.time_vs_score(board, colors, members, scoring), "time and score"),
        "<h2>Learner mix over generations</h2>",
        _image(plots.learner_mix(board, colors), "learner mix"),
        "<h2>Ensemble</h2>",
        _ensemble(data, colors),
        "<h2>Failures</h2>",
        _failures(data),
        "<h2>Time per phase</h2>",
        _timing(data, colors),
        _settings(data),
    ]
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>evoens report: {_e(data.title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(sections)}</main></body></html>\n"
    )
