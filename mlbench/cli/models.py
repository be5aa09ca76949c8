"""``mlbench models``: the encoders ``--model`` can name, without loading any of them."""

from __future__ import annotations

import importlib
import json
import sys
from importlib import metadata
from typing import Annotated

import typer

from mlbench.cli.app import FORMAT_HELP, command, console


def registered() -> list[dict]:
    """Every entry point of the group ``mlbench.encoders``, with what its module declares (INFO)."""
    out = []
    for ep in sorted(metadata.entry_points(group="mlbench.encoders"), key=lambda e: e.name):
        module = ep.value.partition(":")[0]
        try:
            info = dict(getattr(importlib.import_module(module), "INFO", {}))
        except ImportError as exc:
            info = {"note": f"cannot be imported ({exc})"}
        out.append({"name": ep.name, "entry_point": ep.value,
                    "package": ep.dist.name if ep.dist else None, **info})
    return out


@command(name="models")
def models_command(format: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "table") -> None:
    """List the registered encoders (entry-point group mlbench.encoders): kind, dimension, languages.

    Besides these names, --model takes module:factory (any importable factory) or a
    sentence-transformers hub id or local folder.
    """
    from mlbench.errors import MlbenchError
    from mlbench.render.tables import TextTable, show

    if format not in ("table", "json"):
        raise MlbenchError(f"--format {format!r} is not one of table, json")
    rows = registered()
    if format == "json":
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return
    table = TextTable.of(("name", "kind", "dim", "languages", "weights", "entry point"), right=("dim",),
                         title="encoders registered under mlbench.encoders",
                         caption="also: --model module:factory, or a sentence-transformers hub id / local folder")
    for r in rows:
        table.add(r["name"], r.get("kind", "–"), str(r.get("dim") or "–"), r.get("languages", r.get("note", "–")),
                  r.get("weights", "–"), r["entry_point"])
    show(table, console())
