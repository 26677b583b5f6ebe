"""The web door every web route and the Gradio UI share: the agent, the profile store, the turn queue and the
profile cookie."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from chatbot.doors.web.turnqueue import Ticket, TurnQueue, aqueued_events
from chatbot.profiles import ProfileStore
from chatbot.profile_schema import UnknownProfile, UnknownSession

PROFILE_COOKIE = "tastebud_profile"
COOKIE_MAX_AGE_S = 365 * 24 * 3600


def profile_cookie_header(profile_id: str) -> str:
    """The Set-Cookie value carrying a profile id: HttpOnly, SameSite=Lax, one year."""
    return f"{PROFILE_COOKIE}={profile_id}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax"


class WebDoor:
    """What every web route shares: the agent, the profile store and the turn queue."""

    def __init__(self, agent: Any, profiles: ProfileStore, queue: TurnQueue) -> None:
        self.agent = agent
        self.profiles = profiles
        self.queue = queue

    def resolve(self, session_id: str | None, profile_id: str | None, cookie: str | None) -> tuple[str | None, str]:
        """(session_id, profile_id) to answer with: checks the ids given, falls back to the cookie or a new profile."""
        if profile_id is not None and not self.profiles.has_profile(profile_id):
            raise UnknownProfile(f"no profile with id {profile_id!r} (it may have been deleted); "
                                 "leave profile_id out to start a new one")
        if session_id is not None:
            owner = self.profiles.session_profile(session_id)
            if owner is None or (profile_id is not None and owner != profile_id):
                raise UnknownSession(f"no conversation with id {session_id!r}; leave session_id out to start a new one")
            return session_id, owner
        if profile_id is None and cookie is not None and self.profiles.has_profile(cookie):
            profile_id = cookie
        return None, self.profiles.ensure_profile(profile_id)

    def turn(self, session_id: str | None, message: str, profile_id: str
             ) -> tuple[Ticket, AsyncIterator[tuple[str, dict[str, Any]]]]:
        """(ticket, events) of one queued turn; QueueFull is raised here, before anything streams.

        The events release the ticket when they end; a caller that may never iterate them must release it too
        (release is idempotent), or the line would stall behind a turn nobody runs.
        """
        ticket = self.queue.enter()
        return ticket, aqueued_events(self.queue, ticket,
                                      lambda: iter(self.agent.respond(session_id, message, profile_id)))
