"""The ``mlbench`` Typer application, its one error handler and the options commands share.

Every command is registered with :func:`command`, which turns an :class:`MlbenchError` (bad input:
a file, a flag, a value) into one line on stderr and exit code 2; anything else is a bug and keeps
its traceback. Commands import what they need inside their function, so ``mlbench --help`` and
``--version`` start fast.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from mlbench import __version__
from mlbench.errors import MlbenchError

CONTEXT = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    help="Benchmark multilingual retrievers on XQuAD-R, MLQA-R and MIRACL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    rich_markup_mode=None,  # plain help: no boxes or type tags, readable in any terminal, pipe or log
)


def fail(exc: MlbenchError) -> typer.Exit:
    """The one handler of input errors: one line on stderr, exit code 2."""
    sys.stderr.write(f"mlbench: error: {exc}\n")
    return typer.Exit(exc.exit_code)


def command(on: typer.Typer = app, name: str | None = None, **options: Any) -> Callable:
    """Register a command on ``on`` with the one error handler around it."""
    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except MlbenchError as exc:
                raise fail(exc) from None

        on.command(name, **options)(guarded)
        return fn
    return register


@dataclass(frozen=True)
class Tests:
    """The significance options of a command that tests (compare, check, report, leaderboard,
    sweep): one set of flags, one meaning, in one place."""

    test: str
    correction: str
    alpha: float
    permutations: int | None
    seed: int

    def options(self) -> dict[str, Any]:
        """As the analysis functions name them."""
        return {"test": self.test, "correction": self.correction, "alpha": self.alpha,
                "n_permutations": self.permutations, "seed": self.seed}


def tested(fn: Callable) -> Callable:
    """Give a command ``--test``, ``--correction``, ``--alpha``, ``--permutations`` and ``--seed``;
    it receives them as ``tests: Tests``. (typer reads the signature, so the wrapper carries one.)"""
    hints = typing.get_type_hints(fn, include_extras=True)
    own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(fn).parameters.values()
           if p.name != "tests"]
    flags = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
             for name, annotation, default in (("test", TestOpt, "randomization"), ("correction", CorrectionOpt, "holm"),
                                                ("alpha", AlphaOpt, 0.05), ("permutations", PermutationsOpt, None),
                                                ("seed", SeedOpt, 0))]

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        tests = Tests(*(kwargs.pop(name) for name in ("test", "correction", "alpha", "permutations", "seed")))
        return fn(**kwargs, tests=tests)

    params = own + flags
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__  # typer must see this signature, not fn's
    return wrapper


def console(stderr: bool = False) -> Console:
    """A console that never wraps or crops a line it is given (paths, figures); tables go through
    :func:`mlbench.render.tables.show`."""
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def print_results(outputs: list[Any], format: str, lines: Callable[[dict], list[str]] | None = None) -> None:
    """The result files a scoring command wrote (run, evaluate, fuse), as each of them shows them:
    one JSON list, or per result its tables, the command's ``lines`` and where it was written."""
    from mlbench.render import summary
    from mlbench.render.tables import show

    if format == "json":
        sys.stdout.write(json.dumps([summary.to_dict(o.result, str(o.path)) for o in outputs], indent=1) + "\n")
        return
    if format == "latex":
        sys.stdout.write(summary.latex([o.result for o in outputs]))
        return
    out = console()
    for o in outputs:
        show(summary.table(o.result), out)
        show(summary.kinds_table(o.result), out)
        for line in lines(o.result) if lines else []:
            out.print(line, markup=False)
        out.print(f"wrote {o.path}", markup=False)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mlbench {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Benchmark multilingual retrievers on XQuAD-R, MLQA-R and MIRACL.

    Start with `mlbench run` (the embedded XQuAD-R with the default encoder, offline), then
    `mlbench compare A.json B.json`, `mlbench check`, `mlbench leaderboard`, `mlbench report`.
    """


def split_list(text: str | None) -> list[str] | None:
    """A comma list flag (``--langs de,en``) as a list; None when not given."""
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


FORMAT_HELP = "table (terminal or plain text) | json"
# the formats of a scoring command's summary (run, evaluate, fuse: print_results)
SUMMARY_FORMATS = ("table", "json", "latex")
SUMMARY_HELP = ("table (terminal or plain text) | json | latex (booktabs, the layout of Table 1 of arXiv 2408.10536); "
                "progress goes to stderr with json and latex")
AUTO_PERMUTATIONS = ("(default: 10000, more when needed for every family of tests to reach --alpha after the "
                     "correction; a number too small for that is refused)")
PermutationsOpt = Annotated[Optional[int], typer.Option(
    "--permutations", help=f"Permutations (randomization) or resamples (bootstrap, CIs) {AUTO_PERMUTATIONS}.")]
# the tests of every command that tests (compare, check, report, leaderboard, sweep): the names of
# mlbench.analysis.significance.TESTS and CORRECTIONS, which check them (not imported here: numpy)
TestOpt = Annotated[str, typer.Option(help="randomization (sign-flip permutation) | t (paired t-test) | bootstrap | "
                                           "wilcoxon (signed rank, zero differences by Pratt's rule).")]
CorrectionOpt = Annotated[str, typer.Option(help="holm | bonferroni | bh (Benjamini-Hochberg) | none.")]
AlphaOpt = Annotated[float, typer.Option(help="Significance level, applied to adjusted p-values.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the resampling (randomization, bootstrap, CIs).")]
TasksDirOpt = Annotated[Optional[list[Path]], typer.Option(
    "--tasks-dir", help="Extra folder of task files (*.toml); may be repeated.")]
DataDirOpt = Annotated[Optional[Path], typer.Option(
    "--data-dir", envvar="MLBENCH_DATA_DIR", help="Local copy of task data in upstream layout (e.g. DIR/mlqa-r/ar.json).")]
# the slice and metric options of the commands that run a model (run, sweep)
KindsOpt = Annotated[Optional[str], typer.Option(
    "--kinds", help="Comma list of setting kinds: mono,cross,multi (default: all of the task's).")]
LangsOpt = Annotated[Optional[str], typer.Option("--langs", help="Comma list of languages (queries and pools); default all.")]
MaxQueriesOpt = Annotated[Optional[int], typer.Option("--max-queries", help="Keep the first N queries per language.")]
MetricsOpt = Annotated[Optional[str], typer.Option(
    "--metrics", help="Comma list, e.g. map,recall@10,ndcg@10,mrr@10 (default: the task's).")]
MaxArticlesOpt = Annotated[Optional[int], typer.Option(
    "--max-articles", help="LAReQA: keep the first N articles per language file (a small, still parallel slice).")]
MetricOpt = Annotated[Optional[str], typer.Option(
    "--metric", "-m", help="Metric (default: the result's main metric, e.g. map for XQuAD-R, ndcg@10 for MIRACL).")]
