"""sentence-transformers models: a hub id or a local folder.

A hub id is resolved to a local snapshot first (``huggingface_hub.snapshot_download``, which
honours ``HF_HUB_OFFLINE``), so the exact revision and a hash of the weights land in results.
Remote code stays off unless asked for. Query and candidate prompts are prefixes (E5 uses
``query: `` / ``passage: ``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.encoders.base import Kind
from mlbench.encoders.checkpoint import weights_sha256
from mlbench.errors import MlbenchError


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
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

    def __init__(self, model: str, *, name: str | None = None, query_prompt: str = "", candidate_prompt: str = "",
                 max_seq_length: int | None = None, batch_tokens: int | None = None, max_batch: int | None = None,
                 device: str = "auto", precision: str = "auto", normalize: bool = True,
                 trust_remote_code: bool = False, revision: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.spec = model
        self.path, self.revision = resolve_model_path(model, revision)
        self.device = resolve_device(device)
        if precision == "auto":
            precision = "fp16" if self.device == "cuda" else "fp32"
        if precision not in ("fp32", "fp16", "bf16"):
            raise MlbenchError(f"--precision {precision!r} is not one of fp32, fp16, bf16")
        self.precision = precision
        self.model = SentenceTransformer(str(self.path), device=self.device, trust_remote_code=trust_remote_code,
                                         local_files_only=True)
        if max_seq_length:
            self.model.max_seq_length = max_seq_length
        if precision == "fp16":
            self.model.half()
        elif precision == "bf16":
            import torch

            self.model.to(torch.bfloat16)
        self.name = name or model
        self.prompts = {"query": query_prompt, "candidate": candidate_prompt}
        self.normalize = normalize
        self.trust_remote_code = trust_remote_code
        # CPUs are fastest on small batches (attention cost grows with the padded length and the
        # working set leaves the cache); accelerators want large ones.
        on_cpu = self.device == "cpu"
        self.batch_tokens = batch_tokens or (2048 if on_cpu else 65536)
        self.max_batch = max_batch or (32 if on_cpu else 512)
        self._weights = weights_sha256(self.path)

    def describe(self) -> dict[str, Any]:
        import sentence_transformers

        return {
            "type": "sentence-transformers", "name": self.name, "spec": self.spec,
            "revision": self.revision, "weights_sha256": self._weights,
            "prompts": self.prompts, "max_seq_length": self.model.max_seq_length,
            "precision": self.precision, "normalize": self.normalize,
            "trust_remote_code": self.trust_remote_code,
            "dim": self._dim(),
            "library": f"sentence-transformers {sentence_transformers.__version__}",
        }

    def _dim(self) -> int | None:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return getter()

    def token_lengths(self, texts: Sequence[str], kind: Kind) -> list[int]:
        prompt = self.prompts[kind]
        enc = self.model.tokenizer([prompt + t for t in texts], add_special_tokens=True, truncation=True,
                                   max_length=self.model.max_seq_length)
        return [len(ids) for ids in enc["input_ids"]]

    def encode(self, texts: Sequence[str], kind: Kind, lang: str) -> np.ndarray:
        prompt = self.prompts[kind]
        out = self.model.encode([prompt + t for t in texts], batch_size=len(texts), convert_to_numpy=True,
                                normalize_embeddings=self.normalize, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)


def create(model: str, **kwargs: Any) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(model, **kwargs)
