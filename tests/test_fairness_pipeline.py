"""PEER@k and MRC through the whole pipeline: asked for by --metrics, recorded with their
parameters, equal to their references on the rankings the run kept (peer-measure for PEER, scipy's
spearmanr for MRC), and present in compare, check, the report and its rank-correlation heatmap."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from helpers import run_cli

from mlbench.results import read_result

LANGS = "de,en,zh"
METRICS = "map,peer@10,peer@100,peer@10:w0=0.3:w1=0.7,mrc,mrc@10"
TOL = 1e-9


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("fair")
    paths = {}
    for model in ("use-m3", "bm25"):
        res = run_cli("run", "-m", model, "--langs", LANGS, "--max-articles", "2", "--metrics", METRICS,
                      "--keep-rankings", "full", "-o", str(out))
        assert res.returncode == 0, res.stderr[-2000:]
        paths[model] = out / f"xquad-r--{model}.json"
    return paths


def test_measures_are_recorded_with_their_parameters(results):
    r = read_result(results["use-m3"])
    assert r.metrics == METRICS.split(",")
    m = r.run.measures
    assert m["peer@10"]["k"] == 10 and m["peer@10"]["weights"] == {"0": 0.5, "1": 0.5}
    assert m["peer@10:w0=0.3:w1=0.7"]["weights"] == {"0": 0.3, "1": 0.7}
    assert m["mrc"]["k"] is None and m["mrc@10"]["k"] == 10
    assert "peer-measure 0.0.1" in m["peer@100"]["definition"] and "2509.06195" in m["mrc"]["definition"]
    # measured in the multilingual pool only: per query there, in no mono or cross setting
    pq = r.per_query()
    for s in r.settings:
        assert ("peer@10" in pq[s.id]) == (s.kind == "multi") and ("mrc" in s.metrics) == (s.kind == "multi")
    rc = r.aggregates.rank_correlation
    assert set(rc) == {"mrc", "mrc@10"} and set(rc["mrc"]["matrix"]) == set(LANGS.split(","))


def _kept(path):
    r = read_result(path)
    return r, r.rankings(), r.per_query()


def _reference_peer(run, qrels, k: int, weights: dict[int, float]) -> dict[str, float]:
    """peer-measure's PEER@k of each query from the kept ranking (scores: the rank, descending, so
    that the reference ranks exactly as the run did), every pool candidate judged (0 unless relevant)."""
    import ir_measures
    from peer_measure import PEER

    pool = sorted(set(run.ids[0].tolist()))
    mapping = {doc: doc.split("/", 1)[0] for doc in pool}
    measure = PEER(weights=weights, lang_mapping=mapping) @ k
    q_list, r_list = [], []
    for row, qid in enumerate(run.query_ids):
        grades = qrels.of(qid)
        q_list += [ir_measures.Qrel(qid, doc, grades.get(doc, 0)) for doc in pool]
        depth = len(run.ids[row])
        r_list += [ir_measures.ScoredDoc(qid, doc, float(depth - i)) for i, doc in enumerate(run.ids[row].tolist())]
    with np.errstate(invalid="ignore"):
        return {m.query_id: m.value for m in ir_measures.iter_calc([measure], q_list, r_list)}


@pytest.mark.parametrize("model", ["use-m3", "bm25"])
def test_peer_equals_the_reference_package_on_the_kept_rankings(results, model):
    r, kept, pq = _kept(results[model])
    compared = 0
    for s in (s for s in r.settings if s.kind == "multi"):
        run, qrels = kept[s.id]
        assert run.full and run.ids.shape[1] == len(set(run.ids[0].tolist()))
        for name, k, weights in (("peer@10", 10, {0: 0.5, 1: 0.5}), ("peer@100", 100, {0: 0.5, 1: 0.5}),
                                 ("peer@10:w0=0.3:w1=0.7", 10, {0: 0.3, 1: 0.7})):
            ours = dict(zip(pq[s.id].query_ids.tolist(), pq[s.id][name].tolist()))
            ref = _reference_peer(run, qrels, k, weights)
            assert set(ref) == set(ours)
            worst = max(abs(ours[q] - ref[q]) for q in ref)
            assert worst <= TOL, (s.id, name, worst)
            compared += len(ref)
    assert compared == 3 * 3 * len(r.per_query()["de>*"])
    values = np.concatenate([pq[s.id]["peer@10"] for s in r.settings if s.kind == "multi"])
    assert len(np.unique(np.round(values, 6))) > 20  # real variation, not only edge cases


@pytest.mark.parametrize("model", ["use-m3", "bm25"])
def test_mrc_equals_scipy_spearman_on_the_kept_rankings(results, model):
    r, kept, pq = _kept(results[model])
    multi = {s.query_lang: s.id for s in r.settings if s.kind == "multi"}
    positions = {}  # (lang, group) -> rank of every pool candidate, in one shared candidate order
    pool = sorted(set(kept[multi["de"]][0].ids[0].tolist()))
    at = {doc: i for i, doc in enumerate(pool)}
    for lang, sid in multi.items():
        run, _ = kept[sid]
        groups = dict(zip(pq[sid].query_ids.tolist(), pq[sid].groups.tolist()))
        for row, qid in enumerate(run.query_ids):
            ranks = np.empty(len(pool))
            ranks[[at[d] for d in run.ids[row].tolist()]] = np.arange(1, len(pool) + 1)
            positions[(lang, groups[qid])] = ranks
    pair_rhos: dict[tuple[str, str], list[float]] = {}
    worst = 0.0
    for lang, sid in multi.items():
        for qid, group, got in zip(pq[sid].query_ids.tolist(), pq[sid].groups.tolist(), pq[sid]["mrc"].tolist()):
            rhos = []
            for other in multi:
                if other != lang and (other, group) in positions:
                    rho = stats.spearmanr(positions[(lang, group)], positions[(other, group)]).statistic
                    rhos.append(rho)
                    pair_rhos.setdefault((lang, other), []).append(rho)
            worst = max(worst, abs(got - float(np.mean(rhos))))
    assert worst <= TOL
    matrix = r.aggregates.rank_correlation["mrc"]["matrix"]
    for (a, b), rhos in pair_rhos.items():
        assert abs(matrix[a][b] - float(np.mean(rhos))) <= TOL
    assert abs(r.aggregates.kinds["multi"]["mrc"] - np.mean([np.mean(pq[s]["mrc"]) for s in multi.values()])) <= TOL


def test_compare_and_check_test_them(results, tmp_path):
    res = run_cli("compare", str(results["bm25"]), str(results["use-m3"]), "--metric", "mrc", "--test", "t",
                  "--format", "json")
    assert res.returncode == 0, res.stderr
    rows = {(r["id"], r["metric"]): r for r in json.loads(res.stdout)["aggregates"]}
    for key in ("mrc", "mrc@10", "peer@10", "peer@100"):
        row = rows[("mean(multi)", key)]
        assert row["n"] == 3 * 97 and row["p_adjusted"] is not None
    assert rows[("mean(multi)", "mrc")]["mean_b"] > rows[("mean(multi)", "mrc")]["mean_a"]  # use-m3 ranks alike
    settings = {r["id"]: r for r in json.loads(res.stdout)["settings"]}
    assert set(settings) == {"de>*", "en>*", "zh>*"} and all(r["metric"] == "mrc" for r in settings.values())
    res = run_cli("check", str(results["use-m3"]), "--baseline", str(results["bm25"]), "--metric", "peer@10",
                  "--test", "t", "--json", str(tmp_path / "v.json"))
    assert res.returncode == 1, res.stderr  # use-m3's PEER@10 is lower than bm25's: a failed gate
    verdicts = json.loads((tmp_path / "v.json").read_text())["verdicts"]
    assert {(v["target"], v["metric"], v["status"]) for v in verdicts} >= {
        ("mean(multi)", "peer@10", "FAIL"), ("mean(multi)", "mrc", "OK"), ("mean(multi)", "mrc@10", "OK")}


def test_the_report_shows_the_rank_correlation_heatmap(results, tmp_path):
    out = tmp_path / "r.html"
    res = run_cli("report", str(results["use-m3"]), "-o", str(out), "--against", str(results["bm25"]), "--test", "t")
    assert res.returncode == 0, res.stderr
    page = out.read_text(encoding="utf-8")
    section = page[page.index('id="plot-rankcorr"'):]
    section = section[: section.index("</div>")]
    assert section.count("<img ") == 2 and "plot left out" not in section  # A and B
    assert "peer@10" in page and "mrc@10" in page
    # a run without MRC says why the heatmap is left out
    plain = run_cli("run", "-m", "bm25", "--langs", "de,en", "--max-articles", "1", "-o", str(tmp_path / "p"))
    assert plain.returncode == 0, plain.stderr
    res = run_cli("report", str(tmp_path / "p" / "xquad-r--bm25.json"), "-o", str(tmp_path / "p.html"))
    assert res.returncode == 0, res.stderr
    assert "plot left out — the run has no mean rank correlation" in (tmp_path / "p.html").read_text(encoding="utf-8")
