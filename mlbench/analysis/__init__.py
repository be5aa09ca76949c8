"""Analysis of result files: paired significance tests (:mod:`~mlbench.analysis.significance`),
comparisons (:mod:`~mlbench.analysis.compare`), the regression gate (:mod:`~mlbench.analysis.check`)
and leaderboards (:mod:`~mlbench.analysis.leaderboard`)."""
