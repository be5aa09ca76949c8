"""In-memory form of a loaded task: queries, candidates and relevance, per language.

Ids are readable and stable: a query is ``{lang}/{question id}``, a candidate
``{lang}/p{paragraph:04d}/s{sentence}``. Relevance is by *group* (LAReQA's parallel question
``id``): every answer sentence, in every language, of the questions that share a group is
relevant to each of them. Candidates are not de-duplicated by text, as in LAReQA.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlbench.errors import MlbenchError
from mlbench.taskspec import TaskSpec

CANDIDATE_TEXT_MODES = ("sentence", "sentence+context")


@dataclass
class LangData:
    lang: str
    query_ids: list[str] = field(default_factory=list)
    query_groups: list[str] = field(default_factory=list)
    query_texts: list[str] = field(default_factory=list)
    cand_ids: list[str] = field(default_factory=list)
    cand_texts: list[str] = field(default_factory=list)
    cand_paragraph: list[int] = field(default_factory=list)  # index into paragraphs
    paragraphs: list[str] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)  # group -> candidate indices

    def candidate_texts(self, mode: str = "sentence") -> list[str]:
        """Text the encoder sees for each candidate. LAReQA encodes (sentence, context); a
        bi-encoder gets them joined by a newline so the sentence stays first and the cache key
        changes with the mode."""
        if mode == "sentence":
            return list(self.cand_texts)
        if mode == "sentence+context":
            return [f"{s}\n{self.paragraphs[p]}" for s, p in zip(self.cand_texts, self.cand_paragraph)]
        raise MlbenchError(f"unknown candidate text mode {mode!r} (known: {', '.join(CANDIDATE_TEXT_MODES)})")


@dataclass
class TaskData:
    spec: TaskSpec
    langs: dict[str, LangData]
    files: dict[str, dict[str, str]]  # lang -> {"origin", "sha256"}
    subset: dict[str, object] = field(default_factory=dict)  # how the data was cut, if at all

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.langs)

    def relevant(self, group: str, lang: str) -> list[int]:
        return self.langs[lang].answers.get(group, [])

    def n_candidates(self) -> int:
        return sum(len(d.cand_ids) for d in self.langs.values())

    def limit_queries(self, max_queries: int | None) -> None:
        """Keep the first N queries of each language (file order; parallel files keep the same ids)."""
        if not max_queries:
            return
        if max_queries < 0:
            raise MlbenchError(f"--max-queries must be positive, got {max_queries}")
        for d in self.langs.values():
            d.query_ids, d.query_groups, d.query_texts = (
                d.query_ids[:max_queries], d.query_groups[:max_queries], d.query_texts[:max_queries])
        self.subset["max_queries"] = max_queries
