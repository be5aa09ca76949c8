"""Reproduce the strategy entries of the leaderboard: the same base model, data, steps, seed and
hyper-parameters trained with x-x, x-y and hybrid batches (``mlbench train``, MLQA-R), the last
checkpoint of each evaluated on full XQuAD-R (``mlbench run``: the leaderboard entries), then every
checkpoint on the first 12 articles of each language (``mlbench sweep``: the plots against step).

    python benchmarks/train_strategies.py OUT [--steps 90] [--save-every 45] [--data-dir DIR]

Prints the training time of each strategy on this machine and writes OUT/{x-x,x-y,hybrid}/step-K/
(about 90 MB each), OUT/board/ (the full results) and OUT/sweep/ (result files, the sweep summary
and its plots). Commands run inside OUT, so that models are named ``x-x/step-90``. A strategy
whose last checkpoint exists is not trained again; the evaluations reuse the embedding cache.
On a shared machine, set OMP_NUM_THREADS=1 (torch's threads spin against other jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mlbench.sampling import STRATEGIES

MLBENCH = [sys.executable, "-m", "mlbench.cli"]
HYPER = ["--base", "minilm", "--train-task", "mlqa-r", "--eval-task", "xquad-r", "--batch-size", "32",
         "--max-length", "64", "--lr", "5e-5", "--warmup", "0.1", "--seed", "0", "--save-base"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", type=int, default=90)
    ap.add_argument("--save-every", type=int, default=45)
    ap.add_argument("--data-dir", type=Path, default=None, help="folder with mlqa-r/{lang}.json (else the pinned download)")
    ap.add_argument("--no-sweep", action="store_true", help="train only")
    args = ap.parse_args()
    data = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    timings = {}
    for strategy in STRATEGIES:
        folder = args.out / strategy
        if (folder / f"step-{args.steps}").is_dir():
            print(f"{strategy}: {folder}/step-{args.steps} exists, not trained again", flush=True)
            continue
        cmd = [*MLBENCH, "train", "--strategy", strategy, "--out", str(folder), "--steps", str(args.steps),
               "--save-every", str(args.save_every), *HYPER, *data]
        print("$", " ".join(cmd), flush=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        timings[strategy] = time.perf_counter() - t0
        print(f"{strategy}: trained {args.steps} steps in {timings[strategy]:.0f} s "
              f"({60 * args.steps / timings[strategy]:.1f} steps/min, {os.cpu_count()} CPUs)", flush=True)
    if timings:
        (args.out / "train_timings.json").write_text(json.dumps(timings, indent=1))
    if args.no_sweep:
        return
    data_env = {**os.environ, **({"MLBENCH_DATA_DIR": str(args.data_dir.resolve())} if args.data_dir else {})}
    for strategy in STRATEGIES:
        cmd = [*MLBENCH, "run", "-m", f"{strategy}/step-{args.steps}", "-t", "xquad-r", "-o", "board"]
        print("$", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True, cwd=args.out, env=data_env, stdout=subprocess.DEVNULL)
    points = [str(p.relative_to(args.out)) for s in STRATEGIES for p in sorted((args.out / s).glob("step-*"))]
    cmd = [*MLBENCH, "sweep", *points, "--task", "xquad-r", "--max-articles", "12", "--out", "sweep",
           "--best", "multi:map"]
    print("$", " ".join(cmd[2:]), flush=True)
    sys.exit(subprocess.run(cmd, cwd=args.out, env=data_env).returncode)


if __name__ == "__main__":
    main()
