"""Scripted dialogue tests: YAML conversations run through exactly `Agent.respond`, each turn checked.

A script names a profile (`new` or a MovieLens user such as `ml-user:42`, whose liked history seeds a fresh
profile), the weather a provider answers (`offline`, `down`, or `{condition: rain, temperature_c: 8}`), an
optional clock (`now: 2024-01-05T20:00:00Z`) and a list of steps. A step is either `user: "..."` with an
optional `expect:` mapping of checks, or `feedback: {item: N, signal: like|dislike|seen}` on the N-th item of
the last answer. Item filters (`all_items`, `some_item`, `none_of`) are `tastebud search --where` expressions,
evaluated on the full catalog item (not the card) with `retrieval.filters.item_matches_where`.

Every dialogue gets its own temporary profile database, so dialogues never see each other's sessions or
feedback, while the loaded agent (index, models, LLM) is shared by the whole run.
"""

from __future__ import annotations

import copy
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import yaml

from retrieval.types import FilterError, Item, TastebudError

if TYPE_CHECKING:
    from chatbot.turn.agent import Agent
    from chatbot.config import Settings

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
TOP_KEYS = ("name", "profile", "weather", "now", "turns")
SIGNALS = ("like", "dislike", "seen")
LANGUAGES = ("en", "zh")
_ML_USER = re.compile(r"^ml-user:\d+$")
_PREVIOUS = re.compile(r"^previous:(\d+)$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w+", re.UNICODE)


class ScriptError(TastebudError):
    """A dialogue script that cannot be run: names the file, the line and why."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


# ---------------------------------------------------------------------------------------------- the script
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
    turns = data.get("turns")
    if not isinstance(turns, list) or not turns:
        raise ScriptError(path, _line(data, "turns", 1), "`turns` must be a non-empty list of steps")
    steps: list[Step] = []
    seen_user = False
    for n, raw in enumerate(turns, 1):
        step = _step_of(path, raw, n, _line(data, "turns"))
        if isinstance(step, FeedbackStep) and not seen_user:
            raise ScriptError(path, step.line, "a feedback step needs an earlier `user` turn that showed items")
        seen_user = seen_user or isinstance(step, UserTurn)
        steps.append(step)
    return Dialogue(name=name.strip(), path=path, profile=profile, weather=weather, now=now, steps=tuple(steps))


def _weather_of(path: Path, data: _Map) -> str | dict[str, Any]:
    """The `weather:` entry: offline, down, or a fixed provider answer {condition, temperature_c}."""
    from chatbot.turn.context.situation import CONDITIONS

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
    from retrieval.filters import parse_where

    if name not in CHECKS:
        raise ScriptError(path, line, f"unknown check {name!r}; known checks: {', '.join(CHECKS)}")

    def fail(reason: str) -> ScriptError:
        return ScriptError(path, line, f"{name}: {reason}")

    def where(expr: Any) -> dict[str, Any]:
        try:
            parse_where(_plain(expr))
        except FilterError as exc:
            raise fail(str(exc)) from None
        return _plain(expr)

    if name == "understood":
        if not isinstance(value, dict) or not value:
            raise fail("expected a mapping such as {location: Seattle, companions: [kids]}")
        return Check(name, _plain(value), line)
    if name == "items":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return Check(name, {"min": value, "max": value}, line)
        if not isinstance(value, dict) or not value or set(value) - {"min", "max"}:
            raise fail("expected {min: N, max: M} or a number")
        for k, v in value.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise fail(f"{k} must be a whole number ≥ 0, not {v!r}")
        return Check(name, {"min": value.get("min", 0), "max": value.get("max")}, line)
    if name in ("all_items", "some_item"):
        return Check(name, where(value), line)
    if name == "none_of":
        entries = value if isinstance(value, list) else [value]
        if not entries:
            raise fail("expected previous:N, item ids or filters")
        out: list[Any] = []
        for entry in entries:
            if isinstance(entry, dict):
                out.append(where(entry))
            elif isinstance(entry, str) and (_PREVIOUS.match(entry) or ":" in entry):
                out.append(entry)
            else:
                raise fail(f"{entry!r} is neither previous:N, an item id (ml:123) nor a --where filter")
        return Check(name, tuple(out), line)
    if name == "reply_language":
        if value not in LANGUAGES:
            raise fail(f"expected one of {', '.join(LANGUAGES)}, not {value!r}")
        return Check(name, value, line)
    if name in ("grounded", "no_repeat", "clarifying_question", "not_in_history"):
        if not isinstance(value, bool):
            raise fail(f"expected true or false, not {value!r}")
        return Check(name, value, line)
    if name == "than_previous":
        if not isinstance(value, dict) or not value:
            raise fail("expected {runtime_min: less} or {year: greater}")
        for k, v in value.items():
            if k not in ("runtime_min", "year") or v not in ("less", "greater"):
                raise fail(f"compares runtime_min or year with less or greater, not {k}: {v}")
        return Check(name, _plain(value), line)
    if name in ("reply_contains_any", "reply_not_contains"):
        phrases = [value] if isinstance(value, str) else value
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p for p in phrases):
            raise fail("expected a phrase or a list of phrases")
        return Check(name, tuple(phrases), line)
    # describes
    if not isinstance(value, str) or not _PREVIOUS.match(value):
        raise fail(f"expected previous:N, not {value!r}")
    return Check(name, value, line)


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


# ---------------------------------------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class TurnOutcome:
    """What happened in one step and which checks failed (with the reason for each)."""

    n: int
    kind: str  # "user" or "feedback"
    text: str  # the message, or "feedback dislike on item 1"
    line: int
    failures: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()  # items shown this turn
    reply: str = ""

    @property
    def passed(self) -> bool:
        """True when every check held."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the runner's --json output."""
        return {"n": self.n, "passed": self.passed, "failures": list(self.failures), "kind": self.kind,
                "text": self.text, "items": list(self.titles)}


