#!/usr/bin/env bash
# A two-node Ray cluster simulated on one machine (docs/scale.md): a head and a second node, each
# `ray start` with one CPU and its own temporary folder, then the same `mlbench run --engine ray`
# as on a real cluster, on yo's real mini MIRACL pool (../shared/data/miracl), then `ray stop`.
# Run from a checkout (PYTHONPATH points the "nodes" at it) in an environment with mlbench[ray].
# `ray stop` stops every Ray process of this user on the machine: run it where no other Ray runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${MLBENCH_SHARED:-$root/../shared}/data/miracl"
work="${1:-$(mktemp -d /tmp/mlbench-2nodes-XXXX)}"
port="${RAY_PORT:-6390}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
# Ray's token authentication with a token for this cluster, given to every process, none saved to ~/.ray
export RAY_AUTH_MODE=token RAY_AUTH_TOKEN="$(python -c 'import secrets; print(secrets.token_hex(32))')"
export IR_DATASETS_HOME="$work/irds" MLBENCH_HOME="$work/home" MLBENCH_OFFLINE=1
python -c "import sys; from pathlib import Path; from mlbench.data.irds_layout import install_anserini_names as i; \
i(Path(sys.argv[1]), 'yo', Path(sys.argv[2]) / 'dev', [Path(sys.argv[2]) / 'mini' / 'yo.corpus.jsonl.gz'])" "$IR_DATASETS_HOME" "$shared"
HEAD_TMP=$(mktemp -d /tmp/rh-XXXX); NODE2_TMP=$(mktemp -d /tmp/rn-XXXX)  # short: Ray's socket paths
trap 'ray stop >/dev/null 2>&1 || true; rm -rf "$HEAD_TMP" "$NODE2_TMP"' EXIT
show() { echo "\$ $*"; "$@"; }
show ray start --head --node-ip-address 127.0.0.1 --port "$port" --num-cpus 1 --include-dashboard false \
  --disable-usage-stats --temp-dir "$HEAD_TMP" 2>&1 | grep -v -e "^$" -e "cli_output_helpers" -e "INFO scripts.py:1[01][0-9][0-9] --"
show ray start --address "127.0.0.1:$port" --node-ip-address 127.0.0.1 --num-cpus 1 --resources '{"node2": 1}' \
  --temp-dir "$NODE2_TMP" 2>&1 | grep -v "^$"
sleep 3
show ray status --address "127.0.0.1:$port" 2>&1 | sed -n '1,/^Total Usage/p;/CPU$/p;/node2$/p'
show mlbench run --model use-m3 --task miracl --langs yo --store-chunk-rows 64 --store-dir "$work/store" \
  --engine ray --ray-address "127.0.0.1:$port" --workers 2 --out "$work/out" 2>&1
echo "\$ # the writer (host:pid) of every chunk record, and the result's run.engine and metrics"
python - "$work" <<'PY'
import glob, json, sys
work = sys.argv[1]
print(sorted({json.load(open(p))["writer"] for p in glob.glob(f"{work}/store/miracl-yo/*/*/chunk-*.json")}))
doc = json.load(open(glob.glob(f"{work}/out/*.json")[0]))
print(json.dumps(doc["run"]["engine"]))
print(doc["settings"][0]["metrics"])
PY
echo "\$ ray stop"
ray stop 2>&1 | grep -o "Stopped all.*"
trap 'rm -rf "$HEAD_TMP" "$NODE2_TMP"' EXIT
