"""Format adapters: how a task's raw files become a ``TaskData``.

A task file names its format; adapters register here or under the entry-point group
``mlbench.formats`` (a callable ``load(spec, langs, data_dir, max_articles) -> TaskData``).
Format ``ir_datasets`` (MIRACL) is a corpus task: its passages are streamed, never loaded into a
``TaskData``; ``mlbench run`` evaluates it through ``mlbench.corpus`` (``mlbench.formats.miracl``
reads it), and its ``load`` here only says so.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from mlbench.data import TaskData
from mlbench.errors import MlbenchError
from mlbench.taskspec import TaskSpec

Loader = Callable[[TaskSpec, tuple[str, ...], "Path | None", "int | None"], TaskData]


def _builtin() -> dict[str, Loader]:
    from mlbench.formats import lareqa, miracl

    return {"lareqa": lareqa.load, "ir_datasets": miracl.load}


def get_loader(name: str) -> Loader:
    loaders = _builtin()
    for ep in metadata.entry_points(group="mlbench.formats"):
        loaders.setdefault(ep.name, ep.load())
    if name not in loaders:
        raise MlbenchError(f"unknown task format {name!r} (known: {', '.join(sorted(loaders))})")
    return loaders[name]


def load_task(spec: TaskSpec, langs: list[str] | None = None, data_dir: Path | None = None,
              max_articles: int | None = None, max_queries: int | None = None) -> TaskData:
    """Load a task, optionally a slice of it (first articles / first queries per language)."""
    chosen = spec.check_langs(langs)
    if max_articles is not None and max_articles <= 0:
        raise MlbenchError(f"--max-articles must be positive, got {max_articles}")
    data = get_loader(spec.format)(spec, chosen, data_dir, max_articles)
    data.limit_queries(max_queries)
    if langs:
        data.subset["langs"] = list(chosen)
    return data
