"""Getting a task's data files, always verified against the sha256 in its task file.

Lookup order for each file: the folder given by ``--data-dir`` / ``MLBENCH_DATA_DIR`` (upstream
layout), the copy embedded in the package (xz, for data whose licence allows it), the download
cache under ``MLBENCH_HOME``, and finally a download from the pinned address. A file that is
found but does not match its sha256 is an error, never a silent fallback.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mlbench.errors import MlbenchError
from mlbench.files import write_bytes
from mlbench.home import data_cache_dir, env_data_dir
from mlbench.task import TaskSpec

DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class DataFile:
    lang: str
    # where the bytes came from, without the machine's own paths (results are shared and committed):
    # "data-dir:REL" (--data-dir / MLBENCH_DATA_DIR), "embedded:REL", "cache:REL" or the download URL
    origin: str
    sha256: str
    data: bytes
    where: str = ""  # the file as errors name it (a local path); origin when empty

    @property
    def named(self) -> str:
        return self.where or self.origin


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verify(data: bytes, expected: str, origin: str) -> None:
    actual = sha256_bytes(data)
    if actual != expected:
        raise MlbenchError(f"{origin}: sha256 mismatch (expected {expected[:16]}…, got {actual[:16]}…); the file is corrupt or not the pinned version")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MlbenchError(f"{path}: cannot read data file ({exc.strerror or exc})") from None


def _embedded(rel: str) -> Path | None:
    path = Path(str(resources.files("mlbench"))) / "data" / "embedded" / f"{rel}.xz"
    return path if path.is_file() else None


def _download(url: str, target: Path, expected: str) -> bytes:
    if os.environ.get("MLBENCH_OFFLINE"):
        raise OSError("MLBENCH_OFFLINE is set")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:  # noqa: S310 (pinned https)
            data = resp.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise OSError(str(getattr(exc, "reason", exc))) from None
    _verify(data, expected, url)
    write_bytes(target, data)
    return data


def fetch(spec: TaskSpec, lang: str, data_dir: Path | None = None) -> DataFile:
    """Return one verified data file of a file-based task."""
    src = spec.source
    if src.type != "files":
        raise MlbenchError(f"task {spec.name}: source type {src.type!r} has no data files")
    expected = src.sha256[lang]
    rel = src.path.format(lang=lang)
    local_root = data_dir or env_data_dir()
    if local_root is not None:
        path = Path(local_root) / rel
        if path.is_file():
            data = _read(path)
            _verify(data, expected, str(path))
            return DataFile(lang, f"data-dir:{rel}", expected, data, str(path))
    if src.packaged and (emb := _embedded(rel)) is not None:
        try:
            data = lzma.decompress(emb.read_bytes())
        except lzma.LZMAError as exc:
            raise MlbenchError(f"{emb}: embedded copy is damaged ({exc}); reinstall mlbench") from None
        _verify(data, expected, str(emb))
        return DataFile(lang, f"embedded:{rel}", expected, data)
    cached = data_cache_dir() / rel
    if cached.is_file():
        data = _read(cached)
        _verify(data, expected, str(cached))
        return DataFile(lang, f"cache:{rel}", expected, data, str(cached))
    url = src.url.format(lang=lang)
    if not url:
        raise MlbenchError(f"task {spec.name}: no local copy of {rel} and no download address in {spec.file}")
    try:
        data = _download(url, cached, expected)
    except OSError as exc:
        raise MlbenchError(
            f"cannot download {rel} for task {spec.name} from {url} ({exc}); offline, put the file at "
            f"{cached} or pass --data-dir DIR (or set MLBENCH_DATA_DIR) with DIR/{rel}"
        ) from None
    return DataFile(lang, url, expected, data)


def available_locally(spec: TaskSpec, lang: str, data_dir: Path | None = None) -> bool:
    """Whether ``fetch`` would succeed without the network (used by listings, never downloads)."""
    src = spec.source
    if src.type != "files":
        return False
    rel = src.path.format(lang=lang)
    root = data_dir or env_data_dir()
    return bool(
        (root is not None and (Path(root) / rel).is_file())
        or (src.packaged and _embedded(rel) is not None)
        or (data_cache_dir() / rel).is_file()
    )
