"""The local engine: units encoded in the run's own process by the model it loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mlbench.engines.base import Unit, UnitResult, run_unit


class LocalEngine:
    name = "local"

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self._fp = ""

    def start(self) -> None:
        pass

    def run(self, units: Iterator[Unit], tick: Callable[[int], None]) -> Iterator[tuple[Unit, UnitResult]]:
        for unit in units:
            yield unit, run_unit(self.encoder, unit, self._fp, tick)  # ticks every batch

    def describe(self) -> dict[str, Any]:
        return {"name": "local", "workers": 1, "devices": [getattr(self.encoder, "device", "cpu")]}

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
