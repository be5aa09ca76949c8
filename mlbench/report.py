"""A static HTML report of a result file: one self-contained page, no server, no network.

``build_report(result, against=None, metric="map")`` returns the page: the provenance (task, data
checksums, model and encoder, command, versions), the summary table (per kind macro, per query
language, rank distance, own-language share), the plots of :mod:`mlbench.plots` embedded as
base64 PNG, every setting, and with ``against`` the paired comparison of :func:`mlbench.compare.compare`
(``against`` is the baseline A, ``result`` is B; deltas are B - A) and the two results' aggregates
side by side. CSS is inline and a Content-Security-Policy forbids any fetch, so the page shows the
same offline as online.

:func:`html_table` and :func:`html_page` are the one home of HTML rendering in mlbench (the
leaderboard page uses them too); every text they are given is escaped unless it is :class:`Markup`.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mlbench.atomic import write_text
from mlbench.errors import MlbenchError
from mlbench.results import LoadedResult, is_value, is_value_tree

KINDS = ("mono", "cross", "multi")
MISSING = "–"
# plots are shown at 88 CSS px per figure inch (two 6.4-inch figures side by side on a 1280-px
# window); the embedded PNG has 150 dpi, so it stays sharp on high-density screens
CSS_PX_PER_INCH = 88

CSS = """
:root { --fg: #1d2330; --muted: #5b6472; --line: #d9dde3; --zebra: #f5f7fa; --accent: #2f5d8a;
        --win: #1e7b34; --loss: #b3261e; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
       color: var(--fg); margin: 0; background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05em; margin: 20px 0 8px; }
p.sub, .note { color: var(--muted); }
code { font: 0.9em/1.3 "DejaVu Sans Mono", "Liberation Mono", monospace; background: var(--zebra);
       padding: 1px 4px; border-radius: 3px; word-break: break-all; }
table { border-collapse: collapse; margin: 6px 0 14px; font-variant-numeric: tabular-nums; }
caption { caption-side: bottom; text-align: left; color: var(--muted); font-size: 0.9em; padding-top: 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
.scroll { overflow-x: auto; max-width: 100%; }
tbody tr:nth-child(even) { background: var(--zebra); }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.total td { font-weight: 700; border-top: 2px solid var(--fg); }
tr.win td.mark { color: var(--win); font-weight: 700; }
tr.loss td.mark { color: var(--loss); font-weight: 700; }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 28px; }
.plots { display: flex; flex-wrap: wrap; gap: 0 24px; align-items: flex-start; }
figure { margin: 10px 0 22px; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 0.9em; margin-top: 4px; }
details { margin: 6px 0 12px; }
summary { cursor: pointer; color: var(--accent); font-weight: 600; }
.skipped { color: var(--muted); font-style: italic; }
"""


class Markup(str):
    """Text that is already HTML: :func:`html_table` and :func:`html_page` insert it as it is."""


def esc(value: Any) -> Markup:
    """``value`` as HTML: Markup unchanged, ``None`` as a dash, anything else escaped text."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup(MISSING)
    if isinstance(value, float):
        value = fmt_num(value)
    return Markup(html.escape(str(value), quote=True))


