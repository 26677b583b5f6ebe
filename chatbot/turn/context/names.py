"""Lookup keys for place names: folded Latin-script keys, simplified Chinese, acronyms, and what a word is."""

from __future__ import annotations

import re
import unicodedata

from retrieval.text import has_cjk

# A word: letters with inner apostrophes, hyphens or dots ("I'm", "Winston-Salem", "L.A").
WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’.\-](?=[^\W\d_]))*")

_FOLD_TABLE = str.maketrans({"’": None, "'": None, ".": None})
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_NOT_LETTERS = re.compile(r"[^\w\n]+|[\d_]+")


def name_keys(names: list[str]) -> list[str]:
    """Lookup keys of Latin-script names in one pass: no accents, case folded, words only ("São-Paulo": "sao paulo")."""
    text = "\n".join(n.replace("\n", " ") for n in names)
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    text = _NOT_LETTERS.sub(" ", text.casefold().translate(_FOLD_TABLE))
    return [" ".join(line.split()) for line in text.split("\n")]


def name_key(name: str) -> str:
    """The lookup key of one Latin-script name (see `name_keys`)."""
    return name_keys([name])[0]


def to_simplified(text: str) -> str:
    """Traditional Chinese characters converted to simplified (zhconv), so 西雅圖 and 西雅图 match alike."""
    if not has_cjk(text):
        return text
    import zhconv  # small and pure Python, but only needed for Chinese text

    return zhconv.convert(text, "zh-hans")


def is_acronym(name: str) -> bool:
    """True for names like "NYC", "LA", "L.A." (upper-case letters, optional dots, at most 5 letters)."""
    letters = name.replace(".", "")
    return 2 <= len(letters) <= 5 and letters.isascii() and letters.isalpha() and letters.isupper()
