"""Runs, qrels and results as types, and loaders that own their specifics: what the redesign must
keep (the figures) and what it fixed (each defect with a test that fails on the code before it)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import TESTS, one_line_error, run_cli, toml, xquad_raw

from mlbench.errors import MlbenchError
from mlbench.results import Result
from mlbench.runs import JudgedRanks, Qrels, Run

REPO = TESTS.parent


# --- the shapes -------------------------------------------------------------------------------

def test_a_run_is_in_rank_order_under_the_tie_rule_whatever_its_source():
    """score desc, then doc id desc (trec_eval's order), from a dict as from a TREC file."""
    run = Run.from_mapping({"q": {"b": 1.0, "c": 1.0, "a": 2.0, "d": 0.5}})
    assert run.ranking(0) == [("a", 2.0), ("c", 1.0), ("b", 1.0), ("d", 0.5)]
    assert Run.from_mapping(run.to_mapping()).ranking(0) == run.ranking(0)
    assert run.head(2).ranking(0) == [("a", 2.0), ("c", 1.0)] and not run.head(2).full


def test_judged_ranks_of_a_run_with_graded_qrels():
    run = Run.from_mapping({"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d9": 1.0}})
    qrels = Qrels({"q1": {"d3": 2, "d1": 1, "d2": 0, "d7": 1}, "q2": {"d8": 1}}, level=2)
    judged = JudgedRanks.from_run(run, qrels)
    assert judged.ranks[0].tolist()[:2] == [1.0, 3.0] and np.isinf(judged.ranks[0, 2])  # d7 not retrieved
    assert judged.grades[0].tolist() == [1, 2, 1] and qrels.relevant("q1") == {"d3"}
    assert np.isinf(judged.ranks[1, 0]) and judged.grades[1, 0] == 1


# --- reading results of earlier versions --------------------------------------------------------

V1 = TESTS / "fixtures" / "results-v1"


@pytest.mark.parametrize("name", sorted(p.name for p in V1.glob("*.json")))
def test_result_files_of_schema_1_read_and_round_trip(tmp_path, name):
    """A file the code before the typed Result wrote reads as the current schema: the slice those
    versions compared, the loader's facts under run.loader, the main metric; written again it reads
    back with the same figures and per-query values."""
    old = Result.from_disk(V1 / name)
    raw = json.loads((V1 / name).read_text())
    assert old.schema == "mlbench.result/1" and raw["schema"] == "mlbench.result/1"
    assert old.slice["task"] == raw["task"]["name"] and old.slice["languages"] == raw["task"]["languages"]
    assert old.slice["kinds"] == sorted(raw["run"]["kinds"])
    assert old.main_metric in old.metrics
    for key in ("comparable_with_official", "pool_subset", "corpus"):
        assert (key in raw["run"]) == (key in old.run.loader)
    path = old.to_disk(tmp_path)
    new = Result.from_disk(path)
    assert json.loads(path.read_text())["schema"] == "mlbench.result/2" and new.schema == "mlbench.result/2"
    assert [vars(s) for s in new.settings] == [vars(s) for s in old.settings]
    assert new.aggregates == old.aggregates and new.slice == old.slice
    a, b = old.per_query(), new.per_query()
    for sid in a:
        assert np.array_equal(a[sid].query_ids, b[sid].query_ids)
        assert all(np.array_equal(a[sid][m], b[sid][m], equal_nan=True) for m in a[sid].values)


def test_a_schema_1_result_equals_a_new_run_of_its_slice(tmp_path):
    """The migrated figures are today's figures: the same slice run now gives the same values."""
    old = Result.from_disk(V1 / "xquad-r--bm25.json")
    args = ["run", "-m", "bm25", "--langs", ",".join(old.task.languages), "--max-articles",
            str(old.slice["max_articles"]), "-o", str(tmp_path)]
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    new = Result.from_disk(tmp_path / "xquad-r--bm25.json")
    assert new.slice == {k: v for k, v in old.slice.items() if k not in ("split", "pool")}
    a, b = old.per_query(), new.per_query()
    assert list(a) == list(b)
    for sid in a:
        for m in a[sid].values:
            assert np.array_equal(a[sid][m], b[sid][m]), (sid, m)


# --- defects fixed --------------------------------------------------------------------------------

def _two_language_task(tmp_path: Path, code: str) -> tuple[Path, Path]:
    """A LAReQA task over copies of XQuAD-R de and zh, the zh file under the code ``code``."""
    data = tmp_path / "data" / "two"
    data.mkdir(parents=True)
    sha = {}
    for lang, src in (("de", "de"), (code, "zh")):
        raw = xquad_raw(src)
        (data / f"{lang}.json").write_bytes(raw)
        sha[lang] = hashlib.sha256(raw).hexdigest()
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "two.toml").write_text(toml({
        "name": "two", "version": "0", "format": "lareqa", "languages": ["de", code],
        "kinds": ["mono", "cross", "multi"], "metrics": ["map", "recall@10", "ndcg@10"],
        "source": {"type": "files", "path": "two/{lang}.json", "sha256": sha}}))
    return tasks, tmp_path / "data"


