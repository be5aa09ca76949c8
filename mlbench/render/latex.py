"""Paper-ready LaTeX tables (booktabs), from plain rows of numbers.

:func:`latex_table` writes one ``table`` environment: caption and label, one or two header rows
(a group row such as "mAP" spanning the columns it names, with ``\\cmidrule`` under it), a
``\\toprule`` / ``\\midrule`` / ``\\bottomrule`` frame, numbers right-aligned. :func:`table1` gives
the layout of Table 1 of arXiv 2408.10536 (rows: models; columns: mono, cross, multi, rank distance).

What it guarantees, because a table pasted into a paper is rarely checked again:

* **Numbers are never cut.** Each figure is rounded to its column's decimals, half up on its
  shortest decimal form (0.0625 -> 0.063, 4567.25 -> 4567.3, as a reader rounds, where
  ``f"{v:.3f}"`` would round the binary value half to even), and written in full however wide it
  is (a rank distance of 1234.5 stays 1234.5). A negative number gets a true minus sign
  (``$-$``), a missing value an en dash (``--``), an infinite one ``$\\infty$``.
* **The best figure of each column is bold**, in the column's direction (``lower_is_better`` for
  the rank distance). Best is decided on the rounded figures that are printed, so two entries that
  read the same are both bold, and no reader sees a bold 0.342 next to a plain 0.342.
* **Marks say what they mean.** A cell may carry significance marks (``†``, ``‡``, ``*``, ``§``,
  ``¶``, written as superscripts); every mark used must have a meaning in the :class:`Legend`, and
  the legend, appended to the caption, names the test and the correction from
  :mod:`mlbench.analysis.significance` and alpha. A mark without a meaning is refused.
* **Names are escaped** (``\\ & % $ # _ { } ~ ^``), so ``e5_small`` or ``R&D 100%`` typeset as
  written and cannot break the table. The caption is plain text too, escaped the same way.

:func:`check_table` is the structural check the tests apply (and that a caller can apply to any
table): balanced ``\\begin``/``\\end`` and braces, the three rules in order, and every row with the
column count of the column spec (``\\multicolumn`` counted by its span).
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlbench.analysis.significance import CORRECTION_NAMES, TEST_NAMES, check_correction, check_test

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_ESCAPE = re.compile("|".join(re.escape(c) for c in _SPECIAL))
# the marks a cell may carry, as LaTeX text-mode symbols
MARKS = {"†": r"\dag", "‡": r"\ddag", "*": "*", "§": r"\S", "¶": r"\P"}
_LABEL = re.compile(r"^[A-Za-z0-9:._\-]+$")


def escape(text: str) -> str:
    """Plain text -> LaTeX source that typesets as the same characters."""
    return _ESCAPE.sub(lambda m: _SPECIAL[m.group(0)], str(text))


@dataclass(frozen=True)
class LatexColumn:
    """One numeric column. ``group``: a header spanning the adjacent columns of the same group
    (``"mAP"`` over mono, cross and multi); ``digits``: decimals printed."""

    name: str
    group: str | None = None
    lower_is_better: bool = False
    digits: int = 3
    bold_best: bool = True


@dataclass(frozen=True)
class LatexRow:
    """One entry: its label (a model name, escaped when written), one value per column (None:
    missing) and, per column, the marks of that cell (a string of mark characters, "" for none)."""

    label: str
    values: Sequence[float | None]
    marks: Sequence[str] = ()


@dataclass(frozen=True)
class Legend:
    """What the marks mean, and the procedure behind them (named in the caption)."""

    meanings: dict[str, str]
    test: str
    correction: str
    alpha: float
    family: str | None = None  # e.g. "the 6 comparisons of each column with its best entry"

    def text(self) -> str:
        """The caption's sentence: each mark and its meaning, then test, correction and alpha."""
        parts = [f"\\textsuperscript{{{MARKS[m]}}}: {escape(meaning)}" for m, meaning in self.meanings.items()]
        family = f" over {escape(self.family)}" if self.family else ""
        return ("; ".join(parts) + f". Marks from the {escape(TEST_NAMES[self.test])}, "
                f"{escape(CORRECTION_NAMES[self.correction])} correction{family}, $\\alpha = {self.alpha:g}$.")


def format_number(value: float | None, digits: int) -> str:
    """A figure as LaTeX: rounded to ``digits`` decimals, in full, with a true minus sign."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    value = float(value)
    if math.isinf(value):
        return "$\\infty$" if value > 0 else "$-\\infty$"
    exact = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{exact:f}"
    if text.startswith("-"):
        text = text[1:]
        if float(text) == 0.0:  # -0.000 reads as 0.000
            return text
        return "$-$" + text
    return text


def _best(texts: list[str], values: list[float | None], lower: bool) -> set[int]:
    """Rows whose printed figure equals the printed figure of the column's best value."""
    known = {i: float(v) for i, v in enumerate(values) if v is not None and not math.isnan(float(v))}
    if not known:
        return set()
    pick = min if lower else max
    best_text = texts[pick(known, key=lambda i: known[i])]
    return {i for i in known if texts[i] == best_text}


