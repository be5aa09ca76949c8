"""Compare two result files of the same task: paired tests per setting and per aggregate.

A is the baseline, B the challenger; every delta is B - A and a *win* is a setting where B is
significantly better than A after the multiple-comparison correction (``▲``), a *loss* one where
it is significantly worse (``▼``), a *tie* anything else.

Units of analysis (docs/metrics.md, "Significance"):

- a setting: its queries, paired by query id (the two files must hold the same queries);
- an aggregate of a kind (mono, cross, multi) and the multilingual diagnostics: the question
  within a query language, ``(query_lang, group)``. Unit u's value is
  ``v_u = N * sum over the kind's settings s holding u of x_{u,s} / (S * n_s)`` (N units, S
  settings, n_s queries in s), so that the mean of the unit values is exactly the reported
  macro-average of the setting means; where every setting of the kind has the same queries (XQuAD-R)
  ``v_u`` is simply u's metric averaged over the settings of the kind it appears in.

Families for the correction: ``family="all"`` (default) makes every setting row one family and the
aggregate rows a second one; ``family="kind"`` makes one family per kind (mono, cross, multi
settings) and the aggregate rows one more.
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
)
from mlbench.errors import MlbenchError
from mlbench.metrics import metric as metric_of
from mlbench.results.files import LoadedResult, require_same_task
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
    confidence: float
    family: str
    settings: list[Row]
    aggregates: list[Row]
    families: dict[str, int] = field(default_factory=dict)  # family name -> number of tests
    summary: dict[str, Tally] = field(default_factory=dict)  # "all" and each kind, over settings
    notes: list[str] = field(default_factory=list)

    def procedure_lines(self) -> list[str]:
        """The test, the correction with its families, and alpha with the CI, one line each."""
        test = TEST_NAMES[self.test]
        if self.test != "t":
            test += f", {self.n_permutations} {'permutations' if self.test == 'randomization' else 'resamples'}, seed {self.seed}"
        fams = ", ".join(f"{name} ({n} tests)" for name, n in self.families.items())
        corr = f"correction: {CORRECTION_NAMES[self.correction]}" + (
            f" within each family: {fams}" if self.correction != "none" else f" (families: {fams})")
        return [f"test: {test}", corr,
                f"alpha = {self.alpha:g} (on adjusted p); CI: {self.confidence:.0%} paired bootstrap of the mean difference B - A"]

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


def _per_setting(result: LoadedResult) -> dict[str, dict[str, np.ndarray]]:
    return result.per_query()


def _listing(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _check_same(a: LoadedResult, b: LoadedResult, pa, pb, metric: str | None) -> None:
    require_same_task(a, b, "compare needs two results of the same task and version")
    only_a = [s for s in pa if s not in pb]
    only_b = [s for s in pb if s not in pa]
    if only_a or only_b:
        parts = ([f"only in {a.path.name}: {_listing(only_a)}"] if only_a else []) + (
            [f"only in {b.path.name}: {_listing(only_b)}"] if only_b else [])
        raise MlbenchError(f"{b.path}: its settings differ from those of {a.path} ({'; '.join(parts)})")
    for res in (a, b) if metric is not None else ():
        known = res.doc["run"].get("metrics", [])
        if metric not in known:
            raise MlbenchError(f"--metric {metric!r}: {res.path} has no per-query values for it "
                               f"(it has: {', '.join(known)})")
    for sid in pa:
        qa, qb = pa[sid]["query_ids"], pb[sid]["query_ids"]
        sa, sb = set(qa.tolist()), set(qb.tolist())
        if sa != sb:
            diff_a, diff_b = sorted(sa - sb), sorted(sb - sa)
            example = (f"query {diff_a[0]!r} only in {a.path.name}" if diff_a
                       else f"query {diff_b[0]!r} only in {b.path.name}")
            raise MlbenchError(f"{b.path}: setting {sid} has different queries from {a.path} "
                               f"({len(qb)} vs {len(qa)} queries; {example})")
        if len(sa) != len(qa) or len(sb) != len(qb):
            raise MlbenchError(f"{b.path if len(sb) != len(qb) else a.path}: setting {sid} lists a query id twice")


def _aligned(pa: dict[str, np.ndarray], pb: dict[str, np.ndarray], sid: str, b_path) -> np.ndarray:
    """Index into B's arrays that puts B's queries in A's order (groups checked to agree)."""
    pos = {q: i for i, q in enumerate(pb["query_ids"].tolist())}
    idx = np.fromiter((pos[q] for q in pa["query_ids"].tolist()), dtype=np.int64, count=len(pa["query_ids"]))
    bad = np.flatnonzero(pa["groups"] != pb["groups"][idx])
    if len(bad):
        q = pa["query_ids"][bad[0]]
        raise MlbenchError(f"{b_path}: setting {sid}, query {q!r} has question id {pb['groups'][idx[bad[0]]]!r} "
                           f"but {pa['groups'][bad[0]]!r} in the other file")
    return idx


