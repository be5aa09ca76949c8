"""Encoding engines (docs/scale.md): ``--engine processes`` and ``--engine ray`` give the store,
the cache and the metrics of ``--engine local``; a worker that dies is retried; a run stopped
mid-way resumes from the chunks on disk; bad engine options are one line, exit 2.

Real data and models: the MIRACL fixture (yo and te dev topics and qrels, their real passages,
``--pool-subset 0``: the judged passages) and an XQuAD-R slice, encoded by use-m3. One local Ray
per module (2 CPUs, its session files in a temporary folder under /tmp, no dashboard); the
command-line runs join it with ``--ray-address``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import TESTS, metrics_of, one_line_error, run_cli, shards

from mlbench.data.corpus import CorpusOptions
from mlbench.engines import EngineOptions
from mlbench.errors import MlbenchError
from mlbench.pipeline import RunConfig, run

CHUNK_ROWS = 16  # yo's 75 judged passages: 5 chunks
MIRACL = ("--task", "miracl", "--pool-subset", "0", "--store-chunk-rows", str(CHUNK_ROWS))
XQUAD = ("--task", "xquad-r", "--langs", "de,en", "--max-articles", "2")


def miracl_cfg(root: Path, langs=("yo", "te"), model="use-m3", **engine) -> RunConfig:
    return RunConfig(model=model, tasks=["miracl"], langs=list(langs), out_dir=root / "out", store_dir=root / "stores",
                     cache_dir=root / "cache", store_chunk_rows=CHUNK_ROWS, corpus=CorpusOptions(pool_subset=0),
                     engine=EngineOptions(**engine))


def store_chunks(stores: Path, lang: str) -> list[tuple[np.ndarray, np.ndarray, dict]]:
    """(ids, vectors, record) of every chunk of a language's store, in chunk order, after checking
    the store is complete and lists exactly these chunks."""
    (manifest,) = stores.glob(f"miracl-{lang}/*/*/store.json")
    meta = json.loads(manifest.read_text())
    assert meta["complete"] and meta["schema"] == "mlbench.store/2"
    records = [json.loads(p.read_text()) for p in sorted(manifest.parent.glob("chunk-*.json"))]
    assert [r["index"] for r in records] == list(range(meta["chunks"]))
    assert [r["vecs_sha256"] for r in records] == meta["chunk_sha256"]
    assert sum(r["rows"] for r in records) == meta["rows"]
    assert not list(manifest.parent.glob(".*.tmp"))
    return [(np.load(manifest.parent / f"chunk-{r['index']:06d}.ids.npy"),
             np.load(manifest.parent / f"chunk-{r['index']:06d}.vecs.npy"), r) for r in records]


def assert_same_store(got: Path, expected: Path, lang: str) -> int:
    """Same chunks, same doc ids in the same places, the same vectors to float tolerance; returns
    how many chunks are also identical byte for byte."""
    a, b = store_chunks(got, lang), store_chunks(expected, lang)
    assert len(a) == len(b)
    identical = 0
    for (ids_a, vec_a, rec_a), (ids_b, vec_b, rec_b) in zip(a, b):
        assert ids_a.tolist() == ids_b.tolist() and rec_a["offset"] == rec_b["offset"]
        np.testing.assert_allclose(vec_a, vec_b, atol=1e-6, rtol=0)
        identical += rec_a["vecs_sha256"] == rec_b["vecs_sha256"]
    return identical


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray for the module: 2 CPUs, 100 MB object store, its files in a short temporary
    folder, tests/ on the workers' path (the plugins), token authentication with a fresh token that
    the command-line runs inherit."""
    ray = pytest.importorskip("ray", reason="Ray is the optional extra mlbench[ray]")
    temp = tempfile.mkdtemp(prefix="mlbench-ray-", dir="/tmp")
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "RAY_AUTH_TOKEN")}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS)] + ([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else []))
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024, _temp_dir=temp,
             log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def local_miracl(irds_home, tmp_path_factory):
    """The reference: --engine local on yo and te."""
    root = tmp_path_factory.mktemp("local")
    (out,) = run(miracl_cfg(root))
    return root, out.result


# ------------------------------------------------------------------------- same results as local


