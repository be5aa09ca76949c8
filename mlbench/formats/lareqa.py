"""LAReQA files (XQuAD-R, MLQA-R): SQuAD v1.1 json plus per-paragraph ``sentences`` and
``sentence_breaks``.

A candidate is one sentence of one paragraph. A question's answer sentence is the one whose
``[start, end)`` span holds ``answer_start`` (LAReQA's rule). Malformed input is refused with the
file and the item named, never repaired.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlbench.data import LangData, TaskData
from mlbench.errors import MlbenchError
from mlbench.sources import fetch
from mlbench.taskspec import TaskSpec


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


def parse_lang(doc: dict, lang: str, origin: str, max_articles: int | None = None) -> LangData:
    out = LangData(lang=lang)
    seen_groups: set[str] = set()
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise MlbenchError(f"{origin}: field 'data' is missing or not a list (expected SQuAD json)")
    articles = doc["data"][:max_articles] if max_articles else doc["data"]
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


def load(spec: TaskSpec, langs: tuple[str, ...], data_dir: Path | None, max_articles: int | None) -> TaskData:
    per_lang: dict[str, LangData] = {}
    files: dict[str, dict[str, str]] = {}
    for lang in langs:
        f = fetch(spec, lang, data_dir)
        per_lang[lang] = parse_lang(_parse(f.data, f.origin), lang, f.origin, max_articles)
        files[lang] = {"origin": f.origin, "sha256": f.sha256}
    subset = {"max_articles": max_articles} if max_articles else {}
    return TaskData(spec=spec, langs=per_lang, files=files, subset=subset)
