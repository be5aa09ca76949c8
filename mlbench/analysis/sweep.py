"""Checkpoint sweeps: a training run's series of checkpoints (or several runs', one per
strategy) evaluated with one configuration, so the figures can be read against the step.

Each checkpoint is one ``mlbench run`` (one model load, each text encoded once and cached under the
checkpoint's weights hash) writing its result files under ``OUT/results/{run}/{step-K}/``. After
every checkpoint evaluated the summary ``OUT/sweep.json`` is rewritten (atomically), so a stopped
sweep resumes: a checkpoint whose weights hash and result files are already in the summary is not run
again. A summary belongs to one configuration (tasks, slice, metrics): another one is refused
instead of mixing results.

A checkpoint's *run* is its folder's parent (``ckpts/x-x/step-50`` belongs to run ``x-x``), its
step the ``step`` of its ``mlbench.json`` (else the number in its name), its strategy the
``sampling`` there. ``best`` (``multi:map``, ``cross:ndcg@10``, ``rank-distance``) picks the best
checkpoint of each task; it is then compared with the first checkpoint of its run by
:func:`mlbench.analysis.compare.compare` (paired tests, corrected).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlbench.encoders.checkpoint import checkpoint_metadata, weights_sha256
from mlbench.errors import MlbenchError
from mlbench.files import file_digests, read_document, slug, write_json
from mlbench.metrics import metric as metric_of
from mlbench.results.files import differences, encoder_settings
from mlbench.results.model import HEADLINE, Result
from mlbench.task import TaskSpec

SCHEMA = "mlbench.sweep/1"
SUMMARY = "sweep.json"
_STEP = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Best:
    """What "best" means: a headline figure (``multi``, ``cross``, ``mono`` of ``metric``, or
    ``rank_distance``) and its direction."""

    key: str
    metric: str
    higher: bool

    @property
    def label(self) -> str:
        return "rank distance" if self.key == "rank_distance" else f"{self.key} {self.metric}"


def parse_best(text: str, default_metric: str = "map") -> Best:
    """``KIND:METRIC`` (``multi:map``), ``KIND`` (the main metric) or ``rank-distance``."""
    raw = text.strip().lower()
    if raw in ("rank-distance", "rank_distance"):
        return Best("rank_distance", default_metric, higher=False)
    kind, _, name = raw.partition(":")
    if kind not in HEADLINE[:3]:
        raise MlbenchError(f"--best {text!r}: expected KIND:METRIC with KIND mono, cross or multi "
                           "(e.g. multi:map), or rank-distance")
    m = metric_of(name or default_metric)
    return Best(kind, m.name, higher=m.higher_is_better)


@dataclass
class Checkpoint:
    path: Path
    run: str
    step: int
    sha256: str
    metadata: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.run}/step-{self.step}"


def checkpoints(paths: list[Path]) -> list[Checkpoint]:
    """The checkpoints of a sweep, checked before any work, in (run, step) order."""
    if not paths:
        raise MlbenchError("no checkpoint given (did the glob match nothing?)")
    found: list[Checkpoint] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise MlbenchError(f"{path}: no such checkpoint folder (did the glob match nothing?)")
        if not path.is_dir():
            raise MlbenchError(f"{path}: a checkpoint is a folder (sentence-transformers layout)")
        sha = weights_sha256(path)
        if sha is None:
            raise MlbenchError(f"{path}: no weight file (*.safetensors, *.bin, ...) in this checkpoint folder")
        meta = checkpoint_metadata(path)
        step = meta.get("step")
        if step is None:
            m = _STEP.search(path.name)
            if m is None:
                raise MlbenchError(f"{path}: no step in {path.name!r} nor in its mlbench.json")
            step = int(m.group(1))
        found.append(Checkpoint(path, path.resolve().parent.name, int(step), sha, meta))
    labels: dict[str, Path] = {}
    for c in found:
        if c.label in labels:
            raise MlbenchError(f"{c.path} and {labels[c.label]} are both {c.label}; a sweep takes each once")
        labels[c.label] = c.path
    return sorted(found, key=lambda c: (c.run, c.step))


@dataclass
class Point:
    """One evaluated checkpoint: result file and headline figures per task."""

    label: str
    run: str
    step: int
    path: str
    sha256: str
    sampling: str | None
    results: dict[str, str] = field(default_factory=dict)  # task -> result file
    values: dict[str, dict[str, float | None]] = field(default_factory=dict)  # task -> headline
    from_training: bool = False  # the trainer's evaluation at this step, reused (not encoded again)


@dataclass
class SweepResult:
    out: Path
    config: dict[str, Any]
    points: list[Point]
    metric: dict[str, str]  # task -> the metric of the mono/cross/multi figures
    best: dict[str, Any] = field(default_factory=dict)  # task -> choice and first-vs-best comparison
    comparisons: dict[str, Any] = field(default_factory=dict)  # task -> ComparisonReport (not saved)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "config": self.config, "metric": self.metric,
                "points": [vars(p) for p in self.points], "best": self.best}


def _config_of(plan) -> dict[str, Any]:
    return {"tasks": {p.spec.name: {"slice": p.slice, "metrics": [m.name for m in p.metrics]} for p in plan.tasks}}


def _config_differences(theirs: Any, ours: dict[str, Any]) -> list[str]:
    """``what theirs vs ours`` for each way two sweep configurations differ: the tasks, then per
    task in both its slice and metrics."""
    t_theirs, t_ours = theirs.get("tasks") if isinstance(theirs, dict) else None, ours["tasks"]
    t_theirs = t_theirs if isinstance(t_theirs, dict) else {}
    found = differences({"tasks": sorted(t_theirs)}, {"tasks": sorted(t_ours)})
    for name, b in t_ours.items():
        a = t_theirs.get(name)
        if isinstance(a, dict):
            slice_a = a.get("slice") if isinstance(a.get("slice"), dict) else {}
            found += [f"{name} {d}" for d in differences({**slice_a, "metrics": a.get("metrics")},
                                                         {**b["slice"], "metrics": b["metrics"]})]
    return found or ["field 'config' differs"]


def _previous(out: Path, config: dict[str, Any]) -> dict[str, Point]:
    file = out / SUMMARY
    if not file.is_file():
        return {}
    doc = read_sweep(file)
    if doc.get("config") != config:
        diff = "; ".join(_config_differences(doc.get("config"), config))
        raise MlbenchError(f"{file} is a sweep of another configuration ({diff}); give another --out rather "
                           "than mixing results")
    points = {}
    for raw in doc.get("points", []):
        point = Point(**raw)
        if all((out / f).is_file() for f in point.results.values()):
            points[point.sha256 + point.label] = point
    return points


def _leak_check(cks: list[Checkpoint], specs: list[TaskSpec], data_dir: Path | None,
                tasks_dirs: list[Path] | None = None) -> None:
    """A checkpoint trained by ``mlbench train`` names its training data and the tasks it was
    checked against. Evaluating it on its own training task is refused; on a task it was not
    checked against, the trainer's check is made now (it needs the training data). ``specs`` are
    the sweep's tasks as its plan resolved them (``--tasks-dir`` included)."""
    from mlbench.sampling import ParallelPairs
    from mlbench.training import check_leakage

    seen = set()
    for c in cks:
        training = c.metadata.get("training") or {}
        data = training.get("data") or {}
        name = data.get("task")
        if not name:
            continue
        if name in [s.name for s in specs]:
            raise MlbenchError(f"{c.path}: trained on {name}; evaluating it on {name} measures memory, not "
                               "retrieval (train on another task, or evaluate a held-out variant)")
        unchecked = [s for s in specs if s.name not in (training.get("eval_tasks") or [])]
        key = (name, str(data.get("subset")), tuple(s.name for s in unchecked))
        if not unchecked or key in seen:
            continue
        seen.add(key)
        try:
            pairs = ParallelPairs.from_task(name, data.get("languages"), data_dir, tasks_dirs)
        except MlbenchError as exc:
            raise MlbenchError(f"{c.path}: cannot read its training data {name} to check it against "
                               f"{', '.join(key[2])} ({exc})") from None
        try:
            check_leakage(pairs, unchecked, data_dir)
        except MlbenchError as exc:
            raise MlbenchError(f"{c.path}: {exc}") from None


