"""Results: the typed :class:`~mlbench.results.model.Result` (read with :meth:`Result.from_disk`,
any schema mlbench wrote; written with :meth:`Result.to_disk`), its per-query values
(:mod:`~mlbench.results.values`) and sidecars (:mod:`~mlbench.results.sidecars`), the one builder
(:mod:`~mlbench.results.build`), aggregates (:mod:`~mlbench.results.aggregate`), like-with-like
rules (:mod:`~mlbench.results.files`) and exports (:mod:`~mlbench.results.export`,
:mod:`~mlbench.results.mteb`)."""

from mlbench.results.model import Result

read_result = Result.from_disk  # the public API's name for reading a result file

__all__ = ["Result", "read_result"]
