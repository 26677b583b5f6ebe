"""TurnQueue: the line of conversation turns every door shares, first come first served, bounded.

Two modes (setting `TASTEBUD_TURN_QUEUE`, see `TurnQueue.from_settings`):
- `parallel` (the setting's default): up to `max_in_flight` turns run at once; the parts of a turn that need no
  LLM (rules, retrieval, ranking, the cards) never wait for another turn, and only the LLM calls queue, in the
  decoding scheduler (`chatbot.llm.scheduler`), which decodes several of them together;
- `serial`: one whole turn at a time (the LLM was a single instance): the behaviour before, kept as the serve
  benchmark's baseline and the constructor's default.

A person who has to wait gets their place in line ("busy, you are number 2") instead of a time-out, and the line
is bounded: when `max_waiting` turns already wait, a new turn is refused at once with `QueueFull` (HTTP 503).
Each turn's LLM calls form one `CallGroup`: when the person leaves (the events are closed, the client
disconnects), its queued LLM calls are dropped unrun and its running ones stop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from chatbot.llm.generation import CallGroup
from retrieval.errors import TastebudError

if TYPE_CHECKING:
    from chatbot.config import Settings

QueueMode = Literal["parallel", "serial"]
MODES: tuple[str, ...] = ("parallel", "serial")


class QueueFull(TastebudError):
    """Too many turns are already waiting; the person should try again shortly."""


class QueueTimeout(TastebudError):
    """A turn waited longer than the queue allows without getting its turn."""


class Event(Protocol):
    """What the agent yields: a ReplyEvent's kind and data."""

    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class QueueStatus:
    """A snapshot of the queue: whether a turn runs, how many wait, and the bound."""

    running: bool
    waiting: int
    max_waiting: int
    in_flight: int = 0  # turns running now
    mode: str = "serial"
    max_in_flight: int = 1  # turns that may run at once


class Ticket:
    """One turn's place in a TurnQueue; release it exactly once (the `turn` context manager does)."""

    def __init__(self, queue: TurnQueue, number: int) -> None:
        self._queue = queue
        self.number = number
        self.released = False
        self.waker: Callable[[], Any] | None = None  # set by an async waiter: called when the line moves

    @property
    def position(self) -> int:
        """1-based place among the turns not yet running (0 once this turn may run)."""
        return self._queue._position(self)

    def wait(self, timeout_s: float) -> bool:
        """Block up to `timeout_s` for this turn to come; True when it may run now."""
        return self._queue._wait(self, timeout_s)

    def release(self) -> None:
        """Leave the queue (done, or gave up waiting); idempotent."""
        self._queue._release(self)


