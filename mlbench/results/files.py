"""Like with like: whether two results may be compared, gated or fused.

Two results are like with like where their slices agree (:attr:`Result.slice`: the task and its
version, languages, kinds, the cuts, the pool, the candidate text, as the task's loader defines
them when the run is planned). A checkpoint checked against another is also compared under the
same encoder settings that change scores (:func:`encoder_settings`).
"""

from __future__ import annotations

from typing import Any

from mlbench.errors import MlbenchError
from mlbench.results.model import Result

ENCODER_SETTINGS = ("prompts", "normalize", "max_seq_length", "precision", "truncate_dim")


def encoder_settings(result: Result) -> dict[str, Any]:
    """The encoder settings besides its weights that change scores (prompts, normalisation, length,
    precision)."""
    enc = result.model.encoder or {}
    return {k: enc[k] for k in ENCODER_SETTINGS if k in enc}


def _show(v: Any) -> str:
    if isinstance(v, list):
        return ",".join(map(str, v)) or "none"
    return "none" if v is None else str(v)


def differences(a: dict[str, Any], b: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """``key a vs b`` for every key where two slices (or encoder settings) differ."""
    return [f"{k} {_show(a.get(k))} vs {_show(b.get(k))}" for k in dict.fromkeys([*a, *b])
            if k not in ignore and a.get(k) != b.get(k)]


def require_same_task(a: Result, b: Result, purpose: str) -> None:
    """``b`` must be of the same task (name and version) as ``a``; ``purpose`` ends the error
    ("compare needs two results of the same task")."""
    if a.task.name != b.task.name:
        raise MlbenchError(f"{b.where}: field 'task.name' is {b.task.name!r} but {a.where} is task {a.task.name!r}; "
                           f"{purpose}")
    if a.task.version != b.task.version:
        raise MlbenchError(f"{b.where}: field 'task.version' is {b.task.version!r} but {a.where} has "
                           f"{a.task.version!r}; {purpose}")


def require_like(result: Result, baseline: Result, role: str = "baseline", purpose: str = "") -> None:
    """``result`` must be of the slice of ``baseline``: a checkpoint is gated against a baseline of
    the same slice (the baseline may be another model with other encoder settings: comparing models
    is what it is for), and fuse's inputs share the first one's slice. ``role`` names the baseline in
    the error and ``purpose``, when given, ends it."""
    diff = differences(baseline.slice, result.slice)
    if diff:
        raise MlbenchError(f"{result.where}: not the slice of the {role} {baseline.where} "
                           f"({'; '.join(diff)}, {role} vs this result)" + (f"; {purpose}" if purpose else ""))


__all__ = ["ENCODER_SETTINGS", "differences", "encoder_settings", "require_like", "require_same_task"]
