"""``mlbench check``: a regression gate for checkpoints in a training repository's CI.

Rules come from an expected-scores file (TOML: per task, target and metric an expected value, a
tolerance, an optional soft tolerance and a direction) and/or from a baseline result file (every
aggregate and setting of the baseline, with a tolerance, plus paired significance tests through
``mlbench.compare``). Each rule gets a verdict:

- FAIL: the value is worse than the reference by more than the tolerance;
- WARN: worse by more than the soft tolerance, or a drop within tolerance that is significant
  after multiple-comparison correction (FAIL instead with ``fail_on_significant``);
- OK otherwise (improvements are OK whatever their size).

"Worse" follows the metric's direction (:class:`mlbench.metrics.Metric`): higher is better for mAP,
recall, nDCG and MRR; lower for rank distance. The metric of the rules is the result's main metric
(the task's) unless another is named. A rule whose target is missing from the result cannot be evaluated: that is an input
error (exit 2), never a pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.files import read_document
from mlbench.metrics import RANK_DISTANCE
from mlbench.metrics import metric as metric_of
from mlbench.results.files import differences, encoder_settings, require_like
from mlbench.results.model import Result

EXPECTED_SCHEMA = 2  # 2 pins the slice and encoder settings; files of schema 1 (rules only) are still read
DEFAULT_TOL = {"aggregate": 0.01, "setting": 0.03}
RANK_DISTANCE_TOL = 0.05  # relative: 5% of the reference rank distance


@dataclass
class Rule:
    target: str  # a setting id ("de>en") or an aggregate: mean(kind), mean(kind,lang), micro(multi)
    metric: str  # a metric name, or rank_distance (with target mean(multi))
    reference: float
    tolerance: float
    soft_tolerance: float | None = None
    direction: str = "higher"  # or "lower"
    origin: str = "expected"  # or "baseline"


@dataclass
class Verdict:
    rule: Rule
    actual: float
    delta: float  # actual - reference
    status: str  # OK, WARN, FAIL
    reason: str
    p_adjusted: float | None = None


@dataclass
class CheckReport:
    result: str
    task: str
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if any(v.status == "FAIL" for v in self.verdicts) else 0

    def counts(self) -> dict[str, int]:
        return {s: sum(v.status == s for v in self.verdicts) for s in ("OK", "WARN", "FAIL")}


def judge(rule: Rule, actual: float, significant_drop: bool = False, fail_on_significant: bool = False) -> Verdict:
    delta = actual - rule.reference
    worse = -delta if rule.direction == "higher" else delta
    if worse > rule.tolerance:
        return Verdict(rule, actual, delta, "FAIL", f"worse by {worse:.4g} > tolerance {rule.tolerance:g}")
    if significant_drop and worse > 0:
        status = "FAIL" if fail_on_significant else "WARN"
        return Verdict(rule, actual, delta, status, f"worse by {worse:.4g}, significant after correction")
    if rule.soft_tolerance is not None and worse > rule.soft_tolerance:
        return Verdict(rule, actual, delta, "WARN", f"worse by {worse:.4g} > soft tolerance {rule.soft_tolerance:g}")
    return Verdict(rule, actual, delta, "OK", "within tolerance" if worse > 0 else "not worse")


def direction_of(metric: str) -> str:
    return metric_of(metric).better


# ---------------------------------------------------------------- expected-scores files

@dataclass
class Expected:
    """An expected-scores file of one task: its rules, and (schema 2) the slice and encoder settings
    they were pinned on (None: not pinned)."""

    path: Path
    rules: list[Rule]
    slice: dict[str, Any] | None = None
    encoder: dict[str, Any] | None = None

    def check_like(self, result: Result) -> None:
        """Refuse a result of another slice or other encoder settings than the pinned ones."""
        self.check_slice(result.slice, result.where)
        self._refuse(self.encoder, encoder_settings(result), "encoder settings", result.where)

    def check_slice(self, actual: dict[str, Any], what: str) -> None:
        """Refuse another slice than the pinned one (also a planned one, before any encoding)."""
        self._refuse(self.slice, actual, "slice", what)

    def _refuse(self, pinned: dict[str, Any] | None, actual: dict[str, Any], what: str, who: str) -> None:
        if pinned is None:
            return
        diff = differences(pinned, {k: v for k, v in actual.items() if v is not None})
        if diff:
            raise MlbenchError(f"{who}: not the {what} the expectations in {self.path} were pinned on "
                               f"({'; '.join(diff)}, pinned vs this result)")


def read_expected(path: Path, task: str) -> Expected:
    path = Path(path)
    data = read_document(path, "toml", "expected-scores file")
    if data.get("schema") not in (1, EXPECTED_SCHEMA):
        raise MlbenchError(f"{path}: field 'schema' is {data.get('schema')!r}; this mlbench reads 1 and {EXPECTED_SCHEMA}")
    tasks = data.get("task")
    if not isinstance(tasks, dict) or not tasks:
        raise MlbenchError(f"{path}: no [task.NAME] tables")
    if task not in tasks:
        raise MlbenchError(f"{path}: no expectations for task {task!r} (file has: {', '.join(sorted(tasks))})")
    rules = []
    for i, raw in enumerate(tasks[task].get("rule", [])):
        where = f"{path}: task.{task}.rule[{i}]"
        try:
            rule = Rule(target=str(raw["target"]), metric=str(raw["metric"]), reference=float(raw["value"]),
                        tolerance=float(raw["tolerance"]),
                        soft_tolerance=float(raw["soft_tolerance"]) if "soft_tolerance" in raw else None,
                        direction=str(raw.get("direction", direction_of(str(raw["metric"])))))
        except KeyError as exc:
            raise MlbenchError(f"{where}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise MlbenchError(f"{where}: bad value ({exc})") from None
        if rule.direction not in ("higher", "lower"):
            raise MlbenchError(f"{where}: field 'direction' must be 'higher' or 'lower', got {rule.direction!r}")
        if rule.tolerance < 0 or (rule.soft_tolerance is not None and rule.soft_tolerance < 0):
            raise MlbenchError(f"{where}: tolerances must be >= 0")
        rules.append(rule)
    if not rules:
        raise MlbenchError(f"{path}: task.{task} has no rules")
    pins = {}
    for key in ("slice", "encoder"):
        value = tasks[task].get(key)
        if data.get("schema") == EXPECTED_SCHEMA and not isinstance(value, dict):
            raise MlbenchError(f"{path}: task.{task}.{key} is missing or not a table (schema {EXPECTED_SCHEMA} pins it)")
        pins[key] = value
    return Expected(path, rules, pins["slice"], pins["encoder"])


def _fmt(x: float) -> str:
    return repr(round(float(x), 6))


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _toml(v: Any) -> str:
    """A TOML value (no nulls: callers leave None out)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_toml(x)}" for k, x in v.items() if x is not None) + "}"
    return json.dumps(str(v), ensure_ascii=False)