@dataclass(frozen=True)
class DialogueOutcome:
    """One script's result: its turns, or the script error that stopped it."""

    name: str
    path: str
    turns: tuple[TurnOutcome, ...] = ()
    error: str | None = None

    @property
    def passed(self) -> bool:
        """True when the script ran and every turn passed."""
        return self.error is None and all(t.passed for t in self.turns)

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the runner's --json output."""
        out: dict[str, Any] = {"name": self.name, "file": self.path, "passed": self.passed,
                               "turns": [t.to_dict() for t in self.turns]}
        if self.error:
            out["error"] = self.error
        return out

    def lines(self) -> list[str]:
        """Human-readable report: one line per turn, one per failed check."""
        mark = "PASS" if self.passed else "FAIL"
        out = [f"{mark} {self.name}  ({self.path})"]
        if self.error:
            out.append(f"  script error: {self.error}")
        for t in self.turns:
            head = f"  {'ok  ' if t.passed else 'FAIL'} turn {t.n} (line {t.line}): {_short(t.text, 70)}"
            if t.titles:
                head += f"  -> {', '.join(_short(x, 30) for x in t.titles)}"
            out.append(head)
            out += [f"        - {f}" for f in t.failures]
        return out


@dataclass(frozen=True)
class RunReport:
    """All dialogues of a run."""

    dialogues: tuple[DialogueOutcome, ...]

    @property
    def passed(self) -> int:
        """Number of dialogues that passed."""
        return sum(d.passed for d in self.dialogues)

    @property
    def failed(self) -> int:
        """Number of dialogues that failed (script errors included)."""
        return len(self.dialogues) - self.passed

    def to_dict(self) -> dict[str, Any]:
        """The `tastebud dialogue-test --json` object."""
        return {"passed": self.passed, "failed": self.failed, "dialogues": [d.to_dict() for d in self.dialogues]}


def _short(text: str, n: int) -> str:
    """Text cut to n characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# ---------------------------------------------------------------------------------------------- the agent per dialogue
def derive_agent(base: Agent, **parts: Any) -> Agent:
    """A shallow copy of a loaded agent with some parts swapped (profiles, weather, clock, ranking, write_notes).

    The copy shares the searcher, the understander, the copywriter, the interest model and the LLM: loading those
    is the slow part, and none of them holds per-conversation state.
    """
    agent = copy.copy(base)
    for name, value in parts.items():
        if not hasattr(base, name):
            raise TastebudError(f"the agent has no part named {name!r} to swap")
        setattr(agent, name, value)
    return agent


def weather_provider(spec: str | dict[str, Any]) -> Any:
    """The weather provider a script's `weather:` names."""
    from chatbot.turn.context.situation import FixedWeatherProvider, OfflineWeatherProvider

    if isinstance(spec, dict):
        return FixedWeatherProvider(spec)
    if spec == "down":
        return DownWeatherProvider()
    return OfflineWeatherProvider()


