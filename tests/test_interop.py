"""Runs in and out (docs/interop.md): rankings kept and exported as TREC files at any depth after
the fact, scored again by pytrec_eval and by ``mlbench evaluate`` to mlbench's own numbers; a run
built by another tool (bm25s directly) evaluated; bad runs refused with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
from helpers import one_line_error, run_cli

from mlbench.data.lareqa import LareqaOptions
from mlbench.pipeline import RunConfig, run
from mlbench.results import read_result

SLICE = ["--langs", "de,en", "--max-articles", "2"]
TREC_OF = {"map": "map", "recall@1": "recall_1", "recall@5": "recall_5", "recall@10": "recall_10",
           "recall@100": "recall_100", "ndcg@10": "ndcg_cut_10"}


def read_trec(path: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        q, _, d, _, s, _ = line.split()
        out.setdefault(q, {})[d] = float(s)
    return out


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        q, _, d, r = line.split()
        out.setdefault(q, {})[d] = int(r)
    return out


@pytest.fixture(scope="module")
def bm25_full(tmp_path_factory):
    """mlbench's BM25 on XQuAD-R de,en (2 articles), every ranking kept in full."""
    root = tmp_path_factory.mktemp("bm25full")
    cfg = RunConfig(model="bm25", tasks=["xquad-r"], langs=["de", "en"], lareqa=LareqaOptions(max_articles=2),
                    out_dir=root / "res", keep_rankings="full")
    (out,) = run(cfg)
    return read_result(out.path)


