"""Result files: one versioned JSON per (model, task), plus a sidecar of per-query values; writing
them, and reading them back validated.

``{out}/{task}--{model slug}.json`` holds the provenance, the settings and every aggregate;
``….perquery.npz`` (no pickle) holds, for setting i of ``settings``, the arrays ``s{i}/query_ids``,
``s{i}/groups`` and ``s{i}/{metric}``. The JSON records the sidecar's sha256, so a mismatched pair
is refused. Both files are written atomically. The schema is documented in docs/results.md.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.errors import MlbenchError
from mlbench.files import npz_bytes, read_document, slug, write_bytes, write_json
from mlbench.results.document import SCHEMA
from mlbench.results.rankings import FULL, LAYOUT as RANKINGS_LAYOUT, Ranking, rankings_bytes, read_rankings
from mlbench.retrieval.base import SettingResult
from mlbench.task import KINDS, parse_setting

REQUIRED = ("schema", "task", "model", "run", "environment", "settings", "aggregates", "per_query")


def sidecar_bytes(results: list[SettingResult]) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    for i, r in enumerate(results):
        arrays[f"s{i}/query_ids"] = np.asarray(r.query_ids, dtype=str)
        arrays[f"s{i}/groups"] = np.asarray(r.groups, dtype=str)
        for m, v in r.per_query.items():
            arrays[f"s{i}/{m}"] = np.asarray(v, dtype=np.float64)
    return npz_bytes(arrays)


def write_result(out_dir: Path, doc: dict[str, Any], results: list[SettingResult],
                 rankings: tuple[dict[str, dict[str, list[str]]], int | None] | None = None) -> Path:
    """Write the sidecars then the JSON (it names their hashes, so it goes last). ``rankings``:
    the qrels (setting id -> query id -> relevant ids) and the depth kept (None: the whole pool)
    of the rankings the results hold, for the rankings sidecar (:mod:`mlbench.results.rankings`)."""
    out_dir = Path(out_dir)
    base = f"{doc['task']['name']}--{slug(doc['model']['name'])}"
    if rankings is not None:
        qrels, depth = rankings
        ranked = rankings_bytes(results, qrels)
        side = out_dir / f"{base}.rankings.npz"
        write_bytes(side, ranked)
        doc["rankings"] = {"file": side.name, "sha256": hashlib.sha256(ranked).hexdigest(),
                           "depth": FULL if depth is None else depth, "layout": RANKINGS_LAYOUT}
    blob = sidecar_bytes(results)
    side = out_dir / f"{base}.perquery.npz"
    write_bytes(side, blob)
    doc["per_query"] = {"file": side.name, "sha256": hashlib.sha256(blob).hexdigest(),
                        "layout": "s{i}/query_ids, s{i}/groups, s{i}/{metric} for settings[i]"}
    path = out_dir / f"{base}.json"
    write_json(path, doc)
    return path


def kinds_in(doc: dict[str, Any]) -> list[str]:
    """The kinds of settings a result has aggregates for, in the order mono, cross, multi."""
    return [k for k in KINDS if k in (doc.get("aggregates") or {}).get("kinds", {})]


@dataclass
class LoadedResult:
    path: Path
    doc: dict[str, Any]

    @property
    def task(self) -> str:
        return self.doc["task"]["name"]

    @property
    def main_metric(self) -> str:
        """The metric compare, check, leaderboard, report and summaries use unless told otherwise."""
        from mlbench.metrics import default_metric

        return default_metric(self.doc)

    @property
    def metrics(self) -> list[str]:
        return list(self.doc["run"].get("metrics") or [])

    @property
    def kinds(self) -> list[str]:
        return kinds_in(self.doc)

    def per_query(self) -> dict[str, dict[str, np.ndarray]]:
        """setting id -> {"query_ids", "groups", metric...} arrays (sidecar verified by sha256)."""
        side = self.path.parent / self.doc["per_query"]["file"]
        blob = _sidecar(self.path, self.doc)
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise MlbenchError(f"{side}: not a readable per-query file ({exc})") from None
        out: dict[str, dict[str, np.ndarray]] = {}
        for i, s in enumerate(self.doc["settings"]):
            prefix = f"s{i}/"
            out[s["id"]] = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        return out


    @property
    def rankings_depth(self) -> int | None | bool:
        """The depth of the kept rankings: a number, None for the whole pool, False when none were kept."""
        info = self.doc.get("rankings")
        if not isinstance(info, dict):
            return False
        return None if info.get("depth") == FULL else info.get("depth")

    def rankings(self) -> dict[str, Ranking]:
        """setting id -> the kept rankings and qrels (sidecar verified by sha256)."""
        if self.rankings_depth is False:
            raise MlbenchError(f"{self.path}: no rankings were kept with this result (field 'rankings'); "
                               "run it again with --keep-rankings DEPTH|full")
        blob = _sidecar(self.path, self.doc, "rankings")
        qids = {sid: [str(q) for q in arrays["query_ids"]] for sid, arrays in self.per_query().items()}
        return read_rankings(blob, str(self.path.parent / self.doc["rankings"]["file"]),
                             [s["id"] for s in self.doc["settings"]], qids)


def _sidecar(path: Path, doc: dict[str, Any], field: str = "per_query") -> bytes:
    """A sidecar's bytes (``field``: per_query or rankings), checked against the sha256 the result
    file records."""
    info = doc[field]
    if not isinstance(info, dict) or not isinstance(info.get("file"), str) or not isinstance(info.get("sha256"), str) \
            or Path(info["file"]).name != info["file"] or info["file"] in ("", ".", ".."):
        raise MlbenchError(f"{path}: field '{field}' must name a sidecar 'file' beside it and its 'sha256'")
    side = path.parent / info["file"]
    try:
        blob = side.read_bytes()
    except (OSError, ValueError):
        raise MlbenchError(f"{path}: {field.replace('_', '-')} file {side.name!r} is missing (field {field}.file)") from None
    if hashlib.sha256(blob).hexdigest() != info["sha256"]:
        raise MlbenchError(f"{side}: sha256 differs from the one recorded in {path.name} (field {field}.sha256)")
    return blob


def is_value(v: Any) -> bool:
    """A metric value in a result file: a number or null."""
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def is_value_tree(v: Any, depth: int) -> bool:
    """``depth`` levels of string-keyed objects ending in metric values (numbers or null)."""
    if depth == 0:
        return is_value(v)
    return isinstance(v, dict) and all(isinstance(k, str) and is_value_tree(x, depth - 1) for k, x in v.items())


def _check_doc(path: Path, doc: dict[str, Any]) -> None:
    """The fields export, compare and the per-query reader rely on, with their types."""
    for key in ("task", "model"):
        if not isinstance(doc[key], dict) or not isinstance(doc[key].get("name"), str):
            raise MlbenchError(f"{path}: field '{key}.name' is missing or not a string")
    for key in ("run", "environment", "aggregates"):
        if not isinstance(doc[key], dict):
            raise MlbenchError(f"{path}: field '{key}' must be an object")
    if not isinstance(doc["settings"], list):
        raise MlbenchError(f"{path}: field 'settings' must be a list of objects with 'id' and 'metrics'")
    for i, s in enumerate(doc["settings"]):
        if not isinstance(s, dict):
            raise MlbenchError(f"{path}: field 'settings[{i}]' must be an object")
        for key, ok in (("id", isinstance(s.get("id"), str)), ("kind", s.get("kind") in ("mono", "cross", "multi")),
                        ("query_lang", isinstance(s.get("query_lang"), str)), ("pool", isinstance(s.get("pool"), str)),
                        ("n_queries", type(s.get("n_queries")) is int), ("metrics", is_value_tree(s.get("metrics"), 1))):
            if not ok:
                raise MlbenchError(f"{path}: field 'settings[{i}].{key}' is missing or has the wrong type")
        try:
            parse_setting(s["id"])
        except MlbenchError as exc:
            raise MlbenchError(f"{path}: field 'settings[{i}].id': {exc}") from None
    agg = doc["aggregates"]
    for key, depth in (("kinds", 2), ("query_langs", 3), ("multi_micro", 1)):
        if key in agg and not is_value_tree(agg[key], depth):
            raise MlbenchError(f"{path}: field 'aggregates.{key}' has the wrong shape")
    rd = agg.get("rank_distance", {"macro": None})
    if not isinstance(rd, dict) or "macro" not in rd or not is_value(rd["macro"]):
        raise MlbenchError(f"{path}: field 'aggregates.rank_distance.macro' is missing or not a number")
    info = doc["per_query"]
    if not isinstance(info, dict) or not isinstance(info.get("file"), str) or not isinstance(info.get("sha256"), str):
        raise MlbenchError(f"{path}: field 'per_query' must name the sidecar 'file' and its 'sha256'")
    if info["file"] in ("", ".", "..") or Path(info["file"]).name != info["file"] or "\\" in info["file"]:
        raise MlbenchError(f"{path}: field 'per_query.file' must be a file name beside the result file")


def read_result(path: Path) -> LoadedResult:
    """Load and validate a result file and its per-query sidecar; defects are one-line errors
    naming file and field."""
    path = Path(path)
    doc = read_document(path, "json", "result file")
    if not isinstance(doc, dict):
        raise MlbenchError(f"{path}: a result file is a JSON object")
    if doc.get("schema") != SCHEMA:
        raise MlbenchError(f"{path}: field 'schema' is {doc.get('schema')!r}; this mlbench reads {SCHEMA!r}")
    for key in REQUIRED:
        if key not in doc:
            raise MlbenchError(f"{path}: missing field '{key}'")
    _check_doc(path, doc)
    _sidecar(path, doc)
    return LoadedResult(path, doc)


def check_report_fields(result: LoadedResult, metric: str) -> None:
    """The fields the report and the plots read beyond what :func:`read_result` checks; a defect is
    a one-line :class:`MlbenchError` naming the file and the field."""
    path, doc = result.path, result.doc
    langs = doc["task"].get("languages")
    if not isinstance(langs, list) or not all(isinstance(x, str) for x in langs):
        raise MlbenchError(f"{path}: field 'task.languages' is missing or not a list of language codes")
    metrics = doc["run"].get("metrics")
    if not isinstance(metrics, list) or not all(isinstance(x, str) for x in metrics):
        raise MlbenchError(f"{path}: field 'run.metrics' is missing or not a list of metric names")
    if metric not in metrics:
        raise MlbenchError(f"{path}: field 'run.metrics' has no {metric!r} for --metric (it has: {', '.join(metrics)})")
    agg = doc["aggregates"]
    for key in ("kinds", "query_langs"):
        if key not in agg:
            raise MlbenchError(f"{path}: missing field 'aggregates.{key}'")
    rd = agg.get("rank_distance")
    if rd is not None and not is_value_tree(rd.get("query_langs"), 1):
        raise MlbenchError(f"{path}: field 'aggregates.rank_distance.query_langs' is missing or has the wrong shape")
    bias = agg.get("language_bias")
    if bias is None:
        return
    if not isinstance(bias, dict):
        raise MlbenchError(f"{path}: field 'aggregates.language_bias' must be an object")
    for key, value in bias.items():
        if key == "expected_own_share" or not key.startswith("top"):
            continue
        if not isinstance(value, dict):
            raise MlbenchError(f"{path}: field 'aggregates.language_bias.{key}' must be an object")
        if not is_value_tree(value.get("matrix"), 2):
            raise MlbenchError(f"{path}: field 'aggregates.language_bias.{key}.matrix' is missing or has the wrong shape")
        own = value.get("own_share")
        if not isinstance(own, dict) or not is_value(own.get("macro")) or not is_value_tree(own.get("query_langs"), 1):
            raise MlbenchError(f"{path}: field 'aggregates.language_bias.{key}.own_share' is missing or has the wrong shape")
    exp = bias.get("expected_own_share")
    if not isinstance(exp, dict) or not is_value(exp.get("macro")) or not is_value_tree(exp.get("query_langs"), 1):
        raise MlbenchError(f"{path}: field 'aggregates.language_bias.expected_own_share' is missing or has the wrong shape")


SLICE_KEYS = ("task", "version", "languages", "kinds", "max_articles", "max_queries", "split", "pool",
              "candidate_text")
ENCODER_SETTINGS = ("prompts", "normalize", "max_seq_length", "precision", "truncate_dim")


def slice_of(doc: dict[str, Any]) -> dict[str, Any]:
    """What part of a task a result covers: task and version, languages, kinds, the cuts
    (``max_articles``, ``max_queries``, ``split``), the pool (a MIRACL pool subset) and what a
    candidate's text is. Two results are like with like only where these agree."""
    task, run = doc.get("task") or {}, doc.get("run") or {}
    subset = task.get("subset") or {}
    pool = (run.get("pool_subset") or {}).get("description") if isinstance(run.get("pool_subset"), dict) else None
    return {"task": task.get("name"), "version": task.get("version"), "languages": list(task.get("languages") or []),
            "kinds": sorted(run.get("kinds") or []), "max_articles": subset.get("max_articles"),
            "max_queries": subset.get("max_queries"), "split": subset.get("split"), "pool": pool,
            "candidate_text": run.get("candidate_text")}


