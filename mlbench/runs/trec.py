"""TREC files in and out: run files (``qid Q0 docno rank score tag``) and qrels files
(``qid 0 docno grade``), as conversions of :class:`~mlbench.runs.run.Run` and
:class:`~mlbench.runs.qrels.Qrels`.

Reading is strict: a line that is not six fields, a score that is not a finite number, a rank
that is not an integer, or a document ranked twice for one query is a one-line error naming the
file and line; nothing is repaired. The rank column is read but not used (trec_eval sorts by
score and breaks ties by docno, and so does mlbench, :mod:`mlbench.runs.ties`).

A setting's files are named ``{task}.{query lang}-{pool}.run`` / ``.qrels`` (pool ``all`` for the
pool of every language, ``*``). :func:`file_setting` reads such a name back against the task's
languages, so a code of any length or with a hyphen (``zh-Hans``) reads back as written.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlbench.errors import MlbenchError
from mlbench.files import atomic_open
from mlbench.runs.qrels import Qrels
from mlbench.runs.run import Run

ALL_POOL = "all"  # the file-name spelling of the pool of every language


@dataclass
class RunFile:
    """A TREC run file as read: its rankings (query ids as in the file) and where each line was."""

    path: Path
    sha256: str
    lines: int
    tag: str | None
    run: Run
    line_of: dict[tuple[str, str], int]  # (query id, doc id) -> line, for errors

    def where(self, qid: str, doc: str | None = None) -> str:
        line = self.line_of.get((qid, doc)) if doc is not None else min(
            (n for (q, _), n in self.line_of.items() if q == qid), default=None)
        return f"{self.path}:{line}" if line else str(self.path)


def read_trec_run(path: Path) -> RunFile:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MlbenchError(f"{path}: cannot read the run file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MlbenchError(f"{path}: not UTF-8 text ({exc})") from None
    rankings: dict[str, tuple[list[str], list[float]]] = {}
    seen: dict[tuple[str, str], int] = {}
    tag = None
    n = 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6:
            raise MlbenchError(f"{path}:{n}: a TREC run line has 6 fields (qid Q0 docno rank score tag), "
                               f"this one has {len(parts)}: {line.strip()[:80]!r}")
        qid, _, doc, rank, score, tag = parts
        try:
            int(rank)
        except ValueError:
            raise MlbenchError(f"{path}:{n}: rank {rank!r} is not an integer") from None
        try:
            value = float(score)
        except ValueError:
            raise MlbenchError(f"{path}:{n}: score {score!r} is not a number") from None
        if not math.isfinite(value):
            raise MlbenchError(f"{path}:{n}: score {score!r} is not a finite number")
        first = seen.setdefault((qid, doc), n)
        if first != n:
            raise MlbenchError(f"{path}:{n}: document {doc!r} is ranked twice for query {qid!r} (first at line {first})")
        docs, scores = rankings.setdefault(qid, ([], []))
        docs.append(doc)
        scores.append(value)
    if not rankings:
        raise MlbenchError(f"{path}: the run file has no lines")
    run = Run.from_rankings(list(rankings), list(rankings.values()))
    return RunFile(path, hashlib.sha256(raw).hexdigest(), n, tag, run, seen)


def trec_name(task: str, setting_id: str) -> str:
    """``{task}.{q}-{pool}`` (pool ``all`` for ``*``): the stem of a setting's TREC files."""
    q, _, pool = setting_id.partition(">")
    return f"{task}.{q}-{ALL_POOL if pool == '*' else pool}"


def file_setting(path: Path, query_langs: Sequence[str], pool_langs: Sequence[str]) -> tuple[str, str] | None:
    """The (query language, pool) a file is named for (``xquad-r.de-en.run`` -> (de, en); pool
    ``*`` for ``all``), read against the task's languages; None when the name ends in no setting.
    Two readings of one name are an error naming the file."""
    path = Path(path)
    stem = path.stem if path.suffix else path.name
    pools = [*pool_langs, ALL_POOL]
    found = [(q, p) for q in query_langs for p in pools if stem.endswith(f".{q}-{p}") or stem == f"{q}-{p}"]
    if len(found) > 1:
        raise MlbenchError(f"{path}: the file name reads as more than one setting "
                           f"({', '.join(f'{q}>{p}' for q, p in found)}); prefix each query id with its setting")
    if not found:
        return None
    q, p = found[0]
    return q, "*" if p == ALL_POOL else p


def write_trec(trec_dir: Path, task: str, tag: str, runs: Mapping[str, tuple[Run, Qrels]],
               depth: int | None = None) -> list[Path]:
    """TREC run and qrels files per setting id: the top ``depth`` (None: all of it) of each ranking
    in rank order, and each query's judgements in the pool. Scores are written so that every two
    distinct scores stay distinct (:meth:`Run.score_text`): trec_eval sees mlbench's ties and no
    others."""
    written = []
    tag = tag.replace(" ", "_") or "mlbench"
    for sid, (run, qrels) in runs.items():
        name = trec_name(task, sid)
        with atomic_open(Path(trec_dir) / f"{name}.run", "w") as fh:
            for row, qid in enumerate(run.query_ids):
                for rank, (doc, score) in enumerate(run.ranking(row, depth), 1):
                    fh.write(f"{qid} Q0 {doc} {rank} {run.score_text(score)} {tag}\n")
        with atomic_open(Path(trec_dir) / f"{name}.qrels", "w") as fh:
            for qid in run.query_ids:
                for doc, grade in sorted(qrels.of(qid).items()):
                    fh.write(f"{qid} 0 {doc} {grade}\n")
        written += [Path(trec_dir) / f"{name}.run", Path(trec_dir) / f"{name}.qrels"]
    return written