def fmt_num(v: float | None, decimals: int = 4) -> str:
    """A number with ``decimals`` places; ``None``/NaN as a dash, infinities spelled out."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    if isinstance(v, float) and math.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return f"{v:.{decimals}f}"


_NUMERIC = re.compile(r"^\s*([+\-−]?[\d,]*\.?\d+(e[+\-]?\d+)?%?|[+\-]?inf|–|-|\[.*\])\s*$", re.IGNORECASE)


def _is_numeric(cell: Any) -> bool:
    if isinstance(cell, bool):
        return False
    if isinstance(cell, (int, float)) or cell is None:
        return True
    return isinstance(cell, str) and not isinstance(cell, Markup) and bool(_NUMERIC.match(cell))


def html_table(headers: Sequence[Any], rows: Iterable[Sequence[Any]], *, caption: Any = None,
               numeric: Sequence[bool] | None = None, row_classes: Sequence[str | None] | None = None,
               cell_classes: Sequence[str | None] | None = None, table_id: str | None = None,
               table_class: str | None = None) -> Markup:
    """An HTML ``<table>``; every header and cell escaped unless :class:`Markup` (floats with 4 decimals,
    ``None`` as a dash).

    ``numeric``: per column, right-align (default: columns whose every cell is a number or reads as
    one); ``row_classes``: a CSS class per row (``total`` for a bold total row; ``win``/``loss``);
    ``cell_classes``: a CSS class per column.
    """
    rows = [list(r) for r in rows]
    width = len(headers)
    for i, r in enumerate(rows):
        if len(r) != width:
            raise ValueError(f"html_table: row {i} has {len(r)} cells for {width} headers")
    if numeric is None:
        numeric = [bool(rows) and all(_is_numeric(r[j]) for r in rows) for j in range(width)]
    classes = []
    for j in range(width):
        names = [c for c in (("num" if numeric[j] else None), cell_classes[j] if cell_classes else None) if c]
        classes.append(f' class="{" ".join(names)}"' if names else "")
    attrs = (f' id="{esc(table_id)}"' if table_id else "") + (f' class="{esc(table_class)}"' if table_class else "")
    out = [f"<table{attrs}>"]
    if caption is not None:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th{classes[j]}>{esc(h)}</th>" for j, h in enumerate(headers))
               + "</tr></thead>")
    out.append("<tbody>")
    for i, r in enumerate(rows):
        rc = row_classes[i] if row_classes and i < len(row_classes) else None
        out.append((f'<tr class="{esc(rc)}">' if rc else "<tr>")
                   + "".join(f"<td{classes[j]}>{esc(c)}</td>" for j, c in enumerate(r)) + "</tr>")
    out.append("</tbody></table>")
    return Markup("\n".join(out))


def html_page(title: str, body_html: str, *, css: str = CSS) -> str:
    """A complete, self-contained HTML5 page: inline CSS, and a Content-Security-Policy that allows
    no fetch at all (images only as ``data:`` URIs), so nothing is loaded from anywhere."""
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n<main>\n"
            f"{body_html}\n</main>\n</body>\n</html>\n")


# --- validation ----------------------------------------------------------------------------------

def check_result(result: LoadedResult, metric: str = "map") -> None:
    """The fields the report and the plots read beyond what ``read_result`` checks; a defect is a
    one-line :class:`MlbenchError` naming the file and the field."""
    path, doc = result.path, result.doc
    langs = doc["task"].get("languages")
    if not isinstance(langs, list) or not all(isinstance(x, str) for x in langs):
        raise MlbenchError(f"{path}: field 'task.languages' is missing or not a list of language codes")
    metrics = doc["run"].get("metrics")
    if not isinstance(metrics, list) or not all(isinstance(x, str) for x in metrics):
        raise MlbenchError(f"{path}: field 'run.metrics' is missing or not a list of metric names")
    if metric not in metrics:
        raise MlbenchError(f"{path}: field 'run.metrics' has no {metric!r} for --metric (it has: {', '.join(metrics)})")
    agg = doc["aggregates"]
    for key in ("kinds", "query_langs"):
        if key not in agg:
            raise MlbenchError(f"{path}: missing field 'aggregates.{key}'")
    rd = agg.get("rank_distance")
    if rd is not None and not is_value_tree(rd.get("query_langs"), 1):
        raise MlbenchError(f"{path}: field 'aggregates.rank_distance.query_langs' is missing or has the wrong shape")
    bias = agg.get("language_bias")
    if bias is None:
        return
    if not isinstance(bias, dict):
        raise MlbenchError(f"{path}: field 'aggregates.language_bias' must be an object")
    for key, value in bias.items():
        if key == "expected_own_share" or not key.startswith("top"):
            continue
        if not isinstance(value, dict):
            raise MlbenchError(f"{path}: field 'aggregates.language_bias.{key}' must be an object")
        if not is_value_tree(value.get("matrix"), 2):
            raise MlbenchError(f"{path}: field 'aggregates.language_bias.{key}.matrix' is missing or has the wrong shape")
        own = value.get("own_share")
        if not isinstance(own, dict) or not is_value(own.get("macro")) or not is_value_tree(own.get("query_langs"), 1):
            raise MlbenchError(f"{path}: field 'aggregates.language_bias.{key}.own_share' is missing or has the wrong shape")
    exp = bias.get("expected_own_share")
    if not isinstance(exp, dict) or not is_value(exp.get("macro")) or not is_value_tree(exp.get("query_langs"), 1):
        raise MlbenchError(f"{path}: field 'aggregates.language_bias.expected_own_share' is missing or has the wrong shape")


def check_pair(result: LoadedResult, against: LoadedResult) -> None:
    """``against`` must be of the same task (name and version) as ``result``."""
    a, b = result.doc["task"], against.doc["task"]
    if a["name"] != b["name"]:
        raise MlbenchError(f"{against.path}: field 'task.name' is {b['name']!r} but {result.path} is task "
                           f"{a['name']!r}; --against needs a result of the same task")
    if a.get("version") != b.get("version"):
        raise MlbenchError(f"{against.path}: field 'task.version' is {b.get('version')!r} but {result.path} has "
                           f"{a.get('version')!r}; --against needs a result of the same task version")


# --- sections ------------------------------------------------------------------------------------

def _kinds(doc: dict[str, Any]) -> list[str]:
    return [k for k in KINDS if k in doc["aggregates"].get("kinds", {})]


def _rd(v: float | None) -> str:
    return fmt_num(v, 1)


def _own(doc: dict[str, Any], cutoff: int = 10) -> tuple[dict[str, Any], dict[str, Any]]:
    bias = doc["aggregates"].get("language_bias") or {}
    return (bias.get(f"top{cutoff}") or {}).get("own_share") or {}, bias.get("expected_own_share") or {}


def summary_table(doc: dict[str, Any], metric: str = "map") -> Markup:
    """Per query language and macro: the metric per kind, rank distance, own-language share@10 and
    the share expected from relevance alone (the columns the run has)."""
    from mlbench.plots import metric_label

    agg = doc["aggregates"]
    kinds = _kinds(doc)
    rd = agg.get("rank_distance")
    own, expected = _own(doc)
    headers = ["query language"] + [f"{k} {metric_label(metric)}" for k in kinds]
    if rd:
        headers.append("rank distance ↓")
    if own:
        headers += ["own-language share@10", "expected own share"]
    langs = [x for x in doc["task"]["languages"] if any(x in agg["query_langs"].get(k, {}) for k in kinds)]
    rows, classes = [], []
    for lang in langs:
        row: list[Any] = [lang] + [fmt_num(agg["query_langs"].get(k, {}).get(lang, {}).get(metric)) for k in kinds]
        if rd:
            row.append(_rd(rd["query_langs"].get(lang)))
        if own:
            row += [fmt_num(own["query_langs"].get(lang)), fmt_num(expected.get("query_langs", {}).get(lang))]
        rows.append(row)
        classes.append(None)
    row = ["macro"] + [fmt_num(agg["kinds"][k].get(metric)) for k in kinds]
    if rd:
        row.append(_rd(rd.get("macro")))
    if own:
        row += [fmt_num(own.get("macro")), fmt_num(expected.get("macro"))]
    rows.append(row)
    classes.append("total")
    caption = (f"{metric_label(metric)} per kind: macro-average of the setting means (each language pair weighs the same); "
               "per query language: mean of that language's settings.")
    if rd:
        caption += " Rank distance: multilingual pool, lower = less language bias."
    if "multi_micro" in agg and agg["multi_micro"].get(metric) is not None:
        caption += (f" LAReQA micro {metric_label(metric)} over all questions of the multilingual pool: "
                    f"{fmt_num(agg['multi_micro'][metric])}.")
    return html_table(headers, rows, caption=caption, row_classes=classes, table_id="summary")


def aggregate_values(doc: dict[str, Any], metric: str = "map") -> list[tuple[str, float | None, str]]:
    """(label, value, better) for every aggregate of a result: per kind, micro, rank distance, shares."""
    from mlbench.plots import metric_label

    agg = doc["aggregates"]
    out: list[tuple[str, float | None, str]] = []
    for k in _kinds(doc):
        out.append((f"mean({k}) {metric_label(metric)}", agg["kinds"][k].get(metric), "higher"))
    if "multi_micro" in agg:
        out.append((f"micro(multi) {metric_label(metric)}", agg["multi_micro"].get(metric), "higher"))
    if agg.get("rank_distance"):
        out.append(("rank distance", agg["rank_distance"].get("macro"), "lower"))
    bias = agg.get("language_bias") or {}
    for key in sorted((k for k in bias if k.startswith("top")), key=lambda k: int(k[3:]) if k[3:].isdigit() else 0):
        out.append((f"own-language share@{key[3:]}", bias[key]["own_share"].get("macro"), "expected"))
    if "expected_own_share" in bias:
        out.append(("expected own share", bias["expected_own_share"].get("macro"), "reference"))
    return out


def side_by_side(a: LoadedResult, b: LoadedResult, metric: str = "map") -> Markup:
    """Aggregates of A (baseline) and B next to each other, with B - A."""
    va = {label: v for label, v, _ in aggregate_values(a.doc, metric)}
    rows = []
    for label, vb, better in aggregate_values(b.doc, metric):
        x = va.get(label)
        decimals = 1 if label == "rank distance" else 4
        delta = None if x is None or vb is None else vb - x
        note = {"higher": "higher is better", "lower": "lower is better",
                "expected": "closer to the expected share is better", "reference": "reference"}[better]
        rows.append([label, fmt_num(x, decimals), fmt_num(vb, decimals),
                     MISSING if delta is None else f"{delta:+.{decimals}f}", note])
    headers = ["aggregate", f"A: {a.doc['model']['name']}", f"B: {b.doc['model']['name']}", "Δ B − A", "reading"]
    return html_table(headers, rows, table_id="side-by-side",
                      caption="Point values from the two result files; significance is in the comparison below.")


def side_by_side_langs(a: LoadedResult, b: LoadedResult, metric: str = "map") -> Markup:
    """Per query language: each kind's metric and the rank distance of A and B."""
    from mlbench.plots import metric_label

    kinds = [k for k in _kinds(b.doc) if k in _kinds(a.doc)]
    has_rd = bool(a.doc["aggregates"].get("rank_distance") and b.doc["aggregates"].get("rank_distance"))
    headers = ["query language"]
    for k in kinds:
        headers += [f"{k} A", f"{k} B"]
    if has_rd:
        headers += ["rank dist. A", "rank dist. B"]
    own_a, own_b = _own(a.doc)[0], _own(b.doc)[0]
    has_own = bool(own_a and own_b)
    if has_own:
        headers += ["own@10 A", "own@10 B"]
    rows = []
    qa, qb = a.doc["aggregates"]["query_langs"], b.doc["aggregates"]["query_langs"]
    for lang in b.doc["task"]["languages"]:
        row: list[Any] = [lang]
        for k in kinds:
            row += [fmt_num(qa.get(k, {}).get(lang, {}).get(metric)), fmt_num(qb.get(k, {}).get(lang, {}).get(metric))]
        if has_rd:
            row += [_rd(a.doc["aggregates"]["rank_distance"]["query_langs"].get(lang)),
                    _rd(b.doc["aggregates"]["rank_distance"]["query_langs"].get(lang))]
        if has_own:
            row += [fmt_num(own_a["query_langs"].get(lang)), fmt_num(own_b["query_langs"].get(lang))]
        rows.append(row)
    return html_table(headers, rows, table_id="side-by-side-langs",
                      caption=f"{metric_label(metric)} per kind and query language; rank dist.: rank distance, lower is "
                              "better; own@10: own-language share of the top-10 of the multilingual pool (expected "
                              "share in the table above).")


