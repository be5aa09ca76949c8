"""A leaderboard: a folder of committed result files, ranked by one aggregate, each rank tested
against the next one down.

The folder holds ordinary result files (``mlbench run -o leaderboard``) and a manifest,
``leaderboard.toml``, that says which of them are entries and what to note about each. Nothing in
the tables is typed in: every figure is read from a result file, and every result file records the
command that made it (``run.command``), which :func:`reproduce` runs again.

A manifest may also name files of published figures (``[[published]] file = ...``,
:mod:`mlbench.results.published`): a paper's printed tables, with their citation. They are shown
beside the ranked entries of their task, marked as published, and never ranked or tested: they have
no per-query values (:attr:`Standing.published`).

Ranking: by the sort aggregate (``multi`` for LAReQA tasks, where all languages compete in one
pool; ``mono`` where a task has no other kind), higher first, or lower first for the rank
distance; ties by model name. "Above the next" is the paired test of :mod:`mlbench.compare` on
that aggregate (units: the question within a query language), corrected with Holm over the
adjacent pairs of the table. Tiers (:mod:`mlbench.analysis.tiers`) group the entries that cannot
be told apart: the same test and correction, over every pair of the table as one family.
"""

from __future__ import annotations

import math
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.analysis.compare import aggregate_test
from mlbench.analysis.tiers import Tiering, tiers
from mlbench.analysis.units import common_settings, kind_entries, paired_units
from mlbench.analysis.significance import TEST_NAMES, adjust, check_correction, resamples_note
from mlbench.analysis.floors import reachable
from mlbench.errors import MlbenchError
from mlbench.files import read_document
from mlbench.metrics import RANK_DISTANCE
from mlbench.results.files import differences
from mlbench.results.model import Result
from mlbench.results.published import Published, PublishedEntry, read_published

BUILTIN = "builtin"  # the board shipped with mlbench
MANIFEST = "leaderboard.toml"
SCHEMA = "mlbench.leaderboard/1"
README = "README.md"
SORTS = ("multi", "cross", "mono", "rank-distance")


@dataclass
class Entry:
    result: Result
    note: str = ""
    new: bool = False  # the run being placed with --compare-to
    checkpoint: str = ""  # how to remake a model that no registry or hub serves (a trained checkpoint)

    @property
    def task(self) -> str:
        return self.result.task.name

    @property
    def model(self) -> str:
        return self.result.model.name

    @property
    def metadata(self) -> dict[str, Any]:
        return self.result.model.metadata or {}


@dataclass
class Board:
    folder: Path
    title: str
    entries: list[Entry]
    published: list[Published] = field(default_factory=list)  # shown apart, never ranked or tested

    def tasks(self) -> list[str]:
        return sorted({e.task for e in self.entries})

    def published_of(self, task: str) -> list[PublishedEntry]:
        return [e for p in self.published for e in p.entries if e.task == task]

    def of_task(self, task: str) -> list[Entry]:
        """The entries of ``task``; none is an error naming the manifest."""
        entries = [e for e in self.entries if e.task == task]
        if not entries:
            raise MlbenchError(f"{self.folder / MANIFEST}: no entry for task {task!r} "
                               f"(it has: {', '.join(self.tasks()) or 'none'})")
        return entries


def _field(manifest: Path, where: str, value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind) or (kind is str and not value.strip()):
        raise MlbenchError(f"{manifest}: field '{where}' is missing or not {what}")
    return value


def builtin_board() -> Path:
    """The reference leaderboard shipped with mlbench (package data of an installed wheel; the
    repository's ``leaderboard/`` in a checkout)."""
    installed = Path(str(resources.files("mlbench"))) / "leaderboard"
    return installed if (installed / MANIFEST).is_file() else Path(__file__).resolve().parents[2] / "leaderboard"


def board_folder(folder: Path | str | None) -> Path:
    """A board folder from a flag: None or ``builtin`` is the shipped board."""
    return builtin_board() if folder is None or str(folder) == BUILTIN else Path(folder)


