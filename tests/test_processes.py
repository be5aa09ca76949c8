"""Real processes: identical runs give identical files, a run stopped by SIGINT or SIGKILL in the
middle of encoding keeps its verified work and resumes, two runs at once share one cache, and
nothing unsafe is loaded (docs/reliability.md)."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import TESTS, empty_or_absent, metrics_of, run_cli, shards

from mlbench.data import load_task
from mlbench.embedding.cache import EmbeddingCache, text_key
from mlbench.results import read_result
from mlbench.data.tasks import get_task

SLICE_ARGS = ("--task", "xquad-r", "--langs", "de,en,zh", "--max-articles", "1")


def _strip(doc: dict) -> dict:
    """A result document without what may differ between identical runs."""
    doc = copy.deepcopy(doc)
    doc.pop("created")
    doc["run"].pop("timings_s")
    doc["run"]["encoding"].pop("cache_dir", None)
    return doc


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
    fp = docs[0]["run"]["encoding"]["fingerprint"]
    assert docs[0]["created"] and docs[0]["run"]["encoding"]["cache_dir"] == f"MLBENCH_HOME/embeddings/{fp}"  # no machine path
    assert _strip(docs[0]) == _strip(docs[1])  # every metric, aggregate, per-query sha256, provenance
    assert sidecars[0] == sidecars[1]  # per-query values byte for byte


# ------------------------------------------------------------------------------ interruption

FULL_ARGS = ("run", "--model", "use-m3", "--task", "xquad-r", "--langs", "de,en")
# the interrupted run: use-m3 taking 0.3 s more per batch (same cache), so that it is still encoding
# well after its first shard, whatever the machine's speed
SLOW_ARGS = ("run", "--model", "plugins:slow", "--task", "xquad-r", "--langs", "de,en")


def _start_run(home: Path, out: Path, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "MLBENCH_HOME": str(home), "COLUMNS": "200", "PYTHONPATH": str(TESTS)}
    # default SIGINT handling in the child, as in a terminal (a shell may start jobs with it ignored)
    return subprocess.Popen([sys.executable, "-m", "mlbench.cli", *SLOW_ARGS, "--out", str(out)], cwd=cwd, env=env,
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
    texts = {text_key("query", "", t): ("query", t) for d in data.langs.values() for t in d.queries.texts}
    texts |= {text_key("candidate", "", t): ("candidate", t) for d in data.langs.values() for t in d.candidates.texts}
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
    assert set(shards(cache_dir)) == set(texts)
    return enc


@pytest.mark.slow
def test_sigint_mid_encoding_keeps_verified_work_and_resumes(tmp_path, use):
    home, out, proc, err, cache_dir, first_rows = _interrupt_after_first_shard(tmp_path, signal.SIGINT, 1.0)
    assert proc.returncode == 130 and "Traceback" not in err, (proc.returncode, err)
    assert empty_or_absent(out)  # no result file
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]  # atomic writes cleaned up
    cached = shards(cache_dir)
    # the `finally` flush kept the batches verified after the first shard (when there were any)
    assert 2048 <= first_rows <= len(cached) < 4825
    n_shards = len(list(cache_dir.glob("shard-*.npz")))
    enc = _check_resume(tmp_path, home, cache_dir, cached, use)
    print(f"SIGINT: first shard {first_rows} texts, {len(cached)} cached in {n_shards} shards at the interrupt; "
          f"rerun {enc}")


@pytest.mark.slow
def test_sigkill_mid_encoding_loses_only_unflushed_work(tmp_path, use):
    home, out, proc, err, cache_dir, first_rows = _interrupt_after_first_shard(tmp_path, signal.SIGKILL, 1.0)
    assert proc.returncode == -signal.SIGKILL
    assert empty_or_absent(out)
    cached = shards(cache_dir)
    assert len(cached) == first_rows >= 2048  # what was verified but not flushed is lost, nothing else
    # a kill during a shard write leaves a hidden temporary file; readers only glob shard-*.npz
    shard = next(cache_dir.glob("shard-*.npz"))
    (cache_dir / f".{shard.name}.k1ll3d00.tmp").write_bytes(shard.read_bytes()[:5000])
    assert len(EmbeddingCache(cache_dir.name, {}, home / "embeddings")) == len(cached)
    enc = _check_resume(tmp_path, home, cache_dir, cached, use)
    print(f"SIGKILL: {len(cached)} texts cached at the kill; rerun {enc}")


# ------------------------------------------------------------------------------- concurrency

@pytest.mark.slow
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
    assert metrics_of(docs[0]) == metrics_of(docs[1])
    assert docs[0]["per_query"]["sha256"] == docs[1]["per_query"]["sha256"]
    for doc in docs:
        read_result(tmp_path / ("a" if doc is docs[0] else "b") / "xquad-r--use-m3.json").per_query()
        enc = doc["run"]["encoding"]
        assert enc["from_cache"] + enc["encoded"] == enc["unique_texts"]
    (cache_dir,) = (home / "embeddings").iterdir()
    stored = shards(cache_dir)
    assert len(stored) == docs[0]["run"]["encoding"]["unique_texts"]
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]
    # a third run reads everything from the shared cache and agrees
    res = run_cli(*args[3:], "--out", str(tmp_path / "c"), cwd=tmp_path, env={"MLBENCH_HOME": str(home)})
    assert res.returncode == 0, res.stderr
    third = json.loads((tmp_path / "c" / "xquad-r--use-m3.json").read_text())
    assert third["run"]["encoding"]["encoded"] == 0 and metrics_of(third) == metrics_of(docs[0])
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


def test_no_archive_extraction_in_mlbench():
    """No archive is ever extracted and nothing unpickled; a zip is only ever written (the
    per-query sidecar, an .npz that numpy reads with allow_pickle=False)."""
    import mlbench

    root = Path(mlbench.__file__).resolve().parent
    for f in root.rglob("*.py"):
        text = f.read_text()
        for word in ("extractall", "unpack_archive", "tarfile", "pickle.load"):
            assert word not in text, (f, word)
        for call in re.findall(r"ZipFile\(([^)]*)\)", text):
            assert '"w"' in call, (f, call)
