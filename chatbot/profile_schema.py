"""The profile database's shape: its schema migrations, the records read from it, its errors and its ids."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from retrieval.errors import TastebudError

SIGNALS: tuple[str, ...] = ("like", "dislike", "seen")  # the feedback a person can give (the CHECK below)
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")

# Each entry moves the schema from version i to i + 1; append, never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE profiles (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL
        )""",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            state_json TEXT,
            UNIQUE (id, profile_id)
        )""",
        "CREATE INDEX sessions_by_profile ON sessions(profile_id)",
        # profile_id is repeated on turns and feedback so every child row names its profile, and the
        # composite key makes sure it is the profile that owns the session.
        """CREATE TABLE turns (
            session_id TEXT NOT NULL,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            n INTEGER NOT NULL,
            user_message TEXT NOT NULL,
            reply TEXT NOT NULL,
            items_json TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (session_id, n),
            FOREIGN KEY (session_id, profile_id) REFERENCES sessions(id, profile_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX turns_by_profile ON turns(profile_id)",
        """CREATE TABLE feedback (
            seq INTEGER PRIMARY KEY,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            session_id TEXT,
            item_id TEXT NOT NULL,
            signal TEXT NOT NULL CHECK (signal IN ('like', 'dislike', 'seen')),
            created_at TEXT NOT NULL,
            FOREIGN KEY (session_id, profile_id) REFERENCES sessions(id, profile_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX feedback_by_profile ON feedback(profile_id, item_id)",
        "CREATE INDEX feedback_by_session ON feedback(session_id, profile_id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class ProfileError(TastebudError):
    """The profile store cannot do what was asked (unreadable file, closed store, bad record)."""


class UnknownProfile(ProfileError):
    """No profile has this id (never existed, was deleted, or the id is malformed)."""


class UnknownSession(ProfileError):
    """No session has this id, or it belongs to another profile."""


class InvalidFeedback(ProfileError, ValueError):
    """A feedback signal or item id that cannot be recorded."""


@dataclass(frozen=True)
class SessionRecord:
    """One conversation of a profile; `state_json` is the serialised DialogueState, opaque here."""

    id: str
    profile_id: str
    created_at: str
    updated_at: str
    state_json: str | None
    n_turns: int


@dataclass(frozen=True)
class TurnRecord:
    """One exchange: what the person wrote, what tastebud replied and the items it showed."""

    session_id: str
    n: int  # 1, 2, ... within the session
    user_message: str
    reply: str
    items: tuple[dict[str, Any], ...]
    created_at: str


@dataclass(frozen=True)
class FeedbackRecord:
    """One like / dislike / seen signal, in the order it was given."""

    profile_id: str
    session_id: str | None
    item_id: str
    signal: str
    created_at: str


def new_id() -> str:
    """A fresh unguessable id: 16 random bytes, URL-safe base64 (22 characters)."""
    return secrets.token_urlsafe(16)


def is_valid_id(value: object) -> bool:
    """True when `value` has the shape of a profile or session id ([A-Za-z0-9_-]{16,64})."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def turn_from_row(row: tuple[Any, ...]) -> TurnRecord:
    """A TurnRecord from a turns row (session_id, n, user_message, reply, items_json, created_at)."""
    session_id, n, user_message, reply, items_json, created_at = row
    return TurnRecord(session_id, n, user_message, reply, tuple(json.loads(items_json)), created_at)
