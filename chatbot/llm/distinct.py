"""Answers written side by side that must not read alike: what an answer may not write next because another answer
of the same batch already wrote it after the same words.

Five notes of one answer, written at once from five similar prompts, came out in one shape ("<name> directs a
family-friendly adventure film: the kind of film you asked for."), which no prompt wording stopped. While they are
written, each answer's last three words (Chinese: its last five characters) are looked up in the others; where
another answer continued them, that continuation is what this one may not write next. So no two answers share a run
of four words (six characters): the "shared skeleton" measure of `tastebud eval notes`. Capitalised words (names,
titles) are left out on both sides, as that measure blanks names and titles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SAME_WORDS = 3  # an answer may not continue three words as another did (no shared word 4-gram)
SAME_CHARS = 5  # Chinese: five characters (no shared run of six)
_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f']+")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _words(text: str) -> list[tuple[str, int, int]]:
    """The lower-case words of a text with their spans, capitalised ones (names, titles) left out."""
    return [(m.group(0).lower(), m.start(), m.end()) for m in _WORD.finditer(text) if not m.group(0)[0].isupper()]


def echo_continuations(text: str, others: Sequence[str]) -> list[str]:
    """What `text` may not write next: each way another text went on after the words `text` ends with (" friendly",
    "-friendly", "适合"); empty when `text` is mid-word or no other text has its last words."""
    if not text or not others:
        return []
    out: list[str] = []
    if _CJK.match(text[-1]):
        chars = "".join(_CJK.findall(text))
        tail = chars[-SAME_CHARS:]
        if len(tail) < SAME_CHARS:
            return []
        for other in others:
            spots = [(m.start(), m.group(0)) for m in _CJK.finditer(other)]
            run = "".join(ch for _, ch in spots)
            for k in (i for i in range(len(run) - SAME_CHARS) if run.startswith(tail, i)):
                start = spots[k + SAME_CHARS][0]
                out += [other[start], other[start : start + 3]]
        return list(dict.fromkeys(out))
    if not text[-1].isalnum():
        return []  # the last word's end is not known yet only when it is still being written: wait for its end
    own = [w for w, _, _ in _words(text)]
    tail = own[-SAME_WORDS:]
    if len(tail) < SAME_WORDS or not text.lower().endswith(tail[-1]):
        return []
    for other in others:
        spans = _words(other)
        words = [w for w, _, _ in spans]
        for i in range(len(words) - SAME_WORDS):
            if words[i : i + SAME_WORDS] == tail:
                nxt, start, _ = spans[i + SAME_WORDS]
                sep = other[spans[i + SAME_WORDS - 1][2] : start]
                out += [" " + nxt, "-" + nxt] + ([sep + nxt] if sep.strip(" ") else [])
    return list(dict.fromkeys(out))
