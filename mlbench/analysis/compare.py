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
settings) and the aggregate rows one more. The number of resamples follows from the family sizes
and alpha unless given (:func:`mlbench.analysis.significance.reachable`), and the smallest adjusted
p each family can reach is reported.

Like with like: the two results must be of the same task, version and slice (the cuts, the pool,
the candidate text); they may differ in languages and kinds, and are then compared on the settings
both hold, leaving out the multilingual ones when the languages differ (their pools differ), with a
note saying so. A setting both hold must have the same queries.
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
    reachable,
)
from mlbench.errors import MlbenchError
from mlbench.metrics import metric as metric_of
from mlbench.results.files import LoadedResult, differences, require_same_task, slice_of
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
        test = TEST_NAMES[self.test]
        if self.test != "t":
            test += f", {self.n_permutations} {'permutations' if self.test == 'randomization' else 'resamples'}, seed {self.seed}"
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


def _per_setting(result: LoadedResult) -> dict[str, dict[str, np.ndarray]]:
    return result.per_query()


def _listing(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _common_settings(a: LoadedResult, b: LoadedResult, pa, pb, metric: str | None) -> tuple[list[str], list[str]]:
    """The settings both results hold and may be compared on, and notes on what was left out;
    anything that makes them unlike is a one-line error."""
    require_same_task(a, b, "compare needs two results of the same task and version")
    sa, sb = slice_of(a.doc), slice_of(b.doc)
    diff = differences(sa, sb, ignore=("languages", "kinds"))
    if diff:
        raise MlbenchError(f"{b.path}: not the same slice of {a.task} as {a.path} ({'; '.join(diff)}); "
                           "compare needs like with like")
    kind = {s["id"]: s["kind"] for s in a.doc["settings"]}
    common = [sid for sid in pa if sid in pb]
    notes = []
    only_a, only_b = [sid for sid in pa if sid not in pb], [sid for sid in pb if sid not in pa]
    if set(sa["languages"]) != set(sb["languages"]):
        multi = [sid for sid in common if kind[sid] == "multi"]
        common = [sid for sid in common if kind[sid] != "multi"]
        if multi:
            notes.append(f"{len(multi)} multilingual settings left out: their pools differ (languages "
                         f"{','.join(sa['languages'])} vs {','.join(sb['languages'])})")
    if only_a or only_b:
        parts = ([f"only in {a.path.name}: {_listing(only_a)}"] if only_a else []) + (
            [f"only in {b.path.name}: {_listing(only_b)}"] if only_b else [])
        if not common:
            raise MlbenchError(f"{b.path}: no setting in common with {a.path} ({'; '.join(parts)})")
        notes.append(f"compared on the {len(common)} settings both results hold ({'; '.join(parts)}); "
                     "aggregates are over those")
    if not common:
        raise MlbenchError(f"{b.path}: no setting of {a.path} can be compared with it ({'; '.join(notes)})")
    for res in (a, b) if metric is not None else ():
        known = res.doc["run"].get("metrics", [])
        if metric not in known:
            raise MlbenchError(f"--metric {metric!r}: {res.path} has no per-query values for it "
                               f"(it has: {', '.join(known)})")
    for sid in common:
        qa, qb = pa[sid]["query_ids"], pb[sid]["query_ids"]
        sa_q, sb_q = set(qa.tolist()), set(qb.tolist())
        if sa_q != sb_q:
            diff_a, diff_b = sorted(sa_q - sb_q), sorted(sb_q - sa_q)
            example = (f"query {diff_a[0]!r} only in {a.path.name}" if diff_a
                       else f"query {diff_b[0]!r} only in {b.path.name}")
            raise MlbenchError(f"{b.path}: setting {sid} has different queries from {a.path} "
                               f"({len(qb)} vs {len(qa)} queries; {example})")
        if len(sa_q) != len(qa) or len(sb_q) != len(qb):
            raise MlbenchError(f"{b.path if len(sb_q) != len(qb) else a.path}: setting {sid} lists a query id twice")
    return common, notes


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


def _kind_entries(a: LoadedResult, b: LoadedResult, pa, pb, common: list[str]) -> dict[str, list[Entry]]:
    """Each common setting's aligned per-query arrays, grouped by kind (queries checked to agree)."""
    meta = {s["id"]: s for s in a.doc["settings"]}
    by_kind: dict[str, list[Entry]] = {k: [] for k in KINDS}
    for sid in common:
        idx = _aligned(pa[sid], pb[sid], sid, b.path)
        by_kind.setdefault(meta[sid]["kind"], []).append(
            (sid, meta[sid]["query_lang"], np.arange(len(idx)), idx, pa[sid], pb[sid]))
    return by_kind


def _paired_units(entries: list[Entry], key: str) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """Units and their values in A and in B for one aggregate (see the module docstring)."""
    units_a, va = _unit_values([(s, lang, ia, arr) for s, lang, ia, _, arr, _ in entries], key)
    units_b, vb = _unit_values([(s, lang, ib, arr) for s, lang, _, ib, _, arr in entries], key)
    assert units_a == units_b  # same queries and groups per setting, checked by _common_settings
    return units_a, va, vb


def aggregate_test(a: LoadedResult, b: LoadedResult, kind: str, key: str, better: str | None = None,
                   test: str = "randomization", n_permutations: int = DEFAULT_PERMUTATIONS, seed: int | None = 0,
                   confidence: float | None = DEFAULT_CONFIDENCE, settings: list[str] | None = None) -> Row:
    """One paired test of B against A on one aggregate (``mean(kind)`` of ``key``), uncorrected.

    The same units and values as the aggregate rows of :func:`compare`, without the per-setting
    tests: what a leaderboard needs to say whether one entry is significantly above the next.
    ``better`` defaults to the metric's own direction; ``settings`` restricts the units to those
    settings (several results compared on what they all hold)."""
    check_test(test)
    better = better or metric_of(key).better
    pa, pb = _per_setting(a), _per_setting(b)
    common, _ = _common_settings(a, b, pa, pb, None)
    if settings is not None:
        common = [s for s in common if s in settings]
    entries = _kind_entries(a, b, pa, pb, common).get(kind, [])
    if not entries:
        raise MlbenchError(f"{a.path}: task {a.task} has no {kind} settings")
    for sid, _, _, _, arr_a, arr_b in entries:
        if key not in arr_a or key not in arr_b:
            raise MlbenchError(f"{a.path}: setting {sid} has no per-query values for {key!r}")
    _, va, vb = _paired_units(entries, key)
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
    r = paired_test(t.a, t.b, test, n_permutations, seed, confidence)
    return Row(t.id, t.kind, t.metric, metric_of(t.metric).better, r.n, r.mean_a, r.mean_b, r.delta, r.ci_low,
               r.ci_high, r.p, r.p, r.effect_size, t.family, expected=t.expected)


def _planned(by_kind: dict[str, list[Entry]], metric: str, family: str) -> tuple[list[_Pending], list[_Pending]]:
    settings = [_Pending(sid, kind, metric, "settings" if family == "all" else f"{kind} settings", arr_a[metric],
                         arr_b[metric][idx])
                for kind, entries in by_kind.items() for sid, _, _, idx, arr_a, arr_b in entries]
    aggregates: list[_Pending] = []

    def agg(kind: str, key: str, expected_key: str | None = None) -> None:
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
        aggregates.append(_Pending(f"mean({kind})", kind, key, "aggregates", va, vb, expected))

    for kind in KINDS:
        agg(kind, metric)
    agg("multi", "rank_distance")
    cutoffs = sorted({int(k.split("@")[1]) for e in by_kind.get("multi", []) for k in e[4] if k.startswith("own_lang@")})
    for c in cutoffs:
        agg("multi", f"own_lang@{c}", "own_lang_expected")
    return settings, aggregates


def compare(a: LoadedResult, b: LoadedResult, metric: str | None = None, test: str = "randomization",
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
    pa, pb = _per_setting(a), _per_setting(b)
    common, notes = _common_settings(a, b, pa, pb, metric)
    by_kind = _kind_entries(a, b, pa, pb, common)
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
        task=a.task, a=str(a.path), b=str(b.path), model_a=a.doc["model"]["name"], model_b=b.doc["model"]["name"],
        metric=metric, test=test, correction=correction, alpha=float(alpha), n_permutations=n_perm,
        seed=seed, confidence=confidence, family=family, settings=setting_rows, aggregates=agg_rows,
        families={name: len(rows) for name, rows in families.items()}, summary=summary, notes=notes, reachable=reach)


__all__ = ["FAMILIES", "ComparisonReport", "Row", "Tally", "aggregate_test", "compare"]
