"""The understanding word lists (lexicon.yaml): their checked shape, and compiling them into one phrase matcher."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatbot.turn.intent import check_age_rating, check_genres, check_removable
from chatbot.turn.understand.spans import PhraseMatcher, Tag
from prompts import load_data
from retrieval.errors import DataFileError

LEXICON_FILE = "lexicon.yaml"  # shipped in this package


class LexiconError(DataFileError):
    """The word-list file is missing or malformed."""


class _Words(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)


class Effect(BaseModel):
    """What a refinement word does to the slots ("shorter", "no violence"), as lexicon.yaml states it."""

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
    plain_wishes: list[str] = Field(default_factory=list)  # on a catalog of no films: "nothing heavy" is light
    clear: list[str] = Field(default_factory=list)

    @field_validator("genres", "genres_excluded")
    @classmethod
    def _genres(cls, value: list[str]) -> list[str]:
        return check_genres(value)

    @field_validator("max_age_rating")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        return check_age_rating(value)

    @field_validator("clear")
    @classmethod
    def _clear(cls, value: list[str]) -> list[str]:
        return check_removable(value)

    def opposite(self) -> Effect | None:
        """What the word means after a negation ("no old movies", "nothing shorter"): bounds and directions turn
        over (at most 1985 -> at least 1986); None when the word bounds nothing."""
        turned: dict[str, object] = {}
        for low, high in (("year_min", "year_max"), ("runtime_min", "runtime_max")):
            if getattr(self, high) is not None:
                turned[low] = getattr(self, high) + 1
            if getattr(self, low) is not None:
                turned[high] = getattr(self, low) - 1
        if self.year:
            turned["year"] = "newer" if self.year == "older" else "older"
        if self.runtime:
            turned["runtime"] = "longer" if self.runtime == "shorter" else "shorter"
        return Effect(**turned) if turned else None  # type: ignore[arg-type]


class _GenreWords(_Words):
    genres: list[str]

    @field_validator("genres")
    @classmethod
    def _genres(cls, value: list[str]) -> list[str]:
        return check_genres(value)


class _NamedEffect(_Words):
    name: str
    effect: Effect
    negatable: bool = False  # a negation before it cancels it ("I'm not squeamish")


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


class LexiconFile(BaseModel):
    """The shape of lexicon.yaml, checked on load."""

    model_config = ConfigDict(extra="forbid")
    negations: _Words
    acceptance: _Words
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
    intents: dict[Literal["reset", "more_like", "ask_about", "another", "liked", "disliked", "rejected", "chitchat"],
                  _Words]
    references: _References
    injection: _Words
    filler: _Words
    situation_cues: dict[Literal["companions", "weather"], _Words]


@dataclass(frozen=True)
class Lexicon:
    """The compiled word lists of lexicon.yaml."""

    data: LexiconFile
    matcher: PhraseMatcher
    filler_en: frozenset[str]
    filler_zh: tuple[str, ...]  # longest first


@lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> Lexicon:
    """Read, check and compile the word lists (the packaged lexicon.yaml unless a path is given)."""
    data = _read_lexicon(path)
    return Lexicon(
        data=data,
        matcher=PhraseMatcher(_phrase_entries(data)),
        filler_en=frozenset(w.lower() for w in data.filler.en),
        filler_zh=tuple(sorted({w for w in data.filler.zh if w}, key=len, reverse=True)),
    )


def _read_lexicon(path: str | None) -> LexiconFile:
    """The word-list file parsed and checked (LexiconError names the place of the first problem)."""
    where = path or f"chatbot/turn/understand/{LEXICON_FILE}"
    try:
        raw = load_data("chatbot.turn.understand", LEXICON_FILE, path)
    except DataFileError as exc:
        raise LexiconError(f"cannot read the understanding word lists ({where}): {exc}") from exc
    try:
        return LexiconFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"])
        raise LexiconError(f"the understanding word lists ({where}) are malformed at {at}: {first['msg']}") from exc


def _phrase_entries(data: LexiconFile) -> list[tuple[str, str, Tag]]:
    """Every phrase of every list with its language and the tag it carries ("genre", "negation", ...)."""
    entries: list[tuple[str, str, Tag]] = []

    def add(words: _Words, tag: Tag) -> None:
        """Register every phrase of a word list under one tag."""
        for lang in ("en", "zh"):
            for phrase in getattr(words, lang):
                entries.append((str(phrase), lang, tag))

    add(data.negations, ("negation", None))
    add(data.acceptance, ("acceptance", None))
    add(data.clause_breaks, ("break", None))
    add(data.soft_breaks, ("soft_break", None))
    for entry in data.negatable:
        add(entry, ("negatable", entry.name))
    for entry in data.genres:
        add(entry, ("genre", tuple(entry.genres)))
    for entry in data.refinements:
        add(entry, ("refinement", entry.name))
    for kind, table in (("companion", data.companions), ("mood", data.moods)):
        for name, words in table.items():
            add(words, (kind, name))
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
    return entries
