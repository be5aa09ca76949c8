"""What a measure is and how it is computed, in one place: adding a measure is one registered
function here.

Every table, test, gate and plot asks a :class:`Metric` instead of keeping its own list of names,
directions or labels. Three families share the type:

- **retrieval measures** a user can ask for (``--metrics``, a task's ``metrics``), each a function
  of the judged ranks (:class:`mlbench.runs.JudgedRanks`) registered with :func:`measure`: ``map``,
  ``map@k``, ``recall@k``, ``precision@k``, ``success@k``, ``ndcg@k``, ``mrr@k`` (definitions and
  their trec_eval equivalents below and in docs/metrics.md);
- **trec_eval measures** mlbench does not compute itself, ``trec:NAME`` (``trec:P_5``,
  ``trec:bpref``): computed per query by pytrec_eval on an evaluated run (``mlbench evaluate``);
- **diagnostics** every multilingual setting records per query: ``rank_distance`` (max - min rank
  of a query's relevant candidates in the multilingual pool, lower is better), ``own_lang@c`` (share
  of the top c in the query's language; neither higher nor lower is better: the share
  ``own_lang_expected`` that relevance alone gives is the reference) and ``recall_vs_exact@k``
  (approximate search measured against exact search).

A candidate is *relevant* for the binary measures when its grade is at least the relevance level
(trec_eval ``-l``, default 1); R is the number of relevant candidates of the query in the
setting's pool; ``ranks`` is (queries x w), ascending per row, ``inf`` for a judged candidate not
retrieved and for padding, ``grades`` the aligned grades (0 in the padding).

``needs_full_ranking`` says whether a value needs the rank of every relevant candidate in the
whole pool (``map``, ``rank_distance``) or only the top ``cutoff`` of the ranking; a retrieval
backend that keeps only the top k can serve the latter alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlbench.errors import MlbenchError
from mlbench.metrics.peer import parse_peer
from mlbench.metrics.rank_correlation import parse_mrc

# cut-offs of the language-bias diagnostics in multilingual pools (share of the top c per language)
BIAS_CUTOFFS = (10, 100)
# the diagnostics' per-query keys, named here once
RANK_DISTANCE = "rank_distance"
OWN_LANG_EXPECTED = "own_lang_expected"
DEFAULT_METRICS = ("map", "recall@1", "recall@5", "recall@10", "recall@100", "ndcg@10", "mrr@10")
# what "better" means, in words (tables, reports)
READINGS = {"higher": "higher is better", "lower": "lower is better",
            "expected": "closer to the share expected from relevance alone is better"}

Compute = Callable[[np.ndarray, np.ndarray, int, "int | None"], np.ndarray]


@dataclass(frozen=True)
class Measure:
    """A retrieval measure: its name (``base``, then ``@k``), label, trec_eval name (``{k}`` for the
    cut-off), whether it takes a cut-off (``"required"``, ``"optional"``), whether it needs the
    whole ranking without one, and its per-query computation ``compute(ranks, grades, level, k)``."""

    base: str
    label: str
    trec: str
    cutoff: str
    full_without_cutoff: bool
    compute: Compute
    trec_cut: str = ""  # trec_eval's name with a cut-off, where it differs (map -> map_cut.{k})


REGISTRY: dict[str, Measure] = {}


def measure(base: str, label: str, trec: str, cutoff: str = "required", full_without_cutoff: bool = False,
            trec_cut: str = "") -> Callable[[Compute], Compute]:
    """Register a retrieval measure (see :class:`Measure`); the decorated function computes it."""
    def add(fn: Compute) -> Compute:
        REGISTRY[base] = Measure(base, label, trec, cutoff, full_without_cutoff, fn, trec_cut)
        return fn
    return add


def relevant_mask(grades: np.ndarray, level: int = 1) -> np.ndarray:
    return grades >= level


@measure("map", "mAP", "map", cutoff="optional", full_without_cutoff=True, trec_cut="map_cut.{k}")
def average_precision(ranks: np.ndarray, grades: np.ndarray, level: int, k: int | None) -> np.ndarray:
    """(1/R) * sum_i i / rank_i over the R relevant candidates by rank: trec_eval ``map`` over the
    full ranking; with k, the precisions of the top k only, still divided by R (``map_cut.k``, what
    trec_eval's ``map`` gives on a run cut at k)."""
    rel = relevant_mask(grades, level)
    pos = np.cumsum(rel, axis=1).astype(np.float64)  # the i of the i-th relevant candidate by rank
    kept = rel & (np.isfinite(ranks) if k is None else ranks <= k)
    return np.where(kept, pos / ranks, 0.0).sum(axis=1) / rel.sum(axis=1)


@measure("recall", "Recall", "recall.{k}")
def recall(ranks: np.ndarray, grades: np.ndarray, level: int, k: int | None) -> np.ndarray:
    """Relevant in the top k / R (trec_eval ``recall.k``)."""
    rel = relevant_mask(grades, level)
    return (rel & (ranks <= k)).sum(axis=1) / rel.sum(axis=1)


@measure("precision", "P", "P.{k}")
def precision(ranks: np.ndarray, grades: np.ndarray, level: int, k: int | None) -> np.ndarray:
    """Relevant in the top k / k (trec_eval ``P.k``: a ranking shorter than k still divides by k)."""
    return (relevant_mask(grades, level) & (ranks <= k)).sum(axis=1) / k


@measure("success", "Success", "success.{k}")
def success(ranks: np.ndarray, grades: np.ndarray, level: int, k: int | None) -> np.ndarray:
    """1 if a relevant candidate is in the top k, else 0 (trec_eval ``success.k``)."""
    return (relevant_mask(grades, level) & (ranks <= k)).any(axis=1).astype(np.float64)


@measure("ndcg", "nDCG", "ndcg_cut.{k}")
def ndcg(ranks: np.ndarray, grades: np.ndarray, level: int, k: int | None) -> np.ndarray:
    """Sum over the candidates in the top k of grade / log2(rank + 1), divided by the same sum for
    the ideal ranking (the judged grades in descending order, cut at k): trec_eval's
    ``ndcg_cut.k`` with its default gains, the grades themselves (binary judgements: gains 1);
    the relevance level does not change it, as ``-l`` does not change trec_eval's."""
    top = (grades > 0) & (ranks <= k)
    with np.errstate(divide="ignore"):
        gains = np.where(top, grades / np.log2(ranks + 1.0), 0.0).sum(axis=1)
    ideal_gains = -np.sort(-grades, axis=1)[:, :k].astype(np.float64)
    disc = 1.0 / np.log2(np.arange(2, ideal_gains.shape[1] + 2, dtype=np.float64))
    n_pos = (ideal_gains > 0).sum(axis=1)
    ideal = np.cumsum(ideal_gains * disc, axis=1)[np.arange(len(n_pos)), np.maximum(n_pos, 1) - 1]
    return gains / ideal


@measure("mrr", "MRR", "recip_rank (run cut at {k})")
def reciprocal_rank(ranks: np.ndarray, grades: np.ndarray, level: int, k: int | None) -> np.ndarray:
    """1/rank of the first relevant candidate if it is in the top k, else 0 (trec_eval
    ``recip_rank`` on a run cut at k)."""
    first = np.where(relevant_mask(grades, level), ranks, np.inf).min(axis=1)
    return np.where(first <= k, 1.0 / first, 0.0)


def own_lang(cutoff: int) -> str:
    """The per-query key of the own-language share of the top ``cutoff``."""
    return f"own_lang@{cutoff}"


def recall_vs_exact(k: int) -> str:
    """The per-query key of an approximate search's recall of exact search's top ``k``."""
    return f"recall_vs_exact@{k}"


def own_lang_cutoff(key: str) -> int | None:
    """The cut-off of an own-language key (``own_lang@10`` -> 10), else None."""
    head, sep, tail = key.partition("@")
    return int(tail) if sep and head == "own_lang" and tail.isdigit() else None


_NAME = re.compile(r"^([a-z_]+)(?:@(\d+))?$")
_TREC = re.compile(r"^trec:([A-Za-z][A-Za-z0-9_.]*)$")
_DIAGNOSTIC = re.compile(r"^(rank_distance|own_lang_expected|own_lang@(\d+)|recall_vs_exact@(\d+))$")
_DIAGNOSTIC_LABELS = {RANK_DISTANCE: "rank distance", "own_lang": "own-language share",
                      OWN_LANG_EXPECTED: "expected own-language share", "recall_vs_exact": "recall vs exact"}


def known() -> str:
    return (", ".join(m.base + ("@K" if m.cutoff == "required" else "[@K]") for m in REGISTRY.values())
            + ", peer@K[:wL=X...], mrc[@K], trec:NAME")


@dataclass(frozen=True)
class Metric:
    """One measure. ``better`` is ``higher``, ``lower`` or ``expected`` (closer to the share
    relevance alone gives is better: the own-language diagnostics)."""

    name: str
    base: str
    cutoff: int | None
    better: str
    needs_full_ranking: bool
    diagnostic: bool = False
    multilingual: bool = False  # measured only where a pool mixes languages (PEER, MRC)

    @property
    def higher_is_better(self) -> bool:
        return self.better == "higher"

    @property
    def label(self) -> str:
        """``map`` -> ``mAP``, ``ndcg@10`` -> ``nDCG@10``, ``trec:P_5`` as is."""
        if self.base == "trec":
            return self.name
        if self.multilingual:
            return self.base.upper() + self.name[len(self.base):]
        spec = REGISTRY.get(self.base)
        label = spec.label if spec is not None and not self.diagnostic else _DIAGNOSTIC_LABELS.get(self.base, self.base)
        return label + (f"@{self.cutoff}" if self.cutoff is not None else "")

    @property
    def trec_eval(self) -> str | None:
        """The trec_eval measure it equals (retrieval measures only)."""
        if self.base == "trec":
            return self.name[len("trec:"):]
        spec = REGISTRY.get(self.base)
        if spec is None or self.diagnostic:
            return None
        pattern = spec.trec_cut if self.cutoff is not None and spec.trec_cut else spec.trec
        return pattern.format(k=self.cutoff)

    def fits_depth(self, depth: int) -> bool:
        """Whether a ranking cut at ``depth`` gives this metric exactly."""
        return not self.needs_full_ranking and (self.cutoff is None or self.cutoff <= depth)


def metric(name: str) -> Metric:
    """The :class:`Metric` of a per-query key (a retrieval measure or a diagnostic)."""
    if not isinstance(name, str):
        raise MlbenchError(f"unknown metric {name!r} (known: {known()})")
    d = _DIAGNOSTIC.fullmatch(name)
    if d:
        base = name.split("@")[0]
        k = next((int(g) for g in d.groups()[1:] if g), None)
        better = {RANK_DISTANCE: "lower", "own_lang": "expected", OWN_LANG_EXPECTED: "expected"}.get(base, "higher")
        return Metric(name, base, k, better, base == RANK_DISTANCE, diagnostic=True)
    if _TREC.fullmatch(name):  # what trec_eval says of the run as given (an evaluated run's depth)
        return Metric(name, "trec", None, "higher", False)
    if name.startswith("peer@"):  # language fairness (mlbench.metrics.peer)
        k, _ = parse_peer(name)
        return Metric(name, "peer", k, "higher", False, multilingual=True)
    if name == "mrc" or name.startswith("mrc@"):  # rank correlation of parallel queries
        k = parse_mrc(name)
        return Metric(name, "mrc", k, "higher", k is None, multilingual=True)
    m = _NAME.fullmatch(name)
    spec = REGISTRY.get(m.group(1)) if m else None
    if spec is None or (m.group(2) is None and spec.cutoff == "required"):
        raise MlbenchError(f"unknown metric {name!r} (known: {known()})")
    k = int(m.group(2)) if m.group(2) is not None else None
    if k is not None and k <= 0:
        raise MlbenchError(f"metric {name!r}: the cutoff must be positive")
    return Metric(name, spec.base, k, "higher", spec.full_without_cutoff and k is None)


def measure_parameters(names: list[str]) -> dict[str, dict]:
    """What a result records of its parameterised measures (the run's ``measures``)."""
    out: dict[str, dict] = {}
    for name in names:
        m = metric(name)
        if m.base == "peer":
            _, weights = parse_peer(name)
            out[name] = {"k": m.cutoff, "weights": {str(k): v for k, v in weights.items()},
                         "definition": PEER_DEFINITION}
        elif m.base == "mrc":
            out[name] = {"k": m.cutoff, "definition": MRC_DEFINITION}
    return out


PEER_DEFINITION = ("PEER@k (Yang, Jaenich, Mayfield, Lawrie, SIGIR 2024) as the peer-measure 0.0.1 package computes "
                   "it: per relevance level a Kruskal-Wallis statistic of the top-k positions by language, relevant "
                   "documents below k sharing one tail rank; ranking under mlbench's tie rule")
MRC_DEFINITION = ("mean Spearman correlation of the rankings of the pool of all languages by a query and its parallel "
                  "queries in the other languages (Yang, Jiang, Baldwin, arXiv 2509.06195); @k: over the union of "
                  "the two top-k lists, others sharing a tail rank")


def compute(name: str, ranks: np.ndarray, grades: np.ndarray, level: int = 1) -> np.ndarray:
    """One retrieval measure for every query (float64 array), by its registered function."""
    m = metric(name)
    if ranks.shape[0] == 0:
        return np.zeros(0)
    return REGISTRY[m.base].compute(ranks, grades, level, m.cutoff)


def parse_metrics(names: list[str] | tuple[str, ...] | str | None) -> list[Metric]:
    """Retrieval measures a user asked for (a list, or a comma-separated string); diagnostics are
    recorded automatically and cannot be asked for."""
    if isinstance(names, str):
        names = [x.strip() for x in names.split(",") if x.strip()]
    out = []
    for name in names or []:
        m = metric(name)
        if m.diagnostic:
            raise MlbenchError(f"metric {name!r} is a diagnostic recorded with every multilingual setting; "
                               f"ask for one of {known()}")
        if m.base == "trec":
            raise MlbenchError(f"metric {name!r}: trec_eval measures are computed on evaluated runs "
                               "(mlbench evaluate --trec-measures)")
        out.append(m)
    return out
