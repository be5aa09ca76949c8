"""Filling a corpus store: the streamed corpus cut into chunks, each a unit of work for an engine.

A chunk already in the store is checked id by id against the corpus and skipped; every other one
is encoded (by the run's engine, :mod:`mlbench.engines`, or here) and written by whoever encoded
it (:func:`mlbench.embedding.units.run_unit`), then verified and accepted by the store. A stopped
run therefore resumes from its last whole chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mlbench.embedding.store import DEFAULT_CHUNK_ROWS, VectorStore
from mlbench.embedding.units import Engine, LocalEngine, Unit
from mlbench.errors import MlbenchError


@dataclass
class BuildStats:
    from_store: int = 0  # passages already in the store (checked by id, not encoded)
    encoded: int = 0
    batches: int = 0
    chunks_written: int = 0
    seconds: float = 0.0


def build(store: VectorStore, docs: Iterable[tuple[str, str]], n_total: int, encoder: Any, lang: str,
          chunk_rows: int = DEFAULT_CHUNK_ROWS, progress_start: Callable[[int], Callable[[int], None]] | None = None,
          where: str = "corpus", engine: Engine | None = None) -> BuildStats:
    """Fill ``store`` with the embeddings of ``docs`` ((doc id, text), streamed, ``n_total`` of them):
    the corpus is cut into chunks of the store's chunk size, a chunk already stored is checked id by
    id and skipped, every other one is a unit of work for ``engine`` (:mod:`mlbench.engines`;
    default: encoded here by ``encoder``), whose workers write it; each is verified when reported."""
    t0 = time.perf_counter()
    stats = BuildStats(from_store=store.rows)
    if chunk_rows <= 0:
        raise MlbenchError(f"store chunk rows must be positive, got {chunk_rows}")
    if store.complete:
        if store.rows != n_total:
            raise MlbenchError(f"{store.dir}: the store holds {store.rows} passages but the corpus selection has "
                               f"{n_total}; it was built from another corpus (delete the folder)")
        stats.seconds = time.perf_counter() - t0
        return stats
    if store.rows > n_total:
        raise MlbenchError(f"{store.dir}: the store holds {store.rows} passages, more than the {n_total} of the "
                           "corpus selection; it was built from another corpus (delete the folder)")
    rows = store.set_chunk_rows(chunk_rows)
    if engine is None:
        engine = LocalEngine(encoder)
    tick = progress_start(n_total - store.rows) if progress_start else (lambda n: None)
    it = iter(docs)
    seen = 0

    def units() -> Iterator[Any]:
        nonlocal seen
        index = 0
        while seen < n_total:
            batch = _take(it, min(rows, n_total - seen))
            if not batch:
                return
            ids = [d for d, _ in batch]
            chunk = store.done.get(index)
            if chunk is not None:  # stored: the corpus must still hold the same passages there
                stored = chunk.ids().tolist()
                got = [did.encode("utf-8") for did in ids]
                if got != stored:
                    pos = next((i for i, (g, s) in enumerate(zip(got, stored)) if g != s), min(len(got), len(stored)))
                    have = repr(stored[pos].decode("utf-8", "replace")) if pos < len(stored) else "nothing"
                    new = repr(got[pos].decode("utf-8", "replace")) if pos < len(got) else "the end of the corpus"
                    raise MlbenchError(f"{store.dir}: chunk {index} does not match the corpus (passage {chunk.offset + pos}: "
                                       f"{have} stored, {new} in {where}); the store was built from another corpus "
                                       "(delete the folder)")
            else:
                yield Unit("candidate", lang, [t for _, t in batch], ids=ids, store=str(store.dir), index=index,
                           offset=seen, what="passage", of=f" of chunk {index}")
            seen += len(batch)
            index += 1

    for unit, result in engine.run(units(), tick):
        store.accept(result.record, unit.ids)
        stats.encoded += len(unit.texts)
        stats.batches += result.batches
        stats.chunks_written += 1
    if seen != n_total or next(it, None) is not None:
        raise MlbenchError(f"{where}: {'more' if seen == n_total else seen} passages streamed but {n_total} were counted before; the corpus files "
                           "changed during the run")
    if store.rows != n_total or sorted(store.done) != list(range(len(store.done))):
        raise MlbenchError(f"{store.dir}: {store.rows} of {n_total} passages in {len(store.done)} chunks stored after "
                           "the run, not the whole corpus in consecutive chunks")
    store.mark_complete(store.dim)
    stats.seconds = time.perf_counter() - t0
    return stats


def _take(it: Iterator, n: int) -> list:
    out = []
    for item in it:
        out.append(item)
        if len(out) == n:
            break
    return out
