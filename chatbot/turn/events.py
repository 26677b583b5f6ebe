"""The reply of a turn as typed events: frozen payloads, and `ReplyEvent(kind, payload)` whose `.data` is the wire dict.

A turn streams `understood`, `items`, `note`* and `done` (or `error`); a door waiting in line adds `busy`.
Every payload is a frozen dataclass; `to_wire` is the one place a payload becomes the JSON-ready dict every door
sends (fields in order, tuples as lists, nested payloads as dicts, an optional field left out while it is None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chatbot.turn.notes.templates import card_facts

if TYPE_CHECKING:
    from retrieval.types import Item

_OPTIONAL = {"optional": True}  # field metadata: left out of the wire dict while the value is None


@dataclass(frozen=True)
class Card:
    """One recommended item as every door shows it; `note` arrives once it is written."""

    id: str
    title: str
    year: int | None
    genres: tuple[str, ...]
    age_rating: str | None
    runtime_min: int | None
    why: tuple[str, ...] = ()  # short chips saying why it fits
    note: str | None = field(default=None, metadata=_OPTIONAL)
    facts: tuple[str, ...] | None = field(default=None, metadata=_OPTIONAL)  # a schema catalog's ("20 minutes")

    @classmethod
    def of(cls, item: Item, why: tuple[str, ...] = (), note: str | None = None) -> Card:
        """The card of a catalog item."""
        return cls(id=item.id, title=item.title, year=item.year, genres=tuple(item.genres),
                   age_rating=item.age_rating, runtime_min=item.runtime_min, why=tuple(why), note=note,
                   facts=card_facts(item))


def card(item: Item, why: tuple[str, ...] = (), note: str | None = None) -> dict[str, Any]:
    """The card of an item as every door shows it, as the wire dict."""
    return to_wire(Card.of(item, why, note))


@dataclass(frozen=True)
class WeatherShown:
    """The weather a turn used and where it came from ("stated" or "live")."""

    condition: str | None
    source: str | None
    temperature_c: float | None


@dataclass(frozen=True)
class Understood:
    """The "what I understood" panel: intent, situation, slots, hard filters, rules that fired, notes."""

    intent: str | None
    location: str | None
    unknown_place: str | None
    weather: WeatherShown
    local_time: str | None  # "YYYY-MM-DD HH:MM" at the person's place
    part_of_day: str | None
    companions: tuple[str, ...]
    mood: str | None
    occasion: str | None
    filters: Mapping[str, Any]  # the hard filters that are set (see recommend.describe_filters)
    wishes: tuple[str, ...]
    liked: tuple[str, ...]  # titles
    disliked: tuple[str, ...]  # titles
    rules_fired: tuple[str, ...]
    notes: tuple[str, ...]
    understanding: str | None  # "rules" or "llm"
    clarifying_question: bool | None = field(default=None, metadata=_OPTIONAL)  # True: the reply asks back


@dataclass(frozen=True)
class Items:
    """The cards of a turn, sent before their notes."""

    items: tuple[Card, ...]


@dataclass(frozen=True)
class NoteDelta:
    """A piece of the note of the card at `position` (1-based) as it is written."""

    position: int
    delta: str


@dataclass(frozen=True)
class NoteFinal:
    """The checked note of the card at `position` (1-based); replaces the pieces shown before."""

    position: int
    final: str


@dataclass(frozen=True)
class Timings:
    """Milliseconds each step of a turn took (0.0 for a step the turn did not run)."""

    understand_ms: float
    retrieve_ms: float
    rank_ms: float
    first_card_ms: float
    total_ms: float


@dataclass(frozen=True)
class Done:
    """The whole answer of a turn, sent last."""

    session_id: str
    profile_id: str
    reply: str
    language: str
    understood: Understood
    items: tuple[Card, ...]
    timings: Timings
    about_item: Card | None = field(default=None, metadata=_OPTIONAL)  # the item a "tell me more" was about


@dataclass(frozen=True)
class Busy:
    """The person's place in line while another turn holds the LLM."""

    position: int


@dataclass(frozen=True)
class ErrorEvent:
    """Something went wrong, in words meant for the person."""

    message: str


@dataclass(frozen=True)
class FeedbackRecorded:
    """The answer to like / dislike / seen: the session's liked and disliked ids after it."""

    session_id: str
    item_id: str
    signal: str
    liked: tuple[str, ...]
    disliked: tuple[str, ...]


Payload = Understood | Items | NoteDelta | NoteFinal | Done | Busy | ErrorEvent

KINDS: dict[type, str] = {
    Understood: "understood", Items: "items", NoteDelta: "note", NoteFinal: "note", Done: "done", Busy: "busy",
    ErrorEvent: "error",
}


def to_wire(payload: Any) -> dict[str, Any]:
    """The JSON-ready dict of a payload: the one serialisation of every reply type."""
    out: dict[str, Any] = {}
    for f in fields(payload):
        value = getattr(payload, f.name)
        if value is None and f.metadata.get("optional"):
            continue
        out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    """A field value as plain JSON data: payloads as dicts, tuples as lists, mappings copied."""
    if is_dataclass(value) and not isinstance(value, type):
        return to_wire(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class ReplyEvent:
    """One streamed piece of a turn: understood, items, note, done, busy or error, with its typed payload."""

    kind: str
    payload: Payload

    def __post_init__(self) -> None:
        """The kind must be the payload's kind."""
        expected = KINDS.get(type(self.payload))
        if expected != self.kind:
            raise TypeError(f"a {type(self.payload).__name__} payload is a {expected!r} event, not {self.kind!r}")

    @classmethod
    def of(cls, payload: Payload) -> ReplyEvent:
        """The event that carries a payload."""
        return cls(KINDS[type(payload)], payload)

    @cached_property
    def data(self) -> dict[str, Any]:
        """The payload as the wire dict (the JSON every door sends)."""
        return to_wire(self.payload)
