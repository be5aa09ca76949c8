"""Runs and qrels, the shapes every part of mlbench ranks and judges in: :class:`~mlbench.runs.run.Run`
(one setting's rankings), :class:`~mlbench.runs.qrels.Qrels` (its judgements),
:class:`~mlbench.runs.ranks.JudgedRanks` (where the judged candidates land, all a measure needs),
the tie rule (:mod:`~mlbench.runs.ties`) and TREC files in and out (:mod:`~mlbench.runs.trec`)."""

from mlbench.runs.qrels import Qrels
from mlbench.runs.ranks import JudgedRanks
from mlbench.runs.run import Run

__all__ = ["JudgedRanks", "Qrels", "Run"]
