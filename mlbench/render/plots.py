"""Plots of one result file (matplotlib, Agg backend, no pyplot state).

Every function takes a :class:`~mlbench.results.model.Result` and returns a
:class:`matplotlib.figure.Figure`; a plot the run has no data for raises :class:`PlotUnavailable`
with the reason (e.g. a mono-only run has no multilingual pool, so no rank distance):

- :func:`heatmap`: query language x pool language of one metric (the diagonal is the mono
  setting ``de>de``, the rest of the square the cross settings ``de>en``), with the multilingual pool
  ``de>*`` in a separate column;
- :func:`rank_distance`: mean rank distance per query language in the multilingual pool, with the
  macro mean as a line (lower = less language bias);
- :func:`own_language`: the language mix of the top-c of the multilingual pool per query language
  (``aggregates.language_bias.top{c}.matrix``), with the own-language share expected from relevance
  alone beside it;
- :func:`rank_correlation`: the mean rank correlation of parallel questions per language pair
  (``aggregates.rank_correlation[mrc].matrix``), with RC per query language beside it.

:func:`write_plots` writes them as PNG and SVG (:func:`mlbench.render.figures.save`: atomically and
byte-reproducibly). How to read the plots: docs/report.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from mlbench.metrics import metric as metric_of
from mlbench.render.figures import cell_size, cmap_of, footnote, matrix_axes, new_figure, plot_style, save
from mlbench.results.model import Result

PLOT_NAMES = ("heatmap", "rankdist", "ownlang", "rankcorr")


class PlotUnavailable(Exception):
    """The result has no data for this plot; ``str(exc)`` says why."""


@dataclass
class Plot:
    """One plot of a result: the figure, or the reason it was left out."""

    name: str  # heatmap | rankdist | ownlang | rankcorr
    figure: Figure | None
    reason: str | None = None


def _title(result: Result, what: str) -> str:
    return f"{result.task.name} — {result.model.name}: {what}"


def _langs(result: Result, present: set[str]) -> list[str]:
    """The run's languages in the task's order, restricted to ``present`` (extras sorted last)."""
    order = [x for x in [*result.task.languages, *result.task.query_languages] if x in present]
    order = list(dict.fromkeys(order))
    return order + sorted(present - set(order))


def heatmap_values(result: Result, metric: str | None = None) -> tuple[list[str], list[str], np.ndarray, np.ndarray | None]:
    """(query langs, pool langs, query x pool matrix, multilingual column or None) of ``metric``;
    NaN where the run has no such setting (or the setting has no value). ``metric`` defaults to
    the result's main metric."""
    metric = metric or result.main_metric
    settings = [s for s in result.settings if s.metrics.get(metric) is not None]
    queries = _langs(result, {s.query_lang for s in settings})
    pools = _langs(result, {s.pool for s in settings if s.pool != "*"})
    grid = np.full((len(queries), len(pools)), np.nan)
    multi = np.full(len(queries), np.nan)
    has_multi = False
    for s in settings:
        i = queries.index(s.query_lang)
        if s.pool == "*":
            multi[i] = s.metrics[metric]
            has_multi = True
        else:
            grid[i, pools.index(s.pool)] = s.metrics[metric]
    return queries, pools, grid, multi[:, None] if has_multi else None


