"""Typed option groups: the options of one part of the pipeline (a loader, the encoder, the
retrieval backend) as one dataclass each, instead of one flat mix.

A group knows the command-line flag of each field (``FLAGS``), so that every error names the flag a
user typed, and which fields were given (:meth:`OptionGroup.given`: those that differ from their
defaults), so that a group given to a task that cannot use it is refused by name, before any work.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar

from mlbench.errors import MlbenchError


class OptionGroup:
    """Base of the option dataclasses."""

    FLAGS: ClassVar[dict[str, str]] = {}
    APPLIES_TO: ClassVar[str] = ""  # what the group is for, in errors ("LAReQA tasks")

    def given(self) -> list[str]:
        """Flags of the fields set to something other than their default."""
        out = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if getattr(self, f.name) != default:
                out.append(self.FLAGS.get(f.name, f.name))
        return out

    def check(self) -> None:
        """Refuse values that cannot work (one-line MlbenchError naming the flag)."""


def parse_pairs(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    """``key=value`` strings (``--encoder-arg``, ``--loader-arg``, ``--param``; ``flag`` names them in
    errors); values are read as JSON when they parse (numbers, booleans)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise MlbenchError(f"{flag} {pair!r} is not of the form key=value")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
