"""Encoding engines: where a run's passages are encoded (docs/scale.md).

- ``local`` (default): in the run's own process, by the model it loaded
  (:class:`mlbench.embedding.units.LocalEngine`);
- ``processes``: a pool of worker processes on this machine, one model each, optionally one
  device each (``--devices cuda:0,cuda:1``) (:mod:`.processes`);
- ``ray``: an actor pool on a Ray cluster, local or remote (optional extra ``mlbench[ray]``,
  imported only when chosen) (:mod:`.rayengine`).

Every engine runs the same units of work (:mod:`mlbench.embedding.units`): a store chunk (written by the worker
into the store folder, verified by the driver) or a run of planned batches for the text cache
(vectors returned to the driver). Queries are always encoded by the driver. This module imports
nothing heavy: worker processes import it before their thread limits are set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlbench.engines.options import ENGINES, EngineOptions

if TYPE_CHECKING:
    from mlbench.embedding.units import Engine

__all__ = ["ENGINES", "EngineOptions", "open_engine"]


def open_engine(options: EngineOptions, model_spec: str, encoder_options, encoder, description: dict) -> Engine:
    """The engine ``options`` name; its workers start (and load the model) when it is first given
    work, so a run whose vectors are all stored or cached starts none. Close it with ``close()``."""
    if options.engine == "processes":
        from mlbench.engines.processes import ProcessesEngine

        engine = ProcessesEngine(options, model_spec, encoder_options, description)
    elif options.engine == "ray":
        from mlbench.engines.rayengine import RayEngine

        engine = RayEngine(options, model_spec, encoder_options, description)
    else:
        from mlbench.embedding.units import LocalEngine

        engine = LocalEngine(encoder)
    return engine
