"""A leaderboard's :class:`~mlbench.analysis.leaderboard.Standing` for people: a table for a
terminal or a log, markdown, a static HTML page, and the generated ``leaderboard/README.md``."""

from __future__ import annotations

import textwrap
from html import escape
from pathlib import Path

from mlbench.analysis.leaderboard import Board, Rank, Standing, standings
from mlbench.render.formats import MISSING, num
from mlbench.render.tables import Column, TextTable, markdown
from mlbench.results.published import KINDS, PublishedEntry

UP, SAME = "▲", "≈"


def _p(p: float) -> str:
    return f"p={p:.2g}" if p >= 0.001 else "p<0.001"


def vs_next(r: Rank) -> str:
    if r.above_next is None or r.p_adjusted is None:
        return ""
    return f"{UP if r.above_next else SAME} {_p(r.p_adjusted)}"


def _right(header: str, st: Standing) -> bool:
    return header in ("#", "tier") or header.endswith(st.metric) or header.startswith(("rank", "own"))


def columns(st: Standing) -> list[str]:
    """Header of a standing table (shared by the text, markdown and HTML renderings)."""
    return (["#", "tier", "model", "base model", "sampling"] + [f"{k} {st.metric}" for k in st.kinds]
            + (["rank distance ↓", "own-lang@10"] if "multi" in st.kinds else []) + ["vs next"])


def cells(st: Standing, r: Rank) -> list[str]:
    meta = r.entry.metadata
    name = r.entry.model + (" (this run)" if r.entry.new else "")
    row = [str(r.position), str(r.tier), name, meta.get("base_model") or MISSING, meta.get("sampling") or MISSING]
    row += [num(r.values[k]) for k in st.kinds]
    if "multi" in st.kinds:
        row += [num(r.values["rank_distance"], 1), num(r.values["own@10"], 3)]
    return row + [vs_next(r)]


def tiers_note(st: Standing) -> str:
    """How the tiers were drawn, and which entries share one."""
    assert st.tiering is not None
    shared = [", ".join(r.entry.model for r in st.ranks if r.tier == t) for t in sorted({r.tier for r in st.ranks})
              if sum(r.tier == t for r in st.ranks) > 1]
    together = f" Not told apart: {'; '.join(shared)}." if shared else " Every entry is told apart from the others."
    procedure = st.tiering.procedure()
    return procedure[len("tiers: "):] + "." + together


def title(st: Standing) -> str:
    return f"{st.task} — sorted by {'rank distance' if st.sort == 'rank-distance' else st.sort} ({st.metric})"


def table(st: Standing) -> TextTable:
    t = TextTable([Column(h, "right" if _right(h, st) else "left") for h in columns(st)], title=title(st),
                  caption=f"Significance: {st.procedure()}" + (f"\nTiers: {tiers_note(st)}" if st.tiering else ""))
    for r in st.ranks:
        t.add(*cells(st, r), style="bold green" if r.entry.new else None)
    return t


# --- published figures: apart from the ranked table, never tested -----------------------------------

PUBLISHED_NOTE = "published figures: not rerun by mlbench, no per-query values, never in a paired test"


def _printed(e: PublishedEntry, kind: str, value: float | None, per_language: bool = False) -> str:
    """A published figure with the decimals it was printed with."""
    return MISSING if value is None else num(value, e.places(kind, per_language))


def _kind_header(st: Standing, kind: str) -> str:
    return "rank distance ↓" if kind == "rank_distance" else f"{kind} {st.metric}"


def _sources(entries: list[PublishedEntry]) -> list[str]:
    """One line per publication and way of averaging: where the figures come from."""
    seen: dict[tuple[str, str, str], None] = {}
    for e in entries:
        seen.setdefault((e.key, e.citation, f"{e.aggregates_from}; {e.aggregation}"), None)
    return [textwrap.fill(f"[{key}] {citation}. Aggregates: {how}.", 80, subsequent_indent="  ")
            for key, citation, how in seen]


def published_table(st: Standing) -> TextTable:
    """The task's published entries with their aggregates as printed, marked and unranked."""
    kinds = [k for k in KINDS if any(k in e.aggregates for e in st.published)]
    t = TextTable([Column("published", "left"), Column("base model"), Column("sampling"), Column("alpha", "right")]
                  + [Column(_kind_header(st, k), "right") for k in kinds],
                  title=f"{st.task} — {PUBLISHED_NOTE}", caption="Sources:\n" + "\n".join(_sources(st.published)))
    for e in st.published:
        t.add(e.name, e.base_model, e.sampling, MISSING if e.alpha is None else f"{e.alpha:g}",
              *[_printed(e, k, e.aggregates.get(k)) for k in kinds])
    return t


