"""Where task files are found, each checked against its format's loader.

Task files come from three places, later ones overriding earlier ones by name: the files installed
with mlbench, packages registered under the entry-point group ``mlbench.tasks`` (every ``*.toml``
in the named package's folder), and folders given with ``--tasks-dir``. Each is read by
:func:`mlbench.task.parse_task_file` and checked by its loader (:func:`mlbench.data.loaders.check_task`:
the format exists and takes the file's ``[options]``), so a bad file is one line naming it wherever
it is first met.
"""

from __future__ import annotations

from importlib import metadata, resources
from pathlib import Path

from mlbench.data.loaders import check_task
from mlbench.errors import MlbenchError
from mlbench.task import TaskSpec, parse_task_file


def builtin_tasks_dir() -> Path:
    """Installed wheels carry ``mlbench/tasks``; a source checkout has ``tasks/`` beside the package."""
    installed = Path(str(resources.files("mlbench"))) / "tasks"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "tasks"


def _entry_point_dirs() -> list[Path]:
    dirs = []
    for ep in metadata.entry_points(group="mlbench.tasks"):
        try:
            dirs.append(Path(str(resources.files(ep.value))))
        except (ModuleNotFoundError, TypeError) as exc:
            raise MlbenchError(f"entry point mlbench.tasks:{ep.name} = {ep.value!r} cannot be loaded ({exc})") from None
    return dirs


def read_task_file(file: Path) -> TaskSpec:
    """One task file, read and checked against its loader."""
    return check_task(parse_task_file(file))


def discover(tasks_dirs: list[Path] | None = None) -> dict[str, TaskSpec]:
    """All task specs by name: built-in, then entry points, then ``--tasks-dir`` folders."""
    found: dict[str, TaskSpec] = {}
    folders = [builtin_tasks_dir(), *_entry_point_dirs()]
    for extra in tasks_dirs or []:
        extra = Path(extra)
        if not extra.is_dir():
            raise MlbenchError(f"--tasks-dir {extra}: not a folder")
        folders.append(extra)
    for folder in folders:
        for file in sorted(folder.glob("*.toml")):
            spec = read_task_file(file)
            found[spec.name] = spec
    return found


def get_task(name: str, tasks_dirs: list[Path] | None = None) -> TaskSpec:
    tasks = discover(tasks_dirs)
    if name not in tasks:
        raise MlbenchError(f"unknown task {name!r} (known: {', '.join(sorted(tasks))})")
    return tasks[name]
