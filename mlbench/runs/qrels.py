"""Qrels: the judgements of one setting, the one shape every part of mlbench reads them in.

``grades[query id][candidate id]`` is the judged grade of a candidate for a query, with ids as in
the setting's pool (``de/p0001/s3`` in a pool of all languages). Grades are integers: LAReQA and
MIRACL judge 1 (and MIRACL 0), NeuCLIR and HC4 judge 3, 1 and 0. ``level`` is trec_eval's ``-l``:
binary measures (mAP, recall, precision, success, MRR, the rank distance) count a candidate as
relevant when its grade is at least ``level``; nDCG uses the grades themselves as gains (trec_eval's
``ndcg_cut``, which ``-l`` does not change).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass
class Qrels:
    grades: dict[str, dict[str, int]] = field(default_factory=dict)
    level: int = 1

    def __len__(self) -> int:
        return len(self.grades)

    def of(self, qid: str) -> dict[str, int]:
        return self.grades.get(qid, {})

    def positive(self, qid: str) -> dict[str, int]:
        """The candidates judged above 0 (nDCG's gains), in id order."""
        return {d: g for d, g in sorted(self.of(qid).items()) if g > 0}

    def relevant(self, qid: str) -> set[str]:
        """The candidates binary measures count as relevant (grade >= level)."""
        return {d for d, g in self.of(qid).items() if g >= self.level}

    def subset(self, query_ids: Iterable[str]) -> Qrels:
        return Qrels({q: dict(self.of(q)) for q in query_ids}, self.level)

    def to_dict(self) -> dict[str, dict[str, int]]:
        """ranx's and pytrec_eval's shape."""
        return {q: dict(v) for q, v in self.grades.items()}

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Mapping[str, int]], level: int = 1) -> Qrels:
        """From a dict (or ranx ``Qrels.to_dict()``): query id -> candidate id -> grade."""
        return cls({str(q): {str(d): int(g) for d, g in v.items()} for q, v in mapping.items()}, level)

    @classmethod
    def binary(cls, relevant: Mapping[str, Iterable[str]]) -> Qrels:
        """Every listed candidate judged 1 (LAReQA's judgements)."""
        return cls({q: {d: 1 for d in docs} for q, docs in relevant.items()})
