"""Foundation: task files, the LAReQA loader, the data interface and the settings, on the real
release files (XQuAD-R as embedded in the package; MLQA-R from a local copy)."""

from __future__ import annotations

import collections
import hashlib
import json
import re
from pathlib import Path

import pytest

from helpers import LAREQA_SHARED, empty_or_absent, mlqa_dir, one_line_error, run_cli, xquad_raw

from mlbench.data import load_task, request
from mlbench.data.corpus import CorpusOptions
from mlbench.data.lareqa import parse_file
from mlbench.errors import MlbenchError
from mlbench.task import enumerate_settings
from mlbench.data.tasks import discover, get_task, read_task_file

REPO = Path(__file__).resolve().parents[1]

XQUAD_CANDS = dict(ar=1222, de=1276, el=1234, en=1180, es=1215, hi=1244, ru=1219, th=852, tr=1167, vi=1209, zh=1196)
MLQA_QUERIES = dict(ar=517, de=512, en=1148, es=500, hi=507, vi=511, zh=504)
MLQA_CANDS = dict(ar=2545, de=2362, en=6264, es=1787, hi=2426, vi=2828, zh=2322)


@pytest.fixture(scope="module")
def xquad():
    return load_task(get_task("xquad-r"))  # the embedded copy


@pytest.fixture(scope="module")
def mlqa_data_dir():
    return mlqa_dir()


@pytest.fixture(scope="module")
def mlqa(mlqa_data_dir):
    return load_task(get_task("mlqa-r"), data_dir=mlqa_data_dir)


def relevant_counts(data, kinds):
    """Per setting of ``kinds``: the number of relevant candidates of each evaluated query."""
    out = {}
    for s in enumerate_settings(data.languages, kinds):
        groups = data.langs[s.query_lang].queries.groups
        out[s] = [n for n in (sum(grade >= data.level for grade in data.judgements(s, g).values()) for g in groups)
                  if n]
    return out


def test_builtin_task_files():
    tasks = discover()
    assert {"xquad-r", "mlqa-r", "miracl"} <= set(tasks)
    assert len(tasks["xquad-r"].languages) == 11 and len(tasks["mlqa-r"].languages) == 7
    assert len(tasks["miracl"].languages) == 18 and tasks["miracl"].source.dataset == "miracl/{lang}/{split}"
    assert tasks["miracl"].source.split == "dev"
    assert tasks["xquad-r"].source.packaged and not tasks["mlqa-r"].source.packaged


def test_embedded_xquad_equals_upstream_files(xquad):
    """Every embedded file is the pinned upstream file (sha256 of the task file, and of the LAReQA
    release's SHA256SUMS where a copy of the release is beside the checkout)."""
    pinned = get_task("xquad-r").source.sha256
    sums_file = LAREQA_SHARED / "SHA256SUMS"
    sums = dict(line.split()[::-1] for line in sums_file.read_text().splitlines()) if sums_file.is_file() else {}
    for lang, f in xquad.files.items():
        assert f["origin"] == f"embedded:xquad-r/{lang}.json"
        assert f["sha256"] == pinned[lang] == hashlib.sha256(xquad_raw(lang)).hexdigest()
        assert f["sha256"] == sums.get(f"xquad-r/{lang}.json", f["sha256"])


def test_xquad_counts(xquad):
    assert {lang: len(d.queries) for lang, d in xquad.langs.items()} == {lang: 1190 for lang in XQUAD_CANDS}
    assert {lang: len(d.candidates) for lang, d in xquad.langs.items()} == XQUAD_CANDS
    assert xquad.n_candidates() == 13014 and xquad.parallel
    multi = relevant_counts(xquad, ("multi",))
    assert all(n == 11 for v in multi.values() for n in v) and sum(len(v) for v in multi.values()) == 13090
    single = relevant_counts(xquad, ("mono", "cross"))
    assert all(xquad.left_out(s) == 0 and len(v) == 1190 for s, v in single.items())
    assert all(n == 1 for v in single.values() for n in v)
    assert all(len(xquad.evaluated(lang)) == 1190 for lang in xquad.languages)


def test_candidate_ids_and_answer_rule(xquad):
    de = xquad.langs["de"]
    assert len(set(de.candidates.ids)) == len(de.candidates.ids)
    assert de.candidates.ids[0] == "de/p0000/s0" and de.queries.ids[0] == "de/56beb4343aeaaa14008c925b"
    # the first German question's answer (offset 38, "308") lies in the first sentence
    assert de.judged["56beb4343aeaaa14008c925b"] == {"de/p0000/s0": 1} and "308" in de.candidates.texts[0]
    parsed = parse_file(xquad_raw("de"), "de", "de.json")
    both = parsed.candidate_texts("sentence+context")
    assert both[0].startswith(parsed.cand_texts[0] + "\n") and both[0].endswith(parsed.paragraphs[0])
    with_context = load_task(get_task("xquad-r"), ["de"], max_articles=1, candidate_text="sentence+context")
    assert with_context.candidate_text == "sentence+context" and with_context.langs["de"].candidates.texts[0] == both[0]


