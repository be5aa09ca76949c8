"""Metrics: what a measure is (:mod:`mlbench.metrics.measures`) and how it is computed from the
ranks of the relevant candidates (:mod:`mlbench.metrics.compute`)."""

from mlbench.metrics.compute import compute, pad_ranks, per_query_from_top, rank_distance, ranks_from_top
from mlbench.metrics.measures import (
    BIAS_CUTOFFS,
    DEFAULT_METRICS,
    Metric,
    default_metric,
    metric,
    parse_metrics,
)

__all__ = ["BIAS_CUTOFFS", "DEFAULT_METRICS", "Metric", "compute", "default_metric", "metric", "pad_ranks",
           "parse_metrics", "per_query_from_top", "rank_distance", "ranks_from_top"]
