"""A static HTML report of a result file: one self-contained page, no server, no network.

``build_report(result, against=None, metric=None)`` returns the page: the provenance (task, data
checksums, model and encoder, command, versions), the summary table (per kind macro, per query
language, rank distance, own-language share), the plots of :mod:`mlbench.render.plots` embedded as
base64 PNG, every setting, and with ``against`` the paired comparison of
:func:`mlbench.analysis.compare.compare` (``against`` is the baseline A, ``result`` is B; deltas are
B - A) and the two results' aggregates side by side. ``metric`` defaults to the result's main
metric. HTML comes from :mod:`mlbench.render.html`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlbench.files import write_text
from mlbench.metrics import metric as metric_of
from mlbench.metrics.measures import READINGS
from mlbench.render.formats import MISSING
from mlbench.render.formats import num as fmt_num
from mlbench.render.html import Markup, esc, html_page, html_table
from mlbench.metrics import OWN_LANG_EXPECTED, RANK_DISTANCE, own_lang
from mlbench.results.files import require_same_task
from mlbench.results.model import Result

# plots are shown at 88 CSS px per figure inch (two 6.4-inch figures side by side on a 1280-px
# window); the embedded PNG has 150 dpi, so it stays sharp on high-density screens
CSS_PX_PER_INCH = 88


def _rd(v: float | None) -> str:
    return fmt_num(v, 1)


def summary_table(result: Result, metric: str) -> Markup:
    """Per query language and macro: the metric per kind, rank distance, own-language share@10 and
    the share expected from relevance alone (the columns the run has)."""
    agg = result.aggregates
    kinds = result.kinds
    rd = agg.rank_distance
    own, expected = agg.own_share(10)
    headers = ["query language"] + [f"{k} {metric_of(metric).label}" for k in kinds]
    if rd:
        headers.append("rank distance ↓")
    if own:
        headers += ["own-language share@10", "expected own share"]
    langs = [x for x in dict.fromkeys([*result.task.languages, *result.task.query_languages])
             if any(x in agg.query_langs.get(k, {}) for k in kinds)]
    rows, classes = [], []
    for lang in langs:
        row: list[Any] = [lang] + [fmt_num(agg.query_langs.get(k, {}).get(lang, {}).get(metric)) for k in kinds]
        if rd:
            row.append(_rd(rd["query_langs"].get(lang)))
        if own:
            row += [fmt_num(own["query_langs"].get(lang)), fmt_num(expected.get("query_langs", {}).get(lang))]
        rows.append(row)
        classes.append(None)
    row = ["macro"] + [fmt_num(agg.kinds[k].get(metric)) for k in kinds]
    if rd:
        row.append(_rd(rd.get("macro")))
    if own:
        row += [fmt_num(own.get("macro")), fmt_num(expected.get("macro"))]
    rows.append(row)
    classes.append("total")
    caption = (f"{metric_of(metric).label} per kind: macro-average of the setting means (each language pair weighs the same); "
               "per query language: mean of that language's settings.")
    if rd:
        caption += " Rank distance: multilingual pool, lower = less language bias."
    if agg.multi_micro is not None and agg.multi_micro.get(metric) is not None:
        caption += (f" LAReQA micro {metric_of(metric).label} over all questions of the multilingual pool: "
                    f"{fmt_num(agg.multi_micro[metric])}.")
    return html_table(headers, rows, caption=caption, row_classes=classes, table_id="summary")


def aggregate_values(result: Result, metric: str) -> list[tuple[str, float | None, str]]:
    """(label, value, better) for every aggregate of a result: per kind, micro, rank distance, shares."""
    agg = result.aggregates
    out: list[tuple[str, float | None, str]] = []
    for k in result.kinds:
        out.append((f"mean({k}) {metric_of(metric).label}", agg.kinds[k].get(metric), "higher"))
    if agg.multi_micro is not None:
        out.append((f"micro(multi) {metric_of(metric).label}", agg.multi_micro.get(metric), "higher"))
    if agg.rank_distance:
        out.append(("rank distance", agg.rank_distance.get("macro"), "lower"))
    bias = agg.language_bias or {}
    for key in sorted((k for k in bias if k.startswith("top")), key=lambda k: int(k[3:]) if k[3:].isdigit() else 0):
        out.append((f"own-language share@{key[3:]}", bias[key]["own_share"].get("macro"), "expected"))
    if "expected_own_share" in bias:
        out.append(("expected own share", bias["expected_own_share"].get("macro"), "reference"))
    return out


def side_by_side(a: Result, b: Result, metric: str) -> Markup:
    """Aggregates of A (baseline) and B next to each other, with B - A."""
    va = {label: v for label, v, _ in aggregate_values(a, metric)}
    rows = []
    for label, vb, better in aggregate_values(b, metric):
        x = va.get(label)
        decimals = 1 if label == "rank distance" else 4
        delta = None if x is None or vb is None else vb - x
        note = READINGS.get(better, better)
        rows.append([label, fmt_num(x, decimals), fmt_num(vb, decimals),
                     MISSING if delta is None else f"{delta:+.{decimals}f}", note])
    headers = ["aggregate", f"A: {a.model.name}", f"B: {b.model.name}", "Δ B − A", "reading"]
    return html_table(headers, rows, table_id="side-by-side",
                      caption="Point values from the two result files; significance is in the comparison below.")


def side_by_side_langs(a: Result, b: Result, metric: str) -> Markup:
    """Per query language: each kind's metric and the rank distance of A and B."""
    kinds = [k for k in b.kinds if k in a.kinds]
    has_rd = bool(a.aggregates.rank_distance and b.aggregates.rank_distance)
    headers = ["query language"]
    for k in kinds:
        headers += [f"{k} A", f"{k} B"]
    if has_rd:
        headers += ["rank dist. A", "rank dist. B"]
    own_a, own_b = a.aggregates.own_share(10)[0], b.aggregates.own_share(10)[0]
    has_own = bool(own_a and own_b)
    if has_own:
        headers += ["own@10 A", "own@10 B"]
    rows = []
    qa, qb = a.aggregates.query_langs, b.aggregates.query_langs
    for lang in dict.fromkeys([*b.task.languages, *b.task.query_languages]):
        row: list[Any] = [lang]
        for k in kinds:
            row += [fmt_num(qa.get(k, {}).get(lang, {}).get(metric)), fmt_num(qb.get(k, {}).get(lang, {}).get(metric))]
        if has_rd:
            row += [_rd(a.aggregates.rank_distance["query_langs"].get(lang)),
                    _rd(b.aggregates.rank_distance["query_langs"].get(lang))]
        if has_own:
            row += [fmt_num(own_a["query_langs"].get(lang)), fmt_num(own_b["query_langs"].get(lang))]
        rows.append(row)
    return html_table(headers, rows, table_id="side-by-side-langs",
                      caption=f"{metric_of(metric).label} per kind and query language; rank dist.: rank distance, lower is "
                              "better; own@10: own-language share of the top-10 of the multilingual pool (expected "
                              "share in the table above).")


