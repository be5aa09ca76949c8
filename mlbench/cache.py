"""On-disk embedding cache, keyed by encoder fingerprint and text.

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
import uuid
import warnings
import zipfile
from pathlib import Path

import numpy as np

from mlbench.atomic import write_bytes, write_json
from mlbench.home import embedding_cache_dir


def text_key(kind: str, scope: str, text: str) -> bytes:
    """Cache key of one text; ``scope`` is the language for language-dependent encoders, else ''."""
    return hashlib.sha256(f"{kind}\x00{scope}\x00{text}".encode("utf-8")).digest()


class EmbeddingCache:
    def __init__(self, fingerprint: str, description: dict, root: Path | None = None) -> None:
        self.dir = Path(root or embedding_cache_dir()) / fingerprint
        self.dir.mkdir(parents=True, exist_ok=True)
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