def _header(columns: Sequence[LatexColumn], stub: str, arrows: bool) -> list[str]:
    lines = []
    groups: list[tuple[str | None, int, int]] = []  # (group, first column, last column), 1-based after the stub
    for i, c in enumerate(columns, start=2):
        if groups and c.group is not None and groups[-1][0] == c.group and groups[-1][2] == i - 1:
            groups[-1] = (c.group, groups[-1][1], i)
        else:
            groups.append((c.group, i, i))
    if any(g is not None for g, _, _ in groups):
        cells = [""]
        rules = []
        for g, lo, hi in groups:
            span = hi - lo + 1
            cells.append(f"\\multicolumn{{{span}}}{{c}}{{{escape(g)}}}" if g is not None else "")
            cells.extend([] if g is not None else [""] * (span - 1))
            if g is not None:
                rules.append(f"\\cmidrule(lr){{{lo}-{hi}}}")
        lines.append(" & ".join(cells) + " \\\\")
        lines.append(" ".join(rules))
    names = []
    for c in columns:
        arrow = (" $\\downarrow$" if c.lower_is_better else " $\\uparrow$") if arrows else ""
        names.append(f"{escape(c.name)}{arrow}")
    lines.append(" & ".join([escape(stub)] + names) + " \\\\")
    return lines


def latex_table(columns: Sequence[LatexColumn], rows: Sequence[LatexRow], caption: str, label: str,
                stub: str = "Model", legend: Legend | None = None, arrows: bool = True,
                placement: str = "t") -> str:
    """One booktabs ``table`` environment (see the module docstring for what it guarantees).

    ``arrows``: an up or down arrow after each column name for its direction, explained in the
    caption. Raises ValueError on rows of the wrong length and on marks the legend does not explain."""
    if not columns:
        raise ValueError("a table needs at least one column")
    if not _LABEL.fullmatch(label):
        raise ValueError(f"label {label!r}: use letters, digits and : . _ - only")
    if legend is not None:
        check_test(legend.test)
        check_correction(legend.correction)
        unknown = [m for m in legend.meanings if m not in MARKS]
        if unknown:
            raise ValueError(f"marks {unknown} are not among {''.join(MARKS)}")
    explained = set(legend.meanings) if legend is not None else set()
    for r in rows:
        if len(r.values) != len(columns):
            raise ValueError(f"row {r.label!r} has {len(r.values)} values for {len(columns)} columns")
        if r.marks and len(r.marks) != len(columns):
            raise ValueError(f"row {r.label!r} has marks for {len(r.marks)} cells, not {len(columns)}")
        for cell in r.marks:
            stray = [m for m in cell if m not in explained]
            if stray:
                raise ValueError(f"row {r.label!r}: mark {stray[0]!r} has no meaning in the legend")
    texts = [[format_number(r.values[j], c.digits) for r in rows] for j, c in enumerate(columns)]
    bold = [_best(texts[j], [r.values[j] for r in rows], c.lower_is_better) if c.bold_best else set()
            for j, c in enumerate(columns)]
    body = []
    for i, r in enumerate(rows):
        cells = [("{}" if r.label.startswith("[") else "") + escape(r.label)]  # "\\ [" would read as a length
        for j in range(len(columns)):
            cell = texts[j][i]
            if i in bold[j]:
                cell = f"\\textbf{{{cell}}}"
            marks = r.marks[j] if r.marks else ""
            if marks:
                cell += "\\textsuperscript{" + "".join(MARKS[m] for m in marks) + "}"
            cells.append(cell)
        body.append(" & ".join(cells) + " \\\\")
    notes = [escape(caption).strip()]
    if notes[0] and notes[0][-1] not in ".!?":
        notes[0] += "."
    if any(bold):
        notes.append("Best figure per column in bold.")
    if arrows:
        notes.append("$\\uparrow$: higher is better; $\\downarrow$: lower is better.")
    if legend is not None:
        notes.append(legend.text())
    spec = "l" + "r" * len(columns)
    lines = [f"\\begin{{table}}[{placement}]", "\\centering",
             f"\\caption{{{' '.join(n for n in notes if n)}}}", f"\\label{{{label}}}",
             f"\\begin{{tabular}}{{{spec}}}", "\\toprule", *_header(columns, stub, arrows), "\\midrule",
             *body, "\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def table1(rows: Sequence[tuple[str, float | None, float | None, float | None, float | None]], caption: str,
           label: str, metric: str = "mAP", marks: Sequence[Sequence[str]] | None = None,
           legend: Legend | None = None, digits: int = 3, distance_digits: int = 1) -> str:
    """The layout of arXiv 2408.10536's Table 1: one row per model, the metric in the mono-,
    cross- and multilingual settings under one header, then the rank distance (lower is better).

    ``rows``: (model, mono, cross, multi, rank distance); ``marks``: per row, the marks of its
    four cells."""
    columns = [LatexColumn("Mono", metric, digits=digits), LatexColumn("Cross", metric, digits=digits),
               LatexColumn("Multi", metric, digits=digits),
               LatexColumn("Rank distance", None, lower_is_better=True, digits=distance_digits)]
    out = []
    for i, (model, *values) in enumerate(rows):
        out.append(LatexRow(model, values, tuple(marks[i]) if marks is not None else ()))
    return latex_table(columns, out, caption, label, legend=legend)


