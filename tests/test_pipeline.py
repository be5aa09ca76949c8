"""One run path for every task: the two retrieval backends agree where both apply, option groups
are refused for the tasks and backends they do not fit, metrics are values, and the public API
and command line are one layer over the same code."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from helpers import one_line_error, run_cli, schema_1

import mlbench
from mlbench.data.corpus import CorpusOptions
from mlbench.data.lareqa import LareqaOptions
from mlbench.encoders.registry import EncoderOptions
from mlbench.errors import MlbenchError
from mlbench.metrics import metric, parse_metrics
from mlbench.pipeline import RunConfig, plan, run
from mlbench.results import Result, read_result
from mlbench.retrieval.base import SearchOptions

CUTOFF = ["ndcg@10", "recall@10", "mrr@10", "recall@100"]


def _by_query(out) -> dict[str, dict[str, dict[str, float]]]:
    return {r.setting.id: {m: dict(zip(r.query_ids, v.tolist())) for m, v in r.per_query.items()} for r in out.values}


def test_topk_backend_equals_exact_backend_on_lareqa(tmp_path, use):
    """The same embeddings searched with faiss (top 100 kept) and ranked in full give the same
    cut-off metrics for every query of every setting, mono, cross and multi; only the full ranking
    has mAP and the rank distance."""
    common = dict(tasks=["xquad-r"], langs=["de", "en", "zh"], lareqa=LareqaOptions(max_articles=4), metrics=CUTOFF,
                  cache_dir=tmp_path / "cache")
    (exact,) = run(RunConfig(out_dir=tmp_path / "exact", **common), model=use)
    (topk,) = run(RunConfig(out_dir=tmp_path / "topk", search=SearchOptions(backend="topk"), **common), model=use)
    assert exact.result.run.search["backend"] == "exact" and topk.result.run.search["backend"] == "topk"
    a, b = _by_query(exact), _by_query(topk)
    assert set(a) == set(b) and len(a) == 3 + 6 + 3
    for sid in a:
        for m in CUTOFF + ["own_lang@10", "own_lang@100", "own_lang_expected"]:
            if m in a[sid]:
                assert a[sid][m].keys() == b[sid][m].keys()
                diff = max(abs(a[sid][m][q] - b[sid][m][q]) for q in a[sid][m])
                assert diff <= 1e-12, (sid, m, diff)
    assert exact.result.aggregates.rank_distance is not None and topk.result.aggregates.rank_distance is None
    assert "rank_distance" in json.loads(exact.path.read_text())["aggregates"]
    assert "rank_distance" not in json.loads(topk.path.read_text())["aggregates"]
    assert exact.result.aggregates.kinds == topk.result.aggregates.kinds
    with pytest.raises(MlbenchError, match="metric 'map' needs the full ranking; the topk backend keeps the top 100"):
        plan(RunConfig(tasks=["xquad-r"], search=SearchOptions(backend="topk")))


def test_exact_backend_on_a_streamed_corpus(irds_home, tmp_path):
    """MIRACL's pool read into memory and ranked in full: the cut-off metrics equal the top-k
    search's, and mAP (which needs the full ranking) becomes available."""
    common = dict(model="bm25", tasks=["miracl"], langs=["te", "yo"], corpus=CorpusOptions(multi_pool=True))
    (topk,) = run(RunConfig(out_dir=tmp_path / "topk", **common))
    (exact,) = run(RunConfig(out_dir=tmp_path / "exact", search=SearchOptions(backend="exact"),
                             metrics=["ndcg@10", "recall@100", "mrr@10", "map"], **common))
    a, b = _by_query(topk), _by_query(exact)
    assert [s.id for s in exact.result.settings] == ["te>te", "te>*", "yo>yo", "yo>*"]
    for sid in a:
        for m in ("ndcg@10", "recall@100", "mrr@10", "own_lang@10", "own_lang_expected"):
            if m in a[sid] or sid.endswith("*"):
                assert a[sid][m] == b[sid][m], (sid, m)
    assert exact.result.settings[0].metrics["map"] > 0.5
    assert "rank_distance" in b["te>*"] and "rank_distance" not in a["te>*"]
    # ids in the pool of all languages carry the language, as in the top-k search
    multi = next(r for r in exact.values if r.setting.id == "yo>*")
    assert multi.run is None and multi.qrels is None  # no ranking kept without --trec-dir


