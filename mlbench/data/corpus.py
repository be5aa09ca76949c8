"""The ``ir_datasets`` loader (MIRACL): topics and qrels through ir_datasets, passages streamed.

Per language (``miracl/{lang}/dev``, or another split ir_datasets declares):

1. **Topics and qrels** through ir_datasets (:mod:`mlbench.data.irds`); ``max_queries`` keeps the
   first N topics (and their judgements).
2. **Scan**: the corpus is streamed once (no text is kept) to count its passages, find which judged
   passages it holds and, for a pool subset, choose the pool. Judged passages that are not in the
   corpus are an **error** when the corpus is MIRACL's whole corpus (as many passages as
   ir_datasets records); otherwise (a smaller local corpus, such as the mini pool) they are
   expected: they are dropped from the qrels, counted in ``run.qrels_outside_pool`` and the run is
   marked not comparable. All of this happens before any encoding.
3. **Pool**: the whole corpus, or a *pool subset* (``pool_subset=N``: the passages of the corpus
   judged for the queries that have a relevant passage in the corpus, plus the N other passages
   with the smallest sha256 of ``mlbench-pool-v1\\0`` + doc id, a deterministic sample independent
   of corpus order; ``pool_docids=FILE``: the doc ids listed in the file). Relevance (judged > 0)
   is restricted to the pool; a query left without a relevant passage is left out of its setting
   (with MIRACL's whole corpus none is). A pool subset is labelled in the result
   (``run.pool_subset``, ``run.comparable_with_official: false``) and a warning line is printed.

The candidates are :class:`~mlbench.data.model.StreamedCandidates`: every pass streams the corpus
from ir_datasets again, keeping the pool's passages in corpus order. Passage text is
``title + " " + text`` (:data:`mlbench.data.irds.DOC_TEXT`). Only same-language passages are judged,
so the task is not parallel; ids repeat across languages, so a pool of several languages (the
documented extra ``multi_pool``, ``{lang}>*``) prefixes them with the language (``yo/123#0``).
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mlbench.data import irds as M
from mlbench.data.loader import Loader, LoadRequest, Summary
from mlbench.data.model import LangData, Queries, StreamedCandidates, TaskData
from mlbench.errors import MlbenchError
from mlbench.files import slug
from mlbench.options import OptionGroup
from mlbench.task import TaskSpec

POOL_SALT = b"mlbench-pool-v1\x00"
POOL_RULE = ("the corpus passages judged for the queries that have a relevant passage in the corpus, plus the N "
             "others with the smallest sha256('mlbench-pool-v1\\0' + doc id)")


@dataclass
class CorpusOptions(OptionGroup):
    split: str | None = None  # another split ir_datasets declares (default: the task's, dev)
    pool_subset: int | None = None  # judged passages + N others (not comparable with MIRACL figures)
    pool_docids: Path | None = None  # or: the doc ids listed in this file
    ir_datasets_home: Path | None = None  # IR_DATASETS_HOME for this process (before ir_datasets is imported)
    multi_pool: bool = False  # also {lang}>*: each language's queries against the union of the pools

    FLAGS: ClassVar[dict[str, str]] = {"split": "--split", "pool_subset": "--pool-subset",
                                       "pool_docids": "--pool-docids", "ir_datasets_home": "--ir-datasets-home",
                                       "multi_pool": "--multi-pool"}
    APPLIES_TO: ClassVar[str] = "tasks of format ir_datasets (MIRACL)"

    def check(self) -> None:
        pool_spec(self.pool_subset, self.pool_docids)


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

    @property
    def complete(self) -> bool:
        return self.official is not None and self.n_corpus == self.official

    def docs(self):
        """The pool's passages, streamed from ir_datasets in corpus order."""
        for did, text in M.iter_docs(self.dataset_id):
            if self.pool_ids is None or did in self.pool_ids:
                yield did, text


