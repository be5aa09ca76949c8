"""BM25 lexical baseline (entry point ``bm25``), built on ``bm25s`` with language-aware tokens.

BM25 cannot embed a text on its own: its IDF and average document length come from the pool, so
it implements ``PoolScorer``. The harness indexes each pool once (``index``) and scores every query
language against it (``PoolIndex.score``). A pool may mix languages; every text is tokenised by
the rules of its own language and every query by the rules of the query's language.

Tokenisation (``mlbench-bm25-v1``; the version string lands in ``describe()``, so changing any
rule below must change it):

1. Normalise: Unicode NFKC, then ``str.lower()``.
2. Words: maximal runs of *word characters*, i.e. characters that are alphanumeric
   (``str.isalnum()``: letters and digits of any script) or combining marks (Unicode category
   ``M*``), never ``_``. Marks matter: Python's ``\\w`` leaves out Devanagari vowel signs, Arabic
   harakat and the like, and would cut "हिन्दी" into three pieces. Every other character
   (space, punctuation, symbol, zero-width format characters such as ZWNJ) separates words, so
   "don't" gives "don" and "t". Stop words: none are removed; IDF already discounts them.
3. Scripts written without spaces - Han (with the ideographic iteration marks), Hiragana,
   Katakana, Thai, Lao, Khmer, Myanmar - cannot be split into words by rule 2. A maximal run of
   their word characters becomes overlapping character (code point) bigrams, "北京大学" ->
   "北京" "京大" "大学"; a run of one character is kept as that unigram. The rule goes by
   character, not by the text's language: a Latin brand name inside Chinese is a word and a
   Chinese name inside English is bigrams. Such a run also ends a word, so "iphone手机" gives
   "iphone" and "手机". Korean is written with spaces and follows rule 2.
4. Stemming (``stem=True``): every rule-2 word of a text whose language has a Snowball stemmer
   in PyStemmer is stemmed with it (``SNOWBALL`` maps ISO 639-1 codes to Snowball names; only
   names that ``Stemmer.algorithms()`` lists are used, which is why PyStemmer's version is in
   ``describe()``). Languages without one (vi, ko, bn, te, sw, yo, ...) keep their words as
   they are. Bigrams are never stemmed. A language tag such as ``pt-BR`` is looked up by its
   primary subtag ``pt``.

The tokeniser is a pure function of (text, language, stem, library versions): no randomness and
no state that depends on earlier calls, so the same pool always gives the same index. (Which
characters count as letters and marks comes from Python's Unicode database,
``unicodedata.unidata_version``; a Python with a newer Unicode only differs on characters the
older one did not know.)

Scoring: the pool's tokens are mapped to integer ids with a vocabulary built here (ids in order
of first occurrence, so deterministic), indexed with ``bm25s.BM25(k1, b, method)``, and each query
gets the full score vector from one ``get_scores`` call. Query tokens absent from the pool are
dropped (they would score 0 anyway); a query with no known token scores 0 everywhere. Repeated
query tokens count once per occurrence, as in bm25s. Note that bm25s's ``lucene`` method is the
Lucene >= 8 formula ``idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))`` with
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``: the classic ``(k1 + 1)`` numerator factor is left
out, which scales every score by the same constant and changes no ranking. ``method`` is one of
lucene, robertson and atire; bm25s's bm25l and bm25+ also depend on a ``delta`` this scorer does
not expose, so they are refused rather than described incompletely.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from importlib import metadata
from typing import Any

import bm25s
import numpy as np
import Stemmer

from mlbench.errors import MlbenchError

TOKENIZER_VERSION = "mlbench-bm25-v1"

#: ISO 639-1 code -> Snowball algorithm name (PyStemmer). Entries the installed PyStemmer lacks are
#: ignored (see ``stemmer_name``). ``porter`` and ``dutch_porter`` are older duplicates, left out.
SNOWBALL: dict[str, str] = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "eo": "esperanto", "es": "spanish", "et": "estonian", "eu": "basque",
    "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi",
    "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian", "lt": "lithuanian",
    "nb": "norwegian", "ne": "nepali", "nl": "dutch", "no": "norwegian", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "st": "sesotho",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}

#: Code point ranges of the scripts written without spaces between words (rule 3).
UNSPACED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0E7F),    # Thai
    (0x0E80, 0x0EFF),    # Lao
    (0x1000, 0x109F),    # Myanmar
    (0x1780, 0x17FF),    # Khmer
    (0x19E0, 0x19FF),    # Khmer symbols
    (0x2E80, 0x2FDF),    # CJK radicals, Kangxi radicals
    (0x3005, 0x3007),    # 々 〆 〇
    (0x3021, 0x3029),    # Hangzhou numerals
    (0x3031, 0x3035),    # kana repeat marks
    (0x3038, 0x303C),    # more ideographic iteration marks
    (0x3040, 0x30FF),    # Hiragana, Katakana
    (0x31F0, 0x31FF),    # Katakana phonetic extensions
    (0x3400, 0x4DBF),    # CJK extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xA9E0, 0xA9FF),    # Myanmar extended-B
    (0xAA60, 0xAA7F),    # Myanmar extended-A
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0x1AFF0, 0x1B16F),  # Kana extensions and supplement
    (0x20000, 0x323AF),  # CJK extensions B-H and compatibility supplement
)

METHODS = ("lucene", "robertson", "atire")  # bm25s variants whose scores depend on k1 and b only


def _is_word_char(ch: str) -> bool:
    return ch != "_" and (ch.isalnum() or unicodedata.category(ch).startswith("M"))


def _char_class(codes: list[int]) -> str:
    """A regex character class (without brackets) for sorted code points, as ranges."""
    parts: list[str] = []
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        lo, hi = re.escape(chr(codes[i])), re.escape(chr(codes[j]))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "".join(parts)


#: Planes that hold letters, digits or marks in any Unicode version so far: 0-3 (BMP,
#: supplementary multilingual and ideographic planes) and 14 (variation selectors). Planes 4-13
#: are unassigned and 15-16 are private use; skipping them makes the scan below 4x faster.
_SCANNED_PLANES = (range(0x00000, 0x40000), range(0xE0000, 0xE1000))


@cache
def _segmenter() -> re.Pattern[str]:
    """Regex whose matches are rule-3 runs (group ``u``) or rule-2 words (group ``w``).

    Python's ``re`` has no Unicode-category classes (``\\w`` lacks the marks), so the two disjoint
    classes are built once by scanning the code points (about 0.2 s, on first use only)."""
    unspaced_set: set[int] = set()
    for lo, hi in UNSPACED_RANGES:
        unspaced_set.update(range(lo, hi + 1))
    unspaced: list[int] = []
    spaced: list[int] = []
    for plane in _SCANNED_PLANES:
        for cp in plane:
            if _is_word_char(chr(cp)):
                (unspaced if cp in unspaced_set else spaced).append(cp)
    return re.compile(f"(?P<u>{_one_of(unspaced)}+)|(?P<w>{_one_of(spaced)}+)")


def _one_of(codes: list[int]) -> str:
    """Regex for one character among ``codes``. The BMP and astral parts are separate classes:
    ``re`` turns an all-BMP class into a fast lookup table but tests a class that reaches past
    U+FFFF range by range, which made tokenising three times slower."""
    bmp = [cp for cp in codes if cp <= 0xFFFF]
    astral = [cp for cp in codes if cp > 0xFFFF]
    if not astral:
        return f"[{_char_class(bmp)}]"
    return f"(?:[{_char_class(bmp)}]|(?=[\\U00010000-\\U0010FFFF])[{_char_class(astral)}])"


def _primary_subtag(lang: str) -> str:
    return lang.strip().lower().replace("_", "-").split("-")[0]


def stemmer_name(lang: str) -> str | None:
    """Snowball algorithm used for ``lang`` by the installed PyStemmer, or None (no stemming)."""
    name = SNOWBALL.get(_primary_subtag(lang))
    return name if name in _available_algorithms() else None


@cache
def _available_algorithms() -> frozenset[str]:
    return frozenset(Stemmer.algorithms())


class Tokenizer:
    """The ``mlbench-bm25-v1`` tokeniser (rules in the module docstring).

    Keeps one PyStemmer object per language; PyStemmer objects are not thread-safe, so give each
    thread its own ``Tokenizer``.
    """

    def __init__(self, stem: bool = True) -> None:
        self.stem = stem
        self._stem_fns: dict[str, Callable[[str], str] | None] = {}

    def _stem_fn(self, lang: str) -> Callable[[str], str] | None:
        if lang not in self._stem_fns:
            name = stemmer_name(lang) if self.stem else None
            self._stem_fns[lang] = Stemmer.Stemmer(name).stemWord if name else None
        return self._stem_fns[lang]

    def __call__(self, text: str, lang: str) -> list[str]:
        """Tokens of ``text`` written in ``lang`` (ISO 639-1 code), in text order."""
        stem = self._stem_fn(lang)
        tokens: list[str] = []
        for m in _segmenter().finditer(unicodedata.normalize("NFKC", text).lower()):
            piece = m.group()
            if m.lastgroup == "w":
                tokens.append(stem(piece) if stem else piece)
            elif len(piece) == 1:
                tokens.append(piece)
            else:
                tokens.extend(piece[i:i + 2] for i in range(len(piece) - 1))
        return tokens


class BM25Index:
    """A pool indexed by bm25s; implements ``PoolIndex``."""

    def __init__(self, tokenize: Callable[[str, str], list[str]], vocab: dict[str, int], size: int,
                 retriever: bm25s.BM25 | None) -> None:
        self._tokenize = tokenize
        self._vocab = vocab
        self._retriever = retriever  # None when the pool has no token at all
        self.size = size

    def score(self, queries: Sequence[str], lang: str) -> np.ndarray:
        """(len(queries), pool size) float32 BM25 scores, columns in pool order."""
        out = np.zeros((len(queries), self.size), dtype=np.float32)
        if self._retriever is None:
            return out
        vocab = self._vocab
        for row, query in enumerate(queries):
            ids = [vocab[t] for t in self._tokenize(query, lang) if t in vocab]
            if ids:  # bm25s cannot take an empty query; no known token means 0 for every document
                out[row] = self._retriever.get_scores(ids)
        return out


class BM25Scorer:
    """BM25 over language-aware tokens; implements ``PoolScorer``."""

    name = "bm25"

    def __init__(self, k1: float = 1.5, b: float = 0.75, method: str = "lucene", stem: bool = True) -> None:
        self.k1 = _number("k1", k1)
        self.b = _number("b", b)
        if self.k1 < 0:
            raise MlbenchError(f"bm25 option k1 must be >= 0, got {k1!r}")
        if not 0 <= self.b <= 1:
            raise MlbenchError(f"bm25 option b must be between 0 and 1, got {b!r}")
        if method not in METHODS:
            raise MlbenchError(f"bm25 option method must be one of {', '.join(METHODS)}, got {method!r}")
        self.method = method
        self.stem = _flag("stem", stem)
        self.tokenizer = Tokenizer(stem=self.stem)
        # The harness scores the same queries against several pools (one per language, and the
        # multilingual one); remembering their tokens keeps it to one tokenisation per query.
        self._query_tokens = lru_cache(maxsize=1 << 16)(self.tokenizer.__call__)

    def describe(self) -> dict[str, Any]:
        return {
            "type": "bm25",
            "library": "bm25s",
            "bm25s_version": bm25s.__version__,
            "k1": self.k1,
            "b": self.b,
            "method": self.method,
            "stem": self.stem,
            "pystemmer_version": metadata.version("PyStemmer"),
            "tokenizer": TOKENIZER_VERSION,
        }

    def index(self, texts: Sequence[str], langs: Sequence[str]) -> BM25Index:
        """Tokenise each pool text once (by its own language) and build the bm25s index."""
        if len(texts) != len(langs):
            raise ValueError(f"index() got {len(texts)} texts but {len(langs)} languages")
        vocab: dict[str, int] = {}
        corpus_ids = [[vocab.setdefault(t, len(vocab)) for t in self.tokenizer(text, lang)]
                      for text, lang in zip(texts, langs)]
        if not vocab:  # empty pool, or nothing but punctuation: bm25s cannot index that
            return BM25Index(self._query_tokens, vocab, len(texts), None)
        retriever = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        # The (ids, vocab) form makes bm25s use our vocabulary as is; no "" token is needed since
        # empty queries never reach bm25s.
        retriever.index((corpus_ids, vocab), create_empty_token=False, show_progress=False)
        return BM25Index(self._query_tokens, vocab, len(texts), retriever)


def _number(option: str, value: Any) -> float:
    """Options may come from the command line as strings."""
    if isinstance(value, bool):
        raise MlbenchError(f"bm25 option {option} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MlbenchError(f"bm25 option {option} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise MlbenchError(f"bm25 option {option} must be finite, got {value!r}")
    return number


def _flag(option: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # --encoder-arg stem=0 arrives as JSON 0
        return bool(value)
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    raise MlbenchError(f"bm25 option {option} must be true or false, got {value!r}")


INFO = {"kind": "lexical", "dim": None, "weights": "none (bm25s over mlbench-bm25-v1 tokens)",
        "languages": "any script; Snowball stemming where PyStemmer has one"}


def create(**kwargs: Any) -> BM25Scorer:
    """Entry point ``bm25`` (group ``mlbench.encoders``): options k1, b, method, stem."""
    known = ("k1", "b", "method", "stem")
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise MlbenchError(f"unknown bm25 option(s) {', '.join(unknown)} (known: {', '.join(known)})")
    return BM25Scorer(**kwargs)
