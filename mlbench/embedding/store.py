"""On-disk embedding store for a corpus: chunks of (doc ids, float32 vectors), keyed by position.

Layout of one store folder (one per corpus selection and encoder fingerprint, see
:func:`store_folder`)::

    store.json                 schema, identity (encoder fingerprint and description, corpus,
                               document-text rule, selection), chunk_rows, complete, rows, dim,
                               and, once complete, every chunk's sha256
    chunk-000000.vecs.npy      (rows, dim) float32, C order, plain .npy (memory-mapped on read)
    chunk-000000.ids.npy       (rows,) fixed-width bytes: the UTF-8 doc ids, in corpus order
    chunk-000000.json          the chunk's record: index, offset, rows, dim, sha256 of both files
    chunk-000001.vecs.npy ...

Chunk *i* holds the corpus passages ``i*chunk_rows`` to ``(i+1)*chunk_rows - 1`` in stream order,
whoever encoded it: the store is the same whether one process filled it in order or an engine's
workers (:mod:`mlbench.engines`) wrote its chunks in any order, and search reads it in chunk order.
A chunk is written by :func:`write_shard`: vectors, ids, then its record, each to a temporary file
renamed into place (:mod:`mlbench.files`), so a chunk exists once its record exists. The record's
checksums are verified before a chunk is taken as done (:meth:`VectorStore.accept` when a worker
reports it, the scan of an incomplete store when a run resumes); a chunk that fails is encoded
again. Building streams the corpus (:func:`build`); a run that stops for any reason keeps every
chunk it wrote, and the next run with the same identity streams the corpus again, checks every
stored chunk's ids against the corpus (a different corpus is an error, never mixed in), and
encodes only the missing chunks. Readers open one chunk at a time with ``np.load(mmap_mode="r")``,
so the whole store is never in memory. No pickle anywhere.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.errors import MlbenchError
from mlbench.files import file_digests, make_dirs, write_bytes, write_json

SCHEMA = "mlbench.store/2"
DEFAULT_CHUNK_ROWS = 4096
MANIFEST = "store.json"


@dataclass(frozen=True)
class Chunk:
    index: int
    offset: int  # global row of its first passage
    rows: int
    ids_path: Path
    vecs_path: Path
    sha256: tuple[str, str] = ("", "")  # of the vectors file and of the ids file

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


def chunk_paths(folder: Path, index: int) -> tuple[Path, Path, Path]:
    """(vectors, ids, record) of chunk ``index``."""
    stem = Path(folder) / f"chunk-{index:06d}"
    return stem.with_suffix(".vecs.npy"), stem.with_suffix(".ids.npy"), stem.with_suffix(".json")


def write_shard(folder: Path, index: int, offset: int, ids: Sequence[str], vectors: np.ndarray) -> dict[str, Any]:
    """Write chunk ``index`` of a store folder (vectors, ids, then its record, each atomically) and
    return its record. Called in whichever process encoded the chunk: an engine's worker writes
    to the store folder directly (a path every worker sees)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(ids) or not np.isfinite(vectors).all():
        raise ValueError("embedding store: refusing to store unverified vectors")
    vecs_path, ids_path, record_path = chunk_paths(folder, index)
    vec_bytes, id_bytes = _npy_bytes(vectors), _npy_bytes(ids_array(ids))
    write_bytes(vecs_path, vec_bytes)
    write_bytes(ids_path, id_bytes)
    record = {"index": index, "offset": offset, "rows": len(ids), "dim": int(vectors.shape[1]),
              "vecs_sha256": hashlib.sha256(vec_bytes).hexdigest(), "ids_sha256": hashlib.sha256(id_bytes).hexdigest(),
              "writer": f"{socket.gethostname()}:{os.getpid()}"}
    write_json(record_path, record)  # last: the chunk exists from here on
    return record


