"""Per-query values: what a setting's scoring gives (:class:`SettingValues`) and what a result file's
sidecar gives back (:class:`QueryValues`).

Per-query values are kept in every result: paired tests, the language-bias measures and the CI
gate need them, not only the means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mlbench.metrics import score
from mlbench.runs import JudgedRanks, Qrels, Run
from mlbench.task import ALL, Setting


@dataclass
class SettingValues:
    """One setting's scored queries: ids and groups (the paired unit across settings and runs), the
    queries left out (no relevant candidate in the pool), every metric and diagnostic per query,
    the mean language mix of the top (cut-off -> pool language -> share; multilingual pools), and,
    when rankings are kept, the run and its qrels."""

    setting: Setting
    query_ids: list[str]
    groups: list[str]
    n_left_out: int
    per_query: dict[str, np.ndarray]
    lang_share: dict[int, dict[str, float]] = field(default_factory=dict)
    run: Run | None = None
    qrels: Qrels | None = None

    def means(self) -> dict[str, float | None]:
        return {m: (float(v.mean()) if len(v) else None) for m, v in self.per_query.items()}


def scored(setting: Setting, query_ids: Sequence[str], groups: Sequence[str], n_left_out: int, ranks: JudgedRanks,
           metrics: Sequence[str], level: int = 1, run: Run | None = None, qrels: Qrels | None = None
           ) -> SettingValues:
    """A setting's values from its judged ranks, through the one scorer (:func:`mlbench.metrics.score`)."""
    per_query, shares = score(ranks, metrics, level, setting.query_lang, multilingual=setting.pool == ALL)
    return SettingValues(setting, list(query_ids), list(groups), n_left_out, per_query, shares, run, qrels)


@dataclass
class QueryValues:
    """One setting's per-query values as read from a result's sidecar: ``query_ids`` and ``groups``
    (str arrays, in the setting's order) and ``values`` (metric -> float64 array)."""

    query_ids: np.ndarray
    groups: np.ndarray
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.query_ids)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def __getitem__(self, key: str) -> np.ndarray:
        return self.values[key]

    @classmethod
    def of(cls, v: SettingValues) -> QueryValues:
        return cls(np.asarray(v.query_ids, dtype=str), np.asarray(v.groups, dtype=str),
                   {m: np.asarray(x, dtype=np.float64) for m, x in v.per_query.items()})
