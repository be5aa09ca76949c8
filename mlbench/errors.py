"""The one error type users see.

Every problem caused by the user's input (a file, a flag, a value) is raised as ``MlbenchError``
with a single line that names the offending file, field or value. The CLI prints that line and
exits with code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class MlbenchError(Exception):
    """A user-facing, one-line error (exit code 2 on the command line)."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Fold to one line: messages often embed reasons from other libraries.
        super().__init__(" ".join(str(message).split()))


class OutputError(MlbenchError, OSError):
    """A file or folder mlbench writes that the operating system refuses (a path under a file, a
    folder that cannot be created, a full disk): one line naming the path, exit 2, like any input
    error; still an ``OSError`` for code that tolerates an unwritable cache."""


def output_error(path: object, exc: OSError, what: str = "cannot write") -> OutputError:
    """The one wording of an output the OS refused: the path, what failed and the OS's reason."""
    reason = exc.strerror or str(exc)
    where = exc.filename if exc.filename and str(exc.filename) != str(path) else None
    return OutputError(f"{path}: {what} ({reason}{f': {where}' if where else ''})")
