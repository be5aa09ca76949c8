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
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise MlbenchError(f"{origin}: field 'data' is missing or not a list (expected SQuAD json)")
    return doc


def parse_lang(doc: dict, lang: str, origin: str, max_articles: int | None = None) -> LangData:
    out = LangData(lang=lang)
    seen_groups: set[str] = set()
    articles = doc["data"][:max_articles] if max_articles else doc["data"]
    try:
        for a_idx, article in enumerate(articles):
            for p_local, para in enumerate(article["paragraphs"]):
                where = f"{origin}: article {a_idx} paragraph {p_local}"
                sentences, breaks = para["sentences"], para["sentence_breaks"]
                if len(sentences) != len(breaks):
                    raise MlbenchError(f"{where}: {len(sentences)} sentences but {len(breaks)} sentence_breaks")
                p_idx = len(out.paragraphs)
                out.paragraphs.append(para["context"])
                first = len(out.cand_ids)
                for s_idx, sentence in enumerate(sentences):
                    out.cand_ids.append(f"{lang}/p{p_idx:04d}/s{s_idx}")
                    out.cand_texts.append(sentence)
                    out.cand_paragraph.append(p_idx)
                for qa in para["qas"]:
                    group = str(qa["id"])
                    if group in seen_groups:
                        raise MlbenchError(f"{where}: duplicate question id {group!r}")
                    seen_groups.add(group)
                    start = qa["answers"][0]["answer_start"]
                    hits = [i for i, (b, e) in enumerate(breaks) if b <= start < e]
                    if not hits:
                        raise MlbenchError(f"{where}: answer_start {start} of question {group!r} lies in no sentence")
                    out.query_ids.append(f"{lang}/{group}")
                    out.query_groups.append(group)
                    out.query_texts.append(qa["question"])
                    out.answers.setdefault(group, []).append(first + hits[0])
    except MlbenchError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise MlbenchError(f"{origin}: malformed LAReQA item ({type(exc).__name__}: {exc})") from None
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
