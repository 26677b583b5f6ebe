"""The context step of a turn: where the person is, the weather there (stated wins over live), the local time and
part of day, and the context rules that situation fires; a failed source becomes a notice, never an error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable

from chatbot.turn.context import (ContextRule, Place, RuleOutcome, Situation, Weather, WeatherProvider,
                                  apply_context_rules, choose_weather, local_time, part_of_day)
from chatbot.turn.replies import say
from chatbot.turn.state import ContextSlots, DialogueState, context_after
from retrieval.errors import ContextUnavailable

if TYPE_CHECKING:
    from chatbot.turn.intent import TurnIntent


@dataclass(frozen=True)
class Situated:
    """The context step's outcome: the situation, the rules it fires, live weather to record, the local time."""

    situation: Situation
    rules: RuleOutcome
    live: Weather | None  # weather fetched this turn from the live service (the update step records it)
    local: datetime | None  # the wall-clock time at the person's place, when known
    notices: tuple[str, ...] = ()  # in the person's language: unknown place, weather service down


def situate(state: DialogueState, intent: TurnIntent | None, language: str, weather: WeatherProvider,
            clock: Callable[[], datetime], rules: tuple[ContextRule, ...] | None = None) -> Situated:
    """The situation this turn's intent puts the person in (`intent` None: the state's own, after a slot change);
    `rules`: the catalog's own context rules (None: the film rules)."""
    ctx = context_after(state, intent) if intent is not None else state.context
    notices: list[str] = []
    place = None
    if ctx.place and ctx.lat is not None and ctx.timezone:
        place = Place(ctx.place, ctx.country_code or "", ctx.lat, ctx.lon or 0.0, ctx.timezone)
    if intent is not None and intent.unknown_place:
        notices.append(say("unknown_place", language, place=intent.unknown_place))
    current, live = None, None
    if ctx.weather and ctx.weather_source == "stated":
        current = Weather(ctx.weather, ctx.temperature_c, "stated")
    elif place is not None:
        if ctx.weather_source == "live" and ctx.weather and not (intent is not None and intent.place):
            current = Weather(ctx.weather, ctx.temperature_c, "live")  # still the place the live weather was for
        else:
            choice = choose_weather(None, place, weather)
            current = live = choice.weather
            if current is None and choice.note:
                notices.append(say("weather_down", language, place=place.name))
    local = local_time_at(ctx, clock)
    pod = ctx.part_of_day
    if pod is None and place is not None:
        pod = part_of_day(local) if local is not None else None
    situation = Situation(place=place, weather=current, part_of_day=pod, companions=ctx.companions,
                          mood=ctx.mood, occasion=ctx.occasion)
    return Situated(situation, apply_context_rules(situation, rules), live, local, tuple(notices))


def local_time_at(ctx: ContextSlots, clock: Callable[[], datetime]) -> datetime | None:
    """The wall-clock time at the person's place, or None when the place or its time zone is unknown."""
    if not (ctx.timezone and ctx.place):
        return None
    place = Place(ctx.place, ctx.country_code or "", ctx.lat or 0.0, ctx.lon or 0.0, ctx.timezone)
    try:
        return local_time(place, clock())
    except ContextUnavailable:  # an unknown time zone: the turn goes without local time
        return None