def settings_table(result: Result, table_id: str | None = "settings-table") -> Markup:
    """Every setting with every metric of the run."""
    metrics = result.metrics
    extra = [m for m in (RANK_DISTANCE, own_lang(10), OWN_LANG_EXPECTED) if any(m in s.metrics for s in result.settings)]
    headers = ["setting", "kind", "queries", "left out"] + metrics + extra
    rows = []
    for s in result.settings:
        rows.append([s.id, s.kind, s.n_queries, s.n_left_out]
                    + [fmt_num(s.metrics.get(m), 1 if m == RANK_DISTANCE else 4) for m in metrics + extra])
    return html_table(headers, rows, table_id=table_id)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        if not value:
            return [(prefix, None)] if prefix else []
        out = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list):
        return [(prefix, ", ".join(str(x) for x in value))]
    return [(prefix, value)]


def _code(v: Any) -> Markup:
    return Markup(f"<code>{esc(v)}</code>") if v not in (None, "") else Markup(MISSING)


def _dict(v: Any) -> dict:
    """``v`` if it is an object, else an empty one (provenance fields are informative, not checked)."""
    return v if isinstance(v, dict) else {}


def _join(v: Any) -> str:
    return ", ".join(str(x) for x in v) if isinstance(v, list) else ("" if v is None else str(v))


