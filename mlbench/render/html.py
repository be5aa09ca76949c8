"""HTML, in one place: :func:`html_table` and :func:`html_page` are the one home of HTML rendering
in mlbench (the report and the leaderboard page use them); every text they are given is escaped
unless it is :class:`Markup`. Pages are self-contained: inline CSS, and a Content-Security-Policy
that forbids any fetch, so a page shows the same offline as online."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from mlbench.render.formats import MISSING, num

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
        value = num(value)
    return Markup(html.escape(str(value), quote=True))


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
