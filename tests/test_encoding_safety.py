"""What an encoder hands back is checked before anything keeps it, and the embedding cache only
ever reads whole, verified shards (docs/reliability.md)."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
from helpers import metrics_of, shards, small

from mlbench.data import load_task
from mlbench.embedding.cache import EmbeddingCache, text_key
from mlbench.encoders.base import fingerprint
from mlbench.errors import MlbenchError
from mlbench.pipeline import run
from mlbench.data.tasks import get_task


# ------------------------------------------------------------------------ bad encoder output

class Faulty:
    """use-m3, except that batch ``at`` comes back broken in one way."""

    def __init__(self, inner, fault: str, at: int = 2) -> None:
        self.inner, self.fault, self.at, self.name = inner, fault, at, inner.name
        self.batches: list[tuple[str, str, list[str]]] = []

    def describe(self):
        return self.inner.describe()  # same fingerprint as the good encoder: same cache

    def encode(self, texts, kind, lang):
        self.batches.append((kind, lang, list(texts)))
        if len(self.batches) - 1 != self.at:
            return self.inner.encode(texts, kind, lang)
        if self.fault == "raises":
            raise RuntimeError("CUDA out of memory (simulated)")
        out = self.inner.encode(texts, kind, lang)
        if self.fault == "nan":
            out[0, 0] = np.nan
        elif self.fault == "inf":
            out[-1, 7] = np.inf
        elif self.fault == "rows":
            out = out[:-1]
        elif self.fault == "dim":
            out = out[:, :256]
        elif self.fault == "text":
            out = np.full(out.shape, "n/a")
        return out


BAD_OUTPUT = {
    "nan": r"returned NaN or inf in 1 of {n} rows",
    "inf": r"returned NaN or inf in 1 of {n} rows",
    "rows": r"returned shape \({m}, 512\) for {n} texts",
    "dim": r"returned dimension 256, earlier batches had 512",
    "raises": r"raised RuntimeError: CUDA out of memory \(simulated\)",
    "text": r"returned dtype <U3, not numbers",
}


@pytest.mark.parametrize("fault", list(BAD_OUTPUT))
def test_bad_encoder_output_is_refused_and_never_cached(fault, tmp_path, use, reference, monkeypatch, fresh_home):
    monkeypatch.setattr("mlbench.embedding.cache.FLUSH_ROWS", 1)  # every verified batch reaches the cache at once
    bad = Faulty(use, fault)
    with pytest.raises(MlbenchError) as err:
        run(small(tmp_path / "out"), model=bad)
    kind, lang, texts = bad.batches[bad.at]
    n = len(texts)
    expected = rf"^encoder use-m3, {kind} batch \d+ \({lang}, {n} texts\): " + BAD_OUTPUT[fault].format(n=n, m=n - 1)
    assert "\n" not in str(err.value)
    assert re.match(expected, str(err.value)), str(err.value)
    assert not (tmp_path / "out").exists()
    # the cache holds exactly the verified batches before the bad one
    desc = use.describe()
    cache = EmbeddingCache(fingerprint(desc), desc)
    stored = shards(cache.dir)
    good = [(k, t) for k, _, ts in bad.batches[: bad.at] for t in ts]
    assert set(stored) == {text_key(k, "", t) for k, t in good} and len(cache) == len(good)
    assert not any(text_key(kind, "", t) in cache for t in texts)
    # a rerun with a good encoder of the same fingerprint resumes and gives the reference result
    (out,) = run(small(tmp_path / "again"), model=use)
    enc = out.result.run.encoding
    assert enc["from_cache"] == len(good) and enc["encoded"] == enc["unique_texts"] - len(good) == 188 - len(good)
    assert metrics_of(out.result) == metrics_of(reference.result)


class Reusing:
    """An encoder that returns a view of one output buffer it overwrites on every call (as runtimes
    with preallocated output bindings do). Each returned array is correct when returned."""

    def __init__(self, inner) -> None:
        self.inner, self.name = inner, inner.name
        self.buffer = np.zeros((512, 512), dtype=np.float32)

    def describe(self):
        return self.inner.describe()

    def encode(self, texts, kind, lang):
        view = self.buffer[: len(texts)]
        view[:] = self.inner.encode(texts, kind, lang)
        return view


def test_encoder_reusing_its_output_buffer_gives_correct_results(tmp_path, use, reference, fresh_home):
    (out,) = run(small(tmp_path / "out"), model=Reusing(use))
    assert out.result.run.encoding["batches"] > 1
    assert metrics_of(out.result) == metrics_of(reference.result)
    desc = use.describe()
    data = load_task(get_task("xquad-r"), ["de", "en"], max_articles=1)
    texts = data.langs["de"].queries.texts[:4] + data.langs["en"].candidates.texts[:4]
    kinds = ["query"] * 4 + ["candidate"] * 4
    stored = shards(EmbeddingCache(fingerprint(desc), desc).dir)
    fresh = use.encode(texts, "query", "de")
    for i, (k, t) in enumerate(zip(kinds, texts)):
        np.testing.assert_allclose(stored[text_key(k, "", t)], fresh[i], atol=1e-5)


def test_unreadable_shard_is_ignored_not_fatal(tmp_path):
    """A shard damaged outside mlbench (a disk error, a partial copy of the cache) is skipped with a
    warning; only whole, verified shards are ever read."""
    desc = {"type": "test", "dim": 4}
    cache = EmbeddingCache("f" * 24, desc, tmp_path)
    keys = [text_key("query", "", f"t{i}") for i in range(10)]
    cache.put_many(keys, np.arange(40, dtype=np.float32).reshape(10, 4))
    (good,) = cache.dir.glob("shard-*.npz")
    blob = good.read_bytes()
    (cache.dir / "shard-truncated.npz").write_bytes(blob[: len(blob) // 2])
    (cache.dir / "shard-empty.npz").write_bytes(b"")
    (cache.dir / "shard-garbage.npz").write_bytes(b"PK\x03\x04" + os.urandom(64))
    (cache.dir / f".{good.name}.abcd1234.tmp").write_bytes(blob[:100])  # a write killed mid-way
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = EmbeddingCache("f" * 24, desc, tmp_path)
    assert len(again) == 10 and again.dim == 4
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 3 and all("ignoring unreadable shard" in m for m in messages), messages
    for name in ("shard-empty.npz", "shard-garbage.npz", "shard-truncated.npz"):
        assert any(name in m for m in messages), (name, messages)
    np.testing.assert_array_equal(again.get_many(keys[3:5]), [[12, 13, 14, 15], [16, 17, 18, 19]])
