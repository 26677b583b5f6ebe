"""Weather: the Weather value, the one-method WeatherProvider, Open-Meteo, fixed and offline providers, the choice.

Open-Meteo is the one outside service; tests swap in `FixedWeatherProvider` or a local stub URL.
Stated weather (what the person says) is found in `chatbot.turn.context.words`; `choose_weather` prefers it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from chatbot.turn.context.places import Place
from chatbot.turn.intent import CONDITIONS, WEATHER_SOURCES
from retrieval.errors import ContextUnavailable


@dataclass(frozen=True)
class Weather:
    """Weather at the person's place: a canonical condition, the temperature if known, and where it came from."""

    condition: str  # one of CONDITIONS
    temperature_c: float | None = None
    source: str = "stated"  # "stated" (the person said it) or "live" (a weather service)

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(f"unknown weather condition {self.condition!r}; expected one of {', '.join(CONDITIONS)}")
        if self.source not in WEATHER_SOURCES:
            raise ValueError(f"unknown weather source {self.source!r}; expected stated or live")


class WeatherProvider(Protocol):
    """Current weather at a place; raises ContextUnavailable when it cannot tell."""

    def current(self, place: Place) -> Weather:
        """The weather at `place` now."""
        ...


# WMO weather interpretation codes (Open-Meteo's `weather_code`) -> canonical conditions:
# 0-1 clear, 2-3 cloudy, 45/48 fog, 51-67 (drizzle, rain, freezing rain) and 80-82 (showers) rain,
# 71-77 and 85-86 snow, 95-99 thunderstorm. Then the temperature can override a mild sky: a clear or cloudy
# day at or above HOT_FROM_C is "hot"; a clear, cloudy or foggy day at or below COLD_TO_C is "cold".
_WMO_CONDITIONS: dict[int, str] = {
    **{c: "clear" for c in (0, 1)},
    **{c: "cloudy" for c in (2, 3)},
    **{c: "fog" for c in (45, 48)},
    **{c: "rain" for c in (*range(51, 68), 80, 81, 82)},
    **{c: "snow" for c in (*range(71, 78), 85, 86)},
    **{c: "storm" for c in range(95, 100)},
}
HOT_FROM_C = 30.0  # a clear or cloudy day at or above this is "hot"
COLD_TO_C = 0.0  # a clear, cloudy or foggy day at or below this is "cold"


def condition_from_wmo(code: int, temperature_c: float | None) -> str:
    """Canonical condition for a WMO weather code and temperature (table and thresholds above)."""
    try:
        condition = _WMO_CONDITIONS[int(code)]
    except (KeyError, TypeError, ValueError) as exc:
        raise ContextUnavailable(f"the weather service sent a weather code I don't know ({code!r})") from exc
    if temperature_c is not None:
        if condition in ("clear", "cloudy") and temperature_c >= HOT_FROM_C:
            return "hot"
        if condition in ("clear", "cloudy", "fog") and temperature_c <= COLD_TO_C:
            return "cold"
    return condition


class _OpenMeteoCurrent(BaseModel):
    """The `current` block of an Open-Meteo forecast answer (other fields are ignored)."""

    model_config = ConfigDict(extra="ignore")
    temperature_2m: float
    weather_code: int


class _OpenMeteoAnswer(BaseModel):
    """An Open-Meteo forecast answer, as far as we read it."""

    model_config = ConfigDict(extra="ignore")
    current: _OpenMeteoCurrent


