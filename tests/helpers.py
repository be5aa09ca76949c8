"""What the tests share: data locations, the command line in a subprocess, and small real
encoders' wrappers. Imported by test modules (never from conftest)."""

from __future__ import annotations

import collections
import functools
import gzip
import hashlib
import json
import lzma
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
MIRACL_FIXTURE = FIXTURES / "miracl"
MIRACL_LANGS = ("yo", "te")  # the fixture's languages
SHARED = Path(os.environ.get("MLBENCH_SHARED", TESTS.parents[1] / "shared"))
LAREQA_SHARED = SHARED / "data" / "lareqa"


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, columns: int = 200,
            timeout: float = 900) -> subprocess.CompletedProcess:
    """The installed command in a subprocess, output piped (not a terminal), ``COLUMNS`` wide."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)  # a checkout on the path stays first
    full_env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": path, **(env or {})}
    return subprocess.run([sys.executable, "-m", "mlbench.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=timeout)


def one_line_error(res: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2 and exactly one ``mlbench: error:`` line on stderr that holds every needle."""
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlbench: error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def empty_or_absent(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def shards(cache_dir: Path) -> dict[bytes, np.ndarray]:
    """Every shard of a cache folder, loaded without pickle and verified; key -> vector."""
    out: dict[bytes, np.ndarray] = {}
    files = sorted(cache_dir.glob("shard-*.npz"))
    assert files, f"no shard in {cache_dir}"
    for shard in files:
        with np.load(shard, allow_pickle=False) as z:
            assert sorted(z.files) == ["keys", "vectors"]
            keys, vectors = z["keys"], z["vectors"]
        assert keys.dtype == np.uint8 and vectors.dtype == np.float32 and vectors.ndim == 2
        assert keys.shape == (len(vectors), 32) and vectors.shape[1] > 0
        assert np.isfinite(vectors).all(), shard
        for key, vec in zip(keys, vectors):
            out.setdefault(key.tobytes(), vec)
    return out


def metrics_of(result) -> tuple:
    """Every figure of a result (a typed Result, or its JSON document as read from the file):
    setting means and aggregates."""
    doc = result if isinstance(result, dict) else result.to_dict()
    return [(s["id"], s["metrics"]) for s in doc["settings"]], doc["aggregates"]


def toml(data: dict) -> str:
    """A small TOML writer (strings, numbers, booleans, lists, one level of tables), enough for task
    files."""

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


def task_dict(digest: str) -> dict:
    """A user task ``mine``: XQuAD-R's format, one language, the data file pinned by ``digest``."""
    return {"name": "mine", "version": "0", "format": "lareqa", "languages": ["de"], "kinds": ["mono"],
            "metrics": ["map"], "source": {"type": "files", "path": "mine/{lang}.json", "sha256": {"de": digest}}}


def user_task(tmp_path: Path, mutate_doc=None, raw: bytes | None = None,
              task_text: str | None = None) -> tuple[Path, Path, Path]:
    """A user task in a temporary --tasks-dir over a (modified) copy of XQuAD-R de.json, its sha256
    pinned to the copy. Returns (tasks dir, data dir, data file)."""
    source = xquad_raw("de")
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
                                     else toml(task_dict(hashlib.sha256(data).hexdigest())))
    return tasks, tmp_path / "data", data_file


def xquad_raw(lang: str) -> bytes:
    """The upstream XQuAD-R file of ``lang`` (from the copy embedded in the package)."""
    path = Path(str(resources.files("mlbench"))) / "data" / "embedded" / "xquad-r" / f"{lang}.json.xz"
    return lzma.decompress(path.read_bytes())


def mlqa_dir() -> Path:
    """A folder holding ``mlqa-r/{lang}.json`` (CC BY-NC, never shipped): ``MLBENCH_TEST_MLQA`` (the
    user's ``MLBENCH_DATA_DIR`` by default), ``../shared/data/lareqa``, or mlbench's own pinned,
    checksummed download into the session's data cache. Only tests marked ``mlqa`` may ask for it:
    conftest skips those, with the reason, where none of the three can give MLQA-R; any other test
    that asks for it there fails."""
    local = _local_mlqa()
    if local is not None:
        return local
    why = mlqa_missing()
    if why:
        pytest.fail(f"a test not marked 'mlqa' needs MLQA-R: {why}")
    from mlbench.home import data_cache_dir

    return data_cache_dir()