class DownWeatherProvider:
    """A weather service that is unreachable: every call fails the way a timed-out request does."""

    def current(self, place: Any) -> Any:
        """Always ContextUnavailable (service unreachable)."""
        from retrieval.types import ContextUnavailable

        raise ContextUnavailable("the weather service did not answer (unreachable)")


def open_agent(settings: Settings, **options: Any) -> Agent:
    """Load the real agent once for a run, with a scratch profile store (each dialogue gets its own anyway)."""
    from chatbot.turn.agent import Agent
    from chatbot.turn.context.situation import OfflineWeatherProvider
    from chatbot.profiles import ProfileStore

    scratch = Path(tempfile.mkdtemp(prefix="tastebud-dialogues-"))
    return Agent.from_settings(settings, weather=OfflineWeatherProvider(), profiles=ProfileStore.open(scratch),
                               **options)


# ---------------------------------------------------------------------------------------------- titles in a reply
class TitleFinder:
    """Finds catalog titles named in a text (exact casing, whole words), for the `grounded` check."""

    def __init__(self, items: Iterable[Item]) -> None:
        self._titles: dict[tuple[str, ...], list[str]] = {}
        self._max = 1
        for item in items:
            words = tuple(_WORD.findall(item.title))
            if not words or all(w.isdigit() for w in words) or (len(words) == 1 and len(words[0]) < 4):
                continue  # "1984" is also a year; "Up", "It", "Ran" are too common to tell apart from prose
            self._titles.setdefault(words, []).append(item.id)
            self._max = max(self._max, len(words))

    def spans(self, text: str) -> list[tuple[int, int, tuple[str, ...]]]:
        """(first word, end word, words) of every catalog title in the text, longest first where they overlap."""
        tokens = [(m.group(0), m.start()) for m in _WORD.finditer(text)]
        words = [t for t, _ in tokens]
        found: list[tuple[int, int, tuple[str, ...]]] = []
        taken: set[int] = set()
        for size in range(min(self._max, len(words)), 0, -1):
            for i in range(0, len(words) - size + 1):
                key = tuple(words[i:i + size])
                if key not in self._titles or taken & set(range(i, i + size)):
                    continue
                if size == 1 and (_starts_sentence(text, tokens[i][1]) or _in_name(text, tokens, i)):
                    continue  # a sentence's first word, or part of a name ("Geoffrey Rush"), is not a title
                found.append((i, i + size, key))
                taken.update(range(i, i + size))
        return found

    def ungrounded(self, text: str, allowed_titles: Iterable[str]) -> list[str]:
        """Catalog titles named in the text that are not among the allowed ones (or inside them)."""
        allowed = {tuple(_WORD.findall(t)) for t in allowed_titles}
        tokens = _WORD.findall(text)
        inside: set[int] = set()
        for a in allowed:
            for i in range(0, len(tokens) - len(a) + 1):
                if a and tuple(tokens[i:i + len(a)]) == a:
                    inside.update(range(i, i + len(a)))
        out = []
        for start, end, words in self.spans(text):
            if words in allowed or set(range(start, end)) <= inside:
                continue
            out.append(" ".join(words))
        return list(dict.fromkeys(out))


def _in_name(text: str, tokens: list[tuple[str, int]], i: int) -> bool:
    """True when the word at i is joined by a space to a capitalised word that does not open a sentence."""
    for j in (i - 1, i + 1):
        if not 0 <= j < len(tokens) or not tokens[j][0][:1].isupper():
            continue
        a, b = sorted((i, j))
        gap = text[tokens[a][1] + len(tokens[a][0]):tokens[b][1]]
        if gap.strip() == "" and not _starts_sentence(text, tokens[j][1]):
            return True
    return False


def _starts_sentence(text: str, pos: int) -> bool:
    """True when the word at `pos` opens the text, a line, a sentence or a numbered entry."""
    before = text[:pos].rstrip(" \t\"'“‘(")
    return not before or before[-1] in ".!?:\n。！？：-*•" or bool(re.search(r"\n\s*\d+[.)]$", before))


