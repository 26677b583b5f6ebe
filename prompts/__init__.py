"""Prompt templates as data: `prompts/<name>.yaml` (keys `system`, `user`, optional `examples`), rendered with Jinja.

A template file looks like this::

    description: what the prompt is for (optional, for people)
    system: |
      You extract ... Answer with JSON only.
    examples:            # optional few-shot turns, rendered with the same variables
      - user: "I'm in Paris and want a comedy"
        assistant: {"city_en": "Paris", "genre": "Comedy"}   # a mapping is written out as JSON
    user: |
      {{ message }}

`load_prompt(name).render(**vars)` gives a `RenderedPrompt`: a read-only mapping with the keys `system` and
`user` (so `rendered["system"]` works), plus `.messages`, a list of `(role, text)` pairs (system, the examples as
user/assistant turns, then the user turn) that any langchain chat model accepts as input as it is.
Rendering uses `StrictUndefined`: a variable the template needs but was not given is an error, never a blank.
Every other YAML data file (replies, lexicons, context rules, catalog schemas) is read by the one reader
`retrieval.datafile.load_data`, re-exported here; a missing file or bad YAML is a `DataFileError` naming the file.
This package imports nothing else from the project but that reader and the error tree (`retrieval.errors`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any


from retrieval.datafile import load_data, parse_yaml
from retrieval.errors import DataFileError

__all__ = ["DataFileError", "Prompt", "PromptError", "RenderedPrompt", "list_prompts", "load_data", "load_prompt",
           "parse_prompt"]

_ALLOWED_KEYS = frozenset({"system", "user", "examples", "description"})


class PromptError(DataFileError, ValueError):
    """A prompt template that is missing, malformed, or rendered without a variable it needs."""


@dataclass(frozen=True)
class RenderedPrompt(Mapping[str, str]):
    """A rendered prompt: `system` and `user` text plus few-shot example turns."""

    name: str
    system: str
    user: str
    examples: tuple[tuple[str, str], ...] = ()  # (user text, assistant text) pairs, in order

    @property
    def messages(self) -> list[tuple[str, str]]:
        """The whole conversation as (role, text) pairs: system, examples, user."""
        out: list[tuple[str, str]] = []
        if self.system:
            out.append(("system", self.system))
        for user_text, assistant_text in self.examples:
            out.append(("user", user_text))
            out.append(("assistant", assistant_text))
        out.append(("user", self.user))
        return out

    def __getitem__(self, key: str) -> str:
        """`rendered["system"]` / `rendered["user"]`."""
        if key == "system":
            return self.system
        if key == "user":
            return self.user
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        """The mapping keys: system, user."""
        return iter(("system", "user"))

    def __len__(self) -> int:
        """Two keys."""
        return 2


@dataclass(frozen=True)
class Prompt:
    """One template file, parsed; `render(**vars)` fills it in."""

    name: str
    system: str
    user: str
    examples: tuple[tuple[str, str], ...] = ()  # raw (user, assistant) templates
    description: str = ""

    def variables(self) -> frozenset[str]:
        """The names of the variables the template uses."""
        from jinja2 import meta

        env = _environment()
        names: set[str] = set()
        for text in (self.system, self.user, *(t for pair in self.examples for t in pair)):
            names |= meta.find_undeclared_variables(env.parse(text))
        return frozenset(names)

    def render(self, **variables: Any) -> RenderedPrompt:
        """Fill in the template; a missing variable raises PromptError naming it."""
        return RenderedPrompt(
            name=self.name,
            system=self._render_one(self.system, "system", variables),
            user=self._render_one(self.user, "user", variables),
            examples=tuple(
                (
                    self._render_one(u, f"examples[{i}].user", variables),
                    self._render_one(a, f"examples[{i}].assistant", variables),
                )
                for i, (u, a) in enumerate(self.examples)
            ),
        )

    def _render_one(self, text: str, part: str, variables: dict[str, Any]) -> str:
        """Render one part of the template strictly."""
        from jinja2 import TemplateError, UndefinedError

        try:
            return _compiled(text).render(**variables).strip()
        except UndefinedError as exc:
            missing = sorted(self.variables() - set(variables))
            hint = f" (not given: {', '.join(missing)})" if missing else ""
            raise PromptError(f"prompt {self.name!r}, {part}: {exc.message}{hint}") from exc
        except TemplateError as exc:
            raise PromptError(f"prompt {self.name!r}, {part}: template error: {exc}") from exc


@lru_cache(maxsize=512)
def _compiled(text: str):  # -> jinja2.Template
    """A template part compiled once (compiling cost ~20 ms a part: more than a turn's search)."""
    return _environment().from_string(text)


@lru_cache(maxsize=1)
def _environment():  # -> jinja2.Environment
    """The shared Jinja environment: strict about undefined variables, no HTML escaping."""
    from jinja2 import Environment, StrictUndefined

    env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["tojson"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def list_prompts() -> list[str]:
    """Names of every template shipped in this package."""
    return sorted(
        entry.name[: -len(".yaml")]
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".yaml")
    )


def _as_text(value: Any, where: str, name: str) -> str:
    """A template part as text; a mapping or list (a JSON answer written as YAML) becomes compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    raise PromptError(f"prompt {name!r}: {where} must be text, got {type(value).__name__}")


@lru_cache(maxsize=64)
def load_prompt(name: str) -> Prompt:
    """Read and check `prompts/<name>.yaml` from the installed package."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise PromptError(f"bad prompt name {name!r}")
    entry = resources.files(__name__) / f"{name}.yaml"
    if not entry.is_file():
        known = ", ".join(list_prompts()) or "none"
        raise PromptError(f"no prompt named {name!r} (known prompts: {known})")
    return parse_prompt(name, entry.read_text(encoding="utf-8"))


def parse_prompt(name: str, text: str) -> Prompt:
    """Parse and check the YAML text of a template (what load_prompt does with a file)."""
    try:
        data = parse_yaml(text, f"prompt {name!r}")
    except DataFileError as exc:
        raise PromptError(str(exc)) from exc
    if not isinstance(data, dict):
        raise PromptError(f"prompt {name!r} must be a YAML mapping with `system` and `user` keys")
    unknown = sorted(set(data) - _ALLOWED_KEYS)
    if unknown:
        raise PromptError(f"prompt {name!r} has unknown keys {unknown}; allowed: {sorted(_ALLOWED_KEYS)}")
    if "user" not in data:
        raise PromptError(f"prompt {name!r} has no `user` template")
    examples: list[tuple[str, str]] = []
    for i, ex in enumerate(data.get("examples") or []):
        if not isinstance(ex, dict) or set(ex) != {"user", "assistant"}:
            raise PromptError(f"prompt {name!r}: examples[{i}] must have exactly `user` and `assistant`")
        examples.append(
            (_as_text(ex["user"], f"examples[{i}].user", name), _as_text(ex["assistant"], f"examples[{i}].assistant", name))
        )
    prompt = Prompt(
        name=name,
        system=_as_text(data.get("system") or "", "system", name),
        user=_as_text(data["user"], "user", name),
        examples=tuple(examples),
        description=str(data.get("description") or ""),
    )
    for text in (prompt.system, prompt.user, *(t for pair in prompt.examples for t in pair)):
        _check_syntax(text, name)
    return prompt


def _check_syntax(text: str, name: str) -> None:
    """Parse a template once so a syntax error shows at load time, not mid-conversation."""
    from jinja2 import TemplateSyntaxError

    try:
        _environment().parse(text)
    except TemplateSyntaxError as exc:
        raise PromptError(f"prompt {name!r}: template syntax error on line {exc.lineno}: {exc.message}") from exc
