"""Files in and out: atomic writes, and the reading of the small documents users hand in.

Every file mlbench writes (results, cache shards, stores, downloads, reports) goes through
:func:`atomic_open`: write to a temporary file in the target folder, flush and fsync, then
``os.replace``, so a reader sees the old file or the whole new one, never a partial one.

Every TOML or JSON document a user gives (task files, expected scores, result files, leaderboard
manifests) is parsed by :func:`read_document`, which turns every way of failing into one line that
names the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mlbench.errors import MlbenchError, OutputError, output_error


def file_digests(path: Path, *algorithms: str) -> list[str]:
    """Hex digests of one file in one streamed pass (a multi-GB store or corpus is never held whole)."""
    hashes = [hashlib.new(a) for a in algorithms]
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            for h in hashes:
                h.update(block)
    return [h.hexdigest() for h in hashes]


def slug(text: str) -> str:
    """``text`` as a safe file-name part (model names become result file names)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "model"


def make_dirs(folder: Path) -> Path:
    """``folder`` and its parents; a folder the OS refuses is an :class:`OutputError` naming it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(folder, exc, "cannot create this folder") from None
    return folder


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """A file written beside its final name, then renamed over it; whatever the OS refuses on the
    way (the folder, space, permissions) is an :class:`OutputError` naming ``path``, with nothing
    partial left behind."""
    path = Path(path)
    make_dirs(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise output_error(path, exc) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results and caches are ordinary files
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise output_error(path, exc) from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def write_text(path: Path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def npz_bytes(arrays: dict[str, Any]) -> bytes:
    """An ordinary ``.npz`` (``np.load`` reads it, no pickle) deflated at level 1: 4x faster than
    ``savez_compressed``'s level for a file a quarter larger (0.16 s against 0.66 s for the
    per-query values of all of XQuAD-R)."""
    import io
    import zipfile

    import numpy as np

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, value in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, value, allow_pickle=False)
    return buf.getvalue()


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=1, ensure_ascii=False, allow_nan=False) + "\n")


def read_document(path: Path, fmt: str, what: str) -> Any:
    """Parse ``path`` as ``fmt`` ("toml" or "json"); ``what`` names the document in errors."""
    name = fmt.upper()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MlbenchError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise MlbenchError(f"{path}: not valid {name} ({exc})") from None
    try:
        return tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise MlbenchError(f"{path}: not valid {name} ({exc})") from None
    except RecursionError:
        raise MlbenchError(f"{path}: not valid {name} (nested too deeply)") from None
