"""Understanding one message: message + DialogueState -> TurnIntent.

Two readers work together. Code reads every message with word lists (chatbot/lexicon.yaml), regular
expressions (years, runtimes, age ratings), the gazetteer and the stated-weather/time lexicon of
chatbot.turn.context.situation, and the catalog's title index. The LLM (through `complete_json`, a small schema with closed
vocabularies) reads new free-text requests. The LLM proposes, code checks: titles must be in the catalog,
cities must resolve in the gazetteer and be named in the message, genres and companions are closed lists,
negations found by code ("nothing scary") always win.

When is the LLM needed? Code is sure — and the LLM is not called — when
- the message is a reset ("start over"), a prompt-injection attempt, or a greeting/thanks, or
- it is a follow-up (something was shown already) and every content word of it is explained by code:
  "something shorter, and no animation", "more like the second one", "tell me more about the first",
  "第二部怎么样". A new request (nothing shown yet) or any unexplained word goes to the LLM.
`llm_policy="lean"` also skips the LLM for a new request that code explains completely (the Seattle and
Beijing examples are), saving one LLM call on first turns; "always" and "never" are for tests and benchmarks.
When the LLM fails (LLMError: timeout, garbage), the code's own reading is the answer; the turn still works.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatbot.turn.intent import COMPANIONS, CONDITIONS, INTENTS, PARTS_OF_DAY
from chatbot.turn.state import REMOVABLE_SLOTS, DialogueState
from retrieval.types import AGE_RATINGS, GENRES, Item, LLMError, TastebudError

if TYPE_CHECKING:
    from chatbot.turn.context.situation import Place, PlaceMention

MESSAGE_LANGUAGES: tuple[str, ...] = ("en", "zh", "other")
LLM_INTENTS: tuple[str, ...] = ("recommend", "more_like", "ask_about_item", "feedback", "chitchat")

TITLE_MIN_SCORE = 92.0  # rapidfuzz ratio (0-100) for a long title said with typos (short ones: 1-2 edits at most)
PERSON_MIN_SCORE = 90.0  # rapidfuzz ratio for a person's name (spaces ignored)
MAX_LLM_MESSAGE_CHARS = 1500  # longer messages are cut before they reach the LLM (prompt time grows with length)


class LexiconError(TastebudError):
    """The word-list file is malformed."""


# ---------------------------------------------------------------------------------------------- the intent
class PlaceSlot(BaseModel):
    """A place the person is in, resolved by the gazetteer (English name), with what they said."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    said: str
    name: str
    country_code: str
    lat: float
    lon: float
    timezone: str


class TurnIntent(BaseModel):
    """What one message asks for, in canonical English slots; checked by code before anything uses it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: Literal["recommend", "refine", "more_like", "feedback", "ask_about_item", "chitchat", "reset"] = "recommend"
    wishes: list[str] = Field(default_factory=list)  # English soft wishes, the retrieval query text
    genres: list[str] = Field(default_factory=list)  # wanted, MovieLens names
    genres_excluded: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)  # as the catalog spells them
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    max_age_rating: str | None = None
    languages: list[str] = Field(default_factory=list)  # film languages, catalog spelling
    countries: list[str] = Field(default_factory=list)
    mentioned_ids: list[str] = Field(default_factory=list)  # catalog items named by title
    liked_ids: list[str] = Field(default_factory=list)
    disliked_ids: list[str] = Field(default_factory=list)
    rejected_ids: list[str] = Field(default_factory=list)  # seen / "not that one": never show again
    references: list[int] = Field(default_factory=list)  # 1-based positions in the list shown last
    referenced_ids: list[str] = Field(default_factory=list)  # the items those positions (or "it") point at
    place: PlaceSlot | None = None
    unknown_place: str | None = None  # a place named but not known to the gazetteer ("Atlantis")
    weather: str | None = None  # stated by the person
    part_of_day: str | None = None
    companions: list[str] = Field(default_factory=list)
    mood: str | None = None
    occasion: str | None = None
    cleared: list[str] = Field(default_factory=list)  # slots the person lifted ("any length")
    language: Literal["en", "zh", "other"] = "en"  # the message's language: the reply uses it
    injection: bool = False  # the message tried to change the assistant's instructions
    source: Literal["rules", "llm"] = "rules"  # "llm" when the LLM's reading was used (always checked by code)
    llm_error: str | None = None  # why the LLM's reading was not used, if it was asked and failed
    notes: list[str] = Field(default_factory=list)  # what the code decided, in words (the "what I understood" panel)

    @field_validator("genres", "genres_excluded")
    @classmethod
    def _known_genres(cls, value: list[str]) -> list[str]:
        """Genres must be MovieLens names."""
        bad = [g for g in value if g not in GENRES]
        if bad:
            raise ValueError(f"unknown genres {bad}; expected names from {', '.join(GENRES)}")
        return value

    @field_validator("companions")
    @classmethod
    def _known_companions(cls, value: list[str]) -> list[str]:
        """Companions come from a closed list."""
        bad = [c for c in value if c not in COMPANIONS]
        if bad:
            raise ValueError(f"unknown companions {bad}; expected {', '.join(COMPANIONS)}")
        return value

    @field_validator("weather")
    @classmethod
    def _known_weather(cls, value: str | None) -> str | None:
        """Weather is one of the canonical conditions."""
        if value is not None and value not in CONDITIONS:
            raise ValueError(f"unknown weather {value!r}; expected {', '.join(CONDITIONS)}")
        return value

    @field_validator("part_of_day")
    @classmethod
    def _known_part_of_day(cls, value: str | None) -> str | None:
        """Part of day is one of the canonical names."""
        if value is not None and value not in PARTS_OF_DAY:
            raise ValueError(f"unknown part of day {value!r}; expected {', '.join(PARTS_OF_DAY)}")
        return value

    @field_validator("max_age_rating")
    @classmethod
    def _known_age_rating(cls, value: str | None) -> str | None:
        """Age ratings are MPAA names."""
        if value is not None and value not in AGE_RATINGS:
            raise ValueError(f"unknown age rating {value!r}; expected {', '.join(AGE_RATINGS)}")
        return value

    @field_validator("references")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        """Positions are 1-based."""
        if any(v < 1 for v in value):
            raise ValueError("references are 1-based positions")
        return value

    @field_validator("cleared")
    @classmethod
    def _removable(cls, value: list[str]) -> list[str]:
        """Only slots that can be removed can be cleared."""
        bad = [v for v in value if v not in REMOVABLE_SLOTS]
        if bad:
            raise ValueError(f"cannot clear {bad}")
        return value


# ---------------------------------------------------------------------------------------------- the word lists
class _Words(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)


class _Effect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runtime: Literal["shorter", "longer"] | None = None
    year: Literal["older", "newer"] | None = None
    runtime_max: int | None = None
    runtime_min: int | None = None
    year_max: int | None = None
    year_min: int | None = None
    recent_years: int | None = None
    genres: list[str] = Field(default_factory=list)
    genres_excluded: list[str] = Field(default_factory=list)
    age_down: bool = False
    max_age_rating: str | None = None
    wishes: list[str] = Field(default_factory=list)
    clear: list[str] = Field(default_factory=list)

    @field_validator("genres", "genres_excluded")
    @classmethod
    def _genres(cls, value: list[str]) -> list[str]:
        bad = [g for g in value if g not in GENRES]
        if bad:
            raise ValueError(f"unknown genres {bad}")
        return value

    @field_validator("max_age_rating")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        if value is not None and value not in AGE_RATINGS:
            raise ValueError(f"unknown age rating {value!r}")
        return value

    @field_validator("clear")
    @classmethod
    def _clear(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in REMOVABLE_SLOTS]
        if bad:
            raise ValueError(f"cannot clear {bad}")
        return value


class _GenreWords(_Words):
    genres: list[str]

    @field_validator("genres")
    @classmethod
    def _genres(cls, value: list[str]) -> list[str]:
        bad = [g for g in value if g not in GENRES]
        if bad:
            raise ValueError(f"unknown genres {bad}")
        return value


class _NamedEffect(_Words):
    name: str
    effect: _Effect


class _Quality(_Words):
    wish: str


class _LanguageWords(_Words):
    languages: list[str]


class _CountryWords(_Words):
    countries: list[str]


class _References(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ordinals: dict[int, _Words]
    nouns: _Words
    pronouns: _Words


class _LexiconFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    negations: _Words
    clause_breaks: _Words
    soft_breaks: _Words
    negatable: list[_NamedEffect]
    genres: list[_GenreWords]
    refinements: list[_NamedEffect]
    companions: dict[Literal["alone", "partner", "kids", "family", "friends", "colleagues"], _Words]
    moods: dict[str, _Words]
    qualities: list[_Quality]
    occasions: dict[str, _Words]
    languages: list[_LanguageWords]
    countries: list[_CountryWords]
    intents: dict[Literal["reset", "more_like", "ask_about", "liked", "disliked", "rejected", "chitchat"], _Words]
    references: _References
    injection: _Words
    filler: _Words


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


def _is_cjk_char(ch: str) -> bool:
    """True for a CJK ideograph."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def _has_cjk(text: str) -> bool:
    """True when the text holds a CJK ideograph."""
    return any(_is_cjk_char(c) for c in text)


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
            table = zh if (lang == "zh" or _has_cjk(key)) else en
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
        if _has_cjk(text):
            for phrase, tags in self._zh:
                start = text.find(phrase)
                while start >= 0:
                    found.append(Span(start, start + len(phrase), tags))
                    start = text.find(phrase, start + 1)
        return claim_spans(found)


