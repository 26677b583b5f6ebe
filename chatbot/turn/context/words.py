"""The context lexicon (`context_lexicon.yaml`) and what a message states with it: weather and part of day.

The lexicon also holds the place words the gazetteer reads (place cues, title and setting words, fictional places).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from chatbot.turn.context.datafile import LEXICON_FILE, RulesFileError, describe, read_yaml
from chatbot.turn.context.names import name_key, to_simplified
from chatbot.turn.context.weather import COLD_TO_C, HOT_FROM_C, Weather
from chatbot.turn.intent import CONDITIONS, PARTS_OF_DAY
from retrieval.text import has_cjk

# When a message states several conditions, the first in this order wins.
_CONDITION_PRIORITY: tuple[str, ...] = ("storm", "snow", "rain", "fog", "hot", "cold", "cloudy", "clear")
_PART_PRIORITY: tuple[str, ...] = ("late night", "evening", "afternoon", "morning")


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
class Lexicon:
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
def load_lexicon(path: str | None = None) -> Lexicon:
    """The context word lists from `chatbot/turn/context/context_lexicon.yaml` (or `path`), validated, compiled once."""
    raw = read_yaml(path, LEXICON_FILE)
    try:
        lex = _LexiconFile.model_validate(raw)
    except ValidationError as exc:
        raise RulesFileError(f"the context lexicon {path or LEXICON_FILE} is malformed: {describe(exc)}") from exc
    weather_en = tuple((c, _phrase_pattern(lex.weather[c].en)) for c in _CONDITION_PRIORITY if c in lex.weather)
    weather_zh = tuple((c, tuple(lex.weather[c].zh)) for c in _CONDITION_PRIORITY if c in lex.weather)
    part_en = tuple((p, _phrase_pattern(lex.part_of_day[p].en)) for p in _PART_PRIORITY if p in lex.part_of_day)
    part_zh = tuple((p, tuple(lex.part_of_day[p].zh)) for p in _PART_PRIORITY if p in lex.part_of_day)
    phrases = sorted({p.lower() for p in lex.place_phrases_en}, key=len, reverse=True)
    phrase_body = "|".join(re.escape(p).replace("'", "['’]?").replace(r"\ ", r"\s+") for p in phrases)
    return Lexicon(
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
        fictional_places=frozenset(name_key(w) for w in lex.fictional_places),
        common_words=frozenset(lex.common_words.split()),
    )


# ---------------------------------------------------------------- stated part of day
def find_part_of_day(message: str, lexicon_path: str | None = None) -> str | None:
    """The part of day a message states ("tonight" -> evening, "今晚" -> evening, "can't sleep" -> late night)."""
    if not message:
        return None
    lex = load_lexicon(lexicon_path)
    text = to_simplified(message) if has_cjk(message) else message
    for part, pattern in lex.part_en:
        if pattern.search(message):
            return part
    for part, phrases in lex.part_zh:
        if any(p in text for p in phrases):
            return part
    return None


# ---------------------------------------------------------------- stated weather
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
    if condition is None and has_cjk(message):
        text = to_simplified(message)
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

