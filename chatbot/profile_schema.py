"""What the profile store hands out and refuses: its records, its errors, its ids and the text it accepts.

The tables themselves are in `chatbot.storage.migrations`; the back ends in `chatbot.storage`.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from retrieval.errors import TastebudError

# the feedback a person can give (the CHECK constraint in chatbot.storage.migrations)
SIGNALS: tuple[str, ...] = ("like", "dislike", "seen")
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


class ProfileError(TastebudError):
    """The profile store cannot do what was asked (unreadable file, closed store, bad record)."""


class UnknownProfile(ProfileError):
    """No profile has this id (never existed, was deleted, or the id is malformed)."""


class UnknownSession(ProfileError):
    """No session has this id, or it belongs to another profile."""


class InvalidFeedback(ProfileError, ValueError):
    """A feedback signal or item id that cannot be recorded."""


class InvalidText(ProfileError, ValueError):
    """Text that no back end can store as it is (a NUL character, a lone UTF-16 surrogate); nothing was saved."""


class StoreUnavailable(ProfileError):
    """The profile database cannot be reached, or stayed busy past its bound; nothing of this call was saved.

    Recoverable: the caller says so in words ("could not save, try again") and the next call may succeed.
    """


@dataclass(frozen=True)
class SessionStart:
    """Create the session (and, when `new_profile`, its profile) in the same transaction as its first turn.

    The caller vouches for the ids: `profile_id` is one it minted with `new_id()` (`new_profile=True`) or one it
    found stored; a client never chooses it. So nothing is stored for a page load or a refused request.
    """

    profile_id: str
    new_profile: bool


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


def checked_text(value: object, what: str) -> str:
    """`value` when it is text every back end stores byte for byte, else ProfileError / InvalidText naming `what`."""
    if not isinstance(value, str):
        raise ProfileError(f"{what} must be text, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidText(f"{what} contains a NUL character (U+0000), which cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidText(f"{what} contains a lone UTF-16 surrogate (U+D800–U+DFFF), which is not storable text") \
            from None
    return value


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def turn_from_row(row: tuple[Any, ...]) -> TurnRecord:
    """A TurnRecord from a turns row (session_id, n, user_message, reply, items_json, created_at)."""
    session_id, n, user_message, reply, items_json, created_at = row
    return TurnRecord(session_id, n, user_message, reply, tuple(json.loads(items_json)), created_at)
