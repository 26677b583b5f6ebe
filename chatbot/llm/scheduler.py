"""The decoding scheduler: ONE thread owns the llama.cpp context and decodes every active sequence together.

- Requests enter a bounded priority queue: understanding calls (`URGENT`) before note calls (`BACKGROUND`), first
  come first served within a priority. Past `max_queued` waiting requests, `submit` raises `LLMBusy` at once.
- Up to `n_slots` sequences decode together, one token each per llama_decode step; a request joins as soon as a
  slot is free (continuous batching). Prompts are read in chunks of `prefill_chunk` tokens per step, so sequences
  already writing keep going while a new prompt is read.
- `reserve` slots are kept for urgent calls: note calls never take the last free ones, so an understanding call
  finds a slot at once unless other understanding calls hold them all. An urgent call that gets no slot within
  its `slot_wait_s` is refused with `LLMBusy` (understanding then reads the message by rules alone); any call past
  its time limit stops with LLMError.
- Tokens stream back to each caller through a queue of its own; a caller that stops reading cancels (`Generation.
  cancel`, called when its generator is closed): a queued request is dropped without running, an active one
  leaves its slot at the next step.
- Prompt prefixes are reused: each sequence remembers the tokens its KV cache holds; a request takes the free slot
  sharing the longest prefix with its prompt, or copies a longer prefix from any other sequence (the pinned ones
  keep the system prompts that `prefill_only` requests warmed).
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatbot.llm.batch_engine import BatchEntry
from chatbot.llm.generation import (BACKGROUND, URGENT, DecodeEngine, Generation, GenerationRequest, LLMBusy,
                                    current_group)
from chatbot.llm.protocol import timeout_error
from retrieval.errors import LLMError, TastebudError

__all__ = ["BACKGROUND", "URGENT", "DecodeScheduler", "Generation", "GenerationRequest", "LLMBusy", "SchedulerStatus"]

log = logging.getLogger(__name__)

MIN_COPY = 16  # a prefix held by another sequence is copied only when it saves at least this many tokens
# Prompt tokens read per decode step, beside the writing sequences' one token each. Bigger chunks read prompts
# faster (0.5B on 2 busy cores: 24 tok/s in one 372-token call, 11 tok/s in chunks of 64: every llama_decode call
# pays its thread barriers) but stall the sequences already writing for longer.
PREFILL_CHUNK = 256
MIN_RUN_S = 1.0  # a queued request with less time left (or half its limit) is not started: it could hardly write


@dataclass(frozen=True)
class SchedulerStatus:
    """A snapshot: sequences writing, requests waiting, and what happened to requests so far."""

    active: int  # requests holding a slot
    queued: int  # requests waiting for one
    n_slots: int
    finished: int  # ended normally (stop, length)
    dropped: int  # cancelled while queued: never run
    cancelled: int  # cancelled while running: slot freed
    refused: int  # LLMBusy (queue full, or no slot within the wait)
    steps: int  # llama_decode calls


@dataclass
class _Job:
    """A request holding a sequence: its prompt progress, the token waiting to be decoded, its text so far."""

    gen: Generation
    chooser: Any
    n_done: int = 0  # prompt tokens in the KV cache
    pending: int | None = None  # the sampled token that the next step decodes
    n_out: int = 0
    held: str = ""  # text held back: it may be the start of a stop string
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))

    @property
    def prompt(self) -> tuple[int, ...]:
        """The request's prompt tokens."""
        return self.gen.request.tokens


@dataclass(eq=False)
class _Slot:
    """One sequence of the context: the tokens its KV cache holds, and the job writing in it (if any)."""

    seq: int
    pinned: bool  # keeps a warmed prefix; never generates
    tokens: list[int] = field(default_factory=list)
    job: _Job | None = None
    used_at: float = 0.0


