"""The LLM's reading of a message: the prompt, the compact JSON schema it answers in, and the checks its answer
passes before anything uses it (the LLM proposes, code checks): every bound, exclusion and person it proposes
must be grounded in a span of the message (grounding.py), and where the rule reader read the same field, the
reader wins. What is dropped is said in the "what I understood" notes, in the message's language."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chatbot.turn.intent import COMPANIONS, CONDITIONS, PlaceSlot
from chatbot.turn.replies import say
from chatbot.turn.understand.grounding import BOUND_SLOTS, PARTS, Grounds
from chatbot.turn.understand.reading import GazetteerLike, Reading
from chatbot.turn.understand.titles import TitleIndex
from retrieval.text import has_cjk, title_key
from retrieval.types import GENRES

if TYPE_CHECKING:
    from chatbot.turn.context import Place

LLM_INTENTS: tuple[str, ...] = ("recommend", "more_like", "ask_about_item", "feedback", "chitchat")
MAX_LLM_MESSAGE_CHARS = 1500  # longer messages are cut before they reach the LLM (prompt time grows with length)
LLM_MAX_TOKENS = 160  # the answer is a small JSON object


@dataclass(frozen=True)
class Echo:
    """The understanding prompt's own example answer: the words of its wish and its kinds (genres, or a schema
    catalog's facet values). A small model that echoes the example ("light funny feel-good", Comedy, for "Preferably
    one from the 1990s.") has these words from the prompt, not from the person."""

    words: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()


def prompt_echo(prompt: Any) -> Echo:
    """The example answers' wish words (four letters or more) and kinds, read from a rendered understanding prompt."""
    words: set[str] = set()
    kinds: set[str] = set()
    for _, answer in getattr(prompt, "examples", ()):
        data = json.loads(answer)
        words.update(p for p in PARTS.findall(str(data.get("wishes_en") or "").lower()) if len(p) >= 4)
        kinds.update(str(k) for k in [*(data.get("genres") or []), *(data.get("want") or [])])
    words.update(p for k in kinds for p in PARTS.findall(k.lower()) if len(p) >= 4)
    return Echo(frozenset(words), frozenset(kinds))


def ask_llm(llm: Any, message: str, timeout_s: float, kinds: tuple[str, ...] | None = None,
            noun: Any = None) -> dict[str, Any]:
    """The LLM's reading of the message as schema-checked JSON (LLMError when it fails); `kinds` and `noun`: a
    schema catalog's facet values and item noun (its own prompt), None for films."""
    from chatbot.llm import complete_json

    prompt = understand_prompt(message[:MAX_LLM_MESSAGE_CHARS], kinds, noun)
    schema = intent_schema() if kinds is None else catalog_intent_schema(kinds)
    return complete_json(llm, prompt, schema, timeout_s=timeout_s, max_tokens=LLM_MAX_TOKENS)


def understand_prompt(message: str, kinds: tuple[str, ...] | None = None, noun: Any = None) -> Any:
    """The understanding prompt for a message: the films' own, or a schema catalog's with its kinds and noun."""
    from prompts import load_prompt

    if kinds is None:
        return load_prompt("understand").render(genres=list(GENRES), companions=list(COMPANIONS), message=message)
    return load_prompt("understand_catalog").render(
        noun=noun.en, nouns=noun.en_plural, verb=noun.verb_en, kinds=list(kinds), companions=list(COMPANIONS),
        example_want=kinds[0], example_not=kinds[-1], message=message)


@lru_cache(maxsize=8)
def catalog_intent_schema(kinds: tuple[str, ...]) -> dict[str, Any]:
    """The answer schema for a schema catalog: its kinds (facet values) as closed enums; no numbers (code reads them)."""
    base = copy.deepcopy(_schema())
    properties = {k: v for k, v in base["properties"].items() if k not in ("genres", "not_genres")}
    kind = {"type": "string", "enum": list(kinds)}
    properties["want"] = {"type": "array", "items": kind, "uniqueItems": True, "maxItems": 3}
    properties["not_want"] = {"type": "array", "items": kind, "uniqueItems": True, "maxItems": 4}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def intent_schema() -> dict[str, Any]:
    """The compact JSON schema the LLM answers in (closed vocabularies as plain string enums, "none" sentinels)."""
    return copy.deepcopy(_schema())


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