def load_board(folder: Path | str | None = None) -> Board:
    """Read ``folder/leaderboard.toml`` (default: the shipped board) and every result file it names
    (each fully validated)."""
    folder = board_folder(folder)
    manifest = folder / MANIFEST
    if not folder.is_dir():
        raise MlbenchError(f"{folder}: no leaderboard folder here (expected a folder with {MANIFEST})")
    if not manifest.is_file():
        raise MlbenchError(f"{manifest}: missing; a leaderboard folder lists its entries in {MANIFEST}")
    doc = read_document(manifest, "toml", "leaderboard file")
    if doc.get("schema") != SCHEMA:
        raise MlbenchError(f"{manifest}: field 'schema' is {doc.get('schema')!r}; this mlbench reads {SCHEMA!r}")
    title = _field(manifest, "title", doc.get("title", "mlbench leaderboard"), str, "a string")
    raw = _field(manifest, "entry", doc.get("entry"), list, "a list of [[entry]] tables")
    entries: list[Entry] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"entry[{i}]"
        _field(manifest, where, item, dict, "a table")
        name = _field(manifest, f"{where}.result", item.get("result"), str, "a file name")
        if Path(name).name != name or name in (".", ".."):
            raise MlbenchError(f"{manifest}: field '{where}.result' must be a file name inside {folder}")
        task = _field(manifest, f"{where}.task", item.get("task"), str, "a task name")
        note = _field(manifest, f"{where}.note", item.get("note", ""), str, "a string") if "note" in item else ""
        checkpoint = _field(manifest, f"{where}.checkpoint", item["checkpoint"], str, "a command that makes the "
                            "model") if "checkpoint" in item else ""
        if name in seen:
            raise MlbenchError(f"{manifest}: field '{where}.result' names {name!r} twice")
        seen.add(name)
        result = Result.from_disk(folder / name)
        if result.task.name != task:
            raise MlbenchError(f"{folder / name}: field 'task.name' is {result.task.name!r} but {manifest.name} "
                               f"lists it under task {task!r} ({where}.task)")
        entries.append(Entry(result, note, checkpoint=checkpoint))
    published = []
    for i, item in enumerate(_field(manifest, "published", doc.get("published", []), list,
                                    "a list of [[published]] tables")):
        where = f"published[{i}]"
        _field(manifest, where, item, dict, "a table")
        name = _field(manifest, f"{where}.file", item.get("file"), str, "a file name")
        if Path(name).name != name or name in (".", "..") or name in seen:
            raise MlbenchError(f"{manifest}: field '{where}.file' must name a file inside {folder} once")
        seen.add(name)
        published.append(read_published(folder / name))
    return Board(folder, title, entries, published)


# --- ranking -------------------------------------------------------------------------------------

@dataclass
class Rank:
    position: int
    entry: Entry
    values: dict[str, float | None]  # mono, cross, multi, rank_distance, own@10
    tier: int = 1  # entries of one tier cannot be told apart (Standing.tiering)
    p: float | None = None  # this entry against the next one down, uncorrected
    p_adjusted: float | None = None
    above_next: bool | None = None  # None for the last row


@dataclass
class Standing:
    task: str
    metric: str
    sort: str
    kinds: list[str]
    ranks: list[Rank]
    test: str
    n_permutations: int
    seed: int | None
    correction: str
    alpha: float
    published: list[PublishedEntry] = field(default_factory=list)  # of this task; not in ranks
    tiering: Tiering | None = None

    def procedure(self) -> str:
        what = "rank distance" if self.sort == "rank-distance" else f"mean({self.sort}) {self.metric}"
        test = "paired randomization test" if self.test == "randomization" else TEST_NAMES[self.test]
        extra = resamples_note(self.test, self.n_permutations, self.seed)
        return (f"each entry against the next one down on {what}: {test}{extra} over (query language, question) "
                f"units; {self.correction} correction over the {max(len(self.ranks) - 1, 0)} adjacent pairs; "
                f"alpha {self.alpha:g}")

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "metric": self.metric, "sort": self.sort, "kinds": self.kinds,
                "procedure": self.procedure(),
                "tiers": self.tiering.procedure() if self.tiering is not None else None,
                "ranks": [{"position": r.position, "model": r.entry.model, "file": r.entry.result.where,
                           "metadata": r.entry.metadata, "values": r.values, "tier": r.tier,
                           "p": r.p, "p_adjusted": r.p_adjusted,
                           "above_next": r.above_next, "this_run": r.entry.new} for r in self.ranks],
                "published": [e.to_dict() for e in self.published]}


def _values(entry: Entry, metric: str) -> dict[str, float | None]:
    return entry.result.headline(metric)


def _sort_key(sort: str) -> tuple[str, str, str]:
    """(kind, per-query key, better) of a sort name."""
    if sort == "rank-distance":
        return "multi", RANK_DISTANCE, "lower"
    return sort, "", "higher"


