"""Per-query values: what a setting's scoring gives (:class:`SettingValues`) and what a result file's
sidecar gives back (:class:`QueryValues`).

Per-query values are kept in every result: paired tests, the language-bias measures and the CI
gate need them, not only the means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mlbench.metrics import metric, score
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
    pairs: dict[str, dict[str, float | None]] = field(default_factory=dict)  # mrc[@k] -> other query language -> mean rho

    def means(self) -> dict[str, float | None]:
        return {m: mean_of(v) for m, v in self.per_query.items()}


def mean_of(values: Sequence[float] | np.ndarray) -> float | None:
    """The mean of per-query values, leaving out the queries where a measure is undefined (NaN:
    PEER's 0/0, MRC of a question held in one language only); None when none is defined."""
    arr = np.asarray(values, dtype=np.float64)
    if not arr.size:
        return None
    if np.isnan(arr).any():
        arr = arr[~np.isnan(arr)]
        if not arr.size:
            return None
    return float(arr.mean())


def scored(setting: Setting, query_ids: Sequence[str], groups: Sequence[str], n_left_out: int, ranks: JudgedRanks,
           metrics: Sequence[str], level: int = 1, run: Run | None = None, qrels: Qrels | None = None,
           ranking: Run | None = None, pool_size: int | None = None) -> SettingValues:
    """A setting's values from its judged ranks, through the one scorer (:func:`mlbench.metrics.score`);
    ``run`` and ``qrels`` are kept with the values (kept rankings), ``ranking`` (default ``run``)
    serves the measures of the ranking's top (PEER)."""
    per_query, shares = score(ranks, metrics, level, setting.query_lang, multilingual=setting.pool == ALL,
                              ranking=ranking if ranking is not None else run, qrels=qrels, pool_size=pool_size)
    return SettingValues(setting, list(query_ids), list(groups), n_left_out, per_query, shares, run,
                         qrels if run is not None else None)


def add_rank_correlation(values: Sequence[SettingValues], metrics: Sequence[str],
                         tops: dict[str, np.ndarray] | None = None, ranks: dict[str, np.ndarray] | None = None) -> None:
    """The mean rank correlation of every multilingual setting's queries with their parallel queries
    (:mod:`mlbench.metrics.rank_correlation`), added to each setting's per-query values and its row
    of the language-pair matrix (``pairs``). ``ranks``: query language -> full rank vectors of the
    setting's queries (``mrc``); ``tops``: query language -> top-k candidate ids of them, as strings
    of one pool (``mrc@k``, and ``mrc`` when the tops are whole rankings)."""
    from mlbench.metrics.rank_correlation import (mean_rank_correlation_from_ranks,
                                                  mean_rank_correlation_from_top)

    multi = [v for v in values if v.setting.pool == ALL]
    for name in metrics:
        m = metric(name)
        if m.base != "mrc" or not multi:
            continue
        groups = [v.groups for v in multi]
        if m.cutoff is None and ranks is not None:
            got = mean_rank_correlation_from_ranks([ranks[v.setting.query_lang] for v in multi], groups)
        else:
            assert tops is not None, "MRC needs the settings' rankings"
            ids = [tops[v.setting.query_lang] if m.cutoff is None else tops[v.setting.query_lang][:, : m.cutoff]
                   for v in multi]
            vocab = {d: i for i, d in enumerate(np.unique(np.concatenate([t.ravel() for t in ids])))}
            got = mean_rank_correlation_from_top([np.vectorize(vocab.__getitem__, otypes=[np.int64])(t) if t.size
                                                  else t.astype(np.int64) for t in ids], groups)
        langs = [v.setting.query_lang for v in multi]
        for i, v in enumerate(multi):
            v.per_query[name] = got.per_query[i]
            v.pairs[name] = {langs[j]: (None if np.isnan(got.matrix[i, j]) else float(got.matrix[i, j]))
                             for j in range(len(langs)) if j != i}


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
