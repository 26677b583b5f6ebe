"""The catalog's names for strict matching: film titles (exact key, then a close typo) and people."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from retrieval.text import fold, has_cjk, title_key
from retrieval.types import Item

TITLE_MIN_SCORE = 92.0  # rapidfuzz ratio (0-100) for a long title said with typos (short ones: 1-2 edits at most)
PERSON_MIN_SCORE = 90.0  # rapidfuzz ratio for a person's name (spaces ignored)

# the words of a name ("o'brien", "jean", "pierre"); Chinese characters are never part of one
_NAME_WORD = re.compile(r"(?:(?![\u3000-\u9fff])[^\W_])+(?:['’.](?:(?![\u3000-\u9fff])[^\W_])+)*")
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_TOP_BILLED = 5  # cast members counted as the stars of a film
_ARTICLE_SUFFIX = re.compile(r",\s*(the|a|an|le|la|les|l'|el|il|der|die|das)$")


def _title_keys(title: str) -> list[str]:
    """Matching keys of a catalog title: "Matrix, The (1999)" -> ["matrix"]; alternative titles in brackets too."""
    title = fold(title).strip()
    title = re.sub(r"\s*\((?:19|20)\d\d\)\s*$", "", title)
    names = [title]
    alt = re.match(r"^(.*?)\s*\(([^()]+)\)\s*$", title)
    if alt:
        names = [alt.group(1), alt.group(2)]
    keys = []
    for name in names:
        name = _ARTICLE_SUFFIX.sub("", name.strip())
        name = re.sub(r"^a\.k\.a\.\s*", "", name)
        key = title_key(name)
        if key:
            keys.append(key)
    return keys


def _series_key(title: str) -> str | None:
    """The series name before a colon or dash ("Star Wars: Episode IV - A New Hope" -> "star wars"), if any."""
    head = re.split(r":| - ", title, maxsplit=1)
    if len(head) != 2:
        return None
    return title_key(_ARTICLE_SUFFIX.sub("", head[0].strip().lower()))


def _most_rated(table: dict[str, Item], key: str, item: Item) -> None:
    """Keep under `key` whichever of the current item and `item` people rated more."""
    current = table.get(key)
    if current is None or item.n_ratings > current.n_ratings:
        table[key] = item


class TitleIndex:
    """Catalog titles for strict matching: exact key first, then a close edit-distance match (typos).

    A series name before a colon ("Star Wars" in "Star Wars: Episode IV - A New Hope") is a key too; where it
    competes with a film of exactly that title, the series film wins only when it is far more rated
    ("Lord of the Rings" -> the 2001 film, not the 1978 cartoon).
    """

    def __init__(self, items: Iterable[Item]) -> None:
        exact: dict[str, Item] = {}
        series: dict[str, Item] = {}
        for item in items:
            for key in _title_keys(item.title):
                _most_rated(exact, key, item)
            key = _series_key(item.title)
            if key:
                _most_rated(series, key, item)
        by_key = {k: v.id for k, v in exact.items()}
        for key, item in series.items():
            rival = exact.get(key)
            if rival is None or item.n_ratings > 2 * rival.n_ratings:
                by_key[key] = item.id
        self._by_key = by_key
        self._keys = list(by_key)

    def __len__(self) -> int:
        """How many distinct title keys the index holds."""
        return len(self._by_key)

    def match(self, text: str, fuzzy: bool = True) -> str | None:
        """The id of the catalog item this text names, or None (strict: one typo in a short title, a few in a long one)."""
        from rapidfuzz import fuzz, process
        from rapidfuzz.distance import Levenshtein

        key = title_key(text)
        if len(key) < 2:
            return None
        if key in self._by_key:
            return self._by_key[key]
        if not fuzzy or len(key) < 5:
            return None
        if len(key) < 16:
            max_edits = 1 if len(key) < 12 else 2
            hit = process.extractOne(key, self._keys, scorer=Levenshtein.distance, score_cutoff=max_edits)
        else:
            hit = process.extractOne(key, self._keys, scorer=fuzz.ratio, score_cutoff=TITLE_MIN_SCORE)
        if hit is None or hit[0][:1] != key[:1]:  # a typo in the very first letter is too rare to trust
            return None
        return self._by_key[hit[0]]


class PeopleIndex:
    """The directors, cast and writers of the catalog: names found in a message (full names, a well-known family
    name alone, names written in Chinese), and names the LLM reports."""

    def __init__(self, items: Iterable[Item], aliases: dict[str, str] | None = None,
                 family: FamilyNameRule | None = None) -> None:
        full: dict[tuple[str, ...], str] = {}
        films: Counter[str] = Counter()  # films each person directed or starred in (top billing)
        seen: dict[str, None] = {}
        for item in items:
            for person in item.people:
                if person in seen:
                    continue
                seen[person] = None
                words = _name_words(person)
                if 2 <= len(words) <= 4:
                    full.setdefault(words, person)
            films.update(set(item.directors) | set(item.cast[:_TOP_BILLED]))
        self._people = list(seen)
        self._names_built: dict[str, str] | None = None
        self._full = full
        self._family_rule = family
        self._family = _family_names(full, films, family) if family else {}
        known = {" ".join(_name_words(p)): p for p in full.values()}
        self._aliases = [(re.compile(re.escape(a).replace("·", "[·・•]?")), known[k])
                         for a, p in (aliases or {}).items() if (k := " ".join(_name_words(p))) in known]

    @property
    def _names(self) -> dict[str, str]:
        """Matching key -> the catalog's spelling, for every person (built on first use: it is slow)."""
        if self._names_built is None:
            self._names_built = {}
            for person in self._people:
                self._names_built.setdefault(_person_key(person), person)
            self._keys = list(self._names_built)
        return self._names_built

    def find_in(self, text: str, original: str | None = None) -> list[tuple[int, int, str]]:
        """Names of catalog people in a lower-cased message: (start, end, the catalog's spelling), longest first where
        they overlap ("nothing by woody allen", "a Kubrick film", "不要伍迪·艾伦的"); `original` is the message before
        lower-casing (same positions), for capitals."""
        words = [(m.start(), m.end(), fold(m.group(0))) for m in _NAME_WORD.finditer(text)]
        found: list[tuple[int, int, str]] = []

        def add(start: int, end: int, person: str) -> None:
            """Keep a name that does not overlap one found already."""
            if all(end <= s or start >= e for s, e, _ in found):
                found.append((start, end, person))

        for size in (4, 3, 2):
            for i in range(len(words) - size + 1):
                person = self._full.get(tuple(w for _, _, w in words[i:i + size]))
                if person:
                    add(words[i][0], words[i + size - 1][1], person)
        for n, (start, end, word) in enumerate(words):
            hit = self._family.get(word)
            if hit and self._family_rule is not None and self._family_rule.allows(original or text, n, words, hit[1]):
                add(start, end, hit[0])
        if has_cjk(text):
            for rx, person in self._aliases:
                for m in rx.finditer(text):
                    add(m.start(), m.end(), person)
        return sorted(found)

    def match(self, text: str) -> str | None:
        """The catalog spelling of a person's name ("Leonardo Di Caprio" -> "Leonardo DiCaprio"), or None."""
        from rapidfuzz import fuzz, process

        key = _person_key(text)
        if len(key) < 4:
            return None
        if key in self._names:
            return self._names[key]
        hit = process.extractOne(key, self._keys, scorer=fuzz.ratio, score_cutoff=PERSON_MIN_SCORE)
        return self._names[hit[0]] if hit else None