@dataclass
class Draft:
    """The slots being decided for one message: code's reading first, then what of the LLM's answer checks out."""

    notes: list[str]
    genres: list[str]
    excluded: list[str]
    wishes: list[str]
    companions: list[str]
    title_kinds: dict[str, str]  # item id -> how it was named ("mentioned", "liked", "more_like", ...)
    weather: str | None
    people: list[str] = field(default_factory=list)
    people_none: list[str] = field(default_factory=list)
    scalars: dict[str, Any] = field(default_factory=dict)  # the bounds: year_min, ..., max_age_rating
    hints: list[str] = field(default_factory=list)  # what the LLM guessed and the words did not say: search words

    @classmethod
    def from_reading(cls, reading: Reading) -> Draft:
        """Code's own reading, copied so the reading itself stays as it was."""
        return cls(notes=list(reading.notes), genres=list(reading.genres), excluded=list(reading.genres_excluded),
                   wishes=list(reading.wishes), companions=list(reading.companions),
                   title_kinds=dict(reading.titles), weather=reading.weather, people=list(reading.people),
                   people_none=list(reading.people_none), scalars=dict(reading.scalars))


def merge_llm_reading(draft: Draft, llm: dict[str, Any], reading: Reading, titles: TitleIndex,
                      match_person: Callable[[str], str | None], grounds: Grounds, echo: Echo = Echo()) -> str | None:
    """Add the LLM's checked suggestions to the draft where code found nothing; the LLM's intent if it is known.
    `echo`: the prompt's example answer, whose words the LLM's wish keeps only where the person said them."""
    language = reading.language if reading.language in ("en", "zh") else "en"
    wish = unechoed_wish(str(llm.get("wishes_en") or ""), grounds, echo)
    _merge_genres(draft, llm, grounds, language, wish, echo)
    _merge_bounds(draft, llm, grounds, language)
    if wish and wish not in draft.wishes:
        draft.wishes.insert(0, wish[:120])
    _merge_situation(draft, llm, grounds, language)
    for raw in llm.get("titles") or []:
        item_id = titles.match(str(raw))
        if item_id is None:
            draft.notes.append(f'"{raw}" is not in the catalog, so I left it out')
            continue
        draft.title_kinds.setdefault(item_id, "mentioned")
    for raw in llm.get("people") or []:
        _merge_person(draft, str(raw), match_person, grounds, language)
    return llm.get("intent") if llm.get("intent") in LLM_INTENTS else None


def _merge_situation(draft: Draft, llm: dict[str, Any], grounds: Grounds, language: str) -> None:
    """Companions and weather from the model only where code read none and the message has words that carry them."""
    with_ = [c for c in dict.fromkeys(llm.get("with") or []) if c in COMPANIONS]
    if with_ and not draft.companions:
        if grounds.situation("companions"):
            draft.companions = with_
        else:
            draft.notes.append(say("llm_unsupported", language, what="with " + ", ".join(with_)))
    weather = llm.get("weather")
    if weather in CONDITIONS and draft.weather is None:
        if grounds.situation("weather"):
            draft.weather = weather
        else:
            draft.notes.append(say("llm_unsupported", language, what=f"weather: {weather}"))


def _merge_person(draft: Draft, raw: str, match_person: Callable[[str], str | None], grounds: Grounds,
                  language: str) -> None:
    """A person the model names: in the catalog, written in the message, and not one the message rules out."""
    name = match_person(raw)
    if not name:
        draft.notes.append(f'no film in the catalog involves "{raw}", so I left that name out')
    elif name in draft.people or name in draft.people_none:
        if name in draft.people_none:
            draft.notes.append(say("llm_reader_wins", language, what=name))
    elif grounds.person_read_by_reader(name) not in (None, name):
        draft.notes.append(say("llm_reader_wins", language, what=name))
    elif not grounds.person(name, len(draft.people)):
        draft.notes.append(say("llm_unsupported", language, what=name))
    elif grounds.person_negated(name):
        draft.people_none.append(name)
    else:
        draft.people.append(name)


def _merge_bounds(draft: Draft, llm: dict[str, Any], grounds: Grounds, language: str) -> None:
    """Bounds the model proposes (when its answer carries any): kept only with their number in the message, and
    never over a field the rule reader bounded itself."""
    bounded = grounds.reading.bounded_fields
    for slot in BOUND_SLOTS:
        value = llm.get(slot)
        if value in (None, "", "none", 0):
            continue
        what = _bound_words(slot, value, language)
        field_name = slot.split("_")[0] if slot != "max_age_rating" else "age_rating"
        if field_name in bounded:
            if draft.scalars.get(slot) != value:
                draft.notes.append(say("llm_reader_wins", language, what=what))
        elif grounds.bound(slot, value):
            draft.scalars[slot] = value
        else:
            draft.notes.append(say("llm_unsupported", language, what=what))