class TurnQueue:
    """A FIFO semaphore (one holder when serial, `max_in_flight` when parallel) with a bounded waiting line and
    reported positions; safe to share between threads."""

    def __init__(self, max_waiting: int = 64, max_wait_s: float = 600.0, *, mode: QueueMode = "serial",
                 max_in_flight: int = 32) -> None:
        if max_waiting < 0:
            raise ValueError("max_waiting must be >= 0")
        if mode not in MODES:
            raise TastebudError(f"unknown turn queue TASTEBUD_TURN_QUEUE={mode!r}; valid: {', '.join(MODES)}")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self.max_waiting = max_waiting
        self.max_wait_s = max_wait_s  # a turn that has waited this long gives up with QueueTimeout
        self.mode = mode
        self.capacity = 1 if mode == "serial" else max_in_flight  # turns that run at once
        self._cond = threading.Condition()
        self._next_number = 0
        self._line: list[int] = []  # ticket numbers in arrival order; the first `capacity` ones run
        self._waiting: set[Ticket] = set()  # live tickets, to wake async waiters when the line moves

    @classmethod
    def from_settings(cls, settings: Settings, max_waiting: int | None = None,
                      max_wait_s: float | None = None) -> TurnQueue:
        """The queue the settings ask for: `turn_queue` (parallel | serial), `max_turns_in_flight`, and the line's
        bound and patience (`max_waiting`, `max_wait_s`, unless given)."""
        mode = str(settings.turn_queue or "parallel").strip().lower()
        return cls(max_waiting=settings.max_waiting if max_waiting is None else max_waiting,
                   max_wait_s=settings.max_wait_s if max_wait_s is None else max_wait_s,
                   mode=mode, max_in_flight=settings.max_turns_in_flight)  # type: ignore[arg-type]

    def enter(self) -> Ticket:
        """Join the line (QueueFull when `max_waiting` turns already wait behind the running ones)."""
        with self._cond:
            waiting = max(0, len(self._line) - self.capacity)
            if len(self._line) >= self.capacity and waiting >= self.max_waiting:
                raise QueueFull(
                    f"tastebud is busy: {waiting} conversations are already waiting for an answer; "
                    "please try again in a minute"
                )
            ticket = Ticket(self, self._next_number)
            self._next_number += 1
            self._line.append(ticket.number)
            self._waiting.add(ticket)
            return ticket

    def status(self) -> QueueStatus:
        """Whether a turn is running, how many run and how many wait."""
        with self._cond:
            in_flight = min(len(self._line), self.capacity)
            return QueueStatus(running=bool(self._line), waiting=len(self._line) - in_flight,
                               max_waiting=self.max_waiting, in_flight=in_flight, mode=self.mode,
                               max_in_flight=self.capacity)

    def waits(self, ticket: Ticket, poll_s: float = 0.5) -> Iterator[int]:
        """Yield the ticket's position each time it changes while it waits; return when it may run.

        Bounded in time: raises QueueTimeout after `max_wait_s` (the ticket is released then).
        """
        deadline = time.monotonic() + self.max_wait_s
        last = -1
        while True:
            position = ticket.position
            if position == 0:
                return
            if position < 0:
                raise QueueTimeout("this turn left the queue before it could run; please send the message again")
            if position != last:
                last = position
                yield position
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                ticket.release()
                raise QueueTimeout(
                    f"tastebud is busy and your turn did not come within {self.max_wait_s:.0f} s; please try again"
                )
            ticket.wait(min(poll_s, remaining))

    async def await_turn(self, ticket: Ticket, poll_s: float = 1.0) -> AsyncIterator[int]:
        """Async `waits`: yield the position whenever it changes, holding no thread while waiting.

        A release anywhere in the line wakes the waiters at once (from any thread); `poll_s` is only a backstop.
        """
        deadline = time.monotonic() + self.max_wait_s
        last = -1
        loop = asyncio.get_running_loop()
        moved = asyncio.Event()
        ticket.waker = lambda: loop.call_soon_threadsafe(moved.set)
        while True:
            position = ticket.position
            if position == 0:
                return
            if position < 0:
                raise QueueTimeout("this turn left the queue before it could run; please send the message again")
            if position != last:
                last = position
                yield position
            if time.monotonic() > deadline:
                ticket.release()
                raise QueueTimeout(
                    f"tastebud is busy and your turn did not come within {self.max_wait_s:.0f} s; please try again"
                )
            try:
                await asyncio.wait_for(moved.wait(), timeout=poll_s)
            except TimeoutError:
                pass
            moved.clear()

    @contextmanager
    def turn(self) -> Iterator[Ticket]:
        """Enter, wait (blocking, bounded) and hold the turn for the `with` body; always released."""
        ticket = self.enter()
        try:
            for _ in self.waits(ticket):
                pass
            yield ticket
        finally:
            ticket.release()

    # ---------------------------------------------------------------- internals used by Ticket
    def _position(self, ticket: Ticket) -> int:
        """0 when the ticket may run, else its 1-based place among the waiting; -1 once released."""
        with self._cond:
            try:
                index = self._line.index(ticket.number)
            except ValueError:
                return -1
            return max(0, index - self.capacity + 1)

    def _runs(self, ticket: Ticket) -> bool:
        """True when the ticket is among the first `capacity` of the line (the lock held)."""
        return ticket.number in self._line[:self.capacity]

    def _wait(self, ticket: Ticket, timeout_s: float) -> bool:
        """Wait on the condition until the ticket may run or the timeout passes."""
        with self._cond:
            self._cond.wait_for(lambda: not self._line or self._runs(ticket), timeout=timeout_s)
            return self._runs(ticket)

    def _release(self, ticket: Ticket) -> None:
        """Remove the ticket from the line and wake the others."""
        with self._cond:
            if ticket.released:
                return
            ticket.released = True
            try:
                self._line.remove(ticket.number)
            except ValueError:
                pass
            self._cond.notify_all()
            wakers = [t.waker for t in self._waiting if t.waker is not None]
            self._waiting.discard(ticket)
        for wake in wakers:  # outside the lock: a closed event loop must not block the line
            try:
                wake()
            except RuntimeError:  # that waiter's event loop is gone; its poll backstop or timeout covers it
                pass


