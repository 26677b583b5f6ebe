"""The one storage interface: what the agent, the doors and the evaluations may ask of a profile store.

Two back ends keep to it, chosen by `chatbot.storage.factory.open_store`: SQLite (the default, a file in the
data dir) and PostgreSQL (`TASTEBUD_DATABASE_URL`, shared by several app workers). One contract test
(tests/storage/test_contract.py) runs every behaviour on both. Failures are ProfileErrors; StoreUnavailable
(down, or busy past its bound) is the recoverable one, and no message names a server path or a password.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from chatbot.profile_schema import FeedbackRecord, SessionRecord, SessionStart, TurnRecord


@runtime_checkable
class Store(Protocol):
    """Profiles, sessions with their state, turns, feedback; export and forget-me; a versioned schema."""

    where: str  # how messages name the database: no directory, no password

    def close(self) -> None:
        """Release the connections; later calls raise ProfileError."""

    def schema_version(self) -> int:
        """The schema version the database is at."""

    def new_profile(self) -> str:
        """Create an empty profile and return its id."""

    def ensure_profile(self, profile_id: str | None) -> str:
        """`profile_id` if stored (marked seen), else a new profile's id; stores a row, so only when saving."""

    def has_profile(self, profile_id: str) -> bool:
        """True when a profile with this id is stored."""

    def new_session(self, profile_id: str) -> str:
        """Start a session for a stored profile and return its id."""

    def session_profile(self, session_id: str) -> str | None:
        """The profile owning a session, or None."""

    def owns_session(self, profile_id: str | None, session_id: str | None) -> bool:
        """True only when the session exists and belongs to this profile."""

    def owned_session_state(self, profile_id: str, session_id: str) -> str | None:
        """The session's state if this profile owns it, else UnknownSession."""

    def save_session_state(self, session_id: str, state_json: str) -> None:
        """Replace a session's stored state."""

    def load_session_state(self, session_id: str) -> str | None:
        """A session's stored state, or None."""

    def sessions(self, profile_id: str) -> list[SessionRecord]:
        """Every session of a profile, oldest first."""

    def record_turn(self, session_id: str, user_message: str, reply: str, items: list[dict[str, Any]]) -> int:
        """Append one turn to a session; its number."""

    def record_turn_and_state(self, session_id: str, user_message: str, reply: str, items: list[dict[str, Any]],
                              state_json: str, *, start: SessionStart | None = None) -> int:
        """Append a turn and save the state in one transaction (creating the session with `start`); its number."""

    def turns(self, session_id: str) -> list[TurnRecord]:
        """Every turn of a session in order."""

    def add_feedback(self, profile_id: str, session_id: str | None, item_id: str, signal: str) -> None:
        """Record like / dislike / seen for an item."""

    def liked(self, profile_id: str) -> list[str]:
        """Items whose latest like/dislike is a like."""

    def disliked(self, profile_id: str) -> list[str]:
        """Items whose latest like/dislike is a dislike."""

    def seen(self, profile_id: str) -> list[str]:
        """Items said to be seen already."""

    def shown(self, profile_id: str) -> list[str]:
        """Every item id shown to the profile, in first-shown order."""

    def feedback(self, profile_id: str) -> list[FeedbackRecord]:
        """Every feedback signal of a profile, in order."""

    def profile_summary(self, profile_id: str) -> dict[str, Any]:
        """Counts, likes, dislikes and sessions of a profile."""

    def export_profile(self, profile_id: str) -> dict[str, Any]:
        """Everything stored about a profile, JSON-ready."""

    def delete_profile(self, profile_id: str) -> bool:
        """Forget a profile and scrub its bytes; False if unknown."""
