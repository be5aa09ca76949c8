"""Comparing three or more results of one task, as ranx's ``compare`` does for runs: every pair on
every aggregate, one correction over all of those tests.

The aggregates are the main metric (or ``metric``) per kind and, with multilingual settings, the
rank distance; each is tested over the same units as :func:`mlbench.analysis.compare.aggregate_test`
(the question within a query language) on the settings every result holds (multilingual settings
left out when the languages differ). A model *beats* another on an aggregate when the adjusted p
is at most alpha and its value is better in the metric's direction.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlbench.analysis.compare import aggregate_test
from mlbench.analysis.units import common_settings
from mlbench.analysis.significance import (
    CORRECTION_NAMES,
    TEST_NAMES,
    adjust,
    check_correction,
    check_test,
    resamples_note,
)
from mlbench.analysis.floors import reachable
from mlbench.errors import MlbenchError
from mlbench.metrics import RANK_DISTANCE
from mlbench.metrics import metric as metric_of
from mlbench.results.model import Result
from mlbench.task import KINDS


@dataclass
class PairTest:
    aggregate: str  # "mean(cross) map", "mean(multi) rank_distance"
    a: int  # indices into the report's models
    b: int
    mean_a: float
    mean_b: float
    p: float
    p_adjusted: float = 1.0
    better: int | None = None  # index of the significantly better one, None: no difference


@dataclass
class ManyReport:
    task: str
    metric: str
    models: list[str]
    paths: list[str]
    aggregates: list[str]
    means: list[dict[str, float]]  # per model: aggregate -> value
    tests: list[PairTest]
    test: str
    correction: str
    alpha: float
    n_permutations: int
    seed: int | None
    reachable: float
    notes: list[str] = field(default_factory=list)

    def beaten(self, i: int, aggregate: str) -> list[int]:
        """Models that model ``i`` is significantly better than on ``aggregate``."""
        return sorted(t.b if t.better == t.a else t.a for t in self.tests
                      if t.aggregate == aggregate and t.better == i)

    def procedure(self) -> str:
        test = TEST_NAMES[self.test] + resamples_note(self.test, self.n_permutations, self.seed)
        return (f"every pair of the {len(self.models)} results on each aggregate: {test}; "
                f"{CORRECTION_NAMES[self.correction]} correction over all {len(self.tests)} tests; alpha {self.alpha:g}; "
                f"smallest reachable adjusted p {self.reachable:.2g}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["procedure"] = self.procedure()
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def compare_many(results: list[Result], metric: str | None = None, test: str = "randomization",
                 correction: str = "holm", alpha: float = 0.05, n_permutations: int | None = None,
                 seed: int | None = 0) -> ManyReport:
    if len(results) < 2:
        raise MlbenchError("compare needs at least two result files")
    check_test(test)
    check_correction(correction)
    if not 0 < alpha < 1:
        raise MlbenchError(f"--alpha must be in (0, 1), got {alpha}")
    first = results[0]
    metric = metric or first.main_metric
    common: list[str] | None = None
    notes: list[str] = []
    for other in results[1:]:  # like with like, and the settings every result holds
        pa, pb = first.per_query(), other.per_query()
        shared, pair_notes = common_settings(first, other, pa, pb, metric)
        common = [s for s in (common if common is not None else shared) if s in shared]
        notes += [f"{Path(other.where).name}: {n}" for n in pair_notes]
    assert common is not None
    kinds = first.kind_of()
    present = [k for k in KINDS if any(kinds[s] == k for s in common)]
    keys = [(k, metric) for k in present] + ([("multi", RANK_DISTANCE)] if "multi" in present and all(
        r.aggregates.rank_distance is not None for r in results) else [])
    pairs = list(itertools.combinations(range(len(results)), 2))
    units = sum(s.n_queries for s in first.settings if s.id in common)
    n_perm, reach = reachable({"pairs": [units] * (len(pairs) * len(keys))}, test, correction, alpha, n_permutations)
    tests: list[PairTest] = []
    means: list[dict[str, float]] = [{} for _ in results]
    names = [f"mean({k}) {key}" for k, key in keys]
    for (kind, key), name in zip(keys, names):
        for i, j in pairs:
            row = aggregate_test(results[i], results[j], kind, key, None, test, n_perm, seed, None, settings=common)
            means[i][name], means[j][name] = row.mean_a, row.mean_b
            tests.append(PairTest(name, i, j, row.mean_a, row.mean_b, row.p))
    for t, p in zip(tests, adjust([t.p for t in tests], correction)):
        t.p_adjusted = float(p)
        if p <= alpha and t.mean_a != t.mean_b:
            key = t.aggregate.split(") ", 1)[1]
            b_higher = t.mean_b > t.mean_a
            t.better = t.b if b_higher == metric_of(key).higher_is_better else t.a
    return ManyReport(first.task.name, metric, [r.model.name for r in results], [r.where for r in results],
                      names, means, tests, test, correction, float(alpha), n_perm, seed, reach["pairs"], notes)
