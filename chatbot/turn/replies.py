"""What the agent says in words, per language: `say(key, language, **values)` over `chatbot/turn/replies.yaml`.

Replies, notices and reason chips all come from the one data file, read through `prompts.load_data`; every
language has every key (checked at load time). Values are filled in with Jinja, strictly: a missing one is an error.
"""

from __future__ import annotations

import functools
from typing import Any

from prompts import load_data
from retrieval.errors import DataFileError

REPLIES_FILE = "replies.yaml"


@functools.lru_cache(maxsize=1)
def _replies() -> dict[str, dict[str, Any]]:
    """The reply phrases per language, compiled; every language has every key."""
    from jinja2 import Environment, StrictUndefined

    raw = load_data("chatbot.turn", REPLIES_FILE)
    if not isinstance(raw, dict) or not isinstance(raw.get("en"), dict):
        raise DataFileError(f"chatbot/turn/{REPLIES_FILE}: expected a mapping of languages with an `en` table")
    env = Environment(undefined=StrictUndefined, autoescape=False)
    keys = set(raw["en"])
    for lang, table in raw.items():
        if set(table) != keys:
            raise DataFileError(f"chatbot/turn/{REPLIES_FILE}: language {lang!r} lacks {sorted(keys - set(table))}")
    return {lang: {k: env.from_string(v) for k, v in table.items()} for lang, table in raw.items()}


def say(key: str, language: str, **values: Any) -> str:
    """A reply phrase in the person's language (English for languages without a table)."""
    table = _replies().get(language) or _replies()["en"]
    return table[key].render(**values)