def sweep(paths: list[Path], cfg, out: Path, best: str | None = None,
          progress: Callable | None = None, on_point: Callable[[Point, bool], None] | None = None,
          **test_options: Any) -> SweepResult:
    """Evaluate every checkpoint with ``cfg`` (a :class:`mlbench.pipeline.RunConfig` whose
    ``model`` is ignored); ``on_point(point, reused)`` is called as each checkpoint is done.
    ``test_options`` (test, correction, alpha, n_permutations, seed) go to the comparison of the
    best checkpoint with the first (:func:`mlbench.analysis.compare.compare`)."""
    from mlbench.analysis.significance import check_correction, check_test

    check_test(test_options.get("test", "randomization"))
    check_correction(test_options.get("correction", "holm"))
    from mlbench.pipeline import plan, run

    cks = checkpoints(paths)
    the_plan = plan(replace(cfg, model=str(cks[0].path)))
    config = _config_of(the_plan)
    metric = {p.spec.name: p.main_metric for p in the_plan.tasks}
    chosen = {t: parse_best(best, m) for t, m in metric.items()} if best else {}
    _leak_check(cks, [p.spec for p in the_plan.tasks], cfg.data_dir, cfg.tasks_dirs)
    done = _previous(out, config)
    result = SweepResult(out, config, [], metric)
    keys = [c.sha256 + c.label for c in cks]
    for i, c in enumerate(cks):
        point = done.get(keys[i])
        reused = point is not None
        if not reused:
            folder = out / "results" / slug(c.run) / f"step-{c.step}"
            trained = _from_training(c, the_plan, cfg)
            for r in trained or []:
                r.to_disk(folder)  # copied beside the others, sidecars and all
            results = trained or [o.result for o in run(replace(cfg, model=str(c.path), out_dir=folder), progress)]
            point = Point(c.label, c.run, c.step, str(c.path), c.sha256, c.metadata.get("sampling"),
                          {r.task.name: str(Path(r.where).relative_to(out)) for r in results},
                          {r.task.name: r.headline(metric[r.task.name]) for r in results}, bool(trained))
        result.points.append(point)
        if not reused:  # with the points still to be reused, so that a stopped sweep loses none
            doc = result.to_dict()
            doc["points"] += [vars(done[k]) for k in keys[i + 1:] if k in done]
            write_json(out / SUMMARY, doc)
        if on_point is not None:
            on_point(point, reused)
    for task, b in chosen.items():
        result.best[task], report = _best(result, task, b, test_options)
        if report is not None:
            result.comparisons[task] = report
    write_json(out / SUMMARY, result.to_dict())
    return result


