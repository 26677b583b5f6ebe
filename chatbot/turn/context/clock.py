"""The clock at the person's place: local time from a UTC instant, and the part of day it falls in."""

from __future__ import annotations

from datetime import datetime, timezone

from chatbot.turn.context.places import Place
from retrieval.errors import ContextUnavailable


def local_time(place: Place, now_utc: datetime) -> datetime:
    """The wall-clock time at `place` for a UTC instant (a naive datetime is taken as UTC)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if now_utc.tzinfo is None:
        now_utc = now_utc.replace(tzinfo=timezone.utc)
    try:
        zone = ZoneInfo(place.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ContextUnavailable(f"I don't know the time zone {place.timezone!r} of {place.name}") from exc
    return now_utc.astimezone(zone)


def part_of_day(dt: datetime) -> str:
    """Part of day for a local time: morning 05-12 h, afternoon 12-17 h, evening 17-22 h, late night 22-05 h."""
    hour = dt.hour
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "late night"
