"""A :class:`~mlbench.analysis.compare.ComparisonReport` for people: tables for a terminal or a log,
markdown, JSON, and the cells the HTML report reuses."""

from __future__ import annotations

import json

from rich.console import Console

from mlbench.analysis.compare import DOWN, UP, ComparisonReport, Row
from mlbench.metrics import RANK_DISTANCE
from mlbench.metrics import metric as metric_of
from mlbench.render.formats import digits, num, pvalue, signed
from mlbench.render.tables import Column, TextTable, markdown, plain, show
from mlbench.task import KINDS

FORMATS = ("table", "markdown", "json", "latex")
LEGEND = "▲ B significantly better than A, ▼ significantly worse (adjusted p <= alpha); d: Cohen's d_z of B - A"
NUM_COLS = ("n", "A", "B", "Δ B−A", "CI", "p", "p adj.", "d", "")


def effect(d: float) -> str:
    return signed(d, 2)


def ci(r: Row) -> str:
    if num(r.ci_low) == num(None):
        return num(None)
    return f"[{signed(r.ci_low, digits(r.metric))}, {signed(r.ci_high, digits(r.metric))}]"


def cells(r: Row) -> list[str]:
    k = digits(r.metric)
    return [str(r.n), num(r.mean_a, k), num(r.mean_b, k), signed(r.delta, k), ci(r), pvalue(r.p),
            pvalue(r.p_adjusted), effect(r.effect_size), r.marker]


def aggregate_label(r: Row) -> str:
    note = {"lower": " (lower is better)",
            "expected": f" (expected {r.expected:.4f})" if r.expected is not None else ""}.get(r.better, "")
    return r.metric + note


def title(rep: ComparisonReport) -> str:
    return f"{rep.task}: {rep.metric}, A = {rep.model_a} vs B = {rep.model_b}"


