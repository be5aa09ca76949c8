"""Rendering for people, one module per object: number formats (:mod:`~mlbench.render.formats`),
text tables that never crop (:mod:`~mlbench.render.tables`), the run summary
(:mod:`~mlbench.render.summary`), comparisons (:mod:`~mlbench.render.comparison`), checks
(:mod:`~mlbench.render.checks`), leaderboards (:mod:`~mlbench.render.standings`), HTML
(:mod:`~mlbench.render.html`), plots (:mod:`~mlbench.render.plots`) and the report page
(:mod:`~mlbench.render.report`)."""
