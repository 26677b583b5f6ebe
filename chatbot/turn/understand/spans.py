"""Spans: the stretches of a message that code explained, and finding word-list phrases in a message."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chatbot.turn.understand.message import CJK_RUN, WORD
from retrieval.text import has_cjk

Tag = tuple[str, Any]  # (kind, payload): ("genre", ("Horror",)), ("negation", None), ...


@dataclass(frozen=True)
class Span:
    """A stretch of the (normalised, lower-cased) message that code explained, with what it means."""

    start: int
    end: int
    tags: tuple[Tag, ...]

    def kinds(self) -> set[str]:
        """The kinds of meaning this span carries."""
        return {k for k, _ in self.tags}

    def payload(self, kind: str) -> Any:
        """The payload of the first tag of this kind (None if absent)."""
        return next((p for k, p in self.tags if k == kind), None)


def _en_pattern(phrase: str) -> re.Pattern[str]:
    """A whole-word regex for an English phrase (any whitespace between its words)."""
    body = re.escape(phrase).replace(r"\ ", r"\s+")
    return re.compile(rf"(?<![a-z0-9']){body}(?!'?[a-z0-9])")


class PhraseMatcher:
    """Finds lexicon phrases in a message; where phrases overlap the longest wins."""

    def __init__(self, entries: Iterable[tuple[str, str, Tag]]) -> None:
        en: dict[str, list[Tag]] = {}
        zh: dict[str, list[Tag]] = {}
        for phrase, lang, tag in entries:
            key = phrase.strip().lower()
            if not key:
                continue
            table = zh if (lang == "zh" or has_cjk(key)) else en
            if tag not in table.setdefault(key, []):
                table[key].append(tag)
        self._en = [(_en_pattern(p), tuple(tags)) for p, tags in en.items()]
        self._zh = [(p, tuple(tags)) for p, tags in zh.items()]

    def find(self, text: str) -> list[Span]:
        """Non-overlapping spans in `text` (already lower-cased), longest first, returned in text order."""
        found: list[Span] = []
        for pattern, tags in self._en:
            for m in pattern.finditer(text):
                found.append(Span(m.start(), m.end(), tags))
        if has_cjk(text):
            for phrase, tags in self._zh:
                found += _occurrences(text, phrase, tags)
        return claim_spans(found)


def _occurrences(text: str, phrase: str, tags: tuple[Tag, ...]) -> list[Span]:
    """Every place `phrase` occurs in `text` (overlapping ones too), as spans carrying `tags`."""
    out = []
    start = text.find(phrase)
    while start >= 0:
        out.append(Span(start, start + len(phrase), tags))
        start = text.find(phrase, start + 1)
    return out


def spans_of(text: str, phrases: Iterable[str], kind: str) -> list[Span]:
    """Spans where any of the phrases occur in text (case-insensitive substring)."""
    out = []
    for phrase in phrases:
        p = (phrase or "").lower()
        if p:
            out += _occurrences(text, p, ((kind, phrase),))
    return out


def claim_spans(spans: Iterable[Span], taken: list[Span] | None = None) -> list[Span]:
    """Keep the longest spans that do not overlap each other (nor `taken`), in text order."""
    kept: list[Span] = list(taken or [])
    for span in sorted(spans, key=lambda s: (-(s.end - s.start), s.start)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    own = [s for s in kept if not taken or s not in taken]
    return sorted(own, key=lambda s: s.start)


def blank_out(text: str, spans: Iterable[Span]) -> str:
    """The text with every character a span covers replaced by a space (same positions)."""
    chars = list(text)
    for s in spans:
        for k in range(s.start, min(s.end, len(chars))):
            chars[k] = " "
    return "".join(chars)


def uncovered_words(text: str, spans: Iterable[Span], filler_en: frozenset[str], filler_zh: tuple[str, ...],
                    start: int = 0) -> list[str]:
    """Words no span and no filler list explains (English words, or runs of Chinese characters) from `start` on."""
    rest = blank_out(text, spans)[start:]
    out = [w for w in WORD.findall(rest) if w.strip("'-") and w.strip("'-") not in filler_en and not w.isdigit()]
    if has_cjk(rest):
        for run in CJK_RUN.findall(rest):
            for filler in filler_zh:
                run = run.replace(filler, " ")
            out += [r for r in run.split() if r]
    return out