def settings_table(doc: dict[str, Any], table_id: str | None = "settings-table") -> Markup:
    """Every setting with every metric of the run."""
    metrics = list(doc["run"]["metrics"])
    extra = [m for m in ("rank_distance", "own_lang@10", "own_lang_expected")
             if any(m in s["metrics"] for s in doc["settings"])]
    headers = ["setting", "kind", "queries", "left out"] + metrics + extra
    rows = []
    for s in doc["settings"]:
        rows.append([s["id"], s["kind"], s["n_queries"], s.get("n_left_out")]
                    + [fmt_num(s["metrics"].get(m), 1 if m == "rank_distance" else 4) for m in metrics + extra])
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


def _slice(task: dict[str, Any]) -> str:
    subset = _dict(task.get("subset"))
    if not subset:
        return "full task"
    return "; ".join(f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}"
                     for k, v in subset.items() if v is not None)


def key_facts(results: Sequence[tuple[str, LoadedResult]]) -> Markup:
    """The header's table: model, task, languages, slice, command, date; one column per result."""
    headers = ["", *(f"{label}{r.doc['model']['name']}" if label else "" for label, r in results)]
    if len(results) == 1:
        headers = ["", "value"]
    fields = [
        ("model", lambda d: d["model"]["name"]),
        ("task", lambda d: f"{d['task']['name']} {d['task'].get('version', '')}"),
        ("languages", lambda d: " ".join(d["task"]["languages"])),
        ("slice", lambda d: _slice(d["task"])),
        ("settings", lambda d: f"{len(d['settings'])} ({', '.join(_kinds(d))})"),
        ("command", lambda d: _code(d["run"].get("command"))),
        ("created", lambda d: f"{d.get('created', MISSING)} with mlbench {d.get('mlbench_version', MISSING)}"),
    ]
    rows = [[name, *(get(r.doc) for _, r in results)] for name, get in fields]
    return html_table(headers, rows, numeric=[False] * len(headers), table_id="facts")


