"""Foundation: task files, the LAReQA adapter and the settings, on the real release files."""

from __future__ import annotations

import collections
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from conftest import run_cli
from mlbench.errors import MlbenchError
from mlbench.formats import load_task
from mlbench.settings import enumerate_settings, plan_setting
from mlbench.taskspec import discover, get_task

XQUAD_CANDS = dict(ar=1222, de=1276, el=1234, en=1180, es=1215, hi=1244, ru=1219, th=852, tr=1167, vi=1209, zh=1196)
MLQA_QUERIES = dict(ar=517, de=512, en=1148, es=500, hi=507, vi=511, zh=504)
MLQA_CANDS = dict(ar=2545, de=2362, en=6264, es=1787, hi=2426, vi=2828, zh=2322)


@pytest.fixture(scope="module")
def xquad():
    return load_task(get_task("xquad-r"))  # the embedded copy


@pytest.fixture(scope="module")
def mlqa(lareqa_dir):
    return load_task(get_task("mlqa-r"), data_dir=lareqa_dir)


def test_builtin_task_files():
    tasks = discover()
    assert {"xquad-r", "mlqa-r", "miracl"} <= set(tasks)
    assert len(tasks["xquad-r"].languages) == 11 and len(tasks["mlqa-r"].languages) == 7
    assert len(tasks["miracl"].languages) == 18 and tasks["miracl"].source.dataset == "miracl/{lang}/dev"
    assert tasks["xquad-r"].source.packaged and not tasks["mlqa-r"].source.packaged


def test_embedded_xquad_equals_upstream_files(xquad, lareqa_dir):
    sums = dict(line.split()[::-1] for line in (lareqa_dir / "SHA256SUMS").read_text().splitlines())
    for lang, f in xquad.files.items():
        assert f["origin"] == f"embedded:xquad-r/{lang}.json"
        assert f["sha256"] == sums[f"xquad-r/{lang}.json"]


def test_xquad_counts(xquad):
    assert {lang: len(d.query_ids) for lang, d in xquad.langs.items()} == {lang: 1190 for lang in XQUAD_CANDS}
    assert {lang: len(d.cand_ids) for lang, d in xquad.langs.items()} == XQUAD_CANDS
    assert xquad.n_candidates() == 13014
    multi = [plan_setting(xquad, s) for s in enumerate_settings(xquad.languages, ("multi",))]
    assert all(len(r) == 11 for p in multi for r in p.relevant) and sum(len(p.relevant) for p in multi) == 13090
    single = [plan_setting(xquad, s) for s in enumerate_settings(xquad.languages, ("mono", "cross"))]
    assert all(p.n_left_out == 0 and len(p.query_index) == 1190 for p in single)
    assert all(len(r) == 1 for p in single for r in p.relevant)


def test_candidate_ids_and_answer_rule(xquad):
    de = xquad.langs["de"]
    assert len(set(de.cand_ids)) == len(de.cand_ids)
    assert de.cand_ids[0] == "de/p0000/s0" and de.query_ids[0] == "de/56beb4343aeaaa14008c925b"
    # the first German question's answer (offset 38, "308") lies in the first sentence
    (ans,) = de.answers["56beb4343aeaaa14008c925b"]
    assert ans == 0 and "308" in de.cand_texts[ans]
    both = de.candidate_texts("sentence+context")
    assert both[0].startswith(de.cand_texts[0] + "\n") and both[0].endswith(de.paragraphs[0])


def test_mlqa_counts(mlqa, lareqa_dir):
    assert {lang: len(d.query_ids) for lang, d in mlqa.langs.items()} == MLQA_QUERIES
    assert {lang: len(d.cand_ids) for lang, d in mlqa.langs.items()} == MLQA_CANDS
    assert mlqa.n_candidates() == 20534
    langs_per_id = collections.Counter(g for d in mlqa.langs.values() for g in d.query_groups)
    assert len(langs_per_id) == 1148
    assert collections.Counter(langs_per_id.values()) == {2: 65, 3: 263, 4: 820}
    multi = [plan_setting(mlqa, s) for s in enumerate_settings(mlqa.languages, ("multi",))]
    sizes = collections.Counter(len(r) for p in multi for r in p.relevant)
    assert set(sizes) == {2, 3, 4} and sum(sizes.values()) == 4199
    assert all(p.n_left_out == 0 for p in multi)


def test_settings_per_kind(xquad, mlqa):
    for data, expect in ((xquad, (11, 110, 11)), (mlqa, (7, 42, 7))):
        settings = enumerate_settings(data.languages, ("mono", "cross", "multi"))
        counts = collections.Counter(s.kind for s in settings)
        assert (counts["mono"], counts["cross"], counts["multi"]) == expect
        assert len({s.id for s in settings}) == len(settings)
    assert {s.id for s in enumerate_settings(("de", "en"), ("mono", "cross", "multi"))} == {
        "de>de", "de>en", "de>*", "en>en", "en>de", "en>*"}


