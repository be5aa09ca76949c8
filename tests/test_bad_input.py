"""Bad input from users: damaged data files, task files, result files and pinned downloads are
refused with one line naming the file and the item, exit code 2 on the command line, and no result
file (docs/reliability.md)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import empty_or_absent, one_line_error, run_cli, task_dict, toml, user_task, xquad_raw

from mlbench.errors import MlbenchError
from mlbench.results import read_result
from mlbench.task import parse_task_file
from mlbench.data.tasks import get_task


# --------------------------------------------------------------------------------- bad data

def _drop_break(doc):
    doc["data"][0]["paragraphs"][0]["sentence_breaks"].pop()


def _answer_outside(doc):
    para = doc["data"][0]["paragraphs"][0]
    para["qas"][0]["answers"][0]["answer_start"] = len(para["context"]) + 100


def _duplicate_id(doc):
    qas = doc["data"][0]["paragraphs"][0]["qas"]
    qas[1]["id"] = qas[0]["id"]


BAD_DATA = {
    # case: (data mutation, task-file text or None, needles besides the file)
    "truncated": (lambda raw: raw[: len(raw) // 2], None, ["not valid JSON"]),
    "not-json": (lambda raw: b"<html><body>404 Not Found</body></html>", None, ["not valid JSON"]),
    "checksum": ("checksum", None, ["sha256 mismatch"]),
    "sentence-breaks": (_drop_break, None, ["article 0 paragraph 0", "7 sentences but 6 sentence_breaks"]),
    "answer-offset": (_answer_outside, None, ["article 0 paragraph 0 question 0", "answer_start 1435",
                                              "'56beb4343aeaaa14008c925b' lies in no sentence"]),
    "duplicate-id": (_duplicate_id, None, ["article 0 paragraph 0 question 1",
                                           "duplicate question id '56beb4343aeaaa14008c925b'"]),
    "toml-syntax": (None, 'name = "mine\nversion = "0"\n', ["mine.toml", "not valid TOML"]),
    "toml-missing-field": (None, "drop:format", ["mine.toml", "missing field 'format'"]),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_data_one_line_exit_2_no_output(case, tmp_path, fresh_home):
    mutate, task_text, needles = BAD_DATA[case]
    if mutate == "checksum":  # the task pins the real file; the copy on disk differs by one byte
        tasks, data, data_file = user_task(tmp_path)
        data_file.write_bytes(data_file.read_bytes().replace(b"Wie", b"Wer", 1))
    elif callable(mutate) and mutate.__name__ == "<lambda>":
        tasks, data, data_file = user_task(tmp_path, raw=mutate(xquad_raw("de")))
    elif callable(mutate):
        tasks, data, data_file = user_task(tmp_path, mutate_doc=mutate)
    else:
        text = task_text
        if task_text == "drop:format":
            spec = task_dict("0" * 64)
            del spec["format"]
            text = toml(spec)
        tasks, data, data_file = user_task(tmp_path, task_text=text)
    if "toml" not in case:
        needles = [str(data_file), *needles]
    out = tmp_path / "out"
    res = run_cli("run", "--model", "use-m3", "--task", "mine", "--tasks-dir", str(tasks), "--data-dir", str(data),
                  "--max-articles", "1", "--out", str(out), cwd=tmp_path)
    line = one_line_error(res, *needles)
    if "toml" in case:
        assert str(tasks / "mine.toml") in line
    assert empty_or_absent(out)
    assert not list(Path(os.environ["MLBENCH_HOME"]).glob("embeddings/*/shard-*.npz"))


def test_task_file_fields_that_become_paths_are_checked(tmp_path):
    """Names, language codes and the data path end up in file names and setting ids: a task file
    cannot point them outside their folders, nor use a placeholder other than {lang}."""
    digest = hashlib.sha256(xquad_raw("de")).hexdigest()
    cases = {
        "name": ({"name": "../../evil"}, "field 'name' '../../evil'"),
        "lang": ({"languages": ["*"], "source": {"sha256": {"*": digest}}}, "field 'languages' has '*'"),
        "placeholder": ({"source": {"path": "mine/{language}.json"}}, "field 'source.path' may only use the placeholders {lang} and {split}"),
        "absolute": ({"source": {"path": "/etc/{lang}.json"}}, "field 'source.path' must be relative"),
        "dotdot": ({"source": {"path": "../../{lang}.json"}}, "field 'source.path' must be relative"),
    }
    for name, (change, needle) in cases.items():
        spec = task_dict(digest)
        for k, v in change.items():
            if k == "source":
                for kk, vv in v.items():
                    spec["source"][kk] = vv
            else:
                spec[k] = v
        folder = tmp_path / name
        folder.mkdir()
        (folder / "mine.toml").write_text(toml(spec))
        with pytest.raises(MlbenchError) as err:
            parse_task_file(folder / "mine.toml")
        assert str(folder / "mine.toml") in str(err.value) and needle in str(err.value), str(err.value)
    res = run_cli("run", "--task", "mine", "--tasks-dir", str(tmp_path / "placeholder"), "--out", str(tmp_path / "out"),
                  cwd=tmp_path)
    one_line_error(res, "mine.toml", "{lang}")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- result files

@pytest.fixture()
def result_copy(reference, tmp_path) -> Path:
    folder = tmp_path / "results"
    shutil.copytree(reference.path.parent, folder)
    return folder / reference.path.name


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


BAD_RESULTS = {
    "not-json": (lambda p: p.write_text('{"schema": "mlbench.result/1", "task": '), ["not valid JSON"]),
    "schema": (lambda p: _edit(p, lambda d: d.update(schema="mlbench.result/99")),
               ["field 'schema' is 'mlbench.result/99'"]),
    "sidecar-missing": (lambda p: p.with_name(p.stem + ".perquery.npz").unlink(),
                        ["per-query file 'xquad-r--use-m3.perquery.npz' is missing", "per_query.file"]),
    "sidecar-sha256": (lambda p: p.with_name(p.stem + ".perquery.npz").write_bytes(
        p.with_name(p.stem + ".perquery.npz").read_bytes() + b"\0"), ["sha256 differs", "per_query.sha256"]),
    "missing-field": (lambda p: _edit(p, lambda d: d.pop("aggregates")), ["missing field 'aggregates'"]),
    "missing-nested-field": (lambda p: _edit(p, lambda d: d["settings"][1].pop("kind")), ["settings[1].kind"]),
}


@pytest.mark.parametrize("case", list(BAD_RESULTS))
def test_bad_result_fileone_line_error(case, result_copy, tmp_path):
    damage, needles = BAD_RESULTS[case]
    damage(result_copy)
    with pytest.raises(MlbenchError) as err:
        read_result(result_copy)
    message = str(err.value)
    assert "\n" not in message and str(result_copy.parent) in message, message
    for needle in needles:
        assert needle in message, (needle, message)
    res = run_cli("export", str(result_copy), cwd=tmp_path)
    one_line_error(res, *needles)
    assert res.stdout == ""


def test_data_pinned_by_sha256_everywhere(tmp_path, monkeypatch, fresh_home):
    from mlbench.data import sources

    copy_dir = tmp_path / "copy" / "xquad-r"
    copy_dir.mkdir(parents=True)
    (copy_dir / "de.json").write_bytes(xquad_raw("de").replace(b"Wie", b"Wer", 1))
    res = run_cli("run", "--task", "xquad-r", "--langs", "de", "--data-dir", str(tmp_path / "copy"),
                  "--out", str(tmp_path / "out"), cwd=tmp_path)
    one_line_error(res, str(copy_dir / "de.json"), "sha256 mismatch")  # refused, not replaced by the embedded copy
    assert not (tmp_path / "out").exists()
    # the download cache is checked too
    cached = Path(os.environ["MLBENCH_HOME"]) / "data" / "mlqa-r" / "de.json"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b'{"data": []}')  # not the pinned file (MLQA-R itself is not needed to show it)
    res = run_cli("run", "--task", "mlqa-r", "--langs", "de", "--out", str(tmp_path / "out"), cwd=tmp_path)
    one_line_error(res, str(cached), "sha256 mismatch")
    cached.unlink()
    # and a download: bytes that differ from the pin are refused and never stored

    class Response(io.BytesIO):
        def __enter__(self):
            return self

    monkeypatch.delenv("MLBENCH_OFFLINE")
    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda url, timeout: Response(b'{"data": []}'))
    with pytest.raises(MlbenchError, match=r"https://raw\.githubusercontent\.com/\S+/mlqa-r/de\.json: sha256 mismatch"):
        sources.fetch(get_task("mlqa-r"), "de")
    assert not cached.exists() and not list(cached.parent.iterdir())
