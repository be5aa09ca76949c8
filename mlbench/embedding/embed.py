"""The encode step of a run: every text a run needs, encoded once, from the data interface.

- Queries: the evaluated queries of every language (:meth:`TaskData.evaluated`) go through the
  text cache (:mod:`mlbench.embedding.cache`), keyed by text, so a second run encodes nothing.
- Candidates held in memory go through the same cache, in the same call (queries and candidates of
  each language in turn, every unique text once across all of them).
- Streamed candidates go, language by language, into an on-disk store keyed by doc id
  (:mod:`mlbench.embedding.store`), resumable chunk by chunk, never held in memory.
- Candidates are encoded by the run's engine (:mod:`mlbench.engines`): in this process (local),
  or by worker processes or Ray actors; the vectors are the same either way.

Every setting of the run is then scored from these vectors; nothing is encoded per setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.data.model import MemoryCandidates, StreamedCandidates, TaskData
from mlbench.embedding.cache import EmbeddingCache, MemoryCache, embed_texts
from mlbench.embedding.fill import build
from mlbench.embedding.store import DEFAULT_CHUNK_ROWS, VectorStore, store_folder
from mlbench.embedding.units import Engine
from mlbench.encoders.base import Encoder, fingerprint
from mlbench.home import shown_path, store_dir

ProgressStart = Callable[[str, int], Callable[[int], None]]


@dataclass
class Embeddings:
    queries: dict[str, np.ndarray]  # lang -> vectors of the evaluated queries, in the order of query_rows
    query_rows: dict[str, np.ndarray]  # lang -> indices of the evaluated queries
    candidates: dict[str, np.ndarray | VectorStore]  # in-memory pools: a matrix in pool order; streamed: a store
    info: dict[str, Any]  # the result's run.encoding


def embed(data: TaskData, encoder: Encoder, description: dict[str, Any], progress: ProgressStart | None = None,
          cache_dir: Path | None = None, stores_dir: Path | None = None,
          store_chunk_rows: int = DEFAULT_CHUNK_ROWS, engine: Engine | None = None, cache: bool = True) -> Embeddings:
    """``engine`` (:mod:`mlbench.engines`; default local) encodes the candidates: streamed ones
    chunk by chunk into the store, in-memory ones through the text cache (``cache=False``: a cache
    in memory only, nothing written). Queries are encoded here."""
    remote = engine if engine is not None and getattr(engine, "name", "local") != "local" else None
    fp = fingerprint(description)
    text_cache = EmbeddingCache(fp, description, cache_dir) if cache else MemoryCache()
    streamed = [lang for lang, d in data.langs.items() if isinstance(d.candidates, StreamedCandidates)]
    rows = {lang: data.evaluated(lang) for lang in data.query_langs}
    groups: dict[tuple[str, str], list[str]] = {}
    for lang, d in data.langs.items():
        if lang in rows:
            groups[("query", lang)] = [d.queries.texts[i] for i in rows[lang]]
        if isinstance(d.candidates, MemoryCandidates) and len(d.candidates):
            groups[("candidate", lang)] = d.candidates.texts
    label = f"encoding {data.spec.name}" + (" queries" if streamed else "")
    start = (lambda total: progress(label, total)) if progress else None
    emb, stats = embed_texts(encoder, text_cache, groups, start, engine=remote)
    candidates: dict[str, np.ndarray | VectorStore] = {
        lang: emb[("candidate", lang)] for lang in data.pool_langs if ("candidate", lang) in emb}
    info: dict[str, Any] = {"unique_texts": stats.unique, "from_cache": stats.cached, "encoded": stats.encoded,
                            "batches": stats.batches,
                            "cache_dir": shown_path(text_cache.dir) if text_cache.dir is not None else None, "fingerprint": fp}
    if streamed:
        root = Path(stores_dir or store_dir())
        passages: dict[str, Any] = {}
        for lang in streamed:
            cands: StreamedCandidates = data.langs[lang].candidates  # type: ignore[assignment]
            identity = {"corpus": cands.corpus, "selection": cands.selection, "doc_text": data.candidate_text,
                        "encoder_fingerprint": fp, "encoder": description}
            store = VectorStore(store_folder(root, cands.folder, cands.selection, fp), identity)
            st = build(store, cands.stream(), len(cands), encoder, lang, store_chunk_rows,
                       (lambda total, c=cands: progress(f"encoding {c.corpus} passages", total)) if progress else None,
                       where=cands.origin, engine=engine)
            candidates[lang] = store
            passages[lang] = {"passages": store.rows, "from_store": st.from_store, "encoded": st.encoded,
                              "chunks": len(store.chunks), "chunks_written": st.chunks_written,
                              "store": shown_path(store.dir)}
            info["batches"] += st.batches
        info.update({
            "unique_texts": stats.unique + sum(v["passages"] for v in passages.values()),
            "from_cache": stats.cached + sum(v["from_store"] for v in passages.values()),
            "encoded": stats.encoded + sum(v["encoded"] for v in passages.values()),
            "queries": {"unique": stats.unique, "from_cache": stats.cached, "encoded": stats.encoded},
            "passages": passages, "doc_text": data.candidate_text})
    return Embeddings({lang: emb[("query", lang)] for lang in data.query_langs}, rows, candidates, info)
