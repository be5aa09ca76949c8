"""How much tie breaking matters: trec_eval (pytrec_eval) against ranx and ir_measures on the same
TREC runs, per setting.

    mlbench run -m bm25 --keep-rankings 100 -o results          # full XQuAD-R, top 100 kept
    mlbench export results/xquad-r--bm25.json --format trec --out runs/bm25
    python benchmarks/bench_ties.py runs/bm25                  # cross-lingual settings, nDCG@10

For every ``*.run`` file (with its ``.qrels``) of the chosen kind, the mean nDCG@10 (and MRR@10)
of trec_eval's rule (score desc, then docno desc; pytrec_eval), ranx (``ranx.evaluate``) and
ir_measures (``ir_measures.calc_aggregate``) on the same run; prints the settings with the largest
differences, how many queries have a tie at rank 10, and the largest difference over all
settings. mlbench follows trec_eval, so its figures are the pytrec_eval column.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def read(path: Path, cols: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if cols == 6:
            out.setdefault(parts[0], {})[parts[2]] = float(parts[4])
        else:
            out.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return out


def trec_order(docs: dict[str, float]) -> list[str]:
    """trec_eval's order: score desc, then docno desc (strcmp)."""
    by_id = sorted(docs, key=lambda d: d.encode("utf-8"), reverse=True)
    return sorted(by_id, key=lambda d: -docs[d])


def tie_at_10(run: dict[str, float]) -> bool:
    scores = sorted(run.values(), reverse=True)
    return len(scores) > 10 and scores[9] == scores[10]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--kind", default="cross", choices=("mono", "cross", "multi", "all"))
    args = ap.parse_args()
    import ir_measures
    import pytrec_eval
    import ranx

    rows = []
    for run_file in sorted(args.folder.glob("*.run")):
        q, _, pool = run_file.stem.rpartition(".")[2].partition("-")
        kind = "multi" if pool == "all" else "mono" if q == pool else "cross"
        if args.kind != "all" and kind != args.kind:
            continue
        run, qrels = read(run_file, 6), read(run_file.with_suffix(".qrels"), 4)
        ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
        cut = {qq: {d: docs[d] for d in trec_order(docs)[:10]} for qq, docs in run.items()}
        rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
        trec_ndcg = float(np.mean([v["ndcg_cut_10"] for v in ev.values()]))
        trec_mrr = float(np.mean([v["recip_rank"] for v in rr.values()]))
        rx = ranx.evaluate(ranx.Qrels.from_dict(qrels), ranx.Run.from_dict(run), ["ndcg@10", "mrr@10"])
        irm = ir_measures.calc_aggregate([ir_measures.nDCG @ 10, ir_measures.RR @ 10],
                                         ir_measures.read_trec_qrels(str(run_file.with_suffix(".qrels"))),
                                         ir_measures.read_trec_run(str(run_file)))
        ties = sum(tie_at_10(docs) for docs in run.values())
        rows.append((run_file.stem, len(run), ties, trec_ndcg, float(rx["ndcg@10"]), float(irm[ir_measures.nDCG @ 10]),
                     trec_mrr, float(rx["mrr@10"]), float(irm[ir_measures.RR @ 10])))
    rows.sort(key=lambda r: -max(abs(r[4] - r[3]), abs(r[5] - r[3])))
    print(f"{'setting':<16} {'queries':>7} {'tie@10':>6} {'nDCG@10 trec':>12} {'ranx':>8} {'ir_meas':>8}"
          f" {'MRR@10 trec':>11} {'ranx':>8} {'ir_meas':>8}")
    for r in rows[:10]:
        print(f"{r[0]:<16} {r[1]:>7} {r[2]:>6} {r[3]:>12.4f} {r[4]:>8.4f} {r[5]:>8.4f} {r[6]:>11.4f} {r[7]:>8.4f} {r[8]:>8.4f}")
    for name, i in (("ranx nDCG@10", 4), ("ir_measures nDCG@10", 5), ("ranx MRR@10", 7), ("ir_measures MRR@10", 8)):
        ref = 6 if "MRR" in name else 3
        diffs = [abs(r[i] - r[ref]) for r in rows]
        print(f"{name}: largest |difference| from trec_eval over {len(rows)} settings {max(diffs):.4f}, "
              f"mean {np.mean(diffs):.4f}")


if __name__ == "__main__":
    main()
