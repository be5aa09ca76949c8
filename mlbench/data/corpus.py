"""The ``ir_datasets`` loader (MIRACL, Mr. TyDi, NeuCLIR, HC4): topics and qrels through
ir_datasets, documents streamed.

A task file's ``source.dataset`` is an ir_datasets id pattern with ``{lang}`` and ``{split}``
(``miracl/{lang}/{split}``; ``source.split`` is the default, ``--split`` another split ir_datasets
declares). Per language:

1. **Topics and qrels** through ir_datasets (:mod:`mlbench.data.irds`), with their grades
   (``LangData.judged``; relevant at grade >= ``relevance_level``, ``TaskData.level``);
   ``max_queries`` keeps the first N topics (and their judgements).
2. **Scan** (:mod:`mlbench.data.corpus_scan`): the corpus is streamed once, before any encoding,
   to count its documents, find the judged ones it holds and choose the pool (the whole corpus,
   or a pool subset: ``pool_subset=N``, ``pool_docids=FILE``, labelled in the result as not
   comparable). Judged documents outside a *whole* corpus are an error; outside a smaller local
   corpus they are dropped, counted in ``run.qrels_outside_pool`` and the run is marked not
   comparable. A query left without a relevant document is left out of its setting.
3. **Candidates**: :class:`~mlbench.data.model.StreamedCandidates`, every pass streaming the
   corpus from ir_datasets again, keeping the pool's documents in corpus order. Document text is
   ``title + " " + text``, the text alone without a title (:data:`mlbench.data.irds.DOC_TEXT`).

**Queries in the documents' language** (MIRACL, Mr. TyDi): each language's topics are its
queries, judged only in its own pool (``answers = "own"``: query ids repeat across languages);
``--multi-pool`` adds ``{lang}>*`` over the union of the pools. **Topics in one language**
(``source.query_language = "en"``: NeuCLIR, HC4): each document language's dataset gives that
language's pool and qrels, keyed by topic id (the query group); the topics of every dataset are
gathered into the one query language (a LangData with queries and no candidates: the union, in
order of first appearance over the datasets in the task's language order, then the multilingual
dataset's; a topic whose text differs between datasets is an error naming both), with
``answers = "any"``. Settings are then ``en>fa`` ... (cross) and ``en>*`` (multi). For ``en>*``,
when ``source.multi_dataset`` is declared by ir_datasets for the split, its qrels judge the pool
of all languages as one (``TaskData.multi_judged``, pool ids ``{lang}/{doc id}``, each judged
document's language found in the corpora scanned); else the union of the languages' judgements.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mlbench.data import irds as M
from mlbench.data.corpus_scan import POOL_RULE, POOL_SALT, PoolSpec, Scan, pool_info, pool_spec, scan
from mlbench.data.loader import Loader, LoadRequest, Summary
from mlbench.data.model import LangData, Queries, StreamedCandidates, TaskData, no_candidates, no_queries
from mlbench.errors import MlbenchError
from mlbench.options import OptionGroup
from mlbench.task import TaskSpec


@dataclass
class CorpusOptions(OptionGroup):
    split: str | None = None  # another split ir_datasets declares (default: the task's source.split)
    pool_subset: int | None = None  # judged passages + N others (not comparable with official figures)
    pool_docids: Path | None = None  # or: the doc ids listed in this file
    ir_datasets_home: Path | None = None  # IR_DATASETS_HOME for this process (before ir_datasets is imported)
    multi_pool: bool = False  # also {lang}>*: each language's queries against the union of the pools
    unchecked_files: bool = False  # read topics/qrels whose md5 differs from ir_datasets' record (marked)

    FLAGS: ClassVar[dict[str, str]] = {"split": "--split", "pool_subset": "--pool-subset",
                                       "pool_docids": "--pool-docids", "ir_datasets_home": "--ir-datasets-home",
                                       "multi_pool": "--multi-pool", "unchecked_files": "--unchecked-files"}
    APPLIES_TO: ClassVar[str] = "tasks of format ir_datasets (MIRACL)"

    def check(self) -> None:
        pool_spec(self.pool_subset, self.pool_docids)


@dataclass(frozen=True)
class Sources:
    """The datasets a request reads: one per language, and the multilingual one (when declared)."""

    split: str  # the split in effect
    datasets: dict[str, str]  # language -> dataset id
    multi: str | None  # the dataset judging the pool of all languages as one, when ir_datasets declares it
    query_language: str  # "" : each language's topics are its own


def sources(req: LoadRequest) -> Sources:
    """The datasets of a request (imports ir_datasets, to ask whether it declares the multilingual one)."""
    src, opts = req.spec.source, req.options
    datasets = {lang: M.dataset_id_for(src.dataset, lang, opts.split, src.split) for lang in req.langs}
    if "{split}" in src.dataset:
        split = opts.split or src.split
    else:  # an old-style pattern: the split is the last part
        split = next(iter(datasets.values())).rsplit("/", 1)[-1]
    multi = M.dataset_id_for(src.multi_dataset, "", opts.split, src.split) if src.multi_dataset else None
    return Sources(split, datasets, multi if multi is not None and M.declared(multi) else None, src.query_language)


def _check(req: LoadRequest) -> None:
    """Before anything else: ir_datasets' home, and every dataset declared and in place."""
    opts: CorpusOptions = req.options
    M.use_home(opts.ir_datasets_home)  # before anything imports ir_datasets
    s = sources(req)
    for dataset_id in s.datasets.values():
        M.require_local(dataset_id, M.dataset_files(dataset_id))
    if s.multi is not None and _wants_multi(req, s):
        M.require_local(s.multi, M.dataset_files(s.multi, roles=("topics", "qrels")))