def claim_spans(spans: Iterable[Span], taken: list[Span] | None = None) -> list[Span]:
    """Keep the longest spans that do not overlap each other (nor `taken`), in text order."""
    kept: list[Span] = list(taken or [])
    for span in sorted(spans, key=lambda s: (-(s.end - s.start), s.start)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    own = [s for s in kept if not taken or s not in taken]
    return sorted(own, key=lambda s: s.start)


@dataclass(frozen=True)
class Lexicon:
    """The compiled word lists of chatbot/lexicon.yaml."""

    data: _LexiconFile
    matcher: PhraseMatcher
    filler_en: frozenset[str]
    filler_zh: tuple[str, ...]  # longest first


@lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> Lexicon:
    """Read, check and compile the word lists (the packaged chatbot/lexicon.yaml unless a path is given)."""
    try:
        if path is None:
            text = (resources.files("chatbot.turn.understand") / "lexicon.yaml").read_text(encoding="utf-8")
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise LexiconError(f"cannot read the understanding word lists ({path or 'chatbot/lexicon.yaml'}): {exc}") from exc
    try:
        data = _LexiconFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LexiconError(
            f"the understanding word lists ({path or 'chatbot/lexicon.yaml'}) are malformed at {where}: {first['msg']}"
        ) from exc
    entries: list[tuple[str, str, Tag]] = []

    def add(words: _Words, tag: Tag) -> None:
        """Register every phrase of a word list under one tag."""
        for lang in ("en", "zh"):
            for phrase in getattr(words, lang):
                entries.append((str(phrase), lang, tag))

    add(data.negations, ("negation", None))
    add(data.clause_breaks, ("break", None))
    add(data.soft_breaks, ("soft_break", None))
    for entry in data.negatable:
        add(entry, ("negatable", entry.name))
    for entry in data.genres:
        add(entry, ("genre", tuple(entry.genres)))
    for entry in data.refinements:
        add(entry, ("refinement", entry.name))
    for name, words in data.companions.items():
        add(words, ("companion", name))
    for name, words in data.moods.items():
        add(words, ("mood", name))
    for entry in data.qualities:
        add(entry, ("quality", entry.wish))
    for name, words in data.occasions.items():
        add(words, ("occasion", name))
    for entry in data.languages:
        add(entry, ("language", tuple(entry.languages)))
    for entry in data.countries:
        add(entry, ("country", tuple(entry.countries)))
    for name, words in data.intents.items():
        add(words, ("cue", name))
    for position, words in data.references.ordinals.items():
        add(words, ("ordinal", position))
    add(data.references.nouns, ("ref_noun", None))
    add(data.references.pronouns, ("pronoun", None))
    add(data.injection, ("injection", None))
    filler_zh = tuple(sorted({w for w in data.filler.zh if w}, key=len, reverse=True))
    return Lexicon(
        data=data,
        matcher=PhraseMatcher(entries),
        filler_en=frozenset(w.lower() for w in data.filler.en),
        filler_zh=filler_zh,
    )


# ---------------------------------------------------------------------------------------------- small readers
def _straighten(text: str) -> str:
    """Curly quotes as straight ones (same length)."""
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')


def normalise_message(message: str) -> str:
    """NFKC (full-width to half-width), curly quotes straightened, lower-cased; length-preserving after NFKC."""
    text = _straighten(unicodedata.normalize("NFKC", message or ""))
    low = text.lower()
    return low if len(low) == len(text) else text


def detect_language(message: str) -> str:
    """The language of a message by script: "zh" when CJK ideographs carry it, "en" for English, else "other"."""
    cjk = sum(1 for c in message if _is_cjk_char(c))
    latin = sum(1 for c in message if c.isascii() and c.isalpha())
    other_letters = sum(1 for c in message if c.isalpha() and not c.isascii() and not _is_cjk_char(c))
    if cjk and cjk * 3 >= latin and cjk >= other_letters:
        return "zh"
    if latin and latin >= other_letters:
        words = re.findall(r"[a-z']+", message.lower())
        if len(words) <= 3 or set(words) & _ENGLISH_MARKERS:
            return "en"
        return "other"
    return "other"  # no letters at all (emoji, punctuation): the conversation keeps its language


# Common English function words: a Latin-script message with one of them is taken as English.
_ENGLISH_MARKERS = frozenset(
    "the a an and or but i i'm me my we you your it is are was something anything with to for of in on "
    "not no please want like some more less about tonight watch show".split()
)

_HARD_BREAK = re.compile(r"[,.;!?:\n\u3002\uff0c\uff1b\uff01\uff1f\u3001]")
_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "half": 0.5}
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "半": 0.5}


