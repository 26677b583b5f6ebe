"""The one way evaluation opens an agent with swapped parts: always through the agent's constructor.

`open_agent` loads the real agent once (`Agent.from_settings`, offline weather, a scratch profile store unless
given); `derive_agent` builds a new agent of the same class from a loaded one's parts with some of them swapped
(the profile store, the weather provider, the clock, the ranking mode, notes on/off, the settings, the
understander) — never by setting attributes on a live agent. The dialogue runner, the simulator and the turn
benchmark all open their agents here.
"""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.errors import TastebudError

if TYPE_CHECKING:
    from chatbot.config import Settings
    from chatbot.turn.agent import Agent


def open_agent(settings: Settings, **options: Any) -> Agent:
    """Load the real agent once for a run: offline weather and a scratch profile store unless `options` name
    others; any other `Agent.from_settings` keyword (llm, ranking, write_notes, clock) passes through."""
    from chatbot.profiles import ProfileStore
    from chatbot.turn.agent import Agent
    from chatbot.turn.context import OfflineWeatherProvider

    if "weather" not in options:
        options["weather"] = OfflineWeatherProvider()
    if "profiles" not in options:
        options["profiles"] = ProfileStore.open(Path(tempfile.mkdtemp(prefix="tastebud-dialogues-")))
    return Agent.from_settings(settings, **options)


def _constructor_parts(cls: type) -> list[str]:
    """The names a class's constructor takes (the parts an agent is made of)."""
    params = inspect.signature(cls).parameters.values()
    return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def agent_parts(base: Any, **parts: Any) -> dict[str, Any]:
    """The constructor keywords that rebuild `base` (its class's constructor), with `parts` swapped in."""
    names = _constructor_parts(type(base))
    unknown = [name for name in parts if name not in names]
    if unknown:
        raise TastebudError(f"the agent has no part named {unknown[0]!r} to swap")
    missing = [name for name in names if name not in parts and not hasattr(base, name)]
    if missing:
        raise TastebudError(f"the agent does not keep its part {missing[0]!r}, so it cannot be rebuilt")
    return {name: parts[name] if name in parts else getattr(base, name) for name in names}


def derive_agent(base: Any, **parts: Any) -> Any:
    """A new agent of the base's class, made by its constructor from the base's parts with some swapped.

    The new agent shares the searcher, the understander, the copywriter, the interest model and the LLM with the
    base (loading those is the slow part, and none of them holds per-conversation state).
    """
    return type(base)(**agent_parts(base, **parts))


def rules_only(base: Agent, **parts: Any) -> Agent:
    """The no-LLM baseline of a loaded agent: rules-only understanding and template notes (same index, ranking)."""
    from chatbot.turn.understand.understander import Understander

    understander = base.understander
    rules = Understander(None, base.items.values(), understander.gazetteer, timeout_s=understander.timeout_s,
                         llm_policy="never")
    return derive_agent(base, understander=rules, write_notes=False, **parts)


def notes_one_at_a_time(base: Agent, **parts: Any) -> Agent:
    """The agent with its notes written one call after another instead of at once (no batched decoding), the
    notes prefixes pre-read: the baseline of the batched notes in `tastebud bench turn --sequential-notes`."""
    import copy

    from chatbot.llm import warm_up

    def single(model: Any) -> Any:
        """The model without batched decoding."""
        return model.model_copy(update={"parallel": 0}) if getattr(model, "parallel", 0) else model

    writer = copy.copy(base.copywriter)
    writer.llm = single(writer.llm)
    writer.by_language = {lang: single(model) for lang, model in writer.by_language.items()}
    for model, prompts in writer.fixed_prefixes():
        warm_up(model, prompts)
    return derive_agent(base, copywriter=writer, **parts)


def weather_provider(spec: str | dict[str, Any]) -> Any:
    """The weather provider a dialogue script's `weather:` names (offline, down or a fixed answer)."""
    from chatbot.turn.context import FixedWeatherProvider, OfflineWeatherProvider

    if isinstance(spec, dict):
        return FixedWeatherProvider(spec)
    if spec == "down":
        return DownWeatherProvider()
    return OfflineWeatherProvider()


class DownWeatherProvider:
    """A weather service that is unreachable: every call fails the way a timed-out request does."""

    def current(self, place: Any) -> Any:
        """Always ContextUnavailable (service unreachable)."""
        from retrieval.errors import ContextUnavailable

        raise ContextUnavailable("the weather service did not answer (unreachable)")
