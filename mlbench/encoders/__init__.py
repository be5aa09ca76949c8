"""Encoders (dense: text -> vector) and pool scorers (lexical: query x pool -> scores)."""

from mlbench.encoders.base import Encoder, PoolIndex, PoolScorer, fingerprint

__all__ = ["Encoder", "PoolIndex", "PoolScorer", "fingerprint"]
