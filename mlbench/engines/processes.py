"""The processes engine: a pool of worker processes on this machine (``--workers N``), each with
its own model, its own device when ``--devices`` is given (``cuda:0,cuda:1`` for one process per
GPU), and ``--cpus-per-worker`` compute threads.

Workers are spawned (never forked: a forked copy of a driver that has loaded torch or BLAS threads
is unsafe) with their thread limits in the environment, and all of them load the model before
the first unit is sent. A worker that dies (killed, out of memory) breaks the pool: the pool is
started again and the units that were in flight are sent again, up to ``MAX_RESTARTS`` times; a
unit whose worker raised an error (a bad encoder output) is not retried, the run stops with that
error. This module imports nothing heavy at the top: a spawned worker imports it first.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from mlbench.engines.options import EngineOptions

MAX_RESTARTS = 3
_WORKER: Any = None  # in a worker process: its Worker, or the error its model raised
_WORKER_ERROR: str | None = None


def _init(model_spec: str, encoder_options: Any, devices: Any, threads: int) -> None:
    global _WORKER, _WORKER_ERROR
    from mlbench.engines.base import Worker

    try:
        _WORKER = Worker(model_spec, encoder_options, devices.get(), threads)
    except Exception as exc:  # noqa: BLE001 - reported by the first unit, with its message
        _WORKER_ERROR = str(exc) if type(exc).__name__ == "MlbenchError" else f"{type(exc).__name__}: {exc}"


def _hello() -> tuple[int, str | None, str | None]:
    """(pid, device, error): sent once to every worker at start."""
    if _WORKER is None:
        return os.getpid(), None, _WORKER_ERROR
    return os.getpid(), _WORKER.device, None


def _work(unit: Any) -> Any:
    from mlbench.errors import MlbenchError

    if _WORKER is None:
        raise MlbenchError(f"worker {os.getpid()} could not build the model: {_WORKER_ERROR}")
    return _WORKER.run(unit)


class ProcessesEngine:
    name = "processes"

    def __init__(self, options: EngineOptions, model_spec: str, encoder_options: Any, description: dict) -> None:
        from mlbench.encoders.base import fingerprint

        self.options, self.model_spec, self.encoder_options = options, model_spec, encoder_options
        self.workers = options.workers or (len(options.devices) if options.devices else os.cpu_count() or 1)
        self.fingerprint = fingerprint(description)
        self.pool: Any = None
        self.devices: list[str] = []
        self.restarts = 0
        self.start_s = 0.0

    # --------------------------------------------------------------------------- the pool

    def start(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from mlbench.engines.base import THREAD_VARIABLES, device_plan
        from mlbench.errors import MlbenchError

        t0 = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        slots = ctx.Queue()
        for device in device_plan(self.options.devices, self.workers):
            slots.put(device)
        threads = self.options.cpus_per_worker
        saved = {v: os.environ.get(v) for v in THREAD_VARIABLES}
        os.environ.update({v: str(threads) for v in THREAD_VARIABLES})  # read by BLAS as each worker starts
        try:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init,
                                            initargs=(self.model_spec, self.encoder_options, slots, threads))
            hello = [self.pool.submit(_hello) for _ in range(self.workers)]  # starts every worker
            answers = [f.result() for f in hello]
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value
        errors = [e for _, _, e in answers if e]
        if errors:
            self.close()
            raise MlbenchError(f"--engine processes: a worker could not build the model: {errors[0]}")
        self.devices = [d or "cpu" for _, d, _ in answers]
        self.start_s += time.perf_counter() - t0

    def run(self, units: Iterator[Any], tick: Callable[[int], None]) -> Iterator[tuple[Any, Any]]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        from mlbench.engines.base import check_fingerprint
        from mlbench.errors import MlbenchError

        if self.pool is None:
            self.start()
        pending: dict[Any, Any] = {}
        again: deque = deque()
        source = iter(units)
        exhausted = False
        while True:
            broken = False
            while len(pending) < 2 * self.workers and (again or not exhausted):
                unit = again.popleft() if again else next(source, None)
                if unit is None:
                    exhausted = True
                    break
                try:
                    pending[self.pool.submit(_work, unit)] = unit
                except BrokenProcessPool:  # a worker died since the last wait: submitting fails too
                    again.appendleft(unit)
                    broken = True
                    break
            if not broken:
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    unit = pending.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        again.append(unit)
                        broken = True
                        continue
                    check_fingerprint(result, self.fingerprint, "--engine processes")
                    tick(len(unit.texts))
                    yield unit, result
            if broken:
                self.restarts += 1
                if self.restarts > MAX_RESTARTS:
                    raise MlbenchError(f"--engine processes: a worker process died {self.restarts} times (killed or out "
                                       "of memory?); the units it had were not encoded")
                again.extendleft(reversed(list(pending.values())))
                pending.clear()
                self.pool.shutdown(wait=True, cancel_futures=True)
                self.start()

    def describe(self) -> dict[str, Any]:
        return {"name": "processes", "started": bool(self.devices), "workers": self.workers, "devices": self.devices,
                "cpus_per_worker": self.options.cpus_per_worker, "restarts": self.restarts,
                "start_s": round(self.start_s, 3)}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self) -> ProcessesEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
