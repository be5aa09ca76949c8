"""Which files ir_datasets reads for a dataset, and whether they are in place (any dataset).

ir_datasets reads a file that already sits at its cache path without downloading it and without
checking it. Which files a dataset reads is known only to the dataset's own definition (its
handlers and download objects, e.g. ``ir_datasets/datasets/miracl.py``), so mlbench asks it:
:func:`dataset_files` loads the dataset and walks its docs, queries and qrels handlers down to the
objects that name files (``ir_datasets.util.download.Download`` with its cache path and
``expected_md5``; a ``RelativePath`` inside a ``TarExtractAll`` folder, as Mr. TyDi's extracted
archive; a ``TarExtract`` member, as NeuCLIR's qrels tarball; ``GzipExtract`` wrappers; a
``Lazy`` filter and the handler it closes over, as NeuCLIR's per-language topics that read the
2022 qrels). No dataset's key names are parsed. :func:`require_local` refuses, in one line, to go
on when a file is missing and ``MLBENCH_OFFLINE`` is set (without it, ir_datasets downloads).

Listings (``mlbench tasks``) must not import ir_datasets (an import creates folders under
``IR_DATASETS_HOME`` and fixes its paths), so every lookup is also recorded, as paths relative to
the home, in ``MLBENCH_HOME/irds-files.json`` (keyed by the ir_datasets version):
:func:`recorded_files` reads that record back.

ir_datasets fixes the paths of its datasets when it is first imported, from ``IR_DATASETS_HOME``
(default ``~/.ir_datasets``): :func:`use_home` sets the variable before the first import and
refuses a different home once ir_datasets is imported in the process.
"""

from __future__ import annotations

import json
import os
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.files import write_json
from mlbench.home import mlbench_home

ROLES = ("topics", "qrels", "docs")
_HANDLERS = {"topics": "queries_handler", "qrels": "qrels_handler", "docs": "docs_handler"}
RECORD = "irds-files.json"


def offline() -> bool:
    return bool(os.environ.get("MLBENCH_OFFLINE"))


def irds_home() -> Path:
    """The ``IR_DATASETS_HOME`` in effect (ir_datasets' default is ``~/.ir_datasets``)."""
    return Path(os.environ.get("IR_DATASETS_HOME") or Path.home() / ".ir_datasets").expanduser()


def irds() -> Any:
    try:
        import ir_datasets
    except ImportError as exc:
        raise MlbenchError(f"format ir_datasets needs the package ir-datasets (pip install ir-datasets): {exc}") from None
    return ir_datasets


def use_home(home: Path | None) -> Path:
    """Point ir_datasets at ``home`` (None: keep the environment's). Must come before ir_datasets
    is first imported in this process, since it fixes its dataset paths at import."""
    if home is None:
        return irds_home()
    home = Path(home).expanduser().absolute()
    if "ir_datasets" in sys.modules and irds_home().absolute() != home:
        raise MlbenchError(
            f"--ir-datasets-home {home}: ir_datasets is already imported in this process with "
            f"IR_DATASETS_HOME={irds_home()}, and it fixes its paths at import; set IR_DATASETS_HOME "
            "before importing ir_datasets, or run mlbench in a new process")
    os.environ["IR_DATASETS_HOME"] = str(home)
    return home


def check_dataset(dataset_id: str) -> Any:
    """The ir_datasets dataset object, after checking that ir_datasets declares it with queries,
    qrels and documents. An undeclared id names the splits its parent declares (``miracl/yo``:
    dev, test-b)."""
    ir = irds()
    if dataset_id not in ir.registry:
        parent = dataset_id.rsplit("/", 1)[0]
        splits = sorted(k[len(parent) + 1:] for k in ir.registry
                        if k.startswith(parent + "/") and "/" not in k[len(parent) + 1:])
        if splits:
            raise MlbenchError(f"ir_datasets has no dataset {dataset_id!r}; {parent} has the splits {', '.join(splits)}")
        raise MlbenchError(f"ir_datasets has no dataset {dataset_id!r} (no {parent} at all)")
    ds = ir.load(dataset_id)
    missing = [what for what in ("queries", "qrels", "docs") if not getattr(ds, f"has_{what}")()]
    if missing:
        raise MlbenchError(f"ir_datasets dataset {dataset_id!r} has no {' or '.join(missing)}; it cannot be scored "
                           "(MIRACL's test-a/test-b splits have no public qrels)")
    return ds


