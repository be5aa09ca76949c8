"""mlbench inside other tools' loops: :mod:`mlbench.integrations.sentence_transformers` (an
evaluator for ``SentenceTransformerTrainer``). Imported explicitly, since each pulls in its library."""
