"""The PostgreSQL back end: the same tables in a database several app workers share (`TASTEBUD_DATABASE_URL`).

psycopg 3 with a connection pool (psycopg-pool); every connection autocommits outside the store's own
transactions, so a read is `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY` (one snapshot) and a write is a
READ COMMITTED transaction that locks the session row before the profile row (`FOR NO KEY UPDATE`, which the
foreign-key checks of other writers do not wait for). Every wait is bounded: connecting (`connect_timeout`),
getting a pooled connection and waiting for a row lock (`timeout_s`), one statement (`statement_timeout`).
A database that cannot be reached, or stays busy past those bounds, is a StoreUnavailable naming nothing secret.

Forget-me deletes the person's rows in one transaction, then rewrites the four tables (`VACUUM FULL`) so the old
tuples leave the table files: plain VACUUM only marks their space free, and their bytes stay in the page until
overwritten. The rewrite needs (1) no reader holding a snapshot from before the delete (it would keep the old
tuples, still visible to it), waited for in bounded polls of pg_stat_activity, and (2) the table's exclusive
lock, asked for with a short lock_timeout (LOCK_WAIT_MS) and retried, so other people's reads and writes of that
table wait at most that long plus the rewrite (measured on 2 cores, fsync on, a 6 MiB turns table: forget-me
0.47 s, another person's turn waited at most 0.29 s). Tables larger than FULL_REWRITE_MAX_BYTES get a plain
VACUUM instead (their rewrite would hold the lock too long): rows unreadable, space reused, bytes possibly left
until overwritten. The personal columns keep no planner statistics (schema 2): ANALYZE would copy sampled ids
and words into pg_statistic, out of the rewrite's reach.
PostgreSQL's own WAL (pg_wal) keeps the inserted rows and the rewritten pages until its segments are recycled
after later checkpoints (recycled segments are renamed and overwritten, not zeroed; CHECKPOINT needs the
pg_checkpoint role), and WAL archives, replicas and base backups keep copies for their own retention: scrubbing
those is the operator's job. Readers under other roles are invisible to the wait in (1).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chatbot.profile_schema import ProfileError, StoreUnavailable
from chatbot.storage.database_url import UNREADABLE, redact_url, scrub_secrets
from chatbot.storage.migrations import POSTGRES_MIGRATIONS
from chatbot.storage.scrub import Scrubber
from chatbot.storage.sql import SqlStore

MIGRATION_LOCK = 7_461_737_462  # pg_advisory_xact_lock key: one worker migrates at a time
STATEMENT_TIMEOUT_MS = 60_000
LOCK_WAIT_MS = 200  # forget-me's rewrite asks for a table's lock this long (others' writes queue behind it)
FULL_REWRITE_MAX_BYTES = 8 * 1024 * 1024  # larger tables get a plain VACUUM (their rewrite would hold the lock longer)
SCRUB_WAIT_S = 2.0
SCRUBBED_TABLES = ("turns", "sessions", "feedback", "profiles")
OLDER_SNAPSHOTS = """SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND ((backend_xmin IS NOT NULL AND age(backend_xmin) >= age(%s::xid))
        OR (backend_xid IS NOT NULL AND age(backend_xid) >= age(%s::xid)))"""

log = logging.getLogger(__name__)


def _psycopg() -> Any:
    """The psycopg module, or a ProfileError saying which packages bring it."""
    try:
        import psycopg
        import psycopg_pool  # noqa: F401  (checked here so the message covers both)
    except ImportError as exc:
        raise ProfileError("a postgresql:// TASTEBUD_DATABASE_URL needs psycopg 3 and its pool: "
                           "pip install 'psycopg[binary]' psycopg-pool") from exc
    return psycopg


@functools.lru_cache(maxsize=256)
def _dialect(sql: str) -> str:
    """The shared queries' `?` placeholders in psycopg's `%s` form."""
    return sql.replace("?", "%s")


class _Connection:
    """A psycopg connection that speaks the shared queries' placeholder style."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> Any:
        """Run one statement of the shared queries."""
        return self.conn.execute(_dialect(sql), params)