def standings(entries: list[Entry], metric: str | None = None, sort: str | None = None,
              test: str = "randomization", n_permutations: int | None = None, seed: int | None = 0,
              correction: str = "holm", alpha: float = 0.05,
              published: list[PublishedEntry] | None = None, n_tier_permutations: int | None = None) -> Standing:
    """Rank the entries of one task, test each against the next one down and group them in tiers;
    ``published`` figures of the task ride along unranked. ``n_permutations`` serves the adjacent
    tests and, unless ``n_tier_permutations`` is given, the tiers too when it is enough for their
    larger family; otherwise the tiers choose their own (as for every family left to choose)."""
    if not entries:
        raise MlbenchError("a leaderboard table needs at least one entry")
    task = entries[0].task
    for e in entries:
        if e.task != task:
            raise MlbenchError(f"{e.result.where}: task is {e.task!r}, not {task!r}; a table ranks one task")
    check_correction(correction)
    metric = metric or entries[0].result.main_metric
    kinds = entries[0].result.kinds
    for e in entries:
        if metric not in e.result.metrics:
            raise MlbenchError(f"{e.result.where}: field 'run.metrics' has no {metric!r}")
        if e.result.kinds != kinds:
            raise MlbenchError(f"{e.result.where}: field 'aggregates.kinds' has {e.result.kinds}, "
                               f"the other entries have {kinds}")
        diff = differences(entries[0].result.slice, e.result.slice)
        if diff:
            raise MlbenchError(f"{e.result.where}: another slice of {task} than {Path(entries[0].result.where).name} "
                               f"({'; '.join(diff)}); a leaderboard table ranks like with like")
    sort = sort or next((k for k in ("multi", "cross", "mono") if k in kinds), "mono")
    if sort not in SORTS:
        raise MlbenchError(f"--sort {sort!r} is not one of {', '.join(SORTS)}")
    kind, key, better = _sort_key(sort)
    if kind not in kinds:
        raise MlbenchError(f"--sort {sort}: task {task} has no {kind} settings in these results")
    key = key or metric
    value_name = RANK_DISTANCE if sort == "rank-distance" else sort

    def order(e: Entry) -> tuple[float, str]:
        v = _values(e, metric)[value_name]
        v = -math.inf if v is None or not math.isfinite(v) else v
        return (-v if better == "higher" else v, e.model)

    ranked = sorted(entries, key=order)
    ranks = [Rank(i + 1, e, _values(e, metric)) for i, e in enumerate(ranked)]
    # resamples: enough for the adjacent pairs to reach alpha after the correction (units: queries of the kind)
    units = [sum(s.n_queries for s in e.result.settings if s.kind == kind) for e in ranked[1:]]
    given = n_permutations
    n_permutations, _ = reachable({"adjacent pairs": units}, test, correction, alpha, n_permutations)
    raw: list[float] = []
    for upper, lower in zip(ranks, ranks[1:]):
        row = aggregate_test(lower.entry.result, upper.entry.result, kind, key, better, test, n_permutations, seed)
        upper.p = row.p
        raw.append(row.p)
    for r, p in zip(ranks, adjust(raw, correction) if raw else []):
        r.p_adjusted = float(p)
        d = (r.values[value_name] or 0.0) - (ranks[r.position].values[value_name] or 0.0)
        r.above_next = bool(p <= alpha and (d > 0 if better == "higher" else d < 0))
    if n_tier_permutations is None and given is not None:
        try:  # the given number where it can reach alpha over all pairs, else the tiers' own choice
            n_tier_permutations = reachable({"all pairs": [units[0] if units else 0] * (len(ranked) * (len(ranked) - 1) // 2)},
                                            test, correction, alpha, given)[0]
        except MlbenchError:
            n_tier_permutations = None
    tiering = tiers(_unit_arrays(ranked, kind, key), [e.model for e in ranked], test, correction, alpha,
                    better == "higher", n_tier_permutations, seed)
    for r, t in zip(ranks, tiering.tiers):
        r.tier = t
    return Standing(task, metric, sort, kinds, ranks, test, n_permutations, seed, correction, alpha,
                    [e for e in published or [] if e.task == task and e.metric == metric], tiering)


def _unit_arrays(ranked: list[Entry], kind: str, key: str) -> list[np.ndarray]:
    """Each entry's unit values of the sort aggregate, aligned on the first entry's units (the
    entries are one slice, so every entry has the same units)."""
    first = ranked[0].result
    p_first = first.per_query()
    out = []
    for e in ranked:
        p_e = e.result.per_query()
        common, _ = common_settings(first, e.result, p_first, p_e, None)
        _, _, values = paired_units(kind_entries(first, e.result, p_first, p_e, common).get(kind, []), key)
        out.append(values)
    return out


# --- placing a new run and reproducing an entry --------------------------------------------------

def place(board: Board, results: list[Result], metric: str | None = None, sort: str | None = None,
          **test_options: Any) -> list[Standing]:
    """Rank each new result among the board's entries of its task (marked ``new``)."""
    out = []
    for res in results:
        out.append(standings(board.of_task(res.task.name) + [Entry(res, "", new=True)], metric, sort,
                             published=board.published_of(res.task.name), **test_options))
    return out


@dataclass
class Reproduction:
    entry: Path
    rerun: Path
    settings: list[str]
    values: int  # per-query values compared
    max_abs_diff: float
    worst: str  # where the largest difference is


def rerun_command(command: str, task: str, out_dir: Path, extra: list[str]) -> list[str]:
    """The recorded ``mlbench run`` command, with its output folder replaced, restricted to ``task``,
    plus ``extra`` arguments (a slice such as ``--langs de,zh``)."""
    argv = shlex.split(command)
    if argv[:2] != ["mlbench", "run"]:
        raise MlbenchError(f"recorded command {command!r} is not an `mlbench run` command")
    args, i = [], 2
    while i < len(argv):
        a = argv[i]
        if a in ("-o", "--out", "-t", "--task", "--compare-to", "--trec-dir"):
            i += 2
            continue
        if a.startswith(("--out=", "--task=", "--compare-to=", "--trec-dir=")):
            i += 1
            continue
        args.append(a)
        i += 1
    return args + ["--task", task, "--out", str(out_dir), *extra]


def reproduce(result: Result, out_dir: Path, extra: list[str] | None = None,
              env: dict[str, str] | None = None) -> Reproduction:
    """Run an entry's recorded command again (optionally on a slice) and compare per-query values.

    On a language slice (``--langs``) the monolingual and cross-lingual settings keep their full
    pools, so their per-query values must equal the entry's; multilingual settings change pool and
    are compared only when no language was left out. ``--max-queries`` keeps a prefix of queries."""
    command = result.run.command
    if not command:
        raise MlbenchError(f"{result.where}: field 'run.command' is empty; the entry cannot be reproduced")
    args = rerun_command(command, result.task.name, out_dir, extra or [])
    proc = subprocess.run([sys.executable, "-m", "mlbench.cli", "run", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise MlbenchError(f"rerun of {Path(result.where).name} failed (exit {proc.returncode}): {tail[0]}")
    rerun = Result.from_disk(out_dir / Path(result.where).name)
    all_langs = set(rerun.task.languages) == set(result.task.languages)
    old, new = result.per_query(), rerun.per_query()
    kinds = rerun.kind_of()
    compared, n, worst, where = [], 0, 0.0, ""
    for sid, arr in new.items():
        if sid not in old or (kinds[sid] == "multi" and not all_langs):
            continue
        ref = old[sid]
        pos = {q: i for i, q in enumerate(ref.query_ids.tolist())}
        missing = [q for q in arr.query_ids.tolist() if q not in pos]
        if missing:
            raise MlbenchError(f"{rerun.where}: setting {sid} has query {missing[0]!r}, which the entry lacks")
        idx = np.array([pos[q] for q in arr.query_ids.tolist()], dtype=np.int64)
        for key, values in arr.values.items():
            if key not in ref:
                continue
            diff = np.abs(values.astype(np.float64) - ref[key][idx].astype(np.float64))
            if diff.size:
                j = int(np.nanargmax(diff)) if not np.all(np.isnan(diff)) else 0
                if diff[j] > worst:
                    worst, where = float(diff[j]), f"{sid} {key} query {arr.query_ids[j]}"
                n += int(diff.size)
        compared.append(sid)
    if not compared:
        raise MlbenchError(f"{rerun.where}: no setting in common with {result.where} to compare")
    return Reproduction(Path(result.where), Path(rerun.where), compared, n, worst, where)


__all__ = ["Board", "Entry", "MANIFEST", "Rank", "Reproduction", "SCHEMA", "SORTS", "Standing", "load_board",
           "place", "reproduce", "rerun_command", "standings"]
