"""Tables for people: one description of a table, rendered for a terminal, a log or a document.

Every table the command line prints is a :class:`TextTable` (title, columns with alignment, rows of
strings, caption). :func:`show` prints it with rich on a terminal wide enough for it, and otherwise
(a pipe, a CI log, a narrow terminal) as a plain fixed-width table: every cell in full, never cut
to ``0.00…`` or dropped, lines as long as the widest row needs. :func:`markdown` gives the same
table as GitHub markdown, :func:`plain` as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table


@dataclass
class Column:
    name: str
    align: str = "left"  # left | right | center


@dataclass
class TextTable:
    columns: list[Column]
    rows: list[list[str]] = field(default_factory=list)
    title: str | None = None
    caption: str | None = None
    styles: list[str | None] = field(default_factory=list)  # per row, for the terminal (e.g. "bold")

    def add(self, *cells: str, style: str | None = None) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([str(c) for c in cells])
        self.styles.append(style)

    @classmethod
    def of(cls, headers: Sequence[str], right: Sequence[str] = (), **kw) -> TextTable:
        """Columns by name; those named in ``right`` right-aligned."""
        return cls([Column(h, "right" if h in right else "left") for h in headers], **kw)


def _pad(text: str, width: int, align: str) -> str:
    if align == "right":
        return text.rjust(width)
    if align == "center":
        return text.center(width)
    return text.ljust(width)


def plain(table: TextTable) -> str:
    """Fixed-width text: columns two spaces apart, a rule under the header, nothing cut."""
    widths = [max([len(c.name)] + [len(r[i]) for r in table.rows]) for i, c in enumerate(table.columns)]
    lines = []
    if table.title:
        lines.append(table.title)
    lines.append("  ".join(_pad(c.name, w, c.align) for c, w in zip(table.columns, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for r in table.rows:
        lines.append("  ".join(_pad(cell, w, c.align) for cell, c, w in zip(r, table.columns, widths)).rstrip())
    if table.caption:
        lines.append(table.caption)
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(table: TextTable, title_level: int = 0) -> str:
    align = {"left": "---", "right": "---:", "center": ":---:"}
    lines = [f"{'#' * title_level} {table.title}".strip(), ""] if table.title and title_level else []
    lines.append("| " + " | ".join(_md(c.name) for c in table.columns) + " |")
    lines.append("|" + "|".join(align[c.align] for c in table.columns) + "|")
    lines += ["| " + " | ".join(_md(cell) for cell in r) + " |" for r in table.rows]
    if table.caption:
        lines += ["", table.caption]
    return "\n".join(lines) + "\n"


def _rich(table: TextTable) -> Table:
    out = Table(title=table.title, caption=table.caption)
    for c in table.columns:
        out.add_column(c.name, justify=c.align, no_wrap=True)  # type: ignore[arg-type]
    for r, style in zip(table.rows, table.styles or [None] * len(table.rows)):
        out.add_row(*r, style=style)
    return out


def width(table: TextTable) -> int:
    """Columns a rich rendering needs (cells, padding and borders)."""
    widths = [max([len(c.name)] + [len(r[i]) for r in table.rows]) for i, c in enumerate(table.columns)]
    return sum(widths) + 3 * len(widths) + 1


def show(table: TextTable, console: Console) -> None:
    """Rich on a terminal that fits the table, plain fixed-width text everywhere else."""
    if console.is_terminal and width(table) <= console.width:
        console.print(_rich(table))
    else:
        console.print(plain(table), end="", markup=False, highlight=False, soft_wrap=True)
