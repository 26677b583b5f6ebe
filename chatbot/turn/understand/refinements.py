"""Slot values from what was read: refinements ("shorter", "older", "less violent", "any length") turned into
values, relative to the list shown last where the word says so, and the constraint reader's bounds, which win
over a vague word on the same field ("a classic, before 1960" is 1959 at most, not "old")."""

from __future__ import annotations

from typing import Any

from chatbot.turn.replies import say
from chatbot.turn.state import DialogueState
from chatbot.turn.understand.lexicon import Effect
from chatbot.turn.understand.reading import Reading, add_new
from chatbot.turn.understand.spans import Span
from retrieval.types import AGE_RATINGS, Item

_FIELD_OF = {"runtime_max": "runtime", "runtime_min": "runtime", "year_max": "year", "year_min": "year",
             "max_age_rating": "age_rating"}  # a refinement's slot -> the constraint field it bounds


def apply_effect(name: str, effect: Effect, reading: Reading, state: DialogueState, shown: list[Item],
                 newest_year: int) -> None:
    """Turn one refinement into slot values; `shown` holds the catalog items of the last list. A field the message
    bounds in numbers is left to the constraint reader."""
    sc = reading.scalars
    bounded = reading.bounded_fields
    runtimes = [i.runtime_min for i in shown if i.runtime_min]
    years = [i.year for i in shown if i.year]
    if effect.runtime == "shorter" and "runtime" not in bounded:
        sc["runtime_max"] = _shorter(runtimes, state, reading.notes)
        _relative(reading, "runtime_max", bool(runtimes or state.runtime_max))
    if effect.runtime == "longer" and "runtime" not in bounded:
        value = min(200, max(runtimes) + 1) if runtimes else max(120, (state.runtime_min or 100) + 20)
        sc["runtime_min"] = value
        reading.notes.append(f"longer: at least {value} min")
        _relative(reading, "runtime_min", bool(runtimes or state.runtime_min))
    if "year" not in bounded:
        _apply_years(effect, years, state, reading, newest_year)
    for key in ("runtime_max", "runtime_min", "year_max", "year_min", "max_age_rating"):
        value = getattr(effect, key)
        if value is not None and _FIELD_OF[key] not in bounded:
            sc[key] = value
    if effect.age_down and "age_rating" not in bounded:
        sc["max_age_rating"] = _rating_down(sc, state)
        reading.notes.append(f"{name}: rated {sc['max_age_rating']} at most")
    add_new(reading.genres, effect.genres)
    add_new(reading.genres_excluded, effect.genres_excluded)
    add_new(reading.wishes, effect.wishes)
    for wish in effect.wishes:  # a film's mood; another catalog reads the plain words (`apply_catalog_reading`)
        reading.mood_wishes[wish] = list(effect.plain_wishes)
    for slot in effect.clear:
        add_new(reading.cleared, [slot])
        for key in (f"{slot}_min", f"{slot}_max"):
            sc.pop(key, None)


def _relative(reading: Reading, slot: str, from_before: bool) -> None:
    """Mark the bound a relative word just set as relative ("shorter" than the list shown last, or than the bound
    before); a bound with nothing to be relative to ("something short" in a first message) is a fixed default."""
    if from_before:
        reading.relative[slot] = reading.scalars[slot]
    else:
        reading.relative.pop(slot, None)


def _shorter(runtimes: list[int], state: DialogueState, notes: list[str]) -> int:
    """The new longest runtime for "shorter": below the shortest film shown, and below the bound set before."""
    if runtimes:
        value = max(60, min(runtimes) - 1)
        notes.append(f"shorter than the last list (shortest {min(runtimes)} min): at most {value} min")
    else:
        current = state.runtime_max
        value = max(60, current - 20) if current else 100
        notes.append(f"shorter: at most {value} min")
    if state.runtime_max and value >= state.runtime_max:
        value = max(60, state.runtime_max - 15)
    return value


def _apply_years(effect: Effect, years: list[int], state: DialogueState, reading: Reading, newest_year: int) -> None:
    """Years: "older" / "newer" relative to the years shown last; "recent" relative to the catalog's newest year."""
    sc: dict[str, Any] = reading.scalars
    if effect.year == "older":
        value = min(years) - 1 if years else min(1990, (state.year_max or 1991) - 1)
        sc["year_max"] = value
        reading.notes.append(f"older: {value} or earlier")
        _relative(reading, "year_max", bool(years or state.year_max))
    if effect.year == "newer":
        value = min(newest_year - 2, max(years) + 1) if years else newest_year - 10
        sc["year_min"] = value
        reading.notes.append(f"newer: {value} or later")
        _relative(reading, "year_min", bool(years))
    if effect.recent_years is not None:
        sc["year_min"] = newest_year - effect.recent_years


def _rating_down(sc: dict[str, Any], state: DialogueState) -> str:
    """One age rating below the current bound (R when none), kept between PG and PG-13."""
    current = sc.get("max_age_rating") or state.max_age_rating or "R"
    idx = min(AGE_RATINGS.index("PG-13"), AGE_RATINGS.index(current) - 1)
    return AGE_RATINGS[max(AGE_RATINGS.index("PG"), idx)]


def apply_constraints(reading: Reading, titles: list[Span]) -> None:
    """The constraint reader's bounds into the slots (not those inside a film's title), the fields it lifted, and
    what was wrong with the numbers said (contradictory pairs, absurd values) as notices in the message's language."""
    found = reading.constraints
    if found is None:
        return
    for slot, bound in found.bounds.items():
        if not any(t.start <= bound.start < t.end for t in titles):
            reading.scalars[slot] = bound.value
    add_new(reading.cleared, found.cleared)
    if found.replacing:  # "actually, with Meryl Streep instead": the new list replaces the old one
        named = (("people", reading.people), ("genres", reading.genres))
        add_new(reading.cleared, [slot for slot, new in named if new])
    language = reading.language if reading.language in ("en", "zh") else "en"
    for low, high in found.contradictions:
        first, second = sorted((low, high), key=lambda b: b.start)
        reading.notices.append(say("bound_contradiction", language, first=first.words, second=second.words))
    for bound in found.absurd:
        reading.notices.append(say("bound_absurd", language, words=bound.words))