def _unit_values(settings: list[tuple[str, str, np.ndarray, dict[str, np.ndarray]]], key: str
                 ) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Unit values (see module docstring) over (setting id, query lang, index, arrays) entries.

    Returns the units (query_lang, group), sorted, and their values."""
    live = [s for s in settings if len(s[2])]
    units: dict[tuple[str, str], int] = {}
    for _, lang, _, arr in live:
        for g in arr["groups"].tolist():
            units.setdefault((lang, g), len(units))
    values = np.zeros(len(units))
    n_settings = len(live)
    for _, lang, idx, arr in live:
        pos = np.fromiter((units[(lang, g)] for g in arr["groups"][idx].tolist()), dtype=np.int64, count=len(idx))
        np.add.at(values, pos, arr[key][idx] / (n_settings * len(idx)))
    values *= len(units)
    order = sorted(units, key=lambda u: u)
    perm = np.array([units[u] for u in order], dtype=np.int64)
    return order, values[perm] if len(perm) else values


def _row(rid: str, kind: str, metric: str, better: str, family: str, a: np.ndarray, b: np.ndarray,
         test: str, n_permutations: int, seed: int | None, confidence: float,
         expected: float | None = None) -> Row:
    r = paired_test(a, b, test, n_permutations, seed, confidence)
    return Row(rid, kind, metric, better, r.n, r.mean_a, r.mean_b, r.delta, r.ci_low, r.ci_high, r.p, r.p,
               r.effect_size, family, expected=expected)


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


Entry = tuple[str, str, np.ndarray, np.ndarray, dict, dict]  # sid, query lang, idx A, idx B, arrays A, B


def _kind_entries(a: LoadedResult, b: LoadedResult, pa, pb) -> dict[str, list[Entry]]:
    """Each setting's aligned per-query arrays, grouped by kind (queries checked to agree)."""
    meta = {s["id"]: s for s in a.doc["settings"]}
    by_kind: dict[str, list[Entry]] = {k: [] for k in KINDS}
    for sid in pa:
        idx = _aligned(pa[sid], pb[sid], sid, b.path)
        by_kind.setdefault(meta[sid]["kind"], []).append(
            (sid, meta[sid]["query_lang"], np.arange(len(idx)), idx, pa[sid], pb[sid]))
    return by_kind


def _paired_units(entries: list[Entry], key: str) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """Units and their values in A and in B for one aggregate (see the module docstring)."""
    units_a, va = _unit_values([(s, lang, ia, arr) for s, lang, ia, _, arr, _ in entries], key)
    units_b, vb = _unit_values([(s, lang, ib, arr) for s, lang, _, ib, _, arr in entries], key)
    assert units_a == units_b  # same queries and groups per setting, checked by _check_same
    return units_a, va, vb


def aggregate_test(a: LoadedResult, b: LoadedResult, kind: str, key: str, better: str | None = None,
                   test: str = "randomization", n_permutations: int = DEFAULT_PERMUTATIONS, seed: int | None = 0,
                   confidence: float = DEFAULT_CONFIDENCE) -> Row:
    """One paired test of B against A on one aggregate (``mean(kind)`` of ``key``), uncorrected.

    The same units and values as the aggregate rows of :func:`compare`, without the per-setting
    tests: what a leaderboard needs to say whether one entry is significantly above the next.
    ``better`` defaults to the metric's own direction."""
    check_test(test)
    better = better or metric_of(key).better
    pa, pb = _per_setting(a), _per_setting(b)
    _check_same(a, b, pa, pb, None)
    entries = _kind_entries(a, b, pa, pb).get(kind, [])
    if not entries:
        raise MlbenchError(f"{a.path}: task {a.task} has no {kind} settings")
    for sid, _, _, _, arr_a, arr_b in entries:
        if key not in arr_a or key not in arr_b:
            raise MlbenchError(f"{a.path}: setting {sid} has no per-query values for {key!r}")
    _, va, vb = _paired_units(entries, key)
    return _row(f"mean({kind})", kind, key, better, "aggregates", va, vb, test, n_permutations, seed, confidence)