def _slice(result: Result) -> str:
    subset = _dict(result.task.subset)
    if not subset:
        return "full task"
    return "; ".join(f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}"
                     for k, v in subset.items() if v is not None)


def key_facts(results: Sequence[tuple[str, Result]]) -> Markup:
    """The header's table: model, task, languages, slice, command, date; one column per result."""
    headers = ["", *(f"{label}{r.model.name}" if label else "" for label, r in results)]
    if len(results) == 1:
        headers = ["", "value"]
    fields = [
        ("model", lambda r: r.model.name),
        ("task", lambda r: f"{r.task.name} {r.task.version or ''}"),
        ("languages", lambda r: " ".join(r.task.languages)),
        ("slice", _slice),
        ("settings", lambda r: f"{len(r.settings)} ({', '.join(r.kinds)})"),
        ("command", lambda r: _code(r.run.command)),
        ("created", lambda r: f"{r.created or MISSING} with mlbench {r.mlbench_version or MISSING}"),
    ]
    rows = [[name, *(get(r) for _, r in results)] for name, get in fields]
    return html_table(headers, rows, numeric=[False] * len(headers), table_id="facts")


def provenance(result: Result, label: str = "") -> Markup:
    """Where the numbers come from: file, task and data checksums, model and encoder, run, versions."""
    task, model, run, env = result.task, result.model, result.run, result.environment
    enc = _dict(run.encoding)
    side = result.per_query_file
    rows: list[list[Any]] = [
        ["result file", _code(result.where)],
        ["written by", f"mlbench {result.mlbench_version or MISSING} (schema {result.schema})"],
        ["task", f"{task.name} {task.version or ''} (format {task.format or MISSING})"],
        ["data source", _code(task.source)],
        ["model spec", model.spec],
        ["kinds", _join(run.kinds)],
        ["metrics", _join(run.metrics)],
        ["candidate text", run.candidate_text],
        ["tie rule", run.tie_rule],
        ["encoding", ", ".join(f"{k} {enc[k]}" for k in ("unique_texts", "encoded", "from_cache") if k in enc)
         or "no encoding (lexical model)"],
        ["timings (s)", ", ".join(f"{k.removesuffix('_s')} {v}" for k, v in _dict(run.timings_s).items())],
        ["python / platform", f"{env.get('python', MISSING)} / {env.get('platform', MISSING)}"],
        ["device", env.get("device")],
        ["per-query sidecar", Markup(f"{_code(side.file if side else None)} sha256 {_code(side.sha256 if side else None)}")],
    ]
    for k, v in _dict(model.metadata).items():
        rows.append([f"checkpoint {k}", v])
    parts = [f"<h3>{esc(label)}{esc(model.name)}</h3>" if label else "",
             html_table(["field", "value"], rows, numeric=[False, False], table_class="provenance")]
    encoder = _flatten(_dict(model.encoder))
    if encoder:
        parts.append("<details><summary>encoder</summary>"
                     + html_table(["field", "value"], [[k, _code(v)] for k, v in encoder], numeric=[False, False])
                     + "</details>")
    data = _dict(task.data)
    if data:
        parts.append("<details><summary>data checksums</summary>"
                     + html_table(["language", "origin", "sha256"],
                                  [[lang, _code(_dict(d).get("origin")), _code(_dict(d).get("sha256"))]
                                   for lang, d in data.items()],
                                  numeric=[False, False, False])
                     + "</details>")
    packages = _dict(env.get("packages"))
    if packages:
        parts.append("<details><summary>package versions</summary>"
                     + html_table(["package", "version"], list(packages.items()), numeric=[False, False])
                     + "</details>")
    return Markup("\n".join(p for p in parts if p))


