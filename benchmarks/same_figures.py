"""Same figures before and after a change: run a fixed set of real slices with one checkout of
mlbench, keep every per-query array, and compare two such dumps array by array.

    python benchmarks/same_figures.py run CHECKOUT OUT [--data-dir ../shared/data/lareqa]
    python benchmarks/same_figures.py compare OUT_BEFORE OUT_AFTER

``run`` executes ``python -m mlbench.cli`` with ``CHECKOUT`` first on ``PYTHONPATH`` (so an old
commit checked out in a worktree runs its own code) on: XQuAD-R (use-m3 on ar,de,en,zh, 4 articles;
bm25 on de,el,th, 3 articles; minilm on de,en, 2 articles), MLQA-R (use-m3 on de,en,hi, 6 articles),
the MIRACL fixture of tests/ (yo, te: topk and exact backends, the pool of both languages, a pool
subset), a TREC run read back by ``mlbench evaluate`` and two kept rankings fused by ``mlbench
fuse``. Every result's per-query sidecar is read with numpy alone (no mlbench), so dumps of any
version compare. ``compare`` prints each slice's largest absolute difference and exits 1 on any
difference, a missing setting or a missing array.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]
FIXTURE = HERE / "tests" / "fixtures" / "miracl"

SLICES: dict[str, list[str]] = {
    "xquad-use": ["run", "-m", "use-m3", "-t", "xquad-r", "--langs", "ar,de,en,zh", "--max-articles", "4",
                  "--trec-dir", "{out}/xquad-use/trec", "--keep-rankings", "full"],
    "xquad-bm25": ["run", "-m", "bm25", "-t", "xquad-r", "--langs", "de,el,th", "--max-articles", "3",
                   "--keep-rankings", "full"],
    "xquad-minilm": ["run", "-m", "minilm", "-t", "xquad-r", "--langs", "de,en", "--max-articles", "2"],
    "mlqa-use": ["run", "-m", "use-m3", "-t", "mlqa-r", "--langs", "de,en,hi", "--max-articles", "6"],
    "miracl-topk": ["run", "-m", "use-m3", "-t", "miracl", "--langs", "yo,te", "--ir-datasets-home", "{irds}"],
    "miracl-exact": ["run", "-m", "use-m3", "-t", "miracl", "--langs", "yo,te", "--ir-datasets-home", "{irds}",
                     "--backend", "exact", "--metrics", "map,ndcg@10,recall@100,mrr@10"],
    "miracl-multi": ["run", "-m", "bm25", "-t", "miracl", "--langs", "yo,te", "--ir-datasets-home", "{irds}",
                     "--multi-pool"],
    "miracl-subset": ["run", "-m", "use-m3", "-t", "miracl", "--langs", "yo", "--ir-datasets-home", "{irds}",
                      "--pool-subset", "40"],
    "evaluate": ["evaluate", "{out}/xquad-use/trec", "--task", "xquad-r", "--langs", "ar,de,en,zh",
                 "--max-articles", "4"],
    "fuse": ["fuse", "{out}/xquad-use/xquad-r--use-m3.json", "{out}/xquad-use-b/xquad-r--bm25.json",
             "--method", "rrf"],
}
# fuse needs bm25 on the slice of xquad-use
SLICES = {"xquad-use-b": ["run", "-m", "bm25", "-t", "xquad-r", "--langs", "ar,de,en,zh", "--max-articles", "4",
                          "--keep-rankings", "full"], **SLICES}


def _irds_home(checkout: Path, out: Path, env: dict[str, str]) -> Path:
    home = out / "irds"
    code = ("import sys; from pathlib import Path; from mlbench.data import irds; "
            "from mlbench.data.irds_layout import install_anserini_names as f; "
            f"h = Path({str(home)!r}); irds.use_home(h); "
            f"[f(h, lang, Path({str(FIXTURE / 'dev')!r}), [Path({str(FIXTURE / 'corpus')!r}) / f'{{lang}}.corpus.jsonl.gz']) "
            "for lang in ('yo', 'te')]")
    subprocess.run([sys.executable, "-c", code], check=True, env={**env, "IR_DATASETS_HOME": str(home)}, cwd=out)
    return home


def _arrays(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """setting id -> array name -> values, from every result of ``folder`` (numpy only)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if "per_query" not in doc or "settings" not in doc:
            continue
        with np.load(folder / doc["per_query"]["file"], allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        for i, s in enumerate(doc["settings"]):
            prefix = f"s{i}/"
            out[f"{path.stem}:{s['id']}"] = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    return out


def run(checkout: Path, out: Path, data_dir: Path | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve()), "MLBENCH_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    env.setdefault("MLBENCH_HOME", str(out / "home"))
    if data_dir:
        env["MLBENCH_DATA_DIR"] = str(data_dir.resolve())
    irds = _irds_home(checkout, out, env)
    env["IR_DATASETS_HOME"] = str(irds)
    for name, args in SLICES.items():
        folder = out / name
        argv = [a.format(out=out, irds=irds) for a in args] + ["-o", str(folder)]
        print("$ mlbench", " ".join(argv), flush=True)
        # cwd=out: ``python -m`` puts the working folder first on sys.path, before PYTHONPATH
        proc = subprocess.run([sys.executable, "-m", "mlbench.cli", *argv], env=env, capture_output=True, text=True,
                              cwd=out)
        if proc.returncode != 0:
            sys.exit(f"{name}: exit {proc.returncode}: {proc.stderr.strip()[-2000:]}")
        dump = _arrays(folder)
        np.savez(out / f"{name}.npz", **{f"{k}|{a}": v for k, arrs in dump.items() for a, v in arrs.items()})
        print(f"{name}: {len(dump)} settings", flush=True)


def compare(before: Path, after: Path) -> int:
    bad = 0
    for name in SLICES:
        with np.load(before / f"{name}.npz", allow_pickle=False) as a, np.load(after / f"{name}.npz",
                                                                               allow_pickle=False) as b:
            ka, kb = set(a.files), set(b.files)
            missing = sorted(ka - kb)
            worst, where = 0.0, ""
            for k in sorted(ka & kb):
                x, y = a[k], b[k]
                if x.dtype.kind in "US" or y.dtype.kind in "US":
                    if x.shape != y.shape or not np.array_equal(x.astype(str), y.astype(str)):
                        worst, where = float("inf"), f"{k} (ids differ)"
                    continue
                if x.shape != y.shape:
                    worst, where = float("inf"), f"{k} shape {x.shape} vs {y.shape}"
                    continue
                d = float(np.nanmax(np.abs(x - y))) if x.size else 0.0
                if np.any(np.isnan(x) != np.isnan(y)):
                    d = float("inf")
                if d > worst:
                    worst, where = d, k
            extra = len(kb - ka)
            status = "same" if not missing and worst == 0 else "DIFFERENT"
            bad += status != "same"
            print(f"{name}: {len(ka & kb)} arrays compared, max |diff| {worst:g}{' at ' + where if where else ''}"
                  f"{f', {len(missing)} missing (e.g. {missing[0]})' if missing else ''}"
                  f"{f', {extra} new arrays' if extra else ''}: {status}")
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    r = sub.add_parser("run")
    r.add_argument("checkout", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--data-dir", type=Path, default=None)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = ap.parse_args()
    if args.verb == "run":
        run(args.checkout, args.out, args.data_dir)
    else:
        sys.exit(compare(args.before, args.after))


if __name__ == "__main__":
    main()
