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