def _table(name: str, values: dict[str, Any]) -> list[str]:
    return [f"[{name}]"] + [f"{_key(k)} = {_toml(v)}" for k, v in values.items() if v is not None] + [""]


def expected_from_result(result: Result, metric: str | None = None, per_setting: bool = True,
                         tol_aggregate: float = DEFAULT_TOL["aggregate"], tol_setting: float = DEFAULT_TOL["setting"]) -> str:
    """Pin today's numbers: an expected-scores TOML for the result's aggregates (and settings)."""
    metric = metric or result.main_metric
    task = result.task.name
    lines = [f"# Expected scores pinned by `mlbench check --write-expected` from {Path(result.where).name}",
             f"# model: {result.model.name}; created {result.created or ''}. A result of another slice or",
             "# with other encoder settings (prompts, length, precision) is refused, not judged.",
             f"schema = {EXPECTED_SCHEMA}", ""]
    lines += _table(f"task.{json.dumps(task)}.slice", result.slice)
    lines += _table(f"task.{json.dumps(task)}.encoder", encoder_settings(result))
    targets = [(f"mean({k})", metric, tol_aggregate) for k in result.aggregates.kinds]
    rd = result.aggregates.rank_distance
    if rd:
        targets.append(("mean(multi)", RANK_DISTANCE, round(RANK_DISTANCE_TOL * rd["macro"], 3)))
    if per_setting:
        targets += [(s.id, metric, tol_setting) for s in result.settings if s.n_queries]
    for target, m, tol in targets:
        value = result.value(target, m)
        if value is None:
            continue
        lines += [f"[[task.{json.dumps(task)}.rule]]", f"target = {json.dumps(target)}", f"metric = {json.dumps(m)}",
                  f"value = {_fmt(value)}", f"tolerance = {tol!r}", f"soft_tolerance = {round(tol / 2, 6)!r}",
                  f"direction = {json.dumps(direction_of(m))}", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- running the rules

def check_expected(result: Result, rules: list[Rule]) -> list[Verdict]:
    verdicts = []
    for rule in rules:
        actual = result.value(rule.target, rule.metric)
        if actual is None:
            raise MlbenchError(f"{result.where}: no value for target {rule.target!r} metric {rule.metric!r}; "
                               "the rule cannot be evaluated")
        verdicts.append(judge(rule, actual))
    return verdicts


def check_baseline(result: Result, baseline: Result, metric: str | None = None,
                   tol_aggregate: float = DEFAULT_TOL["aggregate"], tol_setting: float = DEFAULT_TOL["setting"],
                   soft_ratio: float = 0.5, fail_on_significant: bool = False, **compare_options: Any) -> tuple[list[Verdict], str]:
    """Rules for every aggregate and setting of the baseline, judged with compare's paired tests
    (B = the checked result, A = the baseline). Own-language shares are diagnostics, not rules."""
    from mlbench.analysis.compare import compare

    report = compare(baseline, result, metric=metric or baseline.main_metric, confidence=None, **compare_options)
    verdicts = []
    for row in report.aggregates + report.settings:
        if row.better not in ("higher", "lower"):
            continue
        is_agg = row in report.aggregates
        tol = RANK_DISTANCE_TOL * row.mean_a if row.metric == RANK_DISTANCE else (tol_aggregate if is_agg else tol_setting)
        rule = Rule(row.id, row.metric, row.mean_a, tol, tol * soft_ratio, row.better, "baseline")
        v = judge(rule, row.mean_b, significant_drop=row.outcome == "loss", fail_on_significant=fail_on_significant)
        v.p_adjusted = row.p_adjusted
        verdicts.append(v)
    return verdicts, report.procedure()


def run_check(result: Result, expected: Path | None = None, baseline: Result | None = None,
              metric: str | None = None, fail_on_significant: bool = False, **options: Any) -> CheckReport:
    if expected is None and baseline is None:
        raise MlbenchError("nothing to check against: give --expected FILE and/or --baseline RESULT")
    report = CheckReport(result.where, result.task.name)
    tolerances = {k: options.pop(k) for k in ("tol_aggregate", "tol_setting") if k in options}
    pinned = read_expected(expected, result.task.name) if expected is not None else None
    if pinned is not None:
        pinned.check_like(result)
    if baseline is not None:
        require_like(result, baseline)
    if pinned is not None:
        report.verdicts += check_expected(result, pinned.rules)
        report.notes.append(f"expected scores: {expected}" + ("" if pinned.slice else
                            " (schema 1: no slice pinned; pin one with --write-expected)"))
    if baseline is not None:
        verdicts, procedure = check_baseline(result, baseline, metric, fail_on_significant=fail_on_significant,
                                             **tolerances, **options)
        report.verdicts += verdicts
        report.notes.append(f"baseline: {baseline.where} ({procedure})")
    return report
