"""Outputs the operating system refuses: one line naming the path, exit 2, nothing partial left.

Tried as a new user would: an output path under an existing file, a folder that cannot be created,
and an ``MLBENCH_HOME`` that cannot take the cache's next shard (a file-size limit set on the
process, which the OS enforces as it would a full disk: the write fails with an ``OSError``),
for ``run --out``, ``export --out``, ``report -o``, ``plot -o`` and ``leaderboard -o``.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import pytest
from helpers import TESTS, empty_or_absent, one_line_error, run_cli

SLICE = ("--langs", "de", "--max-articles", "1", "--kinds", "mono")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("res")
    res = run_cli("run", "-m", "bm25", *SLICE, "-o", str(out))
    assert res.returncode == 0, res.stderr
    return out / "xquad-r--bm25.json"


@pytest.fixture
def blocker(tmp_path):
    """A file where a folder would have to be."""
    f = tmp_path / "a-file"
    f.write_text("not a folder")
    return f


def _nothing_new(tmp_path, before: set) -> None:
    after = {p for p in tmp_path.rglob("*")}
    assert after == before, sorted(map(str, after - before))


COMMANDS = {
    "run": ("run", "-m", "bm25", *SLICE, "-o", "{bad}"),
    "export-csv": ("export", "{result}", "--format", "csv", "-o", "{bad}/table.csv"),
    "export-mteb": ("export", "{result}", "--format", "mteb", "-o", "{bad}"),
    "report": ("report", "{result}", "-o", "{bad}/report.html"),
    "plot": ("plot", "{result}", "-o", "{bad}"),
    "leaderboard": ("leaderboard", "--task", "xquad-r", "--format", "markdown", "-o", "{bad}/board.md"),
}
# every command under a file; a folder that cannot be created once per kind of output (the same
# make_dirs refuses both, so one command of each kind shows it)
CASES = [(name, "under-a-file") for name in COMMANDS] + [(n, "cannot-be-created") for n in ("run", "report")]


@pytest.mark.parametrize("name, where", CASES, ids=[f"{n}-{w}" for n, w in CASES])
def test_a_refused_output_path_is_one_line(tmp_path, blocker, result, name, where):
    args = COMMANDS[name]
    bad = blocker / "sub" if where == "under-a-file" else "/proc/mlbench-cannot-create/sub"
    before = {p for p in tmp_path.rglob("*")}
    res = run_cli(*[a.format(bad=bad, result=result) for a in args])
    line = one_line_error(res, "cannot")
    assert ("Not a directory" in line) if where == "under-a-file" else ("No such file or directory" in line
                                                                         or "Permission denied" in line)
    assert "Traceback" not in res.stderr
    _nothing_new(tmp_path, before)


def _limited(max_bytes: int):
    def apply() -> None:  # the OS refuses any write past max_bytes, as it would on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return apply


def test_a_cache_the_os_refuses_is_one_line(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "MLBENCH_HOME": str(home), "PYTHONPATH": str(TESTS), "COLUMNS": "200"}
    res = subprocess.run([sys.executable, "-m", "mlbench.cli", "run", "-m", "use-m3", *SLICE, "-o",
                          str(tmp_path / "out")], capture_output=True, text=True, env=env,
                         preexec_fn=_limited(20_000), timeout=600)
    line = one_line_error(res, str(home / "embeddings"), "cannot write", "File too large")
    assert line.count("\n") == 0 and "Traceback" not in res.stderr
    assert empty_or_absent(tmp_path / "out")
    assert not [p for p in home.rglob("*.tmp")], "a temporary file was left behind"