@pytest.mark.parametrize("engine", ["processes", pytest.param("ray", marks=pytest.mark.slow)])
def test_engine_matches_local_on_miracl(engine, local_miracl, irds_home, tmp_path, request):
    if engine == "ray":
        request.getfixturevalue("ray_cluster")  # joined by the run (ray_address left out)
    ref_root, ref = local_miracl
    (out,) = run(miracl_cfg(tmp_path, engine=engine, workers=2))
    got = out.result
    assert metrics_of(got) == metrics_of(ref)  # every mean and aggregate, to the last digit
    assert got.per_query_file.sha256 == ref.per_query_file.sha256  # every per-query value
    identical = 0
    for lang in ("yo", "te"):
        enc = got.run.encoding["passages"][lang]
        assert enc["encoded"] == ref.run.encoding["passages"][lang]["encoded"] == enc["passages"]
        assert enc["chunks"] == enc["chunks_written"] == -(-enc["passages"] // CHUNK_ROWS)
        identical += assert_same_store(tmp_path / "stores", ref_root / "stores", lang)
    eng = got.run.engine
    assert eng["name"] == engine and eng["workers"] == 2 and eng["devices"] == ["cpu", "cpu"] and eng["started"]
    assert ref.run.engine == {"name": "local", "workers": 1, "devices": ["cpu"]}
    writers = {r["writer"] for lang in ("yo", "te") for _, _, r in store_chunks(tmp_path / "stores", lang)}
    assert len(writers) == 2  # both workers wrote chunks, none of them this process
    assert not any(w.endswith(f":{os.getpid()}") for w in writers)
    if engine == "ray":
        import ray

        assert eng["ray_version"] == ray.__version__ == got.environment["packages"]["ray"]
    assert got.run.search["where"] == ref.run.search["where"] == {"exact": "cpu"}  # faiss-cpu here
    print(f"{engine}: {identical} chunks byte-identical to local; engine {eng}")


@pytest.mark.slow
def test_engines_match_local_on_xquad(ray_cluster, tmp_path):
    """The XQuAD-R slice through the command line: candidates encoded by the workers through the
    text cache, in the batches the local loop plans."""
    runs = {"local": (), "processes": ("--engine", "processes", "--workers", "2"),
            "ray": ("--engine", "ray", "--workers", "2", "--ray-address", ray_cluster)}
    docs, caches = {}, {}
    for name, flags in runs.items():
        home = tmp_path / name
        res = run_cli("run", "--model", "use-m3", *XQUAD, *flags, "--out", str(home / "out"),
                      env={"MLBENCH_HOME": str(home)})
        assert res.returncode == 0, res.stderr[-3000:]
        docs[name] = json.loads((home / "out" / "xquad-r--use-m3.json").read_text())
        (cache_dir,) = (home / "embeddings").iterdir()
        caches[name] = shards(cache_dir)
    for name in ("processes", "ray"):
        assert metrics_of(docs[name]) == metrics_of(docs["local"]), name
        assert docs[name]["per_query"]["sha256"] == docs["local"]["per_query"]["sha256"], name
        assert docs[name]["run"]["encoding"]["encoded"] == docs["local"]["run"]["encoding"]["encoded"], name
        assert caches[name].keys() == caches["local"].keys()
        worst = max(float(np.abs(caches[name][k] - v).max()) for k, v in caches["local"].items())
        assert worst <= 1e-6, (name, worst)
        assert docs[name]["run"]["engine"]["name"] == name and docs[name]["run"]["engine"]["workers"] == 2
        print(f"xquad {name}: largest vector difference from local {worst}")


# ------------------------------------------------------------------------------- robustness


def _cli_miracl(tmp_path: Path, model: str, *flags: str, stores: Path) -> subprocess.CompletedProcess:
    return run_cli("run", "--model", model, *MIRACL, "--langs", "yo", "--store-dir", str(stores),
                   "--out", str(tmp_path / "out"), *flags, env={"MLBENCH_HOME": str(tmp_path / "home")})


@pytest.mark.parametrize("engine", ["processes", "ray"])
def test_a_worker_that_dies_is_retried(engine, local_miracl, tmp_path, request):
    """A worker process exits at its first passage batch (plugins:dies_once, once per run): the
    pool is restarted (processes) or the actor restarted by Ray and its task retried (ray); the run
    ends with the complete store of --engine local and its metrics."""
    marker = tmp_path / "died"
    flags = ("--engine", engine, "--workers", "2")
    if engine == "ray":
        flags += ("--ray-address", request.getfixturevalue("ray_cluster"))
    res = _cli_miracl(tmp_path, "plugins:dies_once", *flags, "--encoder-arg", f"marker={marker}",
                      stores=tmp_path / "stores")
    assert res.returncode == 0, res.stderr[-3000:]
    dead_pid = marker.read_text()  # a worker did die
    ref_root, ref = local_miracl
    assert assert_same_store(tmp_path / "stores", ref_root / "stores", "yo") >= 0
    writers = {r["writer"].rsplit(":", 1)[1] for _, _, r in store_chunks(tmp_path / "stores", "yo")}
    assert dead_pid not in writers  # every chunk was written by a live worker
    (path,) = (tmp_path / "out").glob("*.json")
    doc = json.loads(path.read_text())
    ref_yo = [s for s in ref.settings if s.id == "yo>yo"]
    assert [s["metrics"] for s in doc["settings"]] == [s.metrics for s in ref_yo]
    if engine == "processes":
        assert doc["run"]["engine"]["restarts"] == 1


@pytest.mark.slow
def test_a_stopped_ray_run_resumes_from_its_chunks(ray_cluster, local_miracl, tmp_path):
    """The driver of a Ray run is killed (SIGKILL) after its workers wrote two chunks; the rerun
    checks them, encodes only the missing chunks, and ends with the store of --engine local."""
    stores = tmp_path / "stores"
    env = {**os.environ, "MLBENCH_HOME": str(tmp_path / "home"), "COLUMNS": "200",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-m", "mlbench.cli", "run", "--model", "plugins:slow", "--encoder-arg", "delay=1.5",
            *MIRACL, "--langs", "yo", "--store-dir", str(stores), "--out", str(tmp_path / "out"),
            "--engine", "ray", "--workers", "2", "--ray-address", ray_cluster]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while len(list(stores.glob("miracl-yo/*/*/chunk-*.json"))) < 2:
            assert proc.poll() is None, f"run ended before two chunks: {proc.stderr.read()[-3000:]}"
            assert time.monotonic() < deadline, "no two chunks in time"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "out").exists()  # no result
    time.sleep(2)  # Ray ends the dead driver's actors
    folder = next(stores.glob("miracl-yo/*/*"))
    assert not json.loads((folder / "store.json").read_text())["complete"]
    kept = [json.loads(p.read_text()) for p in sorted(folder.glob("chunk-*.json"))]
    assert 2 <= len(kept) < 5
    res = _cli_miracl(tmp_path, "use-m3", "--engine", "ray", "--workers", "2", "--ray-address", ray_cluster,
                      stores=stores)
    assert res.returncode == 0, res.stderr[-3000:]
    (path,) = (tmp_path / "out").glob("*.json")
    enc = json.loads(path.read_text())["run"]["encoding"]["passages"]["yo"]
    rows = sum(r["rows"] for r in kept)
    assert (enc["from_store"], enc["encoded"], enc["chunks_written"]) == (rows, 75 - rows, 5 - len(kept))
    ref_root, _ = local_miracl
    assert assert_same_store(stores, ref_root / "stores", "yo") >= 0
    after = {r["index"]: r for _, _, r in store_chunks(stores, "yo")}
    assert all(after[r["index"]] == r for r in kept)  # the kept chunks were not written again
    print(f"stopped after {len(kept)} chunks ({rows} passages); the rerun encoded {enc['encoded']}")


