"""The context rules table (`context_rules.yaml`): a person's Situation -> hard filters, soft wishes, leanings."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chatbot.turn.context.datafile import RULES_FILE, RulesFileError, describe, read_yaml
from chatbot.turn.context.places import Place
from chatbot.turn.context.weather import Weather
from chatbot.turn.intent import COMPANIONS, CONDITIONS, MOODS, OCCASIONS, PARTS_OF_DAY
from retrieval.fields import grouped
from retrieval.types import AGE_RATINGS, GENRES, Filters


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
    """The hard filters a rule may set (a subset of retrieval.types.Filters); a schema catalog's rules name its
    own facets and numbers (`none_of`, `at_most`)."""

    model_config = ConfigDict(extra="forbid")
    max_age_rating: Literal[AGE_RATINGS] | None = None  # type: ignore[valid-type]
    genres_none: list[Literal[GENRES]] = []  # type: ignore[valid-type]
    runtime_max: int | None = Field(None, ge=30, le=600)
    none_of: dict[str, list[str]] = {}  # facet -> values ruled out ("temperature: [cold]")
    at_most: dict[str, float] = {}  # number field -> its highest value ("difficulty: 3")


class _Rule(BaseModel):
    """One row of context_rules.yaml."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=3)
    when: _When
    filters: _RuleFilters = _RuleFilters()
    wishes: list[str] = []
    leanings: list[str] = []  # genres (films) or facet values to favour softly

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
    none_of: tuple[tuple[str, str], ...] = ()
    at_most: tuple[tuple[str, float], ...] = ()

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
def load_context_rules(path: str | None = None, films: bool = True) -> tuple[ContextRule, ...]:
    """The rules table from `context_rules.yaml` (or `path`: a catalog's own), validated; RulesFileError names the
    bad rule. Film rules lean towards MovieLens genres; a catalog's rules may lean towards any words."""
    raw = read_yaml(path, RULES_FILE)
    where = path or RULES_FILE
    if not isinstance(raw, dict) or set(raw) != {"rules"} or not isinstance(raw["rules"], list) or not raw["rules"]:
        raise RulesFileError(f"{where} must hold exactly one key, `rules`, with a non-empty list of rules")
    rules: list[ContextRule] = []
    seen: set[str] = set()
    for n, row in enumerate(raw["rules"], start=1):
        label = f"rule {n}" + (f" ({row['name']!r})" if isinstance(row, dict) and row.get("name") else "")
        try:
            rule = _Rule.model_validate(row)
        except ValidationError as exc:
            raise RulesFileError(f"{where}, {label}: {describe(exc)}") from exc
        if rule.name in seen:
            raise RulesFileError(f"{where}, {label}: the name is used by another rule")
        if films and set(rule.leanings) - set(GENRES):
            raise RulesFileError(f"{where}, {label}: leanings must be genre names ({', '.join(GENRES)})")
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
                none_of=tuple((f, v) for f, values in rule.filters.none_of.items() for v in values),
                at_most=tuple(rule.filters.at_most.items()),
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
        none_of=grouped(v for r in fired for v in r.none_of),
        ranges=tuple((f, None, limit) for r in fired for f, limit in r.at_most),
    )
    return RuleOutcome(
        filters=filters,
        wishes=list(dict.fromkeys(w for r in fired for w in r.wishes)),
        fired=[r.name for r in fired],
        leanings=list(dict.fromkeys(g for r in fired for g in r.leanings)),
    )

