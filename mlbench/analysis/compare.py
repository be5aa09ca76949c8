"""Compare two result files of the same task: paired tests per setting and per aggregate.

A is the baseline, B the challenger; every delta is B - A and a *win* is a setting where B is
significantly better than A after the multiple-comparison correction (``▲``), a *loss* one where
it is significantly worse (``▼``), a *tie* anything else.

Units of analysis, and which settings two results share: :mod:`mlbench.analysis.units`.

Families for the correction: ``family="all"`` (default) makes every setting row one family and the
aggregate rows a second one; ``family="kind"`` makes one family per kind (mono, cross, multi
settings) and the aggregate rows one more. The number of resamples follows from the family sizes
and alpha unless given (:func:`mlbench.analysis.floors.reachable`), and the smallest adjusted
p each family can reach is reported.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mlbench.analysis.significance import (
    CORRECTION_NAMES,
    DEFAULT_CONFIDENCE,
    DEFAULT_PERMUTATIONS,
    TEST_NAMES,
    adjust,
    check_correction,
    check_test,
    paired_test,
    resamples_note,
)
from mlbench.analysis.floors import reachable
from mlbench.analysis.units import Entry, common_settings, kind_entries, paired_units, unit_values
from mlbench.errors import MlbenchError
from mlbench.metrics import OWN_LANG_EXPECTED, RANK_DISTANCE, own_lang, own_lang_cutoff
from mlbench.metrics import metric as metric_of
from mlbench.results.model import Result
from mlbench.task import KINDS

FAMILIES = ("all", "kind")
UP, DOWN = "▲", "▼"


@dataclass
class Row:
    """One paired test: a setting (``de>en``) or an aggregate (``mean(cross)``) for one metric."""

    id: str
    kind: str  # mono | cross | multi
    metric: str
    better: str  # higher | lower | expected (own-language shares)
    n: int  # paired units (queries of a setting; (query_lang, question) units of an aggregate)
    mean_a: float
    mean_b: float
    delta: float  # B - A
    ci_low: float
    ci_high: float
    p: float
    p_adjusted: float
    effect_size: float  # Cohen's d_z of B - A
    family: str
    marker: str = ""  # ▲ B significantly better, ▼ significantly worse, "" otherwise
    outcome: str = "tie"  # win | tie | loss (for B against A)
    expected: float | None = None  # own-language rows: the share expected from relevance alone


@dataclass
class Tally:
    wins: int = 0
    ties: int = 0
    losses: int = 0

    def add(self, outcome: str) -> None:
        if outcome == "win":
            self.wins += 1
        elif outcome == "loss":
            self.losses += 1
        else:
            self.ties += 1

    def __str__(self) -> str:
        return f"{self.wins}/{self.ties}/{self.losses}"


@dataclass
class ComparisonReport:
    task: str
    a: str  # paths
    b: str
    model_a: str
    model_b: str
    metric: str
    test: str
    correction: str
    alpha: float
    n_permutations: int
    seed: int | None
    confidence: float | None
    family: str
    settings: list[Row]
    aggregates: list[Row]
    families: dict[str, int] = field(default_factory=dict)  # family name -> number of tests
    summary: dict[str, Tally] = field(default_factory=dict)  # "all" and each kind, over settings
    notes: list[str] = field(default_factory=list)
    reachable: dict[str, float] = field(default_factory=dict)  # family -> smallest adjusted p it can reach

    def procedure_lines(self) -> list[str]:
        """The test, the correction with its families, alpha with the CI, and the smallest adjusted
        p each family can reach, one line each."""
        test = TEST_NAMES[self.test] + resamples_note(self.test, self.n_permutations, self.seed)
        fams = ", ".join(f"{name} ({n} tests)" for name, n in self.families.items())
        corr = f"correction: {CORRECTION_NAMES[self.correction]}" + (
            f" within each family: {fams}" if self.correction != "none" else f" (families: {fams})")
        ci = (f"CI: {self.confidence:.0%} paired bootstrap of the mean difference B - A" if self.confidence
              else "no CI computed")
        reach = ", ".join(f"{name} {p:.2g}" for name, p in self.reachable.items())
        return [f"test: {test}", corr, f"alpha = {self.alpha:g} (on adjusted p); {ci}",
                f"smallest reachable adjusted p: {reach}"]

    def procedure(self) -> str:
        """:meth:`procedure_lines` as one line."""
        return "; ".join(self.procedure_lines())

    def to_dict(self) -> dict[str, Any]:
        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        out = asdict(self)
        out["summary"] = {k: {"wins": t.wins, "ties": t.ties, "losses": t.losses} for k, t in self.summary.items()}
        out["procedure"] = self.procedure()
        out["test_description"] = TEST_NAMES[self.test]
        out["correction_description"] = CORRECTION_NAMES[self.correction]
        return clean(out)


def _judge(row: Row, alpha: float) -> None:
    if not row.p_adjusted <= alpha or row.n == 0 or row.delta == 0:
        row.marker, row.outcome = "", "tie"
        return
    if row.better == "higher":
        improved = row.delta > 0
    elif row.better == "lower":
        improved = row.delta < 0
    else:  # own-language share: moving toward the expected share is the improvement
        improved = abs(row.mean_b - row.expected) < abs(row.mean_a - row.expected)
    row.marker, row.outcome = (UP, "win") if improved else (DOWN, "loss")


def aggregate_test(a: Result, b: Result, kind: str, key: str, better: str | None = None,
                   test: str = "randomization", n_permutations: int = DEFAULT_PERMUTATIONS, seed: int | None = 0,
                   confidence: float | None = DEFAULT_CONFIDENCE, settings: list[str] | None = None) -> Row:
    """One paired test of B against A on one aggregate (``mean(kind)`` of ``key``), uncorrected.

    The same units and values as the aggregate rows of :func:`compare`, without the per-setting
    tests: what a leaderboard needs to say whether one entry is significantly above the next.
    ``better`` defaults to the metric's own direction; ``settings`` restricts the units to those
    settings (several results compared on what they all hold)."""
    check_test(test)
    better = better or metric_of(key).better
    pa, pb = a.per_query(), b.per_query()
    common, _ = common_settings(a, b, pa, pb, None)
    if settings is not None:
        common = [s for s in common if s in settings]
    entries = kind_entries(a, b, pa, pb, common).get(kind, [])
    if not entries:
        raise MlbenchError(f"{a.where}: task {a.task.name} has no {kind} settings")
    for sid, _, _, _, arr_a, arr_b in entries:
        if key not in arr_a or key not in arr_b:
            raise MlbenchError(f"{a.where}: setting {sid} has no per-query values for {key!r}")
    _, va, vb = paired_units(entries, key)
    r = _tested(_Pending(f"mean({kind})", kind, key, "aggregates", va, vb), test, n_permutations, seed, confidence)
    r.better = better
    return r


@dataclass
class _Pending:
    """A test to run once the number of resamples is known."""

    id: str
    kind: str
    metric: str
    family: str
    a: np.ndarray
    b: np.ndarray
    expected: float | None = None


def _tested(t: _Pending, test: str, n_permutations: int, seed: int | None, confidence: float | None) -> Row:
    defined = np.isfinite(t.a) & np.isfinite(t.b)  # PEER's 0/0, MRC of a question in one language: left out
    r = paired_test(t.a[defined], t.b[defined], test, n_permutations, seed, confidence)
    return Row(t.id, t.kind, t.metric, metric_of(t.metric).better, r.n, r.mean_a, r.mean_b, r.delta, r.ci_low,
               r.ci_high, r.p, r.p, r.effect_size, t.family, expected=t.expected)


def _planned(by_kind: dict[str, list[Entry]], metric: str, family: str) -> tuple[list[_Pending], list[_Pending]]:
    settings = [_Pending(sid, kind, metric, "settings" if family == "all" else f"{kind} settings", arr_a[metric],
                         arr_b[metric][idx])
                for kind, entries in by_kind.items() for sid, _, _, idx, arr_a, arr_b in entries
                if metric in arr_a and metric in arr_b]  # a measure of the multilingual pool only: its settings
    aggregates: list[_Pending] = []

    def agg(kind: str, key: str, expected_key: str | None = None) -> None:
        entries = by_kind.get(kind, [])
        if not entries or not all(key in e[4] and key in e[5] for e in entries):
            return
        units, va, vb = paired_units(entries, key)
        if not units:
            return
        expected = None
        if expected_key:
            if not all(expected_key in e[4] for e in entries):
                return
            expected = float(unit_values([(s, lang, ia, arr) for s, lang, ia, _, arr, _ in entries],
                                         expected_key)[1].mean())
        aggregates.append(_Pending(f"mean({kind})", kind, key, "aggregates", va, vb, expected))

    for kind in KINDS:
        agg(kind, metric)
    agg("multi", RANK_DISTANCE)
    fairness = sorted({k for e in by_kind.get("multi", []) for k in e[4].values if k != metric
                       and metric_of(k).multilingual and k in e[5]})
    for key in fairness:  # PEER, MRC: measured beside the main metric, tested like the rank distance
        agg("multi", key)
    cutoffs = sorted({c for e in by_kind.get("multi", []) for k in e[4].values if (c := own_lang_cutoff(k)) is not None})
    for c in cutoffs:
        agg("multi", own_lang(c), OWN_LANG_EXPECTED)
    return settings, aggregates


def compare(a: Result, b: Result, metric: str | None = None, test: str = "randomization",
            correction: str = "holm", alpha: float = 0.05, n_permutations: int | None = None,
            seed: int | None = 0, family: str = "all",
            confidence: float | None = DEFAULT_CONFIDENCE) -> ComparisonReport:
    """Paired comparison of B against A (both read with ``read_result``) on every setting they
    share and every aggregate; ``metric`` defaults to A's main metric (the task's),
    ``n_permutations`` to a number that lets every family reach ``alpha``; ``confidence=None``
    skips the bootstrap CIs."""
    metric = metric or a.main_metric
    check_test(test)
    check_correction(correction)
    if family not in FAMILIES:
        raise MlbenchError(f"--family {family!r} is not one of {', '.join(FAMILIES)}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise MlbenchError(f"--alpha must be in (0, 1), got {alpha}")
    if n_permutations is not None and n_permutations < 1:
        raise MlbenchError(f"--permutations must be positive, got {n_permutations}")
    pa, pb = a.per_query(), b.per_query()
    common, notes = common_settings(a, b, pa, pb, metric)
    by_kind = kind_entries(a, b, pa, pb, common)
    pend_settings, pend_aggs = _planned(by_kind, metric, family)
    sizes: dict[str, list[int]] = {}
    for t in pend_settings + pend_aggs:
        sizes.setdefault(t.family, []).append(len(t.a))
    n_perm, reach = reachable(sizes, test, correction, alpha, n_permutations)
    setting_rows = [_tested(t, test, n_perm, seed, confidence) for t in pend_settings]
    agg_rows = [_tested(t, test, n_perm, seed, confidence) for t in pend_aggs]
    order = {sid: i for i, sid in enumerate(pa)}
    setting_rows.sort(key=lambda r: order[r.id])  # the result file's order of settings
    families: dict[str, list[Row]] = {}
    for r in setting_rows + agg_rows:
        families.setdefault(r.family, []).append(r)
    for rows in families.values():
        for r, p in zip(rows, adjust([x.p for x in rows], correction)):
            r.p_adjusted = float(p)
            _judge(r, alpha)
    summary = {"all": Tally(), **{k: Tally() for k in KINDS if by_kind.get(k)}}
    for r in setting_rows:
        summary["all"].add(r.outcome)
        summary[r.kind].add(r.outcome)
    return ComparisonReport(
        task=a.task.name, a=a.where, b=b.where, model_a=a.model.name, model_b=b.model.name,
        metric=metric, test=test, correction=correction, alpha=float(alpha), n_permutations=n_perm,
        seed=seed, confidence=confidence, family=family, settings=setting_rows, aggregates=agg_rows,
        families={name: len(rows) for name, rows in families.items()}, summary=summary, notes=notes, reachable=reach)


__all__ = ["FAMILIES", "ComparisonReport", "Row", "Tally", "aggregate_test", "compare"]
