"""Results: aggregates (:mod:`~mlbench.results.aggregate`), the result document
(:mod:`~mlbench.results.document`), result files in and out (:mod:`~mlbench.results.files`) and
exports (:mod:`~mlbench.results.export`)."""

from mlbench.results.files import LoadedResult, read_result, write_result

__all__ = ["LoadedResult", "read_result", "write_result"]
