"""On-disk embedding store for a corpus: fixed-order chunks of (doc ids, float32 vectors).

Layout of one store folder (one per corpus selection and encoder fingerprint, see
:func:`store_folder`)::

    store.json                 schema, identity (encoder fingerprint and description, corpus,
                               document-text rule, selection), complete, rows, dim
    chunk-000000.vecs.npy      (rows, dim) float32, C order, plain .npy (memory-mapped on read)
    chunk-000000.ids.npy       (rows,) fixed-width bytes: the UTF-8 doc ids, in corpus order
    chunk-000001.vecs.npy ...

Chunks are written whole to a temporary file and renamed (``mlbench.atomic``), vectors first and
ids last, so a chunk exists once its ids file exists. Building streams the corpus: passages are
gathered ``chunk_rows`` at a time, encoded and checked by the one encode loop
(:func:`mlbench.embedding.batches.encode_batches`), and written. A run that stops for any reason keeps every
chunk it wrote; the next run with the same identity streams the corpus again, checks that the first
passages' ids equal the stored ones chunk by chunk (a different corpus is an error, never mixed in),
and encodes only the rest. At most one chunk of work is lost. Readers open one chunk at a time with
``np.load(mmap_mode="r")``, so the whole store is never in memory. No pickle anywhere.
"""

from __future__ import annotations

import io
import json
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.embedding.batches import encode_batches
from mlbench.encoders.base import Encoder
from mlbench.errors import MlbenchError
from mlbench.files import write_bytes, write_json

SCHEMA = "mlbench.store/1"
DEFAULT_CHUNK_ROWS = 4096
MANIFEST = "store.json"


@dataclass(frozen=True)
class Chunk:
    index: int
    offset: int  # global row of its first passage
    rows: int
    ids_path: Path
    vecs_path: Path

    def ids(self) -> np.ndarray:
        return np.load(self.ids_path, allow_pickle=False)

    def vectors(self) -> np.ndarray:
        """Memory-mapped (rows, dim) float32; drop the reference to unmap it."""
        return np.load(self.vecs_path, mmap_mode="r", allow_pickle=False)


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def ids_array(ids: Sequence[str]) -> np.ndarray:
    raw = [i.encode("utf-8") for i in ids]
    width = max((len(r) for r in raw), default=1) or 1
    return np.array(raw, dtype=f"S{width}")


def store_folder(root: Path, folder: str, selection: str, fingerprint: str) -> Path:
    """``{root}/{corpus folder}/{pool selection}/{encoder fingerprint}``."""
    return Path(root) / folder / selection / fingerprint


