"""Metrics: what a measure is and how it is computed from the ranks and grades of the judged
candidates, one registered function each (:mod:`mlbench.metrics.measures`), the diagnostics
(:mod:`mlbench.metrics.compute`), and the one scorer of a setting's judged ranks
(:mod:`mlbench.metrics.score`)."""

from mlbench.metrics.compute import compute, rank_distance
from mlbench.metrics.measures import (
    BIAS_CUTOFFS,
    DEFAULT_METRICS,
    OWN_LANG_EXPECTED,
    RANK_DISTANCE,
    Metric,
    metric,
    own_lang,
    own_lang_cutoff,
    parse_metrics,
    recall_vs_exact,
)
from mlbench.metrics.score import score

__all__ = ["BIAS_CUTOFFS", "DEFAULT_METRICS", "Metric", "OWN_LANG_EXPECTED", "RANK_DISTANCE", "compute", "metric",
           "own_lang", "own_lang_cutoff", "parse_metrics", "rank_distance", "recall_vs_exact", "score"]
