"""One call to a chat model, whatever its backend: answered as a JSON object that fits a schema (`complete_json`),
or as text pieces while it is written (`stream_text`); a time limit, and every failure an LLMError."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from chatbot.llm import niced
from chatbot.llm.fake import FakeChatModel
from chatbot.llm.json_reply import parse_json_reply, validate_json
from chatbot.llm.local import LocalChatModel
from chatbot.llm.openai_compatible import is_openai_model, openai_call_options
from chatbot.llm.protocol import ChatModel, as_messages, backend_errors, text_of
from retrieval.errors import LLMError, TastebudError


def call_options(model: ChatModel, timeout_s: float | None, schema: dict | None, max_tokens: int | None):
    """The per-call keyword options that this kind of model understands."""
    if isinstance(model, (LocalChatModel, FakeChatModel)):
        opts: dict[str, Any] = {}
        if timeout_s:
            opts["timeout_s"] = timeout_s
        if schema is not None:
            opts["json_schema"] = schema
        if max_tokens:
            opts["max_tokens"] = max_tokens
        if schema is not None and isinstance(model, LocalChatModel):
            opts["temperature"] = 0.0
        return opts
    if is_openai_model(model):
        return openai_call_options(timeout_s, schema, max_tokens)
    return {}


def complete_json(
    model: ChatModel,
    messages: Any,
    schema: dict[str, Any],
    timeout_s: float | None = None,
    *,
    max_tokens: int = 256,
) -> dict[str, Any]:
    """One call answered as a JSON object that fits `schema` (constrained where the backend can); else LLMError."""
    msgs = as_messages(messages)
    opts = call_options(model, timeout_s, schema, max_tokens)
    started = time.monotonic()
    try:
        if isinstance(model, LocalChatModel):  # in-process: at a lower CPU priority than everyone's cards
            reply = niced.run(lambda: model.invoke(msgs, **opts))
        else:
            reply = model.invoke(msgs, **opts)
    except TastebudError:
        raise
    except backend_errors() as exc:
        elapsed = time.monotonic() - started
        if timeout_s and elapsed >= timeout_s:
            raise LLMError(f"the language model did not answer within {timeout_s:.0f} s") from exc
        raise LLMError(f"the language model failed: {exc}") from exc
    elapsed = time.monotonic() - started
    if timeout_s and elapsed > timeout_s * 1.5 + 1:  # a backend that could not be stopped in time
        raise LLMError(f"the language model took {elapsed:.0f} s, over the {timeout_s:.0f} s limit")
    try:
        data = parse_json_reply(text_of(reply.content))
    except LLMError as exc:
        if (reply.response_metadata or {}).get("finish_reason") == "length":
            raise LLMError(f"the language model's JSON was cut off at the {max_tokens}-token limit ({exc})") from exc
        raise
    validate_json(data, schema)
    return data


def stream_text(
    model: ChatModel,
    messages: Any,
    timeout_s: float | None = None,
    *,
    schema: dict[str, Any] | None = None,
    max_tokens: int | None = None,
    usage: dict[str, Any] | None = None,
) -> Iterator[str]:
    """The answer as text pieces while it is written (JSON fitting `schema` if given); LLMError on failure/timeout.

    `usage`, when given, is filled with what the backend reports about the call (token counts, seconds).
    """
    msgs = as_messages(messages)
    opts = call_options(model, timeout_s, schema, max_tokens)
    started = time.monotonic()
    try:
        local = isinstance(model, LocalChatModel)  # in-process: at a lower CPU priority than everyone's cards
        for chunk in niced.iterate(lambda: model.stream(msgs, **opts)) if local else model.stream(msgs, **opts):
            if usage is not None:
                usage.update(getattr(chunk, "usage_metadata", None) or {})
                usage.update({k: v for k, v in (chunk.response_metadata or {}).items()
                              if isinstance(v, (int, float)) and not isinstance(v, bool)})
            text = text_of(chunk.content)
            if text:
                yield text
            if timeout_s and time.monotonic() - started > timeout_s:
                raise LLMError(f"the language model did not finish within {timeout_s:.0f} s")
    except TastebudError as exc:
        if usage is not None:
            usage.update(getattr(exc, "usage", None) or {})
        raise
    except backend_errors() as exc:
        raise LLMError(f"the language model failed: {exc}") from exc


def can_stream_many(model: ChatModel | None) -> bool:
    """True when the model writes several answers at once (an embedded model with batched decoding on)."""
    return model is not None and callable(getattr(model, "stream_many", None)) and bool(getattr(model, "parallel", 0))


def stream_many_text(
    model: ChatModel,
    prompts: list[Any],
    timeout_s: float,
    *,
    schema: dict[str, Any] | None = None,
    max_tokens: int = 128,
    usage: dict[str, Any] | None = None,
    avoid: list[list[str]] | None = None,
    distinct: list[str] | None = None,
    blank: Sequence[Sequence[str]] = (),
    more: list[tuple[Any, Sequence[str], Sequence[str]]] | None = None,
) -> Iterator[tuple[int, str]]:
    """Several answers written at once (`can_stream_many`): (prompt index, text piece) while they are written,
    each JSON fitting `schema` if given, never starting a word of its `avoid` list, not reading alike where
    `distinct` is given (texts written before, maybe none; `blank`: the names, whole phrases, each prompt's answer,
    then each `distinct` text, blanks); `more`: (prompt, avoid, blank) the caller adds while reading, written as
    answers end (indexes after the prompts'); LLMError on failure or timeout, the pieces already given standing."""
    extra: dict[str, Any] = {"avoid": avoid} if avoid else {}
    if more is not None:
        extra["more"] = more
    if distinct is not None:
        extra["distinct"] = distinct
        extra["blank"] = list(blank)
    try:
        yield from niced.iterate(lambda: model.stream_many(prompts, schema, max_tokens, timeout_s, usage, **extra))
    except TastebudError:
        raise
    except backend_errors() as exc:
        raise LLMError(f"the language model failed: {exc}") from exc