class _TurnSteps:
    """The agent's events of one turn, stepped one at a time (in worker threads) inside the turn's CallGroup, and
    closable from any thread at any time: `close` cancels the turn's LLM calls at once and closes the events as
    soon as no step runs (by the step itself when one does), so a person who leaves frees the LLM promptly."""

    def __init__(self, respond: Callable[[], Iterator[Event]]) -> None:
        self._respond = respond
        self._events: Iterator[Event] | None = None
        self.calls = CallGroup()
        self._lock = threading.Lock()
        self._busy = False
        self._closing = False

    def next(self) -> Any:
        """The next event, or the _END marker (also once closing)."""
        with self._lock:
            if self._closing:
                return _END
            self._busy = True
        try:
            with self.calls.active():
                if self._events is None:
                    self._events = self._respond()
                return next(self._events, _END)
        finally:
            with self._lock:
                self._busy = False
                close_now = self._closing
            if close_now:
                self._close_events()

    def close(self) -> None:
        """Stop the turn: its LLM calls now, its events when no step runs; never blocks."""
        self.calls.cancel()
        with self._lock:
            self._closing = True
            if self._busy:
                return  # the running step closes the events when it returns
        self._close_events()

    def _close_events(self) -> None:
        """Close the agent's generator (GeneratorExit inside the turn)."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()


def queued_events(queue: TurnQueue, ticket: Ticket, respond: Callable[[], Iterator[Event]]
                  ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, data) pairs of one turn: `busy` while waiting, then the agent's events; `error` if it fails.

    The ticket is released and the turn's LLM calls stopped when the turn ends, fails, or the consumer stops early
    (generator closed).
    """
    steps = _TurnSteps(respond)
    try:
        for position in queue.waits(ticket):
            yield "busy", {"position": position}
        while True:
            event = steps.next()
            if event is _END:
                break
            yield event.kind, event.data
    except TastebudError as exc:  # recoverable: the person is told, the session survives
        yield "error", {"message": str(exc)}
    finally:
        steps.close()
        ticket.release()


_END = object()


async def aqueued_events(queue: TurnQueue, ticket: Ticket, respond: Callable[[], Iterator[Event]]
                         ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Async `queued_events`: waiting holds no thread; each blocking agent step runs in a worker thread.

    Closing it (the client disconnected) does not wait for a step in progress: the turn's LLM calls stop at once
    and the agent's generator is closed when that step returns.
    """
    import anyio

    steps = _TurnSteps(respond)
    try:
        async for position in queue.await_turn(ticket):
            yield "busy", {"position": position}
        while True:
            event = await anyio.to_thread.run_sync(steps.next, abandon_on_cancel=True)
            if event is _END:
                break
            yield event.kind, event.data
    except TastebudError as exc:  # recoverable: the person is told, the session survives
        yield "error", {"message": str(exc)}
    finally:
        steps.close()
        ticket.release()
