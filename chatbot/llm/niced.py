"""In-process LLM work on threads of its own at a lower CPU priority (nice 10), so that on a small machine the
code's work for other people (understanding by rules, search, ranking: their cards) always goes first and the LLM
gets every cycle nobody else needs. A thread's nice value is its own on Linux and is inherited by the threads it
starts (llama.cpp's compute threads); where it cannot be set, the work runs at normal priority.

Measured with `tastebud bench serve --sessions 32` (2 cores, README "Figures"): without it llama.cpp's two
compute threads took both cores while 32 people waited for cards.
"""

from __future__ import annotations

import contextvars
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
NICE = 10  # CFS weight 110 against 1024 at nice 0: the LLM runs on what is left
MAX_WORKERS = 64  # LLM calls in flight at once (the gate admits fewer; bench llm --streams up to 32)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _lower_priority() -> None:
    """Give the calling thread (and the threads it will start) a lower CPU priority, where the OS allows."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (OSError, AttributeError):  # not Linux, or not allowed: normal priority
        pass


def _executor() -> ThreadPoolExecutor:
    """The shared pool of low-priority LLM threads (made on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="tastebud-llm", initializer=_lower_priority)
        return _pool


def run(fn: Callable[[], T]) -> T:
    """`fn()` on a low-priority LLM thread; its result or its exception."""
    return _executor().submit(contextvars.copy_context().run, fn).result()


def iterate(make: Callable[[], Iterator[T]]) -> Iterator[T]:
    """The items of `make()`, produced on a low-priority LLM thread one step ahead of the reader at most (a reader
    that pauses pauses the work); closing this generator stops the work and closes the inner iterator."""
    pipe: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        """Hand one result to the reader; False once the reader has gone."""
        while not stop.is_set():
            try:
                pipe.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        """Produce every item (or the error) for the reader."""
        try:
            items = make()
            try:
                for item in items:
                    if not put("item", item):
                        break
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
            put("end", None)
        except BaseException as exc:  # handed to the reader, raised there
            put("error", exc)

    _executor().submit(contextvars.copy_context().run, work)
    try:
        while True:
            kind, value = pipe.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
