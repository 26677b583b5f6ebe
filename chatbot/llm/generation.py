"""One call to the decoding scheduler as its caller sees it: the request, the handle its text streams through
(`Generation`), the busy error, and what an engine must do for the scheduler (`DecodeEngine`)."""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatbot.llm.protocol import timeout_error
from retrieval.errors import LLMError

URGENT = 0  # understanding calls: the cards wait for them, so they wait only briefly for a slot
BACKGROUND = 1  # note calls: they stream into cards already shown
_GRACE_S = 5.0  # a caller stops waiting this long after its deadline even if the scheduler never answered


class LLMBusy(LLMError):
    """The language model is busy with other people's calls; try again shortly."""


class CallGroup:
    """The LLM calls made for one turn: when the person leaves, `cancel` stops them all, queued or running, and
    refuses new ones. A door makes one per turn and runs the turn's steps inside `active()`."""

    def __init__(self) -> None:
        """An empty group, not cancelled."""
        self._lock = threading.Lock()
        self._calls: weakref.WeakSet[Generation] = weakref.WeakSet()
        self.cancelled = False

    @contextmanager
    def active(self) -> Iterator[CallGroup]:
        """Calls submitted in this block (this thread, this context) belong to the group."""
        token = _CURRENT_GROUP.set(self)
        try:
            yield self
        finally:
            _CURRENT_GROUP.reset(token)

    def add(self, gen: Generation) -> None:
        """A call of this group (cancelled at once when the group already is)."""
        with self._lock:
            self._calls.add(gen)
            cancelled = self.cancelled
        if cancelled:
            gen.cancel()

    def cancel(self) -> None:
        """Stop every call of the group and refuse later ones."""
        with self._lock:
            self.cancelled = True
            calls = list(self._calls)
        for gen in calls:
            gen.cancel()


_CURRENT_GROUP: ContextVar[CallGroup | None] = ContextVar("tastebud_llm_call_group", default=None)


def current_group() -> CallGroup | None:
    """The call group of the code running now (None outside a door's turn)."""
    return _CURRENT_GROUP.get()


class DecodeEngine(Protocol):
    """What the scheduler needs of a model: batched decoding over sequences, and choosing tokens from the logits."""

    config: Any  # has max_batch
    seq_ctx: int  # tokens one sequence holds

    def decode(self, entries: Sequence[Any]) -> None:
        """Decode these BatchEntry tokens together (LLMError on failure)."""
        ...

    def context_pointer(self) -> Any:
        """What a chooser reads the last decode's logits from."""
        ...

    def keep_prefix(self, seq: int, n: int) -> None:
        """Drop sequence `seq` from position `n` on."""
        ...

    def copy_prefix(self, src: int, dst: int, n: int) -> None:
        """Make `dst` hold the first `n` tokens of `src`."""
        ...

    def is_end(self, token: int) -> bool:
        """True for an end-of-generation token."""
        ...

    def piece(self, token: int) -> bytes:
        """The bytes a token writes."""
        ...

    def chooser(self, schema: dict[str, Any] | None, temperature: float, seed: int) -> Any:
        """An object with `sample(ctx, index) -> token` and `close()`."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: the prompt tokens, limits, priority and how the tokens are chosen."""

    tokens: tuple[int, ...]  # the rendered prompt
    max_tokens: int
    timeout_s: float  # the whole call's time limit, from submission (queueing included)
    priority: int = BACKGROUND  # URGENT or BACKGROUND
    slot_wait_s: float | None = None  # longest wait for a slot before LLMBusy (None: the whole time limit)
    schema: dict[str, Any] | None = None  # JSON schema: greedy under its grammar
    temperature: float = 0.0  # 0 = greedy
    seed: int = 0
    stop: tuple[str, ...] = ()  # the answer ends before any of these strings
    prefill_only: bool = False  # read the prompt into a pinned sequence, write nothing (warming a prefix)


@dataclass
class GenerationStats:
    """What one call cost and when things happened (written by the scheduler's thread)."""

    queued_s: float | None = None  # submission -> a slot
    first_token_s: float | None = None  # submission -> first text
    elapsed_s: float | None = None  # submission -> end
    cached_tokens: int = 0  # prompt tokens reused from a sequence's KV cache
    prompt_eval_tokens: int = 0  # prompt tokens read for this call
    output_tokens: int = 0
    finish_reason: str | None = None  # stop | length | prefilled | cancelled


@dataclass(eq=False)
class Generation:
    """A submitted request: its text comes out of `pieces()`; `cancel()` stops it (closing `pieces()` does)."""

    request: GenerationRequest
    number: int  # order of submission
    wake: Callable[[], None]  # tells the scheduler something changed
    submitted: float = field(default_factory=time.monotonic)
    cancelled: bool = False
    stats: GenerationStats = field(default_factory=GenerationStats)
    _out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)

    @property
    def deadline(self) -> float:
        """When the call stops (monotonic seconds)."""
        return self.submitted + self.request.timeout_s

    @property
    def admit_by(self) -> float:
        """When a request still without a slot gives up."""
        wait = self.request.slot_wait_s
        return self.deadline if wait is None else min(self.deadline, self.submitted + wait)

    def pieces(self) -> Iterator[str]:
        """The answer's text as it is written; LLMError (LLMBusy, time limit) on failure. Closing it cancels."""
        try:
            while True:
                try:
                    kind, value = self._out.get(timeout=max(0.05, self.deadline + _GRACE_S - time.monotonic()))
                except queue.Empty:
                    raise timeout_error(self.request.timeout_s, self.stats.output_tokens) from None
                if kind == "text":
                    yield value
                elif kind == "end":
                    return
                elif kind == "cancelled":
                    raise LLMError("the language model call was stopped: the person left")
                else:
                    raise value
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop: dropped when queued, its slot freed when running; a reader blocked in `pieces()` gets LLMError.
        No effect once ended."""
        if not self.cancelled and self.stats.finish_reason is None:
            self.cancelled = True
            self._out.put(("cancelled", None))
            self.wake()

    # ------------------------------------------------------------------ the scheduler's side
    def started(self, cached_tokens: int) -> None:
        """The request got a slot."""
        self.stats.queued_s = time.monotonic() - self.submitted
        self.stats.cached_tokens = cached_tokens

    def emit(self, text: str) -> None:
        """Pass text to the caller."""
        if text:
            if self.stats.first_token_s is None:
                self.stats.first_token_s = time.monotonic() - self.submitted
            self._out.put(("text", text))

    def finish(self, reason: str) -> None:
        """The answer ended normally."""
        self.stats.finish_reason = reason
        self.stats.elapsed_s = time.monotonic() - self.submitted
        self._out.put(("end", reason))

    def fail(self, error: LLMError) -> None:
        """The call failed: the caller gets this error."""
        self.stats.finish_reason = self.stats.finish_reason or "error"
        self.stats.elapsed_s = time.monotonic() - self.submitted
        self._out.put(("error", error))
