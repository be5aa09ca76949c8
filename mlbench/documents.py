"""Reading the small text documents users hand to mlbench (task files, expected-scores files,
result files): every way of failing becomes one line naming the file."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any


def read_document(path: Path, fmt: str, what: str) -> Any:
    """Parse ``path`` as ``fmt`` ("toml" or "json"); ``what`` names the document in errors."""
    from mlbench.errors import MlbenchError

    name = fmt.upper()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MlbenchError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise MlbenchError(f"{path}: not valid {name} ({exc})") from None
    try:
        return tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise MlbenchError(f"{path}: not valid {name} ({exc})") from None
    except RecursionError:
        raise MlbenchError(f"{path}: not valid {name} (nested too deeply)") from None
