"""How numbers are written in every table, page and report: one place, so a figure reads the same
in a terminal, a CI log, markdown and HTML."""

from __future__ import annotations

import math

MISSING = "–"


def num(v: float | None, digits: int = 4, sign: bool = False) -> str:
    """``digits`` decimals (with the sign when ``sign``); None or NaN as a dash, infinities spelled out."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    if isinstance(v, float) and math.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return f"{v:{'+' if sign else ''}.{digits}f}"


def signed(v: float | None, digits: int = 4) -> str:
    """A difference, with its sign."""
    return num(v, digits, sign=True)


def pvalue(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return MISSING
    return f"{p:.1e}" if p < 1e-4 else f"{p:.4f}"


def digits(metric: str) -> int:
    """Decimals of a metric's values: ranks (the rank distance) need fewer than shares and scores."""
    return 2 if metric == "rank_distance" else 4