@pytest.mark.parametrize("cfg, needle", [
    (dict(tasks=["miracl"], lareqa=LareqaOptions(max_articles=2)),
     "--max-articles applies to LAReQA tasks (format lareqa), not to miracl (format ir_datasets)"),
    (dict(tasks=["xquad-r"], corpus=CorpusOptions(pool_subset=10)),
     "--pool-subset applies to tasks of format ir_datasets (MIRACL), not to xquad-r (format lareqa)"),
    (dict(tasks=["xquad-r"], search=SearchOptions(index="hnsw")),
     "--index applies to the topk backend; this task runs on the exact backend"),
    (dict(tasks=["xquad-r"], search=SearchOptions(backend="faiss")), "--backend 'faiss' is not one of auto, exact, topk"),
    (dict(tasks=["xquad-r"], search=SearchOptions(backend="topk", depth=10), metrics=["ndcg@20"]),
     "metric 'ndcg@20': cutoff 20 is beyond the 10 passages kept per query"),
    (dict(tasks=["xquad-r"], kinds="mono,sideways"), "--kinds: unknown kind 'sideways'"),
    (dict(tasks=["xquad-r"], metrics=["rank_distance"]), "metric 'rank_distance' is a diagnostic"),
    (dict(tasks=["xquad-r"], max_queries=0), "--max-queries must be positive, got 0"),
    (dict(tasks=["xquad-r"], trec_dir="t", trec_depth=0), "--trec-depth must be positive"),
])
def test_options_are_checked_once_before_any_work(cfg, needle):
    with pytest.raises(MlbenchError) as err:
        plan(RunConfig(**cfg))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_sentence_transformers_options_refused_for_a_plugin(tmp_path):
    res = run_cli("run", "-m", "bm25", "--query-prompt", "query: ", "--langs", "de", "--max-articles", "1",
                  "-o", str(tmp_path / "o"))
    one_line_error(res, "--query-prompt applies to sentence-transformers models", "not to the plugin encoder 'bm25'")
    with pytest.raises(MlbenchError, match="--device applies to sentence-transformers models"):
        run(RunConfig(model="use-m3", encoder=EncoderOptions(device="cuda"), out_dir=tmp_path / "p"))
    assert not (tmp_path / "o").exists() and not (tmp_path / "p").exists()


def test_metrics_are_values():
    m = metric("ndcg@10")
    assert (m.base, m.cutoff, m.better, m.needs_full_ranking, m.label, m.trec_eval) == (
        "ndcg", 10, "higher", False, "nDCG@10", "ndcg_cut.10")
    assert metric("map").needs_full_ranking and metric("map").label == "mAP"
    assert metric("rank_distance").better == "lower" and metric("rank_distance").diagnostic
    assert metric("own_lang@10").better == "expected" and metric("mrr@10").trec_eval == "recip_rank (run cut at 10)"
    assert metric("recall@100").fits_depth(100) and not metric("recall@100").fits_depth(99)
    assert [x.name for x in parse_metrics("map, ndcg@10")] == ["map", "ndcg@10"]
    for bad in ("ndcg@0", "p@10", "map@", "map\n"):  # a trailing newline is not a name either
        with pytest.raises(MlbenchError):
            metric(bad)


def test_main_metric_recorded_and_read_back(tmp_path, reference):
    assert reference.result.main_metric == "map"
    # files written before the main metric was recorded (schema 1) take the task's declared one
    old = schema_1(json.loads(reference.path.read_text()))
    del old["task"]["main_metric"]
    assert Result.from_dict(old, "old.json").main_metric == "map"
    assert Result.from_dict(old, "old.json").schema == "mlbench.result/1"
    old["task"]["name"] = "miracl"
    old["run"]["metrics"] = ["mrr@10", "ndcg@10"]
    assert Result.from_dict(old, "old.json").main_metric == "ndcg@10"
    old["task"]["name"] = "unknown-task"
    assert Result.from_dict(old, "old.json").main_metric == "mrr@10"
    assert read_result(reference.path).main_metric == "map"