def heatmap(result: Result, metric: str | None = None, decimals: int = 3) -> Figure:
    """Query language (rows) x pool language (columns) of ``metric``; the multilingual pool ``*``
    is a separate column. Colours span 0-1 so that figures of two models compare directly."""
    metric = metric or result.main_metric
    queries, pools, grid, multi = heatmap_values(result, metric)
    if not queries:
        raise PlotUnavailable(f"no setting of the run has a value for {metric!r}")
    label = metric_of(metric).label
    n_cols = len(pools) + (1 if multi is not None else 0)
    cell = cell_size(n_cols)
    fontsize = 9 if cell < 0.7 else 10.5
    kinds = {s.kind for s in result.settings if s.metrics.get(metric) is not None}
    with plot_style():
        fig = new_figure(max(6.4, cell * n_cols + 3.0), max(3.6, cell * len(queries) + 2.0))
        cmap, norm = cmap_of("viridis"), Normalize(0.0, 1.0)
        ratios = ([len(pools)] if pools else []) + ([1] if multi is not None else [])
        gs = fig.add_gridspec(1, len(ratios), width_ratios=ratios)
        im, axes = None, []
        if pools:
            ax = fig.add_subplot(gs[0, 0])
            axes.append(ax)
            im = matrix_axes(ax, grid, cmap, norm, queries, pools, decimals, fontsize, outline_diagonal=True)
            ax.set_xlabel("pool language")
            ax.set_ylabel("query language")
        if multi is not None:
            star = fig.add_subplot(gs[0, len(ratios) - 1])
            axes.append(star)
            im = matrix_axes(star, multi, cmap, norm, queries, ["*"], decimals, fontsize, outline_diagonal=False)
            if pools:
                star.set_yticks(range(len(queries)), [""] * len(queries))
                star.set_xlabel("all\n(multi)")
            else:
                star.set_ylabel("query language")
                star.set_xlabel("pool language:\nall (multi)")
        cbar = fig.colorbar(im, ax=axes, aspect=25, pad=0.03)
        cbar.set_label(f"{label} (0–1)")
        fig.suptitle(_title(result, f"{label} per query × pool language"), fontsize=11.5)
        notes = []
        if "mono" in kinds:
            notes.append("outlined diagonal: monolingual (de>de)")
        if "cross" in kinds:
            notes.append("off-diagonal: cross-lingual (de>en)")
        if multi is not None:
            notes.append("*: multilingual pool of all languages (de>*)")
        if np.isnan(grid).any() or np.isnan(multi if multi is not None else np.zeros(1)).any():
            notes.append("grey: setting not in this run or without queries")
        footnote(fig, "; ".join(notes))
    return fig


def rank_distance(result: Result, top: float | None = None) -> Figure:
    """Mean rank distance per query language in the multilingual pool, macro mean as a line;
    ``top`` fixes the height of the y axis (two results drawn side by side share one scale)."""
    rd = result.aggregates.rank_distance or {}
    per_lang = {k: v for k, v in (rd.get("query_langs") or {}).items() if v is not None}
    if not per_lang or rd.get("macro") is None:
        raise PlotUnavailable("the run has no multilingual settings (rank distance is measured in the "
                              "multilingual pool de>*)")
    langs = _langs(result, set(per_lang))
    values = [per_lang[x] for x in langs]
    macro = float(rd["macro"])
    with plot_style():
        fig = new_figure(max(6.4, 0.6 * len(langs) + 2.5), 4.6)
        ax = fig.add_subplot()
        bars = ax.bar(langs, values, color="#3b75af", width=0.7, label="mean per query language")
        top = top or max(max(values), macro) * 1.15 or 1.0
        ax.set_ylim(0, top)
        # value labels in the middle of tall bars (clear of the macro line near the bar tops), above short ones
        fontsize = 8.5 if len(langs) > 8 else 9.5
        for bar, v in zip(bars, values):
            inside = v > 0.2 * top
            x = bar.get_x() + bar.get_width() / 2
            if inside:
                ax.text(x, v / 2, _short(v), ha="center", va="center", fontsize=fontsize, color="white", zorder=4)
            else:
                ax.annotate(_short(v), (x, v), xytext=(0, 3), textcoords="offset points", ha="center",
                            va="bottom", fontsize=fontsize, zorder=4)
        ax.axhline(macro, color="#c0392b", linestyle="--", linewidth=1.5, label=f"macro mean {_short(macro)}",
                   zorder=3)
        ax.set_xlabel("query language")
        ax.set_ylabel("rank distance (ranks; r_last − r_first)")
        ax.spines[["top", "right"]].set_visible(False)
        fig.legend(loc="outside lower center", ncols=2, frameon=False, fontsize=9)
        ax.set_title("distance between the best- and worst-ranked relevant answer in the multilingual pool\n"
                     "lower = less language bias (0: all parallel answers ranked together)",
                     fontsize=9.5, color="#333333")
        fig.suptitle(_title(result, "rank distance per query language"), fontsize=11.5)
    return fig