def _name_words(name: str) -> tuple[str, ...]:
    """The lower-cased, accent-free words of a name ("Jean-Pierre Léaud" -> jean, pierre, leaud)."""
    return tuple(_NAME_WORD.findall(name.lower() if name.isascii() else fold(name)))


@dataclass(frozen=True)
class FamilyNameRule:
    """When a family name alone names a person (see constraints.yaml, people.family_name)."""

    before: tuple[str, ...]  # cue phrases, lower case ("by", "starring")
    after: frozenset[str]  # film and genre words
    common: frozenset[str]  # family names that are common words: never alone
    min_films: int
    lowercase_min_films: int
    place_before: tuple[str, ...] = ()  # cue phrases of a place ("in", "near"): "hot in Phoenix" is the city

    def allows(self, original: str, n: int, words: list[tuple[int, int, str]], films: int) -> bool:
        """True when the n-th word of the message (a family name) names the person here."""
        start, end, _ = words[n]
        film_word_follows = n + 1 < len(words) and words[n + 1][2] in self.after
        left = " ".join(original[max(0, start - 30):start].lower().split())
        if not film_word_follows and any(left == cue or left.endswith(" " + cue) for cue in self.place_before):
            return False

        def capital(k: int) -> bool:
            """True when word k is written with a capital (not counting "I", "A", "The" and other short words)."""
            s, _, w = words[k]
            return original[s:s + 1].isupper() and len(w) > 3

        if capital(n):
            neighbours = [k for k in (n - 1, n + 1) if 0 <= k < len(words)]
            return not any(capital(k) for k in neighbours)
        if films < self.lowercase_min_films:
            return False
        if film_word_follows:
            return True
        return any(left.endswith(cue) for cue in self.before)


def _family_names(full: dict[tuple[str, ...], str], films: Counter[str], rule: FamilyNameRule
                  ) -> dict[str, tuple[str, int]]:
    """Family name -> (the person it means alone, their films): the person with that family name in the most films,
    when they have at least a few and the name is no common word ("kubrick" -> Stanley Kubrick)."""
    best: dict[str, tuple[str, int]] = {}
    for words, person in full.items():
        family = next((w for w in reversed(words) if w not in _SUFFIXES), "")
        n = films.get(person, 0)
        if len(family) > 3 and family not in rule.common and n >= rule.min_films and n > best.get(family, ("", 0))[1]:
            best[family] = (person, n)
    return best


def _person_key(name: str) -> str:
    """A person's name as a matching key: the title key without spaces ("Di Caprio" = "DiCaprio")."""
    return title_key(name).replace(" ", "")
