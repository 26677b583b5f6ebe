"""Dialogue scripts: YAML conversations read and validated into `Dialogue` objects, with file and line on errors.

A script names a profile (`new` or a MovieLens user such as `ml-user:42`, whose liked history seeds a fresh
profile), the weather a provider answers (`offline`, `down`, or `{condition: rain, temperature_c: 8}`), an
optional clock (`now: 2024-01-05T20:00:00Z`) and a list of steps. A step is either `user: "..."` with an
optional `expect:` mapping of checks, or `feedback: {item: N, signal: like|dislike|seen}` on the N-th item of
the last answer. Item filters (`all_items`, `some_item`, `none_of`) are `tastebud search --where` expressions.

The YAML is parsed with a SafeLoader that keeps the line of every mapping and key (what `prompts.load_data`
cannot give), so every error names the script line; `ScriptError` is a `DataFileError` like every data file's.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from retrieval.errors import DataFileError
from retrieval.errors import FilterError, TastebudError

# Every check a turn's `expect:` may hold, with what it means (also the text of the "unknown check" error).
CHECKS: dict[str, str] = {
    "understood": "subset match against the `understood` object (case-insensitive; weather = its condition)",
    "items": "number of items: {min: N, max: M} or an exact N",
    "all_items": "a --where filter every item shown must pass",
    "some_item": "a --where filter at least one item shown must pass",
    "none_of": "items that must not be shown: previous:N, an item id, or a --where filter",
    "reply_language": "the reply's language: en or zh",
    "grounded": "every catalog title named in the reply is one of this turn's items (or one the person named)",
    "no_repeat": "none of the items was shown in an earlier turn",
    "reply_contains_any": "the reply contains at least one of these phrases (case-insensitive)",
    "reply_not_contains": "the reply contains none of these phrases (case-insensitive)",
    "clarifying_question": "true: the turn asks the person a question (flagged, or ending in '?') instead of showing items",
    "describes": "the turn tells more about previous:N (an item of the last answer)",
    "than_previous": "every item is below/above every item of the previous answer: {runtime_min: less, year: greater}",
    "not_in_history": "none of the items is a film the warm-start user already liked (they have seen it)",
}
TOP_KEYS = ("name", "catalog", "profile", "weather", "now", "turns")
# the catalog a script talks to: the film demo, the recipes demo, or a catalog a test imports under this name
# (its --where fields are then checked when the script runs, against that catalog's schema)
SIGNALS = ("like", "dislike", "seen")
LANGUAGES = ("en", "zh")
_ML_USER = re.compile(r"^ml-user:\d+$")
PREVIOUS = re.compile(r"^previous:(\d+)$")


class ScriptError(DataFileError):
    """A dialogue script that cannot be run: names the file, the line and why."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Check:
    """One expectation of a turn: its name, its (validated) value and the line it was written on."""

    name: str
    value: Any
    line: int


@dataclass(frozen=True)
class UserTurn:
    """The person says something; the answer is checked."""

    message: str
    checks: tuple[Check, ...]
    line: int


@dataclass(frozen=True)
class FeedbackStep:
    """Like / dislike / seen on the N-th item (1-based) of the last answer that showed items."""

    position: int
    signal: str
    line: int


Step = UserTurn | FeedbackStep


@dataclass(frozen=True)
class Dialogue:
    """A whole scripted conversation."""

    name: str
    path: Path
    profile: str  # "new" or "ml-user:<id>"
    weather: str | dict[str, Any]  # "offline", "down" or {"condition": ..., "temperature_c": ...}
    now: datetime | None  # the clock the agent sees (local time, part of day); None = the real clock
    steps: tuple[Step, ...]
    catalog: str = "films"  # TASTEBUD_CATALOG for this conversation


