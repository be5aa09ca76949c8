"""A degraded encoder for the regression-gate tests, loaded through `--model degraded:create`:
the real use-m3 embeddings plus deterministic noise (seeded by each text), so a checkpoint that
got worse can be simulated with a real model."""

from __future__ import annotations

import hashlib

import numpy as np

from mlbench.encoders.usem3 import create as usem3


class Noisy:
    def __init__(self, scale: float) -> None:
        self.inner = usem3()
        self.scale = float(scale)
        self.name = f"use-m3+noise{self.scale:g}"

    def describe(self) -> dict:
        return {**self.inner.describe(), "name": self.name, "noise": self.scale}

    def encode(self, texts, kind, lang):
        emb = self.inner.encode(texts, kind, lang)
        noise = np.stack([np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little"))
                          .standard_normal(emb.shape[1]) for t in texts])
        return (emb + self.scale * noise / np.sqrt(emb.shape[1])).astype(np.float32)


def create(scale: float = 1.0) -> Noisy:
    return Noisy(scale)
