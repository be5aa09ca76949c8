"""The engine option group (``--engine``, ``--workers``, ``--devices``, ``--cpus-per-worker``,
``--ray-address``), checked before any work."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import ClassVar

from mlbench.errors import MlbenchError
from mlbench.options import OptionGroup

ENGINES = ("local", "processes", "ray")


@dataclass
class EngineOptions(OptionGroup):
    """Where passages (and in-memory candidates) are encoded. ``workers``: processes or Ray actors
    (default: one per device given, else one per CPU); ``devices``: one per worker in turn (``cpu``,
    ``cuda:0``, ``cuda:1`` … for processes; ``cuda`` for Ray, where each actor then asks for one
    GPU); ``cpus_per_worker``: the CPUs (and torch threads) of each worker; ``ray_address``:
    ``auto`` (a running local cluster), ``HOST:PORT`` or ``ray://HOST:PORT``; default: a Ray started
    for the run, or the one this process already joined."""

    engine: str = "local"
    workers: int | None = None
    devices: list[str] | None = None
    cpus_per_worker: int = 1
    ray_address: str | None = None

    FLAGS: ClassVar[dict[str, str]] = {"engine": "--engine", "workers": "--workers", "devices": "--devices",
                                       "cpus_per_worker": "--cpus-per-worker", "ray_address": "--ray-address"}
    APPLIES_TO: ClassVar[str] = "--engine processes or ray"

    def check(self) -> None:
        if self.engine not in ENGINES:
            raise MlbenchError(f"--engine {self.engine!r} is not one of {', '.join(ENGINES)}")
        if self.workers is not None and self.workers <= 0:
            raise MlbenchError(f"--workers must be positive, got {self.workers}")
        if self.cpus_per_worker <= 0:
            raise MlbenchError(f"--cpus-per-worker must be positive, got {self.cpus_per_worker}")
        if self.devices is not None and (not self.devices or not all(d.strip() for d in self.devices)):
            raise MlbenchError(f"--devices {','.join(self.devices or [])!r}: give a comma list such as cuda:0,cuda:1")
        if self.engine == "local" and self.given():
            raise MlbenchError(f"{self.given()[0]} applies to {self.APPLIES_TO}, not to --engine local")
        if self.engine == "processes" and self.ray_address is not None:
            raise MlbenchError("--ray-address applies to --engine ray, not to --engine processes")
        if self.engine == "ray" and importlib.util.find_spec("ray") is None:
            raise MlbenchError("--engine ray needs Ray, an optional extra: pip install 'mlbench[ray]'")

    def given(self) -> list[str]:
        return [flag for flag in super().given() if flag != "--engine"]

    def describe(self) -> dict:
        return {"engine": self.engine, "workers": self.workers, "devices": self.devices,
                "cpus_per_worker": self.cpus_per_worker, "ray_address": self.ray_address}