def _from_training(c: Checkpoint, the_plan: Any, cfg: Any) -> list[Result] | None:
    """The result the trainer's evaluator wrote for this checkpoint (its ``mlbench.json`` names the
    file and its sha256), when it is exactly what the sweep would compute: the same task, slice and
    metrics, the checkpoint's trained prompts with no prompt given to the sweep, and the weights of
    this step (the trainer evaluates and saves with no update between). Else None: run it."""
    ev = c.metadata.get("evaluation")
    if not isinstance(ev, dict) or len(the_plan.tasks) != 1 or cfg.encoder.st_given():
        return None
    (p,) = the_plan.tasks
    path = c.path / str(ev.get("result", ""))
    if ev.get("task") != p.spec.name or ev.get("step") != c.step or not path.is_file() \
            or file_digests(path, "sha256")[0] != ev.get("result_sha256"):
        return None
    result = Result.from_disk(path)
    prompts = encoder_settings(result).get("prompts")
    if differences(result.slice, p.slice) or result.metrics != [m.name for m in p.metrics] \
            or prompts != (c.metadata.get("prompts") or prompts):
        return None
    return [result]


def _best(result: SweepResult, task: str, b: Best, test_options: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    from mlbench.analysis.compare import compare

    scored = [p for p in result.points if p.values.get(task, {}).get(b.key) is not None]
    if not scored:
        raise MlbenchError(f"--best {b.label}: no checkpoint of the sweep has that figure for {task}")
    sign = -1.0 if b.higher else 1.0
    top = min(scored, key=lambda p: (sign * p.values[task][b.key], p.step, p.run))
    first = min((p for p in result.points if p.run == top.run), key=lambda p: p.step)
    choice: dict[str, Any] = {"by": b.label, "key": b.key, "metric": b.metric, "higher_is_better": b.higher,
                              "label": top.label, "value": top.values[task][b.key], "first": first.label}
    if first.label == top.label:
        return choice, None
    report = compare(Result.from_disk(result.out / first.results[task]),
                     Result.from_disk(result.out / top.results[task]), metric=b.metric, **test_options)
    choice["comparison"] = report.to_dict()
    return choice, report


def read_sweep(path: Path) -> dict[str, Any]:
    """A sweep summary (``OUT/sweep.json``, or its folder)."""
    path = Path(path)
    file = path / SUMMARY if path.is_dir() else path
    doc = read_document(file, "json", "sweep summary")
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise MlbenchError(f"{file}: field 'schema' is not {SCHEMA!r}")
    return doc
