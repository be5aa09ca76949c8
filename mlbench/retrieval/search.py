"""Top-k search with faiss over vector sources (corpus stores, or matrices held in memory),
under trec_eval's tie rule.

**Tie rule** (as everywhere in mlbench, :mod:`mlbench.runs.ties`): passages are ordered by
score descending, then by doc id descending in byte order. The rule holds at the top-k cut too:
when passages tie on the k-th score, the ones with the larger ids are kept.

**Exact search** (default): one block of a source at a time (a store's chunks are memory-mapped,
never the whole store), its float32 scores as one BLAS product (``queries @ block.T``, numpy), then
a running merge of the block's candidates into the top k per query. What makes it fast is which
candidates a block offers: only passages scoring at least the query's current k-th best (the
running top's floor, which only rises) can still enter the top k, so after the first blocks a
comparison with the floor discards nearly every score at memory speed, and a partial selection
(``np.partition``) is needed only for rows that still have more than a few hundred candidates
(the first block). Passages tied with the floor are kept (``>=``), so ties at the cut are decided
by the merge, which sorts the current top k and the block's candidates by (score, doc id) and keeps
the first k: the exact top k of the whole corpus under the tie rule. (faiss's own ``knn`` kernel
did the same with a heap per query at about a tenth of the product's rate on 2 cores:
benchmarks/bench_store.py measures both; it still serves the GPU path.)

**Where**: with a faiss build that has GPU support and a visible GPU, exact search
(``faiss.knn_gpu``) and IVF (``index_cpu_to_gpu``) run on GPU 0 and HNSW on CPU; otherwise all on
CPU (faiss-cpu, the default dependency). The result says which ran where (``run.search.where``).

**Approximate search**: ``ivf`` (``IndexIVFFlat``, inner product; ``nlist`` lists, default
about 4·sqrt(N) and at most N/39 so that k-means has 39 points per list; trained on
min(N, max(39·nlist, min(100000, 256·nlist))) evenly spaced vectors; ``nprobe`` default 16) or ``hnsw``
(``IndexHNSWFlat``, inner product; ``M`` 32, ``efConstruction`` 40, ``efSearch`` 128, never below
k). The index holds every vector in memory (N·d·4 bytes plus the lists or the graph) and is built
per run, never stored. Its candidates are re-ordered by the tie rule (faiss gives no tie order);
ties beyond what it returned cannot be seen. ``recall_vs_exact`` measures it against exact search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlbench.embedding.store import MemoryVectors, VectorStore
from mlbench.errors import MlbenchError

Source = VectorStore | MemoryVectors
DEFAULT_BLOCK_ROWS = 65536
INDEX_KINDS = ("exact", "ivf", "hnsw")
INDEX_PARAMS = {"exact": (), "ivf": ("nlist", "nprobe"), "hnsw": ("M", "efConstruction", "efSearch")}


def _faiss() -> Any:
    import faiss

    return faiss


_GPU: dict[str, Any] = {}


def gpu_resources() -> Any:
    """faiss's GPU resources when the installed faiss has GPU support and sees a GPU, else None
    (faiss-cpu, or no GPU): exact search and IVF then run on GPU 0, HNSW (CPU only in faiss) on CPU."""
    if "res" not in _GPU:
        faiss = _faiss()
        res = None
        if hasattr(faiss, "StandardGpuResources") and getattr(faiss, "get_num_gpus", lambda: 0)() > 0:
            res = faiss.StandardGpuResources()
        _GPU["res"] = res
    return _GPU["res"]


def placement(kind: str) -> str:
    """Where an index of ``kind`` runs: ``gpu:0`` or ``cpu`` (recorded in the result's run.search)."""
    return "gpu:0" if gpu_resources() is not None and kind in ("exact", "ivf") else "cpu"


@dataclass(frozen=True)
class IndexSpec:
    kind: str = "exact"
    params: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        return self.kind + (":" + ",".join(f"{k}={v}" for k, v in self.params.items()) if self.params else "")


def parse_index(text: str | None) -> IndexSpec:
    """``exact`` | ``ivf`` | ``hnsw``, optionally with parameters: ``ivf:nlist=1024,nprobe=32``,
    ``hnsw:M=32,efSearch=256``."""
    text = (text or "exact").strip()
    kind, _, rest = text.partition(":")
    if kind not in INDEX_KINDS:
        raise MlbenchError(f"--index {text!r}: the kind must be one of {', '.join(INDEX_KINDS)}")
    params: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in INDEX_PARAMS[kind]:
            known = ", ".join(INDEX_PARAMS[kind]) or "none"
            raise MlbenchError(f"--index {text!r}: {part!r} is not a parameter of {kind} (parameters: {known}; form key=value)")
        try:
            number = int(value)
        except ValueError:
            raise MlbenchError(f"--index {text!r}: {key} must be a positive integer, got {value!r}") from None
        if number <= 0:
            raise MlbenchError(f"--index {text!r}: {key} must be a positive integer, got {value!r}")
        params[key] = number
    return IndexSpec(kind, params)


class RunningTop:
    """The best k (score, doc id) per query so far, under the tie rule. Unfilled slots hold
    -inf and the empty id (real scores are finite, so they always rank below real passages)."""

    def __init__(self, n_queries: int, k: int) -> None:
        self.k = k
        self.scores = np.full((n_queries, k), -np.inf, dtype=np.float32)
        self.ids = np.zeros((n_queries, k), dtype="S1")
        self.seen = 0  # passages offered so far (the same for every query)

    def merge(self, scores: np.ndarray, ids: np.ndarray, offered: int) -> None:
        """Candidates of ``offered`` more passages; (queries, m) scores and ids, -inf where none."""
        s = np.concatenate([self.scores, scores.astype(np.float32, copy=False)], axis=1)
        i = np.concatenate([self.ids, ids], axis=1)
        order = np.lexsort((i, s), axis=1)[:, ::-1][:, : self.k]  # ascending (score, id), reversed
        self.scores = np.take_along_axis(s, order, axis=1)
        self.ids = np.take_along_axis(i, order, axis=1)
        self.seen += offered

    def floor(self) -> np.ndarray:
        """Per query the k-th best score so far (-inf until k passages were offered): nothing
        scoring below it can enter the top k."""
        return self.scores[:, self.k - 1] if self.k else np.full(len(self.scores), np.inf, dtype=np.float32)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids as str) with min(k, passages seen) columns."""
        n = min(self.k, self.seen)
        ids = np.char.decode(self.ids[:, :n], "utf-8") if n else np.zeros((len(self.ids), 0), dtype=str)
        return self.scores[:, :n], ids


def _block_knn(queries: np.ndarray, vecs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """faiss's exact k-NN of one block (the GPU path, and the comparison of benchmarks/bench_store.py):
    (scores, rows) of every block passage that can be in a query's top k under the tie rule, the k
    best plus all those tied with the k-th; other slots -inf / -1."""
    faiss = _faiss()
    n = vecs.shape[0]
    kb = min(n, k + 1)
    while True:
        res = gpu_resources()
        if res is not None:
            dist, rows = faiss.knn_gpu(res, queries, np.ascontiguousarray(vecs), kb, metric=faiss.METRIC_INNER_PRODUCT)
        else:
            dist, rows = faiss.knn(queries, vecs, kb, metric=faiss.METRIC_INNER_PRODUCT)
        if kb == n or kb <= k:
            break
        kth = dist[:, k - 1]
        if not (dist[:, kb - 1] >= kth).any():  # for every query the last one is below the k-th
            break
        kb = min(n, kb * 2)
    if kb > k:
        keep = dist >= dist[:, k - 1: k]
        dist = np.where(keep, dist, -np.inf).astype(np.float32)
        rows = np.where(keep, rows, -1)
    return dist, rows


# a (queries x block) score matrix is computed this many elements at a time (64 MB of float32)
_SCORE_ELEMENTS = 1 << 24
_FEW = 256  # candidates per row below which no partial selection is worth its cost


def _block_candidates(queries: np.ndarray, vecs: np.ndarray, k: int, floor: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of every block passage that can still enter a query's top k: those scoring
    at least ``floor`` (the query's current k-th best, -inf while the top is not full) and, where a
    row has more than a few such, at least the block's own k-th best (ties kept); padded with
    -inf / -1 to the widest row."""
    n = vecs.shape[0]
    step = max(1, _SCORE_ELEMENTS // max(n, 1))
    parts_r, parts_c, parts_s = [], [], []
    for q0 in range(0, len(queries), step):
        scores = queries[q0:q0 + step] @ vecs.T  # float32 BLAS
        mask = scores >= floor[q0:q0 + step, None]
        many = np.flatnonzero(mask.sum(axis=1) > max(_FEW, 2 * k))
        if len(many) and n > k:
            sub = scores[many]
            kth = np.partition(sub, n - k, axis=1)[:, n - k]  # the block's k-th best score per row
            mask[many] &= sub >= kth[:, None]
        r, c = np.nonzero(mask)
        parts_r.append(r + q0)
        parts_c.append(c)
        parts_s.append(scores[r, c])
    r, c, sc = np.concatenate(parts_r), np.concatenate(parts_c), np.concatenate(parts_s)
    counts = np.bincount(r, minlength=len(queries))
    width = int(counts.max(initial=0))
    dist = np.full((len(queries), width), -np.inf, dtype=np.float32)
    rows = np.full((len(queries), width), -1, dtype=np.int64)
    if width:
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        pos = np.arange(len(r)) - starts[r]  # np.nonzero lists each row's columns together, in order
        dist[r, pos] = sc
        rows[r, pos] = c
    return dist, rows


def _prefixed(ids: np.ndarray, prefix: bytes) -> np.ndarray:
    if not prefix:
        return ids
    return np.char.add(np.array(prefix, dtype=f"S{len(prefix)}"), ids)


def exact_search(queries: np.ndarray, stores: Sequence[tuple[bytes, Source]], k: int,
                 block_rows: int = DEFAULT_BLOCK_ROWS, kernel: str = "auto") -> RunningTop:
    """Exact top k of ``queries`` (float32, (n, d)) over the union of the stores; each store's doc
    ids get its prefix (``b""`` for one language, ``b"de/"`` in a multilingual pool). ``kernel``:
    ``blas`` (the product and the floor, on CPU), ``faiss`` (its k-NN kernel; on a GPU where there
    is one) or ``auto`` (faiss on a GPU, else blas)."""
    if kernel not in ("auto", "blas", "faiss"):
        raise ValueError(f"kernel {kernel!r} is not one of auto, blas, faiss")
    use_faiss = kernel == "faiss" or (kernel == "auto" and gpu_resources() is not None)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    top = RunningTop(len(queries), k)
    for prefix, store in stores:
        for _, ids, vecs in store.blocks(block_rows):
            if len(queries) == 0:
                top.seen += len(ids)
                continue
            if use_faiss:
                dist, rows = _block_knn(queries, vecs, k)
            else:
                dist, rows = _block_candidates(queries, np.asarray(vecs, dtype=np.float32), k, top.floor())
            del vecs
            cand = np.where(rows >= 0, _prefixed(ids, prefix)[np.maximum(rows, 0)], b"")
            top.merge(dist, cand, len(ids))
    return top


class ApproxIndex:
    """An IVF or HNSW index over one vector source, in memory."""

    def __init__(self, store: Source, spec: IndexSpec, k: int) -> None:
        faiss = _faiss()
        self.store, self.spec = store, spec
        n, d = store.rows, store.dim or 0
        self.params: dict[str, int] = {}
        if spec.kind == "ivf":
            nlist = spec.params.get("nlist") or max(1, min(int(4 * math.sqrt(max(n, 1))), n // 39))
            if nlist > max(n, 1):
                raise MlbenchError(f"--index {spec.describe()}: nlist {nlist} exceeds the {n} passages of {store.label}")
            nprobe = min(spec.params.get("nprobe", 16), nlist)
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
            n_train = min(n, max(39 * nlist, min(100_000, 256 * nlist)))
            index.train(_rows(store, np.unique(np.linspace(0, n - 1, n_train).astype(np.int64))))
            index.nprobe = nprobe
            self.quantizer = quantizer  # keep it alive as long as the index
            self.params = {"nlist": nlist, "nprobe": nprobe, "train_rows": int(n_train)}
        elif spec.kind == "hnsw":
            m = spec.params.get("M", 32)
            index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = spec.params.get("efConstruction", 40)
            index.hnsw.efSearch = max(spec.params.get("efSearch", 128), k)
            self.params = {"M": m, "efConstruction": int(index.hnsw.efConstruction), "efSearch": int(index.hnsw.efSearch)}
        else:
            raise ValueError(spec.kind)
        if spec.kind == "ivf" and gpu_resources() is not None:
            index = faiss.index_cpu_to_gpu(gpu_resources(), 0, index)
        for _, _, vecs in store.blocks(0):  # a store's chunks one at a time
            index.add(np.ascontiguousarray(vecs))
            del vecs
        self.index = index

    def search(self, queries: np.ndarray, k: int, prefix: bytes = b"") -> tuple[np.ndarray, np.ndarray]:
        dist, rows = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, self.store.rows))
        ok = rows >= 0
        ids = np.where(ok, _prefixed(self.store.ids_at(np.maximum(rows, 0)), prefix), b"")
        return np.where(ok, dist, -np.inf).astype(np.float32), ids


def _rows(store: Source, rows: np.ndarray) -> np.ndarray:
    """Vectors of sorted global rows, read block by block."""
    out = np.empty((len(rows), store.dim or 0), dtype=np.float32)
    at = 0
    for offset, ids, vecs in store.blocks(0):
        sel = rows[(rows >= offset) & (rows < offset + len(ids))] - offset
        if len(sel):
            out[at: at + len(sel)] = vecs[sel]
            at += len(sel)
        del vecs
    return out


def approx_search(queries: np.ndarray, indexes: Sequence[tuple[bytes, ApproxIndex]], k: int) -> RunningTop:
    top = RunningTop(len(queries), k)
    for prefix, index in indexes:
        if len(queries) == 0 or index.store.rows == 0:
            top.seen += index.store.rows
            continue
        dist, ids = index.search(queries, k, prefix)
        top.merge(dist, ids, index.store.rows)
    return top


def recall_vs(approx_ids: np.ndarray, exact_ids: np.ndarray) -> np.ndarray:
    """Per query: share of the exact top k that the approximate top k holds."""
    out = np.zeros(len(exact_ids))
    for q, (a, e) in enumerate(zip(approx_ids, exact_ids)):
        out[q] = len(set(a.tolist()) & set(e.tolist())) / len(e) if len(e) else 1.0
    return out
