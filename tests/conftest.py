"""Session set-up, once: an isolated environment for the whole test session (before any test
module imports mlbench or ir_datasets), the MIRACL fixture laid out for ir_datasets, and the
``slow`` and ``mlqa`` markers. Shared helpers live in tests/helpers.py."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# ir_datasets fixes its paths when first imported, and other packages import it too (ranx does):
# every variable is set here, before any test module is imported. MLBENCH_HOME is one cache for the
# session (tests that count encodings use their own folder).
_ROOT = Path(tempfile.mkdtemp(prefix="mlbench-tests-"))
os.environ.update({"MLBENCH_HOME": str(_ROOT / "home"), "IR_DATASETS_HOME": str(_ROOT / "irds"),
                   "MLBENCH_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
_user_data = os.environ.pop("MLBENCH_DATA_DIR", None)  # tests name their data; the user's copy may still serve MLQA-R
if _user_data:
    os.environ.setdefault("MLBENCH_TEST_MLQA", _user_data)
IRDS_HOME = Path(os.environ["IR_DATASETS_HOME"])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than ~15 s (deselect with -m 'not slow')")
    config.addinivalue_line("markers", "mlqa: needs the real MLQA-R files (CC BY-NC 4.0, never shipped)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``mlqa`` runs wherever a copy or mlbench's pinned download gives MLQA-R (CI's
    main pass has ../shared); in a fresh clone offline it is skipped with the reason of each failed
    source, or deselected by ``-m "not mlqa"``. The sources are looked up only when such a test was
    collected."""
    from helpers import mlqa_missing

    needing = [item for item in items if item.get_closest_marker("mlqa")]
    why = mlqa_missing() if needing else ""
    for item in needing:
        item.add_marker(pytest.mark.skipif(bool(why), reason=why or "MLQA-R is reachable"))


@pytest.fixture
def fresh_home(tmp_path, monkeypatch) -> Path:
    """A new, empty MLBENCH_HOME (embedding cache, stores, downloads) for this test."""
    home = tmp_path / "mlbench-home"
    monkeypatch.setenv("MLBENCH_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def irds_home() -> Path:
    """IR_DATASETS_HOME holding the MIRACL fixture in ir_datasets' cache layout (the real dev
    topics and qrels of yo and te, and their real passage pools as the corpora)."""
    from helpers import MIRACL_FIXTURE, MIRACL_LANGS

    from mlbench.data import irds
    from mlbench.data.irds_layout import install_anserini_names

    irds.use_home(IRDS_HOME)
    for lang in MIRACL_LANGS:
        install_anserini_names(IRDS_HOME, lang, MIRACL_FIXTURE / "dev", [MIRACL_FIXTURE / "corpus" / f"{lang}.corpus.jsonl.gz"])
    return IRDS_HOME


@pytest.fixture(scope="session")
def use():
    """The real default encoder (multilingual USE v3), loaded once."""
    from mlbench.encoders.usem3 import create

    return create()


@pytest.fixture(scope="session")
def reference(use, tmp_path_factory):
    """An uninterrupted use-m3 run on the small XQuAD-R slice (helpers.small) with its own cache:
    the expected result of the bad-output and damaged-file tests."""
    from helpers import small

    from mlbench.pipeline import run

    root = tmp_path_factory.mktemp("reference")
    (out,) = run(small(root / "out", cache_dir=root / "cache"), model=use)
    return out