def provenance(result: LoadedResult, label: str = "") -> Markup:
    """Where the numbers come from: file, task and data checksums, model and encoder, run, versions."""
    doc = result.doc
    task, model, run, env = doc["task"], doc["model"], doc["run"], doc["environment"]
    enc = _dict(run.get("encoding"))
    rows: list[list[Any]] = [
        ["result file", _code(result.path)],
        ["written by", f"mlbench {doc.get('mlbench_version', MISSING)} (schema {doc['schema']})"],
        ["task", f"{task['name']} {task.get('version', '')} (format {task.get('format', MISSING)})"],
        ["data source", _code(task.get("source"))],
        ["model spec", model.get("spec")],
        ["kinds", _join(run.get("kinds"))],
        ["metrics", _join(run.get("metrics"))],
        ["candidate text", run.get("candidate_text")],
        ["tie rule", run.get("tie_rule")],
        ["encoding", ", ".join(f"{k} {enc[k]}" for k in ("unique_texts", "encoded", "from_cache") if k in enc)
         or "no encoding (lexical model)"],
        ["timings (s)", ", ".join(f"{k.removesuffix('_s')} {v}" for k, v in _dict(run.get("timings_s")).items())],
        ["python / platform", f"{env.get('python', MISSING)} / {env.get('platform', MISSING)}"],
        ["device", env.get("device")],
        ["per-query sidecar", Markup(f"{_code(doc['per_query']['file'])} sha256 {_code(doc['per_query']['sha256'])}")],
    ]
    for k, v in _dict(model.get("metadata")).items():
        rows.append([f"checkpoint {k}", v])
    parts = [f"<h3>{esc(label)}{esc(model['name'])}</h3>" if label else "",
             html_table(["field", "value"], rows, numeric=[False, False], table_class="provenance")]
    encoder = _flatten(_dict(model.get("encoder")))
    if encoder:
        parts.append("<details><summary>encoder</summary>"
                     + html_table(["field", "value"], [[k, _code(v)] for k, v in encoder], numeric=[False, False])
                     + "</details>")
    data = _dict(task.get("data"))
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
    "heatmap": "Rows: query language; columns: the pool searched. Outlined diagonal: monolingual settings; "
               "off-diagonal: cross-lingual; the separate column: the multilingual pool of all languages. "
               "Colours span 0–1 for every model.",
    "rankdist": "Rank distance per query language in the multilingual pool: rank of the worst-ranked relevant "
                "answer minus that of the best-ranked one, averaged over questions. Lower = less language bias.",
    "ownlang": "Share of each language among the top-10 retrieved from the multilingual pool, per query language "
               "(rows sum to 1). A diagonal far above the expected own share means text is retrieved for being "
               "in the query's language.",
}
PLOT_TITLES = {"heatmap": "Query × pool language", "rankdist": "Rank distance", "ownlang": "Own-language share"}


