"""Encoding engines on the real mini MIRACL pools: passages/s, start-up cost and peak memory per
engine and worker count (docs/scale.md).

    python benchmarks/bench_engines.py                              # yo's mini pool (705 passages), use-m3
    python benchmarks/bench_engines.py --langs yo,sw --configs local,processes:2,ray:2

Each configuration is one ``mlbench run --task miracl`` in a fresh subprocess with a fresh
MLBENCH_HOME and store (nothing cached), on an IR_DATASETS_HOME built from ``../shared/data/miracl``
(real dev topics and qrels, the real mini pool as the corpus). From the result file: the engine's
start-up (``run.engine.start_s``: spawning workers or starting Ray and its actors, each loading
the model) and the encode step (``run.timings_s.encode_s``, start-up included);
passages/s = passages / (encode_s - start_s). Peak memory: the largest sum of the resident memory
of the run's whole process tree (driver, workers, a Ray started for the run), sampled every 0.2 s
from /proc. Metrics are checked to be identical to the first configuration's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MLBENCH_SHARED", ROOT.parent / "shared")) / "data" / "miracl"


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text().split()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        rss[int(entry)] = int(statm[1]) * os.sysconf("SC_PAGE_SIZE")
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [c for c, p in parents.items() if p == pid and c not in tree]
    return sum(rss.get(p, 0) for p in tree)


def one(config: str, langs: str, chunk_rows: int, model: str, irds: Path) -> dict:
    engine, _, workers = config.partition(":")
    single = engine == "local@1"  # the local engine on one thread (the encoder's and BLAS's)
    with tempfile.TemporaryDirectory(prefix="bench_engines-", dir="/tmp") as tmp:
        flags = ["--encoder-arg", "threads=1"] if single else [] if engine == "local" else \
            ["--engine", engine, "--workers", workers or "2"]
        cmd = [sys.executable, "-m", "mlbench.cli", "run", "--model", model, "--task", "miracl", "--langs", langs,
               "--store-chunk-rows", str(chunk_rows), "--out", f"{tmp}/out", *flags]
        env = {**os.environ, "MLBENCH_HOME": f"{tmp}/home", "IR_DATASETS_HOME": str(irds), "MLBENCH_OFFLINE": "1",
               "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
               **({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"} if single else {})}
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.2)
        err = proc.stderr.read()
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{config}: exit {proc.returncode}: {err[-2000:]}")
        (path,) = Path(tmp, "out").glob("*.json")
        doc = json.loads(path.read_text())
    enc = doc["run"]["encoding"]["passages"]
    passages = sum(v["encoded"] for v in enc.values())
    start = float(doc["run"]["engine"].get("start_s", 0.0))
    encode = float(doc["run"]["timings_s"]["encode_s"])
    return {"config": config, "passages": passages, "start_s": start, "encode_s": encode,
            "passages_per_s": passages / max(encode - start, 1e-9), "wall_s": wall, "peak_rss_mb": peak / 2**20,
            "metrics": [(s["id"], s["metrics"]) for s in doc["settings"]], "engine": doc["run"]["engine"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--langs", default="yo")
    p.add_argument("--model", default="use-m3")
    p.add_argument("--configs", default="local,local@1,processes:1,processes:2,ray:1,ray:2",
                   help="engine[:workers]; local@1: the local engine on one thread (use-m3 threads=1, one BLAS thread)")
    p.add_argument("--chunk-rows", type=int, default=64, help="passages per store chunk (the unit of work)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench_engines-irds-") as irds:
        os.environ["IR_DATASETS_HOME"] = irds
        from mlbench.data.irds_layout import install_anserini_names

        for lang in a.langs.split(","):
            install_anserini_names(Path(irds), lang, SHARED / "dev", [SHARED / "mini" / f"{lang}.corpus.jsonl.gz"])
        rows = []
        for config in a.configs.split(","):
            load = os.getloadavg()[0]
            row = one(config, a.langs, a.chunk_rows, a.model, Path(irds))
            row["load_before"] = load
            rows.append(row)
            print(f"{config}: {row['passages']} passages, start {row['start_s']:.1f} s, encode {row['encode_s']:.1f} s, "
                  f"{row['passages_per_s']:.1f} passages/s, peak {row['peak_rss_mb']:.0f} MB, wall {row['wall_s']:.1f} s "
                  f"(load average before {load:.2f})", flush=True)
    same = all(r["metrics"] == rows[0]["metrics"] for r in rows)
    print(f"\nmodel {a.model}, langs {a.langs}, chunks of {a.chunk_rows} passages, {os.cpu_count()} CPUs; "
          f"metrics identical across configurations: {same}\n")
    print("| engine | workers | passages | start-up (s) | encode, start-up excluded (s) | passages/s | peak memory (MB) | wall (s) | load before |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        engine, _, workers = r["config"].partition(":")
        print(f"| {engine} | {workers or 1} | {r['passages']} | {r['start_s']:.1f} | {r['encode_s'] - r['start_s']:.1f} | "
              f"{r['passages_per_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['wall_s']:.1f} | {r['load_before']:.1f} |")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    if not same:
        raise SystemExit("metrics differ between configurations")


if __name__ == "__main__":
    main()