def mlqa_missing() -> str:
    """Why no MLQA-R copy can be had here, or "" when one can (a local copy, else the download)."""
    if _local_mlqa() is not None:
        return ""
    failure = _mlqa_download()
    return failure and ("MLQA-R (CC BY-NC 4.0) is not redistributable, no local copy is reachable (set "
                        "MLBENCH_TEST_MLQA=DIR with DIR/mlqa-r/{lang}.json, or put ../shared beside the "
                        f"checkout) and mlbench's pinned download failed: {failure}")


def _local_mlqa() -> Path | None:
    for candidate in (os.environ.get("MLBENCH_TEST_MLQA"), LAREQA_SHARED):
        if candidate and (Path(candidate) / "mlqa-r" / "de.json").is_file():
            return Path(candidate)
    return None


@functools.cache
def _mlqa_download() -> str:
    """Every MLQA-R file through ``mlbench.data.sources.fetch`` (the session sets MLBENCH_OFFLINE,
    lifted here only); once per session. Returns why it failed, or "" on success."""
    from mlbench.data.sources import fetch
    from mlbench.errors import MlbenchError
    from mlbench.data.tasks import get_task

    spec = get_task("mlqa-r")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLBENCH_OFFLINE", raising=False)
        try:
            for lang in spec.languages:
                fetch(spec, lang)
        except MlbenchError as exc:
            return str(exc)
    return ""


def miracl_corpus(lang: str) -> list[dict]:
    with gzip.open(MIRACL_FIXTURE / "corpus" / f"{lang}.corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def miracl_qrels(lang: str) -> dict[str, dict[str, int]]:
    """The real dev qrels of ``lang`` (read here, not by mlbench)."""
    out: dict[str, dict[str, int]] = {}
    for line in (MIRACL_FIXTURE / "dev" / f"qrels.miracl-v1.0-{lang}-dev.tsv").read_text(encoding="utf-8").splitlines():
        q, _, d, r = line.split()
        out.setdefault(q, {})[d] = int(r)
    return out


class Counting:
    """Wraps a real encoder and counts how often each (kind, text) reaches it; optionally fails
    after some batches (a crash in the middle of encoding)."""

    def __init__(self, inner, fail_after_batches: int | None = None) -> None:
        self.inner, self.name, self.calls = inner, inner.name, collections.Counter()
        self.fail_after, self.batches = fail_after_batches, 0

    def describe(self):
        return self.inner.describe()

    def encode(self, texts, kind, lang):
        if self.fail_after is not None and self.batches >= self.fail_after:
            raise RuntimeError("simulated crash")
        self.batches += 1
        self.calls.update((kind, t) for t in texts)
        return self.inner.encode(texts, kind, lang)


def small(out_dir: Path, **kw):
    """The small XQuAD-R slice (de, en; first article: 188 texts) as a RunConfig writing to ``out_dir``."""
    from mlbench.data.lareqa import LareqaOptions
    from mlbench.pipeline import RunConfig

    return RunConfig(out_dir=out_dir, tasks=["xquad-r"], langs=["de", "en"], lareqa=LareqaOptions(max_articles=1), **kw)


def schema_1(doc: dict) -> dict:
    """A result document (``mlbench.result/2``) as an earlier mlbench wrote it (``mlbench.result/1``):
    no ``slice``, the loader's facts at the top of ``run``, and no ``task.mteb``,
    ``task.query_languages`` or ``task.relevance_level``; for the tests of reading old files."""
    old = json.loads(json.dumps(doc))
    old["schema"] = "mlbench.result/1"
    old.pop("slice", None)
    old["run"].update(old["run"].pop("loader", {}) or {})
    for key in ("mteb", "query_languages", "relevance_level"):
        old["task"].pop(key, None)
    return old
