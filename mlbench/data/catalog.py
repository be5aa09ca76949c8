"""Descriptions of the known tasks, as the ``mlbench tasks`` listings show them: counts read from
the data when it is local (never downloaded for a listing), or from ir_datasets' records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlbench.data.loaders import get_loader, load_task
from mlbench.task import TaskSpec, enumerate_settings
from mlbench.data.tasks import discover


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
    langs = langs or spec.languages
    settings = enumerate_settings(get_loader(spec.format).query_languages(spec, langs), spec.kinds, langs)
    return {k: sum(s.kind == k for s in settings) for k in spec.kinds}


def summarize(spec: TaskSpec, data_dir: Path | None = None) -> TaskSummary:
    s = get_loader(spec.format).summary(spec, data_dir)
    return TaskSummary(spec, settings_per_kind(spec), s.queries, s.candidates, s.status)


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
    for s in enumerate_settings(data.query_langs, spec.kinds, data.pool_langs):
        n = data.left_out(s)
        if n:
            left[s.id] = n
    return rows, left
