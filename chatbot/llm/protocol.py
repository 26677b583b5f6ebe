"""What tastebud needs of a chat model (the `ChatModel` protocol) and the message helpers every backend shares."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    BaseMessageChunk,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
)

from retrieval.errors import LLMError

# An `avoid` word (see `calls.stream_many_text`) that keeps an answer from writing any Chinese character: an English
# note of a recipe with no time wrote "ready in 15-20分钟" once " minutes" was kept from it.
CHINESE_SCRIPT = "<Chinese script>"
# An `avoid` word marked so that only its lower-case forms are kept from the answer: a word of the item's own title
# ("Light of Day" may be named, "a light and breezy drama" not).
LOWER_CASE_ONLY = "<lower case> "


def lower_case_only(word: str) -> str:
    """The avoid word that keeps only this word's lower-case forms from an answer (its capitalised forms stay free)."""
    return LOWER_CASE_ONLY + word


@runtime_checkable
class ChatModel(Protocol):
    """A chat model as the turn uses it: the whole answer, or the answer in pieces (every langchain chat model)."""

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> BaseMessage:
        """The whole answer to these messages; per-call options as keyword arguments."""
        ...

    def stream(self, input: Any, config: Any = None, **kwargs: Any) -> Iterator[BaseMessageChunk]:
        """The answer in pieces while it is written; per-call options as keyword arguments."""
        ...


def text_of(content: Any) -> str:
    """The text of a message content (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def role_of(message: BaseMessage) -> str:
    """The OpenAI-style role of a langchain message."""
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ChatMessage):
        return message.role
    return "user"


def to_role_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """langchain messages as [{"role", "content"}] dicts, which chat templates take."""
    return [{"role": role_of(m), "content": text_of(m.content)} for m in messages]


def as_messages(messages: Any) -> list[BaseMessage]:
    """Anything message-like (langchain messages, (role, text) pairs, a rendered prompt, a string) as messages."""
    if hasattr(messages, "messages") and isinstance(messages, Mapping):  # prompts.RenderedPrompt
        messages = messages.messages
    if isinstance(messages, str):
        return [HumanMessage(messages)]
    try:
        return convert_to_messages(list(messages))
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise LLMError(f"cannot read these chat messages: {exc}") from exc


def timeout_error(timeout_s: float, n_tokens: int) -> LLMError:
    """The error for an answer that took too long."""
    return LLMError(
        f"the language model took longer than {timeout_s:.0f} s (stopped after {n_tokens} tokens); "
        f"try a shorter message, or a faster backend (TASTEBUD_LLM=embedded-small or openai)"
    )


def backend_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a backend raises on failure (network, server, runtime), to be turned into LLMError."""
    errors: list[type[BaseException]] = [TimeoutError, ConnectionError, OSError]
    try:
        import openai

        errors.append(openai.OpenAIError)
    except ImportError:
        pass
    try:
        import httpx

        errors.append(httpx.HTTPError)
    except ImportError:
        pass
    return tuple(errors)
