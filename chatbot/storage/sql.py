"""What both SQL back ends share: every query of the profile store, written once with `?` placeholders.

A back end supplies the connections (`_read`: one consistent snapshot; `_write`: one transaction that lands
whole or not at all), the row lock its writers need (`_LOCK_ROW`, empty on SQLite where a write transaction
already holds the whole file), the column that orders sessions, its migrations, and forget-me's scrub.
Lock order on PostgreSQL is always the session row, then the profile row, so concurrent writers never deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

from chatbot.profile_export import export_document, opinions, summary_document
from chatbot.profile_schema import (
    SIGNALS,
    FeedbackRecord,
    InvalidFeedback,
    ProfileError,
    SessionRecord,
    SessionStart,
    TurnRecord,
    UnknownProfile,
    UnknownSession,
    checked_text,
    is_valid_id,
    new_id,
    now_iso,
    turn_from_row,
)

MAX_ITEM_ID_CHARS = 256


class Connection(Protocol):
    """The part of a DB-API connection the shared queries use."""

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any:
        """Run one statement; the result has fetchone, fetchall and rowcount."""


class SqlStore:
    """Profiles, sessions, turns and feedback in SQL tables; subclasses say where the connections come from."""

    where: str = "the profile database"  # how messages and logs name it: no directory, no password
    _MIGRATIONS: ClassVar[tuple[tuple[str, ...], ...]] = ()
    _SESSION_ORDER: ClassVar[str] = "s.rowid"
    _LOCK_ROW: ClassVar[str] = ""

    # ------------------------------------------------------------------ what a back end supplies
    def _read(self) -> AbstractContextManager[Connection]:
        """A connection inside a read-only transaction (one consistent snapshot)."""
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        """A connection inside a write transaction: all of it lands or none of it."""
        raise NotImplementedError

    def _scrub_mark(self, conn: Connection) -> Any:
        """What the scrub after a deletion needs to know about the deleting transaction (inside it)."""
        return None

    def _scrub(self, mark: Any) -> None:
        """Remove the old bytes of rows just deleted (bounded; may go on in the background)."""

    def _lock_for_migration(self, conn: Connection) -> None:
        """Keep other processes from migrating at the same time (SQLite's write transaction already does)."""

    def close(self) -> None:
        """Release the connections; later calls raise ProfileError."""
        raise NotImplementedError

    def __enter__(self) -> SqlStore:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the store."""
        self.close()

    # ------------------------------------------------------------------ schema
    def _migrate(self) -> None:
        """Create the schema or bring an older one up to date, in one transaction; refuse a newer one."""
        known = len(self._MIGRATIONS)
        with self._write() as conn:
            self._lock_for_migration(conn)
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
            if current > known:
                raise ProfileError(
                    f"{self.where} was written by a newer tastebud (schema {current}, this one knows {known}); "
                    "upgrade tastebud to use it")
            for version in range(current, known):
                for statement in self._MIGRATIONS[version]:
                    conn.execute(statement)
            if current < known:
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (known,))

    def schema_version(self) -> int:
        """The schema version the database is at (the number of migrations applied)."""
        with self._read() as conn:
            return int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)

    # ------------------------------------------------------------------ profiles and sessions
    def new_profile(self) -> str:
        """Create an empty profile and return its id."""
        profile_id = new_id()
        now = now_iso()
        with self._write() as conn:
            conn.execute("INSERT INTO profiles (id, created_at, last_seen_at) VALUES (?, ?, ?)",
                         (profile_id, now, now))
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
            conn.execute("INSERT INTO sessions (id, profile_id, created_at, updated_at, state_json) "
                         "VALUES (?, ?, ?, ?, NULL)", (session_id, profile_id, now, now))
        return session_id

    def session_profile(self, session_id: str) -> str | None:
        """The id of the profile owning this session, or None when there is no such session."""
        if not is_valid_id(session_id):
            return None
        with self._read() as conn:
            return self._session_owner(conn, session_id, lock=False)

    def owns_session(self, profile_id: str | None, session_id: str | None) -> bool:
        """True only when the session exists and belongs to this profile (a session id alone proves nothing)."""
        if not (is_valid_id(profile_id) and is_valid_id(session_id)):
            return False
        with self._read() as conn:
            return self._session_owner(conn, session_id, lock=False) == profile_id  # type: ignore[arg-type]

    def owned_session_state(self, profile_id: str, session_id: str) -> str | None:
        """The session's stored state, if this profile owns it; UnknownSession otherwise (absent or someone else's)."""
        row = None
        if is_valid_id(session_id) and is_valid_id(profile_id):
            with self._read() as conn:
                row = conn.execute("SELECT state_json FROM sessions WHERE id = ? AND profile_id = ?",
                                   (session_id, profile_id)).fetchone()
        if row is None:
            raise UnknownSession(f"no conversation with id {session_id!r} for this profile")
        return row[0]

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

    def record_turn_and_state(self, session_id: str, user_message: str, reply: str, items: list[dict[str, Any]],
                              state_json: str, *, start: SessionStart | None = None) -> int:
        """Append a turn and save the session's new state in one transaction; return the turn number.

        With `start`, the session (and a new profile) is created in that same transaction: the first saved turn
        is what creates them. Raises a ProfileError (StoreUnavailable when the database is down or busy) when
        the turn could not be saved; then nothing of it was.
        """
        items_json = _items_json(items)
        now = now_iso()
        with self._write() as conn:
            if start is not None:
                self._start_session(conn, session_id, start, now)
            n = self._append_turn(conn, session_id, user_message, reply, items_json, now)
            self._set_state(conn, session_id, state_json, now)
            return n

    def turns(self, session_id: str) -> list[TurnRecord]:
        """Every turn of a session in order (UnknownSession if there is no such session)."""
        with self._read() as conn:
            if self._session_owner(conn, session_id, lock=False) is None:
                raise UnknownSession(f"no session with id {session_id!r}")
            rows = conn.execute("SELECT session_id, n, user_message, reply, items_json, created_at FROM turns "
                                "WHERE session_id = ? ORDER BY n", (session_id,)).fetchall()
        return [turn_from_row(row) for row in rows]

    # ------------------------------------------------------------------ feedback
    def add_feedback(self, profile_id: str, session_id: str | None, item_id: str, signal: str) -> None:
        """Record a like / dislike / seen signal for an item (the latest like or dislike wins)."""
        if signal not in SIGNALS:
            raise InvalidFeedback(f"feedback must be one of {', '.join(SIGNALS)}, not {signal!r}")
        if not isinstance(item_id, str) or not item_id.strip() or len(item_id) > MAX_ITEM_ID_CHARS:
            raise InvalidFeedback(f"feedback needs an item id (1–{MAX_ITEM_ID_CHARS} characters), got {item_id!r}")
        checked_text(item_id, "the item id")
        now = now_iso()
        with self._write() as conn:
            if session_id is not None and self._session_owner(conn, session_id, lock=True) != profile_id:
                raise UnknownSession(f"profile {profile_id!r} has no session with id {session_id!r}")
            self._touch_profile(conn, profile_id, now)
            conn.execute("INSERT INTO feedback (profile_id, session_id, item_id, signal, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", (profile_id, session_id, item_id, signal, now))

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
            rows = conn.execute("SELECT item_id FROM feedback WHERE profile_id = ? AND signal = 'seen' "
                                "GROUP BY item_id ORDER BY min(seq)", (profile_id,)).fetchall()
        return [r[0] for r in rows]

    def shown(self, profile_id: str) -> list[str]:
        """Every item id shown to this profile in any turn (the `id` of each item dict), in first-shown order."""
        with self._read() as conn:
            self._require_profile(conn, profile_id)
            rows = conn.execute("SELECT items_json FROM turns WHERE profile_id = ? ORDER BY created_at, session_id, n",
                                (profile_id,)).fetchall()
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
            turn_rows = conn.execute("SELECT session_id, n, user_message, reply, items_json, created_at FROM turns "
                                     "WHERE profile_id = ? ORDER BY session_id, n", (profile_id,)).fetchall()
            feedback = self._feedback(conn, profile_id)
        turns = [turn_from_row(row) for row in turn_rows]
        return export_document(profile_id, created_at, last_seen_at, sessions, turns, feedback)

    def delete_profile(self, profile_id: str) -> bool:
        """Forget a profile: delete every row of it in one transaction, then scrub their old bytes; False if unknown.

        Others' writes wait only for the short delete transaction and each bounded scrub attempt (see the back end).
        """
        if not is_valid_id(profile_id):
            return False
        with self._write() as conn:
            # Children first, explicitly (session rows before the profile row: the lock order of every writer).
            for table in ("feedback", "turns", "sessions"):
                conn.execute(f"DELETE FROM {table} WHERE profile_id = ?", (profile_id,))
            deleted = conn.execute("DELETE FROM profiles WHERE id = ?", (profile_id,)).rowcount == 1
            mark = self._scrub_mark(conn) if deleted else None
        if deleted:
            self._scrub(mark)
        return deleted

    # ------------------------------------------------------------------ internals (inside a transaction)
    def _require_profile(self, conn: Connection, profile_id: str) -> tuple[str, str]:
        """(created_at, last_seen_at) of a stored profile, or UnknownProfile."""
        row = None
        if is_valid_id(profile_id):
            row = conn.execute("SELECT created_at, last_seen_at FROM profiles WHERE id = ?", (profile_id,)).fetchone()
        if row is None:
            raise UnknownProfile(f"no profile with id {profile_id!r} (it may have been deleted)")
        return row[0], row[1]

    def _touch_profile(self, conn: Connection, profile_id: str, now: str) -> None:
        """Mark a stored profile as seen now, or raise UnknownProfile."""
        if not is_valid_id(profile_id) or (
            conn.execute("UPDATE profiles SET last_seen_at = ? WHERE id = ?", (now, profile_id)).rowcount != 1
        ):
            raise UnknownProfile(f"no profile with id {profile_id!r} (it may have been deleted)")

    def _session_owner(self, conn: Connection, session_id: str, *, lock: bool) -> str | None:
        """The profile id owning a session, or None; `lock` holds the session row until the transaction ends."""
        if not is_valid_id(session_id):
            return None
        suffix = self._LOCK_ROW if lock else ""
        row = conn.execute(f"SELECT profile_id FROM sessions WHERE id = ?{suffix}", (session_id,)).fetchone()
        return row[0] if row else None

    def _start_session(self, conn: Connection, session_id: str, start: SessionStart, now: str) -> None:
        """Create the session (and its new profile) unless a retry already did; UnknownSession if not theirs."""
        if not (is_valid_id(session_id) and is_valid_id(start.profile_id)):
            raise ProfileError("a new session needs ids made by new_id()")
        if start.new_profile:
            conn.execute("INSERT INTO profiles (id, created_at, last_seen_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (id) DO NOTHING", (start.profile_id, now, now))
        self._touch_profile(conn, start.profile_id, now)
        conn.execute("INSERT INTO sessions (id, profile_id, created_at, updated_at, state_json) "
                     "VALUES (?, ?, ?, ?, NULL) ON CONFLICT (id) DO NOTHING", (session_id, start.profile_id, now, now))
        if self._session_owner(conn, session_id, lock=True) != start.profile_id:
            raise UnknownSession(f"no conversation with id {session_id!r} for this profile")

    def _set_state(self, conn: Connection, session_id: str, state_json: str, now: str) -> None:
        """Store a session's state text, or raise UnknownSession."""
        if not isinstance(state_json, str):
            raise ProfileError(f"a session state must be JSON text, got {type(state_json).__name__}")
        checked_text(state_json, "the session state")
        owner = self._session_owner(conn, session_id, lock=True)
        if owner is None:
            raise UnknownSession(f"no session with id {session_id!r}")
        conn.execute("UPDATE sessions SET state_json = ?, updated_at = ? WHERE id = ?", (state_json, now, session_id))
        conn.execute("UPDATE profiles SET last_seen_at = ? WHERE id = ?", (now, owner))

    def _append_turn(self, conn: Connection, session_id: str, user_message: str, reply: str, items_json: str,
                     now: str) -> int:
        """Insert the next turn of a session and return its number."""
        if not isinstance(user_message, str) or not isinstance(reply, str):
            raise ProfileError("a turn's user message and reply must be text")
        checked_text(user_message, "the message")
        checked_text(reply, "the reply")
        owner = self._session_owner(conn, session_id, lock=True)  # on PostgreSQL: one numbering per session at a time
        if owner is None:
            raise UnknownSession(f"no session with id {session_id!r}")
        (last,) = conn.execute("SELECT coalesce(max(n), 0) FROM turns WHERE session_id = ?", (session_id,)).fetchone()
        conn.execute("INSERT INTO turns (session_id, profile_id, n, user_message, reply, items_json, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (session_id, owner, last + 1, user_message, reply, items_json, now))
        conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
        conn.execute("UPDATE profiles SET last_seen_at = ? WHERE id = ?", (now, owner))
        return int(last) + 1

    def _sessions(self, conn: Connection, profile_id: str) -> list[SessionRecord]:
        """Session records of a profile, oldest first."""
        rows = conn.execute(
            "SELECT s.id, s.profile_id, s.created_at, s.updated_at, s.state_json, "
            "(SELECT count(*) FROM turns t WHERE t.session_id = s.id) "
            f"FROM sessions s WHERE s.profile_id = ? ORDER BY s.created_at, {self._SESSION_ORDER}",
            (profile_id,),
        ).fetchall()
        return [SessionRecord(*row[:5], int(row[5])) for row in rows]

    def _feedback(self, conn: Connection, profile_id: str) -> list[FeedbackRecord]:
        """Feedback records of a profile in the order given."""
        rows = conn.execute("SELECT profile_id, session_id, item_id, signal, created_at FROM feedback "
                            "WHERE profile_id = ? ORDER BY seq", (profile_id,)).fetchall()
        return [FeedbackRecord(*row) for row in rows]

    def _opinion(self, profile_id: str, wanted: str) -> list[str]:
        """Items whose latest like/dislike is `wanted`."""
        with self._read() as conn:
            self._require_profile(conn, profile_id)
            feedback = self._feedback(conn, profile_id)
        liked, disliked = opinions(feedback)
        return liked if wanted == "like" else disliked


def _items_json(items: list[dict[str, Any]]) -> str:
    """The shown items as JSON text, or ProfileError when they are not a list of JSON-ready dicts."""
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, dict) for i in items):
        raise ProfileError("a turn's items must be a list of dicts (one per shown item, with its 'id')")
    try:
        text = json.dumps(list(items), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"a turn's items must be JSON-ready (strings, numbers, lists, dicts): {exc}") from exc
    return checked_text(text, "the shown items")

