"""What every engine runs: units of work, the code a worker runs on one unit, and the worker's
own model.

A :class:`Unit` is either a **store chunk** (``store`` and ``index`` set: the worker encodes the
chunk's passages, writes the chunk into the store folder with
:func:`mlbench.embedding.store.write_shard` and returns its record, which the driver verifies) or
a run of **planned batches** for the text cache (``batches`` set: the batches the driver planned
with :func:`mlbench.embedding.batches.plan_batches` over the whole group, so that every text is
encoded in the same batch as by the local engine; the vectors go back to the driver, which keeps
them in the cache). Either way the encoding goes through the one encode loop
(:func:`mlbench.embedding.batches.encode_batches`) and its checks.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class Unit:
    kind: str
    lang: str
    texts: list[str]
    ids: list[str] | None = None  # a store chunk's doc ids
    store: str | None = None  # a store chunk: the store folder, the chunk's index and first row
    index: int = 0
    offset: int = 0
    batches: list[np.ndarray] | None = None  # planned batches (indices into texts)
    what: str | None = None
    of: str = ""


@dataclass
class UnitResult:
    batches: int
    worker: str  # host:pid
    fingerprint: str  # of the worker's model description
    vectors: np.ndarray | None = None  # planned batches: (len(texts), dim), in the unit's text order
    record: dict[str, Any] | None = None  # a store chunk: the record the worker wrote


def run_unit(encoder: Any, unit: Unit, fingerprint: str, tick: Callable[[int], None] | None = None) -> UnitResult:
    """Encode one unit with ``encoder`` (the worker's model) and write or return its vectors."""
    from mlbench.embedding.batches import encode_batches
    from mlbench.embedding.store import write_shard

    out: np.ndarray | None = None
    n = 0
    for idx, vecs in encode_batches(encoder, unit.texts, unit.kind, unit.lang, None, what=unit.what, of=unit.of,  # type: ignore[arg-type]
                                    batches=unit.batches):
        if out is None:
            out = np.empty((len(unit.texts), vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
        n += 1
        if tick:
            tick(len(idx))
    if out is None:
        out = np.zeros((0, 0), dtype=np.float32)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    if unit.store is not None:
        record = write_shard(unit.store, unit.index, unit.offset, unit.ids or [], out)
        return UnitResult(n, worker, fingerprint, record=record)
    return UnitResult(n, worker, fingerprint, vectors=out)


def limit_threads(n: int) -> None:
    """At most ``n`` compute threads in this (worker) process: the BLAS and OpenMP variables (read
    when those libraries load) and torch's intra-op threads when torch is loaded."""
    for var in THREAD_VARIABLES:
        os.environ[var] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


class Worker:
    """A worker's model, built from the run's ``--model`` spec and encoder options (the worker
    never receives the driver's model object), and its description's fingerprint. A plugin
    factory that takes ``threads`` (use-m3) gets the worker's CPUs unless ``--encoder-arg`` sets it."""

    def __init__(self, model_spec: str, encoder_options: Any, device: str | None, threads: int) -> None:
        limit_threads(threads)
        from dataclasses import replace

        from mlbench.encoders.base import fingerprint
        from mlbench.encoders.registry import factory_parameters, load_model

        options = replace(encoder_options, device=device) if device else encoder_options
        if "threads" in factory_parameters(model_spec) and "threads" not in options.args:
            options = replace(options, args={**options.args, "threads": threads})  # e.g. use-m3's own thread pool
        self.encoder = load_model(model_spec, options)
        limit_threads(threads)  # torch may have been imported by the model
        self.fingerprint = fingerprint(self.encoder.describe())
        self.device = device or getattr(self.encoder, "device", "cpu")

    def run(self, unit: Unit) -> UnitResult:
        return run_unit(self.encoder, unit, self.fingerprint)


class Engine(Protocol):
    name: str

    def start(self) -> None: ...

    def run(self, units: Iterator[Unit], tick: Callable[[int], None]) -> Iterator[tuple[Unit, UnitResult]]:
        """Each unit with its result, in the order they finish (a bounded number in flight)."""

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def device_plan(devices: list[str] | None, workers: int) -> list[str | None]:
    """The device of each worker: the devices in turn, or None (the encoder's own choice)."""
    return [devices[i % len(devices)] if devices else None for i in range(workers)]


def check_fingerprint(result: UnitResult, expected: str, where: str) -> None:
    from mlbench.errors import MlbenchError

    if result.fingerprint != expected:
        raise MlbenchError(f"{where}: worker {result.worker} built a model whose description differs from the "
                           f"driver's (fingerprint {result.fingerprint} != {expected}); install the same mlbench, "
                           "model and library versions on every worker")
