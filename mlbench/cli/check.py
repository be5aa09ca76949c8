"""``mlbench check``: the regression gate (:mod:`mlbench.analysis.check`) on the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlbench.cli.app import DataDirOpt, Tests, tested, command, console, split_list
from mlbench.task import DEFAULT_TASK


@command(name="check")
@tested
def check_command(
    result: Annotated[Optional[Path], typer.Argument(help="A result file to check (or give --model to run first).")] = None,
    expected: Annotated[Optional[Path], typer.Option(help="Expected-scores TOML (see docs/ci.md).")] = None,
    baseline: Annotated[Optional[Path], typer.Option(help="Baseline result file: no aggregate or setting may regress.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Run this model first (same specs as mlbench run).")] = None,
    task: Annotated[str, typer.Option("--task", "-t", help="Task to run with --model.")] = DEFAULT_TASK,
    langs: Annotated[Optional[str], typer.Option(help="With --model: comma list of languages.")] = None,
    max_articles: Annotated[Optional[int], typer.Option(help="With --model: first N articles per language.")] = None,
    encoder_arg: Annotated[Optional[list[str]], typer.Option("--encoder-arg", help="With --model: key=value for a plugin factory.")] = None,
    data_dir: DataDirOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="With --model: folder for the result file.")] = Path("results"),
    metric: Annotated[Optional[str], typer.Option(help="Metric of the baseline rules and of --write-expected (default: the result's main metric).")] = None,
    tolerance: Annotated[float, typer.Option(help="Baseline rules: allowed drop of an aggregate.")] = 0.01,
    setting_tolerance: Annotated[float, typer.Option(help="Baseline rules: allowed drop of one setting.")] = 0.03,
    fail_on_significant: Annotated[bool, typer.Option(help="A significant drop within tolerance fails instead of warning.")] = False,
    junit: Annotated[Optional[Path], typer.Option(help="Write a JUnit XML report (one test case per rule).")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write a markdown summary (e.g. $GITHUB_STEP_SUMMARY).")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the verdicts as JSON.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table | json (printed verdicts)")] = "table",
    write_expected: Annotated[Optional[Path], typer.Option(help="Pin this result's numbers to an expected-scores file and stop.")] = None,
    *, tests: Tests,
) -> None:
    """Fail a checkpoint that regresses (CI gate against expected scores or a baseline).

    Exit 0: every rule OK (warnings allowed); 1: a regression; 2: an input error (missing file,
    wrong task, schema mismatch, a rule that cannot be evaluated).
    """
    from mlbench.analysis.check import expected_from_result, read_expected, run_check
    from mlbench.errors import MlbenchError
    from mlbench.files import write_text
    from mlbench.render.checks import table, to_json, write_reports
    from mlbench.render.tables import show
    from mlbench.results import read_result

    if format not in ("table", "json"):
        raise MlbenchError(f"--format {format!r} is not one of table, json")
    if (result is None) == (model is None):
        raise MlbenchError("give exactly one of RESULT or --model")
    out_console = console()
    if model is not None:
        from mlbench.data.lareqa import LareqaOptions
        from mlbench.encoders.registry import EncoderOptions
        from mlbench.options import parse_pairs
        from mlbench.pipeline import RunConfig, run

        from mlbench.pipeline import plan

        cfg = RunConfig(model=model, tasks=[task], out_dir=out, data_dir=data_dir, langs=split_list(langs),
                        lareqa=LareqaOptions(max_articles=max_articles),
                        encoder=EncoderOptions(args=parse_pairs(encoder_arg, "--encoder-arg")))
        (planned,) = plan(cfg).tasks
        if expected is not None:  # another slice than the pinned one is refused before any encoding
            read_expected(expected, task).check_slice(planned.slice, f"--model {model} --task {task}")
        (output,) = run(cfg)
        result = output.path
        console(stderr=format == "json").print(f"wrote {result}", markup=False)
    loaded = read_result(result)
    if write_expected is not None:
        write_text(write_expected, expected_from_result(loaded, metric))
        out_console.print(f"wrote {write_expected}", markup=False)
        return
    report = run_check(loaded, expected, read_result(baseline) if baseline else None, metric=metric,
                       fail_on_significant=fail_on_significant, tol_aggregate=tolerance, tol_setting=setting_tolerance,
                       **tests.options())
    write_reports(report, junit, markdown, json_out)
    if format == "json":
        sys.stdout.write(to_json(report) + "\n")
    else:
        show(table(report), out_console)
        for note in report.notes:
            out_console.print(note, markup=False)
        if report.exit_code:
            failed = [v.rule.target for v in report.verdicts if v.status == "FAIL"]
            out_console.print(f"regression: {len(failed)} rule(s) failed: {', '.join(failed[:20])}", markup=False,
                              style="bold red")
    if report.exit_code:
        raise typer.Exit(report.exit_code)
