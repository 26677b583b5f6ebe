"""Finding the film of a MovieLens movie (Wikidata's or TMDB's): exact, near-year, loose, fuzzy and prefix title
matches."""

from __future__ import annotations

from collections import defaultdict
from typing import Generic, TypeVar

from retrieval.demo_inputs import WikiFilm
from retrieval.demo_titles import ParsedTitle, join_key, title_variants, weak_variants

# rapidfuzz similarity (0-100) a fuzzy title match needs; strict, and only within one year.
FUZZY_THRESHOLD = 92
FilmT = TypeVar("FilmT", bound=WikiFilm)  # a Wikidata film or a TMDB film (TmdbFilm)


class FilmMatcher(Generic[FilmT]):
    """Finds the film (of one source: Wikidata or TMDB) for a MovieLens movie.

    Tiers, first hit wins: exact title key and year; key and year ±1; looser keys (subtitle, possessor)
    with the exact year; fuzzy key (rapidfuzz ratio >= FUZZY_THRESHOLD) within ±1 year; a film title
    of two or more words that starts the MovieLens title, same year.
    """

    def __init__(self, films: list[FilmT]) -> None:
        """Index films by title key, by looser keys and by year."""
        self._by_key: dict[str, list[FilmT]] = defaultdict(list)
        self._by_weak_key: dict[str, list[FilmT]] = defaultdict(list)
        self._by_year: dict[int, list[tuple[str, FilmT]]] = defaultdict(list)
        for film in films:
            key = join_key(film.title)
            if not key:
                continue
            self._by_key[key].append(film)
            for weak in weak_variants(film.title):
                self._by_weak_key[weak].append(film)
            if film.year is not None:
                self._by_year[film.year].append((key, film))

    @staticmethod
    def _richest(films: list[FilmT]) -> FilmT:
        """Of several equally good films, the one with the most facts filled in."""
        return max(films, key=lambda f: (f.runtime_min is not None) + (f.age_rating is not None) + bool(f.cast))

    def _lookup(self, index: dict[str, list[FilmT]], keys: list[str], year: int, tolerance: int) -> FilmT | None:
        """The first key with a film within `tolerance` years (exact year preferred)."""
        for key in keys:
            hits = [f for f in index.get(key, ()) if _year_close(f.year, year, tolerance)]
            if hits:
                exact = [f for f in hits if f.year == year]
                return self._richest(exact or hits)
        return None

    def match(self, parsed: ParsedTitle, year: int | None) -> tuple[FilmT | None, str]:
        """The matching film and how it was found ('exact', 'year±1', 'loose', 'fuzzy', 'prefix'), or (None, 'none')."""
        if year is None:
            return None, "none"
        keys = title_variants(parsed)
        for tolerance, method in ((0, "exact"), (1, "year±1")):
            film = self._lookup(self._by_key, keys, year, tolerance)
            if film is not None:
                return film, method
        # a looser key on one side must meet a full title on the other ("The Movie" never meets "The Movie")
        loose = [k for title in (parsed.display, *parsed.alternates) for k in weak_variants(title)]
        film = self._lookup(self._by_key, loose, year, 0) or self._lookup(self._by_weak_key, keys, year, 0)
        if film is not None:
            return film, "loose"
        film = self._fuzzy(keys, year)
        if film is not None:
            return film, "fuzzy"
        prefixed = [f for k, f in self._by_year.get(year, ()) if _is_word_prefix(k, keys[0])]
        if len(prefixed) == 1:
            return prefixed[0], "prefix"
        return None, "none"

    def _fuzzy(self, keys: list[str], year: int) -> FilmT | None:
        """The most similar title within a year either side, if similar enough."""
        from rapidfuzz import fuzz, process

        best: tuple[float, FilmT] | None = None
        for delta in (0, -1, 1):
            pool = self._by_year.get(year + delta, [])
            if not pool:
                continue
            choices = [k for k, _ in pool]
            for key in keys[:3]:
                hit = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD)
                if hit is not None and _fuzzy_plausible(key, hit[0]):
                    score = hit[1] - (0.5 if delta else 0.0)  # prefer the exact year on near-ties
                    if best is None or score > best[0]:
                        best = (score, pool[hit[2]][1])
        return best[1] if best else None


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9}


def _numbers(key: str) -> set[int]:
    """The numbers a title key mentions (digits, roman numerals II-IX, number words)."""
    out = set()
    for word in key.split():
        if word.isdigit():
            out.add(int(word))
        elif word in _NUMBER_WORDS:
            out.add(_NUMBER_WORDS[word])
    return out


def _fuzzy_plausible(a: str, b: str) -> bool:
    """Guards on a fuzzy hit: the same numbers (no sequel for its original), and short titles equal but for spaces."""
    if _numbers(a) != _numbers(b):
        return False
    if min(len(a), len(b)) < 12:
        return a.replace(" ", "") == b.replace(" ", "")
    return True


def _is_word_prefix(short: str, long: str) -> bool:
    """True when `short` (two or more words, 10+ characters) begins `long` at a word boundary."""
    return len(short) >= 10 and " " in short and long.startswith(short + " ")


def _year_close(a: int | None, b: int | None, tolerance: int) -> bool:
    """True when both years are known and at most `tolerance` apart."""
    return a is not None and b is not None and abs(a - b) <= tolerance

