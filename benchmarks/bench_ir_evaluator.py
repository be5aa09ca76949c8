"""mlbench's evaluator against sentence-transformers' own ``InformationRetrievalEvaluator`` on the
same XQuAD-R slice and model: the figures they share, setting by setting, and what each costs.

    python benchmarks/bench_ir_evaluator.py [--model minilm] [--langs ar,de,en,zh] [--max-articles 4]

sentence-transformers' evaluator scores one query set against one corpus, so the slice's settings
(mono X->X, cross X->Y, the multilingual pool X->*) become one ``InformationRetrievalEvaluator``
each, run together by a ``SequentialEvaluator``, as a user would have to build them. Printed: per
kind the largest difference of nDCG@10 and MRR@10 (the measures both compute, at the same cutoff)
and of mAP (mlbench ranks the whole pool; sentence-transformers' MAP@100 stops at rank 100), the
texts each encodes and the seconds each call takes, alternated A B A B in one process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def _st_figure(figures: dict[str, float], prefix: str, measure: str) -> float:
    """sentence-transformers' key for a measure (cosine is the model's similarity here)."""
    hits = [v for k, v in figures.items() if k.startswith(prefix) and k.endswith(measure)]
    assert len(hits) == 1, (prefix, measure, sorted(figures)[:6])
    return float(hits[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--langs", default="ar,de,en,zh")
    ap.add_argument("--max-articles", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    from sentence_transformers import SentenceTransformer
    from sentence_transformers.evaluation import InformationRetrievalEvaluator, SequentialEvaluator

    from mlbench.encoders.registry import st_folder
    from mlbench.integrations.sentence_transformers import MlbenchEvaluator
    from mlbench.task import ALL

    model = SentenceTransformer(st_folder(args.model), device="cpu")
    ours = MlbenchEvaluator(task="xquad-r", langs=args.langs, max_articles=args.max_articles,
                            metrics="map,ndcg@10,mrr@10")
    data = ours.loaded.data
    evaluators, names, encoded = [], [], 0
    for s in ours.loaded.settings:
        q = data.langs[s.query_lang].queries
        rows = data.evaluated(s.query_lang)
        pools = list(data.langs) if s.pool == ALL else [s.pool]
        corpus = {data.pool_id(p, c): t for p in pools
                  for c, t in zip(data.langs[p].candidates.ids, data.langs[p].candidates.texts)}
        queries = {q.ids[i]: q.texts[i] for i in rows}
        relevant = {q.ids[i]: {data.pool_id(p, c) for p in pools
                               for c, g in (data.langs[p].judged.get(q.groups[i]) or {}).items() if g >= data.level}
                    for i in rows}
        name = s.id.replace(">", "_to_").replace("*", "all")
        evaluators.append(InformationRetrievalEvaluator(queries, corpus, relevant, name=name, write_csv=False,
                                                        mrr_at_k=[10], ndcg_at_k=[10], map_at_k=[100],
                                                        accuracy_at_k=[1], precision_recall_at_k=[10]))
        names.append((s, name))
        encoded += len(queries) + len(corpus)
    theirs = SequentialEvaluator(evaluators)

    def call_ours() -> tuple[float, dict]:
        t0 = time.perf_counter()
        ours(model)
        return time.perf_counter() - t0, {s.id: s.metrics for s in ours.last.settings}

    def call_theirs() -> tuple[float, dict]:
        t0 = time.perf_counter()
        out = theirs(model)
        return time.perf_counter() - t0, out

    call_ours()  # warm both once
    call_theirs()
    a, b = [], []
    for _ in range(args.rounds):
        ta, mine = call_ours()
        tb, figs = call_theirs()
        a.append(ta)
        b.append(tb)
    worst: dict[tuple[str, str], float] = {}
    for s, name in names:
        for ours_key, their_key in (("ndcg@10", "ndcg@10"), ("mrr@10", "mrr@10"), ("map", "map@100")):
            d = abs(mine[s.id][ours_key] - _st_figure(figs, name + "_", their_key))
            worst[(s.kind, ours_key)] = max(worst.get((s.kind, ours_key), 0.0), d)
    unique = ours.last.run.encoding or {}
    load = os.getloadavg()
    print(f"model {args.model}, xquad-r langs {args.langs} max_articles {args.max_articles}: {len(names)} settings; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"mlbench: {unique.get('unique_texts')} unique texts encoded per call; sentence-transformers: "
          f"{encoded} texts per call ({len(evaluators)} InformationRetrievalEvaluators)")
    print(f"seconds per call: mlbench {' '.join(f'{x:.2f}' for x in a)} (median {statistics.median(a):.2f}), "
          f"sentence-transformers {' '.join(f'{x:.2f}' for x in b)} (median {statistics.median(b):.2f}), "
          f"ratio {statistics.median(b) / statistics.median(a):.2f}")
    for (kind, measure), d in sorted(worst.items()):
        print(f"{kind:5} {measure:8} largest |mlbench - sentence-transformers| = {d:.2e}")


if __name__ == "__main__":
    main()