@pytest.mark.mlqa
def test_mlqa_counts(mlqa):
    assert {lang: len(d.queries) for lang, d in mlqa.langs.items()} == MLQA_QUERIES
    assert {lang: len(d.candidates) for lang, d in mlqa.langs.items()} == MLQA_CANDS
    assert mlqa.n_candidates() == 20534
    langs_per_id = collections.Counter(g for d in mlqa.langs.values() for g in d.queries.groups)
    assert len(langs_per_id) == 1148
    assert collections.Counter(langs_per_id.values()) == {2: 65, 3: 263, 4: 820}
    multi = relevant_counts(mlqa, ("multi",))
    sizes = collections.Counter(n for v in multi.values() for n in v)
    assert set(sizes) == {2, 3, 4} and sum(sizes.values()) == 4199
    assert all(mlqa.left_out(s) == 0 for s in multi)


@pytest.mark.mlqa
def test_settings_per_kind(xquad, mlqa):
    for data, expect in ((xquad, (11, 110, 11)), (mlqa, (7, 42, 7))):
        settings = enumerate_settings(data.languages, ("mono", "cross", "multi"))
        counts = collections.Counter(s.kind for s in settings)
        assert (counts["mono"], counts["cross"], counts["multi"]) == expect
        assert len({s.id for s in settings}) == len(settings)
    assert {s.id for s in enumerate_settings(("de", "en"), ("mono", "cross", "multi"))} == {
        "de>de", "de>en", "de>*", "en>en", "en>de", "en>*"}


@pytest.mark.mlqa
def test_mlqa_left_out_per_cross_pair(mlqa, mlqa_data_dir):
    """Left-out counts equal an independent count from the raw json: questions of X whose id has
    no question in Y."""
    ids = {}
    for lang in mlqa.languages:
        doc = json.loads((mlqa_data_dir / "mlqa-r" / f"{lang}.json").read_text())
        ids[lang] = [qa["id"] for a in doc["data"] for p in a["paragraphs"] for qa in p["qas"]]
    left = {s.id: mlqa.left_out(s) for s in enumerate_settings(mlqa.languages, ("cross",))}
    expect = {f"{x}>{y}": sum(i not in set(ids[y]) for i in ids[x]) for x in ids for y in ids if x != y}
    assert left == expect
    assert left["en>ar"] == 631 and left["ar>en"] == 0 and left["de>es"] == 316
    assert sum(left.values()) == 13646


