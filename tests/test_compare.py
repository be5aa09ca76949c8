"""`mlbench compare`: paired significance tests, corrections and language-bias diagnostics on real
XQuAD-R result files (use-m3 vs BM25 on a 3-language, 4-article slice)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import run_cli
from scipy import stats
from typer.testing import CliRunner

from mlbench.analysis.compare import compare
from mlbench.analysis.significance import (
    adjust,
    bootstrap_ci,
    bootstrap_test,
    cohens_d,
    paired_test,
    randomization_test,
    t_test,
)
from mlbench.analysis.floors import reachable, smallest_p
from mlbench.cli import app
from mlbench.data import load_task
from mlbench.data.lareqa import LareqaOptions
from mlbench.errors import MlbenchError
from mlbench.pipeline import RunConfig, run
from mlbench.render.comparison import render
from mlbench.results import read_result
from mlbench.data.tasks import get_task

LANGS = ["de", "en", "zh"]
ARTICLES = 4
SLICE = dict(tasks=["xquad-r"], langs=LANGS)


def _run(root: Path, name: str, model=None, max_articles: int = ARTICLES, **cfg) -> Path:
    spec = cfg.pop("spec", name)
    kw = {**SLICE, **cfg}
    (out,) = run(RunConfig(model=spec, out_dir=root / name, cache_dir=root / "cache",
                           lareqa=LareqaOptions(max_articles=max_articles), **kw), model=model)
    return out.path


def _relabelled(path: Path, out_dir: Path, task: str) -> Path:
    """A copy of a real result file whose task name says ``task`` (its sidecar copied along)."""
    doc = json.loads(path.read_text())
    doc["task"]["name"] = task
    out_dir.mkdir(parents=True)
    (out_dir / doc["per_query"]["file"]).write_bytes((path.parent / doc["per_query"]["file"]).read_bytes())
    (out_dir / path.name).write_text(json.dumps(doc))
    return out_dir / path.name


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Real result files, built once: use-m3 (A) and BM25 (B) on the slice, plus the odd ones the
    error cases need (another task, other settings, other queries)."""
    root = tmp_path_factory.mktemp("compare")
    paths = SimpleNamespace(a=_run(root, "use-m3"), b=_run(root, "bm25"),
                            mono=_run(root, "mono", spec="bm25", kinds="mono"),
                            fewer=_run(root, "fewer", spec="bm25", max_queries=20))
    paths.mlqa = _relabelled(paths.b, root / "mlqa", "mlqa-r")
    paths.other_queries = _relabelled(paths.b, root / "other", "xquad-r")
    edit = json.loads(paths.other_queries.read_text())
    side = paths.other_queries.parent / edit["per_query"]["file"]
    arrays = dict(np.load(side))
    arrays["s0/query_ids"] = np.asarray([q + "x" for q in arrays["s0/query_ids"].tolist()])
    np.savez_compressed(side, **arrays)
    edit["per_query"]["sha256"] = hashlib.sha256(side.read_bytes()).hexdigest()
    paths.other_queries.write_text(json.dumps(edit))
    return SimpleNamespace(root=root, paths=paths, a=read_result(paths.a), b=read_result(paths.b))


@pytest.fixture(scope="module")
def report(env):
    return compare(env.a, env.b)  # defaults: map, randomization, 10000 permutations, Holm, alpha 0.05


