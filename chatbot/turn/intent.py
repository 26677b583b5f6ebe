"""What one message asks for (TurnIntent) and the closed vocabularies every step of the turn shares, once."""

from __future__ import annotations

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