def encoder_settings(doc: dict[str, Any]) -> dict[str, Any]:
    """The encoder settings besides its weights that change scores (prompts, normalisation, length,
    precision): a checkpoint checked against another is compared under the same ones."""
    enc = (doc.get("model") or {}).get("encoder") or {}
    return {k: enc[k] for k in ENCODER_SETTINGS if k in enc}


def _show(v: Any) -> str:
    if isinstance(v, list):
        return ",".join(map(str, v)) or "none"
    return "none" if v is None else str(v)


def differences(a: dict[str, Any], b: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """``key a vs b`` for every key where two slices (or encoder settings) differ."""
    return [f"{k} {_show(a.get(k))} vs {_show(b.get(k))}" for k in dict.fromkeys([*a, *b])
            if k not in ignore and a.get(k) != b.get(k)]


def require_same_task(a: LoadedResult, b: LoadedResult, purpose: str) -> None:
    """``b`` must be of the same task (name and version) as ``a``; ``purpose`` ends the error
    ("compare needs two results of the same task")."""
    ta, tb = a.doc["task"], b.doc["task"]
    if ta["name"] != tb["name"]:
        raise MlbenchError(f"{b.path}: field 'task.name' is {tb['name']!r} but {a.path} is task {ta['name']!r}; "
                           f"{purpose}")
    if ta.get("version") != tb.get("version"):
        raise MlbenchError(f"{b.path}: field 'task.version' is {tb.get('version')!r} but {a.path} has "
                           f"{ta.get('version')!r}; {purpose}")


def require_like(result: LoadedResult, baseline: LoadedResult, role: str = "baseline", purpose: str = "") -> None:
    """``result`` must be of the slice of ``baseline`` (:func:`slice_of`): a checkpoint is gated
    against a baseline of the same slice (the baseline may be another model with other encoder
    settings: comparing models is what it is for), and fuse's inputs share the first one's slice.
    ``role`` names the baseline in the error and ``purpose``, when given, ends it."""
    diff = differences(slice_of(baseline.doc), slice_of(result.doc))
    if diff:
        raise MlbenchError(f"{result.path}: not the slice of the {role} {baseline.path} "
                           f"({'; '.join(diff)}, {role} vs this result)" + (f"; {purpose}" if purpose else ""))


__all__ = ["SCHEMA", "SLICE_KEYS", "LoadedResult", "check_report_fields", "differences", "encoder_settings", "kinds_in",
           "read_result", "require_like", "require_same_task", "slice_of", "write_result"]
