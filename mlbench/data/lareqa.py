"""The ``lareqa`` loader (XQuAD-R, MLQA-R): SQuAD v1.1 json plus per-paragraph ``sentences`` and
``sentence_breaks``, from pinned, checksummed files (:mod:`mlbench.data.sources`).

A candidate is one sentence of one paragraph (not de-duplicated by text), id
``{lang}/p{paragraph:04d}/s{sentence}``, paragraphs numbered across the file. A question's id is
``{lang}/{question id}`` and its group the question id, shared by its translations; its answer
sentence is the one whose ``[start, end)`` span holds ``answer_start`` (LAReQA's rule). The task is
parallel: every answer sentence, in every language, of the questions of a group is relevant to each
of them. Malformed input is refused with the file and the item named, never repaired.

Options (:class:`LareqaOptions`): ``max_articles`` keeps the first N articles of every language
file (a small slice that stays parallel); ``candidate_text`` is what an encoder sees of a
candidate: the ``sentence``, or ``sentence+context``, the sentence and its paragraph joined by a
newline (LAReQA encodes the pair; the sentence stays first and the cache key changes with it).

Task option (a task file's ``[options]``, not a flag): ``articles = "36-47"`` keeps those articles
(0-based, ranges and commas) of every language file, before ``max_articles``. It declares splits
as task variants: ``xquad-r-train`` (articles 0-35) and ``xquad-r-heldout`` (36-47).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mlbench.data.loader import Loader, LoadRequest, Summary
from mlbench.data.model import LangData, MemoryCandidates, Queries, TaskData
from mlbench.data.sources import available_locally, fetch
from mlbench.errors import MlbenchError
from mlbench.options import OptionGroup
from mlbench.task import TaskSpec

CANDIDATE_TEXT_MODES = ("sentence", "sentence+context")


@dataclass
class LareqaOptions(OptionGroup):
    max_articles: int | None = None
    candidate_text: str = "sentence"

    FLAGS: ClassVar[dict[str, str]] = {"max_articles": "--max-articles", "candidate_text": "--candidate-text"}
    APPLIES_TO: ClassVar[str] = "LAReQA tasks (format lareqa)"

    def check(self) -> None:
        if self.max_articles is not None and self.max_articles <= 0:
            raise MlbenchError(f"--max-articles must be positive, got {self.max_articles}")
        if self.candidate_text not in CANDIDATE_TEXT_MODES:
            raise MlbenchError(f"--candidate-text {self.candidate_text!r} is not one of {', '.join(CANDIDATE_TEXT_MODES)}")


@dataclass
class ParsedFile:
    """One language file as LAReQA defines it: queries, sentences with their paragraphs, and the
    answer sentence (index) of each question id."""

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
        if mode == "sentence":
            return list(self.cand_texts)
        return [f"{s}\n{self.paragraphs[p]}" for s, p in zip(self.cand_texts, self.cand_paragraph)]

    def lang_data(self, mode: str, max_queries: int | None) -> LangData:
        n = max_queries or len(self.query_ids)
        queries = Queries(self.query_ids[:n], self.query_texts[:n], self.query_groups[:n])
        judged = {g: {self.cand_ids[j]: 1 for j in idx} for g, idx in self.answers.items()}
        return LangData(self.lang, queries, MemoryCandidates(list(self.cand_ids), self.candidate_texts(mode)), judged)


def _parse(raw: bytes, origin: str) -> dict:
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MlbenchError(f"{origin}: not valid JSON ({exc}); the file may be truncated") from None
    except RecursionError:
        raise MlbenchError(f"{origin}: not valid JSON (nested too deeply)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise MlbenchError(f"{origin}: field 'data' is missing or not a list (expected SQuAD json)")
    return doc


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _spans(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, list) and len(v) == 2 and all(type(x) is int for x in v) for v in value)


def parse_articles(text: object) -> list[int]:
    """``"0-35"``, ``"3,7,11-13"``: sorted article indices without repeats."""
    if not isinstance(text, str) or not text.strip():
        raise MlbenchError(f"articles {text!r} must be a string of indices and ranges, e.g. \"36-47\"")
    picked: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()) or (hi and int(hi) < int(lo)):
            raise MlbenchError(f"articles {text!r}: {part.strip()!r} is not an index or a range A-B with A <= B")
        picked.update(range(int(lo), int(hi or lo) + 1))
    return sorted(picked)


def parse_lang(doc: dict, lang: str, origin: str, max_articles: int | None = None,
               articles: list[int] | None = None) -> ParsedFile:
    out = ParsedFile(lang=lang)
    seen_groups: set[str] = set()
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise MlbenchError(f"{origin}: field 'data' is missing or not a list (expected SQuAD json)")
    chosen = doc["data"]
    if articles is not None:
        if articles[-1] >= len(chosen):
            raise MlbenchError(f"{origin}: article {articles[-1]} asked for, the file has {len(chosen)}")
        chosen = [chosen[i] for i in articles]
    articles = chosen[:max_articles] if max_articles else chosen
    where = origin
    try:
        for a_idx, article in enumerate(articles):
            where = f"{origin}: article {a_idx}"
            for p_local, para in enumerate(article["paragraphs"]):
                where = f"{origin}: article {a_idx} paragraph {p_local}"
                sentences, breaks = para["sentences"], para["sentence_breaks"]
                if not _strings(sentences) or not _spans(breaks) or not isinstance(para["context"], str):
                    raise MlbenchError(f"{where}: 'sentences' must be strings, 'sentence_breaks' [start, end] integer pairs and 'context' a string")
                if len(sentences) != len(breaks):
                    raise MlbenchError(f"{where}: {len(sentences)} sentences but {len(breaks)} sentence_breaks")
                p_idx = len(out.paragraphs)
                out.paragraphs.append(para["context"])
                first = len(out.cand_ids)
                for s_idx, sentence in enumerate(sentences):
                    out.cand_ids.append(f"{lang}/p{p_idx:04d}/s{s_idx}")
                    out.cand_texts.append(sentence)
                    out.cand_paragraph.append(p_idx)
                for q_local, qa in enumerate(para["qas"]):
                    where = f"{origin}: article {a_idx} paragraph {p_local} question {q_local}"
                    if not isinstance(qa["id"], (str, int)) or isinstance(qa["id"], bool):
                        raise MlbenchError(f"{where}: field 'id' must be a string or an integer")
                    group = str(qa["id"])
                    if group in seen_groups:
                        raise MlbenchError(f"{where}: duplicate question id {group!r}")
                    seen_groups.add(group)
                    start = qa["answers"][0]["answer_start"]
                    if type(start) is not int or not isinstance(qa["question"], str):
                        raise MlbenchError(f"{where}: 'answer_start' must be an integer and 'question' a string")
                    hits = [i for i, (b, e) in enumerate(breaks) if b <= start < e]
                    if not hits:
                        raise MlbenchError(f"{where}: answer_start {start} of question {group!r} lies in no sentence")
                    out.query_ids.append(f"{lang}/{group}")
                    out.query_groups.append(group)
                    out.query_texts.append(qa["question"])
                    out.answers.setdefault(group, []).append(first + hits[0])
    except MlbenchError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise MlbenchError(f"{where}: malformed LAReQA item ({type(exc).__name__}: {exc})") from None
    return out


def parse_file(raw: bytes, lang: str, origin: str, max_articles: int | None = None,
               articles: list[int] | None = None) -> ParsedFile:
    return parse_lang(_parse(raw, origin), lang, origin, max_articles, articles)


class LareqaLoader(Loader):
    format = "lareqa"
    options = LareqaOptions
    task_options = ("articles",)

    def check_task_options(self, options: dict[str, Any]) -> None:
        if "articles" in options:
            parse_articles(options["articles"])

    def slice(self, req: LoadRequest) -> dict[str, Any]:
        opts: LareqaOptions = req.options
        return {"max_articles": opts.max_articles, "candidate_text": opts.candidate_text}

    def load(self, req: LoadRequest) -> TaskData:
        opts: LareqaOptions = req.options
        langs: dict[str, LangData] = {}
        files: dict[str, dict[str, str]] = {}
        chosen = parse_articles(req.spec.options["articles"]) if "articles" in req.spec.options else None
        for lang in req.langs:
            f = fetch(req.spec, lang, req.data_dir)
            parsed = parse_file(f.data, lang, f.named, opts.max_articles, chosen)
            langs[lang] = parsed.lang_data(opts.candidate_text, req.max_queries)
            files[lang] = {"origin": f.origin, "sha256": f.sha256}
        subset: dict[str, object] = {}
        if chosen is not None:
            subset["articles"] = req.spec.options["articles"]
        if opts.max_articles:
            subset["max_articles"] = opts.max_articles
        if req.max_queries:
            subset["max_queries"] = req.max_queries
        return TaskData(spec=req.spec, langs=langs, answers="any", parallel=True, ids_name_language=True,
                        candidate_text=opts.candidate_text, source=req.spec.source.url, files=files, subset=subset)

    def summary(self, spec: TaskSpec, data_dir: Path | None) -> Summary:
        if not all(available_locally(spec, lang, data_dir) for lang in spec.languages):
            return Summary(None, None, "not downloaded (fetched on first run)")
        data = self.load(LoadRequest(spec, spec.languages, data_dir, None, LareqaOptions()))
        return Summary(sum(len(d.queries) for d in data.langs.values()), data.n_candidates(), spec.source.describe())


LOADER = LareqaLoader()