def _tables_of(entries: list[PublishedEntry], kind: str) -> str:
    """Which printed table each column comes from: "From: Table 3 (XLM-R X-X, ...); Table 5 (...)"."""
    by_table: dict[str, list[str]] = {}
    for e in entries:
        by_table.setdefault(e.per_language_from.get(kind, "source not named"), []).append(e.model)
    return "From: " + "; ".join(f"{t} ({', '.join(models)})" for t, models in by_table.items()) + "."


def language_tables(st: Standing) -> list[TextTable]:
    """Per publication and kind, the figures per query language (a column per published system)."""
    out = []
    keys = list(dict.fromkeys(e.key for e in st.published))
    for key in keys:
        group = [e for e in st.published if e.key == key and e.per_language]
        for kind in KINDS:
            cols = [e for e in group if kind in e.per_language]
            if not cols:
                continue
            langs = list(dict.fromkeys(lang for e in cols for lang in e.per_language[kind]))
            t = TextTable([Column("lang")] + [Column(e.model, "right") for e in cols],
                          title=f"{st.task} — [{key}] {_kind_header(st, kind)} per query language (published)",
                          caption=_tables_of(cols, kind))
            for lang in langs:
                t.add(lang, *[_printed(e, kind, e.per_language[kind].get(lang), True) for e in cols])
            out.append(t)
    return out


def tables_of(st: Standing) -> list[TextTable]:
    """Everything a task shows: the ranked table, then (apart) its published figures."""
    return [table(st)] + ([published_table(st), *language_tables(st)] if st.published else [])


def _published_markdown(st: Standing) -> list[str]:
    if not st.published:
        return []
    parts = []
    for t in [published_table(st), *language_tables(st)]:
        caption, t.caption = t.caption, None
        heading, t.title = t.title, None
        parts += [f"### {heading}", "", markdown(t).rstrip("\n"), "", caption or "", ""]
    return parts


def markdown_table(st: Standing) -> str:
    t = table(st)
    t.title = t.caption = None
    t.rows = [[*row[:2], f"**{row[2]}**" if r.entry.new else row[2], *row[3:]] for row, r in zip(t.rows, st.ranks)]
    return markdown(t).rstrip("\n")


def to_markdown(standings_: list[Standing], heading: str = "mlbench leaderboard") -> str:
    parts = [f"# {heading}", ""]
    for st in standings_:
        parts += [f"## {title(st)}", "", markdown_table(st), "", f"Significance: {st.procedure()}.", "",
                  *([f"Tiers: {tiers_note(st)}", ""] if st.tiering else [])]
        parts += _published_markdown(st)
    return "\n".join(parts)


def to_html(standings_: list[Standing], heading: str = "mlbench leaderboard") -> str:
    """One static page (no network) with a table per task."""
    from mlbench.render.html import html_page, html_table

    body = []
    for st in standings_:
        body.append(f"<h2>{escape(title(st))}</h2>")
        body.append(html_table(columns(st), [cells(st, r) for r in st.ranks]))
        body.append(f"<p>Significance: {escape(st.procedure())}.</p>")
        if st.tiering:
            body.append(f"<p>Tiers: {escape(tiers_note(st))}</p>")
        for t in ([published_table(st), *language_tables(st)] if st.published else []):
            body.append(f"<h3>{escape(t.title or '')}</h3>")
            body.append(html_table([c.name for c in t.columns], t.rows))
            body.append(f"<p>{escape(t.caption or '')}</p>")
    return html_page(heading, "\n".join(body))


