"""Scoring speed against the bare score product, in one process: prints the figures behind the
scoring row of docs/performance.md.

Scoring every setting of a task from cached embeddings (``mlbench.retrieval.exact.evaluate``:
score product, ranks of the relevant candidates, metrics, language-bias counts) is compared with
the bare float32 product of the same shapes (each query language's evaluated queries times the
candidates of every language its settings search), alternating the two ``--reps`` times so that
both see the same machine load. The target is scoring <= 1.3 x the bare product.

The embeddings come from the cache under MLBENCH_HOME (``--home``); texts missing from it are
encoded first, once, and the count is printed.

Usage: python benchmarks/bench_scoring.py [--model use-m3] [--task xquad-r] [--reps 7] [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="use-m3")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--chunk-rows", type=int, default=None, help="query rows scored at once (default: mlbench's)")
    ap.add_argument("--home", default=None, help="MLBENCH_HOME holding the embedding cache")
    args = ap.parse_args()
    if args.home:
        os.environ["MLBENCH_HOME"] = args.home
    import mlbench  # noqa: F401  (before numpy: it sets OPENBLAS_THREAD_TIMEOUT, as the command line does)
    import numpy as np

    from mlbench.data import load_task
    from mlbench.embedding.embed import embed
    from mlbench.encoders.base import Encoder
    from mlbench.encoders.registry import load_model
    from mlbench.retrieval.exact import DenseScores, evaluate
    from mlbench.task import enumerate_settings
    from mlbench.data.tasks import get_task

    spec = get_task(args.task)
    data = load_task(spec, data_dir=Path(args.data_dir) if args.data_dir else None)
    model = load_model(args.model)
    if not isinstance(model, Encoder):
        raise SystemExit(f"{args.model}: this benchmark measures dense encoders")
    vectors = embed(data, model, model.describe())  # the run's own path: cache first, encode the rest
    print(f"embeddings: {vectors.info['encoded']} texts encoded now, {vectors.info['from_cache']} from the cache")
    settings = enumerate_settings(data.languages, spec.kinds)
    queries, rows, candidates = vectors.queries, vectors.query_rows, vectors.candidates
    pools = {lang: np.ascontiguousarray(np.concatenate(
        [candidates[p] for p in data.languages
         if p in {q for s in settings if s.query_lang == lang for q in s.pool_langs(data.languages)}]))
        for lang in data.languages}
    flops = sum(2 * queries[lang].shape[0] * pools[lang].shape[0] * pools[lang].shape[1] for lang in data.languages)

    def bare() -> float:
        t = time.perf_counter()
        for lang in data.languages:
            queries[lang] @ pools[lang].T
        return time.perf_counter() - t

    def scoring() -> tuple[float, dict[str, float]]:
        clock: dict[str, float] = {}
        src = DenseScores(data, queries, candidates)
        t = time.perf_counter()
        evaluate(data, settings, src, rows, list(spec.metrics), chunk_rows=args.chunk_rows, clock=clock)
        return time.perf_counter() - t, clock

    scoring()  # compiles (or loads) the ranking kernel and warms the caches
    bare()
    b_s, s_s, p_s, r_s = [], [], [], []
    for i in range(args.reps):
        b = bare()
        s, clock = scoring()
        b_s.append(b)
        s_s.append(s)
        p_s.append(clock["scores_s"])
        r_s.append(clock["ranks_s"])
        print(f"rep {i + 1}: bare product {b:.3f} s   scoring {s:.3f} s (product {clock['scores_s']:.3f} s, "
              f"ranks {clock['ranks_s']:.3f} s)   ratio {s / b:.2f}")
    mb, ms = statistics.median(b_s), statistics.median(s_s)
    print(f"\n{args.task}, {args.model}: {len(settings)} settings, {sum(len(q) for q in queries.values())} queries, "
          f"{flops / 1e9:.0f} GFLOP of products")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}, OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT')}")
    print(f"median bare product   {mb:.3f} s ({flops / mb / 1e9:.0f} GFLOP/s)")
    print(f"median scoring        {ms:.3f} s (product {statistics.median(p_s):.3f} s, ranks "
          f"{statistics.median(r_s):.3f} s, metrics and the rest {ms - statistics.median(p_s) - statistics.median(r_s):.3f} s)")
    print(f"scoring / bare product: {ms / mb:.2f} (target <= 1.3: {'met' if ms / mb <= 1.3 else 'not met'})")


if __name__ == "__main__":
    main()