def _short(v: float) -> str:
    return f"{v:.1f}" if abs(v) < 1000 else f"{v:,.0f}"


def own_language_values(result: Result, cutoff: int = 10) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(query langs, retrieved langs, share matrix, expected own share per query lang) at top-``cutoff``."""
    matrix = result.aggregates.matrix(cutoff)
    if not matrix:
        raise PlotUnavailable(f"the run has no language-bias data at top-{cutoff} (measured in the "
                              "multilingual pool de>*, so the run needs multilingual settings)")
    rows = _langs(result, set(matrix))
    cols = _langs(result, {p for shares in matrix.values() for p in shares})
    values = np.array([[np.nan if matrix[q].get(p) is None else matrix[q][p] for p in cols] for q in rows])
    exp = result.aggregates.own_share(cutoff)[1].get("query_langs") or {}
    expected = np.array([np.nan if exp.get(q) is None else exp[q] for q in rows])
    return rows, cols, values, expected


def own_language(result: Result, cutoff: int = 10, decimals: int = 2) -> Figure:
    """Share of each language in the top-``cutoff`` of the multilingual pool, per query language,
    with the own-language share expected from relevance alone in a separate column."""
    rows, cols, values, expected = own_language_values(result, cutoff)
    cell = cell_size(len(cols) + 1)
    fontsize = 9 if cell < 0.7 else 10.5
    with plot_style():
        fig = new_figure(max(6.4, cell * (len(cols) + 1) + 3.0), max(3.6, cell * len(rows) + 2.0))
        cmap, norm = cmap_of("magma_r"), Normalize(0.0, 1.0)
        gs = fig.add_gridspec(1, 2, width_ratios=[len(cols), 1])
        ax = fig.add_subplot(gs[0, 0])
        im = matrix_axes(ax, values, cmap, norm, rows, cols, decimals, fontsize, outline_diagonal=True)
        ax.set_xlabel(f"language of the retrieved text (top-{cutoff})")
        ax.set_ylabel("query language")
        exp_ax = fig.add_subplot(gs[0, 1])
        matrix_axes(exp_ax, expected[:, None], cmap, norm, rows, ["exp."], decimals, fontsize, outline_diagonal=False)
        exp_ax.set_yticks(range(len(rows)), [""] * len(rows))
        exp_ax.set_xlabel("expected\nown share")
        cbar = fig.colorbar(im, ax=[ax, exp_ax], aspect=25, pad=0.03)
        cbar.set_label(f"share of the top-{cutoff}")
        fig.suptitle(_title(result, f"language of the top-{cutoff} in the multilingual pool"), fontsize=11.5)
        footnote(fig, "rows sum to 1; outlined diagonal: own-language share; exp.: the own share if the model "
                  "ranked by relevance alone, blind to language")
    return fig


def rank_correlation_values(result: Result) -> tuple[str, list[str], np.ndarray, np.ndarray]:
    """(measure, languages, language x language mean rho, RC per query language) of the run's mean
    rank correlation (``mrc``, else its ``mrc@k`` of the smallest k)."""
    rc = result.aggregates.rank_correlation or {}
    if not rc:
        raise PlotUnavailable("the run has no mean rank correlation (ask for it: --metrics with mrc, or mrc@100 "
                              "at corpus scale; it is measured in the multilingual pool)")
    name = "mrc" if "mrc" in rc else min(rc, key=lambda m: metric_of(m).cutoff or 0)
    matrix = rc[name]["matrix"]
    langs = _langs(result, set(matrix))
    values = np.array([[np.nan if a == b or matrix[a].get(b) is None else matrix[a][b] for b in langs] for a in langs])
    per_lang = np.array([np.nan if rc[name]["query_langs"].get(a) is None else rc[name]["query_langs"][a]
                         for a in langs])
    return name, langs, values, per_lang


def rank_correlation(result: Result, decimals: int = 2) -> Figure:
    """Beside the own-language matrix: how alike the multilingual pool is ranked for a question and
    its parallel question in each other language (Spearman's rho, mean over shared questions)."""
    name, langs, values, per_lang = rank_correlation_values(result)
    cell = cell_size(len(langs) + 1)
    fontsize = 9 if cell < 0.7 else 10.5
    with plot_style():
        fig = new_figure(max(6.4, cell * (len(langs) + 1) + 3.0), max(3.6, cell * len(langs) + 2.0))
        cmap, norm = cmap_of("RdBu"), Normalize(-1.0, 1.0)
        gs = fig.add_gridspec(1, 2, width_ratios=[len(langs), 1])
        ax = fig.add_subplot(gs[0, 0])
        im = matrix_axes(ax, values, cmap, norm, langs, langs, decimals, fontsize, outline_diagonal=False)
        ax.set_xlabel("language of the parallel question")
        ax.set_ylabel("query language")
        mean_ax = fig.add_subplot(gs[0, 1])
        matrix_axes(mean_ax, per_lang[:, None], cmap, norm, langs, [name], decimals, fontsize, outline_diagonal=False)
        mean_ax.set_yticks(range(len(langs)), [""] * len(langs))
        mean_ax.set_xlabel("RC per\nquery lang.")
        cbar = fig.colorbar(im, ax=[ax, mean_ax], aspect=25, pad=0.03)
        cbar.set_label("Spearman's rho of the two rankings")
        fig.suptitle(_title(result, f"rank correlation of parallel questions ({name})"), fontsize=11.5)
        footnote(fig, "cell (a, b): mean over the questions both languages hold of Spearman's rho between the "
                 "rankings of the multilingual pool for the question in a and in b; 1 = ranked alike whatever "
                 "the query's language")
    return fig


BUILDERS: dict[str, Callable[[Result, str | None, float | None], Figure]] = {
    "heatmap": lambda result, metric, top: heatmap(result, metric),
    "rankdist": lambda result, metric, top: rank_distance(result, top),
    "ownlang": lambda result, metric, top: own_language(result),
    "rankcorr": lambda result, metric, top: rank_correlation(result),
}


def rank_distance_top(results: list[Result]) -> float | None:
    """The y-axis height that holds the rank-distance bars of every result in ``results``."""
    tops = [max([v for v in (rd.get("query_langs") or {}).values() if v is not None] + [rd.get("macro") or 0.0])
            for rd in ((r.aggregates.rank_distance or {}) for r in results) if rd]
    return max(tops) * 1.15 if tops and max(tops) > 0 else None


def all_plots(result: Result, metric: str | None = None, rank_top: float | None = None) -> list[Plot]:
    """The plots of a result, in :data:`PLOT_NAMES` order; unavailable ones carry the reason."""
    out = []
    for name in PLOT_NAMES:
        try:
            out.append(Plot(name, BUILDERS[name](result, metric, rank_top)))
        except PlotUnavailable as exc:
            out.append(Plot(name, None, str(exc)))
    return out


def write_plots(result: Result, out_dir: Path, metric: str | None = None,
                stem: str = "") -> list[tuple[Plot, tuple[Path, Path] | None]]:
    """Write every available plot as ``{out_dir}/{stem}.{name}.png`` and ``.svg`` (``stem``: the
    result file's name without ``.json``, so that plots of several results share a folder)."""
    written = []
    for plot in all_plots(result, metric):
        name = f"{stem}.{plot.name}" if stem else plot.name
        written.append((plot, save(plot.figure, Path(out_dir) / name) if plot.figure is not None else None))
    return written


__all__ = ["PLOT_NAMES", "Plot", "PlotUnavailable", "all_plots", "heatmap", "heatmap_values",
           "own_language", "own_language_values", "rank_correlation", "rank_correlation_values", "rank_distance",
           "write_plots"]