def _hash(did: str) -> int:
    return int.from_bytes(hashlib.sha256(POOL_SALT + did.encode("utf-8")).digest()[:8], "big")


def scan(dataset_id: str, topics: M.Topics, pool: PoolSpec) -> Scan:
    """One streamed pass over the corpus: count, judged passages present, the pool."""
    judged = topics.judged()
    found: set[str] = set()
    listed_found: set[str] = set()
    # the smallest hashes over all passages, enough of them that `others` remain after removing
    # the judged ones (max-heap of negated hashes)
    keep = pool.others + len(judged) if pool.mode == "judged+others" and pool.others else 0
    heap: list[tuple[int, str]] = []
    n = 0
    for did, _ in M.iter_docs(dataset_id):
        n += 1
        if did in judged:
            found.add(did)
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
            "ir_datasets records; the corpus or qrels files are not MIRACL's")
    if pool.mode == "all":
        pool_ids, member = None, found
        selection = f"all-{n}"
    elif pool.mode == "judged+others":
        # judged passages (in the corpus) of the queries that keep a relevant passage in it
        live = [q for q in topics.query_ids if any(r > 0 and d in found for d, r in topics.qrels.get(q, {}).items())]
        base = {d for q in live for d in topics.qrels[q] if d in found}
        others = [d for _, d in sorted((-nh, d) for nh, d in heap) if d not in base][: pool.others]
        pool_ids = member = base | set(others)
    else:
        pool_ids = member = listed_found
    if pool_ids is not None:
        digest = hashlib.sha256("\n".join(sorted(pool_ids)).encode("utf-8")).hexdigest()[:16]
        selection = f"sel-{len(pool_ids)}-{digest}"
    qrels = {q: {d: r for d, r in v.items() if d in member} for q, v in topics.qrels.items()}
    n_eval = sum(1 for q in topics.query_ids if any(r > 0 for r in qrels.get(q, {}).values()))
    dropped = [(q, d, r) for q in topics.query_ids for d, r in topics.qrels.get(q, {}).items() if d not in member]
    outside = {"judged_not_in_corpus": len(unknown), "judgements_outside_pool": len(dropped),
               "relevant_outside_pool": sum(1 for _, _, r in dropped if r > 0),
               "queries_left_out": len(topics.query_ids) - n_eval}
    n_pool = n if pool_ids is None else len(pool_ids)
    return Scan(dataset_id, topics, n, official, pool_ids, n_pool, selection, qrels, outside, listed_found)


def _check(req: LoadRequest) -> None:
    """Before anything else: ir_datasets' home, and every dataset declared and in place."""
    opts: CorpusOptions = req.options
    M.use_home(opts.ir_datasets_home)  # before anything imports ir_datasets
    for lang in req.langs:
        dataset_id = M.dataset_id_for(req.spec.source.dataset, lang, opts.split)
        M.check_dataset(dataset_id)
        M.require_local(dataset_id, M.dataset_files(dataset_id))


def _lang_data(s: Scan, lang: str) -> LangData:
    t = s.topics
    name, _, _ = M.parse_dataset_id(s.dataset_id)
    candidates = StreamedCandidates(s.docs, s.n_pool, corpus=s.dataset_id.rsplit("/", 1)[0], selection=s.selection,
                                    folder=f"{slug(name)}-{slug(lang)}", origin=s.dataset_id)
    return LangData(lang, Queries(t.query_ids, t.query_texts, list(t.query_ids)), candidates,
                    {q: dict(v) for q, v in s.qrels.items() if v})


