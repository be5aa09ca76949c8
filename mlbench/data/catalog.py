"""Descriptions of the known tasks, as the ``mlbench tasks`` listings show them: counts read from
the data when it is local (never downloaded for a listing), or from ir_datasets' records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlbench.data.loaders import load_task
from mlbench.data.sources import available_locally
from mlbench.task import TaskSpec, discover, enumerate_settings


@dataclass
class TaskSummary:
    spec: TaskSpec
    settings: dict[str, int]  # kind -> number of settings
    queries: int | None  # None: data not available locally
    candidates: int | None
    status: str

    def to_dict(self) -> dict:
        return {"name": self.spec.name, "version": self.spec.version, "title": self.spec.title,
                "format": self.spec.format, "languages": list(self.spec.languages), "kinds": list(self.spec.kinds),
                "metrics": list(self.spec.metrics), "main_metric": self.spec.main_metric, "settings": self.settings,
                "queries": self.queries, "candidates": self.candidates, "source": self.status,
                "licence": self.spec.licence, "file": str(self.spec.file)}


def settings_per_kind(spec: TaskSpec, langs: tuple[str, ...] | None = None) -> dict[str, int]:
    settings = enumerate_settings(langs or spec.languages, spec.kinds)
    return {k: sum(s.kind == k for s in settings) for k in spec.kinds}


def summarize(spec: TaskSpec, data_dir: Path | None = None) -> TaskSummary:
    counts = settings_per_kind(spec)
    if spec.source.type == "ir_datasets":
        from mlbench.data.irds import irds_home, summary

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
    queries = sum(len(d.queries) for d in data.langs.values())
    return TaskSummary(spec, counts, queries, data.n_candidates(), spec.source.describe())


def list_tasks(tasks_dirs: list[Path] | None = None, data_dir: Path | None = None) -> list[TaskSummary]:
    return [summarize(spec, data_dir) for spec in discover(tasks_dirs).values()]


@dataclass
class LangRow:
    lang: str
    queries: int
    candidates: int


def task_details(spec: TaskSpec, data_dir: Path | None = None) -> tuple[list[LangRow], dict[str, int]]:
    """Per-language counts, and the queries left out of each setting that leaves any out."""
    data = load_task(spec, data_dir=data_dir)
    rows = [LangRow(lang, len(d.queries), len(d.candidates)) for lang, d in data.langs.items()]
    left = {}
    for s in enumerate_settings(data.languages, spec.kinds):
        n = data.left_out(s)
        if n:
            left[s.id] = n
    return rows, left
