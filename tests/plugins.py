"""Real encoders with one thing changed, loaded by the command line through ``--model
plugins:FACTORY`` (tests put this folder on PYTHONPATH):

- ``plugins:degraded``: the real use-m3 embeddings plus deterministic noise (seeded by each text),
  a checkpoint that got worse, for the regression-gate tests;
- ``plugins:slow``: use-m3 that takes ``delay`` seconds more per batch and describes itself as
  use-m3 (same cache), so that a run can be interrupted at a known point;
- ``plugins:dies_once``: use-m3 (same description, same cache and store) whose process exits
  at its first passage batch if it is the first to create the file ``marker``: one engine worker
  really dies mid-run, once;
- ``plugins:fails_after``: use-m3 whose encoder raises in every passage batch after its first
  ``chunks`` passage batches (one per chunk of 16 MIRACL passages): a run that stops mid-way.
"""

from __future__ import annotations

import hashlib
import os
import time

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


class Slow:
    def __init__(self, delay: float, threads: int | None = None) -> None:
        self.inner = usem3(threads)
        self.name, self.delay = self.inner.name, float(delay)
        self.batch_tokens, self.max_batch = self.inner.batch_tokens, self.inner.max_batch

    def describe(self) -> dict:
        return self.inner.describe()

    def encode(self, texts, kind, lang):
        time.sleep(self.delay)
        return self.inner.encode(texts, kind, lang)


def degraded(scale: float = 1.0) -> Noisy:
    return Noisy(scale)


def slow(delay: float = 0.3, threads: int | None = None) -> Slow:
    return Slow(delay, threads)


class DiesOnce(Slow):
    def __init__(self, marker: str, threads: int | None = None) -> None:
        super().__init__(0.0, threads)
        self.marker = marker

    def encode(self, texts, kind, lang):
        if kind == "candidate":
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os._exit(3)  # the process dies as if killed: no exception, no cleanup
        return self.inner.encode(texts, kind, lang)


def dies_once(marker: str, threads: int | None = None) -> DiesOnce:
    return DiesOnce(marker, threads)


class FailsAfter(Slow):
    def __init__(self, chunks: int, threads: int | None = None) -> None:
        super().__init__(0.0, threads)
        self.chunks, self.seen = int(chunks), 0

    def encode(self, texts, kind, lang):
        if kind == "candidate":
            if self.seen >= self.chunks:
                raise RuntimeError(f"simulated failure after {self.chunks} chunks")
            self.seen += 1
        return self.inner.encode(texts, kind, lang)


def fails_after(chunks: int, threads: int | None = None) -> FailsAfter:
    return FailsAfter(chunks, threads)
