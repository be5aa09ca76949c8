"""sentence-transformers models: a hub id or a local folder.

A hub id is resolved to a local snapshot first (``huggingface_hub.snapshot_download``, which
honours ``HF_HUB_OFFLINE``), so the exact revision and a hash of the weights land in results.
Remote code stays off unless asked for.

Prompts are applied exactly as the installed sentence-transformers applies them in
``encode_query`` / ``encode_document``: a query gets the model's prompt named ``query``, a
candidate the first of ``document``, ``passage``, ``corpus`` among its prompts, and either falls
back to the model's ``default_prompt_name`` (libraries without those methods: ``encode()`` with
the default prompt). sentence-transformers 5+ adds empty ``query`` and ``document`` prompts to
every model, so there a folder's ``default_prompt_name`` and its ``passage`` prompt reach only
``encode()``, not retrieval; ``--query-prompt`` / ``--candidate-prompt`` replace the model's (an
empty one means none), ``--query-prompt-name`` / ``--candidate-prompt-name`` pick one of the
model's prompts by name (sentence-transformers' ``prompt_name``). The prompt strings applied, and the names they came from, are in the
description, so they land in results and key the embedding cache. ``--truncate-dim`` keeps the
first N dimensions (sentence-transformers' ``truncate_dim``, before normalisation). A
``SentenceTransformer`` object built in Python is wrapped by :func:`from_model`.

The model (and torch, 4-5 s to import) loads on first use. Its description, the key of the
embedding cache, is remembered under MLBENCH_HOME/models once a loaded model has given it, keyed
by everything it is made of (the folder's files and their hashes, the options, the library
versions), so a rerun whose texts are all in the cache never loads the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.encoders.base import Kind
from mlbench.encoders.checkpoint import WEIGHT_SUFFIXES, hash_files, weights_sha256
from mlbench.errors import MlbenchError
from mlbench.files import write_json
from mlbench.home import mlbench_home


def accelerator_possible() -> bool:
    """Whether torch could find a GPU here: an NVIDIA or AMD driver, or an Apple-silicon Mac.
    Where neither is present the answer is "cpu" without importing torch."""
    if platform.system() == "Darwin":
        return platform.machine() == "arm64"
    return any(os.path.exists(p) for p in ("/proc/driver/nvidia", "/dev/nvidia0", "/dev/nvidiactl", "/dev/kfd",
                                           "/dev/dxg"))


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    if not accelerator_possible():
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_model_path(model: str, revision: str | None) -> tuple[Path, str | None]:
    """Local folder for a spec, and the hub commit it came from (None for a local folder)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path, None
    try:
        from huggingface_hub import snapshot_download

        local = Path(snapshot_download(model, revision=revision))
    except Exception as exc:  # noqa: BLE001 - hub errors come in many types
        raise MlbenchError(f"model {model!r}: not a local folder and not loadable from the hub ({type(exc).__name__}: {exc})") from None
    return local, local.name if local.parent.name == "snapshots" else revision