def declared(dataset_id: str) -> bool:
    """Whether ir_datasets declares ``dataset_id`` (imports ir_datasets)."""
    return dataset_id in irds().registry


@dataclass(frozen=True)
class IrdsFile:
    role: str  # topics | qrels | docs
    key: str  # the file relative to IR_DATASETS_HOME (":member" for a member of a tar file)
    path: Path  # where ir_datasets reads it
    md5: str | None  # ir_datasets' expected_md5 of that file (None where it records none)
    url: str  # where ir_datasets would download it (or the archive it comes from)
    gzip: bool = False  # read through a gzip decoder


def _url(download: Any) -> str:
    for mirror in getattr(download, "mirrors", ()):
        for attr in ("url", "uri"):
            if isinstance(getattr(mirror, attr, None), str):
                return getattr(mirror, attr)
    return ""


def _walk(obj: Any, seen: set[int], gz: bool = False, member: str = "") -> Iterator[tuple[Path, str | None, str, bool, str]]:
    """(path, md5, url, gzip, tar member) of every file a handler reads, in the order it names them."""
    from ir_datasets.util import download as dl
    from ir_datasets.util import fileio as fio

    if id(obj) in seen or obj is None or isinstance(obj, (str, bytes, int, float, bool, os.PathLike)):
        return
    seen.add(id(obj))
    if isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _walk(x, seen, gz, member)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _walk(x, seen, gz, member)
    elif isinstance(obj, types.FunctionType):  # a Lazy's function: what it closes over
        for cell in obj.__closure__ or ():
            yield from _walk(cell.cell_contents, seen, gz, member)
    elif isinstance(obj, dl.Download):
        path = obj._cache_path  # noqa: SLF001 - where the file lives; None: a temporary download
        if path is None:
            path = next((m._path for m in obj.mirrors if isinstance(m, dl.LocalDownload)), None)  # noqa: SLF001
        if path is not None:
            yield Path(path), obj.expected_md5, _url(obj), gz, member
    elif isinstance(obj, dl.LocalDownload):
        yield Path(obj._path), None, "", gz, member  # noqa: SLF001
    elif isinstance(obj, fio.RelativePath) and isinstance(obj._streamer, fio.TarExtractAll):  # noqa: SLF001
        # a file of an extracted archive: read from the extracted folder (the archive only when it is absent)
        tar = obj._streamer  # noqa: SLF001
        url = next((u for _, _, u, _, _ in _walk(tar._streamer, set())), "")  # noqa: SLF001
        yield Path(tar._extract_path) / obj._path, None, url, gz, member  # noqa: SLF001
    elif isinstance(obj, fio.Cache):
        yield Path(obj._path), None, "", gz, member  # noqa: SLF001
    elif isinstance(obj, fio.TarExtract):
        yield from _walk(obj._streamer, seen, gz, obj._tar_path)  # noqa: SLF001
    elif isinstance(obj, fio.GzipExtract):
        yield from _walk(obj._streamer, seen, True, member)  # noqa: SLF001
    elif type(obj).__module__.startswith("ir_datasets"):
        for x in list(vars(obj).values()) if hasattr(obj, "__dict__") else ():
            yield from _walk(x, seen, gz, member)


def _rebase(path: Path, active: Path, home: Path, dataset_id: str) -> Path:
    try:
        rel = Path(path).absolute().relative_to(active.absolute())
    except ValueError:
        raise MlbenchError(
            f"ir_datasets reads {dataset_id} from {path}, not from IR_DATASETS_HOME={active}: it was imported "
            "with another IR_DATASETS_HOME; set the variable before ir_datasets is first imported") from None
    return home / rel


