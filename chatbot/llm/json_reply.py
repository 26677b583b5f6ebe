"""Reading a model's JSON reply: find the object in the text, check it against the JSON schema."""

from __future__ import annotations

import json
import re
from typing import Any

from retrieval.errors import LLMError

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_json_reply(text: str) -> dict[str, Any]:
    """The JSON object in a model's reply (bare, fenced, or amid prose); LLMError when there is none."""
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    start = text.find("{")
    if start >= 0:
        candidates.append(text[start:])
    decoder = json.JSONDecoder()
    for candidate in candidates:
        if not candidate.startswith("{"):
            continue
        try:
            value, _ = decoder.raw_decode(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    shown = text.strip().replace("\n", " ")
    shown = shown[:200] + ("…" if len(shown) > 200 else "")
    raise LLMError(f"the language model did not answer with a JSON object (it said: {shown!r})")


def validate_json(data: Any, schema: dict[str, Any]) -> None:
    """Check data against a JSON schema; LLMError listing what does not fit."""
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_cls(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in errors[:5]
        )
        raise LLMError(f"the language model's JSON does not fit the expected form: {problems}")
