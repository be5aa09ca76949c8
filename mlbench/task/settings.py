"""Retrieval settings: which query language searches which pool.

One id scheme everywhere (results, exports, CLI): ``{query_lang}>{pool}`` where pool is a
language (``de>de`` monolingual, ``de>en`` cross-lingual) or ``*``, the union of every language of
the run (``de>*`` multilingual). A query with no relevant candidate in a setting's pool is left out
of that setting, and the count left out is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlbench.errors import MlbenchError
from mlbench.task.spec import KINDS

ALL = "*"


@dataclass(frozen=True)
class Setting:
    query_lang: str
    pool: str  # a language code or "*"

    @property
    def id(self) -> str:
        return f"{self.query_lang}>{self.pool}"

    @property
    def kind(self) -> str:
        if self.pool == ALL:
            return "multi"
        return "mono" if self.pool == self.query_lang else "cross"

    def pool_langs(self, langs: tuple[str, ...]) -> tuple[str, ...]:
        return langs if self.pool == ALL else (self.pool,)


def parse_setting(text: str) -> Setting:
    q, sep, p = text.partition(">")
    if not sep or not q or not p:
        raise MlbenchError(f"setting id {text!r} is not of the form QUERY_LANG>POOL (e.g. de>en, de>*)")
    return Setting(q, p)


def parse_kinds(text: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not text:
        return allowed
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    for k in kinds:
        if k not in KINDS:
            raise MlbenchError(f"--kinds: unknown kind {k!r} (known: {', '.join(KINDS)})")
        if k not in allowed:
            raise MlbenchError(f"--kinds: kind {k!r} is not defined for this task (defined: {', '.join(allowed)})")
    return kinds


def enumerate_settings(langs: tuple[str, ...], kinds: tuple[str, ...],
                       pools: tuple[str, ...] | None = None) -> list[Setting]:
    """Every setting of ``kinds`` for queries in ``langs`` over the pools of ``pools`` (default:
    the same languages): ``q>q`` (mono) where q has a pool, ``q>p`` (cross) for every other pool,
    ``q>*`` (multi) over all of them."""
    pools = langs if pools is None else pools
    out: list[Setting] = []
    for q in langs:
        if "mono" in kinds and q in pools:
            out.append(Setting(q, q))
        if "cross" in kinds:
            out.extend(Setting(q, p) for p in pools if p != q)
        if "multi" in kinds and pools:
            out.append(Setting(q, ALL))
    return out
