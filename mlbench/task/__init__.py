"""Tasks: the declarative task files (``tasks/*.toml``) and the retrieval settings of a task
(query language x pool)."""

from mlbench.task.settings import ALL, Setting, enumerate_settings, parse_kinds, parse_setting
from mlbench.task.spec import DEFAULT_TASK, KINDS, Source, TaskSpec, discover, get_task, parse_task_file

__all__ = ["ALL", "DEFAULT_TASK", "KINDS", "Setting", "Source", "TaskSpec", "discover", "enumerate_settings", "get_task",
           "parse_kinds", "parse_setting", "parse_task_file"]
