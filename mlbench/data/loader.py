"""What a task format is: the :class:`Loader` every format implements (built in and from entry
points alike), the :class:`LoadRequest` it is given and the :class:`Summary` it gives of a task.
The registry of formats, and the requests and loads built on it, are in :mod:`mlbench.data.loaders`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mlbench.data.model import TaskData
from mlbench.options import OptionGroup
from mlbench.task import TaskSpec


@dataclass(frozen=True)
class LoadRequest:
    spec: TaskSpec
    langs: tuple[str, ...]
    data_dir: Path | None
    max_queries: int | None
    options: Any  # the loader's option group


@dataclass
class Summary:
    """What ``mlbench tasks`` shows of a task: counts (None where the data is not local) and where
    the data comes from."""

    queries: int | None
    candidates: int | None
    status: str


@dataclass
class NoOptions(OptionGroup):
    FLAGS: ClassVar[dict[str, str]] = {}
    APPLIES_TO: ClassVar[str] = "no task format"


class Loader:
    """A task format. ``streamed``: its candidates are streamed (a run searches them with the topk
    backend unless told otherwise) rather than held in memory."""

    format: ClassVar[str] = ""
    options: ClassVar[type[OptionGroup]] = NoOptions
    streamed: ClassVar[bool] = False
    task_options: ClassVar[tuple[str, ...]] = ()  # what a task file's [options] may set (variants, splits)

    def check_task_options(self, options: dict[str, Any]) -> None:
        """Refuse a task file's ``[options]`` values this loader cannot use."""

    def check(self, req: LoadRequest) -> None:
        """Refuse, cheaply and before anything is encoded, what this loader could not load."""

    def load(self, req: LoadRequest) -> TaskData:
        raise NotImplementedError

    def slice(self, req: LoadRequest) -> dict[str, Any]:
        """This format's part of the slice a result records: the cuts and the text of a candidate."""
        return {}

    def extra_kinds(self, req: LoadRequest) -> tuple[str, ...]:
        """Kinds of settings an option adds to the task's own."""
        return ()

    def kinds(self, req: LoadRequest) -> tuple[str, ...]:
        """The kinds of settings a request's data supports: the task's and those an option adds."""
        return req.spec.kinds + tuple(k for k in self.extra_kinds(req) if k not in req.spec.kinds)

    def query_languages(self, spec: TaskSpec, langs: tuple[str, ...]) -> tuple[str, ...]:
        """The languages whose queries a slice of ``langs`` holds (the task's pools are ``langs``)."""
        return langs

    def summary(self, spec: TaskSpec, data_dir: Path | None) -> Summary:
        return Summary(None, None, f"format {spec.format}")
