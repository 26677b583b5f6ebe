"""The person's view of their profile: the summary they are shown and the export they can download.

Both are plain JSON-ready dicts built from the records a store reads (`chatbot.storage`, either back end);
forgetting a profile is the store's own job (`Store.delete_profile`).
"""

from __future__ import annotations

from typing import Any

from chatbot.profile_schema import FeedbackRecord, SessionRecord, TurnRecord, now_iso
from chatbot.storage.migrations import SCHEMA_VERSION

EXPORT_FORMAT = "tastebud-profile-export"


def opinions(feedback: list[FeedbackRecord]) -> tuple[list[str], list[str]]:
    """(liked, disliked) item ids from feedback in order: the latest like or dislike per item wins."""
    latest: dict[str, str] = {}
    for f in feedback:
        if f.signal in ("like", "dislike"):
            latest.pop(f.item_id, None)  # re-insert so the order follows the latest signal
            latest[f.item_id] = f.signal
    return [i for i, s in latest.items() if s == "like"], [i for i, s in latest.items() if s == "dislike"]


def summary_document(profile_id: str, created_at: str, last_seen_at: str, sessions: list[SessionRecord],
                     feedback: list[FeedbackRecord]) -> dict[str, Any]:
    """Counts, liked and disliked items and sessions of a profile."""
    liked, disliked = opinions(feedback)
    return {
        "profile_id": profile_id,
        "created_at": created_at,
        "last_seen_at": last_seen_at,
        "counts": {
            "sessions": len(sessions),
            "turns": sum(s.n_turns for s in sessions),
            "feedback": len(feedback),
            "liked": len(liked),
            "disliked": len(disliked),
            "seen": len({f.item_id for f in feedback if f.signal == "seen"}),
        },
        "liked": liked,
        "disliked": disliked,
        "sessions": [
            {"id": s.id, "created_at": s.created_at, "updated_at": s.updated_at, "turns": s.n_turns}
            for s in sessions
        ],
    }


def export_document(profile_id: str, created_at: str, last_seen_at: str, sessions: list[SessionRecord],
                    turns: list[TurnRecord], feedback: list[FeedbackRecord]) -> dict[str, Any]:
    """Everything stored about a profile, sessions with their turns, as one JSON-ready dict."""
    turns_by_session: dict[str, list[dict[str, Any]]] = {}
    for turn in turns:
        turns_by_session.setdefault(turn.session_id, []).append(
            {"n": turn.n, "user_message": turn.user_message, "reply": turn.reply,
             "items": list(turn.items), "created_at": turn.created_at}
        )
    return {
        "format": EXPORT_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "exported_at": now_iso(),
        "profile": {"id": profile_id, "created_at": created_at, "last_seen_at": last_seen_at},
        "sessions": [
            {"id": s.id, "created_at": s.created_at, "updated_at": s.updated_at, "state_json": s.state_json,
             "turns": turns_by_session.get(s.id, [])}
            for s in sessions
        ],
        "feedback": [
            {"session_id": f.session_id, "item_id": f.item_id, "signal": f.signal, "created_at": f.created_at}
            for f in feedback
        ],
    }
