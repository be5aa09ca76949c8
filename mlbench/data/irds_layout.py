"""Laying local copies of MIRACL files out where ir_datasets reads them, for offline use.

ir_datasets reads a file that already sits at its cache path (under
``$IR_DATASETS_HOME/miracl/v1.0/...``) without downloading it. :func:`install_files` places topics,
qrels and corpus files there, as symlinks or copies; when it is given corpus files, it writes an
*empty* gzip file for every corpus file it was not given, since ir_datasets reads every corpus file
it declares (e.g. 5 for ``ar``). It is how the tests and benchmarks build an ``IR_DATASETS_HOME``
from ``../shared/data/miracl`` or from the fixtures under ``tests/``.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Sequence
from pathlib import Path

from mlbench.data.irds import IrdsFile, dataset_files
from mlbench.files import file_digests
from mlbench.errors import MlbenchError


EMPTY_GZIP = gzip.compress(b"", mtime=0)


def install_files(home: Path, dataset_id: str, *, topics: Path | None = None, qrels: Path | None = None,
                  corpus: Sequence[Path] = (), link: bool = True, verify: bool = True) -> list[Path]:
    """Place local copies where ir_datasets reads them under ``home`` (symlinks, or copies with
    ``link=False``). ``corpus`` files take the places of the dataset's corpus files in order; every
    corpus file left over is written as an empty gzip file, so that ir_datasets' ``docs_iter()``
    yields exactly the passages given (and never tries to download the others). With ``verify``,
    topics and qrels must match ir_datasets' ``expected_md5``. Existing files are replaced.
    Returns the paths written."""
    home = Path(home)
    files = dataset_files(dataset_id, home)
    docs = [f for f in files if f.role == "docs"]
    if len(corpus) > len(docs):
        raise MlbenchError(f"{dataset_id}: {len(corpus)} corpus files given but ir_datasets reads only {len(docs)}")
    plan: list[tuple[IrdsFile, Path | None]] = []
    for f in files:
        if f.role == "topics" and topics is not None:
            plan.append((f, Path(topics)))
        elif f.role == "qrels" and qrels is not None:
            plan.append((f, Path(qrels)))
    plan += [(f, Path(src)) for f, src in zip(docs, corpus)]
    if corpus:
        plan += [(f, None) for f in docs[len(corpus):]]
    written = []
    for f, src in plan:
        if src is not None and verify and f.role in ("topics", "qrels") and f.md5 and file_digests(src, "md5")[0] != f.md5:
            raise MlbenchError(f"{src}: md5 differs from the expected_md5 {f.md5} ir_datasets records for {f.key}")
        f.path.parent.mkdir(parents=True, exist_ok=True)
        if f.path.is_symlink() or f.path.exists():
            f.path.unlink()
        if src is None:
            f.path.write_bytes(EMPTY_GZIP)
        elif link:
            f.path.symlink_to(Path(src).absolute())
        else:
            shutil.copyfile(src, f.path)
        written.append(f.path)
    return written


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
