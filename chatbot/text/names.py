"""The ONE index of the catalog's names: every title and person, found in free text (a note, a reply).

Used by the note checker (no other film may be named), the dialogue runner's grounding check and people
matching. Text is read as runs of Latin words (`_segments`); a title is a run of words equal to its key, with
case rules so that common words that happen to be titles ("Speed matters") are not taken for films, and never a
run inside a longer catalog person's name ("Brad Bird's" does not name "The Birds", "Tom Cruise" not "The Cruise").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrieval.text import ENGLISH_ARTICLES, display_title, fold, has_cjk

if TYPE_CHECKING:
    from retrieval.types import Item

__all__ = ["LATIN_WORD", "POSSESSIVE", "CatalogLexicon", "TitleHit", "blank_names", "fold_name", "name_spans",
           "name_words", "title_key"]

# A Latin word ("Amélie", "O'Brien", "1999"); what titles and names are made of here.
LATIN_WORD = re.compile(r"[0-9A-Za-z\u00c0-\u024f]+(?:['\u2019][0-9A-Za-z\u00c0-\u024f]+)*")
POSSESSIVE = re.compile(r"['\u2019]s\b")
# What may stand between two words of one name: spaces, a hyphen ("Jean-Pierre"), an initial's dot ("H. Macy").
_NAME_GAP = re.compile(r"\.?[\s\-\u2010\u2011\u00b7]*")


_LIST_MARK = re.compile(r"[.)](?:\s|$)")  # after a number: "3. " or "3) " numbers a list
_CAPITAL_PLURAL = re.compile(r"\b([A-Z][a-z]{2,})s\b")


def fold_name(text: str) -> str:
    """`retrieval.text.fold` with apostrophes dropped, how names and titles are compared ("D'Onofrio" -> "donofrio")."""
    return fold(text).replace("'", "").replace("\u2019", "")


def title_key(title: str) -> str:
    """The index's key of a title: the folded Latin words of its display title, without leading articles.

    Not `retrieval.text.title_key`: text is matched here word by word in runs of Latin words, so a key is made of
    those same words ("Dumb & Dumber" -> "dumb dumber", "L'Avventura" -> "lavventura"; Han text is no part of it).
    """
    words = LATIN_WORD.findall(fold_name(display_title(title)))
    while words and words[0] in ENGLISH_ARTICLES and len(words) > 1:
        words = words[1:]
    return " ".join(words)


def name_words(text: str) -> str:
    """Folded words of a text with possessives dropped, for comparing names ("Arthur's" -> "arthur")."""
    return " ".join(LATIN_WORD.findall(fold_name(POSSESSIVE.sub("", text))))


@functools.lru_cache(maxsize=256)
def _name_patterns(names: frozenset[str]) -> tuple[re.Pattern[str], ...]:
    """Each name as a pattern of the whole phrase and its possessive, any case, longest name first."""
    out = []
    for name in sorted(names, key=len, reverse=True):
        before = r"(?<![A-Za-z0-9])" if name[0].isascii() and name[0].isalnum() else ""
        after = r"(?![A-Za-z0-9])" if name[-1].isascii() and name[-1].isalnum() else ""
        out.append(re.compile(rf"{before}{re.escape(name)}(?:['\u2019]s)?{after}", re.IGNORECASE))
    return tuple(out)


def name_spans(text: str, names: Iterable[str]) -> list[tuple[int, int]]:
    """Where these names and titles (and their possessives) stand in the text as whole phrases, longest first."""
    spans: list[tuple[int, int]] = []

    def blank(m: re.Match[str]) -> str:
        spans.append(m.span())
        return " " * len(m.group(0))  # the same length: a later, shorter name's spans stay the text's

    for pattern in _name_patterns(frozenset(n for n in names if n and n.strip())):
        text = pattern.sub(blank, text)
    return sorted(spans)


def blank_names(text: str, names: Iterable[str]) -> str:
    """The text with these names and titles (and their possessives) replaced by a space, as whole phrases: the title
    "Up" does not cut "upbeat" to "beat", nor "It" "witty", and "The War" leaves "a war film" whole."""
    out, last = [], 0
    for start, end in name_spans(text, names):
        out += [text[last:start], " "]
        last = end
    return "".join(out) + text[last:]


def _bare_word(text: str, start: int, end: int) -> str:
    """The folded word at text[start:end] without a possessive ending, any case ("Bird's", "BIRD'S" -> "bird")."""
    return fold_name(POSSESSIVE.sub("", text[start:end].casefold()))


def _segments(text: str) -> list[list[tuple[str, int, int]]]:
    """Runs of Latin words (folded word, start, end) not interrupted by CJK text."""
    out: list[list[tuple[str, int, int]]] = []
    current: list[tuple[str, int, int]] = []
    last_end = 0
    for m in LATIN_WORD.finditer(text):
        if current and has_cjk(text[last_end : m.start()]):
            out.append(current)
            current = []
        current.append((fold_name(m.group(0)), m.start(), m.end()))
        last_end = m.end()
    if current:
        out.append(current)
    return out


def _at_sentence_start(text: str, pos: int) -> bool:
    """True when pos starts the text or follows a sentence end."""
    before = text[:pos].rstrip()
    return not before or before[-1] in ".!?:;\"'(\u3002\uff01\uff1f\uff1a"


@dataclass(frozen=True)
class TitleHit:
    """A catalog title found in a text."""

    key: str  # title_key of the catalog title
    title: str  # the catalog title as people write it
    start: int
    end: int


_NOT_GIVEN_NAMES = frozenset({"the", "and", "los", "las", "les"})  # first words of stage names and groups


class CatalogLexicon:
    """Every catalog title and person name, for finding them in a text (built once per catalog)."""

    def __init__(self, titles: Iterable[str], people: Iterable[str] = ()) -> None:
        """Index titles (keys of >= 2 words or >= 5 characters, not pure numbers) and people names."""
        self.titles: dict[str, str] = {}
        for title in titles:
            key = title_key(title)
            if not key or key.replace(" ", "").isdigit():
                continue
            if " " in key or len(key) >= 5:
                self.titles.setdefault(key, display_title(title))
        self.max_title_words = max((k.count(" ") + 1 for k in self.titles), default=1)
        self.people: set[str] = set()
        self.first_names: set[str] = set()
        for name in people:
            words = LATIN_WORD.findall(fold_name(name))
            if len(words) >= 2:
                self.people.add(" ".join(words))
                if len(words[0]) >= 3 and words[0] not in _NOT_GIVEN_NAMES:  # "The Edge": "the" is nobody's name
                    self.first_names.add(words[0])
        self.max_person_words = max((k.count(" ") + 1 for k in self.people), default=0)
        self._name_starts = {k.split(" ", 1)[0] for k in self.people}  # a name can only start at one of these

    @classmethod
    def from_items(cls, items: Iterable[Item]) -> CatalogLexicon:
        """The lexicon of a catalog (titles and directors, cast, writers)."""
        items = list(items)
        return cls((it.title for it in items), (p for it in items for p in it.people))

    def find_titles(self, text: str) -> list[TitleHit]:
        """Catalog titles named in text, as a person would write them (case rules avoid common-word hits)."""
        hits: list[TitleHit] = []
        for seg in _segments(text):
            words = [w for w, _, _ in seg]
            names = self._name_spans(text, seg)
            i = 0
            while i < len(seg):
                found = self._title_at(text, seg, words, i, names)
                if found is not None:
                    hits.append(found[0])
                i += found[1] if found is not None else 1
        return hits

    def titles_named_in(self, text: str) -> set[str]:
        """Keys of the titles a sheet's text names, in any case ("0.75 L rosehip tea" names "Rosehip Tea"), a
        capitalised plural read as one ("Won 5 Oscars" names "Oscar")."""
        singular = _CAPITAL_PLURAL.sub(r"\1", text)
        keys = {h.key for t in {text, singular} for h in self.find_titles(t)}
        words = LATIN_WORD.findall(fold_name(text))
        for n in range(1, min(self.max_title_words, len(words)) + 1):
            keys.update(k for i in range(len(words) - n + 1) if (k := " ".join(words[i : i + n])) in self.titles)
        return keys

    def _name_spans(self, text: str, seg: list[tuple[str, int, int]]) -> list[tuple[int, int]]:
        """Word ranges [i, j) of a segment that spell a catalog person's full name, any case, the last word
        possibly possessive ("Brad Bird's"), its words apart by spaces, hyphens or initials' dots only; the longest
        name at each word."""
        spans: list[tuple[int, int]] = []
        joined = [_NAME_GAP.fullmatch(text, a[2], b[1]) is not None for a, b in zip(seg, seg[1:])]
        for i in range(len(seg)):
            if seg[i][0] not in self._name_starts:
                continue
            for n in range(min(self.max_person_words, len(seg) - i), 1, -1):
                if not all(joined[i : i + n - 1]):
                    continue  # "With Joaquin, Phoenix ..." is no name
                last = seg[i + n - 1]
                name = " ".join([w for w, _, _ in seg[i : i + n - 1]] + [_bare_word(text, last[1], last[2])])
                if name in self.people:
                    spans.append((i, i + n))
                    break
        return spans

    def _title_at(
        self, text: str, seg: list[tuple[str, int, int]], words: list[str], i: int, names: list[tuple[int, int]]
    ) -> tuple[TitleHit, int] | None:
        """The longest title written as a title at word i of a segment, with its word count (never at an article,
        never inside a person's longer name: "Alfred Hitchcock" names no film "Hitchcock")."""
        if words[i] in ENGLISH_ARTICLES:
            return None
        if words[i].isdigit() and _LIST_MARK.match(text, seg[i][2]):
            return None  # a list's number starts no title: "3. Iron Man" names no film "3-Iron"
        for n in range(min(self.max_title_words, len(seg) - i), 0, -1):
            key = " ".join(words[i : i + n])
            if key not in self.titles or any(a <= i and i + n <= b and n < b - a for a, b in names):
                continue
            start, end = seg[i][1], seg[i + n - 1][2]
            if self._written_as_title(text, start, end, n):
                return TitleHit(key, self.titles[key], start, end), n
        return None

    @staticmethod
    def _written_as_title(text: str, start: int, end: int, n_words: int) -> bool:
        """A long title counts however it is written; up to 3 words only when capitalised like a title."""
        if n_words >= 4:
            return True
        span = text[start:end]
        words = LATIN_WORD.findall(span)
        if has_cjk(text[max(0, start - 1) : end + 1]):
            return True  # Latin words inside Chinese text are names or titles
        significant = [w for w in words if len(w) >= 4 or w is words[0]]
        if not all(w[:1].isupper() or w[:1].isdigit() for w in significant):
            return False
        if n_words == 1 and _at_sentence_start(text, start):
            return False  # "Speed matters" at a sentence start is not the film Speed
        return True

    def is_person(self, name: str) -> bool:
        """True when name (any case) is a person of the catalog."""
        return " ".join(LATIN_WORD.findall(fold_name(name))) in self.people


def own_title_spans(text: str, title: str) -> list[tuple[int, int]]:
    """Where text writes an item's own title in any case, or its subtitle of three words or more ("the penguins of
    Madagascar", "the Island of Lost Dreams" for Spy Kids 2): the shorter titles inside are its own words there."""
    whole = display_title(title)
    parts = [whole, *(p.strip() for p in re.split(r"[:\u2013\u2014]|\s-\s", whole)[1:] if len(p.split()) >= 3)]
    spans = []
    for part in parts:
        bare = re.sub(r"^(?:the|a|an)\s+", "", part, flags=re.IGNORECASE)
        pattern = r"(?<!\w)(?:(?:the|a|an)\s+)?" + r"\s+".join(map(re.escape, bare.split())) + r"(?!\w)"
        spans += [(m.start(), m.end()) for m in re.finditer(pattern, text, re.IGNORECASE)]
    return spans
