"""What the worker engines share: the worker's own model (built from the run's spec, never sent),
the :class:`Engine` protocol every engine meets, and the checks of what workers report.

The units of work they run, and the code that runs one, are :mod:`mlbench.embedding.units`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from mlbench.embedding.units import Unit, UnitResult, run_unit

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(n: int) -> None:
    """At most ``n`` compute threads in this (worker) process: the BLAS and OpenMP variables (read
    when those libraries load) and torch's intra-op threads when torch is loaded."""
    for var in THREAD_VARIABLES:
        os.environ[var] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


class Worker:
    """A worker's model, built from the run's ``--model`` spec and encoder options (the worker
    never receives the driver's model object), and its description's fingerprint. A plugin
    factory that takes ``threads`` (use-m3) gets the worker's CPUs unless ``--encoder-arg`` sets it."""

    def __init__(self, model_spec: str, encoder_options: Any, device: str | None, threads: int) -> None:
        limit_threads(threads)
        from dataclasses import replace

        from mlbench.encoders.base import fingerprint
        from mlbench.encoders.registry import factory_parameters, load_model

        options = replace(encoder_options, device=device) if device else encoder_options
        if "threads" in factory_parameters(model_spec) and "threads" not in options.args:
            options = replace(options, args={**options.args, "threads": threads})  # e.g. use-m3's own thread pool
        self.encoder = load_model(model_spec, options)
        limit_threads(threads)  # torch may have been imported by the model
        self.fingerprint = fingerprint(self.encoder.describe())
        self.device = device or getattr(self.encoder, "device", "cpu")

    def run(self, unit: Unit) -> UnitResult:
        return run_unit(self.encoder, unit, self.fingerprint)


def device_plan(devices: list[str] | None, workers: int) -> list[str | None]:
    """The device of each worker: the devices in turn, or None (the encoder's own choice)."""
    return [devices[i % len(devices)] if devices else None for i in range(workers)]


def check_fingerprint(result: UnitResult, expected: str, where: str) -> None:
    from mlbench.errors import MlbenchError

    if result.fingerprint != expected:
        raise MlbenchError(f"{where}: worker {result.worker} built a model whose description differs from the "
                           f"driver's (fingerprint {result.fingerprint} != {expected}); install the same mlbench, "
                           "model and library versions on every worker")
