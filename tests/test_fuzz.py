"""Fuzzing (hypothesis) of the readers of user files: task files, LAReQA data files and result
files either read or fail with one MlbenchError line naming the file (docs/reliability.md)."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from helpers import schema_1, task_dict, toml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlbench.data.lareqa import ParsedFile, _parse, parse_lang
from mlbench.errors import MlbenchError
from mlbench.results.export import export_table
from mlbench.results import read_result
from mlbench.task import TaskSpec, parse_task_file

# MLBENCH_FUZZ_EXAMPLES=4000 for a longer search (run once on this machine: no failure, ~4 min)
FUZZ = settings(max_examples=int(os.environ.get("MLBENCH_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------- fuzzing

@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _fuzz_file(folder: Path, data: bytes, suffix: str) -> Path:
    path = folder / f"case{suffix}"
    path.write_bytes(data)
    return path


def _assert_one_line(exc: MlbenchError, path: Path | None = None) -> None:
    message = str(exc)
    assert message and "\n" not in message and "\r" not in message
    if path is not None:
        assert str(path) in message, message


def _reads_or_fails_in_one_line(reader, path: Path) -> None:
    """A reader given arbitrary input either succeeds or raises one MlbenchError line naming the file."""
    try:
        reader(path)
    except MlbenchError as exc:
        _assert_one_line(exc, path)


toml_scalars = st.one_of(st.text(max_size=12), st.integers(-3, 10 ** 6), st.booleans(), st.floats(allow_nan=False),
                         st.sampled_from(["map", "recall@10", "ndcg@0", "mono", "cross", "files", "ir_datasets",
                                          "lareqa", "de", "x/{lang}", "{lang}.json", "{0}", "{lang.x}", "..", "*"]))
toml_values = st.recursive(toml_scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
path_like = st.one_of(st.sampled_from(["mine/{lang}.json", "{0}", "{lang.x}", "{", "}", "{lang}{other}", "/abs/{lang}",
                                        "../{lang}", "a/../../{lang}", "*", "..", "de>en", "a b"]),
                      st.text(alphabet="{}/.lang0_-*>", max_size=12))
TASK_KEYS = ["schema", "name", "version", "title", "format", "languages", "kinds", "metrics", "main_metric", "source",
             "licence", "junk"]
SOURCE_KEYS = ["type", "url", "path", "packaged", "sha256", "dataset"]


@st.composite
def task_dicts(draw):
    spec = task_dict("a" * 64)
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from(TASK_KEYS + [f"source.{k}" for k in SOURCE_KEYS]
                                   + ["name", "languages", "source.path", "source.url"] * 3))
        target, name = (spec.get("source"), key[7:]) if key.startswith("source.") else (spec, key)
        if not isinstance(target, dict):
            continue
        if draw(st.booleans()):
            target.pop(name, None)
        elif name == "sha256":
            target[name] = draw(st.dictionaries(st.sampled_from(["de", "en", "*"]), toml_scalars, max_size=2))
        elif name in ("name", "path", "url", "dataset"):  # values that end up in paths and file names
            target[name] = draw(st.one_of(path_like, toml_values))
        elif name == "languages":
            target[name] = draw(st.one_of(st.lists(st.one_of(st.just("de"), path_like), max_size=3), toml_values))
        else:
            target[name] = draw(toml_values)
    return spec


@FUZZ
@given(st.binary(max_size=400))
@example(b"a = " + b"[" * 100_000)
@example(b"\xff\xfe")
@example(b'name = "x"\nname = "y"\n')
def test_fuzz_task_file_bytes(fuzz_dir, raw):
    _reads_or_fails_in_one_line(parse_task_file, _fuzz_file(fuzz_dir, raw, ".toml"))


@FUZZ
@given(task_dicts())
@example({**task_dict("a" * 64), "source": {"type": "files", "path": "mine/{language}.json", "sha256": {"de": "a" * 64}}})
@example({**task_dict("a" * 64), "name": "../../evil"})
def test_fuzz_task_file_fields(fuzz_dir, spec):
    path = _fuzz_file(fuzz_dir, toml(spec).encode(), ".toml")
    try:
        task = parse_task_file(path)
    except MlbenchError as exc:
        _assert_one_line(exc, path)
        return
    assert isinstance(task, TaskSpec) and task.main_metric in task.metrics
    plain = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # safe in file names and setting ids
    assert plain.fullmatch(task.name) and all(plain.fullmatch(lang) for lang in task.languages)
    for lang in task.languages:  # whatever is accepted can be used to build paths
        rel = Path(task.source.path.format(lang=lang))
        assert not rel.is_absolute() and ".." not in rel.parts
        task.source.url.format(lang=lang)


LAREQA_KEYS = ["data", "paragraphs", "context", "sentences", "sentence_breaks", "qas", "id", "question", "answers",
               "answer_start", "text"]
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2000), st.floats(allow_nan=False), st.text(max_size=8))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(LAREQA_KEYS) | st.text(max_size=4),
                                                                inner, max_size=5),
    max_leaves=30)


@st.composite
def squad_docs(draw):
    """Mostly well-formed LAReQA documents, with a few values replaced by arbitrary JSON."""
    articles = []
    for _ in range(draw(st.integers(0, 2))):
        paras = []
        for _ in range(draw(st.integers(0, 2))):
            n = draw(st.integers(0, 3))
            sentences = [draw(st.text(max_size=5)) for _ in range(n)]
            breaks = [[draw(st.integers(-2, 20)), draw(st.integers(-2, 20))] for _ in range(n)]
            qas = [{"id": draw(st.sampled_from(["q1", "q2", "q3", 7])), "question": draw(st.text(max_size=5)),
                    "answers": [{"answer_start": draw(st.integers(-2, 20)), "text": "x"}]}
                   for _ in range(draw(st.integers(0, 3)))]
            para = {"context": draw(st.text(max_size=20)), "sentences": sentences, "sentence_breaks": breaks, "qas": qas}
            paras.append(para)
        articles.append({"title": "t", "paragraphs": paras})
    doc = {"data": articles}
    for _ in range(draw(st.integers(0, 2))):  # damage: replace or drop one value somewhere
        holders = []

        def walk(node):
            if isinstance(node, dict):
                holders.extend((node, k) for k in node)
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                holders.extend((node, i) for i in range(len(node)))
                for v in node:
                    walk(v)

        walk(doc)
        if not holders:
            break
        holder, key = draw(st.sampled_from(holders))
        if isinstance(holder, dict) and draw(st.booleans()):
            del holder[key]
        else:
            holder[key] = draw(json_values)
    return doc


def _check_lang_data(out: ParsedFile, doc) -> None:
    assert all(isinstance(t, str) for t in out.cand_texts + out.query_texts + out.paragraphs)
    assert len(out.query_ids) == len(out.query_texts) == len(out.query_groups) == len(set(out.query_groups))
    assert len(set(out.cand_ids)) == len(out.cand_ids) == len(out.cand_texts) == len(out.cand_paragraph)
    assert all(0 <= i < len(out.cand_ids) for ids in out.answers.values() for i in ids)
    assert set(out.answers) == set(out.query_groups)


@FUZZ
@given(st.one_of(json_values, squad_docs()))
def test_fuzz_lareqa_parse_lang(doc):
    try:
        out = parse_lang(doc, "de", "fuzz/de.json")
    except MlbenchError as exc:
        _assert_one_line(exc)
        assert "fuzz/de.json" in str(exc)
        return
    _check_lang_data(out, doc)


@FUZZ
@given(st.binary(max_size=300))
@example(b"[" * 100_000)
@example(b'{"data": [' * 20_000)
@example(b"\xef\xbb\xbf{}")
def test_fuzz_lareqa_file_bytes(raw):
    try:
        parse_lang(_parse(raw, "fuzz/de.json"), "de", "fuzz/de.json")
    except MlbenchError as exc:
        _assert_one_line(exc)
        assert "fuzz/de.json" in str(exc)


@FUZZ
@given(st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                 st.tuples(st.sampled_from(["mlbench.result/1", "mlbench.result/2"]),  # /1 through the migration
                           st.dictionaries(st.sampled_from(["schema", "task", "slice", "model", "run", "environment",
                                                            "settings", "aggregates", "per_query"]), json_values))
                 .map(lambda sd: json.dumps({"schema": sd[0], **sd[1]}).encode())))
@example(b"[" * 100_000)
def test_fuzz_result_reader_bytes_and_objects(fuzz_dir, raw):
    _reads_or_fails_in_one_line(read_result, _fuzz_file(fuzz_dir, raw, ".json"))


@pytest.fixture(scope="module")
def real_result(reference) -> dict:
    return json.loads(reference.path.read_text())


@pytest.mark.parametrize("schema", ["mlbench.result/2", "mlbench.result/1"])
@FUZZ
@given(data=st.data())
def test_fuzz_result_reader_damaged_real_file(fuzz_dir, real_result, reference, schema, data):
    """A real result file (as written, and as an earlier mlbench wrote it: schema 1, read through
    the migration) with one to three values replaced or deleted anywhere: read_result, the
    per-query reader and the export either work or raise a one-line MlbenchError."""
    doc = copy.deepcopy(real_result) if schema == "mlbench.result/2" else schema_1(real_result)
    for _ in range(data.draw(st.integers(1, 3))):
        holders = []

        def walk(node, depth=0):
            if depth > 4:
                return
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
            for k, v in items:
                holders.append((node, k))
                walk(v, depth + 1)

        walk(doc)
        holder, key = data.draw(st.sampled_from(holders))
        if isinstance(holder, dict) and data.draw(st.booleans()):
            del holder[key]
        else:
            holder[key] = data.draw(json_values)
    folder = fuzz_dir / "results"
    folder.mkdir(exist_ok=True)
    side = reference.path.with_name(reference.path.stem + ".perquery.npz")
    shutil.copyfile(side, folder / side.name)
    path = folder / reference.path.name
    path.write_text(json.dumps(doc))
    try:
        loaded = read_result(path)
        export_table(loaded, "tsv", None)
        loaded.per_query()
    except MlbenchError as exc:
        _assert_one_line(exc)
        assert str(folder) in str(exc), str(exc)