def test_trec_files_of_a_long_language_code_read_back(tmp_path):
    """`mlbench run --trec-dir` names files {task}.{q}-{pool}.run; `mlbench evaluate` reads the
    setting back from the name against the task's languages, so zh-Hans works (the reader before
    took two or three letters)."""
    tasks, data = _two_language_task(tmp_path, "zh-Hans")
    common = ["--task", "two", "--tasks-dir", str(tasks), "--data-dir", str(data), "--max-articles", "1"]
    ran = run_cli("run", "-m", "bm25", *common, "--trec-dir", str(tmp_path / "trec"), "-o", str(tmp_path / "run"))
    assert ran.returncode == 0, ran.stderr
    names = sorted(p.name for p in (tmp_path / "trec").glob("*.run"))
    assert "two.zh-Hans-de.run" in names and "two.de-zh-Hans.run" in names and "two.zh-Hans-all.run" in names
    ev = run_cli("evaluate", str(tmp_path / "trec"), *common, "-o", str(tmp_path / "ev"))
    assert ev.returncode == 0, ev.stderr
    a = Result.from_disk(tmp_path / "run" / "two--bm25.json")
    b = Result.from_disk(next((tmp_path / "ev").glob("*.json")))
    assert [s.id for s in b.settings] == [s.id for s in a.settings]
    for sa, sb in zip(a.settings, b.settings):
        for m in ("recall@10", "ndcg@10"):
            assert sb.metrics[m] == pytest.approx(sa.metrics[m], abs=1e-12), (sa.id, m)


def test_mteb_export_names_an_mteb_task_only_where_the_task_file_says_so(tmp_path, irds_home):
    """MIRACL's task file has [mteb] task = "MIRACLRetrieval"; a copy of it without the table is
    another benchmark, which a complete corpus must not turn into MTEB's MIRACLRetrieval (the export
    before branched on the format)."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    text = (REPO / "tasks" / "miracl.toml").read_text()
    text = text.replace('name = "miracl"', 'name = "my-miracl"').split("[mteb]")[0]
    (tasks / "my-miracl.toml").write_text(text)
    for task in ("miracl", "my-miracl"):
        res = run_cli("run", "-m", "bm25", "-t", task, "--tasks-dir", str(tasks), "--langs", "yo",
                      "--ir-datasets-home", str(irds_home), "-o", str(tmp_path / task))
        assert res.returncode == 0, res.stderr
        result = Result.from_disk(tmp_path / task / f"{task}--bm25.json")
        result.run.loader["comparable_with_official"] = True  # as a run on the whole corpus records
        marked = result.to_disk(tmp_path / f"{task}-marked")
        exp = run_cli("export", str(marked), "--format", "mteb", "-o", str(tmp_path / f"{task}-mteb"))
        assert exp.returncode == 0, exp.stderr
    assert sorted(p.name for p in (tmp_path / "miracl-mteb").glob("*.json")) == ["MIRACLRetrieval.json"]
    assert sorted(p.name for p in (tmp_path / "my-miracl-mteb").glob("*.json")) == ["mlbench-my-miracl-mono.json"]


def test_train_finds_its_tasks_in_a_tasks_dir(tmp_path):
    """`mlbench train --tasks-dir` (the trainer looked tasks up among the built-in ones only)."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    shutil.copy(REPO / "tasks" / "xquad-r.toml", tasks / "base.toml")
    (tasks / "base.toml").write_text((tasks / "base.toml").read_text().replace('name = "xquad-r"', 'name = "base"'))
    (tasks / "tiny-train.toml").write_text('schema = 1\nextends = "base"\nname = "tiny-train"\n'
                                           '[options]\narticles = "0-1"\n')
    res = run_cli("train", "--strategy", "xy", "--train-task", "tiny-train", "--tasks-dir", str(tasks),
                  "--eval-task", "xquad-r-heldout", "--langs", "de,en", "--steps", "1", "--save-every", "1",
                  "--batch-size", "4", "--max-length", "32", "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    meta = json.loads((tmp_path / "out" / "step-1" / "mlbench.json").read_text())
    assert meta["training"]["data"]["task"] == "tiny-train"


def test_chunk_rows_errors_name_the_setting_users_have():
    """No command has a --chunk-rows flag; its errors name the API setting instead."""
    from mlbench.pipeline import RunConfig, plan
    from mlbench.retrieval.base import SearchOptions

    with pytest.raises(MlbenchError, match=re.escape("search.chunk_rows must be positive")):
        plan(RunConfig(model="bm25", search=SearchOptions(chunk_rows=0)))
    with pytest.raises(MlbenchError, match=re.escape("search.chunk_rows applies to the exact backend")):
        plan(RunConfig(model="bm25", search=SearchOptions(chunk_rows=10, backend="topk")))
    sources = "\n".join(p.read_text() for p in (REPO / "mlbench").rglob("*.py"))
    assert "--chunk-rows" not in sources


ABSOLUTE = re.compile(r'"(/(?:work|home|root|tmp|Users|opt|usr|var|mnt)/[^"]*|[A-Za-z]:\\\\[^"]*)"')


def test_committed_result_files_hold_no_path_of_the_machine_that_made_them():
    found = {p.name: ABSOLUTE.findall(p.read_text()) for p in (REPO / "leaderboard").glob("*.json")}
    assert not {k: v[:2] for k, v in found.items() if v}


def test_data_origins_name_no_machine_path(tmp_path):
    """A local copy is recorded as data-dir:REL, never as the path it was read from."""
    tasks, data = _two_language_task(tmp_path, "zh")
    res = run_cli("run", "-m", "bm25", "--task", "two", "--tasks-dir", str(tasks), "--data-dir", str(data),
                  "--max-articles", "1", "--kinds", "mono", "-o", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "out" / "two--bm25.json").read_text())
    assert doc["task"]["data"]["de"]["origin"] == "data-dir:two/de.json"
    # only the command as typed names the folder (run.command records what the user ran)
    assert str(data) not in json.dumps({k: v for k, v in doc.items() if k != "run"})
    assert str(data) not in json.dumps({k: v for k, v in doc["run"].items() if k != "command"})