def _zh_number(text: str) -> float | None:
    """A small Chinese or Arabic number ("两", "一百二十", "90", "九十") as a float."""
    if not text:
        return None
    if text.isdigit():
        return float(text)
    if text == "半":
        return 0.5
    total, current = 0.0, 0.0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        else:
            return None
    return total + current


_EN_NUM = r"(\d+(?:\.\d+)?|an?|one|two|three|four|half an?)"
_EN_UNIT = r"(hours?|hrs?|h|minutes?|mins?|m)"
_RUNTIME_MAX_EN = re.compile(
    rf"\b(?:under|less than|shorter than|at most|max(?:imum)?|no (?:more|longer) than|below|within|up to|not (?:more|longer) than|not over|tops)\s+"
    rf"{_EN_NUM}\s*{_EN_UNIT}(\s+and\s+a\s+half)?(?![a-z])"
)
_RUNTIME_MAX_EN_AFTER = re.compile(rf"\b{_EN_NUM}\s*{_EN_UNIT}(\s+and\s+a\s+half)?\s+(?:or less|or shorter|or under|max(?:imum)?|tops|at most|or so max)\b")
_RUNTIME_MIN_EN = re.compile(
    rf"\b(?:over|more than|longer than|at least|minimum|min)\s+{_EN_NUM}\s*{_EN_UNIT}(\s+and\s+a\s+half)?(?![a-z])"
)
_ZH_NUM = r"(\d+|[零一二两三四五六七八九十百]+)"
_RUNTIME_ZH = re.compile(
    rf"(不超过|少于|小于|低于|不到|最多|控制在|超过|多于|大于|至少|起码)?\s*{_ZH_NUM}\s*(个)?\s*(半)?\s*(小时|钟头|分钟)\s*(半)?\s*(以内|之内|内|以下|以上|左右)?"
)
_DECADE_FULL = re.compile(r"(?<![0-9])(19[0-9]0|20[0-2]0)'?s(?![a-z])")
_DECADE_SHORT = re.compile(r"(?<![0-9a-z])'?([2-9]0)'?s(?![a-z])")
_DECADE_ZH = re.compile(r"(19[0-9]0|20[0-2]0|[2-9]0|[二三四五六七八九]十)\s*年代")
_YEAR_BEFORE = re.compile(r"\b(before|pre-?|earlier than|older than|prior to)\s*(19\d\d|20\d\d)\b")
_YEAR_UNTIL = re.compile(r"\b(until|up to|through|no later than)\s+(19\d\d|20\d\d)\b")
_YEAR_AFTER = re.compile(r"\b(after|post-?|later than|newer than)\s*(19\d\d|20\d\d)\b")
_YEAR_SINCE = re.compile(r"\b(since|from|no earlier than)\s+(19\d\d|20\d\d)\b")
_YEAR_BETWEEN = re.compile(r"\b(?:between|from)\s+(19\d\d|20\d\d)\s*(?:and|to|-|until)\s*(19\d\d|20\d\d)\b")
_YEAR_ZH = re.compile(r"(19\d\d|20\d\d)\s*年?\s*(以前|之前|前|以后|之后|后|以来)")
_AGE = r"(pg-13|pg13|pg 13|pg|nc-17|nc17|g|r)"
_AGE_MAX_AFTER = re.compile(rf"\b(?:rated\s+)?{_AGE}(?:[\s-]rated)?\s+(?:or (?:below|lower|less|under)|max(?:imum)?|at most|and (?:below|under)|tops)\b")
_AGE_MAX_BEFORE = re.compile(rf"\b(?:nothing above|not above|at most|max(?:imum)?|up to|no higher than|rated)\s+{_AGE}(?![a-z0-9-])")
_AGE_NOT = re.compile(rf"\b(?:no|not|nothing|avoid)\s+(?:rated\s+)?{_AGE}(?:[\s-]rated)?(?![a-z0-9-])")
_ARTICLE_ONLY = re.compile(r"\s*(?:the|that|this)?\s*")
_POINTING = re.compile(r"\b(?:it|that|this|those|these|them)\b|[这那]")
_QUOTED = re.compile(r'"([^"]{2,80})"|\u300a([^\u300b]{1,60})\u300b|\u300c([^\u300d]{1,60})\u300d|\u201c([^\u201d]{2,80})\u201d')


def _age_name(raw: str) -> str:
    """Canonical MPAA name of a matched rating token."""
    raw = raw.replace(" ", "-").upper()
    return {"PG13": "PG-13", "NC17": "NC-17"}.get(raw, raw)


def _minutes(number: str, unit: str, half: str | None) -> int | None:
    """Minutes from a matched English number and unit."""
    number = number.strip()
    if number.startswith("half"):
        value = 0.5
    else:
        value = _NUMBER_WORDS.get(number)
        if value is None:
            try:
                value = float(number)
            except ValueError:
                return None
    if half:
        value += 0.5
    minutes = value * 60 if unit.startswith("h") else value
    return int(round(minutes)) if 20 <= minutes <= 400 else None


# ---------------------------------------------------------------------------------------------- title and people indexes
_ARTICLE_SUFFIX = re.compile(r",\s*(the|a|an|le|la|les|l'|el|il|der|die|das)$")
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+")


def _title_keys(title: str) -> list[str]:
    """Matching keys of a catalog title: "Matrix, The (1999)" -> ["matrix"]; alternative titles in brackets too."""
    title = unicodedata.normalize("NFKD", title)
    title = "".join(c for c in title if not unicodedata.combining(c)).lower().strip()
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


def title_key(text: str) -> str:
    """A title or a phrase as a matching key: no accents, lower case, no punctuation, no leading article."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("&", " and ")
    text = re.sub(r"[^a-z0-9\u4e00-\u9fff]+", " ", text).strip()
    return _LEADING_ARTICLE.sub("", text)


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
                current = exact.get(key)
                if current is None or item.n_ratings > current.n_ratings:
                    exact[key] = item
            head = re.split(r":| - ", item.title, maxsplit=1)
            if len(head) == 2:
                key = title_key(_ARTICLE_SUFFIX.sub("", head[0].strip().lower()))
                current = series.get(key)
                if key and (current is None or item.n_ratings > current.n_ratings):
                    series[key] = item
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
                names.setdefault(title_key(person).replace(" ", ""), person)
        self._names = names
        self._keys = list(names)

    def match(self, text: str) -> str | None:
        """The catalog spelling of a person's name ("Leonardo Di Caprio" -> "Leonardo DiCaprio"), or None."""
        from rapidfuzz import fuzz, process

        key = title_key(text).replace(" ", "")
        if len(key) < 4:
            return None
        if key in self._names:
            return self._names[key]
        hit = process.extractOne(key, self._keys, scorer=fuzz.ratio, score_cutoff=PERSON_MIN_SCORE)
        return self._names[hit[0]] if hit else None


