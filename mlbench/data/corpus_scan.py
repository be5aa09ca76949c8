"""One streamed pass over a language's corpus, and the pool it gives (:mod:`mlbench.data.corpus`).

The corpus is streamed once (no text is kept) to count its documents, find which judged
documents it holds and, for a pool subset, choose the pool. Judged documents that are not in the
corpus are an **error** when the corpus is whole (as many documents as ir_datasets records);
otherwise (a smaller local corpus, such as MIRACL's mini pool) they are expected: they are dropped
from the qrels and counted. A *pool subset* (``pool_subset=N``) is the documents of the corpus
judged for the queries that have a relevant document in the corpus (and the documents judged in
the pool of all languages, ``also_judged``), plus the N other documents with the smallest sha256
of ``mlbench-pool-v1\\0`` + doc id, a deterministic sample independent of corpus order;
``pool_docids=FILE`` is the doc ids listed in the file. A document is relevant at a grade of at
least ``level``.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlbench.data import irds as M
from mlbench.errors import MlbenchError

POOL_SALT = b"mlbench-pool-v1\x00"
POOL_RULE = ("the corpus passages judged for the queries that have a relevant passage in the corpus, plus the N "
             "others with the smallest sha256('mlbench-pool-v1\\0' + doc id)")


@dataclass
class PoolSpec:
    mode: str = "all"  # all | judged+others | docids
    others: int = 0
    docids_file: Path | None = None
    listed: set[str] | None = None
    file_sha256: str | None = None

    def describe(self) -> str:
        if self.mode == "judged+others":
            return f"judged passages + {self.others} others"
        if self.mode == "docids":
            return f"doc ids listed in {self.docids_file}"
        return "whole corpus"


def pool_spec(pool_subset: int | None, pool_docids: Path | None) -> PoolSpec:
    if pool_subset is not None and pool_docids is not None:
        raise MlbenchError("--pool-subset and --pool-docids are exclusive: give one")
    if pool_subset is not None:
        if pool_subset < 0:
            raise MlbenchError(f"--pool-subset must be 0 or more (other passages beside the judged ones), got {pool_subset}")
        return PoolSpec("judged+others", others=pool_subset)
    if pool_docids is not None:
        path = Path(pool_docids)
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except OSError as exc:
            raise MlbenchError(f"--pool-docids {path}: cannot read it ({exc.strerror or exc})") from None
        except UnicodeDecodeError as exc:
            raise MlbenchError(f"--pool-docids {path}: not UTF-8 text ({exc})") from None
        listed = {line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}
        if not listed:
            raise MlbenchError(f"--pool-docids {path}: lists no doc id (one per line; '#' starts a comment)")
        return PoolSpec("docids", docids_file=path, listed=listed, file_sha256=hashlib.sha256(raw).hexdigest())
    return PoolSpec()


@dataclass
class Scan:
    """What one streamed pass over a language's corpus found."""

    dataset_id: str
    topics: M.Topics
    n_corpus: int
    official: int | None
    pool_ids: set[str] | None  # None: the whole corpus
    n_pool: int
    selection: str  # the pool's name in the embedding store
    qrels: dict[str, dict[str, int]]  # restricted to the pool
    outside: dict[str, int] = field(default_factory=dict)
    listed_found: set[str] = field(default_factory=set)
    also_found: set[str] = field(default_factory=set)  # of ``also_judged``: those in the pool

    @property
    def complete(self) -> bool:
        return self.official is not None and self.n_corpus == self.official

    def docs(self):
        """The pool's documents, streamed from ir_datasets in corpus order."""
        for did, text in M.iter_docs(self.dataset_id):
            if self.pool_ids is None or did in self.pool_ids:
                yield did, text


def _hash(did: str) -> int:
    return int.from_bytes(hashlib.sha256(POOL_SALT + did.encode("utf-8")).digest()[:8], "big")


