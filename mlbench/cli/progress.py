"""Progress while encoding: a rich bar on a terminal, periodic plain lines in a pipe or a CI log
(where a bar shows nothing until the end)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console

ProgressStart = Callable[[str, int], Callable[[int], None]]
EVERY_S = 15.0  # a line at least this often when not on a terminal (and at 25/50/75/100 %)


class LineProgress:
    """``label: done/total texts (p%), elapsed, ETA`` lines, for consoles that are not terminals."""

    def __init__(self, console: Console, every_s: float = EVERY_S) -> None:
        self.console, self.every_s = console, every_s

    def start(self, label: str, total: int, unit: str = "texts") -> Callable[[int], None]:
        t0 = time.monotonic()
        state = {"done": 0, "last": t0, "quarter": 0}
        self._line(label, 0, total, 0.0, unit)

        def tick(n: int) -> None:
            state["done"] += n
            now = time.monotonic()
            quarter = 4 * state["done"] // max(total, 1)
            if now - state["last"] >= self.every_s or quarter > state["quarter"]:
                state["last"], state["quarter"] = now, quarter
                self._line(label, state["done"], total, now - t0, unit)
        return tick

    def _line(self, label: str, done: int, total: int, elapsed: float, unit: str) -> None:
        pct = 100.0 * done / total if total else 100.0
        eta = f", ETA {elapsed * (total - done) / done:.0f} s" if 0 < done < total else ""
        self.console.print(f"{label}: {done}/{total} {unit} ({pct:.0f}%), {elapsed:.0f} s{eta}", markup=False,
                           highlight=False, soft_wrap=True)


@contextlib.contextmanager
def progress(console: Console) -> Iterator[ProgressStart]:
    if not console.is_terminal:
        yield LineProgress(console).start
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[unit]}"),
                  TimeRemainingColumn(), console=console, transient=False) as bar:
        def start(label: str, total: int, unit: str = "texts") -> Callable[[int], None]:
            task = bar.add_task(label, total=total, unit=unit)
            return lambda n: bar.advance(task, n)
        yield start
