"""The two small protocols every model in mlbench implements.

A dense ``Encoder`` turns a list of texts of one kind (``"query"`` or ``"candidate"``) in one
language into a float32 matrix; the harness batches, caches and scores. A ``PoolScorer`` (BM25)
cannot embed: it indexes a pool and scores queries against it, so each pool is indexed once.

``describe()`` returns a JSON-able dict with everything that changes the output (model identity
and revision or weight hash, prompts, max length, precision, normalisation). Its hash is the
encoder's fingerprint, the key of the embedding cache; the same dict lands in result files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

Kind = Literal["query", "candidate"]


@runtime_checkable
class Encoder(Protocol):
    """Dense encoder. Optional attributes the harness uses when present:

    - ``token_lengths(texts, kind) -> list[int]``: tokens per text, for token-budget batching;
    - ``language_dependent: bool``: True if the output depends on ``lang`` (then ``lang`` is part
      of the cache key; otherwise identical texts in two languages are encoded once);
    - ``batch_tokens: int`` and ``max_batch: int``: the padded-token budget and row cap per batch;
    - ``device: str``: where it runs, for provenance.
    """

    name: str

    def describe(self) -> dict[str, Any]: ...

    def encode(self, texts: Sequence[str], kind: Kind, lang: str) -> np.ndarray: ...


class PoolIndex(Protocol):
    def score(self, queries: Sequence[str], lang: str) -> np.ndarray:
        """(len(queries), pool size) float32 scores, columns in the pool order given to index()."""
        ...


@runtime_checkable
class PoolScorer(Protocol):
    name: str

    def describe(self) -> dict[str, Any]: ...

    def index(self, texts: Sequence[str], langs: Sequence[str]) -> PoolIndex:
        """Index a pool; ``langs[i]`` is the language of ``texts[i]`` (pools may mix languages)."""
        ...


def fingerprint(description: dict[str, Any]) -> str:
    """Stable hash of an encoder description (sorted-key JSON)."""
    blob = json.dumps(description, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]
