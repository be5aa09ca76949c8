"""Tasks: what a task file says (:mod:`mlbench.task.spec`) and the retrieval settings of a task
(query language x pool, :mod:`mlbench.task.settings`). Where task files are found, each checked
against its format's loader, is :mod:`mlbench.data.tasks`."""

from mlbench.task.settings import ALL, Setting, enumerate_settings, parse_kinds, parse_setting
from mlbench.task.spec import DEFAULT_TASK, KINDS, Source, TaskSpec, parse_task_file

__all__ = ["ALL", "DEFAULT_TASK", "KINDS", "Setting", "Source", "TaskSpec", "enumerate_settings", "parse_kinds",
           "parse_setting", "parse_task_file"]