class VectorStore:
    """One store folder. ``identity`` is whatever must match for two runs to share vectors.

    Like :class:`MemoryVectors`, a *vector source* for search: ``rows``, ``dim``, ``label``,
    ``blocks(block_rows)`` and ``ids_at(rows)``."""

    def __init__(self, folder: Path, identity: dict[str, Any]) -> None:
        self.dir = Path(folder)
        make_dirs(self.dir)
        self.identity = json.loads(json.dumps(identity, sort_keys=True))
        self._manifest_path = self.dir / MANIFEST
        if self._manifest_path.exists():
            try:
                manifest = json.loads(self._manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise MlbenchError(f"{self._manifest_path}: not a readable store manifest ({exc}); delete the folder") from None
            if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
                raise MlbenchError(f"{self._manifest_path}: field 'schema' is not {SCHEMA!r} (a store of another "
                                   "mlbench version); delete the folder")
            if manifest.get("identity") != self.identity:
                raise MlbenchError(f"{self._manifest_path}: this store was built for another encoder or corpus "
                                   "(field 'identity' differs); delete the folder")
            self.manifest = manifest
        else:
            self.manifest = {"schema": SCHEMA, "identity": self.identity, "chunk_rows": None, "complete": False,
                             "rows": None, "dim": None}
            write_json(self._manifest_path, self.manifest)
        self.done: dict[int, Chunk] = self._scan()

    # ---------------------------------------------------------------------------- chunks on disk

    def _scan(self) -> dict[int, Chunk]:
        """Every chunk whose record is readable and whose files agree with it. The checksums are
        verified unless the store is complete (they were verified when it was completed)."""
        complete = bool(self.manifest.get("complete"))
        sums = self.manifest.get("chunk_sha256") if complete else None
        out: dict[int, Chunk] = {}
        dim = self.manifest.get("dim")
        for record_path in sorted(self.dir.glob("chunk-*.json")):
            try:
                index = int(record_path.name[len("chunk-"):-len(".json")])
                record = json.loads(record_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                warnings.warn(f"embedding store: {record_path} is unreadable; the chunk is encoded again", stacklevel=2)
                continue
            problem = self.check_record(record, index, dim, checksums=not complete)
            if problem is None and sums is not None and (index >= len(sums) or sums[index] != record.get("vecs_sha256")):
                problem = "its checksum differs from the one store.json recorded"
            if problem:
                warnings.warn(f"embedding store: chunk {index} of {self.dir}: {problem}; it is encoded again", stacklevel=2)
                continue
            out[index] = self._chunk(record)
            dim = record["dim"]
        return out

    def _chunk(self, record: dict[str, Any]) -> Chunk:
        vecs_path, ids_path, _ = chunk_paths(self.dir, record["index"])
        return Chunk(record["index"], record["offset"], record["rows"], ids_path, vecs_path,
                     (record["vecs_sha256"], record["ids_sha256"]))

    def check_record(self, record: Any, index: int, dim: int | None, checksums: bool = True,
                     ids: Sequence[str] | None = None) -> str | None:
        """What is wrong with chunk ``index`` as ``record`` describes it, or None: the files exist and
        have the rows and width it says (``dim``, the width of the store's other chunks), their
        sha256 equals the record's (when ``checksums``) and the ids are ``ids`` (when given)."""
        vecs_path, ids_path, _ = chunk_paths(self.dir, index)
        keys = ("index", "offset", "rows", "dim", "vecs_sha256", "ids_sha256")
        if not isinstance(record, dict) or any(k not in record for k in keys) or record["index"] != index:
            return "its record is incomplete or names another chunk"
        rows = self.manifest.get("chunk_rows")
        if rows and record["offset"] != index * rows:
            return f"its offset {record['offset']} is not chunk {index} of {rows} rows"
        if dim is not None and record["dim"] != dim:
            return f"its dimension {record['dim']} differs from the store's {dim}"
        try:
            stored = np.load(ids_path, allow_pickle=False)
            vecs = np.load(vecs_path, mmap_mode="r", allow_pickle=False)
            shape, dtype = vecs.shape, vecs.dtype
            del vecs
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            return f"its files are unreadable ({type(exc).__name__}: {exc})"
        if (stored.ndim != 1 or stored.dtype.kind != "S" or len(stored) != record["rows"] or dtype != np.float32
                or shape != (record["rows"], record["dim"])):
            return "its files do not have the rows and width of its record"
        if checksums and (file_digests(vecs_path, "sha256")[0] != record["vecs_sha256"]
                          or file_digests(ids_path, "sha256")[0] != record["ids_sha256"]):
            return "its files do not match the checksums of its record"
        if ids is not None and stored.tolist() != [i.encode("utf-8") for i in ids]:
            return "its ids are not the passages it was given"
        return None

    def accept(self, record: dict[str, Any], ids: Sequence[str]) -> Chunk:
        """Take a chunk that a worker reports written, after verifying its files, checksums and ids."""
        index = record.get("index") if isinstance(record, dict) else None
        if not isinstance(index, int):
            raise MlbenchError(f"{self.dir}: a worker reported a chunk without an index ({record!r})")
        vecs_path, _, record_path = chunk_paths(self.dir, index)
        if not record_path.exists():
            raise MlbenchError(f"{record_path}: chunk {index} written by worker {record.get('writer')} is not there; the "
                               "store folder must be on a filesystem every worker shares (--store-dir)")
        on_disk = json.loads(record_path.read_text(encoding="utf-8"))
        problem = "its record on disk differs from the one the worker reported" if on_disk != record else \
            self.check_record(record, index, self.dim, checksums=True, ids=ids)
        if problem:
            raise MlbenchError(f"{vecs_path}: chunk {index} written by worker {record.get('writer')}: {problem}")
        chunk = self._chunk(record)
        self.done[index] = chunk
        return chunk

    # ------------------------------------------------------------------------------ the source

    @property
    def chunks(self) -> list[Chunk]:
        """The chunks held, in corpus order."""
        return [self.done[i] for i in sorted(self.done)]

    def set_chunk_rows(self, rows: int) -> int:
        """The store's chunk size: the first run's choice, kept for every later run of the store."""
        if not self.manifest.get("chunk_rows"):
            if self.done:  # chunks of a store written before chunk_rows was recorded: their own size
                rows = self.done[min(self.done)].rows
            self.manifest["chunk_rows"] = rows
            write_json(self._manifest_path, self.manifest)
        return int(self.manifest["chunk_rows"])

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.done.values())

    @property
    def label(self) -> str:
        return self.dir.name

    @property
    def dim(self) -> int | None:
        if not self.done:
            return self.manifest.get("dim")
        return int(self.done[min(self.done)].vectors().shape[1])

    @property
    def complete(self) -> bool:
        return (bool(self.manifest.get("complete")) and self.manifest.get("rows") == self.rows
                and sorted(self.done) == list(range(len(self.done))))

    def write_chunk(self, ids: Sequence[str], vectors: np.ndarray) -> Chunk:
        """Write the next chunk in corpus order (after the last one held)."""
        i = max(self.done) + 1 if self.done else 0
        offset = sum(c.rows for c in self.done.values())
        return self.accept(write_shard(self.dir, i, offset, ids, vectors), ids)

    def mark_complete(self, dim: int | None, extra: dict[str, Any] | None = None) -> None:
        chunks = self.chunks
        self.manifest.update({"complete": True, "rows": self.rows, "dim": dim, "chunks": len(chunks),
                              "chunk_sha256": [c.sha256[0] for c in chunks], **(extra or {})})
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
        chunks = self.chunks
        starts = np.array([c.offset for c in chunks], dtype=np.int64)
        which = np.searchsorted(starts, rows, side="right") - 1
        out = np.empty(rows.shape, dtype=object)
        for ci in np.unique(which):
            ids = chunks[ci].ids()
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