def _wants_multi(req: LoadRequest, s: Sources) -> bool:
    """Whether the multilingual dataset is read: its topics belong to a task with topics in one
    language, its qrels to the pool of all languages."""
    return bool(s.query_language) or "multi" in LOADER.kinds(req)


def display_name(spec: TaskSpec) -> str:
    """``MIRACL (dev)`` -> ``MIRACL``: how warnings name the benchmark."""
    return spec.title.split(" (")[0] or spec.name


def gather_topics(topics: list[M.Topics]) -> tuple[list[str], list[str]]:
    """The union of several datasets' topics, in order of first appearance; a topic whose text
    differs between datasets is an error naming both."""
    ids, texts, first = [], [], {}
    for t in topics:
        for qid, text in zip(t.query_ids, t.query_texts):
            if qid not in first:
                first[qid] = (t.dataset_id, text)
                ids.append(qid)
                texts.append(text)
            elif first[qid][1] != text:
                raise MlbenchError(f"topic {qid!r} reads {first[qid][1]!r} in {first[qid][0]} but {text!r} in "
                                   f"{t.dataset_id}; the datasets' topics disagree")
    return ids, texts


def _candidates(s: Scan, pattern: str, lang: str) -> StreamedCandidates:
    corpus = M.corpus_id(pattern, lang)
    return StreamedCandidates(s.docs, s.n_pool, corpus=corpus, selection=s.selection, folder=M.store_name(corpus),
                              origin=s.dataset_id)


def _multi_judged(multi: M.Topics, scans: dict[str, Scan], complete: bool, level: int) -> tuple[dict, dict[str, int]]:
    """The multilingual qrels with pool ids ``{lang}/{doc id}``, each document's language being
    the corpus that holds it; judged documents in no pool are dropped and counted."""
    where: dict[str, str] = {}
    for lang, s in scans.items():
        for did in s.also_found:
            if did in where:
                raise MlbenchError(f"{multi.dataset_id}: judged document {did!r} is in the corpora of both "
                                   f"{where[did]} and {lang}; its language in the pool of all languages is ambiguous")
            where[did] = lang
    judged: dict[str, dict[str, int]] = {}
    dropped = []
    for q in multi.query_ids:
        for did, grade in multi.qrels.get(q, {}).items():
            if did in where:
                judged.setdefault(q, {})[f"{where[did]}/{did}"] = grade
            else:
                dropped.append(grade)
    unknown = multi.judged() - set(where)
    if unknown and complete:
        raise MlbenchError(f"{multi.files['qrels']['path']}: the qrels of {multi.dataset_id} name {len(unknown)} documents "
                           f"in none of the corpora (first: {min(unknown)!r}), yet every corpus has all the documents "
                           "ir_datasets records; the corpus or qrels files are not the published ones")
    return judged, {"judged_not_in_corpus": len(unknown), "judgements_outside_pool": len(dropped),
                    "relevant_outside_pool": sum(1 for g in dropped if g >= level)}


