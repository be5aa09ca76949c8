"""Corpus-scale retrieval: streamed passages, an on-disk embedding store, faiss search.

- ``store``: chunked, resumable, on-disk vectors keyed by doc id (one store per corpus selection
  and encoder fingerprint), read back by memory map one chunk at a time;
- ``search``: exact inner-product search with faiss over the store's chunks with a running top-k
  merge under trec_eval's tie rule, and approximate IVF / HNSW indexes measured against it;
- ``run``: the ``mlbench run`` path for tasks of format ``ir_datasets`` (MIRACL).
"""
