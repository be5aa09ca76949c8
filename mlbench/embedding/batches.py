"""The one encode loop: texts in token-budget batches, every batch's output verified.

Texts are sorted by length and cut into batches by *token* count: each batch holds as many texts
as fit a padded-token budget (rows x longest row). Batching by characters would put
short-in-characters, long-in-tokens scripts (Chinese, Thai) next to long Latin texts and waste much
of each batch on padding. Each batch's output is checked (rows, width, finite values) before anyone
may keep it: the text cache (:mod:`mlbench.embedding.cache`) and the corpus store
(:mod:`mlbench.embedding.store`) both take their vectors from :func:`encode_batches` and nowhere
else.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mlbench.encoders.base import Encoder, Kind
from mlbench.errors import MlbenchError

DEFAULT_BATCH_TOKENS = 16384
DEFAULT_MAX_BATCH = 256


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


def verify(out: object, n: int, dim: int | None, where: str) -> np.ndarray:
    """An encoder's output for ``n`` texts as a float32 copy, or a one-line error naming the batch."""
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


def plan_batches(encoder: Encoder, texts: Sequence[str], kind: Kind) -> list[np.ndarray]:
    """The token-budget batches (index arrays into ``texts``, longest first) that
    :func:`encode_batches` encodes: the same texts always give the same batches, wherever they are
    encoded (an engine's worker encodes the batches the driver planned)."""
    name = getattr(encoder, "name", type(encoder).__name__)
    budget = int(getattr(encoder, "batch_tokens", DEFAULT_BATCH_TOKENS))
    max_batch = int(getattr(encoder, "max_batch", DEFAULT_MAX_BATCH))
    counter = getattr(encoder, "token_lengths", None)
    lengths = list(counter(texts, kind)) if counter else estimate_tokens(texts)
    if len(lengths) != len(texts):
        raise MlbenchError(f"encoder {name}: token_lengths returned {len(lengths)} values for {len(texts)} texts")
    return token_batches(lengths, budget, max_batch)


def encode_batches(encoder: Encoder, texts: Sequence[str], kind: Kind, lang: str, dim: int | None = None,
                   what: str | None = None, of: str = "",
                   batches: Sequence[np.ndarray] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(indices into texts, verified float32 vectors)`` per batch, longest texts first
    (``batches``: the batches planned by :func:`plan_batches`, planned here when not given).

    ``what`` and ``of`` name the batch in errors: ``encoder NAME, {what} batch B{of} (LANG, N texts)``
    (``what`` defaults to the kind)."""
    name = getattr(encoder, "name", type(encoder).__name__)
    for b, idx in enumerate(plan_batches(encoder, texts, kind) if batches is None else batches):
        where = f"encoder {name}, {what or kind} batch {b}{of} ({lang}, {len(idx)} texts)"
        try:
            raw = encoder.encode([texts[i] for i in idx], kind, lang)
        except MlbenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - any encoder failure is reported with its batch
            raise MlbenchError(f"{where}: raised {type(exc).__name__}: {exc}") from exc
        vecs = verify(raw, len(idx), dim, where)
        dim = vecs.shape[1]
        yield idx, vecs