# --- a loader from an entry point -----------------------------------------------------------------

@pytest.fixture
def plugin_format(tmp_path):
    """The qa-tsv format of tests/plugloader.py registered as an entry point, a task of it over the
    first article of XQuAD-R de (the same questions, sentences and answers), and the environment
    that makes the command line see both."""
    dist = tmp_path / "site" / "plugloader_dist-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugloader-dist\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[mlbench.formats]\nqa-tsv = plugloader:LOADER\n")
    from mlbench.data.lareqa import parse_file

    parsed = parse_file(xquad_raw("de"), "de", "de.json", max_articles=1)
    lines = [f"Q\t{q}\t{g}\t{t}" for q, g, t in zip(parsed.query_ids, parsed.query_groups, parsed.query_texts)]
    lines += [f"C\t{c}\t{t}" for c, t in zip(parsed.cand_ids, parsed.cand_texts)]
    lines += [f"J\t{g}\t{parsed.cand_ids[j]}\t1" for g, idx in parsed.answers.items() for j in idx]
    raw = ("\n".join(lines) + "\n").encode("utf-8")
    (tmp_path / "data" / "qa").mkdir(parents=True)
    (tmp_path / "data" / "qa" / "de.tsv").write_bytes(raw)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "qa.toml").write_text(toml({
        "name": "qa", "version": "0", "format": "qa-tsv", "languages": ["de"], "kinds": ["mono"],
        "metrics": ["map", "ndcg@10"], "source": {"type": "files", "path": "qa/{lang}.tsv",
                                                  "sha256": {"de": hashlib.sha256(raw).hexdigest()}}}))
    env = {"PYTHONPATH": f"{TESTS}:{tmp_path / 'site'}"}
    return ["--tasks-dir", str(tasks), "--data-dir", str(tmp_path / "data")], env


def test_a_loader_from_an_entry_point_is_first_class(tmp_path, plugin_format):
    args, env = plugin_format
    listed = run_cli("tasks", *args, env=env)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"\bqa\b.*qa-tsv", listed.stdout) and "qa-tsv files" in listed.stdout
    ran = run_cli("run", "-m", "bm25", "-t", "qa", *args, "--loader-arg", "lowercase=true", "-o", str(tmp_path / "a"),
                  env=env)
    assert ran.returncode == 0, ran.stderr
    mine = Result.from_disk(tmp_path / "a" / "qa--bm25.json")
    assert mine.slice["lowercase"] is True and mine.run.loader == {"format": "qa-tsv", "lowercase": True}
    # the same questions, sentences and answers through the lareqa loader give the same numbers
    ref = run_cli("run", "-m", "bm25", "--langs", "de", "--max-articles", "1", "--kinds", "mono",
                  "--metrics", "map,ndcg@10", "-o", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr
    plain = run_cli("run", "-m", "bm25", "-t", "qa", *args, "-o", str(tmp_path / "b"), env=env)
    assert plain.returncode == 0, plain.stderr
    a = Result.from_disk(tmp_path / "b" / "qa--bm25.json").settings[0].metrics
    b = Result.from_disk(tmp_path / "ref" / "xquad-r--bm25.json").settings[0].metrics
    assert a["map"] == b["map"] and a["ndcg@10"] == b["ndcg@10"]
    one_line_error(run_cli("run", "-m", "bm25", "-t", "qa", *args, "--max-articles", "1", env=env),
                   "--max-articles applies to LAReQA tasks", "not to qa (format qa-tsv)")
    one_line_error(run_cli("run", "-m", "bm25", "-t", "qa", *args, "--loader-arg", "colour=red", env=env),
                   "colour is not an option of task qa (format qa-tsv")
