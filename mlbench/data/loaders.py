"""Loaders: how a task's source becomes a :class:`~mlbench.data.model.TaskData`.

A task file names its ``format``; a :class:`Loader` of that name reads it. Built in: ``lareqa``
(XQuAD-R, MLQA-R: pinned files, in-memory sentences; :mod:`mlbench.data.lareqa`) and
``ir_datasets`` (MIRACL: topics and qrels through ir_datasets, passages streamed;
:mod:`mlbench.data.corpus`). Others register under the entry-point group ``mlbench.formats``
(a :class:`Loader`).

Each loader has its own option group (``options``), so the options of one kind of task are refused
for another by name before any work, and a ``check`` that refuses, cheaply and before anything is
encoded, what it could not load (unknown languages are refused by the task spec itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from mlbench.data.model import TaskData
from mlbench.errors import MlbenchError
from mlbench.options import OptionGroup
from mlbench.task import TaskSpec


@dataclass(frozen=True)
class LoadRequest:
    spec: TaskSpec
    langs: tuple[str, ...]
    data_dir: Path | None
    max_queries: int | None
    options: Any  # the loader's option group


@dataclass(frozen=True)
class Loader:
    """``streamed``: whether its candidates are streamed (so a run searches them with the topk
    backend unless told otherwise) rather than held in memory."""

    format: str
    options: type[OptionGroup]
    load: Callable[[LoadRequest], TaskData]
    check: Callable[[LoadRequest], None] | None = None
    streamed: bool = False
    task_options: tuple[str, ...] = ()  # what a task file's [options] may set (variants, splits)
    check_task_options: Callable[[dict[str, Any]], None] | None = None


def _builtin() -> dict[str, Loader]:
    from mlbench.data import corpus, lareqa

    return {"lareqa": lareqa.LOADER, "ir_datasets": corpus.LOADER}


def get_loader(name: str) -> Loader:
    loaders = _builtin()
    for ep in metadata.entry_points(group="mlbench.formats"):
        loaders.setdefault(ep.name, ep.load())
    if name not in loaders:
        raise MlbenchError(f"unknown task format {name!r} (known: {', '.join(sorted(loaders))})")
    if not isinstance(loaders[name], Loader):
        raise MlbenchError(f"entry point mlbench.formats:{name} is not an mlbench.data.loaders.Loader")
    return loaders[name]


def request(spec: TaskSpec, langs: list[str] | tuple[str, ...] | None = None, data_dir: Path | None = None,
            max_queries: int | None = None, options: OptionGroup | None = None) -> LoadRequest:
    """A checked load request: known languages, a positive query limit, the loader's options."""
    loader = get_loader(spec.format)
    if max_queries is not None and max_queries <= 0:
        raise MlbenchError(f"--max-queries must be positive, got {max_queries}")
    options = options if options is not None else loader.options()
    if not isinstance(options, loader.options):
        _refuse_foreign(spec, options)
        options = loader.options()
    options.check()
    req = LoadRequest(spec, spec.check_langs(list(langs) if langs else None), data_dir, max_queries, options)
    if loader.check is not None:
        loader.check(req)
    return req


def options_for(spec: TaskSpec, *groups: Any) -> Any:
    """Of the option groups a command gathered (LAReQA's, the corpus loader's), the one of
    ``spec``'s loader (its defaults when none was given); a flag of another loader's group is
    refused, naming the flag."""
    own = get_loader(spec.format).options
    for group in groups:
        if not isinstance(group, own):
            _refuse_foreign(spec, group)
    return next((group for group in groups if isinstance(group, own)), None) or own()


def _refuse_foreign(spec: TaskSpec, group: OptionGroup) -> None:
    """Another loader's options may be present, at their defaults; a flag set there is refused."""
    given = group.given()
    if given:
        raise MlbenchError(f"{given[0]} applies to {group.APPLIES_TO}, not to {spec.name} (format {spec.format})")


def load(req: LoadRequest) -> TaskData:
    data = get_loader(req.spec.format).load(req)
    if req.langs != req.spec.languages:
        data.subset["langs"] = list(req.langs)
    return data


def load_task(spec: TaskSpec, langs: list[str] | None = None, data_dir: Path | None = None,
              max_queries: int | None = None, **options: Any) -> TaskData:
    """Load a task, or a slice of it: some languages, the first ``max_queries`` queries per
    language, and the loader's own options by name (``max_articles=2`` for LAReQA,
    ``pool_subset=0`` for MIRACL)."""
    group = get_loader(spec.format).options(**options)
    return load(request(spec, langs, data_dir, max_queries, group))