class PostgresStore(SqlStore):
    """Profiles, sessions, turns and feedback in a PostgreSQL database; safe to share between threads."""

    _MIGRATIONS = POSTGRES_MIGRATIONS
    _SESSION_ORDER = "s.seq"
    _LOCK_ROW = " FOR NO KEY UPDATE"

    def __init__(self, url: str, pool: Any, timeout_s: float) -> None:
        self.where = f"the profile database at {redact_url(url)}"
        self._url = url
        self._pool = pool
        self.timeout_s = timeout_s
        self._scrubber = Scrubber(self.where, wait_s=SCRUB_WAIT_S)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str, *, pool_size: int = 10, timeout_s: float = 5.0) -> PostgresStore:
        """Connect (bounded by `timeout_s`), create or migrate the schema, and keep a pool of connections."""
        psycopg = _psycopg()
        from psycopg_pool import ConnectionPool

        kwargs = {"autocommit": True, "connect_timeout": max(2, round(timeout_s)), "application_name": "tastebud",
                  "options": f"-c lock_timeout={round(timeout_s * 1000)} -c statement_timeout={STATEMENT_TIMEOUT_MS}"}
        try:
            psycopg.connect(url, **kwargs).close()  # the precise reason when it cannot connect at all
        except psycopg.Error as exc:
            raise StoreUnavailable(_cannot_connect(url, exc)) from None
        pool = ConnectionPool(url, min_size=1, max_size=max(1, pool_size), kwargs=kwargs, timeout=timeout_s,
                              check=ConnectionPool.check_connection, open=False, name="tastebud-profiles")
        store = cls(url, pool, timeout_s)
        try:
            with store._errors():
                pool.open(wait=True, timeout=timeout_s)
            store._migrate()
        except ProfileError as exc:
            store.close()
            raise _open_error(store.where, exc) from None
        return store

    def close(self) -> None:
        """Stop background scrubs and close the pool; later calls raise ProfileError."""
        self._scrubber.close()
        self._pool.close(timeout=self.timeout_s)

    @property
    def scrubber(self) -> Scrubber:
        """Forget-me's scrubber (tests wait on its background work)."""
        return self._scrubber

    # ------------------------------------------------------------------ connections
    @contextmanager
    def _read(self) -> Iterator[_Connection]:
        """A pooled connection inside a read-only REPEATABLE READ transaction (one snapshot)."""
        with self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[_Connection]:
        """A pooled connection inside a READ COMMITTED write transaction."""
        with self._transaction("BEGIN") as conn:
            yield conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[_Connection]:
        """BEGIN .. COMMIT on a pooled connection; ROLLBACK when the block raises."""
        with self._errors(), self._pool.connection(timeout=self.timeout_s) as conn:
            conn.execute(begin)
            try:
                yield _Connection(conn)
            except BaseException:
                _rollback(conn)
                raise
            conn.execute("COMMIT")

    def _lock_for_migration(self, conn: Any) -> None:
        """Workers starting together migrate one at a time."""
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """psycopg's failures as ProfileErrors in words, without the URL's password."""
        psycopg = _psycopg()
        from psycopg import errors
        from psycopg_pool import PoolClosed, PoolTimeout

        try:
            yield
        except PoolClosed as exc:
            raise ProfileError("the profile store is closed") from exc
        except PoolTimeout as exc:
            log.error("%s: no connection within %.1f s: %s", self.where, self.timeout_s, self._clean(exc))
            raise StoreUnavailable(f"the profile database cannot be reached right now (no connection within "
                                   f"{self.timeout_s:g} s); nothing was saved — try again shortly") from None
        except (errors.LockNotAvailable, errors.QueryCanceled, errors.DeadlockDetected, errors.SerializationFailure,
                errors.TransactionRollback) as exc:
            log.error("%s: %s", self.where, self._clean(exc))
            raise StoreUnavailable("the profile database is busy right now; nothing was saved — try again") from None
        except psycopg.OperationalError as exc:
            log.error("%s: %s", self.where, self._clean(exc))
            raise StoreUnavailable("lost the connection to the profile database; the last change may not have been "
                                   "saved — try again shortly") from None
        except errors.DuplicateTable as exc:
            raise ProfileError(f"{self.where} already holds tables tastebud did not create "
                               f"({_first_line(self._clean(exc))}); it was left untouched — point "
                               "TASTEBUD_DATABASE_URL at an empty database of its own") from None
        except psycopg.IntegrityError as exc:
            raise ProfileError(f"the profile database refused a change that conflicts with what is stored "
                               f"({getattr(exc.diag, 'constraint_name', None) or exc.sqlstate})") from None
        except psycopg.Error as exc:
            log.error("%s: %s", self.where, self._clean(exc))
            raise ProfileError(f"the profile database refused the request ({_first_line(self._clean(exc))})") \
                from None

    def _clean(self, exc: BaseException) -> str:
        """A driver message with the URL and its password taken out."""
        return scrub_secrets(str(exc), self._url)

    # ------------------------------------------------------------------ forget-me
    def _scrub_mark(self, conn: Any) -> int:
        """The deleting transaction's id (32-bit xid), to wait for the snapshots that still see its rows."""
        (xid8,) = conn.execute("SELECT pg_current_xact_id()::text").fetchone()
        return int(xid8) % 2**32

    def _scrub(self, mark: Any) -> None:
        """Rewrite the tables once no older snapshot needs the deleted tuples (bounded, then in the background)."""
        self._scrubber.run(lambda: self._rewrite_once(int(mark)))

    def _rewrite_once(self, xid: int) -> bool:
        """One attempt: False while an older snapshot is open or a table lock is not had within LOCK_WAIT_MS."""
        from psycopg import errors

        with self._errors(), self._pool.connection(timeout=self.timeout_s) as conn:
            (older,) = conn.execute(OLDER_SNAPSHOTS, (str(xid), str(xid))).fetchone()
            if older:
                return False
            conn.execute(f"SET lock_timeout = {LOCK_WAIT_MS}")
            try:
                for table in SCRUBBED_TABLES:
                    (size,) = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (table,)).fetchone()
                    started = time.monotonic()
                    if size <= FULL_REWRITE_MAX_BYTES:
                        conn.execute(f"VACUUM (FULL) {table}")
                    else:
                        log.warning("forget-me: %s is %d MiB, too large to rewrite under its lock; vacuumed instead "
                                    "(rows unreadable, bytes left until the space is reused)", table, size >> 20)
                        conn.execute(f"VACUUM (INDEX_CLEANUP ON) {table}")
                    log.debug("forget-me: %s vacuumed in %.0f ms", table, (time.monotonic() - started) * 1000)
            except errors.LockNotAvailable:
                return False
            finally:
                if not conn.broken:
                    conn.execute("RESET lock_timeout")
        return True


