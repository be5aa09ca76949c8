"""Vendor published figures into the leaderboard: the tables of arXiv 2408.10536 and the LAReQA
README's mBERT baselines, from the transcription in ``../shared/data/published/``, as files of
``mlbench.published/1`` (read by :mod:`mlbench.results.published`).

    python benchmarks/vendor_published.py ../shared/data/published/2408.10536.json leaderboard

The figures are facts from the publications, kept with their citation; nothing is computed here
except the check that each table column's macro mean matches the paper's printed mean (the
transcription's own ``checks`` note says where it does not). mlbench never reads ../shared at run
time: these files are what the leaderboard shows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from mlbench.files import write_json
from mlbench.results.published import SCHEMA, read_published

# mlbench's alpha: the probability of an X-X batch (1 = X-X, 0 = X-Y); the paper's hybrid uses 0.5
ALPHA = {"x-x": 1.0, "x-y": 0.0, "hybrid": 0.5}
INIT = {"xlm-roberta-base": "XLM-R", "LaBSE": "LaBSE"}
RD_TABLE = {"xquad-r": "Table 7", "mlqa-r": "Table 8"}
PAPER_URL = "https://arxiv.org/abs/2408.10536"
LAREQA_URL = "https://github.com/google-research-datasets/lareqa"
# the LAReQA README's training variants, as sampling names (X-X-mono: X-X batches, monolingual pools)
LAREQA_SAMPLING = {"En-En": "en-en", "X-X": "x-x", "X-X-mono": "x-x-mono", "X-Y": "x-y"}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def paper(doc: dict, transcription: Path) -> dict:
    src = doc["source"]
    entries = []
    for e in doc["entries"]:
        init, sampling = e["init"], e["sampling"]
        per_lang = {kind: dict(values) for kind, values in e["per_query_language"].items()}
        per_lang["rank_distance"] = dict(e["rank_distance"]["per_query_language"])
        entries.append({
            "task": e["task"], "model": f"{INIT[init]} {sampling.upper() if sampling != 'hybrid' else 'hybrid'}",
            "base_model": init, "sampling": sampling, "alpha": ALPHA[sampling], "metric": e["metric"],
            "aggregates": {**e["table1_macro_map"], "rank_distance": e["table2_rank_distance"]},
            "aggregates_from": "Table 1 (mAP, printed to 3 decimals) and Table 2 (rank distance, printed as an integer)",
            "aggregation": "macro over query languages; cross = the mean over the other languages' pools",
            "per_language": per_lang,
            "per_language_from": {**{kind: e["source_table"] for kind in e["per_query_language"]},
                                  "rank_distance": e["rank_distance"]["source_table"]},
            "decimals": {"aggregates": 3, "rank_distance": 0, "per_language": 4, "per_language_rank_distance": 1},
        })
    return {
        "schema": SCHEMA, "key": "2408.10536",
        "source": {"citation": src["paper"], "url": PAPER_URL, "read_from": src["text_read"],
                   "tables": src["tables"], "protocol": src["protocol"], "caveat": src["caveat"],
                   "checks": src["checks"],
                   "transcription": f"{transcription.name} sha256 {_sha256(transcription)}"},
        "entries": entries,
    }


def lareqa(doc: dict, transcription: Path) -> dict:
    base = doc["lareqa_readme_baselines"]
    entries = []
    for task in ("xquad-r", "mlqa-r"):
        for variant, value in base[task].items():
            entries.append({
                "task": task, "model": f"mBERT {variant}", "base_model": "mBERT",
                "sampling": LAREQA_SAMPLING[variant], "alpha": None, "metric": "map",
                "aggregates": {"multi": value},
                "aggregates_from": "the README's results table (mAP, printed to 2 decimals)",
                "aggregation": "micro over all questions of all languages, each against the pool of all languages",
                "per_language": {}, "per_language_from": {},
                "decimals": {"aggregates": 2},
            })
    return {
        "schema": SCHEMA, "key": "LAReQA",
        "source": {"citation": "Roy, Constant, Al-Rfou, Barua, Phillips, Yang: LAReQA: Language-agnostic answer "
                               "retrieval from a multilingual pool. EMNLP 2020; baselines from the dataset's README",
                   "url": LAREQA_URL, "read_from": base["source"],
                   "caveat": "one figure per model and task: no per-language values, no per-query values",
                   "transcription": f"{transcription.name} sha256 {_sha256(transcription)}"},
        "entries": entries,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("transcription", type=Path, help="../shared/data/published/2408.10536.json")
    ap.add_argument("board", type=Path, help="the leaderboard folder")
    args = ap.parse_args()
    doc = json.loads(args.transcription.read_text(encoding="utf-8"))
    for name, made in (("published-2408.10536.json", paper(doc, args.transcription)),
                       ("published-lareqa.json", lareqa(doc, args.transcription))):
        out = args.board / name
        write_json(out, made)
        figures = read_published(out)  # the reader's checks, on what was written
        for e in figures.entries:
            for kind, want in e.aggregates.items():
                values = list(e.per_language.get(kind, {}).values())
                if values:
                    mean = sum(values) / len(values)
                    tol = 0.5 * 10 ** -e.decimals.get("rank_distance" if kind == "rank_distance" else "aggregates", 3)
                    flag = "" if abs(mean - want) <= tol + 1e-6 else "  (printed figure differs from the column mean)"
                    print(f"{e.task} {e.model:14} {kind:13} printed {want:<8g} column mean {mean:.4f}{flag}")
        print(f"wrote {out}: {len(figures.entries)} entries")


if __name__ == "__main__":
    main()
