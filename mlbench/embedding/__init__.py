"""Embedding: the one encode loop (:mod:`~mlbench.embedding.batches`), the text-keyed cache
(:mod:`~mlbench.embedding.cache`), the doc-id-keyed corpus store (:mod:`~mlbench.embedding.store`)
and the encode step of a run over them (:mod:`~mlbench.embedding.embed`)."""

from mlbench.embedding.embed import Embeddings, embed

__all__ = ["Embeddings", "embed"]
