"""Corpus-scale path without an encoder: N synthetic vectors through store -> index -> search.

    python benchmarks/bench_store.py                 # 1,000,000 x 384, 1000 queries, k 100
    python benchmarks/bench_store.py --n 200000 --approx none

Phases, each in its own child process so that each reports its own peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``):

1. ``write``: vectors are generated chunk by chunk (a seeded mixture of 2000 overlapping Gaussian
   clusters, L2-normalised, float32) and appended to a ``mlbench.embedding.store.VectorStore`` (atomic .npy
   chunks of ``--chunk-rows``), as ``mlbench run`` does with encoded passages; never more than one
   chunk in memory.
2. ``exact``: ``mlbench.retrieval.search.exact_search`` (faiss exact inner product over memory-mapped
   blocks of chunks, running top-k merge under the tie rule) for ``--queries`` queries (fresh draws
   from the same mixture, not stored vectors); a few queries are checked against a brute-force
   numpy scan of the store.
3. ``approx`` (``--approx``, default ``ivf:nlist=1024,nprobe=32``): the in-memory faiss index built
   from the store, searched, and its recall@k against the exact top k.

Prints one table (markdown) with throughput and peak RSS per phase.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlbench.embedding.store import VectorStore
from mlbench.retrieval import search as S

IDENTITY = {"benchmark": "bench_store", "data": "synthetic mixture of Gaussians, seed 0"}
N_CLUSTERS = 2000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _centers(dim: int) -> np.ndarray:
    rng = np.random.default_rng(12345)
    return rng.standard_normal((N_CLUSTERS, dim)).astype(np.float32)


def _chunk(i: int, rows: int, dim: int, centers: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng([0, i])
    x = centers[rng.integers(0, N_CLUSTERS, rows)] + 1.5 * rng.standard_normal((rows, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def phase_write(a) -> dict:
    store = VectorStore(Path(a.dir), IDENTITY)
    centers = _centers(a.dim)
    t0 = time.perf_counter()
    gen = 0.0
    for i, start in enumerate(range(0, a.n, a.chunk_rows)):
        rows = min(a.chunk_rows, a.n - start)
        g = time.perf_counter()
        vecs = _chunk(i, rows, a.dim, centers)
        gen += time.perf_counter() - g
        store.write_chunk([f"doc{start + j}" for j in range(rows)], vecs)
    store.mark_complete(a.dim)
    total = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in Path(a.dir).glob("chunk-*"))
    return {"seconds": total, "generate_s": gen, "store_s": total - gen, "rows": store.rows, "chunks": len(store.chunks),
            "bytes": size, "peak_rss_mb": peak_rss_mb()}


def _queries(a, store: VectorStore) -> np.ndarray:
    return _chunk(10**9, a.queries, a.dim, _centers(a.dim))  # a seed no store chunk uses


def _bare_product(q: np.ndarray, store: VectorStore, block_rows: int) -> float:
    """The product alone, block by block in the shapes exact search uses: its floor."""
    t0 = time.perf_counter()
    for _, _, vecs in store.blocks(block_rows):
        step = max(1, S._SCORE_ELEMENTS // max(len(vecs), 1))
        for q0 in range(0, len(q), step):
            out = q[q0:q0 + step] @ np.asarray(vecs).T
            del out
    return time.perf_counter() - t0


def _differ(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> dict:
    """How two kernels' top k differ: queries whose ids differ, and the largest score difference at
    the same position (faiss and the BLAS product sum in different orders: float32 rounding)."""
    same = (a[1] == b[1]).all(axis=1)
    return {"queries_differing": int((~same).sum()), "max_score_diff": float(np.abs(a[0] - b[0]).max(initial=0.0))}


def phase_exact(a) -> dict:
    store = VectorStore(Path(a.dir), IDENTITY)
    q = _queries(a, store)
    runs = {"bare": [], "blas": [], "faiss": []}
    top, differ = None, None
    for _ in range(a.rounds):  # alternated in this process, so that all three see the same load
        runs["bare"].append(_bare_product(q, store, a.block_rows))
        t0 = time.perf_counter()
        top = S.exact_search(q, [(b"", store)], a.k, block_rows=a.block_rows, kernel="blas")
        runs["blas"].append(time.perf_counter() - t0)
        if a.faiss:
            t0 = time.perf_counter()
            other = S.exact_search(q, [(b"", store)], a.k, block_rows=a.block_rows, kernel="faiss")
            runs["faiss"].append(time.perf_counter() - t0)
            differ = _differ(other.result(), top.result())
    secs = min(runs["blas"])
    _, ids = top.result()
    np.save(Path(a.dir) / "exact_ids.npy", ids.astype("S"))
    # brute force for a few queries: every score, full sort by (score desc, id desc)
    check = min(3, len(q))
    worst = 0
    for qi in range(check):
        parts_s, parts_i = [], []
        for chunk in store.chunks:
            v = chunk.vectors()
            parts_s.append(np.asarray(v @ q[qi]))
            parts_i.append(chunk.ids())
            del v
        s_all, i_all = np.concatenate(parts_s), np.concatenate(parts_i)
        order = np.lexsort((i_all, s_all))[::-1][: a.k]
        same = [x.decode() for x in i_all[order]] == ids[qi].tolist()
        worst += not same
    return {"seconds": secs, "queries": len(q), "rows": store.rows, "checked": check, "check_mismatches": worst,
            "peak_rss_mb": peak_rss_mb(), "runs": runs, "faiss_vs_blas": differ}


def phase_approx(a) -> dict:
    store = VectorStore(Path(a.dir), IDENTITY)
    q = _queries(a, store)
    spec = S.parse_index(a.approx)
    t0 = time.perf_counter()
    index = S.ApproxIndex(store, spec, a.k)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    top = S.approx_search(q, [(b"", index)], a.k)
    secs = time.perf_counter() - t1
    _, ids = top.result()
    exact = np.char.decode(np.load(Path(a.dir) / "exact_ids.npy"), "utf-8")
    recall = float(S.recall_vs(ids, exact).mean())
    return {"build_s": build, "seconds": secs, "queries": len(q), "params": index.params, "recall_vs_exact": recall,
            "peak_rss_mb": peak_rss_mb()}


def child(a, phase: str) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--n", str(a.n), "--dim", str(a.dim), "--queries", str(a.queries),
           "--k", str(a.k), "--chunk-rows", str(a.chunk_rows), "--block-rows", str(a.block_rows), "--dir", a.dir,
           "--approx", a.approx, "--rounds", str(a.rounds)] + (["--faiss"] if a.faiss else [])
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        raise SystemExit(f"phase {phase} failed")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - t0
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--chunk-rows", type=int, default=4096)
    p.add_argument("--block-rows", type=int, default=S.DEFAULT_BLOCK_ROWS)
    p.add_argument("--approx", default="ivf:nlist=1024,nprobe=32", help="an --index spec, or 'none'")
    p.add_argument("--dir", default=None, help="store folder (default: a temporary folder, removed at the end)")
    p.add_argument("--rounds", type=int, default=3, help="exact search: bare product, blas and faiss kernels alternated")
    p.add_argument("--faiss", action=argparse.BooleanOptionalAction, default=True,
                   help="also time faiss's k-NN kernel (and check it gives the same top k)")
    p.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.phase:
        fn = {"write": phase_write, "exact": phase_exact, "approx": phase_approx}[a.phase]
        print(json.dumps(fn(a)))
        return
    tmp = None
    if a.dir is None:
        tmp = tempfile.mkdtemp(prefix="bench_store-")
        a.dir = str(Path(tmp) / "store")
    try:
        w = child(a, "write")
        e = child(a, "exact")
        x = child(a, "approx") if a.approx != "none" else None
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    gb = w["bytes"] / 1e9
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}, "
          f"faiss {__import__('faiss').__version__}; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{a.n} x {a.dim} float32 vectors ({gb:.2f} GB in {w['chunks']} chunks of {a.chunk_rows}), {a.queries} queries, top {a.k}\n")
    print("| phase | time | throughput | peak RSS |")
    print("|---|---:|---:|---:|")
    print(f"| write the store (generate + write) | {w['seconds']:.1f} s (generate {w['generate_s']:.1f} s, store {w['store_s']:.1f} s) "
          f"| {a.n / w['store_s']:,.0f} vectors/s stored ({w['bytes'] / w['store_s'] / 1e6:,.0f} MB/s) | {w['peak_rss_mb']:.0f} MB |")
    scores = e["queries"] * e["rows"]
    bare = min(e["runs"]["bare"])
    print(f"| bare float32 product, the same blocks (min of {a.rounds}) | {bare:.1f} s | {scores / bare / 1e6:,.0f} M scores/s "
          f"| (same process) |")
    print(f"| exact search, blas kernel (product + floor, blocks of {a.block_rows}, running top-{a.k} merge; min of "
          f"{a.rounds}) | {e['seconds']:.1f} s | {e['queries'] / e['seconds']:,.1f} queries/s, "
          f"{scores / e['seconds'] / 1e6:,.0f} M scores/s = {bare / e['seconds']:.0%} of the product's rate "
          f"| {e['peak_rss_mb']:.0f} MB |")
    if e["runs"]["faiss"]:
        f = min(e["runs"]["faiss"])
        d = e["faiss_vs_blas"]
        print(f"| exact search, faiss k-NN kernel (min of {a.rounds}; top {a.k} differs from blas on {d['queries_differing']} "
              f"queries, scores by at most {d['max_score_diff']:.1e}) | {f:.1f} s "
              f"| {scores / f / 1e6:,.0f} M scores/s = {bare / f:.0%} of the product's rate | (same process) |")
    print(f"\nall runs (s): {json.dumps(e['runs'])}")
    if x:
        print(f"| {a.approx}: build from the store | {x['build_s']:.1f} s | {a.n / x['build_s']:,.0f} vectors/s | "
              f"{x['peak_rss_mb']:.0f} MB |")
        print(f"| {a.approx}: search | {x['seconds']:.2f} s | {x['queries'] / x['seconds']:,.0f} queries/s; recall@{a.k} "
              f"vs exact {x['recall_vs_exact']:.4f} | (same process) |")
    print(f"\nexact search checked against a brute-force numpy scan for {e['checked']} queries: "
          f"{e['check_mismatches']} mismatches")


if __name__ == "__main__":
    main()
