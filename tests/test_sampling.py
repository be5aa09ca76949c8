"""Batch-sampling strategies (mlbench.sampling) on the real XQuAD-R training articles: batch
composition, true in-batch negatives, reproducibility, and the pairs' texts against the loader's."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from scipy import stats

from helpers import empty_or_absent, one_line_error, run_cli
from mlbench.data.loaders import load_task
from mlbench.errors import MlbenchError
from mlbench.sampling import BatchSampler, ParallelPairs, parse_strategy
from mlbench.data.tasks import get_task
from mlbench.data.tasks import builtin_tasks_dir
from mlbench.training import check_leakage

LANGS = ["ar", "de", "en", "th", "zh"]


@pytest.fixture(scope="module")
def data():
    return load_task(get_task("xquad-r-train"), LANGS)


@pytest.fixture(scope="module")
def pairs(data):
    return ParallelPairs.from_task_data(data)


def _binomial_ok(k: int, n: int, p: float) -> bool:
    return stats.binomtest(k, n, p).pvalue > 1e-4


@pytest.mark.parametrize("alpha", [0.0, 0.2, 0.5, 0.85, 1.0])
def test_hybrid_composition_matches_alpha(pairs, alpha):
    n = 3000
    kinds = collections.Counter(b.kind for b in BatchSampler(pairs, "hybrid", 16, alpha, seed=7).batches(n))
    if alpha in (0.0, 1.0):
        assert kinds[("x-x" if alpha == 1.0 else "x-y")] == n
    else:
        assert _binomial_ok(kinds["x-x"], n, alpha), kinds
        # the bound can fail: a wrong alpha (0.5 for 0.2) is far outside it
        assert not _binomial_ok(kinds["x-x"], n, 0.5 if alpha != 0.5 else 0.4)


def test_pure_strategies_and_uniform_languages(pairs):
    xx = list(BatchSampler(pairs, "xx", 32, seed=1).batches(2000))
    assert all(b.kind == "x-x" and b.query_lang == b.passage_lang for b in xx)
    counts = collections.Counter(b.query_lang for b in xx)
    assert stats.chisquare([counts[x] for x in LANGS]).pvalue > 1e-4, counts
    xy = list(BatchSampler(pairs, "x-y", 32, seed=1).batches(2000))
    assert all(b.kind == "x-y" and b.query_lang != b.passage_lang for b in xy)
    pair_counts = collections.Counter((b.query_lang, b.passage_lang) for b in xy)
    assert len(pair_counts) == len(LANGS) * (len(LANGS) - 1)
    assert stats.chisquare(list(pair_counts.values())).pvalue > 1e-4, pair_counts


def test_no_group_twice_in_a_batch_and_texts_are_the_loaders(pairs, data):
    answer = {}
    for lang, ld in data.langs.items():
        texts = dict(zip(ld.candidates.ids, ld.candidates.texts))
        for q, g in zip(ld.queries.texts, ld.queries.groups):
            (rel,) = [c for c, grade in ld.judged[g].items() if grade >= data.level]  # one answer sentence
            answer[(lang, g)] = (q, texts[rel])
    for b in BatchSampler(pairs, "hybrid", 64, 0.5, seed=3).batches(300):
        assert len(set(b.groups)) == len(b.groups) == 64
        for g, q, p in zip(b.groups, b.queries, b.passages):
            assert answer[(b.query_lang, g)][0] == q
            assert answer[(b.passage_lang, g)][1] == p


def test_seeds_reproduce(pairs):
    def draw(seed):
        return [(b.kind, b.query_lang, b.passage_lang, b.groups)
                for b in BatchSampler(pairs, "hybrid", 32, 0.5, seed).batches(50)]
    assert draw(5) == draw(5)
    assert draw(5) != draw(6)


def test_bad_sampler_input(pairs):
    with pytest.raises(MlbenchError, match="unknown sampling strategy 'zz'"):
        parse_strategy("zz")
    for alpha in (-0.1, 1.5, float("nan")):
        with pytest.raises(MlbenchError, match="--alpha must lie in"):
            BatchSampler(pairs, "hybrid", 8, alpha)
    with pytest.raises(MlbenchError, match="no language has 5000 questions"):
        BatchSampler(pairs, "xx", 5000)
    assert parse_strategy("XY") == "x-y" and parse_strategy("x-x") == "x-x"
    assert len(np.unique([len(pairs.groups(x)) for x in LANGS])) == 1  # parallel: same questions in each


def test_train_refuses_bad_input_before_any_work(tmp_path):
    out = tmp_path / "ckpt"
    one_line_error(run_cli("train", "--strategy", "zz", "--out", str(out)), "unknown sampling strategy 'zz'")
    one_line_error(run_cli("train", "--strategy", "hybrid", "--alpha", "1.5", "--out", str(out)),
                   "--alpha must lie in [0, 1], got 1.5")
    one_line_error(run_cli("train", "--strategy", "xx", "--train-task", "xquad-r-train", "--out", str(out)),
                   "overlaps evaluation task xquad-r", "925 question ids")
    assert empty_or_absent(out)


def test_leakage_check_takes_task_specs_from_a_tasks_dir(pairs, tmp_path):
    """Evaluation tasks resolved from a tasks folder (variants of XQuAD-R by article) are checked
    against the training pairs (articles 0-35): one covering training articles is refused, one
    beyond them passes."""
    (tmp_path / "xquad-r.toml").write_text((builtin_tasks_dir() / "xquad-r.toml").read_text(encoding="utf-8"),
                                           encoding="utf-8")
    for name, articles in (("xq-leaky", "34-37"), ("xq-apart", "40-41")):
        (tmp_path / f"{name}.toml").write_text(
            f'schema = 1\nextends = "xquad-r"\nname = "{name}"\n\n[options]\narticles = "{articles}"\n',
            encoding="utf-8")
    leaky, apart = (get_task(name, [tmp_path]) for name in ("xq-leaky", "xq-apart"))
    with pytest.raises(MlbenchError, match=r"training data xquad-r-train overlaps evaluation task xq-leaky: "
                                           r"[1-9]\d* question ids and [1-9]\d* texts in common"):
        check_leakage(pairs, [leaky])
    check_leakage(pairs, [apart])
    with pytest.raises(MlbenchError, match="overlaps evaluation task xq-leaky"):
        check_leakage(pairs, [apart, leaky])
