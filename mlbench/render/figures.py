"""How mlbench draws and saves a figure: the style, a figure without pyplot state, annotated
matrix cells (the heatmaps of :mod:`mlbench.render.plots` and their colours), and byte-reproducible
PNG and SVG files. Kept apart from the plots themselves so that every plotting module (a result's
plots, a sweep's curves) draws alike."""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mlbench.files import write_bytes

PNG_DPI = 150


STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


SAVE_STYLE = {
    "svg.hashsalt": "mlbench",  # stable ids (clip paths, ...) instead of random ones
    "svg.fonttype": "none",  # text stays text: searchable, selectable, smaller
    "svg.image_inline": True,
}


MISSING = "#d9d9d9"  # cells of settings the run does not hold


@contextmanager
def plot_style(extra: dict[str, Any] | None = None) -> Iterator[None]:
    with mpl.rc_context({**STYLE, **(extra or {})}):
        yield


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(wspace=0.06)  # a visible gap before the separate (*, exp.) column
    FigureCanvasAgg(fig)  # Agg canvas explicitly: no pyplot, no global backend switch
    return fig


def text_colour(cmap: Colormap, norm: Normalize, value: float) -> str:
    r, g, b, _ = cmap(norm(value))
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "black"


def cell_size(n_cols: int) -> float:
    return max(0.55, min(0.85, 6.5 / max(n_cols, 1)))


def annotate(ax, values: np.ndarray, cmap: Colormap, norm: Normalize, decimals: int, fontsize: float) -> None:
    for (i, j), v in np.ndenumerate(values):
        if math.isnan(v):
            ax.text(j, i, "–", ha="center", va="center", fontsize=fontsize, color="#555555")
        else:
            text = f"{v:.{decimals}f}"
            faint = float(text) == 0.0  # rounds to zero: keep it readable but quiet
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize,
                    color=text_colour(cmap, norm, v), alpha=0.45 if faint else 1.0)


def matrix_axes(ax, values: np.ndarray, cmap: Colormap, norm: Normalize, rows: list[str], cols: list[str],
                 decimals: int, fontsize: float, outline_diagonal: bool):
    masked = np.ma.masked_invalid(values)
    im = ax.imshow(masked, cmap=cmap, norm=norm, aspect="equal", interpolation="nearest")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.tick_params(length=0)
    ax.set_xticks(np.arange(len(cols) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(rows) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.2)
    ax.tick_params(which="minor", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    annotate(ax, values, cmap, norm, decimals, fontsize)
    if outline_diagonal:
        for i, lang in enumerate(rows):
            if lang in cols:
                ax.add_patch(Rectangle((cols.index(lang) - 0.5, i - 0.5), 1, 1, fill=False,
                                       edgecolor="black", linewidth=1.6, zorder=3, clip_on=False))
    return im


def footnote(fig: Figure, text: str) -> None:
    """A small note under the plot, wrapped to the figure's width."""
    width = int(fig.get_figwidth() * 15)
    fig.supxlabel(textwrap.fill(text, width), fontsize=8.5, color="#444444")


def cmap_of(name: str) -> Colormap:
    return mpl.colormaps[name].with_extremes(bad=MISSING)


def to_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure as ``png`` or ``svg`` bytes, reproducible: no date, no software tag, fixed ids."""
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with mpl.rc_context(SAVE_STYLE):
        fig.savefig(buf, format=fmt, dpi=PNG_DPI, metadata=metadata)
    return buf.getvalue()


def save(fig: Figure, stem: Path | str) -> tuple[Path, Path]:
    """Write ``{stem}.png`` and ``{stem}.svg`` atomically; returns the two paths."""
    stem = Path(stem)
    paths = (stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg"))
    for path, fmt in zip(paths, ("png", "svg")):
        write_bytes(path, to_bytes(fig, fmt))
    return paths