class _Map(dict):
    """A YAML mapping that remembers the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings carry line numbers, so errors can point at the script line."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    """Build a `_Map` with the line of the mapping and of each of its keys."""
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(None, None, "a mapping key must be plain text",
                                                    key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line(obj: Any, key: Any = None, default: int = 0) -> int:
    """The line of a mapping (or of one of its keys)."""
    if isinstance(obj, _Map):
        if key is not None and key in obj.key_lines:
            return obj.key_lines[key]
        return obj.line
    return default


def _plain(obj: Any) -> Any:
    """Plain dicts and lists (no line bookkeeping) for the filter parser and JSON."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def load_script(path: Path | str) -> Dialogue:
    """Read and validate one dialogue script; ScriptError (file, line, reason) for anything wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(path, None, f"cannot read the script: {exc}") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScriptError(path, mark.line + 1 if mark else None, f"not valid YAML: {problem}") from None
    if not isinstance(data, _Map):
        raise ScriptError(path, 1, "a dialogue script is a mapping with `name` and `turns`")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise ScriptError(path, _line(data, unknown[0]),
                          f"unknown key {unknown[0]!r}; a script has {', '.join(TOP_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScriptError(path, _line(data, "name", 1), "the script needs a `name` (text)")
    profile = str(data.get("profile", "new")).strip()
    if profile != "new" and not _ML_USER.match(profile):
        raise ScriptError(path, _line(data, "profile"),
                          f"profile must be `new` or a MovieLens user like `ml-user:42`, not {profile!r}")
    weather = _weather_of(path, data)
    now = _clock_of(path, data)
    catalog = str(data.get("catalog", "films")).strip()
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", catalog):
        raise ScriptError(path, _line(data, "catalog"), f"catalog must be a catalog name such as films or recipes, "
                          f"not {catalog!r}")
    token = _KINDS.set(_kinds_of(catalog))
    turns = data.get("turns")
    if not isinstance(turns, list) or not turns:
        raise ScriptError(path, _line(data, "turns", 1), "`turns` must be a non-empty list of steps")
    steps: list[Step] = []
    seen_user = False
    try:
        for n, raw in enumerate(turns, 1):
            step = _step_of(path, raw, n, _line(data, "turns"))
            if isinstance(step, FeedbackStep) and not seen_user:
                raise ScriptError(path, step.line, "a feedback step needs an earlier `user` turn that showed items")
            seen_user = seen_user or isinstance(step, UserTurn)
            steps.append(step)
    finally:
        _KINDS.reset(token)
    return Dialogue(name=name.strip(), path=path, profile=profile, weather=weather, now=now, steps=tuple(steps),
                    catalog=catalog)


_KINDS: ContextVar[Any] = ContextVar("script_field_kinds", default=None)  # the fields --where may name (None: any)


def _kinds_of(catalog: str) -> Any:
    """The fields a script's filters may name: a demo catalog's, or None (checked when the script runs)."""
    from retrieval.fields import FILM_KINDS, field_kinds
    from retrieval.schema_file import PACKAGED, packaged_schema

    if catalog == "films":
        return FILM_KINDS
    return field_kinds(packaged_schema(catalog)) if catalog in PACKAGED else None


def _weather_of(path: Path, data: _Map) -> str | dict[str, Any]:
    """The `weather:` entry: offline, down, or a fixed provider answer {condition, temperature_c}."""
    from chatbot.turn.intent import CONDITIONS

    raw = data.get("weather", "offline")
    line = _line(data, "weather")
    if isinstance(raw, str) and raw.strip().lower() in ("offline", "down"):
        return raw.strip().lower()
    if isinstance(raw, dict):
        unknown = [k for k in raw if k not in ("condition", "temperature_c")]
        if unknown:
            raise ScriptError(path, _line(raw, unknown[0], line),
                              f"weather takes `condition` and `temperature_c`, not {unknown[0]!r}")
        condition = raw.get("condition")
        if condition not in CONDITIONS:
            raise ScriptError(path, _line(raw, "condition", line),
                              f"weather condition must be one of {', '.join(CONDITIONS)}, not {condition!r}")
        temp = raw.get("temperature_c")
        if temp is not None and (isinstance(temp, bool) or not isinstance(temp, (int, float))):
            raise ScriptError(path, _line(raw, "temperature_c", line), f"temperature_c must be a number, not {temp!r}")
        return {"condition": condition, "temperature_c": None if temp is None else float(temp)}
    raise ScriptError(path, line, f"weather must be offline, down or {{condition: rain, temperature_c: 8}}, not {raw!r}")


def _clock_of(path: Path, data: _Map) -> datetime | None:
    """The `now:` entry as an aware UTC datetime (YAML may already have parsed it)."""
    raw = data.get("now")
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ScriptError(path, _line(data, "now"),
                              f"now must be a date-time like 2024-01-05T20:00:00Z, not {raw!r}") from None
    if not isinstance(raw, datetime):
        raise ScriptError(path, _line(data, "now"), f"now must be a date-time like 2024-01-05T20:00:00Z, not {raw!r}")
    return raw if raw.tzinfo else raw.replace(tzinfo=timezone.utc)


def _step_of(path: Path, raw: Any, n: int, default_line: int) -> Step:
    """One step: `user:` (+ `expect:`) or `feedback:`."""
    line = _line(raw, default=default_line)
    if not isinstance(raw, dict):
        raise ScriptError(path, line, f"step {n} must be a mapping with `user:` or `feedback:`, not {raw!r}")
    if "feedback" in raw:
        extra = [k for k in raw if k != "feedback"]
        if extra:
            raise ScriptError(path, _line(raw, extra[0], line), f"a feedback step takes nothing but `feedback`, "
                                                              f"not {extra[0]!r}")
        fb = raw["feedback"]
        fb_line = _line(raw, "feedback", line)
        if not isinstance(fb, dict) or set(fb) != {"item", "signal"}:
            raise ScriptError(path, fb_line, "feedback must be {item: N, signal: like|dislike|seen}")
        pos, signal = fb["item"], fb["signal"]
        if isinstance(pos, bool) or not isinstance(pos, int) or pos < 1:
            raise ScriptError(path, _line(fb, "item", fb_line),
                              f"feedback item is a 1-based position in the last answer, not {pos!r}")
        if signal not in SIGNALS:
            raise ScriptError(path, _line(fb, "signal", fb_line),
                              f"feedback signal must be one of {', '.join(SIGNALS)}, not {signal!r}")
        return FeedbackStep(position=pos, signal=signal, line=fb_line)
    if "user" not in raw:
        raise ScriptError(path, line, f"step {n} needs `user:` (a message) or `feedback:`")
    extra = [k for k in raw if k not in ("user", "expect")]
    if extra:
        raise ScriptError(path, _line(raw, extra[0], line), f"unknown step key {extra[0]!r}; use user and expect")
    message = raw["user"]
    if not isinstance(message, str):
        raise ScriptError(path, _line(raw, "user", line), f"`user` must be text, not {message!r}")
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict):
        raise ScriptError(path, _line(raw, "expect", line), "`expect` must be a mapping of checks")
    checks = tuple(_check_of(path, name, value, _line(expect, name, line)) for name, value in expect.items())
    return UserTurn(message=message, checks=checks, line=_line(raw, "user", line))


def _check_of(path: Path, name: Any, value: Any, line: int) -> Check:
    """Validate one check's value; unknown checks and malformed filters name the line."""
    if name not in CHECKS:
        raise ScriptError(path, line, f"unknown check {name!r}; known checks: {', '.join(CHECKS)}")

    def fail(reason: str) -> ScriptError:
        """The error for this check's value."""
        return ScriptError(path, line, f"{name}: {reason}")

    return Check(name, _VALIDATORS.get(name, _boolean)(value, fail), line)


