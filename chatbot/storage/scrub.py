"""Forget-me's last step on either back end: scrub the deleted rows' old bytes, within a bound, then in the background.

A store deletes a person's rows in one short transaction; removing the bytes those rows left behind (SQLite's
WAL, PostgreSQL's heap pages) can need other connections to finish what they are reading. `Scrubber.run` tries
for at most `wait_s`, each attempt itself bounded, so forget-me answers promptly and never stalls other
people's writes; if a reader still holds an old snapshot then, a background thread keeps trying until it is
done, `retry_s` has passed, or the store is closed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from chatbot.profile_schema import ProfileError

log = logging.getLogger(__name__)


class Scrubber:
    """Runs a store's scrub attempts: inline for at most `wait_s`, then in a background thread until done."""

    def __init__(self, where: str, wait_s: float = 2.0, retry_s: float = 600.0, interval_s: float = 0.05,
                 later_interval_s: float = 0.25) -> None:
        self.where = where
        self.wait_s = wait_s
        self.retry_s = retry_s
        self.interval_s = interval_s
        self.later_interval_s = later_interval_s
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def run(self, attempt: Callable[[], bool]) -> bool:
        """Try `attempt` until it returns True or `wait_s` passed; False means it goes on in the background."""
        deadline = time.monotonic() + self.wait_s
        while not self._closed.is_set():
            if self._try(attempt):
                return True
            if time.monotonic() >= deadline:
                break
            self._closed.wait(self.interval_s)
        log.warning("forget-me: the rows are deleted; their old bytes in %s are scrubbed in the background as soon "
                    "as the readers still holding an older snapshot finish", self.where)
        self._start_later(attempt)
        return False

    def pending(self) -> int:
        """How many scrubs are still going on in the background."""
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            return len(self._threads)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait (at most `timeout_s`) for the background scrubs to finish; True when none is left."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.pending() == 0

    def close(self) -> None:
        """Stop the background scrubs (each stops at its next check; waits at most a second for each)."""
        self._closed.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(1.0)

    def _start_later(self, attempt: Callable[[], bool]) -> None:
        """A daemon thread that keeps trying `attempt`."""
        if self._closed.is_set():
            return
        thread = threading.Thread(target=self._retry, args=(attempt,), name="tastebud-scrub", daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _retry(self, attempt: Callable[[], bool]) -> None:
        """Try every `later_interval_s` until done, `retry_s` passed, or the store closed."""
        deadline = time.monotonic() + self.retry_s
        while not self._closed.wait(self.later_interval_s):
            if self._try(attempt):
                log.info("forget-me: the old bytes in %s are scrubbed now", self.where)
                return
            if time.monotonic() >= deadline:
                log.warning("forget-me: gave up scrubbing %s after %.0f s; the next scrub or checkpoint does it",
                            self.where, self.retry_s)
                return

    def _try(self, attempt: Callable[[], bool]) -> bool:
        """One attempt; a store error (database busy or unreachable) counts as not done yet, and is logged."""
        try:
            return attempt()
        except ProfileError as exc:
            log.warning("forget-me: scrubbing %s failed for now: %s", self.where, exc)
            return False
