"""Reliability and safety: bad input, interruption, concurrency, determinism (docs/reliability.md).

Real files (the LAReQA releases in ../shared and modified copies of them), real processes (the
``mlbench`` command in subprocesses, signalled mid-run), and hypothesis-driven fuzzing of the three
readers of user files. Every failure caused by input must be one ``MlbenchError`` line naming the
file and the item, exit code 2 on the command line, and must leave no result file behind.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import run_cli
from mlbench.cache import EmbeddingCache, text_key
from mlbench.data import LangData
from mlbench.encoders.base import fingerprint
from mlbench.errors import MlbenchError
from mlbench.formats import load_task
from mlbench.formats.lareqa import _parse, parse_lang
from mlbench.results import export_table, read_result
from mlbench.runner import RunConfig, run
from mlbench.taskspec import TaskSpec, get_task, parse_task_file

SLICE_ARGS = ("--task", "xquad-r", "--langs", "de,en,zh", "--max-articles", "1")
SMALL = dict(tasks=["xquad-r"], langs=["de", "en"], max_articles=1)  # 188 texts: fast in-process runs
# MLBENCH_FUZZ_EXAMPLES=4000 for a longer search (run once on this machine: no failure, ~4 min)
FUZZ = settings(max_examples=int(os.environ.get("MLBENCH_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------- helpers

def _one_line_error(res: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2 and exactly one ``mlbench: error:`` line on stderr that contains every needle."""
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlbench: error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _empty_or_absent(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def _shards(cache_dir: Path) -> dict[bytes, np.ndarray]:
    """Every shard of a cache folder, loaded without pickle and verified; key -> vector."""
    out: dict[bytes, np.ndarray] = {}
    shards = sorted(cache_dir.glob("shard-*.npz"))
    assert shards, f"no shard in {cache_dir}"
    for shard in shards:
        with np.load(shard, allow_pickle=False) as z:
            assert sorted(z.files) == ["keys", "vectors"]
            keys, vectors = z["keys"], z["vectors"]
        assert keys.dtype == np.uint8 and vectors.dtype == np.float32 and vectors.ndim == 2
        assert keys.shape == (len(vectors), 32) and vectors.shape[1] > 0
        assert np.isfinite(vectors).all(), shard
        for key, vec in zip(keys, vectors):
            out.setdefault(key.tobytes(), vec)
    return out


def _strip(doc: dict) -> dict:
    """A result document without what may differ between identical runs."""
    doc = copy.deepcopy(doc)
    doc.pop("created")
    doc["run"].pop("timings_s")
    doc["run"]["encoding"].pop("cache_dir", None)
    return doc


def _metrics(doc: dict) -> tuple:
    return [(s["id"], s["metrics"]) for s in doc["settings"]], doc["aggregates"]


def _toml(data: dict) -> str:
    """A small TOML writer (strings, integers, booleans, floats, lists, one level of tables and
    their sub-tables), enough for task files."""

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(v)

    lines, tables = [], []
    for k, v in data.items():
        (tables if isinstance(v, dict) else lines).append((k, v))
    out = [f"{json.dumps(k)} = {value(v)}" for k, v in lines]
    for k, table in tables:
        out.append(f"[{json.dumps(k)}]")
        out += [f"{json.dumps(kk)} = {value(vv)}" for kk, vv in table.items()]
    return "\n".join(out) + "\n"


def _task_dict(digest: str) -> dict:
    return {"name": "mine", "version": "0", "format": "lareqa", "languages": ["de"], "kinds": ["mono"],
            "metrics": ["map"], "source": {"type": "files", "path": "mine/{lang}.json", "sha256": {"de": digest}}}


def _user_task(tmp_path: Path, lareqa_dir: Path, mutate_doc=None, raw: bytes | None = None,
               task_text: str | None = None) -> tuple[Path, Path, Path]:
    """A user task in a temporary --tasks-dir over a modified copy of XQuAD-R de.json, its sha256
    pinned to the copy. Returns (tasks dir, data dir, data file)."""
    source = (lareqa_dir / "xquad-r" / "de.json").read_bytes()
    if mutate_doc is not None:
        doc = json.loads(source)
        mutate_doc(doc)
        source = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    data = raw if raw is not None else source
    data_file = tmp_path / "data" / "mine" / "de.json"
    data_file.parent.mkdir(parents=True)
    data_file.write_bytes(data)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "mine.toml").write_text(task_text if task_text is not None
                                     else _toml(_task_dict(hashlib.sha256(data).hexdigest())))
    return tasks, tmp_path / "data", data_file


