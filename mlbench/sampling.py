"""Batch-sampling strategies for training multilingual dual encoders (arXiv 2408.10536).

Training data is parallel question answering (LAReQA's format): a question group has, in each of
its languages, the question and its answer sentence. A *pair* is (question in X, answer sentence
in Y) of one group. The strategies differ only in which languages a batch holds:

- **x-x** (monolingual batches): one language X per batch, drawn uniformly from the languages;
  every pair is (question in X, sentence in X).
- **x-y** (cross-lingual batches): one ordered language pair (X, Y), X != Y, per batch, drawn
  uniformly from the pairs; every pair is (question in X, sentence in Y).
- **hybrid**: each batch is an x-x batch with probability ``alpha`` (default 0.5), else an x-y
  batch.

With a contrastive loss over in-batch negatives, every other sentence of the batch is a negative
for a question. So a batch never holds a group twice: two pairs of one group would make a true
answer a "negative". Groups are drawn without replacement within a batch, uniformly among the
groups that exist in the batch's languages; a language (pair) with fewer groups than the batch
size cannot fill a batch and is never drawn (:attr:`BatchSampler.languages` and
:attr:`BatchSampler.language_pairs` say which remain).

Everything is drawn from one ``numpy`` generator seeded by ``seed``: the same data, strategy,
alpha, batch size and seed give the same batches, on any machine.

Use from your own training loop (sentence-transformers' loss, any model)::

    from mlbench.sampling import BatchSampler, ParallelPairs
    pairs = ParallelPairs.from_task("mlqa-r")
    for batch in BatchSampler(pairs, "hybrid", batch_size=32, alpha=0.5, seed=0).batches(1000):
        q = model.tokenize(["query: " + t for t in batch.queries])
        p = model.tokenize(["passage: " + t for t in batch.passages])
        loss = loss_fn([q, p], None)  # e.g. MultipleNegativesRankingLoss
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlbench.data.model import TaskData
from mlbench.errors import MlbenchError

STRATEGIES = ("x-x", "x-y", "hybrid")  # as result files and mlbench.json spell them
_ALIASES = {"xx": "x-x", "x-x": "x-x", "xy": "x-y", "x-y": "x-y", "hybrid": "hybrid"}


def parse_strategy(name: str) -> str:
    """``xx``/``x-x``, ``xy``/``x-y`` or ``hybrid``, in the spelling result files use."""
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise MlbenchError(f"unknown sampling strategy {name!r} (known: xx, xy, hybrid)")
    return _ALIASES[key]


def check_alpha(alpha: float) -> float:
    if not (0.0 <= float(alpha) <= 1.0):  # also refuses NaN
        raise MlbenchError(f"--alpha must lie in [0, 1], got {alpha}")
    return float(alpha)


@dataclass
class ParallelPairs:
    """Per language, the question and the answer sentence of each group.

    ``questions[lang][group]`` and ``answers[lang][group]`` are texts; a group is in a language
    when both are. ``source`` names the data (task, slice, file checksums) for provenance."""

    questions: dict[str, dict[str, str]]
    answers: dict[str, dict[str, str]]
    source: dict = field(default_factory=dict)

    @classmethod
    def from_task_data(cls, data: TaskData) -> ParallelPairs:
        """Pairs from a loaded parallel task. Where a question has several answer sentences in a
        language (never in LAReQA's files), the first one is its answer."""
        if not data.parallel:
            raise MlbenchError(f"task {data.spec.name} is not parallel across languages; "
                               "the sampling strategies need questions parallel by id")
        questions: dict[str, dict[str, str]] = {}
        answers: dict[str, dict[str, str]] = {}
        for lang, ld in data.langs.items():
            texts = dict(zip(ld.candidates.ids, ld.candidates.texts))
            q, a = {}, {}
            for text, group in zip(ld.queries.texts, ld.queries.groups):
                rel = [c for c, grade in (ld.judged.get(group) or {}).items() if grade >= data.level]
                if rel:
                    q[group], a[group] = text, texts[rel[0]]
            questions[lang], answers[lang] = q, a
        source = {"task": data.spec.name, "version": data.spec.version, "languages": list(data.langs),
                  "files": data.files, "subset": data.subset}
        return cls(questions, answers, source)

    @classmethod
    def from_task(cls, task: str, langs: list[str] | None = None, data_dir: Path | None = None,
                  tasks_dirs: list[Path] | None = None, **options) -> ParallelPairs:
        """Pairs of a task by name, found among the built-in tasks and ``tasks_dirs``."""
        from mlbench.data.loaders import load_task
        from mlbench.data.tasks import get_task

        return cls.from_task_data(load_task(get_task(task, tasks_dirs), langs, data_dir, **options))

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.questions))

    def groups(self, lang: str) -> list[str]:
        return sorted(self.questions[lang])

    def shared(self, x: str, y: str) -> list[str]:
        """Groups with a question in ``x`` and an answer in ``y``, in a fixed order."""
        return sorted(set(self.questions[x]) & set(self.answers[y]))

    def fingerprint(self) -> str:
        """A digest of every text, so a checkpoint's metadata pins its training data."""
        h = hashlib.sha256()
        for lang in self.languages:
            for g in self.groups(lang):
                h.update(json.dumps([lang, g, self.questions[lang][g], self.answers[lang][g]]).encode())
        return h.hexdigest()


