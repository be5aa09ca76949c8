"""Reading MIRACL (and any ``name/{lang}/{split}`` dataset laid out like it) through ``ir_datasets``.

Queries, qrels and documents come from the ``ir-datasets`` package (``ir_datasets.load(id)``:
``queries_iter()``, ``qrels_iter()``, ``docs_iter()``); mlbench never parses MIRACL's files itself.
What this module adds:

- **Document text**: ``title + " " + text`` (:func:`doc_text`), the same string as ir_datasets'
  ``MiraclDoc.default_text()``, except that a passage with an empty title is its text alone (no
  leading space). Passages are streamed one at a time; nothing here holds a corpus in memory.
- **Offline use**: ir_datasets reads a file that already sits at its cache path (under
  ``$IR_DATASETS_HOME/miracl/v1.0/...``) without downloading it and without checking it. Before any
  read, :func:`dataset_files` asks ir_datasets' own download registry (``DownloadConfig``) where
  each file of the dataset belongs, and :func:`require_local` refuses, in one line, to go on when one
  is missing and ``MLBENCH_OFFLINE`` is set (without it, ir_datasets downloads what is missing).
  Because ir_datasets does not check files it finds, the topics and qrels are checked here against
  the ``expected_md5`` that ir_datasets records for them: a mismatch is an error (they define the
  evaluation). Corpus files are not hashed (MIRACL's are 100+ GB); whether the corpus is MIRACL's
  whole corpus is judged by its passage count against the count ir_datasets records
  (``docs_metadata()``), see :mod:`mlbench.data.corpus`.
- :mod:`mlbench.data.irds_layout` lays local copies out in that cache layout.

ir_datasets fixes the paths of its datasets when it is first imported, from ``IR_DATASETS_HOME``
(default ``~/.ir_datasets``). :func:`use_home` therefore sets that variable before the first
import, and refuses a different home once ir_datasets is imported in the process.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.files import file_digests

DOC_TEXT = "title + ' ' + text (the text alone when the title is empty)"
ROLES = ("topics", "qrels", "docs")


def doc_text(title: str, text: str) -> str:
    """The text an encoder (or BM25) sees for one passage."""
    return f"{title} {text}" if title else text


def offline() -> bool:
    return bool(os.environ.get("MLBENCH_OFFLINE"))


def irds_home() -> Path:
    """The ``IR_DATASETS_HOME`` in effect (ir_datasets' default is ``~/.ir_datasets``)."""
    return Path(os.environ.get("IR_DATASETS_HOME") or Path.home() / ".ir_datasets").expanduser()


def _irds() -> Any:
    try:
        import ir_datasets
    except ImportError as exc:
        raise MlbenchError(f"format ir_datasets needs the package ir-datasets (pip install ir-datasets): {exc}") from None
    return ir_datasets


def use_home(home: Path | None) -> Path:
    """Point ir_datasets at ``home`` (None: keep the environment's). Must come before ir_datasets
    is first imported in this process, since it fixes its dataset paths at import."""
    if home is None:
        return irds_home()
    home = Path(home).expanduser().absolute()
    if "ir_datasets" in sys.modules and irds_home().absolute() != home:
        raise MlbenchError(
            f"--ir-datasets-home {home}: ir_datasets is already imported in this process with "
            f"IR_DATASETS_HOME={irds_home()}, and it fixes its paths at import; set IR_DATASETS_HOME "
            "before importing ir_datasets, or run mlbench in a new process")
    os.environ["IR_DATASETS_HOME"] = str(home)
    return home


def parse_dataset_id(dataset_id: str) -> tuple[str, str, str]:
    parts = dataset_id.split("/")
    if len(parts) != 3 or not all(parts):
        raise MlbenchError(f"ir_datasets id {dataset_id!r} is not of the form NAME/LANG/SPLIT (e.g. miracl/yo/dev)")
    return parts[0], parts[1], parts[2]


def dataset_id_for(pattern: str, lang: str, split: str | None = None) -> str:
    """``miracl/{lang}/dev`` with a language and, optionally, another split (``train``)."""
    dataset_id = pattern.format(lang=lang)
    if split:
        name, lang_, _ = parse_dataset_id(dataset_id)
        dataset_id = f"{name}/{lang_}/{split}"
    return dataset_id


def check_dataset(dataset_id: str) -> Any:
    """The ir_datasets dataset object, after checking that ir_datasets declares it with queries,
    qrels and documents."""
    irds = _irds()
    name, lang, _ = parse_dataset_id(dataset_id)
    if dataset_id not in irds.registry:
        splits = sorted(k.split("/")[2] for k in irds.registry if k.startswith(f"{name}/{lang}/") and k.count("/") == 2)
        if splits:
            raise MlbenchError(f"ir_datasets has no dataset {dataset_id!r}; {name}/{lang} has the splits {', '.join(splits)}")
        raise MlbenchError(f"ir_datasets has no dataset {dataset_id!r} (no {name}/{lang} at all)")
    ds = irds.load(dataset_id)
    missing = [what for what in ("queries", "qrels", "docs") if not getattr(ds, f"has_{what}")()]
    if missing:
        raise MlbenchError(f"ir_datasets dataset {dataset_id!r} has no {' or '.join(missing)}; it cannot be scored "
                           "(MIRACL's test-a/test-b splits have no public qrels)")
    return ds


@dataclass(frozen=True)
class IrdsFile:
    role: str  # topics | qrels | docs
    key: str  # ir_datasets download key, e.g. v1.0/yo/dev/qrels
    path: Path  # where ir_datasets reads it
    md5: str | None  # ir_datasets' expected_md5
    url: str


def _download_entries(name: str, lang: str, split: str, home: Path) -> list[IrdsFile]:
    from ir_datasets.util import DownloadConfig

    try:
        dlc = DownloadConfig.context(name, home / name)
        contents = dlc.contents()
    except KeyError:
        raise MlbenchError(f"ir_datasets has no download entries for {name!r}") from None
    out: list[IrdsFile] = []
    docs: list[tuple[int, IrdsFile]] = []
    for key, entry in contents.items():
        if not isinstance(entry, dict) or "cache_path" not in entry:
            continue
        m_split = re.fullmatch(rf"[^/]+/{re.escape(lang)}/{re.escape(split)}/(topics|qrels)", key)
        m_docs = re.fullmatch(rf"[^/]+/{re.escape(lang)}/corpus/(\d+)", key)
        if not (m_split or m_docs):
            continue
        f = IrdsFile("docs" if m_docs else m_split.group(1), key, Path(dlc[key].path(force=False)),
                     entry.get("expected_md5"), entry.get("url", ""))
        if m_docs:
            docs.append((int(m_docs.group(1)), f))
        else:
            out.append(f)
    out.sort(key=lambda f: ROLES.index(f.role))
    return out + [f for _, f in sorted(docs)]


def dataset_files(dataset_id: str, home: Path | None = None) -> list[IrdsFile]:
    """Every file ir_datasets reads for ``dataset_id`` (topics, qrels, corpus files in order), with
    the path it reads it from under ``home`` (default: the home in effect)."""
    _irds()
    name, lang, split = parse_dataset_id(dataset_id)
    active = home is None
    home = irds_home() if home is None else Path(home)
    files = _download_entries(name, lang, split, home)
    roles = {f.role for f in files}
    if not {"topics", "qrels", "docs"} <= roles:
        raise MlbenchError(f"ir_datasets records no {'/'.join(sorted({'topics', 'qrels', 'docs'} - roles))} file for "
                           f"{dataset_id!r}; only MIRACL-like datasets (NAME/LANG/SPLIT with topics, qrels and a corpus) are supported")
    if active:
        registered = Path(check_dataset(dataset_id).docs_handler().docs_path(force=False))
        first = next(f.path for f in files if f.role == "docs")
        if registered.absolute() != first.absolute():
            raise MlbenchError(
                f"ir_datasets reads {dataset_id} from {registered}, not from IR_DATASETS_HOME={home}: it was imported "
                "with another IR_DATASETS_HOME; set the variable before ir_datasets is first imported")
    return files


def missing(files: Sequence[IrdsFile]) -> list[IrdsFile]:
    return [f for f in files if not f.path.exists()]


def require_local(dataset_id: str, files: Sequence[IrdsFile]) -> None:
    """Offline (``MLBENCH_OFFLINE``), every file must be in place: ir_datasets would try to download it."""
    absent = missing(files)
    if absent and offline():
        roles = ", ".join(sorted({f.role for f in absent}, key=ROLES.index))
        raise MlbenchError(
            f"{dataset_id}: {len(absent)} of the {len(files)} files ir_datasets reads are missing ({roles}; first: "
            f"{absent[0].path}) and MLBENCH_OFFLINE is set; put them in ir_datasets' cache layout under "
            f"IR_DATASETS_HOME={irds_home()} (docs/miracl.md, 'Offline layout') or unset MLBENCH_OFFLINE")


def _verify(f: IrdsFile, dataset_id: str) -> dict[str, str]:
    try:
        digest, sha = file_digests(f.path, "md5", "sha256")  # ir_datasets records md5 sums
    except OSError as exc:
        raise MlbenchError(f"{f.path}: cannot read the {f.role} file of {dataset_id} ({exc.strerror or exc})") from None
    if f.md5 and digest != f.md5:
        raise MlbenchError(f"{f.path}: md5 {digest} differs from the expected_md5 {f.md5} that ir_datasets records for "
                           f"the {f.role} of {dataset_id}; the file is not MIRACL's")
    return {"path": str(f.path), "md5": digest, "sha256": sha}


@dataclass
class Topics:
    """The queries and judgements of one language (file order), read through ir_datasets."""

    dataset_id: str
    lang: str
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> relevance (judged; > 0 is relevant)
    files: dict[str, dict[str, str]] = field(default_factory=dict)  # topics/qrels -> path, md5, sha256
    n_topics_file: int = 0  # queries in the topics file, before --max-queries

    def judged(self) -> set[str]:
        return {d for q in self.query_ids for d in self.qrels.get(q, {})}


def load_topics(dataset_id: str, max_queries: int | None = None) -> Topics:
    """Queries and qrels of one dataset; the files must be local when offline."""
    _, lang, _ = parse_dataset_id(dataset_id)
    ds = check_dataset(dataset_id)
    files = dataset_files(dataset_id)
    require_local(dataset_id, files)
    info: dict[str, dict[str, str]] = {}
    by_role = {f.role: f for f in files if f.role != "docs"}
    try:
        queries = [(q.query_id, q.text) for q in ds.queries_iter()]  # downloads (online) if absent
        judgements = [(r.query_id, r.doc_id, r.relevance) for r in ds.qrels_iter()]
    except MlbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - ir_datasets raises many kinds; name the files
        raise MlbenchError(f"{dataset_id}: ir_datasets cannot read the topics or qrels under {irds_home()} "
                           f"({type(exc).__name__}: {exc})") from None
    for role in ("topics", "qrels"):
        info[role] = _verify(by_role[role], dataset_id)
    ids, texts, seen = [], [], set()
    for qid, text in queries:
        if qid in seen:
            raise MlbenchError(f"{info['topics']['path']}: duplicate query id {qid!r}")
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
    n_file = len(ids)
    if max_queries:
        ids, texts = ids[:max_queries], texts[:max_queries]
        keep = set(ids)
        qrels = {q: v for q, v in qrels.items() if q in keep}
    return Topics(dataset_id, lang, ids, texts, qrels, info, n_file)


def official_count(dataset_id: str) -> int | None:
    """The passage count ir_datasets records for the dataset's corpus (its metadata, not a count
    of the local files)."""
    count = check_dataset(dataset_id).docs_metadata().get("count")
    return int(count) if count is not None else None


def iter_docs(dataset_id: str) -> Iterator[tuple[str, str]]:
    """(doc id, :func:`doc_text`) of every passage, streamed from ir_datasets' ``docs_iter()``."""
    ds = check_dataset(dataset_id)
    files = [f for f in dataset_files(dataset_id) if f.role == "docs"]
    require_local(dataset_id, files)
    where = files[0].path.parent if files else irds_home()
    try:
        for doc in ds.docs_iter():
            did, title, text = doc.doc_id, doc.title, doc.text
            if not (isinstance(did, str) and did and isinstance(title, str) and isinstance(text, str)):
                raise MlbenchError(f"{where}: a passage of {dataset_id} has doc id {did!r} and non-string title or text")
            yield did, doc_text(title, text)
    except MlbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - gzip, JSON and key errors from inside ir_datasets
        raise MlbenchError(f"{where}: ir_datasets cannot read the corpus of {dataset_id} "
                           f"({type(exc).__name__}: {exc}); a corpus file may be truncated or not MIRACL jsonl") from None


def _package_data(name: str) -> dict[str, Any] | None:
    """ir_datasets' packaged ``etc/{name}`` (json), read without importing ir_datasets (an import
    creates folders under IR_DATASETS_HOME and fixes its paths)."""
    import importlib.util
    import json

    found = importlib.util.find_spec("ir_datasets")
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / "etc" / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class Summary:
    queries: int | None  # ir_datasets' recorded counts over the languages
    passages: int | None
    local_langs: list[str]  # languages whose topics, qrels and corpus files are all in place
    installed: bool


def summary(pattern: str, langs: Sequence[str]) -> Summary:
    """Counts from ir_datasets' metadata and which languages are local, for listings (no import
    of ir_datasets, no download, no read of the data)."""
    meta, downloads = _package_data("metadata.json"), _package_data("downloads.json")
    if meta is None or downloads is None:
        return Summary(None, None, [], False)

    def count(dsid: str, what: str) -> int | None:
        entry = meta.get(dsid, {}).get(what, {})
        while isinstance(entry, dict) and "_ref" in entry:
            entry = meta.get(entry["_ref"], {}).get(what, {})
        return entry.get("count") if isinstance(entry, dict) else None

    queries = passages = 0
    local = []
    for lang in langs:
        name, lang_, split = parse_dataset_id(dataset_id_for(pattern, lang))
        q, d = count(f"{name}/{lang_}/{split}", "queries"), count(f"{name}/{lang_}/{split}", "docs")
        queries = None if queries is None or q is None else queries + q
        passages = None if passages is None or d is None else passages + d
        entries = downloads.get(name, {})
        paths = [irds_home() / name / e["cache_path"] for k, e in entries.items()
                 if isinstance(e, dict) and "cache_path" in e
                 and (re.fullmatch(rf"[^/]+/{re.escape(lang_)}/{re.escape(split)}/(topics|qrels)", k)
                      or re.fullmatch(rf"[^/]+/{re.escape(lang_)}/corpus/\d+", k))]
        if paths and all(p.exists() for p in paths):
            local.append(lang)
    return Summary(queries, passages, local, True)


__all__ = ["DOC_TEXT", "IrdsFile", "Topics", "check_dataset", "dataset_files", "dataset_id_for", "doc_text",
           "irds_home", "iter_docs", "load_topics", "official_count", "require_local", "use_home"]
