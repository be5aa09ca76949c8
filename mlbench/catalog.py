"""Descriptions of the known tasks, as the ``mlbench tasks`` listings show them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlbench.formats import load_task
from mlbench.settings import enumerate_settings, plan_setting
from mlbench.sources import available_locally
from mlbench.taskspec import TaskSpec, discover


@dataclass
class TaskSummary:
    spec: TaskSpec
    settings: dict[str, int]  # kind -> number of settings
    queries: int | None  # None: data not available locally
    candidates: int | None
    status: str


def settings_per_kind(spec: TaskSpec, langs: tuple[str, ...] | None = None) -> dict[str, int]:
    settings = enumerate_settings(langs or spec.languages, spec.kinds)
    return {k: sum(s.kind == k for s in settings) for k in spec.kinds}


def summarize(spec: TaskSpec, data_dir: Path | None = None) -> TaskSummary:
    counts = settings_per_kind(spec)
    if spec.source.type == "ir_datasets":
        from mlbench.formats.miracl import irds_home, summary

        s = summary(spec.source.dataset, spec.languages)
        if not s.installed:
            return TaskSummary(spec, counts, None, None, f"{spec.source.describe()} (needs the ir-datasets package)")
        where = f"{len(s.local_langs)} of {len(spec.languages)} languages local in {irds_home()}"
        # counts as ir_datasets records them: the dev queries and the whole corpus (streamed at run time)
        return TaskSummary(spec, counts, s.queries, s.passages, f"{spec.source.describe()} ({where})")
    if spec.source.type != "files":
        return TaskSummary(spec, counts, None, None, f"loader: {spec.format} (not in this version)")
    if not all(available_locally(spec, lang, data_dir) for lang in spec.languages):
        return TaskSummary(spec, counts, None, None, "not downloaded (fetched on first run)")
    data = load_task(spec, data_dir=data_dir)
    queries = sum(len(d.query_ids) for d in data.langs.values())
    return TaskSummary(spec, counts, queries, data.n_candidates(), spec.source.describe())


def list_tasks(tasks_dirs: list[Path] | None = None, data_dir: Path | None = None) -> list[TaskSummary]:
    return [summarize(spec, data_dir) for spec in discover(tasks_dirs).values()]


@dataclass
class LangRow:
    lang: str
    queries: int
    candidates: int
    paragraphs: int


def task_details(spec: TaskSpec, data_dir: Path | None = None) -> tuple[list[LangRow], dict[str, int]]:
    """Per-language counts, and the queries left out of each setting that leaves any out."""
    data = load_task(spec, data_dir=data_dir)
    rows = [LangRow(lang, len(d.query_ids), len(d.cand_ids), len(d.paragraphs)) for lang, d in data.langs.items()]
    left = {}
    for s in enumerate_settings(data.languages, spec.kinds):
        n = plan_setting(data, s).n_left_out
        if n:
            left[s.id] = n
    return rows, left