def dataset_files(dataset_id: str, home: Path | None = None, roles: Sequence[str] = ROLES) -> list[IrdsFile]:
    """Every file ir_datasets reads for ``dataset_id``, role by role (topics, qrels, then the corpus
    files in order), with the path it reads it from under ``home`` (default: the home in effect).
    A file may serve several roles (NeuCLIR's per-language topics read the 2022 qrels)."""
    ds = check_dataset(dataset_id)
    active = irds_home()
    home = active if home is None else Path(home)
    out: list[IrdsFile] = []
    for role in ROLES:
        seen_paths: set[Path] = set()
        for path, md5, url, gz, member in _walk(getattr(ds, _HANDLERS[role])(), set()):
            path = _rebase(path, active, home, dataset_id)
            if path in seen_paths:
                continue
            seen_paths.add(path)
            key = path.relative_to(home).as_posix() + (f":{member}" if member else "")
            out.append(IrdsFile(role, key, path, md5, url, gz))
    found = {f.role for f in out}
    if not set(ROLES) <= found:
        raise MlbenchError(f"ir_datasets names no {'/'.join(r for r in ROLES if r not in found)} file for "
                           f"{dataset_id!r}; mlbench reads datasets with topics, qrels and a corpus")
    _record(dataset_id, out, home)
    return [f for f in out if f.role in roles]


def missing(files: Sequence[IrdsFile]) -> list[IrdsFile]:
    """The files not in place (each path once)."""
    return list({f.path: f for f in files if not f.path.exists()}.values())


def require_local(dataset_id: str, files: Sequence[IrdsFile]) -> None:
    """Offline (``MLBENCH_OFFLINE``), every file must be in place: ir_datasets would try to download it."""
    absent = missing(files)
    if absent and offline():
        roles = ", ".join(sorted({f.role for f in absent}, key=ROLES.index))
        n = len({f.path for f in files})
        raise MlbenchError(
            f"{dataset_id}: {len(absent)} of the {n} files ir_datasets reads are missing ({roles}; first: "
            f"{absent[0].path}) and MLBENCH_OFFLINE is set; put them in ir_datasets' cache layout under "
            f"IR_DATASETS_HOME={irds_home()} (docs/tasks.md, 'Offline layout') or unset MLBENCH_OFFLINE")


# --------------------------------------------------------------------------------------------
# the record of lookups, for listings


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("ir-datasets")
    except metadata.PackageNotFoundError:
        return ""


def _record_path() -> Path:
    return mlbench_home() / RECORD


def _read_record() -> dict[str, Any]:
    try:
        data = json.loads(_record_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(dataset_id: str, files: Sequence[IrdsFile], home: Path) -> None:
    """Remember which files (relative to the home) ``dataset_id`` reads; best effort."""
    entry = {role: [f.path.relative_to(home).as_posix() for f in files if f.role == role] for role in ROLES}
    data = _read_record()
    version = data.setdefault(_version(), {})
    if not isinstance(version, dict) or version.get(dataset_id) == entry:
        return
    version[dataset_id] = entry
    try:
        write_json(_record_path(), data)
    except (OSError, MlbenchError):
        pass


def recorded_files(dataset_id: str) -> dict[str, list[str]] | None:
    """The files (relative to ``IR_DATASETS_HOME``, per role) an earlier lookup found for
    ``dataset_id`` with the installed ir_datasets, or None; reads no ir_datasets module."""
    entry = _read_record().get(_version(), {}).get(dataset_id)
    return entry if isinstance(entry, dict) else None


def is_local(dataset_id: str, roles: Sequence[str] = ROLES) -> bool | None:
    """Whether every recorded file of ``dataset_id`` is in place (None: never looked up)."""
    entry = recorded_files(dataset_id)
    if entry is None:
        return None
    paths = [irds_home() / rel for role in roles for rel in entry.get(role, [])]
    return bool(paths) and all(p.exists() for p in paths)


def package_data(name: str) -> dict[str, Any] | None:
    """ir_datasets' packaged ``etc/{name}`` (json), read without importing ir_datasets."""
    import importlib.util

    found = importlib.util.find_spec("ir_datasets")
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / "etc" / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
