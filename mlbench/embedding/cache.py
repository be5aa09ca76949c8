"""On-disk embedding cache, keyed by encoder fingerprint and text, and the encoding of every
unique text of a run through it (:func:`embed_texts`).

Layout: ``{MLBENCH_HOME}/embeddings/{fingerprint}/`` holds ``encoder.json`` (the description the
fingerprint hashes) and shards ``shard-*.npz``, each with ``keys`` ((n, 32) uint8: the sha256 of
kind, language scope and text; not a bytes dtype, which would drop trailing NUL bytes) and
``vectors`` (float32). Shards are written whole to a temporary file
and renamed, so a reader never sees a partial shard, a killed run loses at most the batches it had
not flushed, and two processes can fill one cache at once (unique shard names, no lock needed; a
text encoded by both is stored twice and read once). No pickle: ``np.load(allow_pickle=False)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.embedding.batches import encode_batches, plan_batches
from mlbench.embedding.units import Engine, Unit
from mlbench.encoders.base import Encoder
from mlbench.files import make_dirs, write_bytes, write_json
from mlbench.home import embedding_cache_dir

FLUSH_ROWS = 2048  # verified vectors are written to a new shard every this many texts


def text_key(kind: str, scope: str, text: str) -> bytes:
    """Cache key of one text; ``scope`` is the language for language-dependent encoders, else ''."""
    return hashlib.sha256(f"{kind}\x00{scope}\x00{text}".encode("utf-8")).digest()


class EmbeddingCache:
    def __init__(self, fingerprint: str, description: dict, root: Path | None = None) -> None:
        self.dir = Path(root or embedding_cache_dir()) / fingerprint
        make_dirs(self.dir)
        meta = self.dir / "encoder.json"
        if not meta.exists():
            write_json(meta, description)
        self._index: dict[bytes, tuple[Path, int]] = {}
        self._seen: set[str] = set()
        self.dim: int | None = None
        self.refresh()

    def refresh(self) -> None:
        """Index shards written since the last look (by this or another process)."""
        for path in sorted(self.dir.glob("shard-*.npz")):
            if path.name in self._seen:
                continue
            self._seen.add(path.name)
            try:
                with np.load(path, allow_pickle=False) as z:
                    keys, shape = z["keys"], z["vectors"].shape
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # unreadable: never trusted
                warnings.warn(f"embedding cache: ignoring unreadable shard {path} ({exc})", stacklevel=2)
                continue
            if (keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != 32 or len(shape) != 2
                    or shape[0] != len(keys) or (self.dim is not None and shape[1] != self.dim)):
                warnings.warn(f"embedding cache: ignoring inconsistent shard {path}", stacklevel=2)
                continue
            self.dim = shape[1]
            blob = keys.tobytes()
            for row in range(len(keys)):
                key = blob[32 * row: 32 * row + 32]
                self._index.setdefault(key, (path, row))

    def __contains__(self, key: bytes) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._index)

    def get_many(self, keys: list[bytes]) -> np.ndarray:
        """Vectors for keys that are all present, in order."""
        out = np.empty((len(keys), self.dim or 0), dtype=np.float32)
        by_shard: dict[Path, list[tuple[int, int]]] = {}
        for i, key in enumerate(keys):
            path, row = self._index[key]
            by_shard.setdefault(path, []).append((i, row))
        for path, pairs in by_shard.items():
            with np.load(path, allow_pickle=False) as z:
                vectors = z["vectors"]
            idx = np.array(pairs, dtype=np.int64)
            out[idx[:, 0]] = vectors[idx[:, 1]]
        return out

    def put_many(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Store verified vectors as one new shard (atomic)."""
        if not keys:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[0] != len(keys) or not np.isfinite(vectors).all():
            raise ValueError("embedding cache: refusing to store unverified vectors")
        buf = io.BytesIO()
        np.savez(buf, keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32), vectors=vectors)
        path = self.dir / f"shard-{os.getpid()}-{uuid.uuid4().hex[:12]}.npz"
        write_bytes(path, buf.getvalue())
        self._seen.add(path.name)
        self.dim = vectors.shape[1]
        for row, key in enumerate(keys):
            self._index.setdefault(key, (path, row))

    def description(self) -> dict:
        return json.loads((self.dir / "encoder.json").read_text(encoding="utf-8"))