def test_cli_tasks_lists_counts(tmp_path):
    res = run_cli("tasks", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "xquad-r" in res.stdout and "13090" in res.stdout and "13014" in res.stdout and "11+110+11" in res.stdout
    as_json = json.loads(run_cli("tasks", "--format", "json", cwd=tmp_path).stdout)
    xq = next(t for t in as_json if t["name"] == "xquad-r")
    assert (xq["queries"], xq["candidates"], xq["main_metric"]) == (13090, 13014, "map")
    assert next(t for t in as_json if t["name"] == "miracl")["main_metric"] == "ndcg@10"


@pytest.mark.mlqa
def test_cli_tasks_lists_mlqa_counts(mlqa_data_dir, tmp_path):
    res = run_cli("tasks", "--data-dir", str(mlqa_data_dir), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "xquad-r" in res.stdout and "13090" in res.stdout and "13014" in res.stdout
    assert "4199" in res.stdout and "20534" in res.stdout and "11+110+11" in res.stdout and "7+42+7" in res.stdout
    show = run_cli("tasks", "show", "mlqa-r", "--data-dir", str(mlqa_data_dir), cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "6264" in show.stdout and "en>ar 631" in show.stdout


def test_mlqa_offline_without_copy_says_where_to_put_files(tmp_path):
    res = run_cli("tasks", "show", "mlqa-r", cwd=tmp_path)
    assert res.returncode == 2
    line = res.stderr.strip()
    assert "\n" not in line and "mlqa-r/ar.json" in line and "--data-dir" in line
    assert list(tmp_path.iterdir()) == []


def _user_task(tmp_path: Path, mutate) -> tuple[Path, Path]:
    """A user task in --tasks-dir over a modified copy of de.json (sha256 pinned to the copy)."""
    data = tmp_path / "data" / "mine"
    data.mkdir(parents=True)
    raw = mutate(xquad_raw("de"))
    (data / "de.json").write_bytes(raw)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    digest = hashlib.sha256(raw).hexdigest()
    (tasks / "mine.toml").write_text(f'''name = "mine"\nversion = "0"\nformat = "lareqa"\nlanguages = ["de"]
kinds = ["mono"]\nmetrics = ["map"]\n[source]\ntype = "files"\npath = "mine/{{lang}}.json"\n[source.sha256]\nde = "{digest}"\n''')
    return tasks, tmp_path / "data"


def test_user_task_without_code_change(tmp_path):
    tasks, data = _user_task(tmp_path, lambda b: b)
    res = run_cli("tasks", "show", "mine", "--tasks-dir", str(tasks), "--data-dir", str(data), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "1276" in res.stdout and "1190" in res.stdout


@pytest.mark.parametrize("case", ["checksum", "truncated", "unknown-task", "unknown-lang"])
def test_bad_input_one_line_exit_2(case, tmp_path):
    out = tmp_path / "out"
    if case == "checksum":
        bad = tmp_path / "copy" / "xquad-r"
        bad.mkdir(parents=True)
        for lang in get_task("xquad-r").languages:
            (bad / f"{lang}.json").write_bytes(xquad_raw(lang).replace(b"Wie", b"Wer", 1))
        args = ["tasks", "show", "xquad-r", "--data-dir", str(bad.parent)]
        needle = "sha256 mismatch"
    elif case == "truncated":
        tasks, data = _user_task(tmp_path, lambda b: b[: len(b) // 2])
        args = ["tasks", "show", "mine", "--tasks-dir", str(tasks), "--data-dir", str(data)]
        needle = "not valid JSON"
    elif case == "unknown-task":
        args = ["run", "--task", "nope", "--out", str(out)]
        needle = "unknown task 'nope'"
    else:
        args = ["run", "--task", "xquad-r", "--langs", "de,xx", "--out", str(out)]
        needle = "unknown language 'xx'"
    one_line_error(run_cli(*args, cwd=tmp_path), needle)
    assert not out.exists()


def test_api_errors_name_the_value():
    with pytest.raises(MlbenchError, match="unknown language 'xx'"):
        load_task(get_task("xquad-r"), ["xx"])
    with pytest.raises(MlbenchError, match="--pool-subset applies to tasks of format ir_datasets"):
        request(get_task("xquad-r"), ["de"], options=CorpusOptions(pool_subset=0))
    with pytest.raises(MlbenchError, match="--max-articles must be positive"):
        load_task(get_task("xquad-r"), ["de"], max_articles=0)
    with pytest.raises(MlbenchError, match=re.escape("pool_subset is not an option of task xquad-r (format lareqa")):
        load_task(get_task("xquad-r"), ["de"], pool_subset=0)  # not an option of the lareqa loader


def test_article_split_variants_are_disjoint_and_cover_xquad():
    """xquad-r-train and xquad-r-heldout (task variants: extends + [options]) split XQuAD-R's 48
    articles 36/12: every question and sentence of the task lands on exactly one side."""
    full, train, held = (load_task(get_task(n), ["de", "zh"]) for n in ("xquad-r", "xquad-r-train", "xquad-r-heldout"))
    for lang in ("de", "zh"):
        f, t, h = full.langs[lang], train.langs[lang], held.langs[lang]
        assert set(t.queries.groups).isdisjoint(h.queries.groups)
        assert sorted(t.queries.groups + h.queries.groups) == sorted(f.queries.groups)
        assert len(t.candidates) + len(h.candidates) == len(f.candidates)
        assert sorted(t.candidates.texts + h.candidates.texts) == sorted(f.candidates.texts)
    assert len(held.langs["de"].queries) == 265 and len(train.langs["de"].queries) == 925
    assert held.subset["articles"] == "36-47" and get_task("xquad-r-heldout").source == get_task("xquad-r").source


@pytest.mark.parametrize("body, needle", [
    ('extends = "nope"', "no task file nope.toml beside it"),
    ('extends = "base"\n[options]\ncolour = "red"', "field 'options.colour' is not an option of format lareqa"),
    ('extends = "base"\n[options]\narticles = "9-3"', "'9-3' is not an index or a range"),
    ('extends = "base"\n[options]\narticles = 7', "articles 7 must be a string"),
])
def test_bad_task_variants_are_refused(tmp_path, body, needle):
    (tmp_path / "base.toml").write_text((REPO / "tasks" / "xquad-r.toml").read_text().replace('"xquad-r"', '"base"', 1))
    (tmp_path / "variant.toml").write_text(f'schema = 1\nname = "variant"\n{body}\n')
    with pytest.raises(MlbenchError, match=re.escape(needle)) as exc:
        read_task_file(tmp_path / "variant.toml")  # parsed, then checked against its loader
    assert "variant.toml" in str(exc.value)


def test_variant_article_beyond_the_file_is_refused(tmp_path):
    (tmp_path / "base.toml").write_text((REPO / "tasks" / "xquad-r.toml").read_text().replace('"xquad-r"', '"base"', 1))
    (tmp_path / "far.toml").write_text('schema = 1\nextends = "base"\nname = "far"\n[options]\narticles = "40-60"\n')
    one_line_error(run_cli("run", "-m", "bm25", "-t", "far", "--tasks-dir", str(tmp_path), "--langs", "de",
                           "--out", str(tmp_path / "out")), "article 60 asked for, the file has 48")
    assert empty_or_absent(tmp_path / "out")