def _aligned(env, sid: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    pa, pb = env.a.per_query()[sid], env.b.per_query()[sid]
    assert pa.query_ids.tolist() == pb.query_ids.tolist()
    return pa[metric], pb[metric]


# --- corrections -------------------------------------------------------------------------------

def test_adjusted_p_values_worked_example():
    # by hand, m = 4, sorted p: 0.005 (4th), 0.01 (1st), 0.03 (3rd), 0.04 (2nd)
    # Holm: 4*0.005=0.02, 3*0.01=0.03, 2*0.03=0.06, max(1*0.04, 0.06)=0.06
    # BH:   0.04*4/4=0.04, min(0.03*4/3, .04)=0.04, min(0.01*4/2, .04)=0.02, min(0.005*4/1, .02)=0.02
    p = [0.01, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(adjust(p, "holm"), [0.03, 0.06, 0.06, 0.02], rtol=0, atol=1e-15)
    np.testing.assert_allclose(adjust(p, "bonferroni"), [0.04, 0.16, 0.12, 0.02], rtol=0, atol=1e-15)
    np.testing.assert_allclose(adjust(p, "bh"), [0.02, 0.04, 0.04, 0.02], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(adjust(p, "none"), p)
    # sorted 0.3, 0.5, 0.9: 3*0.3=0.9, 2*0.5=1.0, then max(1*0.9, 1.0): capped at 1 and monotone
    np.testing.assert_allclose(adjust([0.3, 0.9, 0.5], "holm"), [0.9, 1.0, 1.0], rtol=0, atol=1e-15)
    assert adjust([], "holm").shape == (0,)
    with pytest.raises(MlbenchError, match="--correction 'sidak' is not one of holm, bonferroni, bh, none"):
        adjust(p, "sidak")


# --- the tests themselves, on real per-query values -----------------------------------------------

def test_randomization_agrees_with_ranx_and_a_differently_built_scipy_test(env, report):
    from ranx.statistical_tests import fisher_randomization_test

    n1, n2 = 10000, 20000
    checked, exacts = [], []
    # moderate p-values (de>de, zh>zh recall@5), small ones (en>en), the floor (de>en) and p = 1
    cases = [("de>de", m) for m in ("map", "recall@1", "recall@5", "ndcg@10", "mrr@10")] + [
        ("en>en", "map"), ("en>en", "ndcg@10"), ("zh>zh", "recall@5"), ("de>en", "map"), ("en>en", "recall@10")]
    for sid, metric in cases:
        a, b = _aligned(env, sid, metric)
        p = randomization_test(a, b, n1, seed=0)
        # scipy, set up differently: two samples, statistic mean(x - y), another seed
        ref = stats.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis),
                                     permutation_type="samples", vectorized=True, n_resamples=n2,
                                     rng=np.random.default_rng(12345)).pvalue
        # ranx: Fisher's randomization test, its own permutation code (|mean diff| >= observed)
        rx, _ = fisher_randomization_test(a, b, n2, 0.05, 777)
        # Monte-Carlo standard errors: scipy's two-sided p is 2 min(P<=, P>=), so its variance is
        # p(2 - p)/n; ranx counts |T| >= |t|, variance p(1 - p)/n
        for other, var2 in ((ref, ref * (2 - ref) / n2), (rx, rx * (1 - rx) / n2)):
            q = min(max(other, 1 / n2), 1 - 1 / n2)
            tol = 4 * math.sqrt(q * (2 - q) / n1 + max(var2, 1 / n2 ** 2)) + 1 / n1 + 1 / n2
            assert abs(p - other) < tol, (sid, metric, p, other, tol)
        d = b - a
        if set(np.unique(d)) <= {-1.0, 0.0, 1.0}:  # recall@k with one relevant: sign flips are a binomial
            m, k = int(np.count_nonzero(d)), int(np.count_nonzero(d > 0))
            exact = min(1.0, 2 * min(stats.binom.cdf(k, m, 0.5), stats.binom.sf(k - 1, m, 0.5)))
            assert abs(p - exact) < 4 * math.sqrt(exact * (2 - exact) / n1) + 1 / n1, (sid, metric, p, exact)
            exacts.append((sid, metric, p, exact))
        checked.append((sid, metric, p, ref, rx))
    print("\nrandomization p (mlbench, scipy two-sample, ranx):", *checked, "exact:", *exacts, sep="\n")
    assert len(exacts) >= 2
    moderate = [c for c in checked if 0.01 < c[2] < 0.99]
    assert len(moderate) >= 5  # the agreement is shown where Monte-Carlo error matters, not only at the floor
    # the report's per-setting p-values are this test on the aligned arrays, same seed
    row = next(r for r in report.settings if r.id == "de>de")
    assert row.p == randomization_test(*_aligned(env, "de>de", "map"), 10000, seed=0)
    assert 0.08 < row.p < 0.16  # measured 0.1190: BM25 vs use-m3 on German mono mAP is not significant


def test_t_test_is_scipy_ttest_rel_and_aggregates_are_the_reported_macros(env):
    rep = compare(env.a, env.b, test="t")
    for row in rep.settings:
        a, b = _aligned(env, row.id, "map")
        assert row.p == stats.ttest_rel(b, a).pvalue
        assert row.effect_size == pytest.approx(np.mean(b - a) / np.std(b - a, ddof=1), rel=1e-12)
        assert row.mean_a == pytest.approx(env.a.setting(row.id).metrics["map"], rel=1e-12)
    # mono units are the mono queries themselves: the aggregate test is ttest_rel on their concatenation
    mono = [s for s in env.a.per_query() if s.split(">")[0] == s.split(">")[1]]
    ca = np.concatenate([_aligned(env, s, "map")[0] for s in mono])
    cb = np.concatenate([_aligned(env, s, "map")[1] for s in mono])
    agg = {(r.id, r.metric): r for r in rep.aggregates}
    assert agg[("mean(mono)", "map")].p == pytest.approx(stats.ttest_rel(cb, ca).pvalue, rel=1e-9)
    # the tested unit means are the reported macro aggregates of each file
    for result, side in ((env.a, "mean_a"), (env.b, "mean_b")):
        ag = result.aggregates
        for kind in ("mono", "cross", "multi"):
            assert getattr(agg[(f"mean({kind})", "map")], side) == pytest.approx(ag.kinds[kind]["map"], rel=1e-12)
        assert getattr(agg[("mean(multi)", "rank_distance")], side) == pytest.approx(ag.rank_distance["macro"], rel=1e-12)
        for c in (10, 100):
            assert getattr(agg[("mean(multi)", f"own_lang@{c}")], side) == pytest.approx(
                ag.language_bias[f"top{c}"]["own_share"]["macro"], rel=1e-12)
    assert agg[("mean(multi)", "own_lang@10")].expected == pytest.approx(1 / 3, rel=1e-12)


def test_bootstrap_ci_and_test(env):
    a, b = _aligned(env, "de>de", "map")
    lo, hi = bootstrap_ci(a, b, 0.95, 10000, seed=0)
    ref = stats.bootstrap((b - a,), np.mean, n_resamples=10000, rng=np.random.default_rng(3)).confidence_interval
    assert lo < np.mean(b - a) < hi
    assert abs(lo - ref.low) < 0.01 and abs(hi - ref.high) < 0.01
    p_boot, p_rand = bootstrap_test(a, b, 10000, seed=0), randomization_test(a, b, 10000, seed=0)
    assert abs(p_boot - p_rand) < 0.05  # measured 0.1126 vs 0.1190
    r = paired_test(a, b, "bootstrap", 10000, seed=0)
    assert (r.ci_low, r.ci_high, r.p) == (lo, hi, p_boot)


def test_identical_runs_give_p_1_everywhere(env):
    a, _ = _aligned(env, "de>*", "map")
    for test in ("randomization", "t", "bootstrap"):
        rep = compare(env.a, env.a, test=test, n_permutations=500)
        rows = rep.settings + rep.aggregates
        assert {r.p for r in rows} == {1.0} and {r.p_adjusted for r in rows} == {1.0}
        assert all(r.delta == 0 and r.effect_size == 0 and r.ci_low == r.ci_high == 0 for r in rows)
        assert {r.marker for r in rows} == {""} and {r.outcome for r in rows} == {"tie"}
        t = rep.summary["all"]
        assert (t.wins, t.ties, t.losses) == (0, 12, 0)
    assert randomization_test(a, a) == t_test(a, a) == bootstrap_test(a, a) == 1.0
    assert cohens_d(a, a) == 0.0
    # a constant non-zero shift: d is infinite, the interval is the shift itself
    r = paired_test(a, a + 0.25, "t")
    assert r.effect_size == math.inf and r.ci_low == r.ci_high == pytest.approx(0.25) and r.p == 0.0


def test_use_m3_vs_bm25_report(report):
    rows = {r.id: r for r in report.settings}
    assert len(rows) == 12 and report.families == {"settings": 12, "aggregates": 6}
    # BM25 cannot match across scripts or languages: every cross and multi setting is a significant drop
    assert all(r.marker == "▼" and r.outcome == "loss" for r in report.settings if r.kind in ("cross", "multi"))
    # ...but it beats use-m3 monolingually in en and zh (measured +0.088, +0.110 mAP); de is a tie
    assert rows["en>en"].marker == rows["zh>zh"].marker == "▲" and rows["de>de"].marker == ""
    t = report.summary
    assert (t["all"].wins, t["all"].ties, t["all"].losses) == (2, 1, 9)
    assert (t["cross"].wins, t["cross"].ties, t["cross"].losses) == (0, 0, 6)
    # the Monte-Carlo floor of a two-sided test with 10000 permutations is 2/10001; Holm over 12
    floor = 2 / 10001
    assert rows["de>en"].p == pytest.approx(floor) and rows["de>en"].p_adjusted == pytest.approx(12 * floor)
    agg = {(r.id, r.metric): r for r in report.aggregates}
    rd = agg[("mean(multi)", "rank_distance")]
    assert rd.better == "lower" and rd.delta > 100 and rd.marker == "▼"  # measured 10.4 -> 150.5
    own = agg[("mean(multi)", "own_lang@10")]
    assert own.mean_b > 0.9 and own.marker == "▼"  # BM25's top-10 is 93% own language (expected 1/3)


def test_results_of_other_languages_or_kinds_are_compared_on_what_they_share(env, tmp_path):
    """Settings both hold are compared, with a note; multilingual pools of other languages are not
    the same pool, so those settings are left out."""
    rep = compare(env.a, read_result(env.paths.mono), n_permutations=2000)
    assert [r.id for r in rep.settings] == ["de>de", "en>en", "zh>zh"]
    assert any("compared on the 3 settings both results hold" in n and "only in xquad-r--use-m3.json: de>en" in n
               for n in rep.notes)
    (two,) = run(RunConfig(model="bm25", out_dir=tmp_path / "two", tasks=["xquad-r"], langs=["de", "en"],
                           lareqa=LareqaOptions(max_articles=ARTICLES), cache_dir=tmp_path / "cache"))
    rep = compare(env.b, read_result(two.path), n_permutations=2000)
    assert {r.id for r in rep.settings} == {"de>de", "de>en", "en>de", "en>en"}
    assert any("2 multilingual settings left out: their pools differ (languages de,en,zh vs de,en)" in n for n in rep.notes)
    assert all(r.delta == 0 for r in rep.settings)  # the same BM25 on the same one-language pools
    text = render(rep, "table")
    assert "multilingual settings left out" in text


def test_resamples_follow_the_number_of_tests(env):
    """Left to choose, the number of permutations lets every family reach alpha; the smallest
    adjusted p each family can reach is reported."""
    rep = compare(env.a, env.b, alpha=0.001)
    assert rep.n_permutations == 20 * 12 / 0.001 == 240000
    assert rep.reachable["settings"] == pytest.approx(12 * 2 / 240001) and rep.reachable["settings"] <= 0.001 / 10
    assert "smallest reachable adjusted p: settings 0.0001, aggregates" in rep.procedure()
    assert compare(env.a, env.b).n_permutations == 10000  # the default floor
    assert reachable({"settings": [1190] * 132}, "randomization", "holm", 0.05, None)[0] == 52800
    assert smallest_p("randomization", 5, 10000) == 2 / 32 and smallest_p("t", 5, 10) == 0.0


def test_family_per_kind(env):
    rep = compare(env.a, env.b, family="kind", n_permutations=500)
    assert rep.families == {"mono settings": 3, "cross settings": 6, "multi settings": 3, "aggregates": 6}
    rows = {r.id: r for r in rep.settings}
    assert rows["de>en"].p_adjusted == pytest.approx(6 * rows["de>en"].p)  # Holm within the 6 cross settings
    assert "mono settings (3 tests), cross settings (6 tests), multi settings (3 tests)" in rep.procedure()


# --- the command -------------------------------------------------------------------------------

def _cli(*args: str):
    return CliRunner().invoke(app, ["compare", *args], env={"COLUMNS": "200"})


def test_cli_three_formats_and_out(env, tmp_path):
    a, b = str(env.paths.a), str(env.paths.b)
    common = ["--permutations", "1000", "--seed", "3"]
    table = _cli(a, b, *common)
    assert table.exit_code == 0, table.stderr
    for text in ("two-sided paired randomization test", "1000 permutations, seed 3", "correction: Holm",
                 "settings (12 tests), aggregates (6 tests)", "alpha = 0.05", "de>*", "mean(cross)",
                 "rank_distance (lower is better)", "2 wins, 1 tie, 9 losses", "▼", "▲"):
        assert text in table.stdout, text

    # 1000 permutations cannot reach alpha 0.01 over 12 settings (12 * 2 / 1001 = 0.024): refused
    refused = _cli(a, b, *common, "--correction", "bh", "--alpha", "0.01")
    assert refused.exit_code == 2 and "--permutations 1000: with 12 tests in family 'settings'" in refused.stderr
    assert "smallest reachable adjusted p is 0.024 > alpha 0.01" in refused.stderr and "24000 or more" in refused.stderr
    common = ["--permutations", "3000", "--seed", "3"]
    md = _cli(a, b, *common, "--format", "markdown", "--correction", "bh", "--alpha", "0.01")
    assert md.exit_code == 0, md.stderr
    lines = md.stdout.splitlines()
    assert lines[0] == "### xquad-r: map, A = use-m3 vs B = bm25"
    assert any(line.startswith("Test: two-sided paired randomization test") and "correction: Benjamini-Hochberg" in line
               and "alpha = 0.01" in line for line in lines)
    assert "| setting | kind | n | A | B | Δ B−A | CI | p | p adj. | d |  |" in lines
    assert sum(line.startswith("| `") for line in lines) == 12 + 6
    assert any(line.startswith("| `de>en` | cross | 135 | 0.7096 | 0.4888 | -0.2208 |") and line.endswith("| ▼ |")
               for line in lines)

    js = _cli(a, b, *common, "--format", "json", "--test", "t", "--correction", "bonferroni")
    assert js.exit_code == 0, js.stderr
    doc = json.loads(js.stdout)
    assert (doc["test"], doc["correction"], doc["alpha"]) == ("t", "bonferroni", 0.05)
    assert "paired t-test" in doc["procedure"] and "Bonferroni" in doc["procedure"]
    api = compare(env.a, env.b, test="t", correction="bonferroni", n_permutations=3000, seed=3)
    assert [r["p_adjusted"] for r in doc["settings"]] == [r.p_adjusted for r in api.settings]
    assert doc["summary"]["all"] == {"wins": 2, "ties": 1, "losses": 9}

    out = tmp_path / "sub" / "cmp.md"
    written = _cli(a, b, *common, "--format", "markdown", "--out", str(out))
    assert written.exit_code == 0 and written.stdout == ""
    assert out.read_text(encoding="utf-8") == render(compare(env.a, env.b, n_permutations=3000, seed=3), "markdown")
    assert not [p for p in out.parent.iterdir() if p.name != "cmp.md"]  # no temporary left behind


def test_mlbench_compare_command_line(env):
    ok = run_cli("compare", str(env.paths.a), str(env.paths.b), "--permutations", "500", "-f", "markdown")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("### xquad-r: map, A = use-m3 vs B = bm25") and "correction: Holm" in ok.stdout
    bad = run_cli("compare", str(env.paths.a), str(env.paths.mlqa))
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1 and "is 'mlqa-r'" in bad.stderr


@pytest.mark.parametrize("case", ["task", "slice", "queries", "metric", "test", "correction", "alpha", "format",
                                  "missing", "permutations"])
def test_cli_errors_are_one_line_exit_2(env, case):
    p = env.paths
    args, expect = {
        "task": ([p.a, p.mlqa], [str(p.mlqa), "is 'mlqa-r'", str(p.a), "'xquad-r'"]),
        "slice": ([p.a, p.fewer], [str(p.fewer), "not the same slice of xquad-r", "max_queries none vs 20"]),
        "queries": ([p.a, p.other_queries], [str(p.other_queries), "setting de>de has different queries"]),
        "metric": ([p.a, p.b, "--metric", "recall@3"], ["--metric 'recall@3'", str(p.a), "map, recall@1"]),
        "test": ([p.a, p.b, "--test", "sign"], ["--test 'sign' is not one of randomization, t, bootstrap, wilcoxon"]),
        "correction": ([p.a, p.b, "--correction", "fdr"], ["--correction 'fdr' is not one of"]),
        "alpha": ([p.a, p.b, "--alpha", "1.5"], ["--alpha must be in (0, 1), got 1.5"]),
        "format": ([p.a, p.b, "--format", "html"], ["--format 'html' is not one of table, markdown, json"]),
        "missing": ([p.a, env.root / "nope.json"], ["nope.json: cannot read result file"]),
        "permutations": ([p.a, p.b, "--permutations", "100"], ["--permutations 100: with 12 tests",
                                                                "give --permutations 4800 or more"]),
    }[case]
    res = _cli(*map(str, args))
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("mlbench: error: ")
    for text in expect:
        assert text in res.stderr, (text, res.stderr)


# --- language-bias diagnostics -----------------------------------------------------------------

class LanguageOneHot:
    """Ranks same-language text first: the query language's one-hot plus tiny text-seeded noise."""

    name = "lang-onehot"
    language_dependent = True

    def describe(self):
        return {"type": "test", "name": self.name, "langs": LANGS}

    def encode(self, texts, kind, lang):
        out = np.zeros((len(texts), len(LANGS) + 8), dtype=np.float32)
        out[:, LANGS.index(lang)] = 1.0
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            out[i, len(LANGS):] = 1e-3 * np.random.default_rng(seed).standard_normal(8)
        return out


class TextHash:
    """Language-agnostic and uninformative: a random vector seeded by the text, so a top-c is a
    random sample of the pool."""

    name = "text-hash"
    language_dependent = False

    def describe(self):
        return {"type": "test", "name": self.name}

    def encode(self, texts, kind, lang):
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little") for t in texts]
        return np.stack([np.random.default_rng(s).standard_normal(64) for s in seeds]).astype(np.float32)


@pytest.fixture(scope="module")
def constructed(env):
    data = load_task(get_task("xquad-r"), LANGS, max_articles=ARTICLES)
    pool = {lang: len(data.langs[lang].candidates) for lang in LANGS}
    onehot = read_result(_run(env.root, "onehot", spec="lang-onehot", model=LanguageOneHot()))
    rand = read_result(_run(env.root, "hash", spec="text-hash", model=TextHash()))
    return SimpleNamespace(pool=pool, onehot=onehot, rand=rand)


def test_same_language_encoder_has_own_share_1(constructed):
    pool, total = constructed.pool, sum(constructed.pool.values())
    assert pool == {"de": 97, "en": 83, "zh": 81} and total == 261
    bias = constructed.onehot.aggregates.language_bias
    for q in LANGS:
        own = constructed.onehot.per_query()[f"{q}>*"]
        np.testing.assert_array_equal(own["own_lang@10"], 1.0)
        # fewer than 100 candidates per language: the top-100 holds all of them, then the others
        np.testing.assert_array_equal(own["own_lang@100"], pool[q] / 100)
        np.testing.assert_allclose(own["own_lang_expected"], 1 / 3)
        assert bias["top10"]["matrix"][q] == {p: (1.0 if p == q else 0.0) for p in LANGS}
    assert bias["top10"]["own_share"]["macro"] == 1.0


def test_language_agnostic_encoder_matches_pool_share(constructed):
    pool, total = constructed.pool, sum(constructed.pool.values())
    bias = constructed.rand.aggregates.language_bias
    for q in LANGS:
        share = pool[q] / total  # de 0.372, en 0.318, zh 0.310
        assert bias["top10"]["own_share"]["query_langs"][q] == pytest.approx(share, abs=0.06)
        assert bias["top100"]["own_share"]["query_langs"][q] == pytest.approx(share, abs=0.03)
        for p in LANGS:
            assert bias["top100"]["matrix"][q][p] == pytest.approx(pool[p] / total, abs=0.03)
    # compared with the same-language encoder, the hash encoder's top-10 moves to the expected share
    rep = compare(constructed.onehot, constructed.rand, n_permutations=2000)
    own = next(r for r in rep.aggregates if r.metric == "own_lang@10")
    assert own.mean_a == 1.0 and own.mean_b < 0.4 and own.marker == "▲" and own.outcome == "win"


def test_english_only_model_prefers_the_query_language(env):
    res = read_result(_run(env.root, "minilm", max_articles=2))
    bias = res.aggregates.language_bias
    own, expected = bias["top10"]["own_share"]["query_langs"], bias["expected_own_share"]["query_langs"]
    # measured: zh 1.000, de 0.942, en 0.761 against 1/3 from relevance alone
    assert own["zh"] >= 0.95 and own["de"] >= 0.85
    for q in ("de", "zh"):
        assert own[q] > expected[q] + 0.5
        assert own[q] > own["en"]  # English text is what it was trained on; other languages stick together
    assert bias["top10"]["matrix"]["zh"]["zh"] == own["zh"]
