"""The Ray engine (optional extra ``mlbench[ray]``; Ray is imported only here): an actor pool on
a Ray cluster, one model per actor.

- **Cluster**: ``--ray-address`` ``auto`` | ``HOST:PORT`` | ``ray://HOST:PORT`` joins an existing
  cluster (checked to be reachable first: a wrong address is one line, exit 2); without it, the
  Ray this process has already joined, else a local Ray started for the run (its session files in
  a temporary folder removed afterwards, no dashboard, token authentication with a token made for
  the run unless ``RAY_AUTH_TOKEN`` or ``RAY_AUTH_MODE`` is set). Before any actor starts, one task on the
  cluster checks that its workers can import mlbench, at the driver's version.
- **Actors**: ``--workers`` of them (default: the cluster's CPUs / ``--cpus-per-worker``, or one
  per GPU with ``--devices cuda``), each with ``num_cpus=--cpus-per-worker`` (Ray sets their
  thread variables; torch's threads are set to the same) and ``num_gpus=1`` with ``--devices
  cuda``. Each actor builds the model from ``--model`` and encoder options.
- **Streaming**: the driver reads the corpus (the loader's stream, never the whole corpus) and
  sends one unit per store chunk, at most two per actor in flight; workers write their chunks into
  the store folder (``--store-dir``: a path every node sees, e.g. a shared filesystem) and the
  driver verifies each one (:meth:`mlbench.embedding.store.VectorStore.accept`).
- **Retries**: an actor that dies is restarted and its units retried by Ray itself
  (``max_restarts``, ``max_task_retries``); an error the encoder raised stops the run.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from mlbench.engines.options import EngineOptions
from mlbench.errors import MlbenchError

MAX_RESTARTS = 3
LOCAL_OBJECT_STORE = 256 * 1024 * 1024  # a local Ray started for a run: units are a few MB each


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MlbenchError("--engine ray needs Ray, an optional extra: pip install 'mlbench[ray]'") from None
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A ``HOST:PORT`` or ``ray://HOST:PORT`` address accepts connections (``auto`` is left to Ray)."""
    if address == "auto":
        return
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise MlbenchError(f"--ray-address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise MlbenchError(f"--ray-address {address}: no Ray cluster answers there ({exc.strerror or exc})") from None


def check_cluster(ray: Any, package: str = "mlbench", version: str | None = None) -> str:
    """One task on the cluster: can its workers import ``package`` (at ``version``)? Returns the
    worker's host; a one-line error otherwise. The probe is defined here, in a function, so that
    Ray ships it by value: it runs on a worker that lacks mlbench."""
    if version is None:
        from mlbench import __version__ as version

    def probe(name: str) -> tuple[str, str | None]:
        import importlib
        import socket as sock

        try:
            return sock.gethostname(), getattr(importlib.import_module(name), "__version__", "?")
        except ImportError:
            return sock.gethostname(), None

    host, found = ray.get(ray.remote(num_cpus=0)(probe).remote(package))
    if found is None:
        raise MlbenchError(f"--engine ray: the cluster's workers (e.g. on {host}) cannot import {package}; install "
                           f"mlbench {version} (pip install 'mlbench[ray]=={version}') on every node")
    if found != version:
        raise MlbenchError(f"--engine ray: the cluster's workers (e.g. on {host}) have {package} {found}, the driver "
                           f"{version}; install the same version on every node")
    return host


def _actor_class(ray: Any) -> Any:
    class EncodeActor:
        def __init__(self, model_spec: str, encoder_options: Any, device: str | None, threads: int) -> None:
            from mlbench.engines.base import Worker

            self.worker = Worker(model_spec, encoder_options, device, threads)

        def hello(self) -> tuple[int, str, str]:
            import ray as ray_

            return os.getpid(), self.worker.device, ray_.get_runtime_context().get_node_id()

        def run(self, unit: Any) -> Any:
            return self.worker.run(unit)

    return ray.remote(EncodeActor)


class RayEngine:
    name = "ray"

    def __init__(self, options: EngineOptions, model_spec: str, encoder_options: Any, description: dict) -> None:
        from mlbench.encoders.base import fingerprint

        self.options, self.model_spec, self.encoder_options = options, model_spec, encoder_options
        self.fingerprint = fingerprint(description)
        self.own = False  # a Ray started by this engine (shut down by close)
        self.temp_dir: str | None = None
        self.actors: list[Any] = []
        self.workers = 0
        self.devices: list[str] = []
        self.nodes = 0
        self.start_s = 0.0
        self.version = ""
        self.address: str | None = None
        self._token_set = False

    def start(self) -> None:
        ray = _ray()
        self.version = ray.__version__
        t0 = time.perf_counter()
        address = self.options.ray_address
        if address is not None:
            if ray.is_initialized():
                raise MlbenchError(f"--ray-address {address}: this process has already joined a Ray cluster; leave "
                                   "--ray-address out to use that one")
            check_reachable(address)
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise MlbenchError(f"--ray-address {address}: cannot join the Ray cluster ({first})") from None
            self.own = True  # joined for this run: leave it afterwards
        elif not ray.is_initialized():
            self.temp_dir = tempfile.mkdtemp(prefix="mlbench-ray-", dir="/tmp")  # short: socket paths
            if "RAY_AUTH_TOKEN" not in os.environ and os.environ.get("RAY_AUTH_MODE") is None:
                # token authentication with a token for this run only, rather than one saved to ~/.ray
                os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
                self._token_set = True
            cpus = max(os.cpu_count() or 1, (self.options.workers or 1) * self.options.cpus_per_worker)
            ray.init(num_cpus=cpus, include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE,
                     _temp_dir=self.temp_dir, log_to_driver=False)
            self.own = True
        try:
            self.address = ray.get_runtime_context().gcs_address
            check_cluster(ray)
            self._start_actors(ray)
        except BaseException:
            self.close()
            raise
        self.start_s = time.perf_counter() - t0

    def _start_actors(self, ray: Any) -> None:
        from mlbench.engines.base import device_plan

        devices = self.options.devices
        gpu = bool(devices) and all(d.startswith("cuda") for d in devices)
        cpus = self.options.cpus_per_worker
        if self.options.workers:
            self.workers = self.options.workers
        elif gpu:
            self.workers = max(1, int(ray.cluster_resources().get("GPU", 0)))
        else:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus))
        actor = _actor_class(ray).options(num_cpus=cpus, num_gpus=1 if gpu else 0, max_restarts=MAX_RESTARTS,
                                          max_task_retries=MAX_RESTARTS)
        plan = ["cuda" if gpu else d for d in device_plan(devices, self.workers)]  # Ray picks each actor's GPU
        self.actors = [actor.remote(self.model_spec, self.encoder_options, d, cpus) for d in plan]
        try:
            hello = ray.get([a.hello.remote() for a in self.actors], timeout=600)
        except ray.exceptions.GetTimeoutError:
            raise MlbenchError(f"--engine ray: {self.workers} actors of {cpus} CPU(s){' and 1 GPU' if gpu else ''} did "
                               f"not start within 10 minutes; the cluster has {ray.cluster_resources()}") from None
        except ray.exceptions.RayActorError as exc:
            raise MlbenchError(f"--engine ray: an actor could not build the model: {_cause(exc)}") from None
        self.devices = [d for _, d, _ in hello]
        self.nodes = len({n for _, _, n in hello})

    def run(self, units: Iterator[Any], tick: Callable[[int], None]) -> Iterator[tuple[Any, Any]]:
        from mlbench.engines.base import check_fingerprint

        ray = _ray()
        if not self.actors:
            self.start()
        load = [0] * len(self.actors)
        pending: dict[Any, tuple[Any, int]] = {}
        source = iter(units)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * len(self.actors):
                unit = next(source, None)
                if unit is None:
                    exhausted = True
                    break
                a = min(range(len(self.actors)), key=load.__getitem__)
                load[a] += 1
                pending[self.actors[a].run.remote(unit)] = (unit, a)
            if not pending:
                return
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            unit, a = pending.pop(ref)
            load[a] -= 1
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                raise MlbenchError(_cause(exc)) from None
            except ray.exceptions.RayActorError as exc:
                raise MlbenchError(f"--engine ray: an actor died more than {MAX_RESTARTS} times ({_cause(exc)})") from None
            check_fingerprint(result, self.fingerprint, "--engine ray")
            tick(len(unit.texts))
            yield unit, result

    def describe(self) -> dict[str, Any]:
        return {"name": "ray", "started": bool(self.devices), "workers": self.workers or self.options.workers,
                "devices": self.devices, "nodes": self.nodes,
                "cpus_per_worker": self.options.cpus_per_worker, "ray_version": self.version,
                "ray_address": self.options.ray_address or ("local, started for the run" if self.temp_dir else
                                                            "the Ray this process had joined"),
                "start_s": round(self.start_s, 3)}

    def close(self) -> None:
        if not (self.actors or self.own or self.temp_dir):
            return
        ray = _ray()
        for actor in self.actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
        if self.own and ray.is_initialized():
            ray.shutdown()
        self.own = False
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None
        if self._token_set:
            os.environ.pop("RAY_AUTH_TOKEN", None)
            self._token_set = False

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cause(exc: BaseException) -> str:
    """The message of the error a Ray task or actor raised, one line, without Ray's traceback."""
    cause = getattr(exc, "cause", None)
    if cause is not None and type(cause).__name__ == "MlbenchError":
        return str(cause)
    if cause is not None:
        return f"{type(cause).__name__}: {cause}".splitlines()[0]
    return (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