def to_latex(standings_: list[Standing]) -> str:
    """Per task, the ranked entries in the layout of Table 1 of arXiv 2408.10536 (booktabs: mono,
    cross, multi, rank distance; best per column in bold), the sort column's cell marked where an
    entry is significantly above the next; then each publication's figures, as printed, apart."""
    from mlbench.render.latex import Legend, table1

    out = []
    order = ["mono", "cross", "multi", "rank_distance"]
    for st in standings_:
        sort_col = order.index("rank_distance" if st.sort == "rank-distance" else st.sort)
        rows, marks = [], []
        for r in st.ranks:
            name = r.entry.model + (" (this run)" if r.entry.new else "") + f" [tier {r.tier}]"
            rows.append((name, *(r.values.get(k) if k in st.kinds else None for k in order[:3]),
                         r.values.get("rank_distance") if "multi" in st.kinds else None))
            marks.append(["†" if i == sort_col and r.above_next else "" for i in range(4)])
        legend = Legend({"†": "significantly above the next row on the sort column"}, st.test, st.correction,
                        st.alpha, family=f"the {max(len(st.ranks) - 1, 0)} adjacent pairs")
        tiers = f" {tiers_note(st)}" if st.tiering else ""
        out.append(table1(rows, f"{title(st)}. Tiers: {tiers.strip()}", f"tab:leaderboard-{st.task}",
                          st.metric, marks=marks, legend=legend, digits=4))
        for key in dict.fromkeys(e.key for e in st.published):
            pub = [e for e in st.published if e.key == key]
            first = pub[0]
            rows = [(e.name, *(e.aggregates.get(k) for k in order)) for e in pub]
            out.append(table1(rows, f"{st.task}: published figures of [{key}] as printed ({first.aggregates_from}; "
                              f"{first.aggregation}), not rerun by mlbench and never in a paired test. Source: "
                              f"{first.citation}", f"tab:published-{st.task}-{key.replace('.', '-')}", st.metric,
                              digits=first.places("mono"), distance_digits=first.places("rank_distance")))
    return "\n".join(out)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def readme(board: Board) -> str:
    """``leaderboard/README.md``: every task's table, the notes and the command behind each entry."""
    tables = [standings(board.of_task(t), published=board.published_of(t)) for t in board.tasks()]
    lines = [
        f"# {board.title}", "",
        "<!-- Generated by `mlbench leaderboard --write-readme leaderboard`; do not edit by hand. "
        "tests/test_leaderboard.py fails when this file and the result files disagree. -->", "",
        "Reference results of real runs, committed as result files beside this page. Every figure below is "
        "read from those files; each entry records the exact command that made it (last section), and "
        "`benchmarks/regenerate_leaderboard.py` reruns them all (a trained checkpoint is first remade by the "
        "command listed before its run).", "",
        "Place your own run among them with `mlbench run ... --compare-to leaderboard/`, or "
        "`mlbench leaderboard --format table|markdown|html`.", "",
        "Columns: macro-averaged main metric (mAP on XQuAD-R and MLQA-R) per setting kind (mono X→X, cross X→Y, "
        "multi X→pool of all languages); rank distance = max − min rank of a question's parallel relevant "
        "sentences in the multilingual pool, macro over query languages (lower = less language bias); "
        "own-lang@10 = share of the top 10 in the query's own language (macro); vs next = whether the entry is "
        f"significantly above the one below it ({UP} significant, {SAME} not); tier = entries that cannot be told "
        "apart share a tier (an entry opens a new one when it is significantly worse than the first entry of the "
        "tier above; every pair tested, corrected as one family).", "",
    ]
    for st in tables:
        lines += [f"## {title(st)}", "", markdown_table(st), "", f"Significance: {st.procedure()}.", "",
                  *([f"Tiers: {tiers_note(st)}", ""] if st.tiering else [])]
        lines += _published_markdown(st)
    lines += ["## Entries", "", "| task | model | file | notes |", "|---|---|---|---|"]
    for e in sorted(board.entries, key=lambda e: (e.task, e.model)):
        name = Path(e.result.where).name
        lines.append(f"| {e.task} | {_md_escape(e.model)} | [{name}]({name}) | "
                     f"{_md_escape(e.note)} |")
    if board.published:
        lines += ["", "## Published figures", "",
                  "Facts from the publications, vendored with their citation by `benchmarks/vendor_published.py`; "
                  "shown beside the entries above, never ranked or tested (they have no per-query values).", ""]
        for pub in board.published:
            src = pub.source
            lines += [f"- [{pub.path.name}]({pub.path.name}) ({len(pub.entries)} entries): {_md_escape(src['citation'])}"
                      + (f", {src['url']}" if src.get("url") else "") + "."]
            lines += [f"  - {label}: {_md_escape(src[key])}" + ("" if src[key].endswith(".") else ".")
                      for key, label in (("read_from", "Read from"), ("protocol", "Protocol"), ("caveat", "Caveat"),
                                         ("checks", "Checks")) if src.get(key)]
    lines += ["", "## How each entry was made", ""]
    for e in sorted(board.entries, key=lambda e: (e.task, e.model)):
        r = e.result
        env = r.environment.get("packages", {})
        lines += [f"- `{Path(r.where).name}` (mlbench {r.mlbench_version}, numpy {env.get('numpy', '?')}, "
                  f"{r.environment.get('device', '?')}):", "",
                  "  ```", *([f"  {e.checkpoint}"] if e.checkpoint else []),
                  f"  {r.run.command or '(no command recorded)'}", "  ```", ""]
    lines += ["Offline, MLQA-R reads a local copy of the LAReQA files: "
              "`MLBENCH_DATA_DIR=../shared/data/lareqa` (see docs/tasks.md); online it is downloaded from the "
              "pinned commit and checked against its sha256.", ""]
    return "\n".join(lines)
