"""Declarative task files (``tasks/*.toml``) and where they are found.

A task file says *what* a benchmark is (languages, data source pinned by sha256, format adapter,
metrics, settings); the code only knows *how* to read a format. Where task files are found is
:mod:`mlbench.data.tasks`.

A task file's ``[options]`` are checked against its format's loader when the file is found
(:mod:`mlbench.data.tasks`, which also finds the task files); this module only reads one.

A task file may be a *variant* of another: ``extends = "xquad-r"`` takes every field of
``xquad-r.toml`` in the same folder, and the variant's own fields replace them; an ``[options]``
table passes fixed options to the format's loader (``articles = "36-47"``: a LAReQA task of those
articles only). Variants are how a split is declared, e.g. ``xquad-r-heldout``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.files import read_document

KINDS = ("mono", "cross", "multi")
DEFAULT_TASK = "xquad-r"  # what `mlbench run` evaluates when no task is named (shipped, offline)
SOURCE_TYPES = ("files", "ir_datasets")
SCHEMA = 1
# names and language codes end up in file names, setting ids ("de>*") and paths: keep them plain
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Source:
    type: str
    url: str = ""  # with {lang}; pinned to a commit
    path: str = ""  # relative layout under a data folder, with {lang}
    packaged: bool = False  # an xz copy ships in mlbench/data/embedded/{path}.xz
    sha256: dict[str, str] = field(default_factory=dict)
    dataset: str = ""  # ir_datasets id pattern, with {lang} (and {split})
    split: str = ""  # ir_datasets: the split {split} stands for unless --split names another
    query_language: str = ""  # ir_datasets: the language of every dataset's topics ("en"), else each its own
    multi_dataset: str = ""  # ir_datasets: the dataset judging the pool of all languages as one, with {split}

    def describe(self) -> str:
        if self.type == "ir_datasets":
            return f"ir_datasets:{self.dataset}"
        return "embedded" if self.packaged else "download (pinned)"


@dataclass(frozen=True)
class TaskSpec:
    name: str
    version: str
    title: str
    description: str
    format: str
    languages: tuple[str, ...]
    kinds: tuple[str, ...]
    metrics: tuple[str, ...]
    main_metric: str
    source: Source
    licence: str
    citation: str
    file: Path
    options: dict[str, Any] = field(default_factory=dict)  # the loader's task options ([options])
    relevance_level: int = 1  # binary measures: relevant at grade >= level (trec_eval -l)
    mteb: dict[str, str] | None = None  # [mteb]: the MTEB task this task is, when it is one (task, split)

    def check_langs(self, langs: list[str] | None) -> tuple[str, ...]:
        """Validate a language selection against this task (None: all)."""
        if not langs:
            return self.languages
        unknown = [lang for lang in langs if lang not in self.languages]
        if unknown:
            raise MlbenchError(
                f"unknown language {unknown[0]!r} for task {self.name} "
                f"(languages: {', '.join(self.languages)})"
            )
        return tuple(lang for lang in self.languages if lang in set(langs))


def _field(data: dict[str, Any], key: str, typ: type, file: Path, default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise MlbenchError(f"{file}: missing field '{key}'")
        return default
    value = data[key]
    if not isinstance(value, typ) or (typ is list and not all(isinstance(v, str) for v in value)):
        raise MlbenchError(f"{file}: field '{key}' must be {typ.__name__}, got {value!r}")
    return value


def parse_task_file(file: Path) -> TaskSpec:
    """Read and validate one task file; any defect is a one-line error naming file and field."""
    file = Path(file)
    data = _with_base(read_document(file, "toml", "task file"), file)
    schema = data.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise MlbenchError(f"{file}: field 'schema' is {schema!r}; this mlbench reads {SCHEMA}")
    name = _field(data, "name", str, file)
    if not _NAME.fullmatch(name):
        raise MlbenchError(f"{file}: field 'name' {name!r} must be letters, digits, '.', '_' or '-'")
    languages = tuple(_field(data, "languages", list, file))
    if not languages or len(set(languages)) != len(languages):
        raise MlbenchError(f"{file}: field 'languages' must be a non-empty list without repeats")
    bad = [lang for lang in languages if not _NAME.fullmatch(lang)]
    if bad:
        raise MlbenchError(f"{file}: field 'languages' has {bad[0]!r}; a language code is letters, digits, '.', '_' or '-'")
    kinds = tuple(_field(data, "kinds", list, file, ["mono"]))
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise MlbenchError(f"{file}: field 'kinds' has unknown kind {bad[0]!r} (known: {', '.join(KINDS)})")
    metrics = tuple(_field(data, "metrics", list, file))
    from mlbench.metrics import parse_metrics

    try:
        parse_metrics(list(metrics))
    except MlbenchError as exc:
        raise MlbenchError(f"{file}: field 'metrics': {exc}") from None
    main_metric = _field(data, "main_metric", str, file, metrics[0] if metrics else "map")
    if main_metric not in metrics:
        raise MlbenchError(f"{file}: field 'main_metric' {main_metric!r} is not among 'metrics'")
    raw = _field(data, "source", dict, file)
    stype = _field(raw, "type", str, file)
    if stype not in SOURCE_TYPES:
        raise MlbenchError(f"{file}: field 'source.type' {stype!r} is not one of {', '.join(SOURCE_TYPES)}")
    sha = _field(raw, "sha256", dict, file, {})
    if stype == "files":
        missing = [lang for lang in languages if lang not in sha]
        if missing:
            raise MlbenchError(f"{file}: field 'source.sha256' has no entry for language {missing[0]!r}")
        for lang, digest in sha.items():
            if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
                raise MlbenchError(f"{file}: field 'source.sha256.{lang}' is not a sha256 hex digest")
    source = Source(
        type=stype,
        url=_field(raw, "url", str, file, ""),
        path=_field(raw, "path", str, file, "" if stype != "files" else ...),
        packaged=_field(raw, "packaged", bool, file, False),
        sha256=dict(sha),
        dataset=_field(raw, "dataset", str, file, "" if stype != "ir_datasets" else ...),
        split=_field(raw, "split", str, file, ""),
        query_language=_field(raw, "query_language", str, file, ""),
        multi_dataset=_field(raw, "multi_dataset", str, file, ""),
    )
    if source.query_language and not _NAME.fullmatch(source.query_language):
        raise MlbenchError(f"{file}: field 'source.query_language' {source.query_language!r} is not a language code")
    if "{split}" in source.dataset + source.multi_dataset and not source.split:
        raise MlbenchError(f"{file}: field 'source.split' is missing: 'source.dataset' has the placeholder {{split}}")
    for key in ("url", "path", "dataset", "multi_dataset"):
        try:
            filled = [getattr(source, key).format(lang=lang, split=source.split) for lang in languages]
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
            raise MlbenchError(f"{file}: field 'source.{key}' may only use the placeholders {{lang}} and {{split}} "
                               f"({type(exc).__name__}: {exc})") from None
        if key == "path" and any(Path(rel).is_absolute() or ".." in Path(rel).parts for rel in filled):
            raise MlbenchError(f"{file}: field 'source.path' must be relative, without '..'")
    options = _field(data, "options", dict, file, {})
    return TaskSpec(
        name=name,
        version=str(_field(data, "version", str, file)),
        title=_field(data, "title", str, file, name),
        description=_field(data, "description", str, file, ""),
        format=_field(data, "format", str, file),
        languages=languages,
        kinds=kinds,
        metrics=metrics,
        main_metric=main_metric,
        source=source,
        licence=_field(data, "licence", str, file, ""),
        citation=_field(data, "citation", str, file, ""),
        file=file,
        options=dict(options),
        relevance_level=_level(data, file),
        mteb=_mteb(data, file),
    )


def _level(data: dict[str, Any], file: Path) -> int:
    level = data.get("relevance_level", 1)
    if type(level) is not int or level < 1:
        raise MlbenchError(f"{file}: field 'relevance_level' must be an integer of 1 or more, got {level!r}")
    return level


def _mteb(data: dict[str, Any], file: Path) -> dict[str, str] | None:
    """``[mteb] task = "MIRACLRetrieval"`` (and optionally ``split``): the MTEB task a result of this
    task is, when it covers the task whole; without it an export is labelled as mlbench's own."""
    raw = data.get("mteb")
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("task"), str) or not raw["task"].strip():
        raise MlbenchError(f"{file}: field 'mteb' must be a table with a 'task' name")
    unknown = sorted(set(raw) - {"task", "split"})
    if unknown or not all(isinstance(v, str) for v in raw.values()):
        raise MlbenchError(f"{file}: field 'mteb.{unknown[0] if unknown else 'split'}': the table holds the strings "
                           "task and split")
    return {k: str(v) for k, v in raw.items()}


def _with_base(data: dict[str, Any], file: Path) -> dict[str, Any]:
    """A variant's fields over those of the task it ``extends`` (one level, same folder)."""
    if "extends" not in data:
        return data
    base_name = data["extends"]
    if not isinstance(base_name, str) or not _NAME.fullmatch(base_name):
        raise MlbenchError(f"{file}: field 'extends' must name a task file in the same folder, got {base_name!r}")
    base_file = file.parent / f"{base_name}.toml"
    if not base_file.is_file():
        raise MlbenchError(f"{file}: field 'extends': no task file {base_file.name} beside it")
    base = read_document(base_file, "toml", "task file")
    if "extends" in base:
        raise MlbenchError(f"{file}: field 'extends': {base_file.name} is itself a variant (one level only)")
    return {**base, **{k: v for k, v in data.items() if k != "extends"}}
