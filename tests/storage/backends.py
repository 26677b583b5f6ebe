"""The two back ends as the contract tests see them: open a store, and look at the database from outside it.

Each `Backend` opens stores on one database of a test's own and offers what a test needs to check the store's
claims independently: raw SQL on a separate connection, every row mentioning a value, the bytes of every file
the database keeps on disk, and a reader that holds a snapshot open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import psycopg

from chatbot.config import Settings
from chatbot.storage.factory import open_store
from chatbot.storage.protocol import Store
from chatbot.storage.sqlite import DB_NAME, SQLiteStore
from tests.postgres import PostgresCluster


class Backend:
    """One database of a test's own, on one back end."""

    kind = ""
    integrity_error: type[Exception] = Exception

    def settings(self, **overrides: Any) -> Settings:
        """Settings that make `open_store` choose this back end and database."""
        raise NotImplementedError

    def open(self) -> Store:
        """A new store on this database, opened the way the app opens it (the factory)."""
        return open_store(self.settings())

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL on a connection of its own (autocommit); the rows it returns."""
        raise NotImplementedError

    def tables(self) -> list[str]:
        """Every table of the database."""
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        """Every column of a table."""
        raise NotImplementedError

    def rows_mentioning(self, value: str) -> dict[str, int]:
        """Per table.column, how many rows equal `value` or contain it (text columns)."""
        found: dict[str, int] = {}
        for table in self.tables():
            for column in self.columns(table):
                ((n,),) = self.execute(self.contains_sql.format(table=table, column=column), (value,))
                if n:
                    found[f"{table}.{column}"] = n
        return found

    contains_sql = ""  # count(*) of rows whose column, as text, contains the parameter (case-sensitive)

    def disk_bytes(self) -> bytes:
        """Every byte the database keeps in its files (SQLite: file, WAL, shm; PostgreSQL: the tables' files)."""
        raise NotImplementedError

    def gather_statistics(self) -> None:
        """What the database's own upkeep does at any moment (ANALYZE: PostgreSQL's autovacuum runs it)."""
        self.execute("ANALYZE")

    def reader_holding_a_snapshot(self) -> AbstractContextManager[None]:
        """A separate connection inside a read transaction that has read the turns, held until the block ends."""
        raise NotImplementedError

    def impatient_store(self) -> Store:
        """A store whose writes wait at most about a second for a lock (busy timeout / lock timeout)."""
        raise NotImplementedError

    def holding_write_lock(self, session_id: str) -> AbstractContextManager[None]:
        """Another connection holding what a write to this session needs, until the block ends."""
        raise NotImplementedError


class SQLiteBackend(Backend):
    """`profiles.sqlite` in a test's own data dir."""

    kind = "sqlite"
    integrity_error = sqlite3.IntegrityError
    contains_sql = 'SELECT count(*) FROM {table} WHERE instr(CAST("{column}" AS TEXT), ?) > 0'

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / DB_NAME

    def settings(self, **overrides: Any) -> Settings:
        """The default: no database URL, so SQLite in the data dir."""
        return Settings(data_dir=self.data_dir, llm="fake", chroma_url=None, database_url=None, **overrides)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """SQL on a fresh connection with foreign keys on (autocommit)."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def tables(self) -> list[str]:
        """Tables from sqlite_master."""
        return [r[0] for r in self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]

    def columns(self, table: str) -> list[str]:
        """Columns from PRAGMA table_info."""
        return [r[1] for r in self.execute(f"PRAGMA table_info({table})")]

    def disk_bytes(self) -> bytes:
        """The database file, its WAL and its shared-memory index."""
        return b"".join(p.read_bytes() for p in self.data_dir.glob(DB_NAME + "*") if p.is_file())

    @contextmanager
    def reader_holding_a_snapshot(self) -> Iterator[None]:
        """BEGIN; SELECT from turns; ... COMMIT on a raw connection."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT count(*), max(user_message) FROM turns").fetchone()
            yield
            conn.execute("COMMIT")
        finally:
            conn.close()


    def impatient_store(self) -> Store:
        """Writes wait 0.5 s for another process's write lock."""
        return SQLiteStore.open(self.data_dir, busy_timeout_s=0.5)

    @contextmanager
    def holding_write_lock(self, session_id: str) -> Iterator[None]:
        """BEGIN IMMEDIATE on a raw connection: the whole file's write lock."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()


class PostgresBackend(Backend):
    """A database of its own on the session's throwaway PostgreSQL server."""

    kind = "postgres"
    integrity_error = psycopg.IntegrityError
    contains_sql = 'SELECT count(*) FROM {table} WHERE strpos(CAST("{column}" AS TEXT), %s) > 0'

    def __init__(self, cluster: PostgresCluster, dbname: str, url: str, data_dir: Path) -> None:
        self.cluster = cluster
        self.dbname = dbname
        self.url = url
        self.data_dir = data_dir

    def settings(self, **overrides: Any) -> Settings:
        """TASTEBUD_DATABASE_URL pointing at this database (small pool, short waits)."""
        values: dict[str, Any] = {"database_pool_size": 4, "database_timeout_s": 5.0, **overrides}
        return Settings(data_dir=self.data_dir, llm="fake", chroma_url=None, database_url=self.url, **values)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """SQL as the app user over TCP (autocommit)."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def tables(self) -> list[str]:
        """Tables of the public schema."""
        return [r[0] for r in self.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]

    def columns(self, table: str) -> list[str]:
        """Columns from information_schema."""
        return [r[0] for r in self.execute("SELECT column_name FROM information_schema.columns "
                                           "WHERE table_schema = 'public' AND table_name = %s", (table,))]

    def disk_bytes(self) -> bytes:
        """Every file of this database's tables, indexes and TOAST (pg_wal is PostgreSQL's own: see postgres.py)."""
        return b"".join(_bytes_if_still_there(p) for p in self.cluster.database_files(self.dbname))

    @contextmanager
    def reader_holding_a_snapshot(self) -> Iterator[None]:
        """A REPEATABLE READ transaction that has read the turns, open until the block ends."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            conn.execute("SELECT count(*), max(user_message) FROM turns").fetchone()
            yield
            conn.execute("COMMIT")

    def impatient_store(self) -> Store:
        """Lock waits (and pool waits) bounded at 1 s."""
        return open_store(self.settings(database_timeout_s=1.0))

    @contextmanager
    def holding_write_lock(self, session_id: str) -> Iterator[None]:
        """The session's row locked FOR UPDATE by another transaction."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("BEGIN")
            assert conn.execute("SELECT 1 FROM sessions WHERE id = %s FOR UPDATE", (session_id,)).fetchone()
            yield
            conn.execute("ROLLBACK")


def _bytes_if_still_there(path: Path) -> bytes:
    """A file's bytes, or none when PostgreSQL removed it after the listing (pg_internal.init, a rewritten table's old file)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