@pytest.fixture(scope="module")
def use():
    from mlbench.encoders.usem3 import create

    return create()


@pytest.fixture(scope="module")
def reference(use, tmp_path_factory):
    """An uninterrupted run of use-m3 on the small slice, with its own cache: the expected result."""
    root = tmp_path_factory.mktemp("reference")
    (out,) = run(RunConfig(out_dir=root / "out", cache_dir=root / "cache", **SMALL), model=use)
    return out


# ------------------------------------------------------------------------------ determinism

def test_determinism_two_cli_runs_fresh_caches(tmp_path):
    docs, sidecars = [], []
    for name in ("a", "b"):  # same command line (relative --out) in two folders, two fresh homes
        (tmp_path / name).mkdir()
        res = run_cli("run", "--model", "use-m3", *SLICE_ARGS, "--out", "out",
                      cwd=tmp_path / name, env={"MLBENCH_HOME": str(tmp_path / name / "home")})
        assert res.returncode == 0, res.stderr
        docs.append(json.loads((tmp_path / name / "out" / "xquad-r--use-m3.json").read_text()))
        sidecars.append((tmp_path / name / "out" / "xquad-r--use-m3.perquery.npz").read_bytes())
    assert docs[0]["run"]["encoding"]["from_cache"] == docs[1]["run"]["encoding"]["from_cache"] == 0
    assert docs[0]["run"]["encoding"]["encoded"] == 281
    assert docs[0]["created"] and docs[0]["run"]["encoding"]["cache_dir"] != docs[1]["run"]["encoding"]["cache_dir"]
    assert _strip(docs[0]) == _strip(docs[1])  # every metric, aggregate, per-query sha256, provenance
    assert sidecars[0] == sidecars[1]  # per-query values byte for byte


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
def test_bad_data_one_line_exit_2_no_output(case, tmp_path, lareqa_dir):
    mutate, task_text, needles = BAD_DATA[case]
    if mutate == "checksum":  # the task pins the real file; the copy on disk differs by one byte
        tasks, data, data_file = _user_task(tmp_path, lareqa_dir)
        data_file.write_bytes(data_file.read_bytes().replace(b"Wie", b"Wer", 1))
    elif callable(mutate) and mutate.__name__ == "<lambda>":
        tasks, data, data_file = _user_task(tmp_path, lareqa_dir, raw=mutate((lareqa_dir / "xquad-r" / "de.json").read_bytes()))
    elif callable(mutate):
        tasks, data, data_file = _user_task(tmp_path, lareqa_dir, mutate_doc=mutate)
    else:
        text = task_text
        if task_text == "drop:format":
            spec = _task_dict("0" * 64)
            del spec["format"]
            text = _toml(spec)
        tasks, data, data_file = _user_task(tmp_path, lareqa_dir, task_text=text)
    if "toml" not in case:
        needles = [str(data_file), *needles]
    out = tmp_path / "out"
    res = run_cli("run", "--model", "use-m3", "--task", "mine", "--tasks-dir", str(tasks), "--data-dir", str(data),
                  "--max-articles", "1", "--out", str(out), cwd=tmp_path)
    line = _one_line_error(res, *needles)
    if "toml" in case:
        assert str(tasks / "mine.toml") in line
    assert _empty_or_absent(out)
    assert not list(Path(os.environ["MLBENCH_HOME"]).glob("embeddings/*/shard-*.npz"))