# ---------------------------------------------------------------------------------------------- reading by rules
class GazetteerLike(Protocol):
    """What understanding needs from chatbot.turn.context.situation.Gazetteer."""

    def resolve(self, text: str) -> Place | None:
        """The city a place name means, or None."""

    def find_in_message(self, message: str) -> PlaceMention | None:
        """The place a free sentence mentions (known or not), or None."""


@dataclass
class Reading:
    """What code alone understood in a message (mutable while it is being read)."""

    text: str  # normalised message (lower case)
    language: str
    original: str = ""  # the same characters before lower-casing (same positions), for capitals
    spans: list[Span] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    genres_excluded: list[str] = field(default_factory=list)
    wishes: list[str] = field(default_factory=list)
    companions: list[str] = field(default_factory=list)
    mood: str | None = None
    occasion: str | None = None
    languages: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    scalars: dict[str, Any] = field(default_factory=dict)  # year_min, year_max, runtime_min, runtime_max, max_age_rating
    cleared: list[str] = field(default_factory=list)
    cues: set[str] = field(default_factory=set)
    references: list[int] = field(default_factory=list)
    rejected_refs: list[int] = field(default_factory=list)
    pronoun: bool = False
    titles: dict[str, str] = field(default_factory=dict)  # id -> the cue kind it came with ("more_like", "liked", ...)
    place_mention: Any = None  # chatbot.turn.context.situation.PlaceMention
    weather: str | None = None
    part_of_day: str | None = None
    injection: bool = False
    leftover: list[str] = field(default_factory=list)  # words no list explains
    negated_spans: list[Span] = field(default_factory=list)  # genre words that were negated ("no *horror*")
    negation_seen: bool = False  # the message holds a negation word ("no", "nothing", "不要")
    notes: list[str] = field(default_factory=list)

    @property
    def has_constraints(self) -> bool:
        """True when the message sets any slot that shapes a new list."""
        return bool(
            self.genres or self.genres_excluded or self.wishes or self.companions or self.mood or self.occasion
            or self.languages or self.countries or self.scalars or self.cleared or self.weather or self.part_of_day
            or (self.place_mention is not None)
        )