def test_a_stopped_processes_run_resumes_from_its_chunks(local_miracl, irds_home, tmp_path):
    """A run whose encoder fails in the third chunk (all workers stop) keeps the chunks its workers
    wrote and verified; the rerun skips them."""
    stores = tmp_path / "stores"
    res = _cli_miracl(tmp_path, "plugins:fails_after", "--engine", "processes", "--workers", "1",
                      "--encoder-arg", "chunks=2", stores=stores)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-3000:]
    last = res.stderr.strip().splitlines()[-1]  # after the pool-subset warning
    assert last.startswith("mlbench: error: encoder use-m3, passage batch 0 of chunk 2 (yo, 16 texts): raised "
                           "RuntimeError: simulated failure after 2 chunks"), last
    folder = next(stores.glob("miracl-yo/*/*"))
    kept = sorted(p.name for p in folder.glob("chunk-*.json"))
    assert kept == ["chunk-000000.json", "chunk-000001.json"]
    res = _cli_miracl(tmp_path, "use-m3", "--engine", "processes", "--workers", "2", stores=stores)
    assert res.returncode == 0, res.stderr[-3000:]
    (path,) = (tmp_path / "out").glob("*.json")
    enc = json.loads(path.read_text())["run"]["encoding"]["passages"]["yo"]
    assert (enc["from_store"], enc["encoded"], enc["chunks_written"]) == (32, 43, 3)
    assert assert_same_store(stores, local_miracl[0] / "stores", "yo") >= 0


# ---------------------------------------------------------------------------- the store itself