# ---------------------------------------------------------------------------------------------- the runner
@dataclass
class _Transcript:
    """What the runner remembers while a dialogue runs."""

    session_id: str | None = None
    answers: list[list[dict[str, Any]]] = field(default_factory=list)  # item cards of each turn that showed items
    shown: set[str] = field(default_factory=set)
    history: set[str] = field(default_factory=set)  # the warm-start user's liked films


@dataclass(frozen=True)
class _TurnView:
    """What a check looks at: the done event, its items, the previous answer and the transcript."""

    done: dict[str, Any]
    items: list[dict[str, Any]]
    previous: list[dict[str, Any]]
    tr: _Transcript
    reply: str
    understood: dict[str, Any]


class DialogueRunner:
    """Runs dialogue scripts through `Agent.respond` of one loaded agent, each in a fresh profile store."""

    def __init__(self, agent: Agent, catalog: dict[str, Item], data_dir: Path | None = None,
                 warm_likes: Callable[[str], list[str]] | None = None) -> None:
        self.agent = agent
        self.catalog = catalog
        self.data_dir = data_dir
        self._warm_likes = warm_likes
        self._titles: TitleFinder | None = None

    @classmethod
    def from_agent(cls, agent: Agent, data_dir: Path) -> DialogueRunner:
        """A runner over the agent's own catalog; warm-start users come from the data dir's interactions."""
        return cls(agent, dict(agent.items), data_dir)

    @property
    def titles(self) -> TitleFinder:
        """The catalog title finder (built on first use)."""
        if self._titles is None:
            self._titles = TitleFinder(self.catalog.values())
        return self._titles

    def warm_likes(self, user: str) -> list[str]:
        """Liked items (rating ≥ 4) of a MovieLens user before their held-out test film."""
        if self._warm_likes is not None:
            return self._warm_likes(user)
        if self.data_dir is None:
            raise TastebudError("a warm-start profile needs the data dir's interactions")
        from chatbot.evaluation.simulate import history_likes

        return history_likes(self.data_dir, list(self.catalog), user)

    # -- running
    def run_paths(self, paths: Iterable[Path | str]) -> Iterator[DialogueOutcome]:
        """Each script's outcome in turn; a broken script is reported (file, line, why) and the rest still run."""
        for path in find_scripts(paths):
            try:
                dialogue = load_script(path)
            except ScriptError as exc:
                yield DialogueOutcome(name=path.stem, path=str(path), error=str(exc))
                continue
            yield self.run(dialogue)

    def run(self, dialogue: Dialogue) -> DialogueOutcome:
        """Run one dialogue in its own temporary profile store and check every turn."""
        from chatbot.profiles import ProfileStore

        with tempfile.TemporaryDirectory(prefix="tastebud-dialogue-") as tmp:
            store = ProfileStore.open(Path(tmp))
            try:
                parts: dict[str, Any] = {"profiles": store, "weather": weather_provider(dialogue.weather)}
                if dialogue.now is not None:
                    now = dialogue.now
                    parts["clock"] = lambda: now
                agent = derive_agent(self.agent, **parts)
                transcript = _Transcript()
                try:
                    profile_id = self._profile(store, dialogue.profile, transcript)
                except TastebudError as exc:
                    return DialogueOutcome(dialogue.name, str(dialogue.path),
                                           error=f"{dialogue.path}: profile {dialogue.profile}: {exc}")
                turns = [self._step(agent, dialogue, n, step, transcript, profile_id)
                         for n, step in enumerate(dialogue.steps, 1)]
            finally:
                store.close()
        return DialogueOutcome(dialogue.name, str(dialogue.path), tuple(turns))

    def _profile(self, store: Any, profile: str, tr: _Transcript) -> str | None:
        """None for a new person; for a MovieLens user, a fresh profile seeded with their liked films."""
        if profile == "new":
            return None
        likes = [i for i in self.warm_likes(profile) if i in self.catalog]
        if not likes:
            raise TastebudError(f"no liked films for {profile} in the interactions")
        tr.history.update(likes)
        profile_id = store.new_profile()
        for item_id in likes:
            store.add_feedback(profile_id, None, item_id, "like")
        return profile_id

    def _step(self, agent: Agent, dialogue: Dialogue, n: int, step: Step, tr: _Transcript,
              profile_id: str | None) -> TurnOutcome:
        """Run one step and check it."""
        if isinstance(step, FeedbackStep):
            return self._feedback(agent, dialogue, n, step, tr)
        return self._turn(agent, n, step, tr, profile_id)

    def _feedback(self, agent: Agent, dialogue: Dialogue, n: int, step: FeedbackStep, tr: _Transcript) -> TurnOutcome:
        """Like / dislike / seen on an item of the last answer, through `Agent.feedback`."""
        text = f"feedback {step.signal} on item {step.position}"
        last = tr.answers[-1] if tr.answers else []
        if step.position > len(last) or tr.session_id is None:
            why = (f"{dialogue.path}:{step.line}: feedback points at item {step.position}, but the last answer "
                   f"showed {len(last)} item(s)")
            return TurnOutcome(n, "feedback", text, step.line, (why,))
        item = last[step.position - 1]
        try:
            agent.feedback(tr.session_id, item["id"], step.signal)
        except TastebudError as exc:
            return TurnOutcome(n, "feedback", text, step.line, (f"feedback was refused: {exc}",))
        return TurnOutcome(n, "feedback", f"{text} ({item['title']})", step.line)

    def _turn(self, agent: Agent, n: int, step: UserTurn, tr: _Transcript, profile_id: str | None) -> TurnOutcome:
        """Send one message through `Agent.respond`, collect the events, run the checks."""
        failures: list[str] = []
        events = []
        try:
            for event in agent.respond(tr.session_id, step.message, profile_id=profile_id):
                events.append(event)
        except TastebudError as exc:
            failures.append(f"the turn failed: {exc}")
        kinds = [e.kind for e in events]
        failures += _order_problems(kinds)
        failures += [f"the agent reported an error: {e.data.get('message')}" for e in events if e.kind == "error"]
        done = next((e.data for e in events if e.kind == "done"), None)
        if done is None:
            return TurnOutcome(n, "user", step.message, step.line, tuple(failures or ["no answer (no done event)"]))
        tr.session_id = done.get("session_id") or tr.session_id
        items: list[dict[str, Any]] = list(done.get("items") or [])
        previous = tr.answers[-1] if tr.answers else []
        for check in step.checks:
            failures += [f"{check.name} (line {check.line}): {why}"
                         for why in self._check(check, done, items, previous, tr)]
        if items:
            tr.answers.append(items)
        tr.shown.update(c["id"] for c in items)
        return TurnOutcome(n, "user", step.message, step.line, tuple(failures),
                           tuple(c.get("title", "?") for c in items), str(done.get("reply", "")))

    # -- checks
    def _item(self, card: dict[str, Any]) -> Item:
        """The full catalog item behind a card (the card itself when the catalog lacks it)."""
        found = self.catalog.get(card.get("id"))
        return found if found is not None else Item.from_dict({k: v for k, v in card.items() if k != "why"})

    def _check(self, check: Check, done: dict[str, Any], items: list[dict[str, Any]],
               previous: list[dict[str, Any]], tr: _Transcript) -> list[str]:
        """Reasons this check failed (empty when it held)."""
        turn = _TurnView(done, items, previous, tr, str(done.get("reply") or ""), done.get("understood") or {})
        if check.name in ("all_items", "than_previous") and not items:
            return ["no items were shown, so there is nothing to check"]
        return getattr(self, f"_check_{check.name}")(check.value, turn)

    def _check_understood(self, value: dict[str, Any], turn: _TurnView) -> list[str]:
        """Subset match against the understood object."""
        return match_understood(value, turn.understood)

    def _check_items(self, value: dict[str, Any], turn: _TurnView) -> list[str]:
        """The number of items shown."""
        lo, hi, n = value["min"], value["max"], len(turn.items)
        if n < lo or (hi is not None and n > hi):
            return [f"expected {f'{lo}–{hi}' if hi is not None else f'at least {lo}'} items, got {n}"]
        return []

    def _check_all_items(self, value: dict[str, Any], turn: _TurnView) -> list[str]:
        """Every item passes the filter."""
        bad = [c["title"] for c in turn.items if not self._matches(c, value)]
        return [f"{len(bad)} of {len(turn.items)} items fail {value}: {', '.join(bad)}"] if bad else []

    def _check_some_item(self, value: dict[str, Any], turn: _TurnView) -> list[str]:
        """At least one item passes the filter."""
        if any(self._matches(c, value) for c in turn.items):
            return []
        return [f"no item passes {value} (shown: {', '.join(c['title'] for c in turn.items) or 'none'})"]

    def _check_none_of(self, value: tuple[Any, ...], turn: _TurnView) -> list[str]:
        """None of the referenced items (or of the items passing a filter) is shown."""
        out = []
        for entry in value:
            if isinstance(entry, dict):
                bad = [c["title"] for c in turn.items if self._matches(c, entry)]
                if bad:
                    out.append(f"items that should not be here ({entry}): {', '.join(bad)}")
                continue
            target = _resolve(entry, turn.previous)
            if target is None:
                out.append(f"{entry} points at nothing: the previous answer showed {len(turn.previous)} item(s)")
            elif target in {c["id"] for c in turn.items}:
                out.append(f"{entry} ({self._title(target)}) came back")
        return out

    def _check_reply_language(self, value: str, turn: _TurnView) -> list[str]:
        """The reported language and the reply text."""
        return _language_problems(value, turn.done.get("language"), turn.reply)

    def _check_grounded(self, value: bool, turn: _TurnView) -> list[str]:
        """Catalog titles named in the reply are this turn's items (or films the person named)."""
        allowed = [c["title"] for c in turn.items] + list(turn.understood.get("liked") or [])
        allowed += list(turn.understood.get("disliked") or [])
        about = turn.done.get("about_item")
        if about:
            allowed.append(about.get("title", ""))
        stray = self.titles.ungrounded(turn.reply, allowed)
        if value and stray:
            return [f"the reply names films that are not among its items: {', '.join(stray)}"]
        if not value and not stray:
            return ["expected the reply to name a film outside its items, and it did not"]
        return []

    def _check_no_repeat(self, value: bool, turn: _TurnView) -> list[str]:
        """No item was shown in an earlier turn."""
        again = [c["title"] for c in turn.items if c["id"] in turn.tr.shown]
        if value and again:
            return [f"shown in an earlier turn: {', '.join(again)}"]
        if not value and turn.items and not again:
            return ["expected some items from earlier turns again, got only new ones"]
        return []

    def _check_reply_contains_any(self, value: tuple[str, ...], turn: _TurnView) -> list[str]:
        """At least one phrase is in the reply."""
        low = turn.reply.casefold()
        if any(p.casefold() in low for p in value):
            return []
        return [f"the reply contains none of {list(value)}: {_short(turn.reply, 160)!r}"]

    def _check_reply_not_contains(self, value: tuple[str, ...], turn: _TurnView) -> list[str]:
        """No phrase is in the reply."""
        low = turn.reply.casefold()
        hits = [p for p in value if p.casefold() in low]
        return [f"the reply contains {hits}: {_short(turn.reply, 160)!r}"] if hits else []

    def _check_clarifying_question(self, value: bool, turn: _TurnView) -> list[str]:
        """The turn asked a question instead of showing items (or did not)."""
        asked = not turn.items and (bool(turn.understood.get("clarifying_question"))
                                    or _ends_with_question(turn.reply))
        if value and not asked:
            return [f"expected a clarifying question, got {len(turn.items)} item(s) and {_short(turn.reply, 120)!r}"]
        if not value and asked:
            return [f"expected an answer, got a clarifying question: {_short(turn.reply, 120)!r}"]
        return []

    def _check_than_previous(self, value: dict[str, str], turn: _TurnView) -> list[str]:
        """Every item is below (above) every item of the previous answer on a field."""
        out = []
        for fld, way in value.items():
            before = [c.get(fld) for c in turn.previous if c.get(fld) is not None]
            if not before:
                out.append(f"the previous answer has no {fld} to compare with")
                continue
            bound = min(before) if way == "less" else max(before)
            bad = [f"{c['title']} ({c.get(fld)})" for c in turn.items if c.get(fld) is None
                   or (c[fld] >= bound if way == "less" else c[fld] <= bound)]
            if bad:
                out.append(f"not {'below' if way == 'less' else 'above'} {bound} ({fld}): {', '.join(bad)}")
        return out

    def _check_not_in_history(self, value: bool, turn: _TurnView) -> list[str]:
        """No item is one the warm-start user already liked."""
        again = [c["title"] for c in turn.items if c["id"] in turn.tr.history]
        if value and again:
            return [f"films this person already liked: {', '.join(again)}"]
        if not value and not again:
            return ["expected some of the person's liked films, got none"]
        return []

    def _check_describes(self, value: str, turn: _TurnView) -> list[str]:
        """A "tell me more" answer is about the referenced item."""
        target = _resolve(value, turn.previous)
        about = (turn.done.get("about_item") or {}).get("id")
        if target is None:
            return [f"{value} points at nothing: the previous answer showed {len(turn.previous)} item(s)"]
        if about != target:
            return [f"expected a description of {self._title(target)}, got {self._title(about) if about else 'no item'}"]
        return []

    def _matches(self, card: dict[str, Any], where: dict[str, Any]) -> bool:
        """The `tastebud search --where` test on the full catalog item behind a card."""
        from retrieval.filters import item_matches_where

        return item_matches_where(self._item(card), where)

    def _title(self, item_id: str) -> str:
        """A catalog item's title (or its id)."""
        item = self.catalog.get(item_id)
        return item.title if item else item_id


