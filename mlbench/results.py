"""Result files: one versioned JSON per (model, task), plus a sidecar of per-query values.

``{out}/{task}--{model slug}.json`` holds the provenance, the settings and every aggregate;
``….perquery.npz`` (no pickle) holds, for setting i of ``settings``, the arrays ``s{i}/query_ids``,
``s{i}/groups`` and ``s{i}/{metric}``. The JSON records the sidecar's sha256, so a mismatched pair
is refused. Both files are written atomically. The schema is documented in docs/results.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.atomic import atomic_open, write_bytes, write_json
from mlbench.documents import read_document
from mlbench.errors import MlbenchError
from mlbench.evaluate import SettingResult
from mlbench.settings import parse_setting

SCHEMA = "mlbench.result/1"
REQUIRED = ("schema", "task", "model", "run", "environment", "settings", "aggregates", "per_query")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "model"


def setting_entries(results: list[SettingResult]) -> list[dict[str, Any]]:
    """The ``settings`` list of a result file: one object per setting with its metric means."""
    return [{"id": r.setting.id, "kind": r.setting.kind, "query_lang": r.setting.query_lang,
             "pool": r.setting.pool, "n_queries": len(r.query_ids), "n_left_out": r.n_left_out,
             "metrics": {m: (float(v.mean()) if len(v) else None) for m, v in r.per_query.items()}}
            for r in results]


def sidecar_bytes(results: list[SettingResult]) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    for i, r in enumerate(results):
        arrays[f"s{i}/query_ids"] = np.asarray(r.query_ids, dtype=str)
        arrays[f"s{i}/groups"] = np.asarray(r.groups, dtype=str)
        for m, v in r.per_query.items():
            arrays[f"s{i}/{m}"] = np.asarray(v, dtype=np.float64)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def write_result(out_dir: Path, doc: dict[str, Any], results: list[SettingResult]) -> Path:
    """Write sidecar then JSON (the JSON names the sidecar's hash, so it goes last)."""
    out_dir = Path(out_dir)
    base = f"{doc['task']['name']}--{slug(doc['model']['name'])}"
    blob = sidecar_bytes(results)
    side = out_dir / f"{base}.perquery.npz"
    write_bytes(side, blob)
    doc["per_query"] = {"file": side.name, "sha256": hashlib.sha256(blob).hexdigest(),
                        "layout": "s{i}/query_ids, s{i}/groups, s{i}/{metric} for settings[i]"}
    path = out_dir / f"{base}.json"
    write_json(path, doc)
    return path


@dataclass
class LoadedResult:
    path: Path
    doc: dict[str, Any]

    @property
    def task(self) -> str:
        return self.doc["task"]["name"]

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


def _sidecar(path: Path, doc: dict[str, Any]) -> bytes:
    """The per-query file's bytes, checked against the sha256 the result file records."""
    info = doc["per_query"]
    side = path.parent / info["file"]
    try:
        blob = side.read_bytes()
    except (OSError, ValueError):
        raise MlbenchError(f"{path}: per-query file {side.name!r} is missing (field per_query.file)") from None
    if hashlib.sha256(blob).hexdigest() != info["sha256"]:
        raise MlbenchError(f"{side}: sha256 differs from the one recorded in {path.name} (field per_query.sha256)")
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


LONG_COLUMNS = ("task", "setting", "kind", "query_lang", "pool_lang", "metric", "value", "n_queries")


def long_rows(doc: dict[str, Any]) -> list[tuple]:
    """One row per (setting or aggregate, metric). Aggregates use setting names like
    ``mean(cross)`` and ``mean(cross,de)``."""
    task = doc["task"]["name"]
    rows: list[tuple] = []
    for s in doc["settings"]:
        for m, v in s["metrics"].items():
            rows.append((task, s["id"], s["kind"], s["query_lang"], s["pool"], m, v, s["n_queries"]))
    agg = doc["aggregates"]
    n_by_kind: dict[str, int] = {}
    for s in doc["settings"]:
        n_by_kind[s["kind"]] = n_by_kind.get(s["kind"], 0) + s["n_queries"]
    for kind, values in agg.get("kinds", {}).items():
        for m, v in values.items():
            rows.append((task, f"mean({kind})", kind, "*", "*", m, v, n_by_kind.get(kind, 0)))
    for kind, langs in agg.get("query_langs", {}).items():
        for lang, values in langs.items():
            n = sum(s["n_queries"] for s in doc["settings"] if s["kind"] == kind and s["query_lang"] == lang)
            for m, v in values.items():
                rows.append((task, f"mean({kind},{lang})", kind, lang, "*", m, v, n))
    if "multi_micro" in agg:
        for m, v in agg["multi_micro"].items():
            rows.append((task, "micro(multi)", "multi", "*", "*", m, v, n_by_kind.get("multi", 0)))
    if "rank_distance" in agg:
        rd = agg["rank_distance"]
        rows.append((task, "mean(multi)", "multi", "*", "*", "rank_distance", rd["macro"], n_by_kind.get("multi", 0)))
    return rows


def export_table(result: LoadedResult, fmt: str, out: Path | None) -> str | None:
    if fmt not in ("tsv", "csv"):
        raise MlbenchError(f"--format {fmt!r} is not one of tsv, csv")
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    writer.writerow(LONG_COLUMNS)
    writer.writerows(long_rows(result.doc))
    if out is None:
        return buf.getvalue()
    with atomic_open(Path(out), "w") as fh:
        fh.write(buf.getvalue())
    return None


def write_trec(trec_dir: Path, task: str, tag: str, results: list[SettingResult], qrels: dict[str, dict[str, set[str]]]) -> None:
    """TREC run and qrels files per setting (``{task}.{q}-{pool}.run``; pool ``all`` for ``*``)."""
    for r in results:
        if r.top_ids is None:
            continue
        name = f"{task}.{r.setting.query_lang}-{'all' if r.setting.pool == '*' else r.setting.pool}"
        with atomic_open(Path(trec_dir) / f"{name}.run", "w") as fh:
            for qid, ids, scores in zip(r.query_ids, r.top_ids, r.top_scores):
                for rank, (doc, score) in enumerate(zip(ids, scores), 1):
                    fh.write(f"{qid} Q0 {doc} {rank} {float(score):.8g} {tag}\n")
        with atomic_open(Path(trec_dir) / f"{name}.qrels", "w") as fh:
            for qid in r.query_ids:
                for doc in sorted(qrels[r.setting.id][qid]):
                    fh.write(f"{qid} 0 {doc} 1\n")


__all__ = ["SCHEMA", "LoadedResult", "export_table", "long_rows", "read_result", "write_result",
           "write_trec"]
