"""Time and memory of the mean rank correlation at XQuAD-R's full size.

    python benchmarks/bench_fairness.py                 # 11 x 1190 x 13,090, MRC and MRC@100
    python benchmarks/bench_fairness.py --rows 200      # a smaller run

The score matrices are seeded random float32 (what the cost depends on is the shape: the ranks are
a sort per row and the correlation a dot product of integers, whatever the values), one block per
language, every block holding the same question ids, as XQuAD-R's 11 languages do. Prints the
wall time of ``mean_rank_correlation`` (full rankings, and k = 100) and the peak of memory it
allocated on top of the score matrices (tracemalloc, which numpy reports its buffers to).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from mlbench.metrics.rank_correlation import mean_rank_correlation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--langs", type=int, default=11)
    ap.add_argument("--rows", type=int, default=1190)
    ap.add_argument("--pool", type=int, default=13090)
    ap.add_argument("--k", type=int, default=100)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((args.rows, args.pool), dtype=np.float32) for _ in range(args.langs)]
    groups = [[f"q{i}" for i in range(args.rows)]] * args.langs
    tiekey = rng.permutation(args.pool).astype(np.int64)
    held = sum(b.nbytes for b in blocks)
    print(f"{args.langs} blocks x {args.rows} rows x {args.pool} columns: score matrices {held / 2**20:.0f} MiB")
    for k in (None, args.k):
        tracemalloc.start()
        t0 = time.perf_counter()
        res = mean_rank_correlation(blocks, groups, tiekey, k=k)
        wall = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        name = "mrc" if k is None else f"mrc@{k}"
        print(f"{name}: {wall:.1f} s, peak {peak / 2**20:.0f} MiB allocated on top; "
              f"mean RC {np.nanmean(np.concatenate(res.per_query)):+.4f}")


if __name__ == "__main__":
    main()