PLOT_CAPTIONS = {
    "rankcorr": "Mean rank correlation (MRC): Spearman's rho between the rankings of the multilingual pool for a "
                "question and for its parallel question in another language, averaged over the questions both "
                "languages hold; 1 = ranked alike whatever the query's language. Colours span −1 to 1.",
    "heatmap": "Rows: query language; columns: the pool searched. Outlined diagonal: monolingual settings; "
               "off-diagonal: cross-lingual; the separate column: the multilingual pool of all languages. "
               "Colours span 0–1 for every model.",
    "rankdist": "Rank distance per query language in the multilingual pool: rank of the worst-ranked relevant "
                "answer minus that of the best-ranked one, averaged over questions. Lower = less language bias.",
    "ownlang": "Share of each language among the top-10 retrieved from the multilingual pool, per query language "
               "(rows sum to 1). A diagonal far above the expected own share means text is retrieved for being "
               "in the query's language.",
}
PLOT_TITLES = {"heatmap": "Query × pool language", "rankdist": "Rank distance", "ownlang": "Own-language share",
               "rankcorr": "Rank correlation of parallel questions"}


def _img(fig) -> Markup:
    from mlbench.render.figures import to_bytes

    data = base64.b64encode(to_bytes(fig, "png")).decode("ascii")
    width = round(fig.get_figwidth() * CSS_PX_PER_INCH)
    alt = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
    return Markup(f'<img src="data:image/png;base64,{data}" width="{width}" alt="{esc(alt)}">')


def plots_section(results: Sequence[tuple[str, Result]], metric: str) -> Markup:
    """Each plot for each result (stacked, each at its natural size); unavailable ones say why."""
    from mlbench.render.plots import PLOT_NAMES, all_plots, rank_distance_top

    top = rank_distance_top([r for _, r in results]) if len(results) > 1 else None  # one scale for A and B
    per_result = [(label, r, {p.name: p for p in all_plots(r, metric, top)}) for label, r in results]
    out = []
    for name in PLOT_NAMES:
        out.append(f'<h3 id="plot-{name}">{esc(PLOT_TITLES[name])}</h3>')
        out.append('<div class="plots">')
        for label, r, plots in per_result:
            plot = plots[name]
            who = f"{label}{r.model.name}"
            if plot.figure is None:
                out.append(f'<p class="skipped">{esc(who)}: plot left out — {esc(plot.reason)}.</p>')
                continue
            width = round(plot.figure.get_figwidth() * CSS_PX_PER_INCH)
            out.append(f'<figure style="width: {width}px">{_img(plot.figure)}'
                       f"<figcaption>{esc(who)}. {esc(PLOT_CAPTIONS[name])}</figcaption></figure>")
            plot.figure.clear()
        out.append("</div>")
    return Markup("\n".join(out))


