"""Units of work: what every engine runs, the code that runs one, and the local engine that runs
them in this process.

A :class:`Unit` is either a **store chunk** (``store`` and ``index`` set: the worker encodes the
chunk's passages, writes the chunk into the store folder with
:func:`mlbench.embedding.store.write_shard` and returns its record, which the driver verifies) or
a run of **planned batches** for the text cache (``batches`` set: the batches the driver planned
with :func:`mlbench.embedding.batches.plan_batches` over the whole group, so that every text is
encoded in the same batch as by the local engine; the vectors go back to the driver, which keeps
them in the cache). Either way the encoding goes through the one encode loop
(:func:`mlbench.embedding.batches.encode_batches`) and its checks. Worker processes and Ray actors
(:mod:`mlbench.engines`) run the same :func:`run_unit`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mlbench.embedding.batches import encode_batches
from mlbench.embedding.store import write_shard


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


class Engine(Protocol):
    """Where units run: this process (:class:`LocalEngine`), worker processes or Ray actors
    (:mod:`mlbench.engines`). Every run path types its engine with this protocol."""

    name: str

    def start(self) -> None: ...

    def run(self, units: Iterator[Unit], tick: Callable[[int], None]) -> Iterator[tuple[Unit, UnitResult]]:
        """Each unit with its result, in the order they finish (a bounded number in flight)."""

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class LocalEngine:
    """Units encoded in the run's own process by the model it loaded."""

    name = "local"

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self._fp = ""

    def start(self) -> None:
        pass

    def run(self, units: Iterator[Unit], tick: Callable[[int], None]) -> Iterator[tuple[Unit, UnitResult]]:
        for unit in units:
            yield unit, run_unit(self.encoder, unit, self._fp, tick)  # ticks every batch

    def describe(self) -> dict[str, Any]:
        return {"name": "local", "workers": 1, "devices": [getattr(self.encoder, "device", "cpu")]}

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
