"""The tie rule, in one place: score descending, then doc id descending (byte order).

trec_eval sorts a run by score and, on equal scores, by docno in descending ``strcmp`` order before
it scores or cuts it; mlbench ranks the same way everywhere, in full rankings
(:mod:`mlbench.retrieval.fullrank`), at every top-k cut (:func:`top_columns`,
:mod:`mlbench.retrieval.search`) and in runs read from files or fused (:func:`rank_order`), so its
figures equal trec_eval's on the same scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TIE_RULE = "score desc, then doc id desc (byte order; trec_eval), also at the top-k cut"


def order_keys(x: np.ndarray) -> np.ndarray:
    """Map float32 to uint32 so that integer order equals float order (-0.0 and +0.0 equal)."""
    u = (np.asarray(x, dtype=np.float32) + np.float32(0.0)).view(np.uint32)
    return u ^ np.where(u >> np.uint32(31), np.uint32(0xFFFFFFFF), np.uint32(0x80000000))


def id_tiekeys(ids: Sequence[str]) -> np.ndarray:
    """Position of each id in ascending byte order (trec_eval compares docnos with strcmp)."""
    order = sorted(range(len(ids)), key=lambda i: ids[i].encode("utf-8"))
    key = np.empty(len(ids), dtype=np.int64)
    key[order] = np.arange(len(ids))
    return key


def rank_order(docs: Sequence[str], scores: Sequence[float]) -> list[int]:
    """Positions of a query's (doc, score) pairs in rank order under the tie rule (runs read from
    files or fused: any float scores, any number of documents)."""
    idx = sorted(range(len(docs)), key=lambda i: docs[i].encode("utf-8"), reverse=True)
    idx.sort(key=lambda i: -scores[i])  # stable: equal scores keep the doc id order
    return idx


def top_columns(scores: np.ndarray, k: int, tiekey: np.ndarray) -> np.ndarray:
    """Column indices of the top k per row under the tie rule (for run export and diagnostics)."""
    n, m = scores.shape
    k = min(k, m)
    if k == 0:
        return np.zeros((n, 0), dtype=np.int64)
    keys = order_keys(scores).astype(np.int64)
    # primary: score desc; secondary: tiekey desc. Combine into one sortable int (tiekey < 2**31).
    comb = (keys << np.int64(31)) | tiekey[None, :].astype(np.int64)
    if k < m:
        part = np.argpartition(-comb, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(m), (n, m)).copy()
    order = np.argsort(-np.take_along_axis(comb, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
