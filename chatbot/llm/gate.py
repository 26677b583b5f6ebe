"""The LLM gate: at most `slots` LLM calls at once across every conversation of a process, the waiting calls
served by priority (understanding before notes) and in arrival order within one, each with a bounded wait.

Turns run side by side (their cards come from code in milliseconds); only their LLM calls queue here. A call that
cannot start within its wait raises `LLMBusy`, an LLMError, so the turn does what it does when the model fails:
understanding answers from the words alone, notes get their template (each says so). llama.cpp via
llama-cpp-python decodes one sequence at a time (1 slot); a batched runtime decodes several (`slots` > 1).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING

from retrieval.errors import LLMError

if TYPE_CHECKING:
    from chatbot.config import Settings

UNDERSTAND = 0  # a person waits for their cards behind this call
NOTES = 1  # the cards are shown; the notes stream into them


# Set by the web door for each turn (copied into every worker thread that runs a step of it): set when the person
# has left, so the turn's LLM calls still in line are dropped and a note being written stops.
TURN_LEFT: ContextVar[threading.Event | None] = ContextVar("tastebud_turn_left", default=None)
_POLL_S = 0.2  # how often a waiting call looks whether its person has left


class LLMBusy(LLMError):
    """The LLM was busy with other calls for longer than this call may wait."""


class PersonLeft(LLMError):
    """The person whose turn made this call has gone (disconnected); the call is dropped."""


def person_left() -> bool:
    """True when the turn this thread works for has been abandoned by its person."""
    left = TURN_LEFT.get()
    return left is not None and left.is_set()


class LLMGate:
    """A counting lock with a priority line and bounded waits; safe to share between threads."""

    def __init__(self, slots: int = 1, max_waiting: int = 256) -> None:
        if slots < 1:
            raise ValueError("an LLM gate needs at least one slot")
        self.slots = slots
        self.max_waiting = max_waiting
        self._cond = threading.Condition()
        self._running = 0
        self._line: list[tuple[int, int]] = []  # (priority, arrival number), kept sorted: the head goes next
        self._numbers = itertools.count()
        self._cards = 0  # turns computing their cards right now: note writing pauses for them (2 cores)

    @contextmanager
    def hold(self, priority: int = NOTES, wait_s: float | None = None) -> Iterator[float]:
        """Hold a slot for the `with` body (yields the seconds waited); LLMBusy when none frees within `wait_s`."""
        waited = self._acquire(priority, wait_s)
        try:
            yield waited
        finally:
            self._release()

    def cards_begin(self) -> Callable[[], None]:
        """A turn starts computing its cards; call the returned function (idempotent) once they are shown."""
        with self._cond:
            self._cards += 1
        ended: list[bool] = []

        def end() -> None:
            """The cards are out (once; later calls do nothing)."""
            with self._cond:
                if not ended:
                    ended.append(True)
                    self._cards -= 1
                    self._cond.notify_all()
        return end

    def yield_to_cards(self, max_s: float) -> float:
        """Pause (at most `max_s`) while any turn computes its cards, so notes never slow them; seconds paused.

        Only a one-slot gate pauses (llama-cpp-python decodes as its reader pulls; a batched runtime or a server
        goes on anyway), and never while a call waits for the slot (that turn waits for us, not we for it)."""
        if not self._cards or self.slots > 1:
            return 0.0
        started = time.monotonic()
        with self._cond:
            self._cond.wait_for(lambda: self._cards == 0 or bool(self._line) or person_left(), timeout=max_s)
        return time.monotonic() - started

    def status(self) -> tuple[int, int]:
        """(calls running, calls waiting)."""
        with self._cond:
            return self._running, len(self._line)

    def _acquire(self, priority: int, wait_s: float | None) -> float:
        """Wait for a slot in line order; the seconds waited."""
        started = time.monotonic()
        with self._cond:
            if not self._line and self._running < self.slots:
                self._running += 1
                return 0.0
            if len(self._line) >= self.max_waiting:
                raise LLMBusy(f"the language model is busy: {len(self._line)} calls are already waiting")
            ticket = (priority, next(self._numbers))
            self._line.append(ticket)
            self._line.sort()
            deadline = None if wait_s is None else started + max(0.0, wait_s)
            try:
                while not (self._line[0] == ticket and self._running < self.slots):
                    if person_left():
                        raise PersonLeft("the person left before the language model was free")
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise LLMBusy(f"the language model was busy with other people's requests for "
                                      f"{time.monotonic() - started:.1f} s")
                    self._cond.wait(_POLL_S if remaining is None else min(remaining, _POLL_S))
            finally:
                self._line.remove(ticket)
                self._cond.notify_all()  # the next in line may go now (or re-check its place)
            self._running += 1
            return time.monotonic() - started

    def _release(self) -> None:
        """Free a slot and wake the line."""
        with self._cond:
            self._running -= 1
            self._cond.notify_all()


def held(gate: LLMGate | None, priority: int, wait_s: float | None) -> AbstractContextManager:
    """`gate.hold(priority, wait_s)`, or nothing to hold when there is no gate (one conversation at a time)."""
    return nullcontext(0.0) if gate is None else gate.hold(priority, wait_s)


def llm_slots(settings: Settings) -> int:
    """How many LLM calls may run at once: a batched runtime's or an OpenAI-compatible server's slots, else 1."""
    from chatbot.llm.factory import embedded_runtime

    name = (settings.llm or "").strip().lower()
    batched = name.startswith("embedded") and embedded_runtime(settings) == "xllamacpp"
    return max(1, settings.llm_slots) if name == "openai" or batched else 1