def _img(fig) -> Markup:
    from mlbench.plots import to_bytes

    data = base64.b64encode(to_bytes(fig, "png")).decode("ascii")
    width = round(fig.get_figwidth() * CSS_PX_PER_INCH)
    alt = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
    return Markup(f'<img src="data:image/png;base64,{data}" width="{width}" alt="{esc(alt)}">')


def plots_section(results: Sequence[tuple[str, LoadedResult]], metric: str = "map") -> Markup:
    """Each plot for each result (stacked, each at its natural size); unavailable ones say why."""
    from mlbench.plots import PLOT_NAMES, all_plots

    per_result = [(label, r, {p.name: p for p in all_plots(r.doc, metric)}) for label, r in results]
    out = []
    for name in PLOT_NAMES:
        out.append(f'<h3 id="plot-{name}">{esc(PLOT_TITLES[name])}</h3>')
        out.append('<div class="plots">')
        for label, r, plots in per_result:
            plot = plots[name]
            who = f"{label}{r.doc['model']['name']}"
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
    """The paired tests of :func:`mlbench.compare.compare`: procedure, win/tie/loss, aggregate and
    setting rows with adjusted p-values (same cells as ``mlbench compare``)."""
    from mlbench.cli_compare import LEGEND, NUM_COLS, _agg_label, _cells, _summary_line

    heads = ["n", "A", "B", "Δ B − A", "95% CI", "p", "p adj.", "d", ""]
    assert len(heads) == len(NUM_COLS)
    out = [f"<p>A = <code>{esc(rep.a)}</code> ({esc(rep.model_a)}), B = <code>{esc(rep.b)}</code> "
           f"({esc(rep.model_b)}); every delta is B − A.</p>",
           "<ul>" + "".join(f"<li>{esc(line)}</li>" for line in rep.procedure_lines()) + "</ul>",
           f"<p><strong>{esc(_summary_line(rep))}</strong></p>"]
    marks = ["mark" if h == "" else None for h in heads]
    out.append("<h3>Aggregates (unit: question within a query language)</h3>")
    out.append(html_table(["aggregate", "metric", *heads],
                          [[r.id, _agg_label(r), *_cells(r)] for r in rep.aggregates],
                          row_classes=[r.outcome for r in rep.aggregates], cell_classes=[None, None, *marks],
                          numeric=[False, False] + [True] * 8 + [False], table_id="compare-aggregates"))
    out.append(f"<h3>Settings ({esc(rep.metric)}; unit: query)</h3>")
    out.append(html_table(["setting", "kind", *heads], [[r.id, r.kind, *_cells(r)] for r in rep.settings],
                          row_classes=[r.outcome for r in rep.settings], cell_classes=[None, None, *marks],
                          numeric=[False, False] + [True] * 8 + [False], table_id="compare-settings"))
    out.append(f'<p class="note">{esc(LEGEND)}.</p>')
    return Markup("\n".join(out))


