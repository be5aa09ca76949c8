"""Aggregates over settings, all derived from the kept per-query values.

- per setting: mean over the setting's queries;
- per kind (mono, cross, multi): macro-average of the setting means, so every language pair
  weighs the same whatever its query count;
- per kind and query language: mean of that language's setting means;
- ``multi_micro`` (parallel tasks): LAReQA's number, the mean over all questions of all
  multilingual settings (equal to the macro mean on XQuAD-R, where every language has 1190
  questions);
- rank distance (when the backend ranked the whole pool): mean per query language in the
  multilingual pool, then macro over languages (arXiv 2408.10536 §4.1; lower means less preference
  for any language);
- language bias: the own-language share of the top c of the multilingual pool
  (:data:`mlbench.metrics.BIAS_CUTOFFS`) against the share relevance alone would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlbench.metrics import OWN_LANG_EXPECTED, RANK_DISTANCE, own_lang
from mlbench.results.values import SettingValues, mean_of


def _mean(values: Sequence[float | None] | np.ndarray) -> float | None:
    if isinstance(values, np.ndarray):
        return mean_of(values)
    return mean_of([np.nan if v is None else v for v in values])


def _bias(multi: Sequence[SettingValues]) -> dict[str, Any]:
    """Own-language share of the top-c against the share relevance alone would give, per query
    language and macro-averaged, and the query-language x pool-language mix of the top-c."""
    out: dict[str, Any] = {}
    cutoffs = sorted({c for r in multi for c in r.lang_share})
    expected = {r.setting.query_lang: _mean(r.per_query[OWN_LANG_EXPECTED]) for r in multi
                if OWN_LANG_EXPECTED in r.per_query}
    for c in cutoffs:
        own = {r.setting.query_lang: _mean(r.per_query[own_lang(c)]) for r in multi
               if own_lang(c) in r.per_query}
        out[f"top{c}"] = {"own_share": {"macro": _mean(list(own.values())), "query_langs": own},
                          "matrix": {r.setting.query_lang: r.lang_share[c] for r in multi}}
    out["expected_own_share"] = {"macro": _mean(list(expected.values())), "query_langs": expected}
    return out


def aggregate(results: Sequence[SettingValues], metrics: Sequence[str], micro: bool = True) -> dict[str, Any]:
    settings = {}
    for r in results:
        settings[r.setting.id] = {m: _mean(v) for m, v in r.per_query.items()}
    kinds: dict[str, dict[str, float | None]] = {}
    by_lang: dict[str, dict[str, dict[str, float | None]]] = {}
    for kind in ("mono", "cross", "multi"):
        chosen = [r for r in results if r.setting.kind == kind and len(r.query_ids)]
        if not chosen:
            continue
        present = [m for m in metrics if all(m in settings[r.setting.id] for r in chosen)]  # PEER, MRC: multi only
        kinds[kind] = {m: _mean([settings[r.setting.id][m] for r in chosen]) for m in present}
        langs = sorted({r.setting.query_lang for r in chosen})
        by_lang[kind] = {lang: {m: _mean([settings[r.setting.id][m] for r in chosen if r.setting.query_lang == lang])
                                for m in present} for lang in langs}
    out: dict[str, Any] = {"kinds": kinds, "query_langs": by_lang}
    multi = [r for r in results if r.setting.kind == "multi" and len(r.query_ids)]
    if multi:
        if micro:
            out["multi_micro"] = {m: _mean(np.concatenate([r.per_query[m] for r in multi])) for m in metrics
                                  if all(m in r.per_query for r in multi)}
        if all(RANK_DISTANCE in r.per_query for r in multi):
            per_lang = {r.setting.query_lang: _mean(r.per_query[RANK_DISTANCE]) for r in multi}
            out["rank_distance"] = {"macro": _mean(list(per_lang.values())), "query_langs": per_lang}
        out["language_bias"] = _bias(multi)
        correlated = sorted({m for r in multi for m in r.pairs})
        if correlated:
            out["rank_correlation"] = {m: {"macro": kinds["multi"].get(m), "query_langs": {
                lang: vals.get(m) for lang, vals in by_lang["multi"].items()},
                "matrix": {r.setting.query_lang: r.pairs[m] for r in multi}} for m in correlated}
    return out
