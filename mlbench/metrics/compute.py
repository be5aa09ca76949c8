"""The diagnostics computed from judged ranks, beside the measures of :mod:`mlbench.metrics.measures`
(which holds each retrieval measure's definition and computation in one place)."""

from __future__ import annotations

import numpy as np

from mlbench.metrics.measures import compute, relevant_mask

__all__ = ["compute", "rank_distance", "relevant_mask"]


def rank_distance(ranks: np.ndarray, grades: np.ndarray, level: int = 1) -> np.ndarray:
    """Largest minus smallest rank of a query's relevant candidates in the multilingual pool
    (arXiv 2408.10536 §4.1); 0 for a query with a single relevant candidate."""
    rel = relevant_mask(grades, level)
    return np.where(rel, ranks, -np.inf).max(axis=1) - np.where(rel, ranks, np.inf).min(axis=1)
