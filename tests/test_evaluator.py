"""mlbench inside a training loop, for real: sentence-transformers' own ``SentenceTransformerTrainer``
fine-tuning all-MiniLM-L6-v2 on MLQA-R pairs with :class:`MlbenchEvaluator` on an XQuAD-R slice, and
``mlbench train --eval-every / --keep-best``. The evaluator's figures are checked against
``mlbench run`` on the saved checkpoints, setting by setting."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

from helpers import one_line_error, run_cli

from mlbench.errors import MlbenchError
from mlbench.integrations.sentence_transformers import MlbenchEvaluator
from mlbench.results import read_result

EVAL_LANGS = ["de", "en", "zh"]
EVAL = {"task": "xquad-r", "langs": EVAL_LANGS, "max_articles": 2}
NAME = "mlbench_xquad-r"
BEST = f"eval_{NAME}_multi_map"
FIGURES = [f"eval_{NAME}_{k}_map" for k in ("mono", "cross", "multi")] + [
    f"eval_{NAME}_rank_distance", f"eval_{NAME}_own_lang@10"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _settings(path: Path) -> dict[str, dict[str, float]]:
    return {s.id: s.metrics for s in read_result(path).settings}


def _same_settings(a: Path, b: Path) -> float:
    """Largest difference over every metric of every setting of two results (which must agree on
    their settings and metrics)."""
    x, y = _settings(a), _settings(b)
    assert sorted(x) == sorted(y) and len(x) == 3 * 3 + 3
    worst = 0.0
    for sid in x:
        assert x[sid].keys() == y[sid].keys()
        for m in x[sid]:
            worst = max(worst, abs(x[sid][m] - y[sid][m]))
    return worst


# --- bad input at construction (fast) -------------------------------------------------------------

@pytest.mark.parametrize("kwargs, needle", [
    ({"task": "xquad-q"}, "xquad-q"),
    ({"langs": ["de", "xx"]}, "xx"),
    ({"kinds": "sideways"}, "sideways"),
    ({"metrics": ["map", "ndcg@zero"]}, "ndcg@zero"),
    ({"primary": "multi:ndcg@7"}, "metric 'ndcg@7' is not among the evaluated metrics"),
    ({"primary": "cross:map", "kinds": "mono"}, "the slice has no cross settings"),
    ({"primary": "rank_distance", "kinds": "mono,cross"}, "measured in the multilingual pool"),
    ({"primary": "best"}, "is not KIND:METRIC"),
    ({"batch_size": 0}, "batch_size must be positive, got 0"),
    ({"max_articles": 0}, "max-articles must be positive, got 0"),
])
def test_bad_input_is_refused_at_construction_naming_the_value(kwargs, needle):
    args = {**EVAL, "langs": ["de", "en"], **kwargs}
    with pytest.raises(MlbenchError) as err:
        MlbenchEvaluator(**args)
    assert needle in str(err.value) and "\n" not in str(err.value)


# --- a real SentenceTransformerTrainer ------------------------------------------------------------

@pytest.fixture(scope="module")
def trainer_run(tmp_path_factory):
    """Four steps of sentence-transformers' trainer on MLQA-R (de, en, zh pairs), evaluated by
    mlbench every two steps and saved at each, keeping the best by multilingual mAP."""
    from helpers import mlqa_dir

    from datasets import Dataset
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments, losses)
    from mlbench.encoders.minilm import model_path
    from mlbench.sampling import ParallelPairs

    out = tmp_path_factory.mktemp("trainer")
    pairs = ParallelPairs.from_task("mlqa-r", EVAL_LANGS, mlqa_dir())
    rows = [(q, pairs.answers[lang][g]) for lang in EVAL_LANGS for g, q in list(pairs.questions[lang].items())[:24]]
    data = Dataset.from_dict({"anchor": [q for q, _ in rows], "positive": [a for _, a in rows]})
    model = SentenceTransformer(model_path(), device="cpu")
    evaluator = MlbenchEvaluator(**EVAL)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out), max_steps=4, per_device_train_batch_size=16, learning_rate=2e-4, warmup_ratio=0.0,
        eval_strategy="steps", eval_steps=2, save_strategy="steps", save_steps=2, logging_steps=1,
        load_best_model_at_end=True, metric_for_best_model=BEST, greater_is_better=evaluator.greater_is_better,
        report_to="none", seed=0, use_cpu=True, dataloader_num_workers=0)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                                         loss=losses.MultipleNegativesRankingLoss(model), evaluator=evaluator)
    trainer.train()
    return out, trainer


@pytest.mark.slow
@pytest.mark.mlqa
def test_trainer_logs_every_figure_at_every_evaluation(trainer_run):
    _, trainer = trainer_run
    evals = [h for h in trainer.state.log_history if BEST in h]
    assert [h["step"] for h in evals] == [2, 4]
    for h in evals:
        for key in FIGURES:
            assert isinstance(h[key], float) and math.isfinite(h[key]), (key, h)
        assert 0.0 < h[BEST] < 1.0 and h[f"eval_{NAME}_rank_distance"] >= 0.0
    assert evals[0][BEST] != evals[1][BEST]  # training moved the model between the evaluations


@pytest.mark.slow
@pytest.mark.mlqa
def test_the_best_checkpoint_is_the_one_with_the_best_value(trainer_run):
    out, trainer = trainer_run
    evals = {h["step"]: h[BEST] for h in trainer.state.log_history if BEST in h}
    step = max(evals, key=lambda s: (evals[s], -s))
    assert Path(trainer.state.best_model_checkpoint) == out / f"checkpoint-{step}"
    assert trainer.state.best_metric == pytest.approx(evals[step], abs=1e-12)


@pytest.mark.slow
@pytest.mark.mlqa
def test_evaluator_figures_equal_mlbench_run_on_the_saved_checkpoints(trainer_run, tmp_path):
    """Each step's result file (written by the evaluator under OUTPUT_DIR/eval/mlbench/step-K/)
    against ``mlbench run`` on checkpoint-K: every metric of every setting within 1e-6."""
    out, trainer = trainer_run
    evals = {h["step"]: h for h in trainer.state.log_history if BEST in h}
    for step in (2, 4):
        (written,) = (out / "eval" / "mlbench" / f"step-{step}").glob("*.json")
        ours = read_result(written)
        assert ours.run.training == {"step": step, "epoch": pytest.approx(trainer.state.epoch * step / 4)}
        assert ours.aggregates.kinds["multi"]["map"] == pytest.approx(evals[step][BEST], abs=1e-12)
        res = run_cli("run", "-m", str(out / f"checkpoint-{step}"), "--task", "xquad-r", "--langs", ",".join(EVAL_LANGS),
                      "--max-articles", "2", "-o", str(tmp_path / f"run-{step}"))
        assert res.returncode == 0, res.stderr[-2000:]
        (theirs,) = (tmp_path / f"run-{step}").glob("xquad-r--*.json")
        worst = _same_settings(written, theirs)
        print(f"step {step}: largest difference over {len(ours.settings)} settings: {worst:.1e}")
        assert worst <= 1e-6


# --- mlbench train --eval-every / --keep-best ----------------------------------------------------

TRAIN = ["--train-task", "xquad-r-train", "--eval-task", "xquad-r-heldout", "--langs", "de,en",
         "--batch-size", "8", "--max-length", "32", "--seed", "5", "--lr", "3e-4", "--steps", "4",
         "--save-every", "1", "--eval-every", "1", "--eval-max-articles", "2"]


def _train(folder: Path, env: dict, *extra: str):
    return run_cli("train", "--strategy", "hybrid", "--out", str(folder), *TRAIN, *extra, env=env)


def _best_step(records: list[dict], key: str, higher: bool) -> int:
    best = None
    for r in records:  # the first wins ties, as --keep-best does
        v = r["figures"][key]
        if best is None or (v > best[1] if higher else v < best[1]):
            best = (r["step"], v)
    return best[0]


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    root = tmp_path_factory.mktemp("keep")
    env = {"MLBENCH_HOME": str(root / "home")}
    res = _train(root / "a", env, "--keep-best", "multi:map")
    assert res.returncode == 0, res.stderr[-3000:]
    return root, env, res


@pytest.mark.slow
def test_train_eval_every_writes_the_log_and_a_result_per_step(kept):
    root, _, res = kept
    records = [json.loads(line) for line in (root / "a" / "evaluations.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    for r in records:
        result = root / "a" / r["result"]
        assert result.is_file() and _sha(result) == r["result_sha256"]
        doc = read_result(result)
        assert doc.run.training["step"] == r["step"] and doc.task.name == "xquad-r-heldout"
        assert r["figures"]["multi_map"] == pytest.approx(doc.aggregates.kinds["multi"]["map"], abs=1e-12)
        # the checkpoint of the step records the same evaluation and its weights are the evaluated ones
        meta = json.loads((root / "a" / f"step-{r['step']}" / "mlbench.json").read_text())
        assert meta["evaluation"]["figures"] == r["figures"]
        assert (root / "a" / f"step-{r['step']}" / meta["evaluation"]["result"]).resolve() == result.resolve()
    assert "multi_map" in res.stdout or "multi_map" in res.stderr


@pytest.mark.slow
def test_keep_best_follows_the_chosen_figure(kept):
    """--keep-best keeps the checkpoint of the best evaluated step by the chosen figure; choosing a
    figure whose best step differs keeps another checkpoint (the same training, seed 5)."""
    root, env, _ = kept
    records = [json.loads(line) for line in (root / "a" / "evaluations.jsonl").read_text().splitlines()]
    first = _best_step(records, "multi_map", True)
    best_a = json.loads((root / "a" / "best" / "mlbench.json").read_text())
    assert best_a["evaluation"]["step"] == first
    assert _sha(root / "a" / "best" / "model.safetensors") == _sha(root / "a" / f"step-{first}" / "model.safetensors")
    candidates = [("mono:map", "mono_map", True), ("cross:map", "cross_map", True),
                  ("rank_distance", "rank_distance", False), ("own_lang@10", "own_lang@10", False),
                  ("multi:mrr@10", "multi_mrr@10", True), ("mono:mrr@10", "mono_mrr@10", True)]
    other = next(((flag, key) for flag, key, higher in candidates
                  if key in records[0]["figures"] and _best_step(records, key, higher) != first), None)
    assert other is not None, {k: [r["figures"][k] for r in records] for k in records[0]["figures"]}
    flag, key = other
    res = _train(root / "b", env, "--keep-best", flag)
    assert res.returncode == 0, res.stderr[-3000:]
    again = [json.loads(line) for line in (root / "b" / "evaluations.jsonl").read_text().splitlines()]
    assert [r["figures"] for r in again] == [r["figures"] for r in records]  # the same training
    best_b = json.loads((root / "b" / "best" / "mlbench.json").read_text())
    higher = next(h for f, _, h in candidates if f == flag)
    assert best_b["evaluation"]["step"] == _best_step(records, key, higher) != first
    assert _sha(root / "b" / "best" / "model.safetensors") != _sha(root / "a" / "best" / "model.safetensors")


@pytest.mark.slow
def test_a_failing_evaluation_stops_training_in_one_line_and_keeps_checkpoints(tmp_path):
    """The evaluation at step 2 cannot write its result (OUT/mlbench is a file): one line naming
    the step, exit 2, and the checkpoint of step 1 stays, complete and loadable."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "mlbench").write_text("in the way")
    res = run_cli("train", "--strategy", "x-x", "--out", str(out), *TRAIN[:-4],
                  "--eval-every", "2", "--eval-max-articles", "2", env={"MLBENCH_HOME": str(tmp_path / "home")})
    # progress goes to stderr before it; the error is one line, the last, and no traceback
    assert res.returncode == 2, res.stderr[-2000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("mlbench: error: ")]
    assert len(errors) == 1 and res.stderr.rstrip().endswith(errors[0]) and "Traceback" not in res.stderr
    for needle in ("evaluation at step 2 failed, training stopped", "checkpoints kept in", "step-1",
                   f"{out / 'mlbench' / 'step-2'}: cannot create this folder"):
        assert needle in errors[0], (needle, errors[0])
    assert sorted(p.name for p in out.iterdir()) == ["mlbench", "step-1"]  # step 2 is evaluated before it is saved
    meta = json.loads((out / "step-1" / "mlbench.json").read_text())
    assert meta["step"] == 1 and (out / "step-1" / "model.safetensors").stat().st_size > 1_000_000
    assert not [p for p in out.rglob("*") if ".partial" in p.name or p.name.endswith(".tmp")]


@pytest.mark.slow
def test_train_refuses_a_bad_keep_best_before_training(tmp_path):
    out = tmp_path / "out"
    res = run_cli("train", "--strategy", "x-x", "--out", str(out), *TRAIN, "--keep-best", "multi:ndcg@7",
                  env={"MLBENCH_HOME": str(tmp_path / "home")})
    one_line_error(res, "--keep-best", "multi:ndcg@7", "not among the evaluated metrics")
    assert not out.exists() or not any(out.iterdir())
