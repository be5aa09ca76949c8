"""The paired units of a comparison: which settings two results share, their queries aligned, and
the unit values of an aggregate.

Units of analysis (docs/metrics.md, "Significance"):

- a setting: its queries, paired by query id (the two results must hold the same queries);
- an aggregate of a kind (mono, cross, multi) and the multilingual diagnostics: the question
  within a query language, ``(query_lang, group)``. Unit u's value is
  ``v_u = N * sum over the kind's settings s holding u of x_{u,s} / (S * n_s)`` (N units, S
  settings, n_s queries in s), so that the mean of the unit values is exactly the reported
  macro-average of the setting means; where every setting of the kind has the same queries (XQuAD-R)
  ``v_u`` is simply u's metric averaged over the settings of the kind it appears in.

Like with like: two results must be of the same task, version and slice (the cuts, the pool, the
candidate text); they may differ in languages and kinds, and are then compared on the settings
both hold, leaving out the multilingual ones when the languages differ (their pools differ), with
a note saying so. A setting both hold must have the same queries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlbench.errors import MlbenchError
from mlbench.results.files import differences, require_same_task
from mlbench.results.model import Result
from mlbench.results.values import QueryValues
from mlbench.task import KINDS


def listing(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def common_settings(a: Result, b: Result, pa, pb, metric: str | None) -> tuple[list[str], list[str]]:
    """The settings both results hold and may be compared on, and notes on what was left out;
    anything that makes them unlike is a one-line error."""
    require_same_task(a, b, "compare needs two results of the same task and version")
    sa, sb = a.slice, b.slice
    diff = differences(sa, sb, ignore=("languages", "kinds"))
    if diff:
        raise MlbenchError(f"{b.where}: not the same slice of {a.task.name} as {a.where} ({'; '.join(diff)}); "
                           "compare needs like with like")
    kind = a.kind_of()
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
        parts = ([f"only in {Path(a.where).name}: {listing(only_a)}"] if only_a else []) + (
            [f"only in {Path(b.where).name}: {listing(only_b)}"] if only_b else [])
        if not common:
            raise MlbenchError(f"{b.where}: no setting in common with {a.where} ({'; '.join(parts)})")
        notes.append(f"compared on the {len(common)} settings both results hold ({'; '.join(parts)}); "
                     "aggregates are over those")
    if not common:
        raise MlbenchError(f"{b.where}: no setting of {a.where} can be compared with it ({'; '.join(notes)})")
    for res in (a, b) if metric is not None else ():
        known = res.metrics
        if metric not in known:
            raise MlbenchError(f"--metric {metric!r}: {res.where} has no per-query values for it "
                               f"(it has: {', '.join(known)})")
    for sid in common:
        qa, qb = pa[sid].query_ids, pb[sid].query_ids
        sa_q, sb_q = set(qa.tolist()), set(qb.tolist())
        if sa_q != sb_q:
            diff_a, diff_b = sorted(sa_q - sb_q), sorted(sb_q - sa_q)
            example = (f"query {diff_a[0]!r} only in {Path(a.where).name}" if diff_a
                       else f"query {diff_b[0]!r} only in {Path(b.where).name}")
            raise MlbenchError(f"{b.where}: setting {sid} has different queries from {a.where} "
                               f"({len(qb)} vs {len(qa)} queries; {example})")
        if len(sa_q) != len(qa) or len(sb_q) != len(qb):
            raise MlbenchError(f"{b.where if len(sb_q) != len(qb) else a.where}: setting {sid} lists a query id twice")
    return common, notes


def aligned(pa: QueryValues, pb: QueryValues, sid: str, b_path) -> np.ndarray:
    """Index into B's arrays that puts B's queries in A's order (groups checked to agree)."""
    pos = {q: i for i, q in enumerate(pb.query_ids.tolist())}
    idx = np.fromiter((pos[q] for q in pa.query_ids.tolist()), dtype=np.int64, count=len(pa.query_ids))
    bad = np.flatnonzero(pa.groups != pb.groups[idx])
    if len(bad):
        q = pa.query_ids[bad[0]]
        raise MlbenchError(f"{b_path}: setting {sid}, query {q!r} has question id {pb.groups[idx[bad[0]]]!r} "
                           f"but {pa.groups[bad[0]]!r} in the other file")
    return idx


def unit_values(settings: list[tuple[str, str, np.ndarray, QueryValues]], key: str
                 ) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Unit values (see the module docstring) over (setting id, query lang, index, values) entries.

    Returns the units (query_lang, group), sorted, and their values."""
    live = [s for s in settings if len(s[2])]
    units: dict[tuple[str, str], int] = {}
    for _, lang, _, arr in live:
        for g in arr.groups.tolist():
            units.setdefault((lang, g), len(units))
    values = np.zeros(len(units))
    n_settings = len(live)
    for _, lang, idx, arr in live:
        pos = np.fromiter((units[(lang, g)] for g in arr.groups[idx].tolist()), dtype=np.int64, count=len(idx))
        np.add.at(values, pos, arr[key][idx] / (n_settings * len(idx)))
    values *= len(units)
    order = sorted(units, key=lambda u: u)
    perm = np.array([units[u] for u in order], dtype=np.int64)
    return order, values[perm] if len(perm) else values


Entry = tuple[str, str, np.ndarray, np.ndarray, QueryValues, QueryValues]  # sid, query lang, idx A, idx B, values A, B


def kind_entries(a: Result, b: Result, pa, pb, common: list[str]) -> dict[str, list[Entry]]:
    """Each common setting's aligned per-query arrays, grouped by kind (queries checked to agree)."""
    meta = {s.id: s for s in a.settings}
    by_kind: dict[str, list[Entry]] = {k: [] for k in KINDS}
    for sid in common:
        idx = aligned(pa[sid], pb[sid], sid, b.where)
        by_kind.setdefault(meta[sid].kind, []).append((sid, meta[sid].query_lang, np.arange(len(idx)), idx,
                                                       pa[sid], pb[sid]))
    return by_kind


def paired_units(entries: list[Entry], key: str) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """Units and their values in A and in B for one aggregate (see the module docstring)."""
    units_a, va = unit_values([(s, lang, ia, arr) for s, lang, ia, _, arr, _ in entries], key)
    units_b, vb = unit_values([(s, lang, ib, arr) for s, lang, _, ib, _, arr in entries], key)
    assert units_a == units_b  # same queries and groups per setting, checked by common_settings
    return units_a, va, vb