class VectorStore:
    """One store folder. ``identity`` is whatever must match for two runs to share vectors.

    Like :class:`MemoryVectors`, a *vector source* for search: ``rows``, ``dim``, ``label``,
    ``blocks(block_rows)`` and ``ids_at(rows)``."""

    def __init__(self, folder: Path, identity: dict[str, Any]) -> None:
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.identity = json.loads(json.dumps(identity, sort_keys=True))
        self._manifest_path = self.dir / MANIFEST
        if self._manifest_path.exists():
            try:
                manifest = json.loads(self._manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise MlbenchError(f"{self._manifest_path}: not a readable store manifest ({exc}); delete the folder") from None
            if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
                raise MlbenchError(f"{self._manifest_path}: field 'schema' is not {SCHEMA!r}; delete the folder")
            if manifest.get("identity") != self.identity:
                raise MlbenchError(f"{self._manifest_path}: this store was built for another encoder or corpus "
                                   "(field 'identity' differs); delete the folder")
            self.manifest = manifest
        else:
            self.manifest = {"schema": SCHEMA, "identity": self.identity, "complete": False, "rows": None, "dim": None}
            write_json(self._manifest_path, self.manifest)
        self.chunks: list[Chunk] = self._scan()

    def _scan(self) -> list[Chunk]:
        """The longest prefix chunk-0, chunk-1, ... of readable, consistent chunks."""
        chunks: list[Chunk] = []
        offset, dim = 0, None
        while True:
            i = len(chunks)
            ids_path, vecs_path = self.dir / f"chunk-{i:06d}.ids.npy", self.dir / f"chunk-{i:06d}.vecs.npy"
            if not ids_path.exists():
                break
            try:
                ids = np.load(ids_path, allow_pickle=False)
                vecs = np.load(vecs_path, mmap_mode="r", allow_pickle=False)
                shape, dtype = vecs.shape, vecs.dtype
                del vecs
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                warnings.warn(f"embedding store: chunk {i} of {self.dir} is unreadable ({exc}); it is encoded again",
                              stacklevel=2)
                break
            if (ids.ndim != 1 or ids.dtype.kind != "S" or len(shape) != 2 or shape[0] != len(ids)
                    or dtype != np.float32 or (dim is not None and shape[1] != dim)):
                warnings.warn(f"embedding store: chunk {i} of {self.dir} is inconsistent; it is encoded again", stacklevel=2)
                break
            dim = shape[1]
            chunks.append(Chunk(i, offset, len(ids), ids_path, vecs_path))
            offset += len(ids)
        return chunks

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.chunks)

    @property
    def label(self) -> str:
        return self.dir.name

    @property
    def dim(self) -> int | None:
        if not self.chunks:
            return self.manifest.get("dim")
        return int(self.chunks[0].vectors().shape[1])

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete")) and self.manifest.get("rows") == self.rows

    def write_chunk(self, ids: Sequence[str], vectors: np.ndarray) -> Chunk:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(ids) or not np.isfinite(vectors).all():
            raise ValueError("embedding store: refusing to store unverified vectors")
        i, offset = len(self.chunks), self.rows
        ids_path, vecs_path = self.dir / f"chunk-{i:06d}.ids.npy", self.dir / f"chunk-{i:06d}.vecs.npy"
        write_bytes(vecs_path, _npy_bytes(vectors))
        write_bytes(ids_path, _npy_bytes(ids_array(ids)))  # last: the chunk exists from here on
        chunk = Chunk(i, offset, len(ids), ids_path, vecs_path)
        self.chunks.append(chunk)
        return chunk

    def mark_complete(self, dim: int | None, extra: dict[str, Any] | None = None) -> None:
        self.manifest.update({"complete": True, "rows": self.rows, "dim": dim, "chunks": len(self.chunks),
                              **(extra or {})})
        write_json(self._manifest_path, self.manifest)

    def blocks(self, block_rows: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(offset, ids, vectors) over consecutive chunks of about ``block_rows`` rows (0: each
        chunk alone); a block of one chunk is its memory map, a larger one a contiguous copy."""
        group: list[Chunk] = []
        for chunk in self.chunks + [None]:  # type: ignore[list-item]
            if chunk is not None and (not group or sum(c.rows for c in group) + chunk.rows <= block_rows):
                group.append(chunk)
                continue
            if group:
                ids = np.concatenate([c.ids() for c in group]) if len(group) > 1 else group[0].ids()
                if len(group) == 1:
                    vecs = group[0].vectors()
                else:
                    vecs = np.empty((sum(c.rows for c in group), self.dim or 0), dtype=np.float32)
                    at = 0
                    for c in group:
                        m = c.vectors()
                        vecs[at:at + c.rows] = m
                        at += c.rows
                        del m
                yield group[0].offset, ids, vecs
                del vecs
            group = [chunk] if chunk is not None else []

    def ids_at(self, rows: np.ndarray) -> np.ndarray:
        """Doc ids (bytes) of global rows."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = np.array([c.offset for c in self.chunks], dtype=np.int64)
        which = np.searchsorted(starts, rows, side="right") - 1
        out = np.empty(rows.shape, dtype=object)
        for ci in np.unique(which):
            ids = self.chunks[ci].ids()
            sel = which == ci
            out[sel] = ids[rows[sel] - starts[ci]]
        return out.astype(bytes) if out.size else np.zeros(rows.shape, dtype="S1")


class MemoryVectors:
    """Vectors held in memory with their ids: a vector source like :class:`VectorStore`, for pools
    whose embeddings come from the text cache."""

    def __init__(self, ids: Sequence[str], vectors: np.ndarray, label: str) -> None:
        self.ids = ids_array(ids)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.label = label

    @property
    def rows(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def blocks(self, block_rows: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Consecutive blocks of ``block_rows`` rows (0: one block, as a store's 0 gives its chunks)."""
        step = block_rows if block_rows > 0 else max(1, self.rows)
        for start in range(0, self.rows, step):
            yield start, self.ids[start:start + step], self.vectors[start:start + step]

    def ids_at(self, rows: np.ndarray) -> np.ndarray:
        return self.ids[np.asarray(rows, dtype=np.int64)]


@dataclass
class BuildStats:
    from_store: int = 0  # passages already in the store (checked by id, not encoded)
    encoded: int = 0
    batches: int = 0
    chunks_written: int = 0
    seconds: float = 0.0


def build(store: VectorStore, docs: Iterable[tuple[str, str]], n_total: int, encoder: Encoder, lang: str,
          chunk_rows: int = DEFAULT_CHUNK_ROWS, progress_start: Callable[[int], Callable[[int], None]] | None = None,
          where: str = "corpus") -> BuildStats:
    """Fill ``store`` with the embeddings of ``docs`` ((doc id, text), streamed, ``n_total`` of them),
    resuming after the chunks already stored."""
    t0 = time.perf_counter()
    stats = BuildStats(from_store=store.rows)
    if chunk_rows <= 0:
        raise MlbenchError(f"store chunk rows must be positive, got {chunk_rows}")
    if store.complete:
        if store.rows != n_total:
            raise MlbenchError(f"{store.dir}: the store holds {store.rows} passages but the corpus selection has "
                               f"{n_total}; it was built from another corpus (delete the folder)")
        stats.seconds = time.perf_counter() - t0
        return stats
    if store.rows > n_total:
        raise MlbenchError(f"{store.dir}: the store holds {store.rows} passages, more than the {n_total} of the "
                           "corpus selection; it was built from another corpus (delete the folder)")
    tick = progress_start(n_total - store.rows) if progress_start else (lambda n: None)
    dim = store.dim
    it = iter(docs)
    seen = 0
    for chunk in list(store.chunks):  # check the stored prefix against the corpus, id by id
        stored = chunk.ids().tolist()
        got = [did.encode("utf-8") for did, _ in _take(it, chunk.rows)]
        seen += len(got)
        if got != stored:
            pos = next((i for i, (g, s) in enumerate(zip(got, stored)) if g != s), min(len(got), len(stored)))
            have = repr(stored[pos].decode("utf-8", "replace")) if pos < len(stored) else "nothing"
            new = repr(got[pos].decode("utf-8", "replace")) if pos < len(got) else "the end of the corpus"
            raise MlbenchError(f"{store.dir}: chunk {chunk.index} does not match the corpus (passage {chunk.offset + pos}: "
                               f"{have} stored, {new} in {where}); the store was built from another corpus "
                               "(delete the folder)")
    while seen < n_total:
        batch = _take(it, min(chunk_rows, n_total - seen))
        if not batch:
            break
        ids = [d for d, _ in batch]
        texts = [t for _, t in batch]
        out: np.ndarray | None = None
        for idx, vecs in encode_batches(encoder, texts, "candidate", lang, dim, what="passage",
                                        of=f" of chunk {len(store.chunks)}"):
            dim = vecs.shape[1]
            if out is None:
                out = np.empty((len(texts), dim), dtype=np.float32)
            out[idx] = vecs
            stats.encoded += len(idx)
            stats.batches += 1
            tick(len(idx))
        assert out is not None
        store.write_chunk(ids, out)
        stats.chunks_written += 1
        seen += len(batch)
    if seen != n_total or next(it, None) is not None:
        raise MlbenchError(f"{where}: {'more' if seen == n_total else seen} passages streamed but {n_total} were counted before; the corpus files "
                           "changed during the run")
    store.mark_complete(dim)
    stats.seconds = time.perf_counter() - t0
    return stats


def _take(it: Iterator, n: int) -> list:
    out = []
    for item in it:
        out.append(item)
        if len(out) == n:
            break
    return out