def _load(req: LoadRequest) -> TaskData:
    opts: CorpusOptions = req.options
    pool = pool_spec(opts.pool_subset, opts.pool_docids)
    M.use_home(opts.ir_datasets_home)
    scans: dict[str, Scan] = {}
    for lang in req.langs:
        dataset_id = M.dataset_id_for(req.spec.source.dataset, lang, opts.split)
        scans[lang] = scan(dataset_id, M.load_topics(dataset_id, req.max_queries), pool)
    if pool.listed is not None:
        unknown = pool.listed - set().union(*(s.listed_found for s in scans.values()))
        if unknown:
            raise MlbenchError(f"--pool-docids {pool.docids_file}: {len(unknown)} listed doc ids are in none of the corpora "
                               f"of {', '.join(req.langs)} (first: {min(unknown)!r})")
    reasons = []
    if pool.mode != "all":
        reasons.append(f"pool subset ({pool.describe()})")
    partial = [f"{lang}: {s.n_corpus} of {s.official} passages" for lang, s in scans.items() if not s.complete]
    if partial:
        reasons.append("local corpus smaller than MIRACL's (" + ", ".join(partial) + ")")
    if req.max_queries:
        reasons.append(f"first {req.max_queries} queries per language")
    subset: dict[str, Any] = {}
    if req.max_queries:
        subset["max_queries"] = req.max_queries
    if opts.split:
        subset["split"] = opts.split
    files = {lang: {"origin": f"ir_datasets:{s.dataset_id}", "sha256": s.topics.files["qrels"]["sha256"],
                    "ir_datasets_home": str(M.irds_home()), "topics": s.topics.files["topics"],
                    "qrels": s.topics.files["qrels"]} for lang, s in scans.items()}
    facts = {"comparable_with_official": not reasons, "not_comparable_because": reasons,
                "pool_subset": _pool_info(pool, scans),
                "corpus": {lang: {"passages": s.n_corpus, "ir_datasets_count": s.official, "complete": s.complete,
                                  "pool_passages": s.n_pool} for lang, s in scans.items()},
                "qrels_outside_pool": {lang: s.outside for lang, s in scans.items()}}
    warnings = [f"{req.spec.name} results are not comparable with MIRACL figures: {'; '.join(reasons)}"] if reasons else []
    return TaskData(spec=req.spec, langs={lang: _lang_data(s, lang) for lang, s in scans.items()}, answers="own",
                    ids_name_language=False, candidate_text=M.DOC_TEXT,
                    source=M.dataset_id_for(req.spec.source.dataset, "{lang}", opts.split), files=files, subset=subset,
                    kinds=LOADER.kinds(req), facts=facts, warnings=warnings, level=req.spec.relevance_level)


def _pool_info(pool: PoolSpec, scans: dict[str, Scan]) -> dict[str, Any] | None:
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


class CorpusLoader(Loader):
    format = "ir_datasets"
    options = CorpusOptions
    streamed = True

    def check(self, req: LoadRequest) -> None:
        _check(req)

    def load(self, req: LoadRequest) -> TaskData:
        return _load(req)

    def slice(self, req: LoadRequest) -> dict[str, Any]:
        opts: CorpusOptions = req.options
        pool = None
        if opts.pool_subset is not None or opts.pool_docids is not None:
            pool = pool_spec(opts.pool_subset, opts.pool_docids).describe()
        return {"split": opts.split, "pool": pool, "candidate_text": M.DOC_TEXT}

    def extra_kinds(self, req: LoadRequest) -> tuple[str, ...]:
        """``--multi-pool``: the pool of all languages, which needs two languages or more."""
        opts: CorpusOptions = req.options
        return ("multi",) if opts.multi_pool and len(req.langs) > 1 else ()

    def summary(self, spec: TaskSpec, data_dir: Path | None) -> Summary:
        s = M.summary(spec.source.dataset, spec.languages)
        if not s.installed:
            return Summary(None, None, f"{spec.source.describe()} (needs the ir-datasets package)")
        where = f"{len(s.local_langs)} of {len(spec.languages)} languages local in {M.irds_home()}"
        # counts as ir_datasets records them: the queries and the whole corpus (streamed at run time)
        return Summary(s.queries, s.passages, f"{spec.source.describe()} ({where})")


LOADER = CorpusLoader()