def _resolve(ref: str, previous: list[dict[str, Any]]) -> str | None:
    """`previous:N` -> the id of the N-th item of the previous answer; any other text is an item id."""
    m = _PREVIOUS.match(ref)
    if not m:
        return ref
    pos = int(m.group(1))
    return previous[pos - 1]["id"] if 1 <= pos <= len(previous) else None


def _order_problems(kinds: list[str]) -> list[str]:
    """Contract: understood first (unless the turn could not start), items before notes, done last and once."""
    out = []
    if kinds.count("done") != 1 or (kinds and kinds[-1] != "done"):
        out.append(f"expected exactly one `done` event, last; got {kinds}")
    if "items" in kinds:
        first_note = kinds.index("note") if "note" in kinds else len(kinds)
        if kinds.index("items") > first_note:
            out.append("notes were streamed before the items")
        if kinds.count("items") > 1:
            out.append("items were sent more than once")
    if "understood" in kinds and kinds.index("understood") != 0:
        out.append("`understood` was not the first event")
    return out


def _ends_with_question(reply: str) -> bool:
    """True when the reply's last sentence is a question (English or Chinese question mark)."""
    return reply.rstrip().endswith(("?", "？"))


def _language_problems(expected: str, said: Any, reply: str) -> list[str]:
    """The reply must be in the expected language: the reported language and the text itself."""
    out = []
    if said != expected:
        out.append(f"reply language is {said!r}, expected {expected!r}")
    has_cjk = bool(_CJK.search(reply))
    if expected == "zh" and not has_cjk:
        out.append(f"expected a Chinese reply, got {_short(reply, 100)!r}")
    if expected == "en" and has_cjk:
        out.append(f"expected an English reply, it contains Chinese: {_short(reply, 100)!r}")
    return out


