"""Published figures: what a paper printed, vendored with its citation (``mlbench.published/1``).

A published entry is a fact from a publication, not a result of mlbench: it has aggregates as
printed and, where the paper gives them, figures per query language, but no per-query values and
no slice mlbench made. So it can be shown beside results, always marked as published and with its
source, and it can never enter a paired test: :class:`~mlbench.results.model.Result` refuses a file
of this schema in one line (``compare``, ``check --baseline``, ``report`` and every other reader
of results go through it), and a leaderboard keeps these entries apart from the ranked ones
(:mod:`mlbench.analysis.leaderboard`).

The files in ``leaderboard/`` are made by ``benchmarks/vendor_published.py`` from a transcription
of the tables; mlbench reads nothing else at run time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.files import read_document

SCHEMA = "mlbench.published/1"
KINDS = ("mono", "cross", "multi", "rank_distance")


@dataclass(frozen=True)
class PublishedEntry:
    """One system of one task as a publication printed it."""

    task: str
    model: str  # e.g. "XLM-R hybrid"
    key: str  # the publication, e.g. "2408.10536"
    base_model: str
    sampling: str
    alpha: float | None
    metric: str
    aggregates: dict[str, float]  # kind (mono, cross, multi, rank_distance) -> figure as printed
    aggregates_from: str
    aggregation: str  # how the publication averaged (macro over languages, micro over questions)
    per_language: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> lang -> figure
    per_language_from: dict[str, str] = field(default_factory=dict)  # kind -> the table it is from
    decimals: dict[str, int] = field(default_factory=dict)
    citation: str = ""  # the publication, with its address

    @property
    def name(self) -> str:
        """How tables name the entry: the system and the publication."""
        return f"{self.model} [{self.key}]"

    def places(self, kind: str, per_language: bool = False) -> int:
        """Decimals a figure was printed with (a figure is never shown more precise than printed)."""
        if per_language:
            key = "per_language_rank_distance" if kind == "rank_distance" else "per_language"
        else:
            key = "rank_distance" if kind == "rank_distance" else "aggregates"
        return self.decimals.get(key, 4)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "model": self.model, "source": self.key, "base_model": self.base_model,
                "sampling": self.sampling, "alpha": self.alpha, "metric": self.metric,
                "aggregates": self.aggregates, "aggregates_from": self.aggregates_from,
                "aggregation": self.aggregation, "per_language": self.per_language,
                "per_language_from": self.per_language_from, "citation": self.citation, "published": True}


@dataclass(frozen=True)
class Published:
    """A vendored file: the publication's citation and its entries."""

    path: Path
    key: str
    source: dict[str, str]
    entries: list[PublishedEntry]


def _need(path: Path, where: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        raise MlbenchError(f"{path}: field '{where}' is missing or not {what}")
    return value


def _figures(path: Path, where: str, value: Any) -> dict[str, float]:
    _need(path, where, value, dict, "a table of figures")
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise MlbenchError(f"{path}: field '{where}.{k}' is {v!r}, not a finite number")
    return {str(k): float(v) for k, v in value.items()}


def read_published(path: Path | str) -> Published:
    """Read and validate a published-figures file; any defect is one line naming the field."""
    path = Path(path)
    doc = read_document(path, "json", "published-figures file")
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else None
        raise MlbenchError(f"{path}: field 'schema' is {got!r}; a published-figures file has {SCHEMA!r}")
    key = _need(path, "key", doc.get("key"), str, "the publication's short name")
    source = _need(path, "source", doc.get("source"), dict, "a table")
    _need(path, "source.citation", source.get("citation"), str, "a citation")
    url = source.get("url")
    citation = f"{source['citation']}" + (f", {url}" if isinstance(url, str) and url else "")
    entries = []
    for i, e in enumerate(_need(path, "entries", doc.get("entries"), list, "a list")):
        w = f"entries[{i}]"
        _need(path, w, e, dict, "a table")
        aggregates = _figures(path, f"{w}.aggregates", e.get("aggregates"))
        unknown = sorted(set(aggregates) - set(KINDS))
        if unknown or not aggregates:
            raise MlbenchError(f"{path}: field '{w}.aggregates' needs figures of {', '.join(KINDS)} only "
                               f"(has {', '.join(aggregates) or 'none'})")
        per_language = {str(k): _figures(path, f"{w}.per_language.{k}", v)
                        for k, v in _need(path, f"{w}.per_language", e.get("per_language", {}), dict,
                                          "a table").items()}
        alpha = e.get("alpha")
        if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, (int, float))):
            raise MlbenchError(f"{path}: field '{w}.alpha' is {alpha!r}, not a number or null")
        entries.append(PublishedEntry(
            task=_need(path, f"{w}.task", e.get("task"), str, "a task name"),
            model=_need(path, f"{w}.model", e.get("model"), str, "a name"), key=key,
            base_model=_need(path, f"{w}.base_model", e.get("base_model"), str, "a name"),
            sampling=_need(path, f"{w}.sampling", e.get("sampling"), str, "a name"),
            alpha=None if alpha is None else float(alpha),
            metric=_need(path, f"{w}.metric", e.get("metric"), str, "a metric name"),
            aggregates=aggregates,
            aggregates_from=_need(path, f"{w}.aggregates_from", e.get("aggregates_from"), str, "a source"),
            aggregation=_need(path, f"{w}.aggregation", e.get("aggregation"), str, "a description"),
            per_language=per_language,
            per_language_from={str(k): str(v) for k, v in _need(path, f"{w}.per_language_from",
                                                                 e.get("per_language_from", {}), dict, "a table").items()},
            decimals={str(k): int(v) for k, v in (e.get("decimals") or {}).items()}, citation=citation))
    return Published(path, key, {k: str(v) for k, v in source.items()}, entries)


def refuse_as_result(path: str, doc: dict[str, Any]) -> None:
    """The one line a reader of results gives a published-figures file: it has no per-query
    values, so it can be shown beside results but never tested against them."""
    if isinstance(doc, dict) and doc.get("schema") == SCHEMA:
        raise MlbenchError(f"{path}: published figures ({doc.get('key', 'a publication')}), not a result of "
                           "mlbench: they have no per-query values and cannot enter a paired test or a gate; "
                           "`mlbench leaderboard` shows them beside results")
