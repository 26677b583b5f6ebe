"""The scripted fake chat model for tests of the code around the LLM: replies replayed in order, every call kept."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from chatbot.llm.protocol import text_of, timeout_error
from retrieval.errors import LLMError


@dataclass(frozen=True)
class FakeCall:
    """One call the fake received: the messages and the options it was given."""

    messages: tuple[BaseMessage, ...]
    options: dict[str, Any]

    @property
    def text(self) -> str:
        """All message texts joined, to assert on what the prompt said."""
        return "\n".join(text_of(m.content) for m in self.messages)


class FakeChatModel(BaseChatModel):
    """Scripted replies, replayed in order (and streamed in small pieces); records every call it gets.

    A reply may be a string, a dict or list (sent as JSON), or an exception instance (raised by that call).
    With no reply left, a call raises LLMError. `delay_s` sleeps per streamed piece, to test time limits.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    replies: list[Any] = Field(default_factory=list)  # what the next calls answer, in order
    chunk_chars: int = 6  # characters per streamed piece
    delay_s: float = 0.0  # sleep before each streamed piece
    parallel: int = 0  # >0: `stream_many` answers several prompts at once, as the batched embedded model does
    note_s: float = 0.0  # >0: `round_seconds` says each prompt of a batched call takes this long (a slow machine)
    _calls: list[FakeCall] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        """Name of this backend."""
        return "tastebud-fake"

    @property
    def calls(self) -> list[FakeCall]:
        """Every call so far, oldest first."""
        return list(self._calls)

    def enqueue(self, *replies: Any) -> FakeChatModel:
        """Add scripted replies at the end of the queue."""
        self.replies.extend(replies)
        return self

    def _next_reply(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        """Record the call and take the next scripted reply."""
        with self._lock:
            self._calls.append(FakeCall(tuple(messages), dict(kwargs)))
            if not self.replies:
                raise LLMError("the scripted fake LLM has no reply left (enqueue more replies in the test)")
            reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, (dict, list)):
            return json.dumps(reply, ensure_ascii=False)
        return str(reply)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Stream the next scripted reply in pieces of `chunk_chars` characters."""
        reply = self._next_reply(messages, kwargs)
        timeout_s = kwargs.get("timeout_s")
        deadline = time.monotonic() + float(timeout_s) if timeout_s else None
        step = max(self.chunk_chars, 1)
        for n, start in enumerate(range(0, len(reply), step), start=1):
            if self.delay_s:
                time.sleep(self.delay_s)
            if deadline is not None and time.monotonic() > deadline:
                raise timeout_error(float(timeout_s), n - 1)
            text = reply[start : start + step]
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
            if run_manager:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk

    def round_seconds(self, prompts: list[Any], max_tokens: int) -> float | None:
        """What a batched call of these prompts would take, as `note_s` says (None: not known)."""
        return self.note_s * len(prompts) if self.note_s else None

    def stream_many(
        self, prompts: list[Any], schema: dict[str, Any] | None, max_tokens: int, timeout_s: float,
        usage: dict[str, Any] | None = None, avoid: list[list[str]] | None = None,
        distinct: list[str] | None = None, blank: Sequence[Sequence[str]] = (), more: list[Any] | None = None,
    ) -> Iterator[tuple[int, str]]:
        """The next scripted reply for each prompt (a call each, in order), their pieces interleaved as batched
        decoding writes them: (prompt index, piece); a (prompt, avoid, blank) added to `more` while reading is the
        next call, written from the next step on, its index after the others'. A scripted exception fails the whole
        batch; `avoid` is recorded with the call's options (a script writes what it writes)."""
        from chatbot.llm.protocol import as_messages

        options = {"json_schema": schema, "max_tokens": max_tokens, "timeout_s": timeout_s, "batched": True,
                   "distinct": distinct, "blank": [list(b) for b in blank]}
        replies = [self._next_reply(as_messages(p), {**options, "avoid": avoid[k] if avoid else None})
                   for k, p in enumerate(prompts)]
        begun = [0] * len(replies)  # the step each reply began at
        inbox = more if more is not None else []
        deadline = time.monotonic() + timeout_s
        step = max(self.chunk_chars, 1)
        n = at = 0
        while True:
            if not inbox and all((at - b) * step >= len(r) for r, b in zip(replies, begun)):
                if more is None:
                    break
                yield 0, ""  # twice, as the batched context does: the reader is a piece behind
                yield 0, ""
                if not inbox:
                    break
            if self.delay_s:
                time.sleep(self.delay_s)
            if time.monotonic() > deadline:
                raise timeout_error(timeout_s, n)
            for k, (reply, b) in enumerate(zip(replies, begun)):
                if piece := reply[(at - b) * step : (at - b + 1) * step]:
                    n += 1
                    yield k, piece
            taken = inbox[:]
            del inbox[:len(taken)]
            for p, words, *_ in taken:
                replies.append(self._next_reply(as_messages(p), {**options, "avoid": words}))
                begun.append(at + 1)
            at += 1
        if usage is not None:
            usage.update({"output_tokens": n, "prompt_eval_tokens": 10 * len(prompts)})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """The next scripted reply as one message."""
        text = "".join(text_of(c.message.content) for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
