"""Reading: what code alone understood in one message, filled in step by step by the rule reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chatbot.turn.understand.spans import Span

if TYPE_CHECKING:
    from chatbot.turn.context import Place, PlaceMention
    from chatbot.turn.understand.bounds import ConstraintReading


class GazetteerLike(Protocol):
    """What understanding needs from chatbot.turn.context.gazetteer.Gazetteer."""

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
    genres_by_name: list[str] = field(default_factory=list)  # wanted genres the message calls by their own name
    wishes: list[str] = field(default_factory=list)
    mood_wishes: dict[str, list[str]] = field(default_factory=dict)  # a film mood's wish -> its plain wishes
    companions: list[str] = field(default_factory=list)
    mood: str | None = None
    occasion: str | None = None
    languages: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    languages_none: list[str] = field(default_factory=list)  # ruled out ("nothing in English")
    countries_none: list[str] = field(default_factory=list)  # ruled out ("nothing American", 不要美国电影)
    scalars: dict[str, Any] = field(default_factory=dict)  # year_min, year_max, runtime_min, runtime_max, max_age_rating
    relative: dict[str, int] = field(default_factory=dict)  # slot -> a bound set relative to the last list ("shorter")
    constraints: ConstraintReading | None = None  # what the constraint grammar read (bounds, lifted fields, problems)
    people: list[str] = field(default_factory=list)  # catalog people named and wanted ("with Tom Hanks")
    people_none: list[str] = field(default_factory=list)  # catalog people named and ruled out ("nothing by ...")
    notices: list[str] = field(default_factory=list)  # said in the reply, in the message's language
    cleared: list[str] = field(default_factory=list)
    cues: set[str] = field(default_factory=set)
    references: list[int] = field(default_factory=list)
    rejected_refs: list[int] = field(default_factory=list)
    pronoun: bool = False
    titles: dict[str, str] = field(default_factory=dict)  # id -> the cue kind it came with ("more_like", "liked", ...)
    place_mention: Any = None  # chatbot.turn.context.places.PlaceMention
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
            self.genres or self.genres_excluded or self.people or self.people_none or self.wishes or self.companions
            or self.mood or self.occasion or self.languages or self.countries
            or self.languages_none or self.countries_none or self.scalars or self.cleared
            or self.notices or self.weather or self.part_of_day
            or (self.place_mention is not None)
        )

    @property
    def bounded_fields(self) -> set[str]:
        """Fields the message bounds in numbers ("before 1960"): vague words on them ("a classic") yield."""
        return set(self.constraints.fields) if self.constraints is not None else set()

    @property
    def points_at_focus(self) -> bool:
        """True when the message points at an item without naming it ("seen it", "tell me more", "more like that")."""
        return self.pronoun or (not self.leftover and not self.has_constraints)


def add_new(target: list[Any], values: Any) -> None:
    """Append each value not already in the list (order kept)."""
    for value in values:
        if value not in target:
            target.append(value)
