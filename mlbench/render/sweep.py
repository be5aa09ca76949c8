"""A checkpoint sweep (:mod:`mlbench.analysis.sweep`) as a table and as plots of each headline
figure against the training step, one line per run (strategy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mlbench.metrics import metric as metric_of
from mlbench.render.formats import num
from mlbench.render.figures import new_figure, plot_style, save
from mlbench.render.tables import Column, TextTable
from mlbench.results.model import HEADLINE

# headline key -> (file name part, axis label template, digits)
FIGURES = {"mono": ("mono", "mono {label}", 4), "cross": ("cross", "cross {label}", 4),
           "multi": ("multi", "multi {label}", 4), "rank_distance": ("rankdist", "rank distance (lower: less bias)", 1),
           "own@10": ("ownlang", "own-language share of the top 10", 3)}
SHORT = {"rank_distance": "rank dist.", "own@10": "own@10"}  # table headers
STYLES = {"x-x": ("#1b6ca8", "o"), "x-y": ("#d1495b", "s"), "hybrid": ("#2e8540", "^")}
OTHER = [("#6d597a", "D"), ("#b07d2b", "v"), ("#444444", "P")]


def _runs(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for p in doc["points"]:
        runs.setdefault(p["run"], []).append(p)
    return {r: sorted(ps, key=lambda p: p["step"]) for r, ps in runs.items()}


def table(doc: dict[str, Any], task: str) -> TextTable:
    """One row per checkpoint; the best one (``--best``) marked with ``*``."""
    label = metric_of(doc["metric"][task]).label
    present = [k for k in HEADLINE if any(p["values"].get(task, {}).get(k) is not None for p in doc["points"])]
    heads = ["run", "step", "sampling"] + [SHORT.get(k) or FIGURES[k][1].format(label=label) for k in present]
    t = TextTable([Column(h, "left" if i < 1 or h == "sampling" else "right") for i, h in enumerate(heads)],
                  title=f"{task} — checkpoint sweep")
    best = doc.get("best", {}).get(task, {})
    for run, points in _runs(doc).items():
        for p in points:
            v = p["values"].get(task, {})
            star = " *" if best.get("label") == p["label"] else ""
            t.add(run, f"{p['step']}{star}", p.get("sampling") or "-",
                  *[num(v.get(k), FIGURES[k][2]) for k in present], style="bold" if star else None)
    if best:
        t.caption = f"* best by {best['by']}: {best['label']} ({num(best['value'], 4)})"
    return t


def figure(doc: dict[str, Any], task: str, key: str) -> Figure | None:
    """``key`` (a headline figure) against the step, one line per run; None if no point has it."""
    runs = _runs(doc)
    if not any(p["values"].get(task, {}).get(key) is not None for ps in runs.values() for p in ps):
        return None
    label = metric_of(doc["metric"][task]).label
    with plot_style():
        fig = new_figure(6.4, 3.8)
        ax = fig.add_subplot(1, 1, 1)
        other = iter(OTHER)
        for run, points in runs.items():
            pts = [(p["step"], p["values"][task][key]) for p in points if p["values"].get(task, {}).get(key) is not None]
            sampling = points[0].get("sampling") or run
            colour, marker = STYLES.get(sampling) or next(other, ("#888888", "x"))
            ax.plot([s for s, _ in pts], [v for _, v in pts], marker=marker, color=colour, label=run, linewidth=1.6)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("training step")
        ax.set_ylabel(FIGURES[key][1].format(label=label))
        ax.set_title(f"{task}: {FIGURES[key][1].format(label=label)}")
        ax.grid(True, color="#e0e0e0", linewidth=0.6)
        ax.legend(frameon=False, fontsize=9)
    return fig


def write_figures(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    """``{out_dir}/{task}.{figure}.png`` and ``.svg`` for every task and headline figure present."""
    written: list[Path] = []
    for task in doc["metric"]:
        for key in HEADLINE:
            fig = figure(doc, task, key)
            if fig is not None:
                written.extend(save(fig, Path(out_dir) / f"{task}.{FIGURES[key][0]}"))
    return written