def test_task_file_fields_that_become_paths_are_checked(tmp_path, lareqa_dir):
    """Names, language codes and the data path end up in file names and setting ids: a task file
    cannot point them outside their folders, nor use a placeholder other than {lang}."""
    digest = hashlib.sha256((lareqa_dir / "xquad-r" / "de.json").read_bytes()).hexdigest()
    cases = {
        "name": ({"name": "../../evil"}, "field 'name' '../../evil'"),
        "lang": ({"languages": ["*"], "source": {"sha256": {"*": digest}}}, "field 'languages' has '*'"),
        "placeholder": ({"source": {"path": "mine/{language}.json"}}, "field 'source.path' may only use the placeholder {lang}"),
        "absolute": ({"source": {"path": "/etc/{lang}.json"}}, "field 'source.path' must be relative"),
        "dotdot": ({"source": {"path": "../../{lang}.json"}}, "field 'source.path' must be relative"),
    }
    for name, (change, needle) in cases.items():
        spec = _task_dict(digest)
        for k, v in change.items():
            if k == "source":
                for kk, vv in v.items():
                    spec["source"][kk] = vv
            else:
                spec[k] = v
        folder = tmp_path / name
        folder.mkdir()
        (folder / "mine.toml").write_text(_toml(spec))
        with pytest.raises(MlbenchError) as err:
            parse_task_file(folder / "mine.toml")
        assert str(folder / "mine.toml") in str(err.value) and needle in str(err.value), str(err.value)
    res = run_cli("run", "--task", "mine", "--tasks-dir", str(tmp_path / "placeholder"), "--out", str(tmp_path / "out"),
                  cwd=tmp_path)
    _one_line_error(res, "mine.toml", "{lang}")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------ bad encoder output

class Faulty:
    """use-m3, except that batch ``at`` comes back broken in one way."""

    def __init__(self, inner, fault: str, at: int = 2) -> None:
        self.inner, self.fault, self.at, self.name = inner, fault, at, inner.name
        self.batches: list[tuple[str, str, list[str]]] = []

    def describe(self):
        return self.inner.describe()  # same fingerprint as the good encoder: same cache

    def encode(self, texts, kind, lang):
        self.batches.append((kind, lang, list(texts)))
        if len(self.batches) - 1 != self.at:
            return self.inner.encode(texts, kind, lang)
        if self.fault == "raises":
            raise RuntimeError("CUDA out of memory (simulated)")
        out = self.inner.encode(texts, kind, lang)
        if self.fault == "nan":
            out[0, 0] = np.nan
        elif self.fault == "inf":
            out[-1, 7] = np.inf
        elif self.fault == "rows":
            out = out[:-1]
        elif self.fault == "dim":
            out = out[:, :256]
        elif self.fault == "text":
            out = np.full(out.shape, "n/a")
        return out


BAD_OUTPUT = {
    "nan": r"returned NaN or inf in 1 of {n} rows",
    "inf": r"returned NaN or inf in 1 of {n} rows",
    "rows": r"returned shape \({m}, 512\) for {n} texts",
    "dim": r"returned dimension 256, earlier batches had 512",
    "raises": r"raised RuntimeError: CUDA out of memory \(simulated\)",
    "text": r"returned dtype <U3, not numbers",
}


