"""The SQLite back end, the default: profiles, sessions, turns and feedback in `<data_dir>/profiles.sqlite`.

One store per process, shared by every thread. WAL journal, so readers never wait for the writer and a killed
process loses at most the write in flight. Reads run on a small pool of connections in parallel; writes take
turns on a lock inside the process and `BEGIN IMMEDIATE` across processes (bounded by BUSY_TIMEOUT_MS, then
StoreUnavailable). Ids are unguessable (`secrets.token_urlsafe(16)`, 128 bits) because a profile id is the only
key a browser holds.

Forget-me deletes every row of the person in one transaction with `secure_delete` on (freed cells and pages are
zeroed in the new page images). `secure_delete` alone is not enough: when a deletion rebalances a b-tree page,
copies of the deleted cells can stay in the page's unallocated gap (measured: a profile or session id left in
2 of 150 forget-mes). So the database is then rewritten (`VACUUM`, about 0.1 s per 10 MiB, under the write
lock) while it is at most REWRITE_MAX_BYTES; a larger one logs that stray copies may remain until their pages
are reused, as PostgreSQL's back end does for its large tables. Last, the WAL is checkpointed into the file and
truncated, so the old page images leave the disk too. That checkpoint runs on its own connection with a short busy wait (SCRUB_ATTEMPT_MS), never
under the store's lock, retried for SCRUB_WAIT_S and then in the background while a reader elsewhere still holds
an older snapshot: other people's writes wait at most one attempt behind it, and reads not at all.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chatbot.profile_schema import ProfileError, StoreUnavailable
from chatbot.storage.migrations import SQLITE_MIGRATIONS
from chatbot.storage.scrub import Scrubber
from chatbot.storage.sql import SqlStore

DB_NAME = "profiles.sqlite"
BUSY_TIMEOUT_MS = 10_000  # a write waits this long for another process's write, then StoreUnavailable
SCRUB_ATTEMPT_MS = 100  # one checkpoint attempt waits at most this long for readers (writers wait behind it)
REWRITE_MAX_BYTES = 32 * 1024 * 1024  # forget-me rewrites a database this small (~0.2 s of others' writes waiting)
SCRUB_WAIT_S = 2.0  # forget-me retries the checkpoint this long before leaving it to the background
MAX_CONNECTIONS = 8  # per store: this many reads at once; writes go one at a time

log = logging.getLogger(__name__)


class SQLiteStore(SqlStore):
    """Profiles, sessions, turns and feedback in `<data_dir>/profiles.sqlite`; safe to share between threads."""

    _MIGRATIONS = SQLITE_MIGRATIONS
    _SESSION_ORDER = "s.rowid"
    _LOCK_ROW = ""  # BEGIN IMMEDIATE already holds the whole file for the writer

    def __init__(self, path: Path, busy_timeout_s: float = BUSY_TIMEOUT_MS / 1000) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self.where = "the profile database"  # messages reach clients: no file name, no directory (logs have them)
        self._write_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._closed = False
        self._scrubber = Scrubber(str(path), wait_s=SCRUB_WAIT_S)  # it only logs: the path helps the operator

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, data_dir: Path, *, busy_timeout_s: float = BUSY_TIMEOUT_MS / 1000) -> SQLiteStore:
        """Open (creating or migrating if needed) the profile database in `data_dir`; writes wait `busy_timeout_s`."""
        data_dir = Path(data_dir)
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProfileError(f"cannot create the data dir {data_dir} for profiles: {exc.strerror}") from exc
        path = data_dir / DB_NAME
        store = cls(path, busy_timeout_s)
        try:
            with store._connection() as conn:
                conn.execute("PRAGMA journal_mode = WAL")  # kept in the file: every later connection uses it
            store._migrate()
        except (sqlite3.OperationalError, StoreUnavailable) as exc:
            store.close()
            raise ProfileError(f"cannot open the profile database {path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            store.close()
            raise ProfileError(f"{path} is not a usable tastebud profile database ({exc}); it was left untouched — "
                               "move it aside to start with an empty one") from exc
        except ProfileError as exc:  # said at start-up, to the operator: the path helps
            store.close()
            raise type(exc)(str(exc).replace(store.where, f"{store.where} {path}", 1)) from exc
        return store

    def close(self) -> None:
        """Close every connection and stop background scrubs; later calls raise ProfileError."""
        self._scrubber.close()
        with self._pool_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def integrity_check(self) -> str:
        """SQLite's own integrity check: "ok" when the file is sound."""
        with self._errors(), self._connection() as conn:
            return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check").fetchall())

    @property
    def scrubber(self) -> Scrubber:
        """Forget-me's scrubber (tests wait on its background work)."""
        return self._scrubber

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        """A new connection with the store's settings (busy timeout, foreign keys, secure delete)."""
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection for the duration of the block (at most MAX_CONNECTIONS at once, bounded wait)."""
        if not self._slots.acquire(timeout=self.busy_timeout_s):
            raise StoreUnavailable(f"{self.where} is busy (every connection in use); nothing was saved — try again")
        try:
            with self._pool_lock:
                if self._closed:
                    raise ProfileError("the profile store is closed")
                conn = self._idle.pop() if self._idle else None
            conn = conn or self._connect()
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                with self._pool_lock:
                    keep = not self._closed
                    if keep:
                        self._idle.append(conn)
                if not keep:
                    conn.close()
        finally:
            self._slots.release()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection inside a read transaction (one consistent snapshot); no lock is taken."""
        with self._errors(), self._connection() as conn:
            conn.execute("BEGIN")
            yield conn
            conn.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection inside BEGIN IMMEDIATE, one writer of this process at a time.

        The wait for this process's other writers and for another process's write transaction together is
        bounded by `busy_timeout_s`; readers and forget-me's checkpoint never take this lock.
        """
        deadline = time.monotonic() + self.busy_timeout_s  # one bound for the whole wait, in and across processes
        with self._errors():
            if not self._write_lock.acquire(timeout=self.busy_timeout_s):
                raise StoreUnavailable(f"{self.where} is busy (other writes queued for {self.busy_timeout_s:g} s); "
                                       "nothing was saved — try again shortly")
            try:
                with self._connection() as conn:
                    left_ms = max(1, round((deadline - time.monotonic()) * 1000))
                    conn.execute(f"PRAGMA busy_timeout = {left_ms}")
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                        yield conn  # an exception rolls back as the connection goes back to the pool
                        conn.execute("COMMIT")
                    finally:
                        conn.execute(f"PRAGMA busy_timeout = {round(self.busy_timeout_s * 1000)}")
            finally:
                self._write_lock.release()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's failures as ProfileErrors that name the database but not where it lives on the server."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            log.error("profile database %s: %s", self.path, exc)
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreUnavailable(f"{self.where} is busy (another process held it for {self.busy_timeout_s:g} "
                                       "s); nothing was saved — try again shortly") from exc
            raise ProfileError(f"{self.where} could not be used: {exc}") from exc

    # ------------------------------------------------------------------ forget-me
    def _scrub(self, mark: object) -> None:
        """Rewrite a small enough database, then checkpoint the WAL into it and truncate it (bounded, then later)."""
        self._rewrite()
        self._scrubber.run(self._checkpoint_once)

    def _rewrite(self) -> None:
        """VACUUM under the write lock when the file is at most REWRITE_MAX_BYTES; else only log (rows are gone)."""
        size = self.path.stat().st_size if self.path.exists() else 0
        if size > REWRITE_MAX_BYTES:
            log.warning("forget-me: %s is %d MiB, too large to rewrite under its lock; the rows are deleted, stray "
                        "copies may stay in free page space until it is reused", self.path, size >> 20)
            return
        started = time.monotonic()
        try:
            if not self._write_lock.acquire(timeout=self.busy_timeout_s):  # the lock order of every writer
                raise StoreUnavailable("other writes queued")
            try:
                with self._errors(), self._connection() as conn:
                    conn.execute("VACUUM")
            finally:
                self._write_lock.release()
        except ProfileError as exc:  # the deletion stands; only the rewrite is missed
            log.warning("forget-me: the rows are deleted but %s could not be rewritten (%s)", self.path, exc)
            return
        log.debug("forget-me: %s rewritten in %.0f ms", self.path, (time.monotonic() - started) * 1000)

    def _checkpoint_once(self) -> bool:
        """One checkpoint(TRUNCATE) on a connection of its own that waits at most SCRUB_ATTEMPT_MS; True when done.

        While it waits for readers it holds other writers back, so the wait is short; readers that started
        before the delete keep the old page images in the WAL until they finish, so a busy answer is retried.
        """
        if self._closed:
            return True
        with self._errors():
            conn = sqlite3.connect(self.path, timeout=SCRUB_ATTEMPT_MS / 1000, isolation_level=None)
            try:
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.close()
        return busy == 0
