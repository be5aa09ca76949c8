"""What every run path returns: the result file written, the typed result, and its per-query values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlbench.results.model import Result
from mlbench.results.values import SettingValues


@dataclass
class RunOutput:
    path: Path
    result: Result
    values: list[SettingValues]
