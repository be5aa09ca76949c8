"""Checkpoint identity: what exactly was evaluated.

A model is identified by its spec plus a resolved hub revision (the snapshot commit) and/or a
content hash of its weight files, so two result files can be told apart even when a folder was
overwritten in place. Optional training metadata (``sampling``: x-x, x-y, hybrid, other;
``base_model``; ``step``; and what the reference trainer adds: ``alpha``, ``seed``, ``prompts``,
``training``, and ``evaluation``: the result the trainer's evaluator wrote at that step) comes from ``mlbench.json`` in the checkpoint folder or from flags. A checkpoint's
``prompts`` are what it was trained with; a run applies them unless told other prompts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.sampling import STRATEGIES

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".npz", ".onnx", ".gguf")
SAMPLING = (*STRATEGIES, "other")  # the trainer's strategies, or another recipe
METADATA_FILE = "mlbench.json"
# what mlbench.json may hold; the reference trainer (mlbench.training) writes all of them
METADATA_FIELDS = ("sampling", "alpha", "base_model", "step", "seed", "prompts", "training", "evaluation")


def hash_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


def weights_sha256(folder: Path) -> str | None:
    files = [p for p in Path(folder).rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES]
    return hash_files(files) if files else None


def checkpoint_metadata(folder: Path | None, sampling: str | None = None, base_model: str | None = None,
                        step: int | None = None) -> dict[str, Any]:
    """Metadata from ``{folder}/mlbench.json``, overridden by explicit values."""
    meta: dict[str, Any] = {}
    if folder is not None and (Path(folder) / METADATA_FILE).is_file():
        path = Path(folder) / METADATA_FILE
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MlbenchError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise MlbenchError(f"{path}: expected a JSON object")
        unknown = set(meta) - set(METADATA_FIELDS)
        if unknown:
            raise MlbenchError(f"{path}: unknown field {sorted(unknown)[0]!r} (known: {', '.join(METADATA_FIELDS)})")
    if sampling is not None:
        meta["sampling"] = sampling
    if base_model is not None:
        meta["base_model"] = base_model
    if step is not None:
        meta["step"] = step
    if "sampling" in meta and meta["sampling"] not in SAMPLING:
        raise MlbenchError(f"sampling {meta['sampling']!r} is not one of {', '.join(SAMPLING)}")
    if "step" in meta and (not isinstance(meta["step"], int) or isinstance(meta["step"], bool)):
        raise MlbenchError(f"step {meta['step']!r} is not an integer")
    if "alpha" in meta and not (isinstance(meta["alpha"], (int, float)) and 0 <= meta["alpha"] <= 1):
        raise MlbenchError(f"alpha {meta['alpha']!r} is not a number in [0, 1]")
    prompts = meta.get("prompts", {})
    if not (isinstance(prompts, dict) and set(prompts) <= {"query", "candidate"}
            and all(isinstance(v, str) for v in prompts.values())):
        raise MlbenchError(f"prompts {prompts!r} must map query and/or candidate to a string")
    return meta