def test_chunks_in_any_order_verified_by_checksum(tmp_path):
    from mlbench.embedding.store import VectorStore, write_shard

    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((10, 4)).astype(np.float32)
    ids = [f"d{i}" for i in range(10)]
    store = VectorStore(tmp_path / "s", {"corpus": "x"})
    store.set_chunk_rows(4)
    for index in (2, 0):  # written out of order, as by two workers
        write_shard(store.dir, index, index * 4, ids[index * 4:index * 4 + 4], vecs[index * 4:index * 4 + 4])
    again = VectorStore(tmp_path / "s", {"corpus": "x"})
    assert sorted(again.done) == [0, 2] and not again.complete
    # a chunk whose vectors changed after its record was written is not taken as done
    path = store.dir / "chunk-000002.vecs.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="chunk 2 .* do not match the checksums"):
        again = VectorStore(tmp_path / "s", {"corpus": "x"})
    assert sorted(again.done) == [0]
    # a chunk a worker reports but nobody can see (a store folder not shared by the workers)
    record = write_shard(tmp_path / "elsewhere", 1, 4, ids[4:8], vecs[4:8])
    with pytest.raises(MlbenchError, match="chunk 1 written by worker .* is not there; the store folder must be on a "
                                           "filesystem every worker shares"):
        again.accept(record, ids[4:8])
    # a chunk whose ids are not the passages it was sent
    record = write_shard(store.dir, 1, 4, ids[4:8], vecs[4:8])
    with pytest.raises(MlbenchError, match="its ids are not the passages it was given"):
        again.accept(record, ids[5:9])
    again.accept(record, ids[4:8])
    assert sorted(again.done) == [0, 1]


# ------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("flags, needles", [
    (("--engine", "threads"), ("--engine 'threads' is not one of local, processes, ray",)),
    (("--workers", "2"), ("--workers applies to --engine processes or ray, not to --engine local",)),
    (("--engine", "processes", "--ray-address", "auto"), ("--ray-address applies to --engine ray",)),
    (("--engine", "processes", "--devices", "cuda:0,cuda:1"), ("--devices applies to sentence-transformers models",)),
    (("--engine", "processes", "--workers", "0"), ("--workers must be positive, got 0",)),
    (("--engine", "ray", "--ray-address", "127.0.0.1:9"), ("--ray-address 127.0.0.1:9: no Ray cluster answers there",)),
    (("--engine", "ray", "--ray-address", "nowhere"), ("--ray-address 'nowhere' is not auto, HOST:PORT or ray://HOST:PORT",)),
])
def test_bad_engine_options_one_line_exit_2(flags, needles, tmp_path):
    res = run_cli("run", "--model", "use-m3", *XQUAD, *flags, "--out", str(tmp_path / "out"),
                  env={"MLBENCH_HOME": str(tmp_path / "home")})
    one_line_error(res, *needles)
    assert not (tmp_path / "out").exists()


def test_devices_refused_for_an_mteb_model(tmp_path):
    """An MTEB wrapper is not built by sentence-transformers: --devices is refused before any load."""
    res = run_cli("run", "--model", "mteb:intfloat/multilingual-e5-small", *XQUAD, "--engine", "processes",
                  "--devices", "cuda:0,cuda:1", "--out", str(tmp_path / "out"), env={"MLBENCH_HOME": str(tmp_path / "home")})
    one_line_error(res, "--devices applies to sentence-transformers models")
    assert not (tmp_path / "out").exists()


def test_lexical_model_refuses_an_engine(irds_home, tmp_path):
    with pytest.raises(MlbenchError, match="--engine processes encodes with dense encoders; bm25 is lexical"):
        run(miracl_cfg(tmp_path, model="bm25", engine="processes", workers=2))


def test_cluster_without_the_package(ray_cluster):
    """The probe that runs on a cluster worker before any actor: a package the workers cannot
    import is one line naming it (here a name no worker has, on the real local cluster)."""
    import ray

    from mlbench.engines.rayengine import check_cluster

    assert check_cluster(ray)  # mlbench itself is importable there, at the driver's version
    with pytest.raises(MlbenchError, match=r"the cluster's workers \(e.g. on .*\) cannot import mlbench_absent; install"):
        check_cluster(ray, package="mlbench_absent")
    with pytest.raises(MlbenchError, match="have mlbench 0.1.0, the driver 9.9"):
        check_cluster(ray, version="9.9")


def test_ray_is_needed_by_nothing_else(tmp_path):
    """A local run imports neither Ray nor the engines that use it."""
    code = ("import sys, mlbench.cli.run, mlbench.pipeline as p, mlbench.engines\n"
            "from mlbench.data.lareqa import LareqaOptions\n"
            f"p.run(p.RunConfig(model='use-m3', tasks=['xquad-r'], langs=['en'], out_dir={str(tmp_path / 'o')!r},"
            " lareqa=LareqaOptions(max_articles=1)))\n"
            "bad = sorted(m for m in sys.modules if m == 'ray' or m.startswith(('ray.', 'mlbench.engines.ray')))\n"
            "assert not bad, bad\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "MLBENCH_HOME": str(tmp_path / "home")}, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