def _load(req: LoadRequest) -> TaskData:
    opts: CorpusOptions = req.options
    spec, level = req.spec, req.spec.relevance_level
    pool = pool_spec(opts.pool_subset, opts.pool_docids)
    M.use_home(opts.ir_datasets_home)
    s = sources(req)
    check = not opts.unchecked_files
    topics = {lang: M.load_topics(d, None if s.query_language else req.max_queries, lang, check)
              for lang, d in s.datasets.items()}
    multi = M.load_topics(s.multi, None, "*", check) if s.multi is not None and _wants_multi(req, s) else None
    query_ids: list[str] = []
    query_texts: list[str] = []
    if s.query_language:
        query_ids, query_texts = gather_topics([*topics.values(), *([multi] if multi else [])])
        query_ids, query_texts = query_ids[: req.max_queries or None], query_texts[: req.max_queries or None]
        topics = {lang: M.Topics(t.dataset_id, lang, query_ids, query_texts,
                                 {q: v for q, v in t.qrels.items() if q in set(query_ids)}, t.files, t.n_topics_file)
                  for lang, t in topics.items()}
    if multi is not None and s.query_language:
        multi = multi.head(query_ids)
    use_multi = multi is not None and "multi" in LOADER.kinds(req)
    also = multi.judged() if use_multi and multi is not None else set()
    scans = {lang: scan(s.datasets[lang], t, pool, level, also) for lang, t in topics.items()}
    if pool.listed is not None:
        unknown = pool.listed - set().union(*(sc.listed_found for sc in scans.values()))
        if unknown:
            raise MlbenchError(f"--pool-docids {pool.docids_file}: {len(unknown)} listed doc ids are in none of the corpora "
                               f"of {', '.join(req.langs)} (first: {min(unknown)!r})")
    outside = {lang: sc.outside for lang, sc in scans.items()}
    multi_judged = None
    if use_multi and multi is not None:
        whole = req.langs == spec.languages and all(sc.complete for sc in scans.values()) and pool.mode == "all"
        multi_judged, outside["*"] = _multi_judged(multi, scans, whole, level)
    return _data(req, s, scans, topics, multi if use_multi else None, multi_judged, outside, pool,
                 (query_ids, query_texts))


