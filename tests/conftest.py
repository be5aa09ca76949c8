"""Shared fixtures. Tests read the real LAReQA and MIRACL files in ../shared (beside the
checkout; CI has it too) and never touch the network or the user's cache."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("MLBENCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
LAREQA = SHARED / "data" / "lareqa"
# ir_datasets fixes its data paths when first imported, and other packages import it too (ranx
# does); so one IR_DATASETS_HOME for the whole session is set here, before any test module is
# imported, and tests/test_miracl.py lays the real MIRACL files out in it.
IRDS_HOME = Path(tempfile.mkdtemp(prefix="mlbench-irds-"))
os.environ["IR_DATASETS_HOME"] = str(IRDS_HOME)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own MLBENCH_HOME and no network for data or models."""
    monkeypatch.setenv("MLBENCH_HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("MLBENCH_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("MLBENCH_DATA_DIR", raising=False)


@pytest.fixture(scope="session")
def lareqa_dir() -> Path:
    assert (LAREQA / "SHA256SUMS").is_file(), f"real LAReQA data not found at {LAREQA} (set MLBENCH_SHARED)"
    return LAREQA


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed console entry point in a subprocess (exit codes, stdout, stderr)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mlbench.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=900)