@pytest.mark.parametrize("fault", list(BAD_OUTPUT))
def test_bad_encoder_output_is_refused_and_never_cached(fault, tmp_path, use, reference, monkeypatch):
    monkeypatch.setattr("mlbench.encoding.FLUSH_ROWS", 1)  # every verified batch reaches the cache at once
    bad = Faulty(use, fault)
    with pytest.raises(MlbenchError) as err:
        run(RunConfig(out_dir=tmp_path / "out", **SMALL), model=bad)
    kind, lang, texts = bad.batches[bad.at]
    n = len(texts)
    expected = rf"^encoder use-m3, {kind} batch \d+ \({lang}, {n} texts\): " + BAD_OUTPUT[fault].format(n=n, m=n - 1)
    assert "\n" not in str(err.value)
    assert re.match(expected, str(err.value)), str(err.value)
    assert not (tmp_path / "out").exists()
    # the cache holds exactly the verified batches before the bad one
    desc = use.describe()
    cache = EmbeddingCache(fingerprint(desc), desc)
    stored = _shards(cache.dir)
    good = [(k, t) for k, _, ts in bad.batches[: bad.at] for t in ts]
    assert set(stored) == {text_key(k, "", t) for k, t in good} and len(cache) == len(good)
    assert not any(text_key(kind, "", t) in cache for t in texts)
    # a rerun with a good encoder of the same fingerprint resumes and gives the reference result
    (out,) = run(RunConfig(out_dir=tmp_path / "again", **SMALL), model=use)
    enc = out.doc["run"]["encoding"]
    assert enc["from_cache"] == len(good) and enc["encoded"] == enc["unique_texts"] - len(good) == 188 - len(good)
    assert _metrics(out.doc) == _metrics(reference.doc)


class Reusing:
    """An encoder that returns a view of one output buffer it overwrites on every call (as runtimes
    with preallocated output bindings do). Each returned array is correct when returned."""

    def __init__(self, inner) -> None:
        self.inner, self.name = inner, inner.name
        self.buffer = np.zeros((512, 512), dtype=np.float32)

    def describe(self):
        return self.inner.describe()

    def encode(self, texts, kind, lang):
        view = self.buffer[: len(texts)]
        view[:] = self.inner.encode(texts, kind, lang)
        return view


def test_encoder_reusing_its_output_buffer_gives_correct_results(tmp_path, use, reference):
    (out,) = run(RunConfig(out_dir=tmp_path / "out", **SMALL), model=Reusing(use))
    assert out.doc["run"]["encoding"]["batches"] > 1
    assert _metrics(out.doc) == _metrics(reference.doc)
    desc = use.describe()
    data = load_task(get_task("xquad-r"), SMALL["langs"], max_articles=1)
    texts = data.langs["de"].query_texts[:4] + data.langs["en"].cand_texts[:4]
    kinds = ["query"] * 4 + ["candidate"] * 4
    stored = _shards(EmbeddingCache(fingerprint(desc), desc).dir)
    fresh = use.encode(texts, "query", "de")
    for i, (k, t) in enumerate(zip(kinds, texts)):
        np.testing.assert_allclose(stored[text_key(k, "", t)], fresh[i], atol=1e-5)