def comparison_section(rep) -> Markup:
    """The paired tests of :func:`mlbench.analysis.compare.compare`: procedure, win/tie/loss,
    aggregate and setting rows with adjusted p-values (the cells of ``mlbench compare``)."""
    from mlbench.render.comparison import LEGEND, NUM_COLS, aggregate_label, cells, summary_line

    heads = ["n", "A", "B", "Δ B − A", "95% CI", "p", "p adj.", "d", ""]
    assert len(heads) == len(NUM_COLS)
    out = [f"<p>A = <code>{esc(rep.a)}</code> ({esc(rep.model_a)}), B = <code>{esc(rep.b)}</code> "
           f"({esc(rep.model_b)}); every delta is B − A.</p>",
           "<ul>" + "".join(f"<li>{esc(line)}</li>" for line in rep.procedure_lines()) + "</ul>",
           f"<p><strong>{esc(summary_line(rep))}</strong></p>"]
    marks = ["mark" if h == "" else None for h in heads]
    out.append("<h3>Aggregates (unit: question within a query language)</h3>")
    out.append(html_table(["aggregate", "metric", *heads],
                          [[r.id, aggregate_label(r), *cells(r)] for r in rep.aggregates],
                          row_classes=[r.outcome for r in rep.aggregates], cell_classes=[None, None, *marks],
                          numeric=[False, False] + [True] * 8 + [False], table_id="compare-aggregates"))
    out.append(f"<h3>Settings ({esc(rep.metric)}; unit: query)</h3>")
    out.append(html_table(["setting", "kind", *heads], [[r.id, r.kind, *cells(r)] for r in rep.settings],
                          row_classes=[r.outcome for r in rep.settings], cell_classes=[None, None, *marks],
                          numeric=[False, False] + [True] * 8 + [False], table_id="compare-settings"))
    out.append(f'<p class="note">{esc(LEGEND)}.</p>')
    return Markup("\n".join(out))


def build_report(result: Result, against: Result | None = None, metric: str | None = None, *,
                 test: str = "randomization", correction: str = "holm", alpha: float = 0.05,
                 permutations: int | None = None, seed: int | None = 0, family: str = "all") -> str:
    """The report page of ``result``; with ``against`` (the baseline A, ``result`` being B) the paired
    comparison (``test``, ``correction`` within ``family``, ``alpha``; see
    :func:`mlbench.analysis.compare.compare`) and the aggregates side by side. ``metric`` defaults to
    the result's main metric."""
    metric = metric or result.main_metric
    result.require_metric(metric)
    if against is not None:
        against.require_metric(metric)
        require_same_task(result, against, "--against needs a result of the same task and version")
    title = f"{result.task.name} — {result.model.name}"
    pairs = [("", result)] if against is None else [("A: ", against), ("B: ", result)]
    if against is not None:
        title += f" vs {against.model.name}"
    sub = f"mlbench report · metric {metric_of(metric).label}"
    if against is not None:
        sub += " · B = this result, A = the baseline (--against); deltas are B − A"
    body = [f"<header><h1>{esc(title)}</h1>", f'<p class="sub">{esc(sub)}</p>', key_facts(pairs), "</header>"]
    if against is None:
        body += ['<h2 id="sec-summary">Summary</h2>', summary_table(result, metric)]
    else:
        from mlbench.analysis.compare import compare

        rep = compare(against, result, metric=metric, test=test, correction=correction, alpha=alpha,
                      n_permutations=permutations, seed=seed, family=family)
        body += ['<h2 id="sec-summary">Summary</h2>', side_by_side(against, result, metric),
                 side_by_side_langs(against, result, metric)]
        body += ['<h2 id="sec-comparison">Paired comparison</h2>', comparison_section(rep)]
    body += ['<h2 id="sec-plots">Plots</h2>', plots_section(pairs, metric)]
    body.append('<h2 id="sec-provenance">Provenance</h2>')
    body.append('<div class="cols">' + "".join(f"<div>{provenance(r, label)}</div>" for label, r in pairs) + "</div>"
                if against is not None else provenance(result))
    body.append('<h2 id="sec-settings">Settings</h2>')
    for label, r in pairs:
        who = f" — {label}{r.model.name}" if label else ""
        table = settings_table(r, table_id="settings-" + (label[:1].lower() or "r"))
        body.append(f"<details><summary>all {len(r.settings)} settings, every metric{esc(who)}</summary>"
                    f"{table}</details>")
    return html_page(title, "\n".join(str(x) for x in body))


def write_report(path: Path, result: Result, against: Result | None = None, metric: str | None = None,
                 **options: Any) -> Path:
    """:func:`build_report` written atomically to ``path``."""
    page = build_report(result, against, metric, **options)
    write_text(Path(path), page)
    return Path(path)


__all__ = ["aggregate_values", "build_report", "provenance", "settings_table", "side_by_side", "summary_table",
           "write_report"]
