"""What only the SQLite back end promises, on real files: `ProfileStore.open(data_dir)` still opens it, WAL mode,
readers that never wait for a writer, a truncated WAL after forget-me, and files that are not ours left alone.

Every behaviour both back ends share (round trips, feedback, export, forget-me, concurrency, crashes, schema
versions) is in the contract suite, tests/storage/, which runs it on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from chatbot.profile_schema import ProfileError, StoreUnavailable
from chatbot.profiles import DB_NAME, ProfileStore
from chatbot.storage.protocol import Store
from chatbot.storage.sqlite import SQLiteStore


@pytest.fixture
def store(data_dir: Path):
    """A ProfileStore on this test's own data dir, opened the way older callers open it."""
    s = ProfileStore.open(data_dir)
    yield s
    s.close()


def test_profile_store_open_is_the_sqlite_back_end_in_the_data_dir(store: ProfileStore, data_dir: Path) -> None:
    assert isinstance(store, SQLiteStore) and isinstance(store, Store)
    assert store.path == data_dir / DB_NAME and store.path.exists()
    assert str(data_dir) not in store.where and DB_NAME not in store.where  # messages name no file
    assert store.integrity_check() == "ok"


def test_database_is_wal_and_deletes_securely(store: ProfileStore, data_dir: Path) -> None:
    store.new_profile()
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    with store._connection() as own:  # every pooled connection zeroes what it deletes
        assert own.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert own.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_forget_me_truncates_the_wal(store: ProfileStore, data_dir: Path) -> None:
    profile = store.new_profile()
    session = store.new_session(profile)
    store.record_turn_and_state(session, "words to forget", "r", [{"id": "ml:1"}], "{}")
    assert (data_dir / (DB_NAME + "-wal")).stat().st_size > 0
    assert store.delete_profile(profile) is True
    assert (data_dir / (DB_NAME + "-wal")).stat().st_size == 0
    assert store.scrubber.pending() == 0


@pytest.mark.timeout(60)
def test_reads_never_wait_for_a_writer(store: ProfileStore, data_dir: Path) -> None:
    profile = store.new_profile()
    session = store.new_session(profile)
    store.record_turn(session, "before", "r", [])
    other = sqlite3.connect(data_dir / DB_NAME, isolation_level=None)  # another process, writing slowly
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE profiles SET last_seen_at = 'x'")
        started = time.monotonic()
        assert [t.user_message for t in store.turns(session)] == ["before"]
        assert store.has_profile(profile)
        assert time.monotonic() - started < 0.5
        other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.mark.timeout(60)
def test_a_slow_writer_in_this_process_does_not_hold_up_reads(store: ProfileStore) -> None:
    profile = store.new_profile()
    session = store.new_session(profile)
    store.record_turn(session, "before", "r", [])
    entered, release = threading.Event(), threading.Event()

    def slow_write() -> None:
        with store._write() as conn:  # a write transaction that takes its time
            conn.execute("UPDATE sessions SET updated_at = 'slow' WHERE id = ?", (session,))
            entered.set()
            release.wait(10)

    writer = threading.Thread(target=slow_write)
    writer.start()
    try:
        assert entered.wait(10)
        started = time.monotonic()
        assert store.load_session_state(session) is None and len(store.turns(session)) == 1
        assert time.monotonic() - started < 0.5
    finally:
        release.set()
        writer.join(10)


def test_runtime_errors_name_no_server_path_or_file(data_dir: Path) -> None:
    store = SQLiteStore.open(data_dir, busy_timeout_s=0.2)
    session = store.new_session(store.new_profile())
    other = sqlite3.connect(data_dir / DB_NAME, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable) as err:
            store.record_turn_and_state(session, "m", "r", [], json.dumps({}))
        assert "profile database is busy" in str(err.value)
        assert DB_NAME not in str(err.value) and str(data_dir) not in str(err.value)
        other.execute("ROLLBACK")
    finally:
        other.close()
        store.close()


def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    garbage = b"these are someone's notes, not SQLite\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(ProfileError, match="not a usable tastebud profile database"):
        ProfileStore.open(data_dir)
    assert path.read_bytes() == garbage


def test_a_data_dir_that_cannot_be_made_is_said_clearly(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ProfileError, match="cannot create the data dir"):
        ProfileStore.open(blocker / "data")
