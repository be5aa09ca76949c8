"""The result of one model on one task, typed: :class:`Result` and its parts (schema in docs/results.md).

A result holds what was evaluated (:class:`TaskInfo`, with the data's provenance, and the
``slice``: the part of the task it covers), with what (:class:`ModelInfo`), how
(:class:`RunInfo`: command, kinds, metrics and their parameters, the tie rule, the loader's facts,
the backend, the encoding, timings), where (``environment``), and the numbers: each setting's
means (:class:`SettingScores`) and every aggregate (:class:`Aggregates`). Per-query values and the
kept rankings live in sidecars beside the JSON (:mod:`mlbench.results.sidecars`), read on demand.

:meth:`Result.from_disk` reads every schema mlbench ever wrote (``mlbench.result/1`` through
:mod:`mlbench.results.migrate`) and validates it, one line naming the file and field for any
defect; :meth:`Result.to_disk` writes the current schema, sidecars first, every file atomically.
Provenance that only its producer knows the shape of (an encoder's description, a backend's
search, the environment) stays a plain mapping inside the typed parts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.files import read_document
from mlbench.metrics import RANK_DISTANCE
from mlbench.results import migrate, published, sidecars
from mlbench.results.sidecars import Sidecar
from mlbench.runs.run import FULL
from mlbench.task import KINDS, Setting, parse_setting

SCHEMA = "mlbench.result/2"
SCHEMAS = ("mlbench.result/1", SCHEMA)  # read; /1 through results.migrate


def _take(cls: type, raw: dict[str, Any], where: str, extra: bool = False) -> Any:
    """A dataclass from a mapping: known fields by name; unknown ones kept in ``extra`` (when the
    class has it) so that a file from a newer mlbench loses nothing on a round trip."""
    if not isinstance(raw, dict):
        raise MlbenchError(f"{where} must be an object")
    names = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in raw.items() if k in names and k != "extra"}
    if extra:
        kwargs["extra"] = {k: v for k, v in raw.items() if k not in names}
    return cls(**kwargs)


def _plain(obj: Any) -> dict[str, Any]:
    out = {f.name: copy.deepcopy(getattr(obj, f.name)) for f in fields(obj) if f.name != "extra"}
    out.update(copy.deepcopy(getattr(obj, "extra", {})))
    return out


@dataclass
class TaskInfo:
    name: str
    version: str | None = None
    format: str | None = None
    main_metric: str = "map"
    languages: list[str] = field(default_factory=list)
    query_languages: list[str] = field(default_factory=list)
    source: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # per language: origin, sha256 (and loader details)
    subset: dict[str, Any] | None = None
    relevance_level: int = 1
    mteb: dict[str, str] | None = None  # the MTEB task this task is, when its file says so
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelInfo:
    spec: str
    name: str
    encoder: dict[str, Any] = field(default_factory=dict)  # the encoder's describe()
    metadata: dict[str, Any] = field(default_factory=dict)  # checkpoint metadata (sampling, base_model, step, ...)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunInfo:
    command: str | None = None
    kinds: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)  # parameters of parameterised measures
    candidate_text: str | None = None
    tie_rule: str | None = None
    depth: int | str | None = None  # topk: passages kept; an external or fused run: its depth ("full")
    loader: dict[str, Any] = field(default_factory=dict)  # the loader's facts (MIRACL: comparable_with_official, ...)
    search: dict[str, Any] = field(default_factory=dict)
    encoding: dict[str, Any] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    external: dict[str, Any] | None = None  # mlbench evaluate
    derived_from: dict[str, Any] | None = None  # mlbench fuse
    training: dict[str, Any] | None = None  # evaluated during training: step, epoch
    extra: dict[str, Any] = field(default_factory=dict)

    def metrics_at_depth(self) -> dict[str, str]:
        """What the result renamed to the depth of its run (``{"map": "map@20"}``)."""
        for section in (self.external, self.derived_from):
            recorded = (section or {}).get("metrics_at_depth")
            if isinstance(recorded, dict):
                return {str(k): str(v) for k, v in recorded.items()}
        return {}


@dataclass
class SettingScores:
    id: str
    kind: str
    query_lang: str
    pool: str
    n_queries: int
    n_left_out: int = 0
    metrics: dict[str, float | None] = field(default_factory=dict)

    @property
    def setting(self) -> Setting:
        return parse_setting(self.id)


@dataclass
class Aggregates:
    kinds: dict[str, dict[str, float | None]] = field(default_factory=dict)
    query_langs: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    multi_micro: dict[str, float | None] | None = None
    rank_distance: dict[str, Any] | None = None  # macro, query_langs
    language_bias: dict[str, Any] | None = None  # topC: own_share, matrix; expected_own_share
    rank_correlation: dict[str, Any] | None = None  # mrc[@k]: macro, query_langs, matrix (query lang -> other -> rho)
    extra: dict[str, Any] = field(default_factory=dict)

    def own_share(self, cutoff: int = 10) -> tuple[dict[str, Any], dict[str, Any]]:
        """(own-language share of the top ``cutoff``, the share relevance alone gives): each with
        ``macro`` and ``query_langs``; empty where the result has none."""
        bias = self.language_bias or {}
        return (bias.get(f"top{cutoff}") or {}).get("own_share") or {}, bias.get("expected_own_share") or {}

    def matrix(self, cutoff: int = 10) -> dict[str, dict[str, float]]:
        """Query language -> pool language -> mean share of the top ``cutoff``."""
        return ((self.language_bias or {}).get(f"top{cutoff}") or {}).get("matrix") or {}


HEADLINE = ("mono", "cross", "multi", "rank_distance", "own@10")


@dataclass
class Result:
    task: TaskInfo
    model: ModelInfo
    run: RunInfo
    settings: list[SettingScores]
    aggregates: Aggregates
    slice: dict[str, Any]
    environment: dict[str, Any] = field(default_factory=dict)
    created: str | None = None
    mlbench_version: str | None = None
    per_query_file: Sidecar | None = None
    rankings_file: Sidecar | None = None
    schema: str = SCHEMA  # the schema the file was written in (read as the current one)
    path: Path | None = None
    _values: Any = None  # the per-query values of a result built in this process (results.values)
    _kept_depth: int | str = FULL  # how deep its values' runs were kept, for the rankings sidecar

    # --- what everything downstream asks ---------------------------------------------------------

    @property
    def main_metric(self) -> str:
        """The metric compare, check, leaderboard, report and summaries use unless told otherwise."""
        return self.task.main_metric

    @property
    def metrics(self) -> list[str]:
        return list(self.run.metrics)

    @property
    def kinds(self) -> list[str]:
        """The kinds of settings the result has aggregates for, in the order mono, cross, multi."""
        return [k for k in KINDS if k in self.aggregates.kinds]

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else f"result of {self.model.name} on {self.task.name}"

    def require_metric(self, metric: str, flag: str = "--metric") -> None:
        """Refuse a ``metric`` the result has no values of, naming the file and what it has."""
        if metric not in self.run.metrics:
            raise MlbenchError(f"{self.where}: field 'run.metrics' has no {metric!r} for {flag} (it has: "
                               f"{', '.join(self.run.metrics)})")

    def setting(self, sid: str) -> SettingScores | None:
        return next((s for s in self.settings if s.id == sid), None)

    def kind_of(self) -> dict[str, str]:
        return {s.id: s.kind for s in self.settings}

    def value(self, target: str, metric: str) -> float | None:
        """A number by target name (the names of ``mlbench export``): a setting id, ``mean(kind)``,
        ``mean(kind,lang)`` or ``micro(multi)``; ``rank_distance`` of ``mean(multi)`` is the macro."""
        agg = self.aggregates
        if metric == RANK_DISTANCE and target == "mean(multi)":
            return (agg.rank_distance or {}).get("macro")
        if target.startswith("mean(") and target.endswith(")"):
            inner = target[5:-1].split(",")
            if len(inner) == 1:
                return agg.kinds.get(inner[0], {}).get(metric)
            return agg.query_langs.get(inner[0], {}).get(inner[1], {}).get(metric)
        if target == "micro(multi)":
            return (agg.multi_micro or {}).get(metric)
        s = self.setting(target)
        return s.metrics.get(metric) if s is not None else None

    def headline(self, metric: str) -> dict[str, float | None]:
        """The figures a row of a leaderboard or a sweep shows: ``metric`` per kind (mono, cross,
        multi), the macro rank distance and the macro own-language share of the top 10."""
        out: dict[str, float | None] = {k: self.aggregates.kinds.get(k, {}).get(metric) for k in HEADLINE[:3]}
        out["rank_distance"] = (self.aggregates.rank_distance or {}).get("macro")
        out["own@10"] = self.aggregates.own_share(10)[0].get("macro")
        return out

    @property
    def rankings_depth(self) -> int | None | bool:
        """The depth of the kept rankings: a number, None for the whole pool, False when none were kept."""
        if self.rankings_file is None:
            return False
        return None if self.rankings_file.depth == FULL else self.rankings_file.depth  # type: ignore[return-value]

    def per_query(self) -> dict[str, Any]:
        """setting id -> :class:`~mlbench.results.values.QueryValues` (the sidecar, verified by sha256)."""
        return sidecars.read_per_query(self)

    def rankings(self) -> dict[str, Any]:
        """setting id -> (:class:`~mlbench.runs.Run`, :class:`~mlbench.runs.Qrels`): the kept rankings."""
        return sidecars.read_rankings(self)

    # --- on disk ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        sidecar = (lambda s: {k: v for k, v in vars(s).items() if v is not None} if s is not None else None)
        doc: dict[str, Any] = {
            "schema": SCHEMA, "created": self.created, "mlbench_version": self.mlbench_version,
            "task": _plain(self.task), "slice": copy.deepcopy(self.slice), "model": _plain(self.model),
            "run": {k: v for k, v in _plain(self.run).items() if v is not None}, "environment": self.environment,
            "settings": [vars(s).copy() for s in self.settings],
            "aggregates": {k: v for k, v in _plain(self.aggregates).items() if v is not None},
            "per_query": sidecar(self.per_query_file),
        }
        if self.rankings_file is not None:
            doc["rankings"] = sidecar(self.rankings_file)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any], where: str = "result") -> Result:
        """A result from its JSON (any schema mlbench wrote), validated field by field."""
        if not isinstance(doc, dict):
            raise MlbenchError(f"{where}: a result file is a JSON object")
        published.refuse_as_result(where, doc)
        if doc.get("schema") not in SCHEMAS:
            raise MlbenchError(f"{where}: field 'schema' is {doc.get('schema')!r}; this mlbench reads "
                               f"{', '.join(map(repr, SCHEMAS))}")
        written = doc["schema"]
        doc = migrate.upgrade(doc, where) if written != SCHEMA else doc
        migrate.check_doc(where, doc)
        try:
            out = cls(task=_take(TaskInfo, doc["task"], f"{where}: field 'task'", extra=True),
                      model=_take(ModelInfo, doc["model"], f"{where}: field 'model'", extra=True),
                      run=_take(RunInfo, doc["run"], f"{where}: field 'run'", extra=True),
                      settings=[_take(SettingScores, s, f"{where}: field 'settings[{i}]'")
                                for i, s in enumerate(doc["settings"])],
                      aggregates=_take(Aggregates, doc["aggregates"], f"{where}: field 'aggregates'", extra=True),
                      slice=dict(doc["slice"]), environment=doc["environment"], created=doc.get("created"),
                      mlbench_version=doc.get("mlbench_version"),
                      per_query_file=_take(Sidecar, doc["per_query"], f"{where}: field 'per_query'"),
                      rankings_file=_take(Sidecar, doc["rankings"], f"{where}: field 'rankings'")
                      if isinstance(doc.get("rankings"), dict) else None, schema=written)
        except TypeError as exc:
            raise MlbenchError(f"{where}: a field is missing or has the wrong shape ({exc})") from None
        return out

    @classmethod
    def from_disk(cls, path: Path | str) -> Result:
        """Read and validate a result file and check its per-query sidecar's sha256."""
        path = Path(path)
        out = cls.from_dict(read_document(path, "json", "result file"), str(path))
        out.path = path
        sidecars.sidecar_bytes_of(out, "per_query")
        return out

    def to_disk(self, out_dir: Path) -> Path:
        """Write the sidecars (per-query values; rankings when the values hold runs), then the JSON
        that names their hashes; returns the JSON's path."""
        return sidecars.write(self, Path(out_dir))