def _data(req: LoadRequest, s: Sources, scans: dict[str, Scan], topics: dict[str, M.Topics], multi: M.Topics | None,
          multi_judged: dict | None, outside: dict, pool: PoolSpec, queries: tuple[list[str], list[str]]) -> TaskData:
    opts: CorpusOptions = req.options
    spec = req.spec
    reasons = []
    if pool.mode != "all":
        reasons.append(f"pool subset ({pool.describe()})")
    partial = [f"{lang}: {sc.n_corpus} of {sc.official} passages" for lang, sc in scans.items() if not sc.complete]
    if partial:
        reasons.append(f"local corpus smaller than {display_name(spec)}'s (" + ", ".join(partial) + ")")
    if req.max_queries:
        reasons.append(f"first {req.max_queries} queries per language")
    unchecked = sorted({p for t in [*topics.values(), *([multi] if multi else [])] for p in t.unchecked})
    if unchecked:
        reasons.append("topics or qrels not the published files (md5 differs from ir_datasets' record: "
                       + ", ".join(unchecked) + ")")
    subset: dict[str, Any] = {}
    if req.max_queries:
        subset["max_queries"] = req.max_queries
    if opts.split:
        subset["split"] = opts.split
    files: dict[str, dict[str, Any]] = {
        lang: {"origin": f"ir_datasets:{sc.dataset_id}", "sha256": sc.topics.files["qrels"]["sha256"],
               "ir_datasets_home": str(M.irds_home()), "topics": sc.topics.files["topics"],
               "qrels": sc.topics.files["qrels"]} for lang, sc in scans.items()}
    if multi is not None:
        files["*"] = {"origin": f"ir_datasets:{multi.dataset_id}", "sha256": multi.files["qrels"]["sha256"],
                      "topics": multi.files["topics"], "qrels": multi.files["qrels"]}
    facts: dict[str, Any] = {
        "comparable_with_official": not reasons, "not_comparable_because": reasons,
        "pool_subset": pool_info(pool, scans),
        "corpus": {lang: {"passages": sc.n_corpus, "ir_datasets_count": sc.official, "complete": sc.complete,
                          "pool_passages": sc.n_pool} for lang, sc in scans.items()},
        "qrels_outside_pool": outside, "split": s.split}
    if "multi" in LOADER.kinds(req):
        facts["multi_qrels"] = multi.dataset_id if multi is not None else "union of the languages' qrels"
    warnings = ([f"{spec.name} results are not comparable with {display_name(spec)} figures: {'; '.join(reasons)}"]
                if reasons else [])
    langs: dict[str, LangData] = {}
    q = s.query_language
    if q and q not in scans:
        ids, texts = queries
        langs[q] = LangData(q, Queries(ids, texts, list(ids)), no_candidates(), {})
    for lang, sc in scans.items():
        own = Queries(sc.topics.query_ids, sc.topics.query_texts, list(sc.topics.query_ids))
        langs[lang] = LangData(lang, own if not q or q == lang else no_queries(), _candidates(sc, spec.source.dataset, lang),
                               {g: dict(v) for g, v in sc.qrels.items() if v})
    source = M.dataset_id_for(spec.source.dataset, "{lang}", opts.split, spec.source.split)
    return TaskData(spec=spec, langs=langs, answers="any" if q else "own", ids_name_language=False,
                    candidate_text=M.DOC_TEXT, source=source, files=files, subset=subset, kinds=LOADER.kinds(req),
                    facts=facts, warnings=warnings, level=spec.relevance_level, multi_judged=multi_judged)


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
        out = {"split": opts.split, "pool": pool, "candidate_text": M.DOC_TEXT}
        if opts.unchecked_files:
            out["unchecked_files"] = True
        return out

    def extra_kinds(self, req: LoadRequest) -> tuple[str, ...]:
        """``--multi-pool``: the pool of all languages, which needs two languages or more."""
        opts: CorpusOptions = req.options
        return ("multi",) if opts.multi_pool and len(req.langs) > 1 else ()

    def query_languages(self, spec: TaskSpec, langs: tuple[str, ...]) -> tuple[str, ...]:
        """The one language of every dataset's topics (NeuCLIR's ``en``), else each language's own."""
        return (spec.source.query_language,) if spec.source.query_language else langs

    def summary(self, spec: TaskSpec, data_dir: Path | None) -> Summary:
        src = spec.source
        datasets = {lang: M.dataset_id_for(src.dataset, lang, None, src.split) for lang in spec.languages}
        multi = M.dataset_id_for(src.multi_dataset, "", None, src.split) if src.multi_dataset else None
        s = M.summary(datasets, multi if src.query_language else None)
        if src.query_language and multi is None:
            s.queries = None  # the union of the languages' topics is known only once read
        shown = f"ir_datasets:{M.dataset_id_for(src.dataset, '{lang}', None, src.split)}"
        if not s.installed:
            return Summary(None, None, f"{shown} (needs the ir-datasets package)")
        where = f"{len(s.local_langs)} of {len(spec.languages)} languages local in {M.irds_home()}"
        if s.unknown_langs:
            where += f"; {len(s.unknown_langs)} not looked up yet"  # counted once a run or layout has asked ir_datasets
        # counts as ir_datasets records them: the queries and the whole corpus (streamed at run time)
        return Summary(s.queries, s.passages, f"{shown} ({where})")


LOADER = CorpusLoader()

__all__ = ["LOADER", "POOL_RULE", "POOL_SALT", "CorpusLoader", "CorpusOptions", "PoolSpec", "Scan", "gather_topics",
           "pool_spec", "scan", "sources"]
