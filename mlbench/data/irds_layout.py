"""Laying local copies of a dataset's files out where ir_datasets reads them, for offline use.

ir_datasets reads a file that already sits at its cache path (under ``$IR_DATASETS_HOME``)
without downloading it. :func:`install_roles` places a dataset's files there, role by role
(topics, qrels, docs), as symlinks or copies, at the paths :func:`mlbench.data.irds.dataset_files`
finds in the dataset's own definition (MIRACL's ``miracl/v1.0/yo/dev/topics.tsv``, Mr. TyDi's
extracted ``mr-tydi/ar.data/mrtydi-v1.0-arabic/topic.dev.tsv``, NeuCLIR's shared
``neuclir/trec-2023/qrels.tar.gz``, HC4's ``hc4/fas/hc4_docs.jsonl``, ...). When it is given corpus
files, it writes an *empty* file (an empty gzip file where ir_datasets decompresses) for every
corpus file it was not given, since ir_datasets reads every corpus file it declares (e.g. 5 for
MIRACL's ``ar``). :func:`install_from` takes the files from a folder already laid out that way
(``tests/fixtures/irds``). It is how the tests and benchmarks build an ``IR_DATASETS_HOME`` from
``../shared/data/miracl`` or from the fixtures under ``tests/fixtures``.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlbench.data.irds import ROLES, IrdsFile, dataset_files
from mlbench.errors import MlbenchError
from mlbench.files import file_digests

EMPTY_GZIP = gzip.compress(b"", mtime=0)


def _place(f: IrdsFile, src: Path | None, link: bool) -> Path:
    f.path.parent.mkdir(parents=True, exist_ok=True)
    if f.path.is_symlink() or f.path.exists():
        f.path.unlink()
    if src is None:
        f.path.write_bytes(EMPTY_GZIP if f.gzip else b"")
    elif link:
        f.path.symlink_to(Path(src).absolute())
    else:
        shutil.copyfile(src, f.path)
    return f.path


def install_roles(home: Path, dataset_id: str, files: Mapping[str, Path | Sequence[Path]], *, link: bool = True,
                  verify: bool = True) -> list[Path]:
    """Place local copies where ir_datasets reads ``dataset_id``'s files under ``home``: ``files``
    maps a role (``topics``, ``qrels``, ``docs``) to the file, or files in order, that take the
    places ir_datasets reads for that role (a file may stand for several roles' places: give it
    again). Corpus files left over are written empty. With ``verify``, a topics or qrels file must
    match ir_datasets' ``expected_md5`` where it records one. Existing files are replaced. Returns
    the paths written."""
    home = Path(home)
    unknown = sorted(set(files) - set(ROLES))
    if unknown:
        raise MlbenchError(f"{dataset_id}: unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})")
    places = dataset_files(dataset_id, home)
    plan: list[tuple[IrdsFile, Path | None]] = []
    for role, given in files.items():
        srcs = [Path(given)] if isinstance(given, (str, Path)) else [Path(g) for g in given]
        slots = [f for f in places if f.role == role]
        if len(srcs) > len(slots):
            raise MlbenchError(f"{dataset_id}: {len(srcs)} {role} files given but ir_datasets reads only {len(slots)} "
                               f"({', '.join(f.key for f in slots)})")
        plan += list(zip(slots, srcs))
        if role == "docs" and srcs:
            plan += [(f, None) for f in slots[len(srcs):]]
    written = []
    for f, src in plan:
        if src is not None and verify and f.role != "docs" and f.md5 and file_digests(src, "md5")[0] != f.md5:
            raise MlbenchError(f"{src}: md5 differs from the expected_md5 {f.md5} ir_datasets records for {f.key}")
        written.append(_place(f, src, link))
    return written


def install_from(home: Path, dataset_id: str, source: Path, *, link: bool = True, verify: bool = True) -> list[Path]:
    """Lay ``dataset_id`` out under ``home`` from a folder laid out as an ``IR_DATASETS_HOME`` (such as
    ``tests/fixtures/irds``): each file ir_datasets reads for ``dataset_id`` is taken from the same
    place under ``source``; a corpus file absent there is written empty, a missing topics or qrels
    file is an error."""
    source = Path(source)
    plan = list(zip(dataset_files(dataset_id, home), dataset_files(dataset_id, source)))
    written: dict[Path, Path] = {}
    for f, src in plan:
        if src.path.exists():
            if verify and f.role != "docs" and f.md5 and file_digests(src.path, "md5")[0] != f.md5:
                raise MlbenchError(f"{src.path}: md5 differs from the expected_md5 {f.md5} ir_datasets records for {f.key}")
            written[f.path] = _place(f, src.path, link)
        elif f.role == "docs":
            written[f.path] = _place(f, None, link)
        else:
            raise MlbenchError(f"{src.path}: no such file; {source} does not hold the {f.role} of {dataset_id} in "
                               "ir_datasets' layout")
    return list(written.values())


def install_files(home: Path, dataset_id: str, *, topics: Path | None = None, qrels: Path | None = None,
                  corpus: Sequence[Path] = (), link: bool = True, verify: bool = True) -> list[Path]:
    """:func:`install_roles` with one topics file, one qrels file and the corpus files in order."""
    files: dict[str, Path | Sequence[Path]] = {}
    if topics is not None:
        files["topics"] = topics
    if qrels is not None:
        files["qrels"] = qrels
    if corpus:
        files["docs"] = list(corpus)
    return install_roles(home, dataset_id, files, link=link, verify=verify)


def install_anserini_names(home: Path, lang: str, topics_dir: Path, corpus: Sequence[Path] = (),
                           split: str = "dev", version: str = "v1.0", link: bool = True) -> list[Path]:
    """:func:`install_files` for MIRACL topics and qrels saved under their public names
    (``topics.miracl-{version}-{lang}-{split}.tsv``, ``qrels.miracl-...``, as in anserini-tools and
    in ir_datasets' download addresses), e.g. ``../shared/data/miracl/dev``, and corpus files."""
    topics_dir = Path(topics_dir)
    topics = topics_dir / f"topics.miracl-{version}-{lang}-{split}.tsv"
    qrels = topics_dir / f"qrels.miracl-{version}-{lang}-{split}.tsv"
    for f in (topics, qrels):
        if not f.is_file():
            raise MlbenchError(f"{f}: no such file (expected MIRACL {split} topics and qrels of {lang!r} under their public names)")
    return install_files(home, f"miracl/{lang}/{split}", topics=topics, qrels=qrels, corpus=corpus, link=link)
