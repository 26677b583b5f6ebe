"""Persistent profiles: sessions, turns and feedback in one SQLite file (`profiles.sqlite`), forget-me included.

One `ProfileStore` per process, shared by every thread: a single connection guarded by a lock (SQLite
serialises writers anyway), WAL journal so a killed process loses at most the write in flight, and
`BEGIN IMMEDIATE` transactions so several processes on the same file wait on the busy timeout instead of
failing. Ids are unguessable (`secrets.token_urlsafe(16)`, 128 bits) because a profile id is the only key
a browser holds. Deleting a profile removes every row that mentions it in one transaction, with the
deleted content zeroed (`secure_delete`), then checkpoints and truncates the WAL, so its data does not linger
on disk.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chatbot.profile_export import export_document, opinions, summary_document
from chatbot.profile_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SIGNALS,
    FeedbackRecord,
    InvalidFeedback,
    ProfileError,
    SessionRecord,
    TurnRecord,
    UnknownProfile,
    UnknownSession,
    is_valid_id,
    new_id,
    now_iso,
    turn_from_row,
)

DB_NAME = "profiles.sqlite"
BUSY_TIMEOUT_MS = 10_000
MAX_ITEM_ID_CHARS = 256
SCRUB_WAIT_S = 2.0  # how long a forget-me waits for other readers before leaving the WAL to the next checkpoint

log = logging.getLogger(__name__)


class ProfileStore:
    """Profiles, sessions, turns and feedback in `<data_dir>/profiles.sqlite`; safe to share between threads."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, data_dir: Path) -> ProfileStore:
        """Open (creating or migrating if needed) the profile database in `data_dir`."""
        data_dir = Path(data_dir)
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProfileError(f"cannot create the data dir {data_dir} for profiles: {exc.strerror}") from exc
        path = data_dir / DB_NAME
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ProfileError(f"cannot open the profile database {path}: {exc}") from exc
        store = cls(path, conn)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            store._migrate()
        except sqlite3.OperationalError as exc:
            conn.close()
            raise ProfileError(f"cannot open the profile database {path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ProfileError(
                f"{path} is not a usable tastebud profile database ({exc}); it was left untouched — "
                "move it aside to start with an empty one"
            ) from exc
        except ProfileError:
            conn.close()
            raise
        return store

    def close(self) -> None:
        """Close the connection; later calls raise ProfileError."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ProfileStore:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the store."""
        self.close()

    def _migrate(self) -> None:
        """Create the schema or bring an older one up to SCHEMA_VERSION, in one transaction."""
        with self._write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise ProfileError(
                    f"{self.path} was written by a newer tastebud (schema {current}, this one knows "
                    f"{SCHEMA_VERSION}); upgrade tastebud to use it"
                )
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
            if current < SCHEMA_VERSION:
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, for reads (one consistent snapshot)."""
        with self._lock, _sqlite_errors(self.path):
            conn = self._live()
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, inside a write transaction: all of it lands or none of it."""
        with self._lock, _sqlite_errors(self.path):
            conn = self._live()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # SQLite may already have rolled back (disk full, I/O error)
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _live(self) -> sqlite3.Connection:
        """The open connection, or ProfileError when the store was closed."""
        if self._conn is None:
            raise ProfileError("the profile store is closed")
        return self._conn

    # ------------------------------------------------------------------ profiles and sessions
    def new_profile(self) -> str:
        """Create an empty profile and return its id."""
        profile_id = new_id()
        now = now_iso()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO profiles (id, created_at, last_seen_at) VALUES (?, ?, ?)", (profile_id, now, now)
            )
        return profile_id

    def ensure_profile(self, profile_id: str | None) -> str:
        """Return `profile_id` if it names a stored profile (marking it seen), else a brand-new profile's id."""
        if is_valid_id(profile_id):
            with self._write() as conn:
                cur = conn.execute("UPDATE profiles SET last_seen_at = ? WHERE id = ?", (now_iso(), profile_id))
                if cur.rowcount == 1:
                    return profile_id  # type: ignore[return-value]
        return self.new_profile()

    def has_profile(self, profile_id: str) -> bool:
        """True when a profile with this id is stored."""
        if not is_valid_id(profile_id):
            return False
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM profiles WHERE id = ?", (profile_id,)).fetchone() is not None

    def new_session(self, profile_id: str) -> str:
        """Start a session for an existing profile and return its id (UnknownProfile otherwise)."""
        session_id = new_id()
        now = now_iso()
        with self._write() as conn:
            self._touch_profile(conn, profile_id, now)
            conn.execute(
                "INSERT INTO sessions (id, profile_id, created_at, updated_at, state_json) VALUES (?, ?, ?, ?, NULL)",
                (session_id, profile_id, now, now),
            )
        return session_id

    def session_profile(self, session_id: str) -> str | None:
        """The id of the profile owning this session, or None when there is no such session."""
        if not is_valid_id(session_id):
            return None
        with self._read() as conn:
            row = conn.execute("SELECT profile_id FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row[0] if row else None

    def save_session_state(self, session_id: str, state_json: str) -> None:
        """Replace the stored dialogue state of a session (UnknownSession if there is none)."""
        with self._write() as conn:
            self._set_state(conn, session_id, state_json, now_iso())

    def load_session_state(self, session_id: str) -> str | None:
        """The stored dialogue state of a session, or None when the session or its state is missing."""
        if not is_valid_id(session_id):
            return None
        with self._read() as conn:
            row = conn.execute("SELECT state_json FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row[0] if row else None

    def sessions(self, profile_id: str) -> list[SessionRecord]:
        """Every session of a profile, oldest first (UnknownProfile if the profile is not stored)."""
        with self._read() as conn:
            self._require_profile(conn, profile_id)
            return self._sessions(conn, profile_id)

    # ------------------------------------------------------------------ turns
    def record_turn(self, session_id: str, user_message: str, reply: str, items: list[dict[str, Any]]) -> int:
        """Append one turn to a session and return its number (1, 2, ...)."""
        items_json = _items_json(items)
        with self._write() as conn:
            return self._append_turn(conn, session_id, user_message, reply, items_json, now_iso())

    def record_turn_and_state(
        self, session_id: str, user_message: str, reply: str, items: list[dict[str, Any]], state_json: str
    ) -> int:
        """Append a turn and save the session's new state in one transaction; return the turn number."""
        items_json = _items_json(items)
        now = now_iso()
        with self._write() as conn:
            n = self._append_turn(conn, session_id, user_message, reply, items_json, now)
            self._set_state(conn, session_id, state_json, now)
            return n

    def turns(self, session_id: str) -> list[TurnRecord]:
        """Every turn of a session in order (UnknownSession if there is no such session)."""
        with self._read() as conn:
            if self._session_owner(conn, session_id) is None:
                raise UnknownSession(f"no session with id {session_id!r}")
            rows = conn.execute(
                "SELECT session_id, n, user_message, reply, items_json, created_at FROM turns "
                "WHERE session_id = ? ORDER BY n",
                (session_id,),
            ).fetchall()
        return [turn_from_row(row) for row in rows]

    # ------------------------------------------------------------------ feedback
    def add_feedback(self, profile_id: str, session_id: str | None, item_id: str, signal: str) -> None:
        """Record a like / dislike / seen signal for an item (the latest like or dislike wins)."""
        if signal not in SIGNALS:
            raise InvalidFeedback(f"feedback must be one of {', '.join(SIGNALS)}, not {signal!r}")
        if not isinstance(item_id, str) or not item_id.strip() or len(item_id) > MAX_ITEM_ID_CHARS:
            raise InvalidFeedback(f"feedback needs an item id (1–{MAX_ITEM_ID_CHARS} characters), got {item_id!r}")
        now = now_iso()
        with self._write() as conn:
            self._touch_profile(conn, profile_id, now)
            if session_id is not None and self._session_owner(conn, session_id) != profile_id:
                raise UnknownSession(f"profile {profile_id!r} has no session with id {session_id!r}")
            conn.execute(
                "INSERT INTO feedback (profile_id, session_id, item_id, signal, created_at) VALUES (?, ?, ?, ?, ?)",
                (profile_id, session_id, item_id, signal, now),
            )

    def liked(self, profile_id: str) -> list[str]:
        """Items whose latest like/dislike signal is a like, in the order of that signal."""
        return self._opinion(profile_id, "like")

    def disliked(self, profile_id: str) -> list[str]:
        """Items whose latest like/dislike signal is a dislike, in the order of that signal."""
        return self._opinion(profile_id, "dislike")

    def seen(self, profile_id: str) -> list[str]:
        """Items the person said they have already seen, in the order first said."""
        with self._read() as conn:
            self._require_profile(conn, profile_id)
            rows = conn.execute(
                "SELECT item_id FROM feedback WHERE profile_id = ? AND signal = 'seen' "
                "GROUP BY item_id ORDER BY min(seq)",
                (profile_id,),
            ).fetchall()
        return [r[0] for r in rows]

    def shown(self, profile_id: str) -> list[str]:
        """Every item id shown to this profile in any turn (the `id` of each item dict), in first-shown order."""
        with self._read() as conn:
            self._require_profile(conn, profile_id)
            rows = conn.execute(
                "SELECT items_json FROM turns WHERE profile_id = ? ORDER BY created_at, session_id, n",
                (profile_id,),
            ).fetchall()
        out: dict[str, None] = {}
        for (items_json,) in rows:
            for item in json.loads(items_json):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    out.setdefault(item["id"], None)
        return list(out)

    def feedback(self, profile_id: str) -> list[FeedbackRecord]:
        """Every feedback signal of a profile, in the order given."""
        with self._read() as conn:
            self._require_profile(conn, profile_id)
            return self._feedback(conn, profile_id)

    # ------------------------------------------------------------------ the person's view: summary, export, forget
    def profile_summary(self, profile_id: str) -> dict[str, Any]:
        """Counts, liked and disliked items and sessions of a profile (UnknownProfile if not stored)."""
        with self._read() as conn:
            created_at, last_seen_at = self._require_profile(conn, profile_id)
            sessions = self._sessions(conn, profile_id)
            feedback = self._feedback(conn, profile_id)
        return summary_document(profile_id, created_at, last_seen_at, sessions, feedback)

    def export_profile(self, profile_id: str) -> dict[str, Any]:
        """Everything stored about a profile as a JSON-ready dict (UnknownProfile if not stored)."""
        with self._read() as conn:
            created_at, last_seen_at = self._require_profile(conn, profile_id)
            sessions = self._sessions(conn, profile_id)
            turn_rows = conn.execute(
                "SELECT session_id, n, user_message, reply, items_json, created_at FROM turns "
                "WHERE profile_id = ? ORDER BY session_id, n",
                (profile_id,),
            ).fetchall()
            feedback = self._feedback(conn, profile_id)
        turns = [turn_from_row(row) for row in turn_rows]
        return export_document(profile_id, created_at, last_seen_at, sessions, turns, feedback)

    def delete_profile(self, profile_id: str) -> bool:
        """Forget a profile: delete every row of it at once, then scrub the file and WAL; False if unknown."""
        if not is_valid_id(profile_id):
            return False
        with self._lock:
            with self._write() as conn:
                # Children first, explicitly: the same result as the cascade, and independent of it.
                for table in ("feedback", "turns", "sessions"):
                    conn.execute(f"DELETE FROM {table} WHERE profile_id = ?", (profile_id,))
                deleted = conn.execute("DELETE FROM profiles WHERE id = ?", (profile_id,)).rowcount == 1
            if deleted:
                self._scrub()
        return deleted

    def _scrub(self) -> None:
        """Copy the WAL into the file and truncate it, so the deleted rows' old page images leave the disk."""
        conn = self._live()
        # secure_delete has zeroed the deleted cells and freed pages in the new page images (index b-trees
        # keep keys only in live entries, table b-trees only rowids in interior pages, so no stale copy is
        # left: the tests grep the raw bytes). The WAL still holds older images until this checkpoint.
        with _sqlite_errors(self.path):
            deadline = time.monotonic() + SCRUB_WAIT_S
            while conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:
                if time.monotonic() > deadline:
                    # Another process holds an old snapshot open. The rows are gone; their old bytes stay in
                    # the WAL until the next checkpoint, which every later write and every open attempts.
                    log.warning("profile deleted, but the WAL of %s could not be truncated yet (busy)", self.path)
                    return
                time.sleep(0.05)

    def integrity_check(self) -> str:
        """SQLite's own integrity check: "ok" when the file is sound."""
        with self._lock:
            return "; ".join(r[0] for r in self._live().execute("PRAGMA integrity_check").fetchall())

    # ------------------------------------------------------------------ internals (caller holds the lock)
    def _require_profile(self, conn: sqlite3.Connection, profile_id: str) -> tuple[str, str]:
        """(created_at, last_seen_at) of a stored profile, or UnknownProfile."""
        row = None
        if is_valid_id(profile_id):
            row = conn.execute("SELECT created_at, last_seen_at FROM profiles WHERE id = ?", (profile_id,)).fetchone()
        if row is None:
            raise UnknownProfile(f"no profile with id {profile_id!r} (it may have been deleted)")
        return row[0], row[1]

    def _touch_profile(self, conn: sqlite3.Connection, profile_id: str, now: str) -> None:
        """Mark a stored profile as seen now, or raise UnknownProfile."""
        if not is_valid_id(profile_id) or (
            conn.execute("UPDATE profiles SET last_seen_at = ? WHERE id = ?", (now, profile_id)).rowcount != 1
        ):
            raise UnknownProfile(f"no profile with id {profile_id!r} (it may have been deleted)")

    def _session_owner(self, conn: sqlite3.Connection, session_id: str) -> str | None:
        """The profile id owning a session, or None."""
        if not is_valid_id(session_id):
            return None
        row = conn.execute("SELECT profile_id FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row[0] if row else None

    def _set_state(self, conn: sqlite3.Connection, session_id: str, state_json: str, now: str) -> None:
        """Store a session's state text, or raise UnknownSession."""
        if not isinstance(state_json, str):
            raise ProfileError(f"a session state must be JSON text, got {type(state_json).__name__}")
        owner = self._session_owner(conn, session_id)
        if owner is None:
            raise UnknownSession(f"no session with id {session_id!r}")
        conn.execute("UPDATE sessions SET state_json = ?, updated_at = ? WHERE id = ?", (state_json, now, session_id))
        conn.execute("UPDATE profiles SET last_seen_at = ? WHERE id = ?", (now, owner))

    def _append_turn(
        self, conn: sqlite3.Connection, session_id: str, user_message: str, reply: str, items_json: str, now: str
    ) -> int:
        """Insert the next turn of a session and return its number."""
        if not isinstance(user_message, str) or not isinstance(reply, str):
            raise ProfileError("a turn's user message and reply must be text")
        owner = self._session_owner(conn, session_id)
        if owner is None:
            raise UnknownSession(f"no session with id {session_id!r}")
        (last,) = conn.execute("SELECT coalesce(max(n), 0) FROM turns WHERE session_id = ?", (session_id,)).fetchone()
        conn.execute(
            "INSERT INTO turns (session_id, profile_id, n, user_message, reply, items_json, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, owner, last + 1, user_message, reply, items_json, now),
        )
        conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
        conn.execute("UPDATE profiles SET last_seen_at = ? WHERE id = ?", (now, owner))
        return last + 1

    def _sessions(self, conn: sqlite3.Connection, profile_id: str) -> list[SessionRecord]:
        """Session records of a profile, oldest first."""
        rows = conn.execute(
            "SELECT s.id, s.profile_id, s.created_at, s.updated_at, s.state_json, "
            "(SELECT count(*) FROM turns t WHERE t.session_id = s.id) "
            "FROM sessions s WHERE s.profile_id = ? ORDER BY s.created_at, s.rowid",
            (profile_id,),
        ).fetchall()
        return [SessionRecord(*row) for row in rows]

    def _feedback(self, conn: sqlite3.Connection, profile_id: str) -> list[FeedbackRecord]:
        """Feedback records of a profile in the order given."""
        rows = conn.execute(
            "SELECT profile_id, session_id, item_id, signal, created_at FROM feedback "
            "WHERE profile_id = ? ORDER BY seq",
            (profile_id,),
        ).fetchall()
        return [FeedbackRecord(*row) for row in rows]

    def _opinion(self, profile_id: str, wanted: str) -> list[str]:
        """Items whose latest like/dislike is `wanted`."""
        with self._read() as conn:
            self._require_profile(conn, profile_id)
            feedback = self._feedback(conn, profile_id)
        liked, disliked = opinions(feedback)
        return liked if wanted == "like" else disliked


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """Turn SQLite's operational failures (locked too long, disk full, read-only) into a ProfileError."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise ProfileError(f"the profile database {path} could not be used: {exc}") from exc


def _items_json(items: list[dict[str, Any]]) -> str:
    """The shown items as JSON text, or ProfileError when they are not a list of JSON-ready dicts."""
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, dict) for i in items):
        raise ProfileError("a turn's items must be a list of dicts (one per shown item, with its 'id')")
    try:
        return json.dumps(list(items), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"a turn's items must be JSON-ready (strings, numbers, lists, dicts): {exc}") from exc