def match_understood(expected: dict[str, Any], actual: dict[str, Any], path: str = "understood") -> list[str]:
    """Subset match: every expected key holds (strings case-insensitive, lists as subsets, weather = condition)."""
    out: list[str] = []
    for key, want in expected.items():
        here = f"{path}.{key}"
        if not isinstance(actual, dict) or key not in actual:
            if want is not None:  # an absent key is "nothing", which is what `null` asks for
                out.append(f"{here} is missing")
            continue
        have = actual[key]
        if key == "weather" and path == "understood" and isinstance(have, dict) and not isinstance(want, dict):
            have, here = have.get("condition"), f"{here}.condition"
        out += _match_value(want, have, here)
    return out


def _match_value(want: Any, have: Any, here: str) -> list[str]:
    """One expected value against the actual one."""
    if want is None:
        return [] if have in (None, "", [], {}) else [f"{here} is {have!r}, expected nothing"]
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [f"{here} is {have!r}, expected {want!r}"]
        return match_understood(want, have, here)
    if isinstance(want, list):
        have_list = have if isinstance(have, list) else ([] if have is None else [have])
        have_keys = {_fold(v) for v in have_list}
        missing = [w for w in want if _fold(w) not in have_keys]
        return [f"{here} is {have_list!r}, missing {missing!r}"] if missing else []
    if isinstance(have, list) and not isinstance(want, bool):
        return [] if _fold(want) in {_fold(v) for v in have} else [f"{here} is {have!r}, expected it to hold {want!r}"]
    if _fold(want) != _fold(have):
        return [f"{here} is {have!r}, expected {want!r}"]
    return []


def _fold(value: Any) -> Any:
    """Case-folded text (other values as they are) for comparisons."""
    return value.casefold().strip() if isinstance(value, str) else value
