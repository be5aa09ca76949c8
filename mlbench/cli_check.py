"""``mlbench check``: the CLI of the regression gate (see mlbench.check)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from mlbench.errors import MlbenchError

console = Console()


def _table(report) -> Table:
    colour = {"OK": "green", "WARN": "yellow", "FAIL": "bold red"}
    table = Table(title=f"mlbench check — {report.task} — {report.result}")
    for col in ("verdict", "target", "metric", "reference", "actual", "delta", "p adj.", "why"):
        table.add_column(col, justify="right" if col in ("reference", "actual", "delta", "p adj.") else "left")
    order = {"FAIL": 0, "WARN": 1, "OK": 2}
    for v in sorted(report.verdicts, key=lambda v: order[v.status]):
        table.add_row(f"[{colour[v.status]}]{v.status}[/]", v.rule.target, v.rule.metric, f"{v.rule.reference:.4f}",
                      f"{v.actual:.4f}", f"{v.delta:+.4f}", "" if v.p_adjusted is None else f"{v.p_adjusted:.3g}",
                      v.reason)
    c = report.counts()
    table.caption = f"{c['OK']} OK, {c['WARN']} WARN, {c['FAIL']} FAIL"
    return table


def check(
    result: Annotated[Optional[Path], typer.Argument(help="A result file to check (or give --model to run first).")] = None,
    expected: Annotated[Optional[Path], typer.Option(help="Expected-scores TOML (see docs/ci.md).")] = None,
    baseline: Annotated[Optional[Path], typer.Option(help="Baseline result file: no aggregate or setting may regress.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Run this model first (same specs as mlbench run).")] = None,
    task: Annotated[str, typer.Option("--task", "-t", help="Task to run with --model.")] = "xquad-r",
    langs: Annotated[Optional[str], typer.Option(help="With --model: comma list of languages.")] = None,
    max_articles: Annotated[Optional[int], typer.Option(help="With --model: first N articles per language.")] = None,
    encoder_arg: Annotated[Optional[list[str]], typer.Option("--encoder-arg", help="With --model: key=value for a plugin factory.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", envvar="MLBENCH_DATA_DIR", help="Local task data.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="With --model: folder for the result file.")] = Path("results"),
    metric: Annotated[str, typer.Option(help="Metric of the baseline rules and of --write-expected.")] = "map",
    tolerance: Annotated[float, typer.Option(help="Baseline rules: allowed drop of an aggregate.")] = 0.01,
    setting_tolerance: Annotated[float, typer.Option(help="Baseline rules: allowed drop of one setting.")] = 0.03,
    alpha: Annotated[float, typer.Option(help="Significance level of the baseline tests.")] = 0.05,
    correction: Annotated[str, typer.Option(help="holm | bonferroni | bh | none.")] = "holm",
    test: Annotated[str, typer.Option(help="randomization | t | bootstrap.")] = "randomization",
    permutations: Annotated[int, typer.Option(help="Permutations / resamples of the tests.")] = 2000,
    fail_on_significant: Annotated[bool, typer.Option(help="A significant drop within tolerance fails instead of warning.")] = False,
    junit: Annotated[Optional[Path], typer.Option(help="Write a JUnit XML report (one test case per rule).")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write a markdown summary (e.g. $GITHUB_STEP_SUMMARY).")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the verdicts as JSON.")] = None,
    write_expected: Annotated[Optional[Path], typer.Option(help="Pin this result's numbers to an expected-scores file and stop.")] = None,
) -> None:
    """Fail a checkpoint that regresses (CI gate against expected scores or a baseline).

    Exit 0: every rule OK (warnings allowed); 1: a regression; 2: an input error (missing file,
    wrong task, schema mismatch, a rule that cannot be evaluated).
    """
    from mlbench.atomic import write_text
    from mlbench.check import expected_from_result, run_check, write_reports
    from mlbench.results import read_result

    if (result is None) == (model is None):
        raise MlbenchError("give exactly one of RESULT or --model")
    if model is not None:
        from mlbench.encoders.registry import parse_encoder_args
        from mlbench.runner import RunConfig, run

        cfg = RunConfig(model=model, tasks=[task], out_dir=out, data_dir=data_dir, max_articles=max_articles,
                        langs=[x.strip() for x in langs.split(",")] if langs else None,
                        encoder_args=parse_encoder_args(encoder_arg))
        (output,) = run(cfg)
        result = output.path
        console.print(f"wrote {result}")
    loaded = read_result(result)
    if write_expected is not None:
        write_text(write_expected, expected_from_result(loaded, metric))
        console.print(f"wrote {write_expected}")
        return
    report = run_check(loaded, expected, read_result(baseline) if baseline else None, metric=metric,
                       fail_on_significant=fail_on_significant, tol_aggregate=tolerance, tol_setting=setting_tolerance,
                       alpha=alpha, correction=correction, test=test, n_permutations=permutations)
    write_reports(report, junit, markdown, json_out)
    console.print(_table(report))
    for note in report.notes:
        console.print(note)
    if report.exit_code:
        failed = [v.rule.target for v in report.verdicts if v.status == "FAIL"]
        console.print(f"[bold red]regression[/]: {len(failed)} rule(s) failed: {', '.join(failed[:20])}")
        raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
