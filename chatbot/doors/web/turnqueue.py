"""TurnQueue: at most `max_running` conversation turns at once, first come first served.

Every door (HTTP API, SSE stream, Gradio UI, widget) shares one queue per app. Turns run side by side (the
setting TASTEBUD_TURNS_AT_ONCE; their LLM calls queue behind the agent's LLM gate, understanding first, so cards
never wait behind another person's notes); `max_running=1` is one whole turn at a time. A person who has to
wait gets their place in line ("busy, you are number 2") instead of a time-out, and the line is bounded: when
`max_waiting` people already wait, a new turn is refused at once with `QueueFull` (HTTP 503).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from retrieval.errors import TastebudError


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
    """A snapshot of the queue: how many turns run, how many wait, and the bounds."""

    running: int
    waiting: int
    max_waiting: int
    max_running: int = 1


class Ticket:
    """One turn's place in a TurnQueue; release it exactly once (the `turn` context manager does)."""

    def __init__(self, queue: TurnQueue, number: int) -> None:
        self._queue = queue
        self.number = number
        self.released = False
        self.waker: Callable[[], Any] | None = None  # set by an async waiter: called when the line moves
        self.on_release: Callable[[], Any] | None = None  # called once when the ticket leaves the queue

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

    def step_aside(self) -> None:
        """Free this turn's place for the next one while it goes on (its cards are shown; its notes are written
        behind the LLM gate); `release` still ends it."""
        self._queue._step_aside(self)


class TurnQueue:
    """A FIFO counting lock with a bounded waiting line and reported positions; safe to share between threads."""

    def __init__(self, max_waiting: int = 64, max_wait_s: float = 600.0, max_running: int = 1) -> None:
        if max_waiting < 0 or max_running < 1:
            raise ValueError("max_waiting must be >= 0 and max_running >= 1")
        self.max_waiting = max_waiting
        self.max_running = max_running
        self.max_wait_s = max_wait_s  # a turn that has waited this long gives up with QueueTimeout
        self._cond = threading.Condition()
        self._next_number = 0
        self._line: list[int] = []  # ticket numbers in arrival order; the first `max_running` hold turns
        self._waiting: set[Ticket] = set()  # live tickets, to wake async waiters when the line moves

    def enter(self) -> Ticket:
        """Join the line (QueueFull when `max_waiting` turns already wait behind the running one)."""
        with self._cond:
            waiting = max(0, len(self._line) - self.max_running)
            if len(self._line) >= self.max_running and waiting >= self.max_waiting:
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
        """How many turns run and how many wait."""
        with self._cond:
            return QueueStatus(running=min(len(self._line), self.max_running),
                               waiting=max(0, len(self._line) - self.max_running), max_waiting=self.max_waiting,
                               max_running=self.max_running)

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
        """0 when the ticket holds a turn, else its 1-based place among the waiting; -1 once released."""
        with self._cond:
            try:
                return max(0, self._line.index(ticket.number) - self.max_running + 1)
            except ValueError:
                return -1

    def _wait(self, ticket: Ticket, timeout_s: float) -> bool:
        """Wait on the condition until the ticket heads the line or the timeout passes."""
        with self._cond:
            self._cond.wait_for(lambda: ticket.number in self._line[:self.max_running], timeout=timeout_s)
            return ticket.number in self._line[:self.max_running]

    def _step_aside(self, ticket: Ticket) -> None:
        """Take the ticket out of the line without ending it; wake the others."""
        with self._cond:
            if ticket.number not in self._line:
                return
            self._line.remove(ticket.number)
            self._cond.notify_all()
            wakers = [t.waker for t in self._waiting if t.waker is not None and t is not ticket]
        _wake(wakers)

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
        if ticket.on_release is not None:
            ticket.on_release()
        _wake(wakers)


def _wake(wakers: list[Callable[[], Any]]) -> None:
    """Tell async waiters the line moved (outside the lock: a closed event loop must not block the line)."""
    for wake in wakers:
        try:
            wake()
        except RuntimeError:  # that waiter's event loop is gone; its poll backstop or timeout covers it
            pass


def queued_events(queue: TurnQueue, ticket: Ticket, respond: Callable[[], Iterator[Event]]
                  ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, data) pairs of one turn: `busy` while waiting, then the agent's events; `error` if it fails.

    The ticket is released when the turn ends, fails, or the consumer stops early (generator closed).
    """
    try:
        for position in queue.waits(ticket):
            yield "busy", {"position": position}
        for event in respond():
            yield event.kind, event.data
    except TastebudError as exc:  # recoverable: the person is told, the session survives
        yield "error", {"message": str(exc)}
    finally:
        ticket.release()


_END = object()


def _next_event(events: Iterator[Event]) -> Any:
    """The next event of a blocking iterator, or the _END marker (StopIteration cannot cross a thread)."""
    return next(events, _END)


async def aqueued_events(queue: TurnQueue, ticket: Ticket, respond: Callable[[], Iterator[Event]],
                         gate: Any = None) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Async `queued_events`: waiting holds no thread; each blocking agent step runs in a worker thread.

    `gate`, the agent's LLM gate: while this turn computes its cards, other turns' notes pause for it.
    """
    import anyio

    from chatbot.llm.gate import TURN_LEFT

    events: Iterator[Event] | None = None
    cards_shown: Callable[[], None] = lambda: None  # noqa: E731
    left = threading.Event()
    TURN_LEFT.set(left)  # copied into every worker thread below: the turn's LLM calls see when the person leaves
    try:
        async for position in queue.await_turn(ticket):
            yield "busy", {"position": position}
        if gate is not None:
            cards_shown = gate.cards_begin()
        events = respond()
        while True:
            event = await anyio.to_thread.run_sync(_next_event, events)
            if event is _END:
                break
            if event.kind == "items":  # the cards are out: the notes need no turn place, only the LLM gate
                cards_shown()
                if queue.max_running > 1:  # (one turn at a time means a whole turn, the notes included)
                    ticket.step_aside()
            yield event.kind, event.data
    except TastebudError as exc:  # recoverable: the person is told, the session survives
        yield "error", {"message": str(exc)}
    finally:
        left.set()  # finished or abandoned: nothing of this turn may still wait for the LLM
        cards_shown()
        ticket.release()
        close = getattr(events, "close", None)
        if close is not None:
            close()
