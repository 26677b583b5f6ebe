"""What one message asks for (TurnIntent) and the closed vocabularies every step of the turn shares, once."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retrieval.types import AGE_RATINGS, GENRES

# What a message does.
INTENTS: tuple[str, ...] = ("recommend", "refine", "more_like", "feedback", "ask_about_item", "chitchat", "reset")
# Canonical weather conditions (the only values `Weather.condition` takes).
CONDITIONS: tuple[str, ...] = ("clear", "cloudy", "rain", "snow", "storm", "fog", "hot", "cold")
# Parts of the day, with their local-clock bounds in `part_of_day`.
PARTS_OF_DAY: tuple[str, ...] = ("morning", "afternoon", "evening", "late night")
# Who the person watches with.
COMPANIONS: tuple[str, ...] = ("alone", "partner", "kids", "family", "friends", "colleagues")
# Moods and occasions the rules table can name.
MOODS: tuple[str, ...] = (
    "happy", "sad", "bored", "stressed", "tired", "lonely", "nostalgic", "adventurous", "romantic", "curious",
)
OCCASIONS: tuple[str, ...] = ("date night", "party", "birthday", "holiday", "family night", "sick day", "weekend")
WEATHER_SOURCES: tuple[str, ...] = ("stated", "live")

# Slots the person (or the UI) can lift: list slots drop one value or all, scalar slots are cleared, "year" and
# "runtime" clear both bounds. chatbot.turn.state's remove_slot works on these names.
LIST_SLOTS: tuple[str, ...] = ("wishes", "genres", "genres_excluded", "people", "people_none", "languages",
                               "countries", "languages_none", "countries_none", "liked_ids", "disliked_ids", "seed_ids")
SCALAR_SLOTS: tuple[str, ...] = ("year_min", "year_max", "runtime_min", "runtime_max", "max_age_rating", "focus_id")
CONTEXT_SCALARS: tuple[str, ...] = ("weather", "part_of_day", "mood", "occasion")
REMOVABLE_SLOTS: tuple[str, ...] = LIST_SLOTS + SCALAR_SLOTS + CONTEXT_SCALARS + ("place", "companions", "year", "runtime")
# The language of a message (the reply uses it).
MESSAGE_LANGUAGES: tuple[str, ...] = ("en", "zh", "other")


def check_genres(value: list[str]) -> list[str]:
    """Genres must be MovieLens names (ValueError otherwise)."""
    bad = [g for g in value if g not in GENRES]
    if bad:
        raise ValueError(f"unknown genres {bad}; expected names from {', '.join(GENRES)}")
    return value


def check_age_rating(value: str | None) -> str | None:
    """Age ratings are MPAA names (ValueError otherwise)."""
    if value is not None and value not in AGE_RATINGS:
        raise ValueError(f"unknown age rating {value!r}; expected {', '.join(AGE_RATINGS)}")
    return value


def check_removable(value: list[str]) -> list[str]:
    """Only slots that can be removed can be cleared (ValueError otherwise)."""
    bad = [v for v in value if v not in REMOVABLE_SLOTS]
    if bad:
        raise ValueError(f"cannot clear {bad}")
    return value


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
    hints: list[str] = Field(default_factory=list)  # kinds the LLM guessed, not said: search words, never a reason
    genres: list[str] = Field(default_factory=list)  # wanted, MovieLens names
    genres_excluded: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)  # as the catalog spells them
    people_none: list[str] = Field(default_factory=list)  # ruled out ("nothing by Woody Allen"), catalog spelling
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    max_age_rating: str | None = None
    languages: list[str] = Field(default_factory=list)  # film languages, catalog spelling
    countries: list[str] = Field(default_factory=list)
    languages_none: list[str] = Field(default_factory=list)  # film languages ruled out, catalog spelling
    countries_none: list[str] = Field(default_factory=list)  # film countries ruled out ("nothing American")
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
    # bounds set relative to the list shown last ("shorter", "older"), not by a number said: let go when nothing fits
    relative: list[Literal["runtime_max", "runtime_min", "year_max", "year_min"]] = Field(default_factory=list)
    # a schema catalog's own fields (chatbot/turn/understand/catalog_reading.py); empty for films
    facets_any: list[tuple[str, str]] = Field(default_factory=list)  # (facet, value) wanted
    facets_none: list[tuple[str, str]] = Field(default_factory=list)  # (facet, value) ruled out
    bounds: list[tuple[str, Literal["min", "max"], float]] = Field(default_factory=list)  # (number, side, value)
    cleared_fields: list[str] = Field(default_factory=list)  # fields lifted ("any time is fine")
    language: Literal["en", "zh", "other"] = "en"  # the message's language: the reply uses it
    injection: bool = False  # the message tried to change the assistant's instructions
    source: Literal["rules", "llm"] = "rules"  # "llm" when the LLM's reading was used (always checked by code)
    llm_error: str | None = None  # why the LLM's reading was not used, if it was asked and failed
    llm_busy: bool = False  # it was not used because the LLM was busy with other people's requests
    notes: list[str] = Field(default_factory=list)  # what the code decided, in words (the "what I understood" panel)
    notices: list[str] = Field(default_factory=list)  # said in the reply: bounds not applied (contradictory, absurd)

    @field_validator("genres", "genres_excluded")
    @classmethod
    def _known_genres(cls, value: list[str]) -> list[str]:
        """Genres must be MovieLens names."""
        return check_genres(value)

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
        return check_age_rating(value)

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
        return check_removable(value)