def _n(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def summary_line(rep: ComparisonReport) -> str:
    t = rep.summary["all"]
    kinds = ", ".join(f"{k} {rep.summary[k]}" for k in KINDS if k in rep.summary)
    return (f"B vs A over {_n(len(rep.settings), 'setting')}: {_n(t.wins, 'win')}, {_n(t.ties, 'tie')}, "
            f"{_n(t.losses, 'loss', 'losses')} (win/tie/loss per kind: {kinds})")


def tables(rep: ComparisonReport) -> tuple[TextTable, TextTable]:
    """The aggregate rows and the setting rows."""
    cols = [Column(c, "right" if c else "center") for c in NUM_COLS]
    agg = TextTable([Column("aggregate"), Column("metric")] + cols,
                    title="aggregates (unit: question within a query language)")
    for r in rep.aggregates:
        agg.add(r.id, aggregate_label(r), *cells(r))
    settings = TextTable([Column("setting"), Column("kind")] + cols, title=f"settings ({rep.metric}; unit: query)")
    for r in rep.settings:
        settings.add(r.id, r.kind, *cells(r))
    return agg, settings


def _head(rep: ComparisonReport) -> list[str]:
    return [title(rep), f"A: {rep.a}", f"B: {rep.b}", *rep.procedure_lines(), *rep.notes]


def show_report(rep: ComparisonReport, console: Console) -> None:
    for i, line in enumerate(_head(rep)):
        console.print(line, style="bold" if i == 0 else None, markup=False, highlight=False, soft_wrap=True)
    for t in tables(rep):
        show(t, console)
    console.print(summary_line(rep), markup=False, highlight=False, soft_wrap=True)
    console.print(LEGEND, markup=False, highlight=False, soft_wrap=True)


def to_markdown(rep: ComparisonReport) -> str:
    agg, settings = tables(rep)
    for t in (agg, settings):
        t.rows = [[f"`{r[0]}`", *r[1:]] for r in t.rows]
        t.title = None
    proc = rep.procedure()
    lines = [f"### {title(rep)}", "", f"A: `{rep.a}`  ", f"B: `{rep.b}`", "", proc[0].upper() + proc[1:] + ".", ""]
    lines += [f"Note: {n}" for n in rep.notes] + ([""] if rep.notes else [])
    lines += [f"**{summary_line(rep)}**", "", markdown(agg), markdown(settings), LEGEND + "."]
    return "\n".join(lines) + "\n"


def to_text(rep: ComparisonReport) -> str:
    agg, settings = tables(rep)
    return "\n".join(_head(rep)) + "\n" + plain(agg) + plain(settings) + summary_line(rep) + "\n" + LEGEND + "\n"


def to_latex(rep: ComparisonReport) -> str:
    """A and B in the layout of Table 1 of arXiv 2408.10536 (mono, cross, multi, rank distance),
    B's cells marked where its aggregate test is significant after the correction."""
    from mlbench.render.latex import Legend, table1

    cols = [("mono", rep.metric), ("cross", rep.metric), ("multi", rep.metric), ("multi", RANK_DISTANCE)]
    rows = {(r.kind, r.metric): r for r in rep.aggregates if r.id.startswith("mean(")}
    mark = {UP: "†", DOWN: "‡"}
    a = [rows[c].mean_a if c in rows else None for c in cols]
    b = [rows[c].mean_b if c in rows else None for c in cols]
    marks = [mark.get(rows[c].marker, "") if c in rows else "" for c in cols]
    legend = Legend({"†": f"{rep.model_b} significantly better than {rep.model_a}",
                     "‡": f"{rep.model_b} significantly worse than {rep.model_a}"}, rep.test, rep.correction,
                    rep.alpha, family=f"the {rep.families.get('aggregates', len(rep.aggregates))} aggregate tests")
    return table1([(rep.model_a, *a), (rep.model_b, *b)],
                  f"{rep.task}: {rep.model_b} against {rep.model_a}, {metric_of(rep.metric).label} per setting kind "
                  "and the rank distance", f"tab:compare-{rep.task}", metric_of(rep.metric).label,
                  marks=[["", "", "", ""], marks], legend=legend, digits=4)


def render(rep: ComparisonReport, fmt: str) -> str:
    """The report as text in ``fmt`` (table | markdown | json | latex); tables as plain fixed-width text."""
    if fmt == "latex":
        return to_latex(rep)
    if fmt == "json":
        return json.dumps(rep.to_dict(), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt == "markdown":
        return to_markdown(rep)
    return to_text(rep)


def many_table(rep) -> TextTable:
    """Several results (:class:`mlbench.analysis.compare_many.ManyReport`): one row per model (a, b,
    c, ...), each aggregate's value followed by the letters of the models it is significantly better
    than, as ranx's report does."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    t = TextTable([Column(""), Column("model")] + [Column(a, "right") for a in rep.aggregates],
                  title=f"{rep.task}: {len(rep.models)} results", caption=f"Significance: {rep.procedure()}")
    for i, model in enumerate(rep.models):
        cells = []
        for a in rep.aggregates:
            beats = "".join(letters[j] for j in rep.beaten(i, a))
            cells.append(num(rep.means[i].get(a), digits(a.split(") ", 1)[1])) + (f" >{beats}" if beats else ""))
        t.add(letters[i], model, *cells)
    return t


def many_latex(rep) -> str:
    """Several results in the layout of Table 1; a cell is marked where its model is significantly
    better than every other model on that aggregate."""
    from mlbench.render.latex import Legend, table1

    wanted = [f"mean(mono) {rep.metric}", f"mean(cross) {rep.metric}", f"mean(multi) {rep.metric}",
              f"mean(multi) {RANK_DISTANCE}"]
    rows, marks = [], []
    for i, model in enumerate(rep.models):
        rows.append((model, *(rep.means[i].get(a) if a in rep.aggregates else None for a in wanted)))
        marks.append(["†" if a in rep.aggregates and len(rep.beaten(i, a)) == len(rep.models) - 1 else ""
                      for a in wanted])
    legend = Legend({"†": "significantly better than every other model"}, rep.test, rep.correction, rep.alpha,
                    family=f"all {len(rep.tests)} pairwise tests")
    return table1(rows, f"{rep.task}: {len(rep.models)} models, {metric_of(rep.metric).label} per setting kind and the "
                  "rank distance", f"tab:compare-{rep.task}", metric_of(rep.metric).label, marks=marks, legend=legend,
                  digits=4)


def render_many(rep, fmt: str) -> str:
    if fmt == "latex":
        return many_latex(rep)
    if fmt == "json":
        return json.dumps(rep.to_dict(), indent=1, ensure_ascii=False) + "\n"
    t = many_table(rep)
    legend = ">bc: significantly better than models b and c (adjusted p <= alpha), in the metric's direction"
    files = [f"{'abcdefghijklmnopqrstuvwxyz'[i]}: {p}" for i, p in enumerate(rep.paths)]
    body = markdown(t, title_level=3) if fmt == "markdown" else plain(t)
    return "\n".join(files + rep.notes) + "\n" + body + legend + "\n"
