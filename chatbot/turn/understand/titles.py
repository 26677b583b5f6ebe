"""The catalog's names for strict matching: film titles (exact key, then a close typo) and people."""

from __future__ import annotations

import re
from collections.abc import Iterable

from retrieval.text import fold, title_key
from retrieval.types import Item

TITLE_MIN_SCORE = 92.0  # rapidfuzz ratio (0-100) for a long title said with typos (short ones: 1-2 edits at most)
PERSON_MIN_SCORE = 90.0  # rapidfuzz ratio for a person's name (spaces ignored)

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
    """The directors, cast and writers of the catalog, for checking names the LLM reports."""

    def __init__(self, items: Iterable[Item]) -> None:
        names: dict[str, str] = {}
        for item in items:
            for person in item.people:
                names.setdefault(_person_key(person), person)
        self._names = names
        self._keys = list(names)

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


def _person_key(name: str) -> str:
    """A person's name as a matching key: the title key without spaces ("Di Caprio" = "DiCaprio")."""
    return title_key(name).replace(" ", "")
