"""The web door every web route and the Gradio UI share: the agent, the profile store, the turn queue, the
per-client limit, and the rules for whose conversation a request may continue.

No profile is made here: a new visitor's first turn goes to the agent without one, and the profile cookie is set
from the id that the first saved turn returns in `done` (see `api` and `ui`).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from chatbot.doors.web.clients import ClientLimiter, client_key
from chatbot.doors.web.sanitize import scrub_paths
from chatbot.doors.web.turnqueue import Ticket, TurnQueue, aqueued_events
from chatbot.storage.protocol import Store
from chatbot.profile_schema import UnknownProfile, UnknownSession
from retrieval.errors import TastebudError

PROFILE_COOKIE = "tastebud_profile"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
CLAIM_TTL_S = 120.0  # how long the page has to turn a saved turn's claim into its profile cookie
MAX_CLAIMS = 10_000
UNFINISHED = "tastebud stopped before finishing this answer; please send your message again"
INTERNAL = "tastebud hit an unexpected problem with this answer; please send your message again"

log = logging.getLogger(__name__)

Events = AsyncIterator[tuple[str, dict[str, Any]]]


class SessionBusy(TastebudError):
    """A conversation got a new message while its previous one is still being answered."""


class ForeignSession(TastebudError):
    """A session id was sent with another person's profile (cookie or profile_id)."""


def profile_cookie_header(profile_id: str) -> str:
    """The Set-Cookie value carrying a profile id: HttpOnly, SameSite=Lax, one year."""
    return f"{PROFILE_COOKIE}={profile_id}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax"


class CookieClaims:
    """One-use, short-lived tokens a page trades for the HttpOnly profile cookie after its first saved turn."""

    def __init__(self, ttl_s: float = CLAIM_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._claims: dict[str, tuple[str, float]] = {}  # token -> (profile id, expires at)

    def issue(self, profile_id: str) -> str:
        """A new token standing for `profile_id` for `ttl_s` seconds."""
        token = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            if len(self._claims) >= MAX_CLAIMS:
                self._claims = {k: v for k, v in self._claims.items() if v[1] > now}
                while len(self._claims) >= MAX_CLAIMS:
                    self._claims.pop(next(iter(self._claims)))
            self._claims[token] = (profile_id, now + self.ttl_s)
        return token

    def redeem(self, token: str) -> str | None:
        """The profile id a live token stands for (the token is spent), or None."""
        with self._lock:
            found = self._claims.pop(token, None)
        return found[0] if found and found[1] > time.monotonic() else None


class WebDoor:
    """What every web route shares: the agent, the profile store, the turn queue and the per-client limit."""

    def __init__(self, agent: Any, profiles: Store, queue: TurnQueue, limiter: ClientLimiter | None = None,
                 hidden_paths: tuple[str, ...] = ()) -> None:
        self.agent = agent
        self.profiles = profiles
        self.queue = queue
        self.limiter = limiter or ClientLimiter("30/minute")
        self.hidden_paths = hidden_paths  # server paths to scrub from every message a client sees
        self.claims = CookieClaims()
        self._lock = threading.Lock()
        self._answering: set[str] = set()  # conversations with a turn in progress (turns run side by side)

    def admit(self, host: str | None) -> None:
        """Spend one request of the client at `host` (every door shares the bucket), or raise RateLimited."""
        self.limiter.admit(client_key(host))

    def scrub(self, text: str) -> str:
        """A message for a client, with no server path in it."""
        return scrub_paths(text, self.hidden_paths)

    def caller(self, profile_id: str | None, cookie: str | None) -> str | None:
        """Who is asking: the profile named in the request, else a cookie naming a stored profile, else nobody yet."""
        if profile_id is not None:
            if not self.profiles.has_profile(profile_id):
                raise UnknownProfile(f"no profile with id {profile_id!r} (it may have been deleted); "
                                     "leave profile_id out to start a new one")
            return profile_id
        if cookie and self.profiles.has_profile(cookie):
            return cookie
        return None

    def owner(self, session_id: str, caller: str | None) -> str:
        """The profile owning a session the caller may continue: UnknownSession, or ForeignSession for another's."""
        owner = self.profiles.session_profile(session_id)
        if owner is None:
            raise UnknownSession(f"no conversation with id {session_id!r}; leave session_id out to start a new one")
        if caller is not None and caller != owner:  # the session id is a random bearer token; another's id: refused
            raise ForeignSession("this conversation belongs to another profile than yours, so it cannot be "
                                 "continued here; leave session_id out to start your own")
        return owner

    def resolve(self, session_id: str | None, profile_id: str | None, cookie: str | None
                ) -> tuple[str | None, str | None]:
        """(session_id, profile_id) to answer with; profile_id is None for a new visitor (the turn makes one)."""
        caller = self.caller(profile_id, cookie)
        if session_id is not None:
            return session_id, self.owner(session_id, caller)
        return None, caller

    def turn(self, session_id: str | None, message: str, profile_id: str | None) -> tuple[Ticket, Events]:
        """(ticket, events) of one queued turn; QueueFull is raised here, before anything streams.

        The events end with exactly one `done` or `error` (see `settle`). They release the ticket when they end;
        a caller that may never iterate them must release it too (release is idempotent).
        """
        self._begin(session_id)
        try:
            ticket = self.queue.enter()
        except TastebudError:
            self._end(session_id)
            raise
        ticket.on_release = lambda: self._end(session_id)
        events = aqueued_events(self.queue, ticket, lambda: iter(self.agent.respond(session_id, message, profile_id)),
                                getattr(self.agent, "llm_gate", None))
        return ticket, self.settle(events)

    def _begin(self, session_id: str | None) -> None:
        """Mark a conversation as answering; SessionBusy while its previous message is still being answered."""
        if session_id is None:
            return
        with self._lock:
            if session_id in self._answering:
                raise SessionBusy("your previous message is still being answered; send this one when it is done")
            self._answering.add(session_id)

    def _end(self, session_id: str | None) -> None:
        """The conversation may take its next message."""
        with self._lock:
            self._answering.discard(session_id)

    async def settle(self, events: Events) -> Events:
        """The turn's events up to the first `done` or `error`, always ending with one of them, paths scrubbed.

        An `error` ends the turn for the client: a `done` after it (the agent answered but could not save the
        turn) is not passed on, so no client takes an unsaved turn for a saved one. An unexpected exception is
        logged and told as an `error`. Closing this generator closes the agent's turn (the slot is freed).
        """
        async with aclosing(events) as running:
            try:
                async for kind, data in running:
                    if kind == "error":
                        yield "error", {**data, "message": self.scrub(str(data.get("message") or INTERNAL))}
                        return
                    yield kind, data
                    if kind == "done":
                        return
            except TastebudError as exc:
                yield "error", {"message": self.scrub(str(exc))}
                return
            except Exception:  # the client is told and the traceback is logged: never silent
                log.exception("a web turn failed")
                yield "error", {"message": INTERNAL}
                return
        yield "error", {"message": UNFINISHED}