class MemoryCache:
    """The cache's interface with nothing written: for a model whose weights change between calls
    (the training-loop evaluator), where vectors of one call are never valid for the next. Each
    unique text is still encoded once per call."""

    dir = None

    def __init__(self) -> None:
        self._vectors: dict[bytes, np.ndarray] = {}
        self.dim: int | None = None

    def refresh(self) -> None:
        pass

    def __contains__(self, key: bytes) -> bool:
        return key in self._vectors

    def __len__(self) -> int:
        return len(self._vectors)

    def get_many(self, keys: list[bytes]) -> np.ndarray:
        if not keys:
            return np.empty((0, self.dim or 0), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys])

    def put_many(self, keys: list[bytes], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[0] != len(keys) or not np.isfinite(vectors).all():
            raise ValueError("embedding cache: refusing to store unverified vectors")
        if len(keys):
            self.dim = vectors.shape[1]
        for key, vec in zip(keys, vectors):
            self._vectors.setdefault(key, vec)


@dataclass
class EncodeStats:
    unique: int = 0
    cached: int = 0
    encoded: int = 0
    batches: int = 0
    seconds: float = 0.0
    per_group: dict[str, int] = field(default_factory=dict)


Progress = Callable[[int], None]


def embed_texts(encoder: Encoder, cache: EmbeddingCache, groups: dict[tuple[str, str], list[str]],
                progress_start: Callable[[int], Progress] | None = None,
                engine: Engine | None = None) -> tuple[dict[tuple[str, str], np.ndarray], EncodeStats]:
    """Embeddings for every (kind, lang) group of texts, each unique text encoded at most once.

    Texts are de-duplicated across groups (by kind, and language when the encoder depends on it),
    looked up in the cache, and the rest encoded group by group (:func:`encode_batches`). Verified
    vectors are flushed to a shard every ``FLUSH_ROWS`` texts and whenever the run stops, for any
    reason, so a rerun resumes where it left off. ``progress_start(total)`` is called once with
    the number of texts to encode and returns a callback taking the number just encoded.

    With an ``engine`` (:mod:`mlbench.engines`) other than local, candidate groups are encoded by
    its workers: the batches are planned here over the whole group, exactly as the local loop plans
    them, and sent ``FLUSH_ROWS`` texts at a time; queries are always encoded here.
    """
    t0 = time.perf_counter()
    stats = EncodeStats()
    lang_dep = bool(getattr(encoder, "language_dependent", False))
    keys_of: dict[tuple[str, str], list[bytes]] = {}
    todo: dict[tuple[str, str], dict[bytes, str]] = {}
    seen: set[bytes] = set()
    for (kind, lang), texts in groups.items():
        scope = lang if lang_dep else ""
        keys = [text_key(kind, scope, t) for t in texts]
        keys_of[(kind, lang)] = keys
        for key, text in zip(keys, texts):
            if key in seen:
                continue
            seen.add(key)
            if key in cache:
                stats.cached += 1
            else:
                todo.setdefault((kind, lang), {})[key] = text
    stats.unique = len(seen)
    total = sum(len(v) for v in todo.values())
    tick = progress_start(total) if progress_start else (lambda n: None)
    pending_keys: list[bytes] = []
    pending_vecs: list[np.ndarray] = []

    def flush() -> None:
        if pending_keys:
            cache.put_many(list(pending_keys), np.concatenate(pending_vecs))
            pending_keys.clear()
            pending_vecs.clear()

    try:
        for (kind, lang), items in todo.items():
            keys, texts = list(items), list(items.values())
            if engine is not None and kind == "candidate":
                parts = _engine_batches(engine, encoder, texts, kind, lang, cache.dim, tick)
            else:
                parts = _local_batches(encoder, texts, kind, lang, cache.dim, tick)
            for idx, vecs, n_batches in parts:
                cache.dim = vecs.shape[1]
                pending_keys.extend(keys[i] for i in idx)
                pending_vecs.append(vecs)
                stats.encoded += len(idx)
                stats.batches += n_batches
                if len(pending_keys) >= FLUSH_ROWS:
                    flush()
            stats.per_group[f"{kind}:{lang}"] = len(items)
    finally:
        flush()  # keep what was verified, whatever stopped the run
    everything = cache.get_many([k for keys in keys_of.values() for k in keys])  # each shard read once
    out, start = {}, 0
    for group, keys in keys_of.items():
        out[group] = everything[start:start + len(keys)]
        start += len(keys)
    stats.seconds = time.perf_counter() - t0
    return out, stats


def _local_batches(encoder: Encoder, texts: list[str], kind: str, lang: str, dim: int | None,
                   tick: Progress) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """(indices into texts, vectors, 1) per batch encoded here, in the shape of :func:`_engine_batches`;
    a batch is ticked once the caller holds it, so a progress callback that stops the run loses none."""
    for idx, vecs in encode_batches(encoder, texts, kind, lang, dim):  # type: ignore[arg-type]
        yield idx, vecs, 1
        tick(len(idx))


def _engine_batches(engine: Engine, encoder: Encoder, texts: list[str], kind: str, lang: str, dim: int | None,
                    tick: Progress) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """(indices into texts, vectors, batches) per unit an engine's workers encoded: the group's
    batches as :func:`plan_batches` plans them, consecutive batches of up to ``FLUSH_ROWS`` texts
    per unit."""
    from mlbench.errors import MlbenchError

    units: list[list[np.ndarray]] = [[]]
    for idx in plan_batches(encoder, texts, kind):  # type: ignore[arg-type]
        if units[-1] and sum(len(g) for g in units[-1]) + len(idx) > FLUSH_ROWS:
            units.append([])
        units[-1].append(idx)
    rows_of = [np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64) for batches in units]

    def work() -> Iterator[Unit]:
        for u, batches in enumerate(units):
            if not batches:
                continue
            starts = np.cumsum([0] + [len(b) for b in batches])
            yield Unit(kind, lang, [texts[i] for i in rows_of[u]], index=u, of=f" of unit {u}",
                       batches=[np.arange(a, b) for a, b in zip(starts[:-1], starts[1:])])

    for unit, result in engine.run(work(), tick):
        vecs = result.vectors
        if dim is not None and vecs.shape[1] != dim:
            raise MlbenchError(f"{kind} unit {unit.index} ({lang}): a worker returned dimension {vecs.shape[1]}, "
                               f"other texts have {dim}")
        dim = vecs.shape[1]
        yield rows_of[unit.index], vecs, result.batches
