"""Loaders: how a task's source becomes a :class:`~mlbench.data.model.TaskData`, and everything
else only a format knows.

A task file names its ``format``; a :class:`Loader` of that name reads it. Built in: ``lareqa``
(XQuAD-R, MLQA-R: pinned files, in-memory sentences; :mod:`mlbench.data.lareqa`) and
``ir_datasets`` (MIRACL, Mr. TyDi, NeuCLIR, HC4: topics and qrels through ir_datasets, documents
streamed; :mod:`mlbench.data.corpus`). Others register an instance of a :class:`Loader` subclass
under the entry-point group ``mlbench.formats``; nothing outside a loader branches on its format.

A loader owns: its option group (so the options of one kind of task are refused for another by
name before any work), the ``[options]`` a task file may set, a cheap ``check`` before anything is
encoded, the load itself, the part of the slice that is its own (:meth:`Loader.slice`), the kinds
an option adds (:meth:`Loader.extra_kinds`), the counts of ``mlbench tasks``
(:meth:`Loader.summary`) and the facts a result records (``TaskData.facts``).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

from mlbench.data.loader import Loader, LoadRequest
from mlbench.data.model import TaskData
from mlbench.errors import MlbenchError
from mlbench.options import OptionGroup
from mlbench.task import TaskSpec, enumerate_settings


def _builtin() -> dict[str, Loader]:
    from mlbench.data import corpus, lareqa

    return {"lareqa": lareqa.LOADER, "ir_datasets": corpus.LOADER}


def get_loader(name: str) -> Loader:
    loaders = _builtin()
    for ep in metadata.entry_points(group="mlbench.formats"):
        if ep.name not in loaders:
            try:
                loaders[ep.name] = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin is named, whatever it raised
                raise MlbenchError(f"entry point mlbench.formats:{ep.name} = {ep.value!r} cannot be loaded "
                                   f"({type(exc).__name__}: {exc})") from None
    if name not in loaders:
        raise MlbenchError(f"unknown task format {name!r} (known: {', '.join(sorted(loaders))})")
    if not isinstance(loaders[name], Loader):
        raise MlbenchError(f"entry point mlbench.formats:{name} is not an instance of mlbench.data.loader.Loader")
    return loaders[name]


def check_task(spec: TaskSpec) -> TaskSpec:
    """A parsed task file checked against its format: the loader exists and takes its ``[options]``."""
    loader = get_loader(spec.format)
    unknown = sorted(set(spec.options) - set(loader.task_options))
    if unknown:
        known = ", ".join(loader.task_options) or "none"
        raise MlbenchError(f"{spec.file}: field 'options.{unknown[0]}' is not an option of format {spec.format} "
                           f"(known: {known})")
    try:
        loader.check_task_options(spec.options)
    except MlbenchError as exc:
        raise MlbenchError(f"{spec.file}: field 'options': {exc}") from None
    return spec


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


def options_of(spec: TaskSpec, groups: tuple[OptionGroup, ...], args: dict[str, Any] | None = None) -> OptionGroup:
    """The options of ``spec``'s loader a command was given: its own group among ``groups`` (the
    flags of the built-in formats), or ``args`` by name (``--loader-arg``, any format), not both."""
    options = options_for(spec, *groups)
    if args:
        if options.given():
            raise MlbenchError(f"--loader-arg and {options.given()[0]} both set options of {spec.name}; give them "
                               "one way")
        options = options_from(spec, **args)
    return options


def _refuse_foreign(spec: TaskSpec, group: OptionGroup) -> None:
    """Another loader's options may be present, at their defaults; a flag set there is refused."""
    given = group.given()
    if given:
        raise MlbenchError(f"{given[0]} applies to {group.APPLIES_TO}, not to {spec.name} (format {spec.format})")


def slice_of(req: LoadRequest, kinds: tuple[str, ...]) -> dict[str, Any]:
    """What part of a task a result of ``req`` with settings of ``kinds`` covers, known before any
    work: task and version, languages, the kinds its settings have, the query cut, and the
    loader's own cuts (:meth:`Loader.slice`). Two results are like with like where these agree."""
    loader = get_loader(req.spec.format)
    settings = enumerate_settings(loader.query_languages(req.spec, req.langs), kinds, req.langs)
    return {"task": req.spec.name, "version": req.spec.version, "languages": list(req.langs),
            "kinds": sorted({s.kind for s in settings}), "max_queries": req.max_queries, **loader.slice(req)}


def options_from(spec: TaskSpec, **values: Any) -> OptionGroup:
    """The option group of ``spec``'s loader built from keyword values; a key it does not have is
    one line naming it (an option of another format, or none at all)."""
    group = get_loader(spec.format).options
    try:
        return group(**values)
    except TypeError:
        names = {f for f in getattr(group, "__dataclass_fields__", {})}
        bad = sorted(set(values) - names)[:1] or sorted(values)[:1]
        raise MlbenchError(f"{bad[0]} is not an option of task {spec.name} (format {spec.format}; its options: "
                           f"{', '.join(sorted(names)) or 'none'})") from None


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
    return load(request(spec, langs, data_dir, max_queries, options_from(spec, **options)))