def build_report(result: LoadedResult, against: LoadedResult | None = None, metric: str = "map", *,
                 test: str = "randomization", correction: str = "holm", alpha: float = 0.05,
                 permutations: int | None = None, seed: int | None = 0, family: str = "all") -> str:
    """The report page of ``result``; with ``against`` (the baseline A, ``result`` being B) the paired
    comparison (``test``, ``correction`` within ``family``, ``alpha``; see :func:`mlbench.compare.compare`)
    and the aggregates side by side."""
    from mlbench.plots import metric_label
    from mlbench.significance import DEFAULT_PERMUTATIONS

    check_result(result, metric)
    if against is not None:
        check_result(against, metric)
        check_pair(result, against)
    doc = result.doc
    title = f"{doc['task']['name']} — {doc['model']['name']}"
    pairs = [("", result)] if against is None else [("A: ", against), ("B: ", result)]
    if against is not None:
        title += f" vs {against.doc['model']['name']}"
    sub = f"mlbench report · metric {metric_label(metric)}"
    if against is not None:
        sub += " · B = this result, A = the baseline (--against); deltas are B − A"
    body = [f"<header><h1>{esc(title)}</h1>", f'<p class="sub">{esc(sub)}</p>', key_facts(pairs), "</header>"]
    if against is None:
        body += ['<h2 id="sec-summary">Summary</h2>', summary_table(doc, metric)]
    else:
        from mlbench.compare import compare

        rep = compare(against, result, metric=metric, test=test, correction=correction, alpha=alpha,
                      n_permutations=permutations or DEFAULT_PERMUTATIONS, seed=seed, family=family)
        body += ['<h2 id="sec-summary">Summary</h2>', side_by_side(against, result, metric),
                 side_by_side_langs(against, result, metric)]
        body += ['<h2 id="sec-comparison">Paired comparison</h2>', comparison_section(rep)]
    body += ['<h2 id="sec-plots">Plots</h2>', plots_section(pairs, metric)]
    body.append('<h2 id="sec-provenance">Provenance</h2>')
    body.append('<div class="cols">' + "".join(f"<div>{provenance(r, label)}</div>" for label, r in pairs) + "</div>"
                if against is not None else provenance(result))
    body.append('<h2 id="sec-settings">Settings</h2>')
    for label, r in pairs:
        who = f" — {label}{r.doc['model']['name']}" if label else ""
        table = settings_table(r.doc, table_id="settings-" + (label[:1].lower() or "r"))
        body.append(f"<details><summary>all {len(r.doc['settings'])} settings, every metric{esc(who)}</summary>"
                    f"{table}</details>")
    return html_page(title, "\n".join(str(x) for x in body))


def write_report(path: Path, result: LoadedResult, against: LoadedResult | None = None, metric: str = "map",
                 **options: Any) -> Path:
    """:func:`build_report` written atomically to ``path``."""
    page = build_report(result, against, metric, **options)
    write_text(Path(path), page)
    return Path(path)


__all__ = ["CSS", "Markup", "aggregate_values", "build_report", "check_pair", "check_result", "esc", "fmt_num",
           "html_page", "html_table", "provenance", "settings_table", "side_by_side", "summary_table",
           "write_report"]
