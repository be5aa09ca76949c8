"""Full XQuAD-R benchmark: prints the figures behind docs/performance.md.

1. `mlbench run` end to end on a fresh cache, in a subprocess: wall time, the time spent encoding
   the unique texts once (from the result file), and peak RSS.
2. From the cached embeddings: scoring + all metrics for the 132 settings (``evaluate``).
3. The same scores turned into full runs (every candidate of every pool) and scored by
   pytrec_eval, setting by setting; its per-query AP is checked against ours.

Usage: python benchmarks/bench_xquad.py [--model use-m3] [--pytrec-settings N]
(N limits the pytrec_eval path to the first N settings of each kind; default: all 132.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="use-m3")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--pytrec-settings", type=int, default=None)
    args = ap.parse_args()
    from mlbench.encoders.base import Encoder
    from mlbench.encoders.registry import load_model

    if not isinstance(load_model(args.model), Encoder):
        sys.exit(f"{args.model}: this benchmark measures dense encoders (it reads their embedding cache)")
    home = Path(tempfile.mkdtemp(prefix="mlbench-bench-"))
    env = {**os.environ, "MLBENCH_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "mlbench.cli", "run", "--model", args.model, "--task", args.task,
           "--out", str(home / "out")] + (["--data-dir", args.data_dir] if args.data_dir else [])
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    (result,) = (home / "out").glob("*.json")
    doc = json.loads(result.read_text())
    enc_s = doc["run"]["timings_s"]["encode_s"]

    # 2. scoring + metrics from the cache, in this process
    os.environ["MLBENCH_HOME"] = str(home)
    from mlbench.data import load_task
    from mlbench.embedding.embed import embed
    from mlbench.retrieval.exact import DenseScores, evaluate, score_chunks
    from mlbench.task import enumerate_settings
    from mlbench.data.tasks import get_task

    spec = get_task(args.task)
    data = load_task(spec, data_dir=Path(args.data_dir) if args.data_dir else None)
    model = load_model(args.model)
    vectors = embed(data, model, model.describe())
    assert vectors.info["encoded"] == 0, "the cache should hold every text after the run"
    settings = enumerate_settings(data.languages, spec.kinds)
    src = DenseScores(data, vectors.queries, vectors.candidates)
    t = time.perf_counter()
    results = evaluate(data, settings, src, vectors.query_rows, list(spec.metrics))
    score_s = time.perf_counter() - t

    # 3. pytrec_eval on full runs built from the same scores
    import pytrec_eval

    chosen = settings
    if args.pytrec_settings:
        chosen = [s for kind in ("mono", "cross", "multi") for s in [x for x in settings if x.kind == kind][: args.pytrec_settings]]
    measures = {"map", "recall.1,5,10,100", "ndcg_cut.10"}
    by_id = {r.setting.id: r for r in results}
    t = time.perf_counter()
    worst = 0.0
    offsets = np.cumsum([0] + [len(data.langs[p].candidates) for p in data.languages])
    col = {p: (int(offsets[i]), int(offsets[i + 1])) for i, p in enumerate(data.languages)}
    all_ids = [i for p in data.languages for i in data.langs[p].candidates.ids]
    current: tuple[str, np.ndarray] | None = None
    for s in chosen:
        # the very scores mlbench ranks: its chunked query x all-candidates product, sliced per pool
        # (a separately shaped matmul may round the last float32 bit differently)
        if current is None or current[0] != s.query_lang:
            (group,) = src.groups(s.query_lang, [x for x in settings if x.query_lang == s.query_lang])
            n = len(data.langs[s.query_lang].queries)
            # (each chunk copied: the scores live in a buffer that the next chunk reuses)
            current = (s.query_lang, np.concatenate([group.scores(rows).copy()
                                                     for rows in score_chunks(n, len(all_ids))]))
        lo, hi = (0, len(all_ids)) if s.pool == "*" else col[s.pool]
        ids = all_ids[lo:hi]
        qd = data.langs[s.query_lang].queries
        scores = current[1][:, lo:hi]
        r = by_id[s.id]
        row_of = {q: i for i, q in enumerate(qd.ids)}
        qrels, run = {}, {}
        for qid, g in zip(r.query_ids, r.groups):
            qrels[qid] = {c: 1 for c in data.relevant_in_pool(s, g)}
            run[qid] = dict(zip(ids, scores[row_of[qid]].tolist()))
        ev = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
        worst = max(worst, max(abs(ev[q]["map"] - v) for q, v in zip(r.query_ids, r.per_query["map"])))
    pytrec_s = time.perf_counter() - t
    scale = len(settings) / len(chosen)

    n_texts = doc["run"]["encoding"]["unique_texts"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, python {platform.python_version()}")
    print(f"task {args.task}, model {args.model}: {len(settings)} settings, {n_texts} unique texts")
    print(f"encode unique texts once           {enc_s:9.1f} s  ({n_texts / enc_s:.0f} texts/s)")
    print(f"mlbench run end to end (fresh)     {wall:9.1f} s  ({wall / enc_s:.3f} x encode-once; target <= 1.05)")
    print(f"scoring + all metrics (cached)     {score_s:9.2f} s  (target <= 3 s)")
    label = "" if scale == 1 else f"  (measured on {len(chosen)} settings, scaled x{scale:.1f})"
    print(f"same via full runs + pytrec_eval   {pytrec_s * scale:9.1f} s{label}  -> {pytrec_s * scale / score_s:.0f}x slower (target >= 10x)")
    print(f"max |AP ours - AP pytrec_eval|     {worst:9.2e}")
    print(f"peak RSS of mlbench run            {peak_mb:9.0f} MB  (target <= 1536 MB)")


if __name__ == "__main__":
    main()