@dataclass(frozen=True)
class Batch:
    """One training batch: ``kind`` is x-x or x-y; the i-th query pairs with the i-th passage."""

    index: int  # 0-based step
    kind: str  # x-x (one language on both sides) or x-y (a language pair)
    query_lang: str
    passage_lang: str  # == query_lang for x-x
    groups: tuple[str, ...]  # question ids, distinct within the batch (no false negatives)
    queries: tuple[str, ...]
    passages: tuple[str, ...]  # the answer sentence of each question, in passage_lang


class BatchSampler:
    """Seeded batches of one strategy over :class:`ParallelPairs` (see the module docstring)."""

    def __init__(self, pairs: ParallelPairs, strategy: str, batch_size: int = 32, alpha: float = 0.5,
                 seed: int = 0) -> None:
        self.strategy = parse_strategy(strategy)
        self.alpha = check_alpha(alpha) if self.strategy == "hybrid" else (1.0 if self.strategy == "x-x" else 0.0)
        if batch_size < 2:
            raise MlbenchError(f"--batch-size must be at least 2 (in-batch negatives), got {batch_size}")
        self.pairs, self.batch_size, self.seed = pairs, int(batch_size), int(seed)
        self._groups = {lang: pairs.shared(lang, lang) for lang in pairs.languages}
        self.languages = tuple(lang for lang, g in self._groups.items() if len(g) >= batch_size)
        self._shared = {(x, y): pairs.shared(x, y) for x in pairs.languages for y in pairs.languages if x != y}
        self.language_pairs = tuple(p for p, g in self._shared.items() if len(g) >= batch_size)
        if self.alpha > 0 and not self.languages:
            raise MlbenchError(f"no language has {batch_size} questions for an x-x batch; lower --batch-size")
        if self.alpha < 1 and not self.language_pairs:
            raise MlbenchError(f"no language pair shares {batch_size} questions for an x-y batch; "
                               "lower --batch-size or add languages")

    def batches(self, n: int) -> Iterator[Batch]:
        """The first ``n`` batches; the same every time for the same seed."""
        rng = np.random.default_rng(self.seed)
        for i in range(n):
            mono = self.alpha >= 1.0 or (self.alpha > 0.0 and rng.random() < self.alpha)
            if mono:
                x = y = self.languages[rng.integers(len(self.languages))]
                pool = self._groups[x]
            else:
                x, y = self.language_pairs[rng.integers(len(self.language_pairs))]
                pool = self._shared[(x, y)]
            picked = [pool[j] for j in rng.choice(len(pool), size=self.batch_size, replace=False)]
            yield Batch(i, "x-x" if mono else "x-y", x, y, tuple(picked),
                        tuple(self.pairs.questions[x][g] for g in picked),
                        tuple(self.pairs.answers[y][g] for g in picked))

    def describe(self) -> dict:
        return {"strategy": self.strategy, "alpha": self.alpha, "batch_size": self.batch_size, "seed": self.seed,
                "languages": list(self.languages), "language_pairs": [f"{x}>{y}" for x, y in self.language_pairs]}
