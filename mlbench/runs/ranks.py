"""Judged ranks: where each query's judged candidates land in its ranking, which is all a measure needs.

Every measure mlbench reports is a function of the ranks of the candidates judged above 0 (and
their grades), plus, in a pool of several languages, the language mix of the top of the ranking.
A backend that ranks a whole pool finds those ranks without sorting it (the exact kernel,
:mod:`mlbench.retrieval.fullrank`); a run cut at k gives them by lookup (:meth:`JudgedRanks.from_run`),
a judged candidate below the cut counting as not retrieved (rank ``inf``). Either way the numbers
come from one scorer, :func:`mlbench.metrics.score.score`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mlbench.runs.qrels import Qrels
from mlbench.runs.run import Run


@dataclass
class JudgedRanks:
    """``ranks`` (queries x w, float64): 1-based ranks of each query's candidates judged above 0,
    ascending, ``inf`` for one not retrieved and for padding; ``grades`` (int64, aligned, 0 in the
    padding). ``full``: the ranking covered the whole pool (every rank is known).

    In a pool of several languages (``langs``, in the pool's order): ``top_counts[c]`` (queries x
    languages) counts each language among the top c candidates, of ``top_sizes[c]`` in all (c, or
    fewer where the ranking is shorter), and ``own`` (aligned with ``ranks``) marks the judged
    candidates in the query's own language."""

    ranks: np.ndarray
    grades: np.ndarray
    full: bool
    langs: tuple[str, ...] = ()
    top_counts: dict[int, np.ndarray] = field(default_factory=dict)
    top_sizes: dict[int, int] = field(default_factory=dict)
    own: np.ndarray | None = None

    def __len__(self) -> int:
        return self.ranks.shape[0]

    @classmethod
    def from_run(cls, run: Run, qrels: Qrels, query_lang: str | None = None, langs: Sequence[str] = (),
                 cutoffs: Sequence[int] = ()) -> JudgedRanks:
        """The judged ranks of a run (its queries in order). With ``langs`` (a pool of several
        languages, ids as ``{lang}/…``) also the language mix of the top ``cutoffs`` and which
        judged candidates are in ``query_lang``."""
        n = len(run.query_ids)
        positive = [qrels.positive(q) for q in run.query_ids]
        width = max([1, *(len(p) for p in positive)])
        ranks = np.full((n, width), np.inf)
        grades = np.zeros((n, width), dtype=np.int64)
        own = np.zeros((n, width), dtype=bool) if langs else None
        prefix = f"{query_lang}/"
        for q, (row, judged) in enumerate(zip(run.ids.tolist(), positive)):
            found = [(pos + 1, d) for pos, d in enumerate(row) if d in judged]
            seen = {d for _, d in found}
            order = [d for _, d in found] + [d for d in judged if d not in seen]  # not retrieved: rank inf
            ranks[q, : len(found)] = [r for r, _ in found]
            grades[q, : len(order)] = [judged[d] for d in order]
            if own is not None:
                own[q, : len(order)] = [d.startswith(prefix) for d in order]
        out = cls(ranks, grades, run.full, own=own)
        if langs:
            out.langs = tuple(langs)
            k = run.ids.shape[1]
            for c in cutoffs:
                cut = min(c, k)
                if cut == 0:
                    continue
                head = run.ids[:, :cut]
                out.top_counts[c] = np.stack([np.char.startswith(head, f"{p}/").sum(axis=1) for p in langs], axis=1)
                out.top_sizes[c] = cut
        return out