def test_public_api_and_version():
    assert {"run", "RunConfig", "get_task", "load_task", "read_result", "compare", "MlbenchError"} <= set(mlbench.__all__)
    assert mlbench.RunConfig is RunConfig and mlbench.run is run and mlbench.MlbenchError is MlbenchError
    data = mlbench.load_task(mlbench.get_task("xquad-r"), ["de"], max_articles=1)
    assert len(data.langs["de"].queries) == 74 and data.langs["de"].candidates.ids[0] == "de/p0000/s0"
    for flag in ("--version", "-V"):
        res = run_cli(flag)
        assert res.returncode == 0 and res.stdout == f"mlbench {mlbench.__version__}\n"
    res = run_cli("run", "-h")
    assert res.returncode == 0 and "--backend BACKEND" in res.stdout
    assert "--normalize / --no-normalize" in res.stdout
    for command in ("run", "tasks", "tasks show", "export", "compare", "check", "leaderboard", "report", "plot", "models"):
        res = run_cli(*command.split(), "--help")
        tags = re.findall(r"<[^\s<>]+>", res.stdout)  # typer's <str>, <bool>, <path>, <list[Path]>
        assert res.returncode == 0 and not tags, (command, tags)


def test_each_command_has_one_error_handler():
    """Every command turns an input error into one line and exit 2 through the same handler."""
    cases = [("compare", "nope.json", "nope.json"), ("check", "nope.json", "--expected", "x.toml"),
             ("export", "nope.json"), ("report", "nope.json", "-o", "r.html"), ("plot", "nope.json", "-o", "p"),
             ("leaderboard", "nope"), ("tasks", "show", "nope"), ("run", "-t", "nope"), ("tasks", "--format", "x")]
    for args in cases:
        res = run_cli(*args)
        assert res.returncode == 2 and res.stderr.startswith("mlbench: error: "), (args, res.stderr)
        assert res.stderr.count("\n") == 1, (args, res.stderr)


def test_the_encode_step_serves_every_setting(tmp_path, use):
    """Queries are encoded once per language and every setting is scored from the same vectors:
    encoded + from cache = unique texts, and the per-language settings share their queries."""
    (out,) = run(RunConfig(out_dir=tmp_path / "o", tasks=["xquad-r"], langs=["de", "zh"],
                           lareqa=LareqaOptions(max_articles=2), cache_dir=tmp_path / "c"), model=use)
    enc = out.result.run.encoding
    assert enc["encoded"] + enc["from_cache"] == enc["unique_texts"] > 0
    per_query = read_result(out.path).per_query()
    assert np.array_equal(per_query["de>de"].query_ids, per_query["de>zh"].query_ids)


_PROBE = """
import json, sys
import mlbench
from mlbench.data.lareqa import LareqaOptions
from mlbench.encoders.registry import EncoderOptions
(out,) = mlbench.run(mlbench.RunConfig(model="minilm", tasks=["xquad-r"], langs=sys.argv[2].split(","),
                     lareqa=LareqaOptions(max_articles=1), out_dir=sys.argv[1],
                     encoder=EncoderOptions(max_seq_length=int(sys.argv[3]) if len(sys.argv) > 3 else None)))
print(json.dumps({"torch": "torch" in sys.modules, "encoded": out.result.run.encoding["encoded"],
                  "fingerprint": out.result.run.encoding["fingerprint"], "model": out.result.model.encoder,
                  "map": out.result.aggregates.kinds["mono"]["map"]}))
"""


def _probe(tmp_path, *args: str) -> dict:
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path / "out"), *args], capture_output=True, text=True,
                         timeout=600)
    if res.returncode:
        return {"error": res.stderr.strip().splitlines()[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_cached_rerun_neither_imports_torch_nor_loads_the_model(fresh_home, tmp_path):
    """A sentence-transformers model: the first run loads it and encodes; a rerun whose texts are
    all in the cache takes the description remembered under MLBENCH_HOME/models and never imports
    torch, with the same fingerprint and figures. Another option is another description (the model
    loads again), and a remembered description that the loaded model contradicts stops the run."""
    cold = _probe(tmp_path, "de,en")
    warm = _probe(tmp_path, "de,en")
    assert cold["torch"] and cold["encoded"] > 50
    assert not warm["torch"] and warm["encoded"] == 0
    assert warm["fingerprint"] == cold["fingerprint"] and warm["model"] == cold["model"] and warm["map"] == cold["map"]
    assert cold["model"]["dim"] == 384 and cold["model"]["max_seq_length"] == 256
    other = _probe(tmp_path, "de,en", "128")
    assert other["torch"] and other["encoded"] > 50 and other["model"]["max_seq_length"] == 128
    (memo,) = [p for p in (fresh_home / "models").glob("*.json")
               if json.loads(p.read_text())["max_seq_length"] == 256]
    memo.write_text(json.dumps({**cold["model"], "dim": 512}))
    assert _probe(tmp_path, "de,zh")["error"].endswith("differs from the loaded model's; it has been removed, run again")
    assert not memo.exists()
