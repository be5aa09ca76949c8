"""What a measure is, declared once: its name, cut-off, direction and what it needs of a ranking.

Every table, test, gate and plot asks a :class:`Metric` instead of keeping its own list of names,
directions or labels. Two families share the type:

- **retrieval measures** a user can ask for (``--metrics``, a task's ``metrics``): ``map``,
  ``map@k``, ``recall@k``, ``precision@k``, ``success@k``, ``ndcg@k``, ``mrr@k``; definitions and
  trec_eval equivalents in :mod:`mlbench.metrics.compute` and docs/metrics.md;
- **trec_eval measures** mlbench does not compute itself, ``trec:NAME`` (``trec:P_5``,
  ``trec:bpref``): computed per query by pytrec_eval on an evaluated run (``mlbench evaluate``);
- **diagnostics** every multilingual setting records per query: ``rank_distance`` (max - min rank
  of a query's relevant candidates in the multilingual pool, lower is better), ``own_lang@c`` (share
  of the top c in the query's language; neither higher nor lower is better: the share
  ``own_lang_expected`` that relevance alone gives is the reference) and ``recall_vs_exact@k``
  (approximate search measured against exact search).

``needs_full_ranking`` says whether a value needs the rank of every relevant candidate in the
whole pool (``map``, ``rank_distance``) or only the top ``cutoff`` of the ranking; a retrieval
backend that keeps only the top k can serve the latter alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlbench.errors import MlbenchError

# cut-offs of the language-bias diagnostics in multilingual pools (share of the top c per language)
BIAS_CUTOFFS = (10, 100)
# the diagnostics' per-query keys, named here once
RANK_DISTANCE = "rank_distance"
OWN_LANG_EXPECTED = "own_lang_expected"


def own_lang(cutoff: int) -> str:
    """The per-query key of the own-language share of the top ``cutoff``."""
    return f"own_lang@{cutoff}"


def recall_vs_exact(k: int) -> str:
    """The per-query key of an approximate search's recall of exact search's top ``k``."""
    return f"recall_vs_exact@{k}"


def own_lang_cutoff(key: str) -> int | None:
    """The cut-off of an own-language key (``own_lang@10`` -> 10), else None."""
    head, sep, tail = key.partition("@")
    return int(tail) if sep and head == "own_lang" and tail.isdigit() else None
DEFAULT_METRICS = ("map", "recall@1", "recall@5", "recall@10", "recall@100", "ndcg@10", "mrr@10")
_NAME = re.compile(r"^(map|map@(\d+)|recall@(\d+)|precision@(\d+)|success@(\d+)|ndcg@(\d+)|mrr@(\d+))$")
_TREC = re.compile(r"^trec:([A-Za-z][A-Za-z0-9_.]*)$")
KNOWN = "map, map@K, recall@K, precision@K, success@K, ndcg@K, mrr@K, trec:NAME"
_DIAGNOSTIC = re.compile(r"^(rank_distance|own_lang_expected|own_lang@(\d+)|recall_vs_exact@(\d+))$")
_LABELS = {"map": "mAP", "recall": "Recall", "precision": "P", "success": "Success", "ndcg": "nDCG", "mrr": "MRR", "rank_distance": "rank distance",
           "own_lang": "own-language share", "own_lang_expected": "expected own-language share",
           "recall_vs_exact": "recall vs exact"}
# what "better" means, in words (tables, reports)
READINGS = {"higher": "higher is better", "lower": "lower is better",
            "expected": "closer to the share expected from relevance alone is better"}
_TREC_EVAL = {"map": "map", "map@": "map_cut.{k}", "recall": "recall.{k}", "precision": "P.{k}",
              "success": "success.{k}", "ndcg": "ndcg_cut.{k}", "mrr": "recip_rank (run cut at {k})"}


@dataclass(frozen=True)
class Metric:
    """One measure. ``better`` is ``higher``, ``lower`` or ``expected`` (closer to the share
    relevance alone gives is better: the own-language diagnostics)."""

    name: str
    base: str
    cutoff: int | None
    better: str
    needs_full_ranking: bool
    diagnostic: bool = False

    @property
    def higher_is_better(self) -> bool:
        return self.better == "higher"

    @property
    def label(self) -> str:
        """``map`` -> ``mAP``, ``ndcg@10`` -> ``nDCG@10``, ``trec:P_5`` as is."""
        if self.base == "trec":
            return self.name
        return _LABELS.get(self.base, self.base) + (f"@{self.cutoff}" if self.cutoff is not None else "")

    @property
    def trec_eval(self) -> str | None:
        """The trec_eval measure it equals (retrieval measures only)."""
        if self.base == "trec":
            return self.name[len("trec:"):]
        pattern = _TREC_EVAL.get("map@" if self.base == "map" and self.cutoff is not None else self.base)
        return pattern.format(k=self.cutoff) if pattern and not self.diagnostic else None

    def fits_depth(self, depth: int) -> bool:
        """Whether a ranking cut at ``depth`` gives this metric exactly."""
        return not self.needs_full_ranking and (self.cutoff is None or self.cutoff <= depth)


def metric(name: str) -> Metric:
    """The :class:`Metric` of a per-query key (a retrieval measure or a diagnostic)."""
    if not isinstance(name, str):
        raise MlbenchError(f"unknown metric {name!r} (known: {KNOWN})")
    m = _NAME.fullmatch(name)
    if m:
        base = name.split("@")[0]
        k = next((int(g) for g in m.groups()[1:] if g), None)
        if k is not None and k <= 0:
            raise MlbenchError(f"metric {name!r}: the cutoff must be positive")
        return Metric(name, base, k, "higher", base == "map" and k is None)
    if _TREC.fullmatch(name):  # what trec_eval says of the run as given (an evaluated run's depth)
        return Metric(name, "trec", None, "higher", False)
    d = _DIAGNOSTIC.fullmatch(name)
    if d:
        base = name.split("@")[0]
        k = next((int(g) for g in d.groups()[1:] if g), None)
        better = {"rank_distance": "lower", "own_lang": "expected", "own_lang_expected": "expected"}.get(base, "higher")
        return Metric(name, base, k, better, base == "rank_distance", diagnostic=True)
    raise MlbenchError(f"unknown metric {name!r} (known: {KNOWN})")


def parse_metrics(names: list[str] | tuple[str, ...] | str | None) -> list[Metric]:
    """Retrieval measures a user asked for (a list, or a comma-separated string); diagnostics are
    recorded automatically and cannot be asked for."""
    if isinstance(names, str):
        names = [x.strip() for x in names.split(",") if x.strip()]
    out = []
    for name in names or []:
        m = metric(name)
        if m.diagnostic:
            raise MlbenchError(f"metric {name!r} is a diagnostic recorded with every multilingual setting; "
                               f"ask for one of {KNOWN}")
        if m.base == "trec":
            raise MlbenchError(f"metric {name!r}: trec_eval measures are computed on evaluated runs "
                               "(mlbench evaluate --trec-measures)")
        out.append(m)
    return out
