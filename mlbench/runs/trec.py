"""TREC run files in: ``qid Q0 docno rank score tag``, whitespace separated, one line per
retrieved document (trec_eval's format). The rank column is read but not used (trec_eval sorts by
score and breaks ties by docno, and so does mlbench, :mod:`mlbench.retrieval.ties`).

Reading is strict: a line that is not six fields, a score that is not a finite number, a rank
that is not an integer, or a document ranked twice for one query is a one-line error naming the
file and line; nothing is repaired.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

from mlbench.errors import MlbenchError


@dataclass
class QueryRun:
    """One query's retrieved documents as read: ids, scores, and the line of each (for errors)."""

    docs: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


@dataclass
class RunFile:
    path: Path
    sha256: str
    lines: int
    tag: str | None
    queries: dict[str, QueryRun]

    def where(self, line: int) -> str:
        return f"{self.path}:{line}"


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
    queries: dict[str, QueryRun] = {}
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
        q = queries.setdefault(qid, QueryRun())
        q.docs.append(doc)
        q.scores.append(value)
        q.lines.append(n)
    if not queries:
        raise MlbenchError(f"{path}: the run file has no lines")
    return RunFile(path, hashlib.sha256(raw).hexdigest(), n, tag, queries)