def test_mlqa_left_out_per_cross_pair(mlqa, lareqa_dir):
    """Left-out counts equal an independent count from the raw json: questions of X whose id has
    no question in Y."""
    ids = {}
    for lang in mlqa.languages:
        doc = json.loads((lareqa_dir / "mlqa-r" / f"{lang}.json").read_text())
        ids[lang] = [qa["id"] for a in doc["data"] for p in a["paragraphs"] for qa in p["qas"]]
    left = {s.id: plan_setting(mlqa, s).n_left_out for s in enumerate_settings(mlqa.languages, ("cross",))}
    expect = {f"{x}>{y}": sum(i not in set(ids[y]) for i in ids[x]) for x in ids for y in ids if x != y}
    assert left == expect
    assert left["en>ar"] == 631 and left["ar>en"] == 0 and left["de>es"] == 316
    assert sum(left.values()) == 13646


def test_cli_tasks_lists_counts(lareqa_dir, tmp_path):
    res = run_cli("tasks", "--data-dir", str(lareqa_dir), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "xquad-r" in res.stdout and "13090" in res.stdout and "13014" in res.stdout
    assert "4199" in res.stdout and "20534" in res.stdout and "11+110+11" in res.stdout and "7+42+7" in res.stdout
    show = run_cli("tasks", "show", "mlqa-r", "--data-dir", str(lareqa_dir), cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "6264" in show.stdout and "en>ar 631" in show.stdout


def test_mlqa_offline_without_copy_says_where_to_put_files(tmp_path):
    res = run_cli("tasks", "show", "mlqa-r", cwd=tmp_path)
    assert res.returncode == 2
    line = res.stderr.strip()
    assert "\n" not in line and "mlqa-r/ar.json" in line and "--data-dir" in line
    assert list(tmp_path.iterdir()) == []


def _user_task(tmp_path: Path, lareqa_dir: Path, mutate) -> tuple[Path, Path]:
    """A user task in --tasks-dir over a modified copy of de.json (sha256 pinned to the copy)."""
    data = tmp_path / "data" / "mine"
    data.mkdir(parents=True)
    raw = mutate((lareqa_dir / "xquad-r" / "de.json").read_bytes())
    (data / "de.json").write_bytes(raw)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    digest = hashlib.sha256(raw).hexdigest()
    (tasks / "mine.toml").write_text(f'''name = "mine"\nversion = "0"\nformat = "lareqa"\nlanguages = ["de"]
kinds = ["mono"]\nmetrics = ["map"]\n[source]\ntype = "files"\npath = "mine/{{lang}}.json"\n[source.sha256]\nde = "{digest}"\n''')
    return tasks, tmp_path / "data"


def test_user_task_without_code_change(tmp_path, lareqa_dir):
    tasks, data = _user_task(tmp_path, lareqa_dir, lambda b: b)
    res = run_cli("tasks", "show", "mine", "--tasks-dir", str(tasks), "--data-dir", str(data), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "1276" in res.stdout and "1190" in res.stdout


@pytest.mark.parametrize("case", ["checksum", "truncated", "unknown-task", "unknown-lang"])
def test_bad_input_one_line_exit_2(case, tmp_path, lareqa_dir):
    out = tmp_path / "out"
    if case == "checksum":
        bad = tmp_path / "copy"
        shutil.copytree(lareqa_dir, bad)
        f = bad / "mlqa-r" / "de.json"
        f.chmod(0o644)
        f.write_bytes(f.read_bytes().replace(b"Wie", b"Wer", 1))
        args = ["tasks", "show", "mlqa-r", "--data-dir", str(bad)]
        needle = "sha256 mismatch"
    elif case == "truncated":
        tasks, data = _user_task(tmp_path, lareqa_dir, lambda b: b[: len(b) // 2])
        args = ["tasks", "show", "mine", "--tasks-dir", str(tasks), "--data-dir", str(data)]
        needle = "not valid JSON"
    elif case == "unknown-task":
        args = ["run", "--task", "nope", "--out", str(out)]
        needle = "unknown task 'nope'"
    else:
        args = ["run", "--task", "xquad-r", "--langs", "de,xx", "--out", str(out)]
        needle = "unknown language 'xx'"
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert not out.exists()


def test_api_errors_name_the_value(lareqa_dir):
    with pytest.raises(MlbenchError, match="unknown language 'xx'"):
        load_task(get_task("xquad-r"), ["xx"])
    with pytest.raises(MlbenchError, match="has no loader"):
        load_task(get_task("miracl"), ["de"])
