"""Data: every task loaded into one interface (:mod:`mlbench.data.model`) by its format's loader
(:mod:`mlbench.data.loader`, registered in :mod:`mlbench.data.loaders`): ``lareqa`` files
(:mod:`mlbench.data.lareqa`, verified by :mod:`mlbench.data.sources`) and ``ir_datasets`` corpora
(:mod:`mlbench.data.corpus`, read through :mod:`mlbench.data.irds`). Task files are found and
checked by :mod:`mlbench.data.tasks`. The XQuAD-R files ship in ``embedded/``."""

from mlbench.data.loader import Loader, LoadRequest
from mlbench.data.loaders import get_loader, load, load_task, request
from mlbench.data.model import LangData, MemoryCandidates, Queries, StreamedCandidates, TaskData
from mlbench.data.tasks import discover, get_task

__all__ = ["LangData", "LoadRequest", "Loader", "MemoryCandidates", "Queries", "StreamedCandidates", "TaskData",
           "discover", "get_loader", "get_task", "load", "load_task", "request"]
