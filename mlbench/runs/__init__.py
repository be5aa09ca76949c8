"""Runs in and out of mlbench: TREC run files read (:mod:`mlbench.runs.trec`), an external run
scored against a task (:mod:`mlbench.runs.evaluate`), and the kept runs of results fused
(:mod:`mlbench.runs.fuse`)."""
