"""Reading a benchmark through ``ir_datasets`` (MIRACL, Mr. TyDi, NeuCLIR, HC4, ...).

Queries, qrels and documents come from the ``ir-datasets`` package (``ir_datasets.load(id)``:
``queries_iter()``, ``qrels_iter()``, ``docs_iter()``); mlbench never parses a dataset's files
itself. What this module adds:

- **Dataset ids**: a task's ``source.dataset`` is a pattern with ``{lang}`` and optionally
  ``{split}`` (``miracl/{lang}/{split}``, ``neuclir/1/{lang}/{split}``); :func:`dataset_id_for`
  fills it (``--split`` replaces the split; in an old-style pattern without ``{split}``, the
  last part). :func:`corpus_id` is the id without its split (``miracl/yo``, ``neuclir/1/fa``): it
  names a language's corpus, e.g. in the embedding store.
- **Document text**: ``title + " " + text`` (:func:`doc_text`), the same string as ir_datasets'
  ``default_text()`` of MIRACL's and NeuCLIR's documents, except that a document with an empty
  title, or none at all (Mr. TyDi's ``GenericDoc``), is its text alone. **Query text** is
  ir_datasets' ``default_text()`` (MIRACL, Mr. TyDi: the query; NeuCLIR, HC4: the English title).
  Documents are streamed one at a time; nothing here holds a corpus in memory.
- **Offline use** (:mod:`mlbench.data.irds_files`): which files ir_datasets reads, found from the
  dataset's own handlers, and a one-line refusal when one is missing and ``MLBENCH_OFFLINE`` is
  set. Because ir_datasets does not check files it finds, topics and qrels are checked here
  against the ``expected_md5`` ir_datasets records for them where it records one (MIRACL, HC4,
  NeuCLIR's topics and qrels tarball; not the files of Mr. TyDi's extracted archive): a mismatch
  is an error, unless the caller accepts unchecked files (``--unchecked-files``), and then it is
  recorded. Their md5 and sha256 are recorded either way. Corpus files are not hashed (tens of
  GB); whether a corpus is whole is judged by its document count against the count ir_datasets
  records (:func:`official_count`), see :mod:`mlbench.data.corpus`.
- :mod:`mlbench.data.irds_layout` lays local copies out in ir_datasets' cache layout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlbench.data.irds_files import (ROLES, IrdsFile, check_dataset, dataset_files, declared, irds_home, is_local,
                                     offline, package_data, require_local, use_home)
from mlbench.errors import MlbenchError
from mlbench.files import file_digests, slug

DOC_TEXT = "title + ' ' + text (the text alone when the title is empty)"


def doc_text(title: str, text: str) -> str:
    """The text an encoder (or BM25) sees for one document."""
    return f"{title} {text}" if title else text


# --------------------------------------------------------------------------------------------
# dataset ids


def dataset_id_for(pattern: str, lang: str, split: str | None = None, default: str = "") -> str:
    """The dataset id of ``lang``: ``pattern`` with ``{lang}`` and ``{split}`` (``split``, else the
    task's ``default``) filled; in a pattern without ``{split}``, ``split`` replaces the last part."""
    if "{split}" in pattern:
        chosen = split or default
        if not chosen:
            raise MlbenchError(f"ir_datasets id pattern {pattern!r} has {{split}} but no split is given")
        return pattern.format(lang=lang, split=chosen)
    dataset_id = pattern.format(lang=lang)
    if split:
        parent, sep, _ = dataset_id.rpartition("/")
        if not sep:
            raise MlbenchError(f"ir_datasets id {dataset_id!r} has no split part for --split {split} to replace")
        dataset_id = f"{parent}/{split}"
    return dataset_id


def corpus_id(pattern: str, lang: str) -> str:
    """The dataset id of ``lang`` without its split: the corpus (``miracl/yo``, ``neuclir/1/fa``)."""
    if "{split}" in pattern:
        return "/".join(p for p in pattern.split("/") if "{split}" not in p).format(lang=lang)
    return pattern.format(lang=lang).rsplit("/", 1)[0]


def store_name(corpus: str) -> str:
    """A corpus id as a folder name (``miracl/yo`` -> ``miracl-yo``)."""
    return "-".join(slug(part) for part in corpus.split("/"))


# --------------------------------------------------------------------------------------------
# topics and qrels


def _digests(f: IrdsFile, dataset_id: str, check_md5: bool) -> dict[str, Any]:
    try:
        digest, sha = file_digests(f.path, "md5", "sha256")  # ir_datasets records md5 sums
    except OSError as exc:
        raise MlbenchError(f"{f.path}: cannot read the {f.role} file of {dataset_id} ({exc.strerror or exc})") from None
    out: dict[str, Any] = {"path": str(f.path), "md5": digest, "sha256": sha}
    if f.md5 and digest != f.md5:
        if check_md5:
            raise MlbenchError(f"{f.path}: md5 {digest} differs from the expected_md5 {f.md5} that ir_datasets records "
                               f"for the {f.role} of {dataset_id}; the file is not the published one (--unchecked-files "
                               "reads it anyway, marked not comparable)")
        out["expected_md5"] = f.md5
    return out


@dataclass
class Topics:
    """The queries and judgements of one dataset (file order), read through ir_datasets."""

    dataset_id: str
    lang: str
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> grade (judged; 0 = judged not relevant)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # topics/qrels -> path, md5, sha256 (, more)
    n_topics_file: int = 0  # queries ir_datasets gives, before --max-queries

    def judged(self) -> set[str]:
        return {d for q in self.query_ids for d in self.qrels.get(q, {})}

    @property
    def unchecked(self) -> list[str]:
        """The files whose md5 differs from ir_datasets' record (read with --unchecked-files)."""
        return [f["path"] for role in ("topics", "qrels") for f in [self.files[role], *self.files[role].get("more", [])]
                if "expected_md5" in f]

    def head(self, query_ids: Sequence[str]) -> Topics:
        """Only the queries (and judgements) of ``query_ids`` that this dataset has."""
        keep = set(query_ids)
        rows = [(q, t) for q, t in zip(self.query_ids, self.query_texts) if q in keep]
        return Topics(self.dataset_id, self.lang, [q for q, _ in rows], [t for _, t in rows],
                      {q: v for q, v in self.qrels.items() if q in keep}, self.files, self.n_topics_file)


def query_text(query: Any) -> str:
    text = query.default_text() if hasattr(query, "default_text") else getattr(query, "text", None)
    return text


def load_topics(dataset_id: str, max_queries: int | None = None, lang: str = "", check_md5: bool = True) -> Topics:
    """Queries and qrels of one dataset; their files must be local when offline."""
    ds = check_dataset(dataset_id)
    files = dataset_files(dataset_id, roles=("topics", "qrels"))
    require_local(dataset_id, files)
    try:
        queries = [(q.query_id, query_text(q)) for q in ds.queries_iter()]  # downloads (online) if absent
        judgements = [(r.query_id, r.doc_id, r.relevance) for r in ds.qrels_iter()]
    except MlbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - ir_datasets raises many kinds; name the files
        raise MlbenchError(f"{dataset_id}: ir_datasets cannot read the topics or qrels under {irds_home()} "
                           f"({type(exc).__name__}: {exc})") from None
    info: dict[str, dict[str, Any]] = {}
    for role in ("topics", "qrels"):
        digests = [_digests(f, dataset_id, check_md5) for f in files if f.role == role]
        info[role] = dict(digests[0], **({"more": digests[1:]} if len(digests) > 1 else {}))
    ids, texts, seen = [], [], set()
    for qid, text in queries:
        if qid in seen:
            raise MlbenchError(f"{info['topics']['path']}: duplicate query id {qid!r} in {dataset_id}")
        if not isinstance(text, str):
            raise MlbenchError(f"{info['topics']['path']}: query {qid!r} of {dataset_id} has no text ({text!r})")
        seen.add(qid)
        ids.append(qid)
        texts.append(text)
    qrels: dict[str, dict[str, int]] = {}
    for qid, did, rel in judgements:
        if not isinstance(rel, int):
            raise MlbenchError(f"{info['qrels']['path']}: relevance {rel!r} of ({qid}, {did}) is not an integer")
        if did in qrels.setdefault(qid, {}):
            raise MlbenchError(f"{info['qrels']['path']}: document {did!r} is judged twice for query {qid!r}")
        qrels[qid][did] = rel
    topics = Topics(dataset_id, lang, ids, texts, qrels, info, len(ids))
    return topics.head(ids[:max_queries]) if max_queries else topics


def official_count(dataset_id: str) -> int | None:
    """The document count ir_datasets records for the dataset's corpus (its metadata, not a count
    of the local files); None where it records none."""
    try:
        count = check_dataset(dataset_id).docs_metadata().get("count")
    except (KeyError, AttributeError, NotImplementedError):
        return None
    return int(count) if count is not None else None


def iter_docs(dataset_id: str) -> Iterator[tuple[str, str]]:
    """(doc id, :func:`doc_text`) of every document, streamed from ir_datasets' ``docs_iter()``."""
    ds = check_dataset(dataset_id)
    files = dataset_files(dataset_id, roles=("docs",))
    require_local(dataset_id, files)
    where = files[0].path.parent if files else irds_home()
    try:
        for doc in ds.docs_iter():
            did, title, text = doc.doc_id, getattr(doc, "title", ""), doc.text
            if not (isinstance(did, str) and did and isinstance(title, str) and isinstance(text, str)):
                raise MlbenchError(f"{where}: a document of {dataset_id} has doc id {did!r} and non-string title or text")
            yield did, doc_text(title, text)
    except MlbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - gzip, JSON and key errors from inside ir_datasets
        raise MlbenchError(f"{where}: ir_datasets cannot read the corpus of {dataset_id} ({type(exc).__name__}: "
                           f"{exc}); a corpus file may be truncated or not in the format ir_datasets reads") from None


# --------------------------------------------------------------------------------------------
# listings: no import of ir_datasets, no download, no read of the data


@dataclass
class Summary:
    queries: int | None  # ir_datasets' recorded counts over the languages
    passages: int | None
    local_langs: list[str]  # languages whose files (as last looked up) are all in place
    installed: bool
    unknown_langs: list[str] = field(default_factory=list)  # languages whose files were never looked up


def summary(dataset_ids: dict[str, str], topics_from: str | None = None) -> Summary:
    """Counts from ir_datasets' packaged metadata and which languages are local, for listings.
    ``dataset_ids``: language -> dataset id; ``topics_from``: the one dataset whose queries are
    every language's (the multilingual dataset of a task with topics in one language), else the
    queries are summed over the languages (None if a language's topics are not its own)."""
    meta = package_data("metadata.json")
    if meta is None:
        return Summary(None, None, [], False)

    def count(dsid: str, what: str) -> int | None:
        entry = meta.get(dsid, {}).get(what, {})
        while isinstance(entry, dict) and "_ref" in entry:
            entry = meta.get(entry["_ref"], {}).get(what, {})
        return entry.get("count") if isinstance(entry, dict) else None

    queries: int | None = 0
    passages: int | None = 0
    local, unknown = [], []
    for lang, dsid in dataset_ids.items():
        q, d = count(dsid, "queries"), count(dsid, "docs")
        queries = None if queries is None or q is None else queries + q
        passages = None if passages is None or d is None else passages + d
        here = is_local(dsid)
        if here is None:
            unknown.append(lang)
        elif here:
            local.append(lang)
    if topics_from is not None:
        queries = count(topics_from, "queries")
    return Summary(queries, passages, local, True, unknown)


__all__ = ["DOC_TEXT", "ROLES", "IrdsFile", "Summary", "Topics", "check_dataset", "corpus_id", "dataset_files",
           "dataset_id_for", "declared", "doc_text", "irds_home", "iter_docs", "load_topics", "offline",
           "official_count", "require_local", "store_name", "summary", "use_home"]