def test_unreadable_shard_is_ignored_not_fatal(tmp_path):
    """A shard damaged outside mlbench (a disk error, a partial copy of the cache) is skipped with a
    warning; only whole, verified shards are ever read."""
    desc = {"type": "test", "dim": 4}
    cache = EmbeddingCache("f" * 24, desc, tmp_path)
    keys = [text_key("query", "", f"t{i}") for i in range(10)]
    cache.put_many(keys, np.arange(40, dtype=np.float32).reshape(10, 4))
    (good,) = cache.dir.glob("shard-*.npz")
    blob = good.read_bytes()
    (cache.dir / "shard-truncated.npz").write_bytes(blob[: len(blob) // 2])
    (cache.dir / "shard-empty.npz").write_bytes(b"")
    (cache.dir / "shard-garbage.npz").write_bytes(b"PK\x03\x04" + os.urandom(64))
    (cache.dir / f".{good.name}.abcd1234.tmp").write_bytes(blob[:100])  # a write killed mid-way
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = EmbeddingCache("f" * 24, desc, tmp_path)
    assert len(again) == 10 and again.dim == 4
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 3 and all("ignoring unreadable shard" in m for m in messages), messages
    for name in ("shard-empty.npz", "shard-garbage.npz", "shard-truncated.npz"):
        assert any(name in m for m in messages), (name, messages)
    np.testing.assert_array_equal(again.get_many(keys[3:5]), [[12, 13, 14, 15], [16, 17, 18, 19]])


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
def test_bad_result_file_one_line_error(case, result_copy, tmp_path):
    damage, needles = BAD_RESULTS[case]
    damage(result_copy)
    with pytest.raises(MlbenchError) as err:
        read_result(result_copy)
    message = str(err.value)
    assert "\n" not in message and str(result_copy.parent) in message, message
    for needle in needles:
        assert needle in message, (needle, message)
    res = run_cli("export", str(result_copy), cwd=tmp_path)
    _one_line_error(res, *needles)
    assert res.stdout == ""


# ------------------------------------------------------------------------------ interruption

FULL_ARGS = ("run", "--model", "use-m3", "--task", "xquad-r", "--langs", "de,en")


def _start_run(home: Path, out: Path, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "MLBENCH_HOME": str(home), "COLUMNS": "200"}
    # default SIGINT handling in the child, as in a terminal (a shell may start jobs with it ignored)
    return subprocess.Popen([sys.executable, "-m", "mlbench.cli", *FULL_ARGS, "--out", str(out)], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _interrupt_after_first_shard(tmp_path: Path, sig: int, wait_s: float) -> tuple:
    """Start the run, wait for its first shard (2048+ texts) and ``wait_s`` more seconds (a few
    more batches verified but not yet flushed), then send ``sig``. Returns the home, the --out
    folder, the process, its stderr, the cache folder and the first shard's row count."""
    home, out = tmp_path / "home", tmp_path / "out"
    proc = _start_run(home, out, tmp_path)
    deadline = time.monotonic() + 240
    try:
        while not (first := list(home.glob("embeddings/*/shard-*.npz"))):
            assert proc.poll() is None, f"run ended before its first shard: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no shard written in time"
            time.sleep(0.05)
        time.sleep(wait_s)
        assert proc.poll() is None, "run ended before the signal"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with np.load(first[0], allow_pickle=False) as z:
        first_rows = len(z["keys"])
    return home, out, proc, err, first[0].parent, first_rows


def _check_resume(tmp_path: Path, home: Path, cache_dir: Path, cached: dict[bytes, np.ndarray], use) -> dict:
    """Rerun the same command: it must finish, reading every cached text and encoding only the
    others; and the cached vectors must be the encoder's (checked on a sample)."""
    data = load_task(get_task("xquad-r"), ["de", "en"])
    texts = {text_key("query", "", t): ("query", t) for d in data.langs.values() for t in d.query_texts}
    texts |= {text_key("candidate", "", t): ("candidate", t) for d in data.langs.values() for t in d.cand_texts}
    assert len(texts) == 4825 and set(cached) <= set(texts)
    sample = sorted(cached)[:: max(1, len(cached) // 12)][:12]
    for key in sample:
        kind, text = texts[key]
        np.testing.assert_allclose(cached[key], use.encode([text], kind, "de")[0], atol=1e-5)
    res = run_cli(*FULL_ARGS, "--out", str(tmp_path / "out2"), cwd=tmp_path, env={"MLBENCH_HOME": str(home)})
    assert res.returncode == 0, res.stderr
    enc = json.loads((tmp_path / "out2" / "xquad-r--use-m3.json").read_text())["run"]["encoding"]
    assert enc["unique_texts"] == 4825
    assert enc["from_cache"] == len(cached) and enc["encoded"] == 4825 - len(cached)
    assert set(_shards(cache_dir)) == set(texts)
    return enc


def test_sigint_mid_encoding_keeps_verified_work_and_resumes(tmp_path, use):
    home, out, proc, err, cache_dir, first_rows = _interrupt_after_first_shard(tmp_path, signal.SIGINT, 3.0)
    assert proc.returncode == 130 and "Traceback" not in err, (proc.returncode, err)
    assert _empty_or_absent(out)  # no result file
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]  # atomic writes cleaned up
    cached = _shards(cache_dir)
    # the `finally` flush kept the batches verified after the first shard (when there were any)
    assert 2048 <= first_rows <= len(cached) < 4825
    n_shards = len(list(cache_dir.glob("shard-*.npz")))
    enc = _check_resume(tmp_path, home, cache_dir, cached, use)
    print(f"SIGINT: first shard {first_rows} texts, {len(cached)} cached in {n_shards} shards at the interrupt; "
          f"rerun {enc}")


def test_sigkill_mid_encoding_loses_only_unflushed_work(tmp_path, use):
    home, out, proc, err, cache_dir, first_rows = _interrupt_after_first_shard(tmp_path, signal.SIGKILL, 3.0)
    assert proc.returncode == -signal.SIGKILL
    assert _empty_or_absent(out)
    cached = _shards(cache_dir)
    assert len(cached) == first_rows >= 2048  # what was verified but not flushed is lost, nothing else
    # a kill during a shard write leaves a hidden temporary file; readers only glob shard-*.npz
    shard = next(cache_dir.glob("shard-*.npz"))
    (cache_dir / f".{shard.name}.k1ll3d00.tmp").write_bytes(shard.read_bytes()[:5000])
    assert len(EmbeddingCache(cache_dir.name, {}, home / "embeddings")) == len(cached)
    enc = _check_resume(tmp_path, home, cache_dir, cached, use)
    print(f"SIGKILL: {len(cached)} texts cached at the kill; rerun {enc}")


# ------------------------------------------------------------------------------- concurrency

def test_two_concurrent_runs_share_one_cache(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "MLBENCH_HOME": str(home), "COLUMNS": "200"}
    args = [sys.executable, "-m", "mlbench.cli", "run", "--model", "use-m3", "--task", "xquad-r",
            "--langs", "de,en,zh", "--max-articles", "3"]
    procs = [subprocess.Popen([*args, "--out", str(tmp_path / name)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    docs = [json.loads((tmp_path / name / "xquad-r--use-m3.json").read_text()) for name in ("a", "b")]
    assert _metrics(docs[0]) == _metrics(docs[1])
    assert docs[0]["per_query"]["sha256"] == docs[1]["per_query"]["sha256"]
    for doc in docs:
        read_result(tmp_path / ("a" if doc is docs[0] else "b") / "xquad-r--use-m3.json").per_query()
        enc = doc["run"]["encoding"]
        assert enc["from_cache"] + enc["encoded"] == enc["unique_texts"]
    (cache_dir,) = (home / "embeddings").iterdir()
    stored = _shards(cache_dir)
    assert len(stored) == docs[0]["run"]["encoding"]["unique_texts"]
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]
    # a third run reads everything from the shared cache and agrees
    res = run_cli(*args[3:], "--out", str(tmp_path / "c"), cwd=tmp_path, env={"MLBENCH_HOME": str(home)})
    assert res.returncode == 0, res.stderr
    third = json.loads((tmp_path / "c" / "xquad-r--use-m3.json").read_text())
    assert third["run"]["encoding"]["encoded"] == 0 and _metrics(third) == _metrics(docs[0])
    print("concurrent runs:", [d["run"]["encoding"] for d in docs], "shards:", len(list(cache_dir.glob("shard-*"))))


# ------------------------------------------------------------------------------------ safety

def test_sentence_transformers_run_no_remote_code_no_pickle(tmp_path):
    home = tmp_path / "home"
    res = run_cli("run", "--model", "minilm", "--task", "xquad-r", "--langs", "en", "--max-articles", "1",
                  "--kinds", "mono", "--out", str(tmp_path / "out"), cwd=tmp_path, env={"MLBENCH_HOME": str(home)})
    assert res.returncode == 0, res.stderr
    (path,) = (tmp_path / "out").glob("*.json")
    doc = json.loads(path.read_text())  # plain JSON: no object hooks needed
    assert doc["model"]["encoder"]["type"] == "sentence-transformers"
    assert doc["model"]["encoder"]["trust_remote_code"] is False
    npz = sorted(home.rglob("*.npz")) + sorted((tmp_path / "out").glob("*.npz"))
    assert len(npz) >= 2
    for f in npz:  # every array loads without pickle, none holds Python objects
        with np.load(f, allow_pickle=False) as z:
            assert all(z[k].dtype != object for k in z.files)
    assert read_result(path).per_query()


def test_data_pinned_by_sha256_everywhere(tmp_path, lareqa_dir, monkeypatch):
    from mlbench import sources

    copy_dir = tmp_path / "copy" / "xquad-r"
    copy_dir.mkdir(parents=True)
    (copy_dir / "de.json").write_bytes((lareqa_dir / "xquad-r" / "de.json").read_bytes().replace(b"Wie", b"Wer", 1))
    res = run_cli("run", "--task", "xquad-r", "--langs", "de", "--data-dir", str(tmp_path / "copy"),
                  "--out", str(tmp_path / "out"), cwd=tmp_path)
    _one_line_error(res, str(copy_dir / "de.json"), "sha256 mismatch")  # refused, not replaced by the embedded copy
    assert not (tmp_path / "out").exists()
    # the download cache is checked too
    cached = Path(os.environ["MLBENCH_HOME"]) / "data" / "mlqa-r" / "de.json"
    cached.parent.mkdir(parents=True)
    cached.write_bytes((lareqa_dir / "mlqa-r" / "de.json").read_bytes()[:-1])
    res = run_cli("run", "--task", "mlqa-r", "--langs", "de", "--out", str(tmp_path / "out"), cwd=tmp_path)
    _one_line_error(res, str(cached), "sha256 mismatch")
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


def test_no_archive_extraction_in_mlbench():
    root = Path(__file__).resolve().parents[1] / "mlbench"
    for f in root.rglob("*.py"):
        text = f.read_text()
        for word in ("extractall", "unpack_archive", "tarfile", "ZipFile(", "pickle.load"):
            assert word not in text, (f, word)


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
    spec = _task_dict("a" * 64)
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
@example({**_task_dict("a" * 64), "source": {"type": "files", "path": "mine/{language}.json", "sha256": {"de": "a" * 64}}})
@example({**_task_dict("a" * 64), "name": "../../evil"})
def test_fuzz_task_file_fields(fuzz_dir, spec):
    path = _fuzz_file(fuzz_dir, _toml(spec).encode(), ".toml")
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


def _check_lang_data(out: LangData, doc) -> None:
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
                 st.dictionaries(st.sampled_from(["schema", "task", "model", "run", "environment", "settings",
                                                  "aggregates", "per_query"]), json_values)
                 .map(lambda d: json.dumps({"schema": "mlbench.result/1", **d}).encode())))
@example(b"[" * 100_000)
def test_fuzz_result_reader_bytes_and_objects(fuzz_dir, raw):
    _reads_or_fails_in_one_line(read_result, _fuzz_file(fuzz_dir, raw, ".json"))


@pytest.fixture(scope="module")
def real_result(reference) -> dict:
    return json.loads(reference.path.read_text())


@FUZZ
@given(data=st.data())
def test_fuzz_result_reader_damaged_real_file(fuzz_dir, real_result, reference, data):
    """A real result file with one to three values replaced or deleted anywhere: read_result, the
    per-query reader and the export either work or raise a one-line MlbenchError."""
    doc = copy.deepcopy(real_result)
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
