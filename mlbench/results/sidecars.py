"""A result's sidecars: its per-query values and, when asked for, its kept rankings, beside the JSON.

``{out}/{task}--{model slug}.json`` holds the provenance, the settings and every aggregate;
``….perquery.npz`` (no pickle) holds, for setting i of ``settings``, the arrays ``s{i}/query_ids``,
``s{i}/groups`` and ``s{i}/{metric}``. ``….rankings.npz`` (``--keep-rankings``, and every result of
``mlbench evaluate`` and ``mlbench fuse``) holds each setting's :class:`~mlbench.runs.Run` and
:class:`~mlbench.runs.Qrels`: ``doc_ids`` (every candidate id it names, sorted), ``s{i}/docs``
(int32 into ``doc_ids``, queries x depth, -1 past the end of a shorter ranking), ``s{i}/scores``
(float32, NaN padding; float64 where an external run's scores need it), and the judgements
``s{i}/rel_rows`` (query row), ``s{i}/rel_docs`` (into ``doc_ids``) and ``s{i}/rel_grades``
(files of earlier versions have no grades: every listed candidate is then judged 1). The JSON
records each sidecar's sha256, so a mismatched pair is refused; every file is written atomically.

Kept rankings are a separate file so that results meant to be committed (leaderboards) stay small.
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
from mlbench.files import npz_bytes, slug, write_bytes, write_json
from mlbench.results.values import QueryValues, SettingValues
from mlbench.runs import Qrels, Run
from mlbench.runs.run import FULL

PER_QUERY_LAYOUT = "s{i}/query_ids, s{i}/groups, s{i}/{metric} for settings[i]"
RANKINGS_LAYOUT = ("doc_ids; s{i}/docs (int32 into doc_ids, -1 padding), s{i}/scores (float32, NaN padding), "
                   "s{i}/rel_rows, s{i}/rel_docs, s{i}/rel_grades for settings[i], queries in per-query order")


@dataclass
class Sidecar:
    """A sidecar as the JSON names it: ``file`` (beside the JSON), its ``sha256``, its ``layout``
    and, for kept rankings, their ``depth`` (a number, or ``"full"`` for whole pools)."""

    file: str
    sha256: str
    layout: str = ""
    depth: int | str | None = None


def per_query_bytes(values: list[SettingValues]) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    for i, v in enumerate(values):
        arrays[f"s{i}/query_ids"] = np.asarray(v.query_ids, dtype=str)
        arrays[f"s{i}/groups"] = np.asarray(v.groups, dtype=str)
        for m, x in v.per_query.items():
            arrays[f"s{i}/{m}"] = np.asarray(x, dtype=np.float64)
    return npz_bytes(arrays)


def rankings_bytes(values: list[SettingValues]) -> bytes:
    names: set[str] = set()
    for v in values:
        if v.run is None or v.qrels is None:
            raise MlbenchError(f"setting {v.setting.id}: no ranking was kept")
        names.update(str(x) for x in np.unique(v.run.ids))
        for q in v.query_ids:
            names.update(v.qrels.of(q))
    names.discard("")
    doc_ids = np.asarray(sorted(names), dtype=str)
    arrays: dict[str, np.ndarray] = {"doc_ids": doc_ids}
    for i, v in enumerate(values):
        assert v.run is not None and v.qrels is not None
        ids = v.run.ids
        blank = ids == ""
        arrays[f"s{i}/docs"] = np.where(blank, -1, np.searchsorted(doc_ids, ids).astype(np.int64)).astype(np.int32)
        scores = np.where(blank, np.nan, np.asarray(v.run.scores, dtype=np.float64))
        narrow = scores.astype(np.float32)
        # float32 (mlbench's own scores) unless that would merge two scores of an external run
        arrays[f"s{i}/scores"] = narrow if np.array_equal(narrow, scores, equal_nan=True) else scores
        judged = [(row, d, g) for row, q in enumerate(v.query_ids) for d, g in sorted(v.qrels.of(q).items())]
        arrays[f"s{i}/rel_rows"] = np.asarray([r for r, _, _ in judged], dtype=np.int32)
        arrays[f"s{i}/rel_docs"] = np.searchsorted(doc_ids, np.asarray([d for _, d, _ in judged], dtype=str)).astype(np.int32)
        arrays[f"s{i}/rel_grades"] = np.asarray([g for _, _, g in judged], dtype=np.int32)
    return npz_bytes(arrays)


def write(result: Any, out_dir: Path) -> Path:
    """Write ``result``'s sidecars, then its JSON (it names their hashes, so it goes last). A result
    built in this process writes its values; one read from a file (migrated, or marked) copies the
    sidecars it was read with, checked by their sha256 on the way."""
    base = f"{result.task.name}--{slug(result.model.name)}"
    values: list[SettingValues] | None = result._values
    if values is not None:
        ranked = rankings_bytes(values) if any(v.run is not None for v in values) else None
        blob = per_query_bytes(values)
        depth = result._kept_depth
    elif result.path is not None:
        ranked = sidecar_bytes_of(result, "rankings") if result.rankings_file is not None else None
        blob = sidecar_bytes_of(result, "per_query")
        depth = result.rankings_file.depth if result.rankings_file is not None else None
    else:
        raise MlbenchError(f"{result.where}: no per-query values to write")
    if ranked is not None:
        side = out_dir / f"{base}.rankings.npz"
        write_bytes(side, ranked)
        result.rankings_file = Sidecar(side.name, hashlib.sha256(ranked).hexdigest(), RANKINGS_LAYOUT, depth)
    side = out_dir / f"{base}.perquery.npz"
    write_bytes(side, blob)
    result.per_query_file = Sidecar(side.name, hashlib.sha256(blob).hexdigest(), PER_QUERY_LAYOUT)
    path = out_dir / f"{base}.json"
    write_json(path, result.to_dict())
    result.path = path
    return path


def sidecar_bytes_of(result: Any, field: str = "per_query") -> bytes:
    """A sidecar's bytes (``field``: per_query or rankings), checked against the sha256 the result
    file records."""
    info = result.per_query_file if field == "per_query" else result.rankings_file
    where = result.where
    if info is None or not isinstance(info.file, str) or not isinstance(info.sha256, str) \
            or Path(info.file).name != info.file or info.file in ("", ".", "..") or "\\" in info.file:
        raise MlbenchError(f"{where}: field '{field}' must name a sidecar 'file' beside it and its 'sha256'")
    if result.path is None:
        raise MlbenchError(f"{where}: not read from a file, so it has no {field.replace('_', '-')} sidecar")
    side = result.path.parent / info.file
    try:
        blob = side.read_bytes()
    except (OSError, ValueError):
        raise MlbenchError(f"{where}: {field.replace('_', '-')} file {side.name!r} is missing (field {field}.file)") from None
    if hashlib.sha256(blob).hexdigest() != info.sha256:
        raise MlbenchError(f"{side}: sha256 differs from the one recorded in {result.path.name} (field {field}.sha256)")
    return blob


def _arrays(blob: bytes, where: str, what: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MlbenchError(f"{where}: not a readable {what} file ({exc})") from None


def read_per_query(result: Any) -> dict[str, QueryValues]:
    """setting id -> :class:`QueryValues` (from memory for a result built in this process)."""
    if result._values is not None and result.path is None:
        return {v.setting.id: QueryValues.of(v) for v in result._values}
    blob = sidecar_bytes_of(result, "per_query")
    arrays = _arrays(blob, str(result.path.parent / result.per_query_file.file), "per-query")
    out: dict[str, QueryValues] = {}
    for i, s in enumerate(result.settings):
        prefix = f"s{i}/"
        mine = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        out[s.id] = QueryValues(mine.pop("query_ids", np.zeros(0, dtype=str)), mine.pop("groups", np.zeros(0, dtype=str)),
                                mine)
    return out


def read_rankings(result: Any) -> dict[str, tuple[Run, Qrels]]:
    """setting id -> (Run, Qrels) of the kept rankings (sidecar verified by sha256)."""
    if result.rankings_file is None:
        raise MlbenchError(f"{result.where}: no rankings were kept with this result (field 'rankings'); "
                           "run it again with --keep-rankings DEPTH|full")
    blob = sidecar_bytes_of(result, "rankings")
    where = str(result.path.parent / result.rankings_file.file)
    arrays = _arrays(blob, where, "rankings")
    if "doc_ids" not in arrays:
        raise MlbenchError(f"{where}: no 'doc_ids' array")
    names = np.append(arrays["doc_ids"].astype(str), "")  # index -1: the padding
    qids = {sid: [str(q) for q in v.query_ids] for sid, v in read_per_query(result).items()}
    full = result.rankings_file.depth == FULL
    level = result.task.relevance_level
    out: dict[str, tuple[Run, Qrels]] = {}
    for i, s in enumerate(result.settings):
        try:
            docs, scores = arrays[f"s{i}/docs"], arrays[f"s{i}/scores"]
            rel_rows, rel_docs = arrays[f"s{i}/rel_rows"], arrays[f"s{i}/rel_docs"]
        except KeyError as exc:
            raise MlbenchError(f"{where}: no array {exc.args[0]!r} for setting {s.id}") from None
        grades = arrays.get(f"s{i}/rel_grades", np.ones(len(rel_rows), dtype=np.int32))
        q = qids[s.id]
        if docs.shape[0] != len(q) or scores.shape != docs.shape or len(grades) != len(rel_rows):
            raise MlbenchError(f"{where}: setting {s.id} has {docs.shape[0]} ranked queries, the result {len(q)}")
        judged: dict[str, dict[str, int]] = {qid: {} for qid in q}
        for row, d, g in zip(rel_rows.tolist(), rel_docs.tolist(), grades.tolist()):
            judged[q[row]][str(names[d])] = int(g)
        out[s.id] = (Run(q, names[docs], scores, full), Qrels(judged, level))
    return out
