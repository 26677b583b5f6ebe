"""The message as text: normalised for reading, its language, its words and its clause breaks."""

from __future__ import annotations

import re
import unicodedata

from retrieval.text import CJK, is_cjk_char

# A clause ends at punctuation (Latin or Chinese) or a new line: negation scope and title search stop there.
HARD_BREAK = re.compile(r"[,.;!?:\n\u3002\uff0c\uff1b\uff01\uff1f\u3001\u2013\u2014]|\s-+\s")  # a spaced dash too
# An English word of a lower-cased message (with inner apostrophes and hyphens).
WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
# A run of Chinese characters.
CJK_RUN = re.compile(CJK.pattern + "+")

# Control and invisible formatting characters (bidi overrides, zero-width marks): a raw message loses them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
# Common English function words: a Latin-script message with one of them is taken as English.
_ENGLISH_MARKERS = frozenset(
    "the a an and or but i i'm me my we you your it is are was something anything with to for of in on "
    "not no please want like some more less about tonight watch show".split()
)


def clean_message(message: str, max_chars: int) -> tuple[str, bool]:
    """Normalise a raw message: drop control characters, collapse whitespace, truncate; (text, truncated)."""
    text = " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", message or "")).split())
    return (text[:max_chars], True) if len(text) > max_chars else (text, False)


def straighten(text: str) -> str:
    """Curly quotes as straight ones (same length)."""
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')


def normalise_message(message: str) -> str:
    """NFKC (full-width to half-width), curly quotes straightened, lower-cased; length-preserving after NFKC."""
    text = straighten(unicodedata.normalize("NFKC", message or ""))
    low = text.lower()
    return low if len(low) == len(text) else text


def original_case(message: str, text: str) -> str:
    """The message's characters before lower-casing at the positions of `text` (for capitals), else `text`."""
    original = straighten(unicodedata.normalize("NFKC", message or ""))
    return original if len(original) == len(text) else text


def detect_language(message: str) -> str:
    """The language of a message by script: "zh" when CJK ideographs carry it, "en" for English, else "other"."""
    cjk = sum(1 for c in message if is_cjk_char(c))
    latin = sum(1 for c in message if c.isascii() and c.isalpha())
    other_letters = sum(1 for c in message if c.isalpha() and not c.isascii() and not is_cjk_char(c))
    if cjk and cjk * 3 >= latin and cjk >= other_letters:
        return "zh"
    if latin and latin >= other_letters:
        words = re.findall(r"[a-z']+", message.lower())
        if len(words) <= 3 or set(words) & _ENGLISH_MARKERS:
            return "en"
        return "other"
    return "other"  # no letters at all (emoji, punctuation): the conversation keeps its language