Fail = Callable[[str], ScriptError]


def _where(expr: Any, fail: Fail) -> dict[str, Any]:
    """A `--where` filter, checked by the filter parser."""
    from retrieval.filters import parse_where

    kinds = _KINDS.get()
    if kinds is None:  # an imported catalog: its fields are known when the script runs
        return _plain(expr)
    try:
        parse_where(_plain(expr), kinds)
    except FilterError as exc:
        raise fail(str(exc)) from None
    return _plain(expr)


def _understood(value: Any, fail: Fail) -> dict[str, Any]:
    """A non-empty mapping to match against `understood`."""
    if not isinstance(value, dict) or not value:
        raise fail("expected a mapping such as {location: Seattle, companions: [kids]}")
    return _plain(value)


def _items(value: Any, fail: Fail) -> dict[str, Any]:
    """{min, max} from an exact number or a {min: N, max: M} mapping."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return {"min": value, "max": value}
    if not isinstance(value, dict) or not value or set(value) - {"min", "max"}:
        raise fail("expected {min: N, max: M} or a number")
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise fail(f"{k} must be a whole number ≥ 0, not {v!r}")
    return {"min": value.get("min", 0), "max": value.get("max")}


def _none_of(value: Any, fail: Fail) -> tuple[Any, ...]:
    """previous:N references, item ids and filters."""
    entries = value if isinstance(value, list) else [value]
    if not entries:
        raise fail("expected previous:N, item ids or filters")
    out: list[Any] = []
    for entry in entries:
        if isinstance(entry, dict):
            out.append(_where(entry, fail))
        elif isinstance(entry, str) and (PREVIOUS.match(entry) or ":" in entry):
            out.append(entry)
        else:
            raise fail(f"{entry!r} is neither previous:N, an item id (ml:123) nor a --where filter")
    return tuple(out)


def _language(value: Any, fail: Fail) -> str:
    """en or zh."""
    if value not in LANGUAGES:
        raise fail(f"expected one of {', '.join(LANGUAGES)}, not {value!r}")
    return value


def _boolean(value: Any, fail: Fail) -> bool:
    """true or false (grounded, no_repeat, clarifying_question, not_in_history)."""
    if not isinstance(value, bool):
        raise fail(f"expected true or false, not {value!r}")
    return value


def _than_previous(value: Any, fail: Fail) -> dict[str, Any]:
    """{runtime_min|year: less|greater}."""
    if not isinstance(value, dict) or not value:
        raise fail("expected {runtime_min: less} or {year: greater}")
    for k, v in value.items():
        if k not in ("runtime_min", "year") or v not in ("less", "greater"):
            raise fail(f"compares runtime_min or year with less or greater, not {k}: {v}")
    return _plain(value)


def _phrases(value: Any, fail: Fail) -> tuple[str, ...]:
    """A phrase or a non-empty list of phrases."""
    phrases = [value] if isinstance(value, str) else value
    if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p for p in phrases):
        raise fail("expected a phrase or a list of phrases")
    return tuple(phrases)


def _describes(value: Any, fail: Fail) -> str:
    """previous:N."""
    if not isinstance(value, str) or not PREVIOUS.match(value):
        raise fail(f"expected previous:N, not {value!r}")
    return value


# The validator of each check's value (the boolean checks use `_boolean`).
_VALIDATORS: dict[str, Callable[[Any, Fail], Any]] = {
    "understood": _understood, "items": _items, "all_items": _where, "some_item": _where, "none_of": _none_of,
    "reply_language": _language, "than_previous": _than_previous, "reply_contains_any": _phrases,
    "reply_not_contains": _phrases, "describes": _describes,
}


def find_scripts(paths: Iterable[Path | str]) -> list[Path]:
    """The script files named (a folder means its *.yaml / *.yml files, sorted); TastebudError if none exist."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found += sorted(q for q in p.iterdir() if q.suffix in (".yaml", ".yml") and q.is_file())
        elif p.is_file():
            found.append(p)
        else:
            raise TastebudError(f"no dialogue script or folder at {p}")
    if not found:
        raise TastebudError("no dialogue scripts (*.yaml) found in " + ", ".join(str(p) for p in paths))
    return found