class Understander:
    """message + DialogueState -> TurnIntent: code reads everything, the LLM helps with free text."""

    def __init__(
        self,
        llm: Any,
        catalog_items: Iterable[Item],
        gazetteer: GazetteerLike | None,
        *,
        timeout_s: float = 30.0,
        lexicon_path: str | None = None,
        llm_policy: Literal["auto", "lean", "always", "never"] = "auto",
    ) -> None:
        self.llm = llm
        self.gazetteer = gazetteer
        self.timeout_s = timeout_s
        self.llm_policy = llm_policy
        self.lexicon = load_lexicon(lexicon_path)
        self.items: dict[str, Item] = {item.id: item for item in catalog_items}
        self.titles = TitleIndex(self.items.values())
        self._people: PeopleIndex | None = None
        years = [i.year for i in self.items.values() if i.year]
        self.newest_year = max(years) if years else 2018
        self.last_llm_seconds: float | None = None  # wall time of the latest LLM call (None: not called)

    # -- public
    def understand(self, message: str, state: DialogueState) -> TurnIntent:
        """Read one message in the light of the conversation so far; never raises for odd input."""
        reading = self.read(message, state)
        self.last_llm_seconds = None
        llm_data: dict[str, Any] | None = None
        llm_error: str | None = None
        if self.needs_llm(reading, state):
            try:
                llm_data = self.ask_llm(message)
            except LLMError as exc:
                llm_error = str(exc)
                reading.notes.append("the language model did not answer usefully, so I went by the words alone")
        return self.combine(reading, state, llm_data, llm_error)

    def needs_llm(self, reading: Reading, state: DialogueState) -> bool:
        """True when a new free-text request needs the LLM; False when code's reading is sure."""
        if self.llm is None or self.llm_policy == "never" or reading.injection or not reading.text.strip():
            return False
        if self.llm_policy == "always":
            return True
        if "reset" in reading.cues and not reading.leftover:
            return False
        if not reading.leftover and not reading.has_constraints and reading.cues <= {"chitchat"} and reading.cues:
            return False  # "thanks!", "hi"
        sure = not reading.leftover and not self._unresolved_item_cue(reading, state)
        if sure and (state.shown or self.llm_policy == "lean"):
            return False  # a follow-up (or, when lean, any message) whose every word code explains
        return True

    # -- the LLM
    def ask_llm(self, message: str) -> dict[str, Any]:
        """The LLM's reading of the message as schema-checked JSON (LLMError when it fails)."""
        from chatbot.llm.models import complete_json
        from prompts import load_prompt

        prompt = load_prompt("understand").render(
            genres=list(GENRES), companions=list(COMPANIONS), message=message[:MAX_LLM_MESSAGE_CHARS]
        )
        started = time.monotonic()
        try:
            return complete_json(self.llm, prompt, intent_schema(), timeout_s=self.timeout_s, max_tokens=160)
        finally:
            self.last_llm_seconds = time.monotonic() - started

    # -- reading by rules
    def read(self, message: str, state: DialogueState) -> Reading:
        """Code's own reading of a message: word lists, numbers, places, weather, titles, references."""
        text = normalise_message(message)
        original = _straighten(unicodedata.normalize("NFKC", message or ""))
        reading = Reading(text=text, language=detect_language(message),
                          original=original if len(original) == len(text) else text)
        phrase_spans = self.lexicon.matcher.find(text)
        fixed = claim_spans(self._find_titles(text, phrase_spans, reading))
        extra = self._numbers(text, reading, state) + self._context_spans(message, text, reading)
        fixed = fixed + claim_spans(extra, taken=fixed)
        spans = sorted(fixed + claim_spans(phrase_spans, taken=fixed), key=lambda s: s.start)
        reading.spans = spans
        self._interpret(text, spans, reading, state)
        reading.leftover = self._leftover(text, spans)
        if reading.injection:
            reading.notes.append("the message tried to change my instructions; I ignored that part")
        return reading

    def _find_titles(self, text: str, spans: list[Span], reading: Reading) -> list[Span]:
        """Titles in quotes, or right after "more like"/"I loved"/"tell me about": matched against the catalog."""
        found: list[Span] = []
        for m in _QUOTED.finditer(text):
            inner = next(g for g in m.groups() if g is not None)
            item_id = self.titles.match(inner)
            if item_id:
                found.append(Span(m.start(), m.end(), (("title", item_id),)))
                reading.titles.setdefault(item_id, "mentioned")
        cue_kinds = {"more_like", "liked", "disliked", "rejected", "ask_about"}
        for span in spans:
            cue = span.payload("cue")
            if cue not in cue_kinds:
                continue
            region_end = _HARD_BREAK.search(text, span.end)
            end = region_end.start() if region_end else len(text)
            following = [s for s in spans if span.end <= s.start < end]
            if following and following[0].kinds() & {"ordinal", "pronoun", "ref_noun"} and _ARTICLE_ONLY.fullmatch(
                text[span.end:following[0].start]
            ):
                continue  # "more like the second one": a reference, not a title
            words = list(_WORD.finditer(text, span.end, end))[:8]
            for n in range(len(words), 0, -1):
                start, stop = words[0].start(), words[n - 1].end()
                candidate = text[start:stop]
                if all(w.group(0) in self.lexicon.filler_en for w in words[:n]):
                    break
                item_id = self.titles.match(candidate, fuzzy=n >= 2 or len(candidate) >= 6)
                if item_id and self._plain_words(text, spans, start, stop) and not reading.original[start:start + 1].isupper():
                    item_id = None  # "more like a heist": lexicon words in lower case are not the film "Heist"
                if item_id:
                    found.append(Span(start, stop, (("title", item_id),)))
                    reading.titles.setdefault(item_id, cue)
                    break
        return found

    def _plain_words(self, text: str, spans: list[Span], start: int, stop: int) -> bool:
        """True when lexicon phrases (genres, moods, ...) and filler explain every word between start and stop."""
        inside = [s for s in spans if s.start >= start and s.end <= stop]
        if not inside:
            return False
        return not self._leftover(text[:stop], inside, start)

    def _numbers(self, text: str, reading: Reading, state: DialogueState) -> list[Span]:
        """Years, decades, runtimes and age ratings written as numbers or codes."""
        out: list[Span] = []
        sc = reading.scalars

        def mark(m: re.Match[str], what: str) -> None:
            """Remember the words a number expression used."""
            out.append(Span(m.start(), m.end(), (("number", what),)))

        for m in _RUNTIME_MAX_EN.finditer(text):
            minutes = _minutes(m.group(1), m.group(2), m.group(3))
            if minutes:
                sc["runtime_max"] = minutes
                mark(m, "runtime")
        for m in _RUNTIME_MAX_EN_AFTER.finditer(text):
            minutes = _minutes(m.group(1), m.group(2), m.group(3))
            if minutes:
                sc["runtime_max"] = minutes
                mark(m, "runtime")
        for m in _RUNTIME_MIN_EN.finditer(text):
            minutes = _minutes(m.group(1), m.group(2), m.group(3))
            if minutes:
                sc["runtime_min"] = minutes
                mark(m, "runtime")
        if _has_cjk(text):
            for m in _RUNTIME_ZH.finditer(text):
                prefix, number, _, half1, unit, half2, suffix = m.groups()
                if not (prefix or suffix):
                    continue
                value = _zh_number(number)
                if value is None:
                    continue
                value += 0.5 if (half1 or half2) else 0
                minutes = int(value * 60) if unit in ("小时", "钟头") else int(value)
                if not 20 <= minutes <= 400:
                    continue
                if prefix in ("超过", "多于", "大于", "至少", "起码") or suffix == "以上":
                    sc["runtime_min"] = minutes
                elif suffix == "左右":
                    sc["runtime_max"] = minutes + 15
                else:
                    sc["runtime_max"] = minutes
                mark(m, "runtime")
        for m in _YEAR_BETWEEN.finditer(text):
            a, b = sorted((int(m.group(1)), int(m.group(2))))
            sc["year_min"], sc["year_max"] = a, b
            mark(m, "year")
        for m in _DECADE_FULL.finditer(text):
            decade = int(m.group(1))
            sc["year_min"], sc["year_max"] = decade, decade + 9
            mark(m, "year")
        for m in _DECADE_SHORT.finditer(text):
            decade = 1900 + int(m.group(1))
            sc["year_min"], sc["year_max"] = decade, decade + 9
            mark(m, "year")
        for m in _DECADE_ZH.finditer(text):
            raw = m.group(1)
            value = int(raw) if raw.isdigit() else int(_zh_number(raw) or 0)
            decade = value if value >= 1900 else 1900 + value
            if 1900 <= decade <= 2020:
                sc["year_min"], sc["year_max"] = decade, decade + 9
                mark(m, "year")
        for rx, key, delta in ((_YEAR_BEFORE, "year_max", -1), (_YEAR_UNTIL, "year_max", 0),
                               (_YEAR_AFTER, "year_min", 1), (_YEAR_SINCE, "year_min", 0)):
            for m in rx.finditer(text):
                if any(s.start <= m.start() < s.end for s in out):
                    continue
                sc[key] = int(m.group(2)) + delta
                mark(m, "year")
        for m in _YEAR_ZH.finditer(text):
            year, word = int(m.group(1)), m.group(2)
            if word in ("以前", "之前", "前"):
                sc["year_max"] = year - 1
            else:
                sc["year_min"] = year
            mark(m, "year")
        for rx, mode in ((_AGE_MAX_AFTER, "max"), (_AGE_MAX_BEFORE, "max"), (_AGE_NOT, "not")):
            for m in rx.finditer(text):
                rating = _age_name(m.group(1))
                if rating not in AGE_RATINGS:
                    continue
                if mode == "not":
                    rating = AGE_RATINGS[max(0, AGE_RATINGS.index(rating) - 1)]
                sc["max_age_rating"] = rating
                mark(m, "age")
        return out

    def _context_spans(self, message: str, text: str, reading: Reading) -> list[Span]:
        """Place, stated weather and stated time via chatbot.turn.context.situation; spans cover the words they used."""
        from chatbot.turn.context import situation as context

        out: list[Span] = []
        if self.gazetteer is not None:
            mention = self.gazetteer.find_in_message(message)
            if mention is not None:
                reading.place_mention = mention
                out += _spans_of(text, [mention.text], "place")
        weather = context.find_stated_weather(message)
        if weather is not None:
            reading.weather = weather.condition
        part = context.find_part_of_day(message)
        if part is not None:
            reading.part_of_day = part
        lex = context.load_lexicon()
        for _, pattern in list(lex.weather_en) + list(lex.part_en):
            out += [Span(m.start(), m.end(), (("context", "said"),)) for m in pattern.finditer(text)]
        if _has_cjk(text):
            for _, phrases in list(lex.weather_zh) + list(lex.part_zh):
                out += _spans_of(text, phrases, "context")
        return out

    def _interpret(self, text: str, spans: list[Span], reading: Reading, state: DialogueState) -> None:
        """Walk the spans clause by clause: negation scope, genres, refinements, references, cues."""
        lex = self.lexicon.data
        negated = False
        last_neg_end = -1  # end of the latest negation-related span (cue, soft break or a negated target)
        pending_soft = False
        refinement_effects: list[tuple[str, _Effect]] = []
        negatable = {e.name: e.effect for e in lex.negatable}
        refinements = {e.name: e.effect for e in lex.refinements}
        prev_end = 0
        for i, span in enumerate(spans):
            gap_text = text[prev_end:span.start]
            if _HARD_BREAK.search(gap_text):
                negated, pending_soft = False, False
            kinds = span.kinds()
            if negated and last_neg_end >= 0:
                gap_words = len(_WORD.findall(text[last_neg_end:span.start])) + sum(
                    1 for c in text[last_neg_end:span.start] if _is_cjk_char(c)
                )
                limit = 0 if pending_soft else 3
                if gap_words > limit:
                    negated, pending_soft = False, False
            prev_end = span.end
            if "break" in kinds and not kinds & {"genre", "mood", "quality"}:
                negated, pending_soft = False, False
                continue
            if "soft_break" in kinds:
                if negated:
                    pending_soft = True
                    last_neg_end = span.end
                continue
            if "injection" in kinds:
                reading.injection = True
                continue
            if "negation" in kinds:
                negated, pending_soft, last_neg_end = True, False, span.end
                reading.negation_seen = True
                if "cue" in kinds:  # "don't like", "hate": a negation and a dislike at once
                    reading.cues.add(span.payload("cue"))
                continue
            if "refinement" in kinds:
                name = span.payload("refinement")
                refinement_effects.append((name, refinements[name]))
                continue
            if negated and "negatable" in kinds:
                name = span.payload("negatable")
                refinement_effects.append((f"no {name}", negatable[name]))
                last_neg_end, pending_soft = span.end, False
                continue
            if "genre" in kinds:
                genres = list(span.payload("genre"))
                target = reading.genres_excluded if negated else reading.genres
                for g in genres:
                    if g not in target:
                        target.append(g)
                if negated:
                    reading.negated_spans.append(span)
                    word = text[span.start:span.end]
                    reading.notes.append(f'"{word}" after a negation: no {", ".join(genres)}')
                    last_neg_end, pending_soft = span.end, False
                continue
            if "ordinal" in kinds:
                position = span.payload("ordinal")
                if self._is_reference(text, spans, i):
                    (reading.rejected_refs if negated else reading.references).append(position)
                continue
            if "title" in kinds:
                if negated:
                    reading.titles[span.payload("title")] = "disliked"
                continue
            if "cue" in kinds:
                cue = span.payload("cue")
                if cue == "liked" and negated:
                    cue = "disliked"
                reading.cues.add(cue)
                if _POINTING.search(text[span.start:span.end]):
                    reading.pronoun = True  # "seen it", "more like that"
                continue
            if "pronoun" in kinds:
                reading.pronoun = True
                continue
            if negated:
                continue  # "without the kids", "not sad": nothing to add
            if "companion" in kinds:
                name = span.payload("companion")
                if name not in reading.companions:
                    reading.companions.append(name)
            elif "mood" in kinds:
                reading.mood = span.payload("mood")
            elif "quality" in kinds:
                wish = span.payload("quality")
                if wish not in reading.wishes:
                    reading.wishes.append(wish)
            elif "occasion" in kinds:
                reading.occasion = span.payload("occasion")
            elif "language" in kinds:
                for lang in span.payload("language"):
                    if lang not in reading.languages:
                        reading.languages.append(lang)
            elif "country" in kinds:
                for country in span.payload("country"):
                    if country not in reading.countries:
                        reading.countries.append(country)
        for name, effect in refinement_effects:
            self._apply_effect(name, effect, reading, state)
        wanted_conflicts = [g for g in reading.genres if g in reading.genres_excluded]
        reading.genres = [g for g in reading.genres if g not in wanted_conflicts]

    def _is_reference(self, text: str, spans: list[Span], i: int) -> bool:
        """An ordinal counts as a reference when a noun follows ("second one", "第二部") or "the" precedes it at a clause end."""
        span = spans[i]
        word = text[span.start:span.end]
        if word.startswith("#") or word.startswith("number") or _has_cjk(word):
            if _has_cjk(word):
                after = text[span.end:span.end + 3]
                return any(n in after for n in self.lexicon.data.references.nouns.zh) or not after.strip() or bool(
                    _HARD_BREAK.match(after)
                ) or after.startswith("的")
            return True
        nxt = spans[i + 1] if i + 1 < len(spans) else None
        between = text[span.end:nxt.start] if nxt else ""
        if nxt is not None and "ref_noun" in nxt.kinds() and not between.strip():
            return True
        before = text[max(0, span.start - 12):span.start].split()
        after_words = _WORD.findall(text[span.end:span.end + 20])
        clause_end = not after_words or bool(_HARD_BREAK.match(text[span.end:].lstrip() or "."))
        enders = {"please", "pls", "then", "again", "instead", "too", "and", "but", "or", "one"}
        if before and before[-1] in ("the", "that", "your", "ur", "this") and (clause_end or after_words[0] in enders):
            return True
        return False

    def _apply_effect(self, name: str, effect: _Effect, reading: Reading, state: DialogueState) -> None:
        """Turn one refinement into slot values, relative to what was shown last where it says so."""
        sc = reading.scalars
        shown = [self.items[i] for i in state.last_shown if i in self.items]
        runtimes = [i.runtime_min for i in shown if i.runtime_min]
        years = [i.year for i in shown if i.year]
        if effect.runtime == "shorter":
            if runtimes:
                value = max(60, min(runtimes) - 1)
                reading.notes.append(f"shorter than the last list (shortest {min(runtimes)} min): at most {value} min")
            else:
                current = state.runtime_max
                value = max(60, current - 20) if current else 100
                reading.notes.append(f"shorter: at most {value} min")
            if state.runtime_max and value >= state.runtime_max:
                value = max(60, state.runtime_max - 15)
            sc["runtime_max"] = value
        if effect.runtime == "longer":
            value = min(200, max(runtimes) + 1) if runtimes else max(120, (state.runtime_min or 100) + 20)
            sc["runtime_min"] = value
            reading.notes.append(f"longer: at least {value} min")
        if effect.year == "older":
            value = min(years) - 1 if years else min(1990, (state.year_max or 1991) - 1)
            sc["year_max"] = value
            reading.notes.append(f"older: {value} or earlier")
        if effect.year == "newer":
            value = min(self.newest_year - 2, max(years) + 1) if years else self.newest_year - 10
            sc["year_min"] = value
            reading.notes.append(f"newer: {value} or later")
        if effect.recent_years is not None:
            sc["year_min"] = self.newest_year - effect.recent_years
        for key in ("runtime_max", "runtime_min", "year_max", "year_min", "max_age_rating"):
            value = getattr(effect, key)
            if value is not None:
                sc[key] = value
        if effect.age_down:
            current = sc.get("max_age_rating") or state.max_age_rating or "R"
            idx = min(AGE_RATINGS.index("PG-13"), AGE_RATINGS.index(current) - 1)
            sc["max_age_rating"] = AGE_RATINGS[max(AGE_RATINGS.index("PG"), idx)]
            reading.notes.append(f"{name}: rated {sc['max_age_rating']} at most")
        for g in effect.genres:
            if g not in reading.genres:
                reading.genres.append(g)
        for g in effect.genres_excluded:
            if g not in reading.genres_excluded:
                reading.genres_excluded.append(g)
        for w in effect.wishes:
            if w not in reading.wishes:
                reading.wishes.append(w)
        for slot in effect.clear:
            if slot not in reading.cleared:
                reading.cleared.append(slot)
            for key in (f"{slot}_min", f"{slot}_max"):
                sc.pop(key, None)

    def _leftover(self, text: str, spans: list[Span], start: int = 0) -> list[str]:
        """Words no span and no filler list explains (English words, or runs of Chinese characters) from `start` on."""
        chars = list(text)
        for s in spans:
            for k in range(s.start, min(s.end, len(chars))):
                chars[k] = " "
        rest = "".join(chars[start:])
        out = [w for w in _WORD.findall(rest) if w.strip("'-") and w.strip("'-") not in self.lexicon.filler_en
               and not w.isdigit()]
        if _has_cjk(rest):
            for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", rest):
                for filler in self.lexicon.filler_zh:
                    run = run.replace(filler, " ")
                out += [r for r in run.split() if r]
        return out

    def _fallback_wish(self, reading: Reading) -> str:
        """The message's describing words (genres, qualities, free words; not negated ones, names or numbers)."""
        keep = {"genre", "quality", "mood"}
        drop = [s for s in reading.spans if not s.kinds() & keep] + reading.negated_spans
        chars = list(reading.text)
        for s in drop:
            for k in range(s.start, s.end):
                chars[k] = " "
        words = [w for w in _WORD.findall("".join(chars)) if w not in self.lexicon.filler_en and not w.isdigit()]
        return " ".join(words[:16])

    def _unresolved_item_cue(self, reading: Reading, state: DialogueState) -> bool:
        """True when the message asks about / wants more like an item that code could not pin down."""
        item_cues = reading.cues & {"more_like", "ask_about", "liked", "disliked", "rejected"}
        if not item_cues or reading.references or reading.rejected_refs or reading.titles:
            return False
        if self._points_at_focus(reading):
            return self._pronoun_target(state) is None
        return bool(item_cues & {"more_like", "ask_about"})  # "something like a heist movie": the LLM reads it

    @staticmethod
    def _points_at_focus(reading: Reading) -> bool:
        """True when the message points at an item without naming it ("seen it", "tell me more", "more like that")."""
        return reading.pronoun or (not reading.leftover and not reading.has_constraints)

    def _pronoun_target(self, state: DialogueState) -> str | None:
        """What "it"/"that one" points at: the item talked about last, or the only item shown."""
        if state.focus_id:
            return state.focus_id
        if len(state.last_shown) == 1:
            return state.last_shown[0]
        return None

    # -- combining both readings
    def combine(
        self, reading: Reading, state: DialogueState, llm: dict[str, Any] | None, llm_error: str | None = None
    ) -> TurnIntent:
        """The checked intent: code's reading, plus the LLM's where code found nothing and the LLM's answer checks out."""
        notes = list(reading.notes)
        genres = list(reading.genres)
        excluded = list(reading.genres_excluded)
        wishes = list(reading.wishes)
        companions = list(reading.companions)
        people: list[str] = []
        title_kinds = dict(reading.titles)
        weather = reading.weather
        llm_intent: str | None = None

        if llm is not None:
            llm_intent = llm.get("intent") if llm.get("intent") in LLM_INTENTS else None
            # exclusions are hard filters: taken from the LLM only when the message says no to something
            llm_excluded = [g for g in llm.get("not_genres") or [] if g in GENRES and g not in excluded]
            if llm_excluded and reading.negation_seen:
                excluded += llm_excluded
            elif llm_excluded:
                notes.append(f"the model wanted to rule out {', '.join(llm_excluded)}, but the message says no such thing")
            # wanted genres are hard filters only when the person's words say them; else they are a hint
            said = " ".join(wishes + [str(llm.get("wishes_en") or "")]).lower()
            hints = [g for g in llm.get("genres") or []
                     if g in GENRES and g not in genres and g not in excluded and g.lower() not in said]
            if hints:
                wishes.append(" ".join(g.lower() for g in hints))
                notes.append(f"read as a hint, not a rule: {', '.join(hints)}")
            wish = str(llm.get("wishes_en") or "").strip()
            if wish and not _has_cjk(wish) and wish.lower() != "none" and wish not in wishes:
                wishes.insert(0, wish[:120])
            if not companions:
                companions = [c for c in dict.fromkeys(llm.get("with") or []) if c in COMPANIONS]
            if weather is None and llm.get("weather") in CONDITIONS:
                weather = llm["weather"]
            for raw in llm.get("titles") or []:
                item_id = self.titles.match(str(raw))
                if item_id is None:
                    notes.append(f'"{raw}" is not in the catalog, so I left it out')
                    continue
                title_kinds.setdefault(item_id, "mentioned")
            for raw in llm.get("people") or []:
                if self._people is None:
                    self._people = PeopleIndex(self.items.values())
                name = self._people.match(str(raw))
                if name and name not in people:
                    people.append(name)
                elif not name:
                    notes.append(f'no film in the catalog involves "{raw}", so I left that name out')
        genres = [g for g in genres if g not in excluded]
        if reading.language == "en" and reading.leftover and llm is None:
            wish = self._fallback_wish(reading)  # the person's own words, when no LLM read them
            if wish and wish not in wishes:
                wishes.append(wish)

        place, unknown_place = self._place(reading, llm, notes)

        # items: references to the last list, pronouns, titles
        last = state.last_shown
        references, referenced_ids, rejected_ids = [], [], []
        for pos in reading.references:
            position = len(last) if pos == -1 else pos
            if 1 <= position <= len(last):
                references.append(position)
                referenced_ids.append(last[position - 1])
            else:
                notes.append(
                    "there is no list to refer to yet" if not last else f"there is no item {position} in the last list"
                )
        negated_refs = []
        for pos in reading.rejected_refs:
            position = len(last) if pos == -1 else pos
            if 1 <= position <= len(last):
                negated_refs.append(last[position - 1])
        rejected_ids += negated_refs
        item_cues = reading.cues & {"more_like", "ask_about", "liked", "disliked", "rejected"}
        if item_cues and not referenced_ids and not title_kinds and not negated_refs and self._points_at_focus(reading):
            target = self._pronoun_target(state)
            if target is not None:
                referenced_ids.append(target)
                if target in last:
                    references.append(last.index(target) + 1)
        mentioned_ids = [i for i in title_kinds]
        liked_ids: list[str] = []
        disliked_ids: list[str] = []
        for item_id, kind in title_kinds.items():
            if kind == "liked":
                liked_ids.append(item_id)
            elif kind == "disliked":
                disliked_ids.append(item_id)
            elif kind == "rejected":
                rejected_ids.append(item_id)
        if "liked" in reading.cues and "disliked" not in reading.cues:
            liked_ids += [i for i in referenced_ids + [t for t, k in title_kinds.items() if k == "mentioned"] if i not in liked_ids]
        if "disliked" in reading.cues and "liked" not in reading.cues:
            disliked_ids += [i for i in referenced_ids + negated_refs if i not in disliked_ids]
        if "rejected" in reading.cues:
            rejected_ids += [i for i in referenced_ids if i not in rejected_ids]

        intent = self._decide_intent(reading, state, llm_intent, referenced_ids, mentioned_ids, liked_ids,
                                     disliked_ids, rejected_ids)
        if intent == "more_like" and not referenced_ids and not mentioned_ids and state.seed_ids:
            referenced_ids = list(state.seed_ids)

        sc = reading.scalars
        return TurnIntent(
            intent=intent,
            wishes=wishes,
            genres=genres,
            genres_excluded=excluded,
            people=people,
            year_min=sc.get("year_min"),
            year_max=sc.get("year_max"),
            runtime_min=sc.get("runtime_min"),
            runtime_max=sc.get("runtime_max"),
            max_age_rating=sc.get("max_age_rating"),
            languages=reading.languages,
            countries=reading.countries,
            mentioned_ids=mentioned_ids,
            liked_ids=liked_ids,
            disliked_ids=disliked_ids,
            rejected_ids=list(dict.fromkeys(rejected_ids)),
            references=references,
            referenced_ids=list(dict.fromkeys(referenced_ids)),
            place=place,
            unknown_place=unknown_place,
            weather=weather,
            part_of_day=reading.part_of_day,
            companions=companions,
            mood=reading.mood,
            occasion=reading.occasion,
            cleared=reading.cleared,
            language=reading.language,  # type: ignore[arg-type]
            injection=reading.injection,
            source="llm" if llm is not None else "rules",
            llm_error=llm_error,
            notes=notes,
        )

    def _place(self, reading: Reading, llm: dict[str, Any] | None, notes: list[str]) -> tuple[PlaceSlot | None, str | None]:
        """The place: the gazetteer's own find first; the LLM's city only if it resolves and is named in the message."""
        mention = reading.place_mention
        if mention is not None and mention.place is not None:
            return _place_slot(mention.text, mention.place), None
        city = str((llm or {}).get("city_en") or "").strip()
        if city and city.lower() != "none" and self.gazetteer is not None:
            place = self.gazetteer.resolve(city)
            named = title_key(city) in title_key(reading.text) or (place is not None and title_key(place.name) in title_key(reading.text))
            if place is not None and named:
                return _place_slot(city, place), None
            notes.append(f'the model suggested the city "{city}", but I could not confirm it, so I did not use it')
        if mention is not None and mention.place is None and getattr(mention, "kind", "unknown") == "unknown":
            notes.append(f"I don't know where {mention.text} is, so I won't use local weather or time there")
            return None, mention.text
        return None, None

    def _decide_intent(
        self, reading: Reading, state: DialogueState, llm_intent: str | None, referenced: list[str],
        mentioned: list[str], liked: list[str], disliked: list[str], rejected: list[str],
    ) -> str:
        """The turn's intent: code's cues first, then the LLM's when it fits what code found."""
        cues = reading.cues
        has_items = bool(referenced or mentioned)
        follow_up = bool(state.shown)
        constraints = reading.has_constraints
        if "reset" in cues:
            return "reset"
        if "ask_about" in cues and has_items and not constraints:
            return "ask_about_item"
        if "more_like" in cues and (has_items or state.seed_ids):
            return "more_like"
        if liked or disliked or rejected:
            return ("refine" if follow_up else "recommend") if constraints else "feedback"
        if reading.injection:
            return "refine" if follow_up else "recommend"
        if llm_intent == "more_like" and mentioned:
            return "more_like"
        if llm_intent == "ask_about_item" and has_items:
            return "ask_about_item"
        if llm_intent == "chitchat" and not constraints:
            return "chitchat"
        if constraints or llm_intent in ("recommend", "more_like", "feedback"):
            return "refine" if follow_up else "recommend"
        if cues == {"chitchat"} or (not reading.leftover and not constraints and not cues):
            return "chitchat"
        return "refine" if follow_up else "recommend"


