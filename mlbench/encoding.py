"""Encode every unique text of a run exactly once, through the embedding cache.

Texts are grouped by (kind, language), de-duplicated, looked up in the cache, and the rest are
encoded in batches built by *token* count: sorted by length, each batch holds as many texts as fit
a padded-token budget (rows x longest row). Batching by characters would put short-in-characters,
long-in-tokens scripts (Chinese, Thai) next to long Latin texts and waste much of each batch on
padding. Each batch's output is checked (rows, width, finite values) before it may enter the
cache; verified vectors are flushed to a shard every few thousand texts and when the run stops
for any reason, so a rerun resumes where it left off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlbench.cache import EmbeddingCache, text_key
from mlbench.encoders.base import Encoder
from mlbench.errors import MlbenchError

DEFAULT_BATCH_TOKENS = 16384
DEFAULT_MAX_BATCH = 256
FLUSH_ROWS = 2048


@dataclass
class EncodeStats:
    unique: int = 0
    cached: int = 0
    encoded: int = 0
    batches: int = 0
    seconds: float = 0.0
    per_group: dict[str, int] = field(default_factory=dict)


def estimate_tokens(texts: Sequence[str]) -> list[int]:
    """Fallback when an encoder cannot count tokens: UTF-8 bytes / 3, a rough subword rate that
    at least counts CJK and Thai (3 bytes a character) as long, unlike character counts."""
    return [max(1, len(t.encode("utf-8")) // 3) + 2 for t in texts]


def token_batches(lengths: Sequence[int], budget: int, max_batch: int) -> list[np.ndarray]:
    """Index batches, longest first, each with rows * longest <= budget (at least one row)."""
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    batches, start = [], 0
    while start < len(order):
        longest = max(1, int(lengths[order[start]]))
        size = max(1, min(max_batch, budget // longest))
        batches.append(order[start:start + size])
        start += size
    return batches


def _check(out: object, n: int, dim: int | None, where: str) -> np.ndarray:
    if not isinstance(out, np.ndarray):
        try:
            out = np.asarray(out)
        except Exception:  # noqa: BLE001
            raise MlbenchError(f"{where}: returned {type(out).__name__}, not an array") from None
    if out.ndim != 2 or out.shape[0] != n:
        raise MlbenchError(f"{where}: returned shape {out.shape} for {n} texts")
    if dim is not None and out.shape[1] != dim:
        raise MlbenchError(f"{where}: returned dimension {out.shape[1]}, earlier batches had {dim}")
    if out.dtype.kind not in "fiu":
        raise MlbenchError(f"{where}: returned dtype {out.dtype}, not numbers")
    out = np.array(out, dtype=np.float32)  # a copy: an encoder may reuse (overwrite) the array it returned
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).any(axis=1).sum())
        raise MlbenchError(f"{where}: returned NaN or inf in {bad} of {n} rows")
    return out


Progress = Callable[[int], None]


def encode_texts(encoder: Encoder, cache: EmbeddingCache, groups: dict[tuple[str, str], list[str]],
                 progress_start: Callable[[int], Progress] | None = None) -> tuple[dict[tuple[str, str], np.ndarray], EncodeStats]:
    """Embeddings for every (kind, lang) group of texts, each unique text encoded at most once.

    ``progress_start(total)`` is called once with the number of texts to encode and returns a
    callback taking the number just encoded.
    """
    t0 = time.perf_counter()
    stats = EncodeStats()
    lang_dep = bool(getattr(encoder, "language_dependent", False))
    name = getattr(encoder, "name", type(encoder).__name__)
    budget = int(getattr(encoder, "batch_tokens", DEFAULT_BATCH_TOKENS))
    max_batch = int(getattr(encoder, "max_batch", DEFAULT_MAX_BATCH))
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
    dim = cache.dim

    def flush() -> None:
        if pending_keys:
            cache.put_many(list(pending_keys), np.concatenate(pending_vecs))
            pending_keys.clear()
            pending_vecs.clear()

    try:
        for (kind, lang), items in todo.items():
            keys, texts = list(items), list(items.values())
            counter = getattr(encoder, "token_lengths", None)
            lengths = list(counter(texts, kind)) if counter else estimate_tokens(texts)
            if len(lengths) != len(texts):
                raise MlbenchError(f"encoder {name}: token_lengths returned {len(lengths)} values for {len(texts)} texts")
            for b, idx in enumerate(token_batches(lengths, budget, max_batch)):
                where = f"encoder {name}, {kind} batch {b} ({lang}, {len(idx)} texts)"
                try:
                    raw = encoder.encode([texts[i] for i in idx], kind, lang)
                except MlbenchError:
                    raise
                except Exception as exc:  # noqa: BLE001 - any encoder failure is reported with its batch
                    raise MlbenchError(f"{where}: raised {type(exc).__name__}: {exc}") from exc
                vecs = _check(raw, len(idx), dim, where)
                dim = vecs.shape[1]
                pending_keys.extend(keys[i] for i in idx)
                pending_vecs.append(vecs)
                stats.encoded += len(idx)
                stats.batches += 1
                tick(len(idx))
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