def test_full_depth_export_rescored_by_pytrec_eval_and_evaluate_equals_mlbench(bm25_full, tmp_path):
    result = bm25_full
    assert result.rankings_file.depth == "full" and result.rankings_depth is None
    trec = tmp_path / "trec"
    res = run_cli("export", str(result.path), "--format", "trec", "--out", str(trec))
    assert res.returncode == 0, res.stderr
    per_query = result.per_query()
    assert sorted(p.name for p in trec.glob("*.run")) == sorted(
        f"xquad-r.{s.replace('>', '-').replace('*', 'all')}.run" for s in per_query)
    for sid, values in per_query.items():
        name = f"xquad-r.{sid.replace('>', '-').replace('*', 'all')}"
        run_, qrels = read_trec(trec / f"{name}.run"), read_qrels(trec / f"{name}.qrels")
        pool = sum(1 for _ in result.rankings()[sid][0].ids[0] if _)
        assert all(len(docs) == pool for docs in run_.values())  # every candidate of the pool
        ev = pytrec_eval.RelevanceEvaluator(qrels, {"map", "recall.1,5,10,100", "ndcg_cut.10"}).evaluate(run_)
        for m, key in TREC_OF.items():
            ref = np.array([ev[q][key] for q in values.query_ids])
            assert np.abs(values[m] - ref).max() <= 1e-12, (sid, m)
    # the exported files scored again by mlbench evaluate: every per-query value and aggregate equal
    out = tmp_path / "ev"
    res = run_cli("evaluate", str(trec), "--task", "xquad-r", *SLICE, "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "every query ranks its whole pool" in res.stdout
    evaluated = read_result(next(out.glob("*.json")))
    assert evaluated.run.external["full_ranking"] is True
    assert evaluated.run.metrics == result.run.metrics
    mine = evaluated.per_query()
    for sid, values in per_query.items():
        assert list(mine[sid].query_ids) == list(values.query_ids)
        assert list(mine[sid].groups) == list(values.groups)
        for key, v in values.values.items():
            assert np.abs(mine[sid][key] - v).max() <= 1e-12, (sid, key)
    assert evaluated.aggregates == result.aggregates
    assert [s.metrics for s in evaluated.settings] == [s.metrics for s in result.settings]
    # and it is a first-class result: compare works on it (identical numbers: no difference)
    res = run_cli("compare", str(result.path), str(evaluated.path), "--test", "t", "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)


def test_export_depth_cut_and_refusals(bm25_full, tmp_path):
    res = run_cli("export", str(bm25_full.path), "--format", "trec", "--out", str(tmp_path / "t5"), "--depth", "5")
    assert res.returncode == 0, res.stderr
    lines = (tmp_path / "t5" / "xquad-r.de-en.run").read_text().splitlines()
    n_queries = len(bm25_full.per_query()["de>en"].query_ids)
    assert len(lines) == 5 * n_queries
    one_line_error(run_cli("export", str(bm25_full.path), "--format", "trec"), "--out DIR")
    one_line_error(run_cli("export", str(bm25_full.path), "--format", "trec", "-o", str(tmp_path / "x"), "--depth", "0"),
                   "--depth must be positive")


def test_result_without_rankings_cannot_export_trec(reference, tmp_path):
    one_line_error(run_cli("export", str(reference.path), "--format", "trec", "--out", str(tmp_path)),
                   str(reference.path), "no rankings were kept", "--keep-rankings")


def external_bm25_run(path: Path, depth: int) -> dict[str, dict[str, float]]:
    """A BM25 run built without mlbench: bm25s directly, whitespace tokens, every mono and cross
    setting of de,en (2 articles) in one file with setting-prefixed query ids, top ``depth``."""
    import bm25s

    from mlbench.data import load_task
    from mlbench.data.tasks import get_task

    data = load_task(get_task("xquad-r"), ["de", "en"], max_articles=2)
    run_: dict[str, dict[str, float]] = {}
    for pool in ("de", "en"):
        cands = data.langs[pool].candidates
        retriever = bm25s.BM25()
        retriever.index([t.lower().split() for t in cands.texts], show_progress=False)
        for qlang in ("de", "en"):
            qd = data.langs[qlang].queries
            docs, scores = retriever.retrieve([t.lower().split() for t in qd.texts], k=depth, show_progress=False)
            for qid, row, srow in zip(qd.ids, docs, scores):
                run_[f"{qlang}>{pool}:{qid}"] = {cands.ids[int(j)]: float(s) for j, s in zip(row, srow)}
    with path.open("w") as fh:
        for q, docs in run_.items():
            for rank, (d, s) in enumerate(sorted(docs.items(), key=lambda x: -x[1]), 1):
                fh.write(f"{q} Q0 {d} {rank} {s!r} bm25s-ws\n")
    return run_


def test_external_cut_run_is_evaluated_at_its_depth(tmp_path):
    run_file = tmp_path / "bm25s.txt"
    run_ = external_bm25_run(run_file, depth=20)
    out = tmp_path / "ev"
    res = run_cli("evaluate", str(run_file), "--task", "xquad-r", *SLICE, "--out", str(out), "--trec-measures", "P.5")
    assert res.returncode == 0, res.stderr
    result = read_result(out / "xquad-r--bm25s-ws.json")
    ext = result.run.external
    assert ext["depth"] == 20 and ext["full_ranking"] is False
    assert ext["metrics_at_depth"] == {"map": "map@20"} and ext["metrics_left_out"] == ["recall@100"]
    assert ext["files"][0]["sha256"] and result.run.kinds == ["cross", "mono"]
    assert result.main_metric == "map@20" and "map" not in result.metrics
    assert result.rankings_file.depth == 20 and result.rankings_depth == 20
    per_query = result.per_query()
    data_qrels = result.rankings()
    for sid, values in per_query.items():
        qids = list(values.query_ids)
        kept_run, kept_qrels = data_qrels[sid]
        assert kept_run.query_ids == qids
        qrels = {q: {d: 1 for d in kept_qrels.relevant(q)} for q in qids}
        own = {q: run_[f"{sid}:{q}"] for q in qids}
        ev = pytrec_eval.RelevanceEvaluator(qrels, {"map", "map_cut.20", "ndcg_cut.10", "recall.10", "P.5"}).evaluate(own)
        for m, key in (("map@20", "map"), ("map@20", "map_cut_20"), ("ndcg@10", "ndcg_cut_10"),
                       ("recall@10", "recall_10"), ("trec:P_5", "P_5")):
            ref = np.array([ev[q][key] for q in qids])
            assert np.abs(values[m] - ref).max() <= 1e-12, (sid, m, key)
    # the same run as a ranx Run through the Python API: the same numbers
    import ranx

    import mlbench

    api = mlbench.evaluate_run("xquad-r", ranx.Run.from_file(str(run_file), kind="trec"), langs=["de", "en"],
                               max_articles=2, out_dir=tmp_path / "api", name="bm25s-ranx", trec_measures=["P.5"])
    assert [s.metrics for s in api.result.settings] == [s.metrics for s in result.settings]
    # asking for a metric the depth cannot give is refused
    one_line_error(run_cli("evaluate", str(run_file), "--task", "xquad-r", *SLICE, "--out", str(tmp_path / "x"),
                           "--metrics", "recall@100"), "recall@100", "at most 20")


BAD_RUNS = {
    # case: (lines, needles besides the file name and line)
    "five fields": (["de>en:de/QID Q0 DOC 1 2.0"], [":1:", "6 fields"]),
    "score": (["de>en:de/QID Q0 DOC 1 high t"], [":1:", "score 'high'"]),
    "unknown query": (["de>en:de/nosuchquestion Q0 DOC 1 2.0 t"], [":1:", "'de/nosuchquestion'", "another task"]),
    "duplicate doc": (["de>en:de/QID Q0 DOC 1 2.0 t", "de>en:de/QID Q0 DOC 2 1.0 t"], [":2:", "ranked twice",
                                                                                      "first at line 1"]),
    "no setting": (["de/QID Q0 DOC 1 2.0 t"], [":1:", "does not name its setting"]),
    "other setting": (["de>zh:de/QID Q0 DOC 1 2.0 t"], [":1:", "de>zh is not a setting"]),
    "doc not in pool": (["de>en:de/QID Q0 de/p0000/s0 1 2.0 t"], [":1:", "'de/p0000/s0' is not a candidate",
                                                                  "de>en"]),
    "MIRACL run": (["yo>yo:yo/0 Q0 123#0 1 2.0 t"], [":1:", "yo>yo is not a setting of xquad-r"]),
}


@pytest.mark.parametrize("case", list(BAD_RUNS))
def test_bad_runs_one_line_exit_2_nothing_written(case, tmp_path):
    from mlbench.data import load_task
    from mlbench.data.tasks import get_task

    data = load_task(get_task("xquad-r"), ["de", "en"], max_articles=2)
    qid, doc = data.langs["de"].queries.ids[0], data.langs["en"].candidates.ids[0]
    lines, needles = BAD_RUNS[case]
    path = tmp_path / "bad.run"
    path.write_text("".join(line.replace("de/QID", qid).replace("DOC", doc) + "\n" for line in lines))
    res = run_cli("evaluate", str(path), "--task", "xquad-r", *SLICE, "--out", str(tmp_path / "out"))
    one_line_error(res, str(path), *needles)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------- MTEB


def test_mteb_export_validates_with_mtebs_own_model(bm25_full, tmp_path):
    mteb_results = pytest.importorskip("mteb.results")  # the optional extra mlbench[mteb]
    res = run_cli("export", str(bm25_full.path), "--format", "mteb", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert names == ["mlbench-xquad-r-cross.json", "mlbench-xquad-r-mono.json", "mlbench-xquad-r-multi.json"]
    agg = bm25_full.aggregates
    for kind in ("mono", "cross", "multi"):
        tr = mteb_results.TaskResult.from_disk(tmp_path / f"mlbench-xquad-r-{kind}.json")
        entries = tr.scores["test"]
        assert {e["hf_subset"] for e in entries} == {
            "mono": {"de-de", "en-en"}, "cross": {"de-en", "en-de"}, "multi": {"de-all", "en-all"}}[kind]
        # MTEB's score of the task (mean of the subsets' main scores) is mlbench's macro full-ranking mAP
        assert tr.get_score() == pytest.approx(agg.kinds[kind]["map"], abs=1e-12)
        assert all(e["main_metric"] == "map" and e["languages"][0] in ("deu-Latn", "eng-Latn") for e in entries)
    multi = {e["hf_subset"]: e for e in json.loads((tmp_path / "mlbench-xquad-r-multi.json").read_text())["scores"]["test"]}
    assert multi["de-all"]["rank_distance"] == pytest.approx(agg.rank_distance["query_langs"]["de"], abs=1e-12)
    assert multi["de-all"]["own_language_share_at_10"] == pytest.approx(
        agg.language_bias["top10"]["own_share"]["query_langs"]["de"], abs=1e-12)
    assert multi["de-all"]["languages"] == ["deu-Latn", "eng-Latn"]


@pytest.mark.slow  # ~15 s, most of it importing mteb
def test_mteb_export_of_miracl_names_mtebs_task_only_when_comparable(irds_home, tmp_path):
    mteb = pytest.importorskip("mteb")
    from mlbench.data.corpus import CorpusOptions

    cfg = RunConfig(model="bm25", tasks=["miracl"], langs=["yo"], corpus=CorpusOptions(), out_dir=tmp_path / "res",
                    keep_rankings=100)
    (out,) = run(cfg)
    assert out.result.run.loader["comparable_with_official"] is False  # the fixture's pool is not MIRACL's corpus
    # the top-100 run (topk backend) exported and evaluated again: a cut run whose every metric fits
    res = run_cli("export", str(out.path), "--format", "trec", "--out", str(tmp_path / "trec"))
    assert res.returncode == 0, res.stderr
    res = run_cli("evaluate", str(tmp_path / "trec"), "--task", "miracl", "--langs", "yo", "--out", str(tmp_path / "ev"))
    assert res.returncode == 0, res.stderr
    again = read_result(next((tmp_path / "ev").glob("*.json")))
    assert again.run.external["depth"] == 100 and again.metrics == out.result.run.metrics
    assert [s.metrics for s in again.settings] == [s.metrics for s in out.result.settings]
    res = run_cli("export", str(out.path), "--format", "mteb", "--out", str(tmp_path / "a"))
    assert res.returncode == 0, res.stderr
    (path,) = (tmp_path / "a").glob("*.json")
    tr = mteb.results.TaskResult.from_disk(path)
    assert tr.task_name == "mlbench-miracl-mono" and tr.scores["dev"][0]["hf_subset"] == "yo-yo"
    assert tr.scores["dev"][0]["mlbench"]["not_comparable_because"]
    assert tr.get_score() == pytest.approx(out.result.aggregates.kinds["mono"]["ndcg@10"], abs=1e-12)
    # a result on the whole corpus (here: the same file marked so) is MTEB's MIRACLRetrieval, per language
    doc = json.loads(out.path.read_text())
    assert doc["schema"] == "mlbench.result/2" and "comparable_with_official" not in doc["run"]  # a loader fact
    doc["run"]["loader"]["comparable_with_official"] = True
    out.path.write_text(json.dumps(doc))
    res = run_cli("export", str(out.path), "--format", "mteb", "--out", str(tmp_path / "b"))
    assert res.returncode == 0, res.stderr
    tr = mteb.results.TaskResult.from_disk(tmp_path / "b" / "MIRACLRetrieval.json")
    task = mteb.get_task("MIRACLRetrieval")
    assert tr.dataset_revision == task.metadata.revision
    entry = tr.scores["dev"][0]
    assert entry["hf_subset"] == "yo" and entry["languages"] == task.metadata.hf_subsets_to_langscripts["yo"]
    assert entry["main_metric"] == "ndcg_at_10" == task.metadata.main_score
    assert tr.get_score() == pytest.approx(out.result.aggregates.kinds["mono"]["ndcg@10"], abs=1e-12)


# -------------------------------------------------------------------------------------- fusion


@pytest.mark.slow  # ~25 s: ranx compiles its kernels (numba) in each process
def test_fusion_equals_ranx_fusion_of_the_exported_runs(use, tmp_path):
    """BM25 + use-m3 (XQuAD-R de,en, 1 article, full rankings) fused by mlbench fuse equal ranx's
    fusion of the same runs read back from TREC files: the fused scores, and pytrec_eval's scores of
    ranx's fused run equal the result's per-query values."""
    import ranx
    from helpers import small

    from mlbench.pipeline.fuse import fuse_results
    from mlbench.results.export import export_trec

    (bm25,) = run(small(tmp_path / "a", model="bm25", keep_rankings="full"))
    (dense,) = run(small(tmp_path / "b", keep_rankings="full"), model=use)
    inputs = [read_result(bm25.path), read_result(dense.path)]
    got = fuse_results(inputs, "rrf", out_dir=tmp_path / "fused")
    path = got.path
    fused = read_result(path)
    assert got.result.run.derived_from["ranx_method"] == "rrf" and got.result.rankings_file.depth == "full"
    assert fused.metrics == inputs[0].metrics  # full rankings: every metric exact, map included
    for i, r in enumerate(inputs):
        export_trec(r, tmp_path / f"t{i}")
    export_trec(fused, tmp_path / "tf")
    per_query = fused.per_query()
    for sid, values in per_query.items():
        name = f"xquad-r.{sid.replace('>', '-').replace('*', 'all')}"
        runs = [ranx.Run.from_file(str(tmp_path / f"t{i}" / f"{name}.run"), kind="trec") for i in range(2)]
        theirs = ranx.fuse(runs=runs, norm="min-max", method="rrf").to_dict()
        mine = read_trec(tmp_path / "tf" / f"{name}.run")
        assert set(mine) == set(theirs)
        for q in theirs:
            assert set(mine[q]) == set(theirs[q])
            assert max(abs(mine[q][d] - s) for d, s in theirs[q].items()) <= 1e-12
        qrels = read_qrels(tmp_path / "t0" / f"{name}.qrels")
        ev = pytrec_eval.RelevanceEvaluator(qrels, {"map", "recall.1,5,10,100", "ndcg_cut.10"}).evaluate(theirs)
        for m, key in TREC_OF.items():
            ref = np.array([ev[q][key] for q in values.query_ids])
            assert np.abs(values[m] - ref).max() <= 1e-12, (sid, m)
    # a first-class result: compare reads it
    res = run_cli("compare", str(bm25.path), str(path), "--test", "t")
    assert res.returncode == 0, res.stderr
    # refusals: a result without rankings, another slice
    from mlbench.errors import MlbenchError

    (plain,) = run(small(tmp_path / "c", model="bm25"))
    with pytest.raises(MlbenchError, match="no rankings were kept"):
        fuse_results([inputs[0], read_result(plain.path)], "rrf", out_dir=tmp_path / "x")
    cfg = small(tmp_path / "d", model="bm25", keep_rankings=10)
    cfg.lareqa.max_articles = 2
    (other,) = run(cfg)
    res = run_cli("fuse", str(bm25.path), str(other.path), "--out", str(tmp_path / "y"))
    one_line_error(res, str(other.path), "not the slice", "max_articles 1 vs 2")
    assert not (tmp_path / "y").exists()


@pytest.mark.slow  # ~18 s: ranx compiles its kernels (numba) in each process
def test_fusion_of_cut_runs_undoes_only_the_recorded_map_rename(tmp_path):
    """A cut input's map@20 that stands for map (run.external.metrics_at_depth, run.derived_from
    on a fused input) becomes map at the fused depth; a map@10 asked for is kept as map@10."""
    import mlbench
    from mlbench.pipeline.fuse import fuse_results

    run_file = tmp_path / "bm25s.txt"
    external_bm25_run(run_file, depth=20)
    ev = mlbench.evaluate_run("xquad-r", str(run_file), langs=["de", "en"], max_articles=2, out_dir=tmp_path / "ev",
                              metrics=["map", "map@10", "ndcg@10"])
    assert ev.result.run.external["metrics_at_depth"] == {"map": "map@20"}
    evaluated = read_result(ev.path)
    assert evaluated.metrics == ["map@20", "map@10", "ndcg@10"]
    # fused with itself (CombSUM of raw scores doubles each score exactly, ties included): the same
    # rankings under the tie rule, depth and numbers
    got = fuse_results([evaluated, evaluated], "combsum", "none", out_dir=tmp_path / "f1")
    fused = read_result(got.path)
    assert got.result.run.derived_from["metrics_at_depth"] == {"map": "map@20"}
    assert fused.metrics == ["map@20", "map@10", "ndcg@10"] and fused.main_metric == "map@20"
    assert [s.metrics for s in fused.settings] == [s.metrics for s in evaluated.settings]
    # and a fused input (its rename recorded under run.derived_from) fused again
    again = fuse_results([fused, fused], "combsum", "none", out_dir=tmp_path / "f2")
    assert again.result.run.metrics == ["map@20", "map@10", "ndcg@10"]
    assert again.result.run.derived_from["metrics_at_depth"] == {"map": "map@20"}
    assert [s.metrics for s in again.result.settings] == [s.metrics for s in evaluated.settings]