def _common(a: list[int] | tuple[int, ...], b: tuple[int, ...]) -> int:
    """Length of the common prefix of two token lists."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class DecodeScheduler:
    """Continuous batching over one engine (see the module docstring); safe to call from any thread."""

    def __init__(self, make_engine: Callable[[], DecodeEngine], *, n_slots: int = 4, n_pinned: int = 3,
                 max_queued: int = 32, reserve: int = 1, prefill_chunk: int = PREFILL_CHUNK, name: str = "llm") -> None:
        """A scheduler whose thread builds its engine with `make_engine` (sequences 0..n_slots-1 generate, the next
        n_pinned keep warmed prefixes); `reserve` slots are kept for urgent calls."""
        if not 0 <= reserve < n_slots:
            raise ValueError("reserve must be at least 0 and less than n_slots")
        self._make_engine = make_engine
        self.n_slots, self.max_queued, self.reserve, self.prefill_chunk = n_slots, max_queued, reserve, prefill_chunk
        self.name = name
        self._slots = [_Slot(i, False) for i in range(n_slots)] + [_Slot(n_slots + i, True) for i in range(n_pinned)]
        self._cond = threading.Condition()
        self._queue: list[Generation] = []
        self._counts = {"finished": 0, "dropped": 0, "cancelled": 0, "refused": 0, "steps": 0}
        self._ready = threading.Event()
        self._load_error: TastebudError | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self.engine: DecodeEngine | None = None
        self.load_s = 0.0
        self._number = 0

    # ------------------------------------------------------------------ callers (any thread)
    def start(self) -> None:
        """Start the scheduler's thread (which loads the engine); idempotent."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"tastebud-{self.name}", daemon=True)
                self._thread.start()

    def wait_ready(self, timeout_s: float = 600.0) -> float:
        """Block until the engine is loaded; its load seconds (the load's error, when it failed)."""
        self.start()
        if not self._ready.wait(timeout_s):
            raise LLMError(f"the local language model did not load within {timeout_s:.0f} s")
        if self._load_error is not None:
            raise self._load_error
        return self.load_s

    def submit(self, request: GenerationRequest) -> Generation:
        """Queue a request; its Generation streams the answer. LLMBusy at once when the queue is full."""
        self.wait_ready()
        assert self.engine is not None
        if len(request.tokens) >= self.engine.seq_ctx:
            raise LLMError(f"the prompt ({len(request.tokens)} tokens) is longer than the model's context "
                           f"({self.engine.seq_ctx} tokens); try a shorter message")
        group = current_group()
        if group is not None and group.cancelled:
            raise LLMError("the language model call was not made: the person left")
        with self._cond:
            if len(self._queue) >= self.max_queued:
                self._counts["refused"] += 1
                raise LLMBusy(f"the language model is busy ({len(self._queue)} calls wait for it); "
                              "try again shortly")
            self._number += 1
            gen = Generation(request, self._number, self.wake)
            self._queue.append(gen)
            self._cond.notify_all()
        if group is not None:
            group.add(gen)
        return gen

    def wake(self) -> None:
        """Wake the scheduler's thread (a request came or was cancelled)."""
        with self._cond:
            self._cond.notify_all()

    def status(self) -> SchedulerStatus:
        """Sequences writing, requests waiting, and the running counts."""
        with self._cond:
            return SchedulerStatus(active=sum(1 for s in self._slots if s.job is not None), queued=len(self._queue),
                                   n_slots=self.n_slots, **self._counts)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the thread (queued and running requests fail) and free the engine."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # ------------------------------------------------------------------ the scheduler's thread
    def _run(self) -> None:
        """Load the engine, then decode until closed."""
        started = time.perf_counter()
        try:
            self.engine = self._make_engine()
        except TastebudError as exc:
            self._load_error = exc
            self._ready.set()
            return
        self.load_s = time.perf_counter() - started
        self._ready.set()
        while not self._closing:
            try:
                worked = self._step()
            except Exception as exc:  # a bug here must not strand every caller: each one is told, and it is logged
                log.exception("the decoding scheduler failed a step")
                self._fail_all(LLMError(f"the local language model failed: {exc}"))
                worked = False
            if not worked:
                with self._cond:
                    if not self._closing:
                        self._cond.wait(self._idle_wait())
        self._fail_all(LLMError("the language model was shut down"), queued_too=True)
        self.engine.close()

    def _idle_wait(self) -> float | None:
        """How long an idle scheduler may sleep: until the first queued request's slot wait runs out."""
        if not self._queue:
            return None
        return max(0.01, min(g.admit_by for g in self._queue) - time.monotonic())

    def _step(self) -> bool:
        """Admit, drop the finished, decode one step; False when nothing is active."""
        now = time.monotonic()
        for slot in self._slots:
            if slot.job is not None:
                self._check_live(slot, now)
        for gen, slot in self._admissions(now):
            self._place(gen, slot)
        active = [s for s in self._slots if s.job is not None]
        if not active:
            return False
        entries, outputs, added = self._plan(active)
        if not entries:  # every active job ended during placement
            return True
        assert self.engine is not None
        try:
            self.engine.decode(entries)
        except LLMError as exc:
            for slot in active:
                self._end(slot, error=exc, forget=True)
            return True
        with self._cond:
            self._counts["steps"] += 1
        for slot, (tokens, from_prompt) in added.items():
            slot.tokens.extend(tokens)
            job = slot.job
            if job is not None and from_prompt:
                job.n_done += len(tokens)
                if job.gen.request.prefill_only and job.n_done >= len(job.prompt):
                    self._end(slot, "prefilled")
        ctx = self.engine.context_pointer()
        for slot, index in outputs:
            if slot.job is not None:
                self._take_token(slot, slot.job.chooser.sample(ctx, index))
        return True

    def _admissions(self, now: float) -> list[tuple[Generation, _Slot]]:
        """Drop cancelled and expired queued requests, then pick (request, slot) pairs by priority."""
        chosen: list[tuple[Generation, _Slot]] = []
        with self._cond:
            waiting = []
            for gen in self._queue:
                if gen.cancelled:
                    self._counts["dropped"] += 1
                elif now > gen.admit_by or (not gen.request.prefill_only
                                            and now > gen.deadline - min(MIN_RUN_S, gen.request.timeout_s / 2)):
                    self._refuse(gen)
                else:
                    waiting.append(gen)
            waiting.sort(key=lambda g: (g.request.priority, g.number))
            taken: set[int] = set()
            for gen in waiting:
                slot = self._free_slot(gen, taken)
                if slot is not None:
                    taken.add(slot.seq)
                    chosen.append((gen, slot))
            admitted = {id(g) for g, _ in chosen}
            self._queue = [g for g in waiting if id(g) not in admitted]
        return chosen

    def _refuse(self, gen: Generation) -> None:
        """Tell a queued request that got no slot in time (the lock held)."""
        if gen.admit_by < gen.deadline and time.monotonic() > gen.admit_by:
            self._counts["refused"] += 1
            gen.fail(LLMBusy(f"the language model is busy with other calls (no free slot within "
                             f"{gen.request.slot_wait_s:.1f} s); try again shortly"))
        else:
            gen.fail(timeout_error(gen.request.timeout_s, 0))

    def _free_slot(self, gen: Generation, taken: set[int]) -> _Slot | None:
        """The free slot this request should take (longest shared prefix, then least recently used), or None."""
        prefill = gen.request.prefill_only and any(s.pinned for s in self._slots)
        pool = [s for s in self._slots if s.pinned == prefill and s.job is None and s.seq not in taken]
        if not prefill and gen.request.priority != URGENT and len(pool) <= self.reserve:
            return None
        if not pool:
            return None
        tokens = gen.request.tokens
        return max(pool, key=lambda s: (_common(s.tokens, tokens), -s.used_at))

    def _place(self, gen: Generation, slot: _Slot) -> None:
        """Start a request in a slot, reusing the longest prompt prefix any sequence holds."""
        assert self.engine is not None
        request = gen.request
        tokens = request.tokens
        limit = len(tokens) if request.prefill_only else len(tokens) - 1  # at least one token read: its logits
        own = min(_common(slot.tokens, tokens), limit)
        source, best = None, own
        for other in self._slots:
            n = min(_common(other.tokens, tokens), limit)
            if other is not slot and n >= best + MIN_COPY:
                source, best = other, n
        if source is not None:
            self.engine.copy_prefix(source.seq, slot.seq, best)
        else:
            self.engine.keep_prefix(slot.seq, best)
        slot.tokens = list(tokens[:best])
        slot.job = _Job(gen, None if request.prefill_only else self.engine.chooser(
            request.schema, request.temperature, request.seed), n_done=best)
        gen.started(cached_tokens=best)
        if request.prefill_only and best >= len(tokens):
            self._end(slot, "prefilled")

    def _check_live(self, slot: _Slot, now: float) -> None:
        """End a job whose caller left or whose time is up."""
        job = slot.job
        assert job is not None
        if job.gen.cancelled:
            with self._cond:
                self._counts["cancelled"] += 1
            self._end(slot, "cancelled")
        elif now > job.gen.deadline:
            error = timeout_error(job.gen.request.timeout_s, job.n_out)
            error.usage = {"prompt_eval_tokens": job.gen.stats.prompt_eval_tokens, "output_tokens": job.n_out}
            self._end(slot, error=error)

    def _plan(self, active: list[_Slot]) -> tuple[list[BatchEntry], list[tuple[_Slot, int]], dict[_Slot, Any]]:
        """One step's batch: each writing sequence's last token, then prompt chunks (urgent first) up to the budget.

        Returns (entries, [(slot, batch index whose logits give its next token)],
        {slot: (tokens the step adds to its KV cache, whether they are prompt tokens)}).
        """
        entries: list[BatchEntry] = []
        outputs: list[tuple[_Slot, int]] = []
        added: dict[_Slot, Any] = {}
        reading = [s for s in active if s.job is not None and s.job.pending is None]
        for slot in active:
            job = slot.job
            if job is not None and job.pending is not None:
                outputs.append((slot, len(entries)))
                entries.append(BatchEntry(job.pending, len(slot.tokens), slot.seq, True))
                added[slot] = ([job.pending], False)
                job.pending = None  # decoded by this step; the next token comes from its logits
        assert self.engine is not None
        budget = min(self.prefill_chunk, self.engine.config.max_batch - len(entries))
        for slot in sorted(reading, key=lambda s: (s.job.gen.request.priority, s.job.gen.number)):
            job = slot.job
            take = min(budget, len(job.prompt) - job.n_done)
            if take <= 0:
                continue
            chunk = list(job.prompt[job.n_done:job.n_done + take])
            finishes = job.n_done + take == len(job.prompt) and not job.gen.request.prefill_only
            for k, token in enumerate(chunk):
                last = finishes and k == take - 1
                if last:
                    outputs.append((slot, len(entries)))
                entries.append(BatchEntry(token, job.n_done + k, slot.seq, last))
            job.gen.stats.prompt_eval_tokens += take
            added[slot] = (chunk, True)
            budget -= take
        return entries, outputs, added

    def _take_token(self, slot: _Slot, token: int) -> None:
        """A sequence's new token: the end, or text for its caller (and the next step decodes it)."""
        job = slot.job
        assert job is not None and self.engine is not None
        if self.engine.is_end(token):
            self._end(slot, "stop")
            return
        job.n_out += 1
        job.gen.stats.output_tokens = job.n_out
        if self._emit(job, job.decoder.decode(self.engine.piece(token))):
            self._end(slot, "stop")
        elif job.n_out >= job.gen.request.max_tokens or len(slot.tokens) + 1 >= self.engine.seq_ctx:
            self._end(slot, "length")
        else:
            job.pending = token

    @staticmethod
    def _emit(job: _Job, text: str) -> bool:
        """Send text to the caller, holding back what may start a stop string; True when a stop string came."""
        stops = job.gen.request.stop
        held = job.held + text
        for stop in stops:
            at = held.find(stop)
            if at >= 0:
                job.gen.emit(held[:at])
                job.held = ""
                return True
        keep = max((k for stop in stops for k in range(1, len(stop)) if held.endswith(stop[:k])), default=0)
        job.gen.emit(held[:len(held) - keep])
        job.held = held[len(held) - keep:]
        return False

    def _end(self, slot: _Slot, reason: str | None = None, *, error: LLMError | None = None,
             forget: bool = False) -> None:
        """Free a slot: the caller gets the end (or the error); the KV cache keeps only the prompt (or nothing)."""
        job = slot.job
        assert job is not None and self.engine is not None
        slot.job = None
        slot.used_at = time.monotonic()
        if job.chooser is not None:
            job.chooser.close()
        keep = 0 if forget else min(len(slot.tokens), len(job.prompt))
        if keep < len(slot.tokens):
            self.engine.keep_prefix(slot.seq, keep)
            del slot.tokens[keep:]
        if error is not None:
            job.gen.fail(error)
            return
        if reason not in ("cancelled",):
            job.gen.emit(job.held + job.decoder.decode(b"", final=True))
            with self._cond:
                self._counts["finished"] += 1
        job.gen.finish(reason or "stop")

    def _fail_all(self, error: LLMError, queued_too: bool = False) -> None:
        """Fail every active request (and the queued ones); used when a step broke or the scheduler closes."""
        for slot in self._slots:
            if slot.job is not None:
                self._end(slot, error=error, forget=True)
        if queued_too:
            with self._cond:
                queued, self._queue = self._queue, []
            for gen in queued:
                gen.fail(error)