class SentenceTransformerEncoder:
    language_dependent = False

    def __init__(self, model: str, *, name: str | None = None, query_prompt: str | None = None,
                 candidate_prompt: str | None = None, max_seq_length: int | None = None,
                 batch_tokens: int | None = None, max_batch: int | None = None, device: str = "auto",
                 precision: str = "auto", normalize: bool = True, trust_remote_code: bool = False,
                 revision: str | None = None, truncate_dim: int | None = None, query_prompt_name: str | None = None,
                 candidate_prompt_name: str | None = None, loaded: Any = None,
                 shown_spec: str | None = None) -> None:
        self.spec = model
        # how results name a model whose spec is a folder inside an installed package: results are
        # committed and shared, so they carry no path of the machine that made them
        self.shown_spec = shown_spec
        if truncate_dim is not None and (not isinstance(truncate_dim, int) or truncate_dim <= 0):
            raise MlbenchError(f"--truncate-dim must be a positive number, got {truncate_dim!r}")
        self.truncate_dim = truncate_dim
        if loaded is not None:  # a SentenceTransformer built in Python (from_model): used as it is
            self.path, self.revision = None, None
            device = str(loaded.device)
            if precision == "auto":
                dtype = str(next(loaded.parameters()).dtype)
                precision = {"torch.float16": "fp16", "torch.bfloat16": "bf16"}.get(dtype, "fp32")
        else:
            self.path, self.revision = resolve_model_path(model, revision)
        self.device = resolve_device(device)
        if precision == "auto":
            precision = "fp16" if self.device == "cuda" else "fp32"
        if precision not in ("fp32", "fp16", "bf16"):
            raise MlbenchError(f"--precision {precision!r} is not one of fp32, fp16, bf16")
        self.precision = precision
        self.max_seq_length_option = max_seq_length
        self.name = name or model
        self.prompt_options: dict[str, str | None] = {"query": query_prompt, "candidate": candidate_prompt}
        self.prompt_name_options: dict[str, str | None] = {"query": query_prompt_name,
                                                           "candidate": candidate_prompt_name}
        for kind, flag in (("query", "--query-prompt"), ("candidate", "--candidate-prompt")):
            if self.prompt_options[kind] is not None and self.prompt_name_options[kind] is not None:
                raise MlbenchError(f"{flag} and {flag}-name both name the {kind} prompt; give one")
        self._applied: dict[str, str] | None = None
        self._prompt_names: dict[str, str | None] = {}
        self.normalize = normalize
        self.trust_remote_code = trust_remote_code
        # CPUs are fastest on small batches (attention cost grows with the padded length and the
        # working set leaves the cache); accelerators want large ones.
        on_cpu = self.device == "cpu"
        self.batch_tokens = batch_tokens or (2048 if on_cpu else 65536)
        self.max_batch = max_batch or (32 if on_cpu else 512)
        self._model: Any = loaded
        if loaded is not None:
            self._weights = _parameters_sha256(loaded)
            self._memo = None
            self._prepare(loaded)
        else:
            self._weights = weights_sha256(self.path)
            self._memo = _memo_path(self)

    @property
    def model(self) -> Any:
        """The SentenceTransformer, loaded on first use (see the module docstring)."""
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            m = SentenceTransformer(str(self.path), device=self.device, trust_remote_code=self.trust_remote_code,
                                    local_files_only=True)
            self._model = m
            self._prepare(m)
            self._remember(self._loaded_description())
        return self._model

    def _prepare(self, m: Any) -> None:
        """Length, precision and the prompts of a loaded model."""
        if self.max_seq_length_option:
            m.max_seq_length = self.max_seq_length_option
        if self.precision == "fp16":
            m.half()
        elif self.precision == "bf16":
            import torch

            m.to(torch.bfloat16)
        self._applied, self._prompt_names = {}, {}
        prompts = dict(getattr(m, "prompts", None) or {})
        default = getattr(m, "default_prompt_name", None)
        methods = hasattr(m, "encode_query")
        for kind, own in (("query", ("query",)), ("candidate", ("document", "passage", "corpus"))):
            given, named = self.prompt_options[kind], self.prompt_name_options[kind]
            if given is not None:
                self._applied[kind], self._prompt_names[kind] = given, None
                continue
            if named is not None:  # a prompt of the model's, by name (sentence-transformers' prompt_name)
                if named not in prompts:
                    raise MlbenchError(f"--{kind}-prompt-name {named!r}: {self.spec} has no such prompt (it has: "
                                       f"{', '.join(prompts) or 'none'})")
                self._applied[kind], self._prompt_names[kind] = prompts[named], named
                continue
            # encode_query / encode_document's choice, else encode()'s default prompt
            name = (next((n for n in own if n in prompts), None) if methods else None) or default
            self._applied[kind] = (prompts.get(name) or "") if name else ""
            self._prompt_names[kind] = name if name in prompts else None

    @property
    def prompts(self) -> dict[str, str]:
        """The prompt strings applied to queries and candidates (the model loads to know them)."""
        if self._applied is None:
            self.model
        assert self._applied is not None
        return self._applied

    def describe(self) -> dict[str, Any]:
        remembered = self._remembered() if self._model is None else None
        described = remembered if remembered is not None else self._loaded_description()
        return {**described, "spec": self.shown_spec} if self.shown_spec else described

    def _loaded_description(self) -> dict[str, Any]:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return {
            "type": "sentence-transformers", "name": self.name, "spec": self.spec,
            "revision": self.revision, "weights_sha256": self._weights,
            "prompts": self.prompts, "prompt_names": self._prompt_names,
            "max_seq_length": model.max_seq_length,
            "precision": self.precision, "normalize": self.normalize,
            "trust_remote_code": self.trust_remote_code,
            **({"truncate_dim": self.truncate_dim} if self.truncate_dim else {}),
            "dim": min(getter(), self.truncate_dim or getter()),
            "library": f"sentence-transformers {metadata.version('sentence-transformers')}",
        }

    def _remembered(self) -> dict[str, Any] | None:
        """The remembered description; None when there is none or it cannot be read (then the model
        loads and it is written again)."""
        if self._memo is None or not self._memo.is_file():
            return None
        try:
            return json.loads(self._memo.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def _remember(self, now: dict[str, Any]) -> None:
        """Remember the description of the model just loaded; a remembered one that differs would
        have keyed this run's cache wrongly, so it is removed and the run stopped."""
        if self._memo is None:
            return
        if self._memo.is_file():
            if self._remembered() != now:
                self._memo.unlink(missing_ok=True)
                raise MlbenchError(f"{self._memo}: the remembered description of {self.spec} differs from the "
                                   "loaded model's; it has been removed, run again")
            return
        try:
            write_json(self._memo, now)
        except OSError:
            pass  # a read-only MLBENCH_HOME: the model loads on every run

    def token_lengths(self, texts: Sequence[str], kind: Kind) -> list[int]:
        prompt = self.prompts[kind]
        enc = self.model.tokenizer([prompt + t for t in texts], add_special_tokens=True, truncation=True,
                                   max_length=self.model.max_seq_length)
        return [len(ids) for ids in enc["input_ids"]]

    def encode(self, texts: Sequence[str], kind: Kind, lang: str) -> np.ndarray:
        model = self.model
        # encode_query / encode_document (sentence-transformers >= 5) also pass the task to models
        # that route queries and documents differently; the prompt is given explicitly ("" = none)
        fn = getattr(model, "encode_query" if kind == "query" else "encode_document", None) or model.encode
        out = fn(list(texts), prompt=self.prompts[kind], batch_size=len(texts), convert_to_numpy=True,
                 normalize_embeddings=self.normalize, show_progress_bar=False, truncate_dim=self.truncate_dim)
        return np.asarray(out, dtype=np.float32)


def create(model: str, **kwargs: Any) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(model, **kwargs)


def is_sentence_transformer(obj: Any) -> bool:
    """Whether ``obj`` is a ``SentenceTransformer`` (without importing the library when it is not loaded)."""
    import sys

    module = sys.modules.get("sentence_transformers")
    return module is not None and isinstance(obj, module.SentenceTransformer)


def from_model(model: Any, name: str | None = None, **kwargs: Any) -> SentenceTransformerEncoder:
    """An mlbench encoder around a ``SentenceTransformer`` built in Python (``mlbench.run(cfg,
    model=st)``): its prompts are applied like any folder's, and its identity is a hash of its
    parameters (there is no folder to hash)."""
    label = name or getattr(getattr(model, "model_card_data", None), "model_name", None) or type(model).__name__
    return SentenceTransformerEncoder(label, name=label, loaded=model, **kwargs)


def _parameters_sha256(model: Any) -> str:
    """sha256 over the names, shapes, dtypes and bytes of a model's parameters and buffers."""
    import torch

    h = hashlib.sha256()
    for key, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{key}:{tuple(t.shape)}:{t.dtype}".encode())
        if t.numel():
            h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _memo_path(enc: SentenceTransformerEncoder) -> Path | None:
    """Where the description of this model with these options is remembered: a hash of every file
    of the folder (weights by their hash, the rest by content), the options and the versions of
    the libraries that build the model."""
    h = hashlib.sha256()
    try:
        for path in sorted(p for p in enc.path.rglob("*") if p.is_file()):
            h.update(str(path.relative_to(enc.path)).encode() + b"\0")
            if path.suffix not in WEIGHT_SUFFIXES:  # weights are in the description's own hash
                h.update(hash_files([path]).encode())
        versions = {pkg: metadata.version(pkg) for pkg in ("sentence-transformers", "transformers", "torch")}
    except (OSError, metadata.PackageNotFoundError):
        return None
    h.update(json.dumps({"spec": enc.spec, "revision": enc.revision, "weights": enc._weights, "name": enc.name,
                         "prompts": enc.prompt_options, "prompt_names": enc.prompt_name_options,
                         "truncate_dim": enc.truncate_dim,
                         "max_seq_length": enc.max_seq_length_option,
                         "precision": enc.precision, "normalize": enc.normalize,
                         "trust_remote_code": enc.trust_remote_code, "versions": versions},
                        sort_keys=True).encode())
    return mlbench_home() / "models" / f"{h.hexdigest()[:32]}.json"