def scan(dataset_id: str, topics: M.Topics, pool: PoolSpec, level: int = 1,
         also_judged: set[str] | frozenset[str] = frozenset()) -> Scan:
    """One streamed pass over the corpus: count, judged documents present, the pool.
    ``also_judged``: documents judged elsewhere (in the pool of all languages) that this corpus may
    hold; those it holds join a pool subset and are reported in ``also_found``."""
    judged = topics.judged()
    found: set[str] = set()
    also: set[str] = set()
    listed_found: set[str] = set()
    # the smallest hashes over all passages, enough of them that `others` remain after removing
    # the judged ones (max-heap of negated hashes)
    keep = pool.others + len(judged | set(also_judged)) if pool.mode == "judged+others" and pool.others else 0
    heap: list[tuple[int, str]] = []
    n = 0
    for did, _ in M.iter_docs(dataset_id):
        n += 1
        if did in judged:
            found.add(did)
        if did in also_judged:
            also.add(did)
        if keep:
            h = _hash(did)
            if len(heap) < keep:
                heapq.heappush(heap, (-h, did))
            elif -heap[0][0] > h:
                heapq.heapreplace(heap, (-h, did))
        if pool.listed is not None and did in pool.listed:
            listed_found.add(did)
    official = M.official_count(dataset_id)
    unknown = judged - found
    if unknown and official is not None and n == official:
        first = min(unknown)
        raise MlbenchError(
            f"{topics.files['qrels']['path']}: the qrels of {dataset_id} name {len(unknown)} documents that are not in "
            f"the corpus (first: {first!r}), yet the corpus under IR_DATASETS_HOME={M.irds_home()} has all {n} passages "
            "ir_datasets records; the corpus or qrels files are not the published ones")
    if pool.mode == "all":
        pool_ids, member = None, found
        selection = f"all-{n}"
    elif pool.mode == "judged+others":
        # judged passages (in the corpus) of the queries that keep a relevant passage in it
        live = [q for q in topics.query_ids
                if any(r >= level and d in found for d, r in topics.qrels.get(q, {}).items())]
        base = {d for q in live for d in topics.qrels[q] if d in found} | also
        others = [d for _, d in sorted((-nh, d) for nh, d in heap) if d not in base][: pool.others]
        pool_ids = member = base | set(others)
    else:
        pool_ids = member = listed_found
        also &= listed_found
    if pool_ids is not None:
        digest = hashlib.sha256("\n".join(sorted(pool_ids)).encode("utf-8")).hexdigest()[:16]
        selection = f"sel-{len(pool_ids)}-{digest}"
    qrels = {q: {d: r for d, r in v.items() if d in member} for q, v in topics.qrels.items()}
    n_eval = sum(1 for q in topics.query_ids if any(r >= level for r in qrels.get(q, {}).values()))
    dropped = [(q, d, r) for q in topics.query_ids for d, r in topics.qrels.get(q, {}).items() if d not in member]
    outside = {"judged_not_in_corpus": len(unknown), "judgements_outside_pool": len(dropped),
               "relevant_outside_pool": sum(1 for _, _, r in dropped if r >= level),
               "queries_left_out": len(topics.query_ids) - n_eval}
    n_pool = n if pool_ids is None else len(pool_ids)
    return Scan(dataset_id, topics, n, official, pool_ids, n_pool, selection, qrels, outside, listed_found, also)


def pool_info(pool: PoolSpec, scans: dict[str, Scan]) -> dict[str, Any] | None:
    """The pool subset as a result records it (None: the whole corpus)."""
    if pool.mode == "all":
        return None
    info: dict[str, Any] = {
        "mode": pool.mode, "description": pool.describe(), "comparable_with_official": False,
        "languages": {lang: {"passages": s.n_pool, "judged_in_pool": len(s.topics.judged() & (s.pool_ids or set())),
                             "corpus_passages": s.n_corpus, "selection": s.selection} for lang, s in scans.items()}}
    if pool.mode == "judged+others":
        info.update({"others": pool.others, "selection_rule": POOL_RULE})
    else:
        info.update({"file": str(pool.docids_file), "sha256": pool.file_sha256, "listed": len(pool.listed or ())})
    return info