class _Transient(Exception):
    """A failure worth one more try (timeout, connection refused, HTTP 5xx)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


DOWN_FOR_S = 30.0  # after a failed fetch, the weather service is taken as down this long


class OpenMeteoProvider:
    """Live weather from Open-Meteo's forecast API: timeout per try, at most `tries` tries, 30-minute cache."""

    def __init__(
        self,
        url: str = "https://api.open-meteo.com/v1/forecast",
        timeout_s: float = 2.0,
        tries: int = 2,
        cache_ttl_s: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout_s <= 0 or tries < 1:
            raise ValueError("timeout_s must be positive and tries at least 1")
        self.url = url
        self.timeout_s = timeout_s
        self.tries = tries
        self.cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._cache: dict[tuple[float, float], tuple[float, Weather]] = {}
        self._lock = threading.Lock()
        self._client: Any = None
        self._down: tuple[float, str] | None = None  # (until, why): a service found down is not asked again soon

    def current(self, place: Place) -> Weather:
        """The weather at `place`, from the cache when asked for the same spot (~1 km) within 30 minutes; a service
        that failed is not asked again for DOWN_FOR_S (nobody else waits for its time-out meanwhile)."""
        key = (round(place.lat, 2), round(place.lon, 2))
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] > now:
                return hit[1]
            if self._down is not None and self._down[0] > now:
                raise ContextUnavailable(self._down[1])
        try:
            weather = self._fetch(key)
        except ContextUnavailable as exc:
            if isinstance(exc.__cause__, _Transient):  # no answer or 5xx: down; a 4xx or garbage is this request's
                with self._lock:
                    self._down = (self._clock() + DOWN_FOR_S, str(exc))
            raise
        with self._lock:
            self._cache[key] = (self._clock() + self.cache_ttl_s, weather)
        return weather

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> Any:
        """The shared httpx client, made on first use."""
        import httpx

        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout_s), headers={"User-Agent": "tastebud/0.1"}
                )
            return self._client

    def _fetch(self, key: tuple[float, float]) -> Weather:
        """One bounded, retried request; every failure becomes ContextUnavailable with a plain message."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_fixed

        params = {
            "latitude": f"{key[0]:.2f}", "longitude": f"{key[1]:.2f}",
            "current": "temperature_2m,weather_code", "timezone": "UTC",
        }
        retrying = Retrying(
            stop=stop_after_attempt(self.tries) | stop_after_delay(self.timeout_s * self.tries),
            wait=wait_fixed(min(0.2, self.timeout_s / 4)),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        deadline = time.monotonic() + self.timeout_s * self.tries
        try:
            body = retrying(self._get_once, params, deadline)
        except _Transient as exc:
            raise ContextUnavailable(f"live weather is unavailable right now ({exc.reason})") from exc
        try:
            answer = _OpenMeteoAnswer.model_validate_json(body)
        except ValidationError as exc:
            raise ContextUnavailable("the weather service sent an answer I could not read") from exc
        current = answer.current
        return Weather(
            condition=condition_from_wmo(current.weather_code, current.temperature_2m),
            temperature_c=float(current.temperature_2m),
            source="live",
        )

    def _get_once(self, params: dict[str, str], deadline: float) -> bytes:
        """One GET within the time left; a transient failure raises _Transient, a refusal ContextUnavailable."""
        import httpx

        left = min(self.timeout_s, deadline - time.monotonic())
        if left < 0.05:
            raise _Transient(f"no answer within {self.timeout_s * self.tries:g} s")
        try:
            response = self._http().get(self.url, params=params, timeout=httpx.Timeout(left))
        except httpx.TimeoutException as exc:
            raise _Transient(f"no answer within {self.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:  # connection refused, reset, DNS failure ...
            raise _Transient(f"cannot reach the weather service: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise _Transient(f"the weather service failed with HTTP {response.status_code}")
        if response.status_code != 200:
            raise ContextUnavailable(f"the weather service refused the request (HTTP {response.status_code})")
        return response.content


class FixedWeatherProvider:
    """Scripted weather for tests and dialogue files: always the same answer, marked live."""

    def __init__(self, weather: Weather | dict[str, Any]) -> None:
        if isinstance(weather, dict):
            weather = Weather(
                condition=weather["condition"], temperature_c=weather.get("temperature_c"), source="live"
            )
        self.weather = weather
        self.calls = 0

    def current(self, place: Place) -> Weather:
        """The scripted weather, wherever the place."""
        self.calls += 1
        return self.weather


class OfflineWeatherProvider:
    """No live weather at all: every call says so."""

    def current(self, place: Place) -> Weather:
        """Always ContextUnavailable."""
        raise ContextUnavailable("live weather is off")


def make_weather_provider(url: str, timeout_s: float = 2.0) -> WeatherProvider:
    """The provider the `weather_url` setting names: "off" | "fixed:rain:8" | an Open-Meteo URL (timeout <= 2 s)."""
    url = (url or "").strip()
    if url.lower() in ("", "off", "none", "offline"):
        return OfflineWeatherProvider()
    if url.lower().startswith("fixed:"):
        _, condition, *rest = url.split(":")
        temp = float(rest[0]) if rest and rest[0] else None
        return FixedWeatherProvider(Weather(condition=condition.strip().lower(), temperature_c=temp, source="live"))
    return OpenMeteoProvider(url=url, timeout_s=min(timeout_s, 2.0))


@dataclass(frozen=True)
class WeatherChoice:
    """The weather a turn uses and, when live weather failed, a plain note saying why."""

    weather: Weather | None
    note: str | None = None


def choose_weather(stated: Weather | None, place: Place | None, provider: WeatherProvider) -> WeatherChoice:
    """Stated weather wins; else live weather for the place; a provider failure becomes a note, not an error."""
    if stated is not None:
        return WeatherChoice(stated)
    if place is None:
        return WeatherChoice(None)
    try:
        return WeatherChoice(provider.current(place))
    except ContextUnavailable as exc:
        return WeatherChoice(None, note=f"{exc}; I'm going without the weather in {place.name}")