def _bound_words(slot: str, value: Any, language: str) -> str:
    """A bound in a few words: "year ≤ 1985", "时长 ≥ 90"."""
    label = {"en": {"year": "year", "runtime": "runtime", "max": "rating"},
             "zh": {"year": "年份", "runtime": "时长", "max": "分级"}}[language][slot.split("_")[0]]
    op = "≤" if slot.endswith("_max") or slot == "max_age_rating" else "≥"
    return f"{label} {op} {value}"


def unechoed_wish(wish: str, grounds: Grounds, echo: Echo) -> str:
    """The LLM's English search wish without the words of the prompt's example answer that the person did not say
    (`Grounds.says`): "1990s comedy feel-good" for "Preferably one from the 1990s." is "1990s", while "light funny"
    for "something light and funny" or "轻松的喜剧" stays. Its other words are the model's reading and stay ("chess
    prodigy drama"); a wish left with no word of four letters or a number is none."""
    wish = wish.strip()
    if not wish or has_cjk(wish) or wish.lower() == "none":
        return ""
    kept = [w for w in wish.split()
            if not any(p in echo.words and not grounds.says(p) for p in PARTS.findall(w.lower()))]
    if not any(len(p) >= 4 or p.isdigit() or p[:1].isdigit() for w in kept for p in PARTS.findall(w.lower())):
        return ""
    return " ".join(kept).strip(" ,;-")


def _merge_genres(draft: Draft, llm: dict[str, Any], grounds: Grounds, language: str, wish: str = "",
                  echo: Echo = Echo()) -> None:
    """Exclusions only with a word for the genre after a negation in the message, and never one the reader read as
    wanted; wanted genres the person did not say are a hint, but not the prompt example's own genre."""
    llm_excluded = [g for g in llm.get("not_genres") or [] if g in GENRES and g not in draft.excluded]
    wanted = [g for g in llm_excluded if g in draft.genres]
    supported = [g for g in llm_excluded if g not in wanted and grounds.exclusion(g)]
    unsupported = [g for g in llm_excluded if g not in wanted and g not in supported]
    draft.excluded += supported
    if wanted:
        draft.notes.append(say("llm_reader_wins", language, what=", ".join(wanted)))
    if unsupported:
        no = "no " if language == "en" else "不要"
        draft.notes.append(say("llm_unsupported", language, what=no + ", ".join(unsupported)))
    said = " ".join(draft.wishes + [wish]).lower()
    hints = [g for g in llm.get("genres") or [] if g in GENRES and g not in draft.genres and g not in draft.excluded
             and g.lower() not in said and g not in echo.kinds]
    if hints:
        draft.hints.append(" ".join(g.lower() for g in hints))
        draft.notes.append(f"read as a hint, not a rule: {', '.join(hints)}")


def checked_place(reading: Reading, llm: dict[str, Any] | None, gazetteer: GazetteerLike | None,
                  notes: list[str]) -> tuple[PlaceSlot | None, str | None]:
    """The place: the gazetteer's own find first; the LLM's city only if it resolves and is named in the message."""
    mention = reading.place_mention
    if mention is not None and mention.place is not None:
        return place_slot(mention.text, mention.place), None
    city = str((llm or {}).get("city_en") or "").strip()
    if city and city.lower() != "none" and gazetteer is not None:
        place = gazetteer.resolve(city)
        said = title_key(reading.text)
        named = title_key(city) in said or (place is not None and title_key(place.name) in said)
        if place is not None and named:
            return place_slot(city, place), None
        notes.append(f'the model suggested the city "{city}", but I could not confirm it, so I did not use it')
    if mention is not None and mention.place is None and getattr(mention, "kind", "unknown") == "unknown":
        notes.append(f"I don't know where {mention.text} is, so I won't use local weather or time there")
        return None, mention.text
    return None, None


def place_slot(said: str, place: Place) -> PlaceSlot:
    """A resolved place as an intent slot."""
    return PlaceSlot(said=said, name=place.name, country_code=place.country_code, lat=place.lat, lon=place.lon,
                     timezone=place.timezone)