def compare(a: LoadedResult, b: LoadedResult, metric: str | None = None, test: str = "randomization",
            correction: str = "holm", alpha: float = 0.05, n_permutations: int = DEFAULT_PERMUTATIONS,
            seed: int | None = 0, family: str = "all", confidence: float = DEFAULT_CONFIDENCE) -> ComparisonReport:
    """Paired comparison of B against A (both read with ``read_result``) on every setting and
    aggregate; ``metric`` defaults to A's main metric (the task's)."""
    metric = metric or a.main_metric
    check_test(test)
    check_correction(correction)
    if family not in FAMILIES:
        raise MlbenchError(f"--family {family!r} is not one of {', '.join(FAMILIES)}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise MlbenchError(f"--alpha must be in (0, 1), got {alpha}")
    if n_permutations < 1:
        raise MlbenchError(f"--permutations must be positive, got {n_permutations}")
    pa, pb = _per_setting(a), _per_setting(b)
    _check_same(a, b, pa, pb, metric)
    common = dict(test=test, n_permutations=n_permutations, seed=seed, confidence=confidence)

    by_kind = _kind_entries(a, b, pa, pb)
    setting_rows: list[Row] = []
    for kind, entries in by_kind.items():
        fam = "settings" if family == "all" else f"{kind} settings"
        for sid, _, _, idx, arr_a, arr_b in entries:
            setting_rows.append(_row(sid, kind, metric, metric_of(metric).better, fam, arr_a[metric],
                                     arr_b[metric][idx], **common))
    order = {sid: i for i, sid in enumerate(pa)}
    setting_rows.sort(key=lambda r: order[r.id])  # the result file's order of settings

    agg_rows: list[Row] = []

    def agg(kind: str, key: str, expected_key: str | None = None) -> None:
        better = metric_of(key).better
        entries = by_kind.get(kind, [])
        if not entries or not all(key in e[4] and key in e[5] for e in entries):
            return
        units, va, vb = _paired_units(entries, key)
        if not units:
            return
        expected = None
        if expected_key:
            if not all(expected_key in e[4] for e in entries):
                return
            expected = float(_unit_values([(s, lang, ia, arr) for s, lang, ia, _, arr, _ in entries],
                                          expected_key)[1].mean())
        agg_rows.append(_row(f"mean({kind})", kind, key, better, "aggregates", va, vb, **common, expected=expected))

    for kind in KINDS:
        agg(kind, metric)
    agg("multi", "rank_distance")
    cutoffs = sorted({int(k.split("@")[1]) for e in by_kind.get("multi", []) for k in e[4]
                      if k.startswith("own_lang@")})
    for c in cutoffs:
        agg("multi", f"own_lang@{c}", "own_lang_expected")

    families: dict[str, list[Row]] = {}
    for row in setting_rows + agg_rows:
        families.setdefault(row.family, []).append(row)
    for rows in families.values():
        for row, p in zip(rows, adjust([r.p for r in rows], correction)):
            row.p_adjusted = float(p)
            _judge(row, alpha)
    summary = {"all": Tally(), **{k: Tally() for k in KINDS if by_kind.get(k)}}
    for row in setting_rows:
        summary["all"].add(row.outcome)
        summary[row.kind].add(row.outcome)
    return ComparisonReport(
        task=a.task, a=str(a.path), b=str(b.path), model_a=a.doc["model"]["name"], model_b=b.doc["model"]["name"],
        metric=metric, test=test, correction=correction, alpha=float(alpha), n_permutations=n_permutations,
        seed=seed, confidence=confidence, family=family, settings=setting_rows, aggregates=agg_rows,
        families={name: len(rows) for name, rows in families.items()}, summary=summary)


__all__ = ["FAMILIES", "ComparisonReport", "Row", "Tally", "aggregate_test", "compare"]