def _spans_of(text: str, phrases: Iterable[str], kind: str) -> list[Span]:
    """Spans where any of the phrases occur in text (case-insensitive substring)."""
    out = []
    for phrase in phrases:
        p = (phrase or "").lower()
        if not p:
            continue
        start = text.find(p)
        while start >= 0:
            out.append(Span(start, start + len(p), ((kind, phrase),)))
            start = text.find(p, start + 1)
    return out


def _place_slot(said: str, place: Place) -> PlaceSlot:
    """A resolved place as an intent slot."""
    return PlaceSlot(said=said, name=place.name, country_code=place.country_code, lat=place.lat, lon=place.lon,
                     timezone=place.timezone)


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    """Build the LLM answer schema once."""
    def enum_list(values: Sequence[str], max_items: int) -> dict[str, Any]:
        """An array of closed-vocabulary strings."""
        return {"type": "array", "items": {"type": "string", "enum": list(values)}, "uniqueItems": True, "maxItems": max_items}

    def text_list(max_items: int) -> dict[str, Any]:
        """An array of short free strings."""
        return {"type": "array", "items": {"type": "string", "maxLength": 60}, "uniqueItems": True, "maxItems": max_items}

    properties = {
        "intent": {"type": "string", "enum": list(LLM_INTENTS)},
        "wishes_en": {"type": "string", "maxLength": 100},
        "genres": enum_list(GENRES, 3),
        "not_genres": enum_list(GENRES, 4),
        "city_en": {"type": "string", "maxLength": 40},
        "weather": {"type": "string", "enum": ["none", *CONDITIONS]},
        "with": enum_list(COMPANIONS, 2),
        "titles": text_list(3),
        "people": text_list(3),
    }
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def intent_schema() -> dict[str, Any]:
    """The compact JSON schema the LLM answers in (closed vocabularies as plain string enums, "none" sentinels)."""
    import copy

    return copy.deepcopy(_schema())