# --- structural check ----------------------------------------------------------------------------

def _strip_comments(text: str) -> str:
    return "\n".join(re.sub(r"(?<!\\)%.*$", "", line) for line in text.splitlines())


def _cells(row: str) -> int:
    """Cells of one tabular row: unescaped ``&`` separators, ``\\multicolumn{n}`` counted as n."""
    parts = re.split(r"(?<!\\)&", row)
    count = 0
    for p in parts:
        m = re.search(r"\\multicolumn\{(\d+)\}", p)
        count += int(m.group(1)) if m else 1
    return count


def _spec_columns(spec: str) -> int:
    """Columns of a tabular spec (l, c, r, p{..}, m{..}, b{..}; @{..} and | are not columns)."""
    spec = re.sub(r"[@!>< ]\{[^{}]*\}", "", spec)
    spec = re.sub(r"([pmb])\{[^{}]*\}", r"\1", spec)
    return sum(1 for ch in spec if ch in "lcrpmbXS")


def check_table(text: str) -> list[str]:
    """Problems of a LaTeX table (empty when well formed); see the module docstring."""
    problems = []
    src = _strip_comments(text)
    depth = 0
    for ch in re.sub(r"\\[{}]", "", src):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            problems.append("a closing brace without an opening one")
            break
    if depth > 0:
        problems.append(f"{depth} unclosed brace(s)")
    stack: list[str] = []
    for kind, env in re.findall(r"\\(begin|end)\{([^{}]*)\}", src):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack[-1] != env:
            opened = "\\begin{" + stack[-1] + "}" if stack else "anything"
            problems.append(f"\\end{{{env}}} does not close {opened}")
            break
        else:
            stack.pop()
    else:
        if stack:
            problems.append(f"\\begin{{{stack[-1]}}} is never closed")
    if "\\caption{" not in src:
        problems.append("no \\caption")
    if "\\label{" not in src:
        problems.append("no \\label")
    m = re.search(r"\\begin\{tabular\}\{((?:[^{}]|\{[^{}]*\})*)\}(.*?)\\end\{tabular\}", src, re.S)
    if not m:
        problems.append("no tabular environment")
        return problems
    ncols = _spec_columns(m.group(1))
    inner = m.group(2)
    rules = [(r, inner.count(f"\\{r}")) for r in ("toprule", "midrule", "bottomrule")]
    for r, n in rules:
        if n == 0:
            problems.append(f"no \\{r}")
    if all(n for _, n in rules):
        if rules[0][1] != 1 or rules[2][1] != 1:
            problems.append("\\toprule and \\bottomrule must appear once each")
        top, mid, bottom = inner.index("\\toprule"), inner.index("\\midrule"), inner.rindex("\\bottomrule")
        if not top < mid < bottom:
            problems.append("the rules are out of order (\\toprule, \\midrule, \\bottomrule)")
        if inner[bottom:].replace("\\bottomrule", "").strip():
            problems.append("content after \\bottomrule")
    rule_only = re.compile(r"^\s*(?:\\(?:toprule|midrule|bottomrule|hline)|\\cmidrule(?:\([lr]+\))?\{[^{}]*\}\s*)*\s*$")
    for chunk in re.split(r"\\\\", inner):
        body = re.sub(r"\\(?:toprule|midrule|bottomrule|hline)|\\cmidrule(?:\([lr]+\))?\{[^{}]*\}", "", chunk)
        if rule_only.match(chunk) or not body.strip():
            continue
        n = _cells(body)
        if n != ncols:
            problems.append(f"a row has {n} cells for {ncols} columns: {body.strip()[:60]!r}")
    return problems


__all__ = ["Legend", "LatexColumn", "LatexRow", "MARKS", "check_table", "escape", "format_number", "latex_table",
           "table1"]