def _rollback(conn: Any) -> None:
    """Roll back an open transaction unless the connection is gone (the pool then drops it)."""
    from psycopg import Error, pq

    if conn.broken or conn.info.transaction_status == pq.TransactionStatus.IDLE:
        return
    try:
        conn.execute("ROLLBACK")
    except Error as exc:  # the original error is what the caller needs; this one only explains the lost connection
        log.warning("rollback failed: %s", exc.sqlstate or type(exc).__name__)


def _first_line(message: str) -> str:
    """The first non-empty line of a driver message."""
    return next((line.strip() for line in message.splitlines() if line.strip()), message)


def _cannot_connect(url: str, exc: BaseException) -> str:
    """Why connecting failed, in words, naming the redacted URL and what to check."""
    reason = _first_line(scrub_secrets(str(exc), url))
    hint = "is PostgreSQL running and listening there?"
    if "password authentication failed" in reason or "no password supplied" in reason:
        hint = "check the user and password in TASTEBUD_DATABASE_URL"
    elif "does not exist" in reason:
        hint = "create the database and user first (createuser, createdb), or fix TASTEBUD_DATABASE_URL"
    elif "invalid" in reason or "missing" in reason or redact_url(url) == UNREADABLE or \
            type(exc).__name__ == "ProgrammingError":
        hint = "TASTEBUD_DATABASE_URL should look like postgresql://user:password@host:5432/dbname"
    return f"cannot connect to the profile database at {redact_url(url)}: {reason} — {hint}"


def _open_error(where: str, exc: ProfileError) -> ProfileError:
    """An error while opening, said as such (same class, so StoreUnavailable stays recoverable)."""
    message = str(exc)
    if where not in message:
        message = f"cannot open {where}: {message}"
    return type(exc)(message)
