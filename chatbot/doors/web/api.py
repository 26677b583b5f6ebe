"""The HTTP door: FastAPI routes over `Agent.respond`, the widget's files, and the Gradio UI mounted at `/`.

Thin by design: every answer comes from the agent; this module only validates requests (pydantic,
`extra="forbid"`, text made encodable), queues turns (one LLM, bounded line, `busy` positions), applies the edge
limits (one per-client rate shared by every door, body size, allowed host-page origins, frame-ancestors; see
`edge` and `clients`) and turns errors into JSON a person can read: `{"error": "...", "status": N}` (see `errors`).
A turn that was answered but not saved is an error to the client, never a 200 (see `WebDoor.settle`).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatbot.config import Settings
from chatbot.doors.web.clients import ClientLimiter, parse_proxies
from chatbot.doors.web.door import PROFILE_COOKIE, Events, WebDoor, profile_cookie_header
from chatbot.doors.web.edge import add_edge_middleware, parse_origins
from chatbot.doors.web.errors import add_error_handlers, error_body
from chatbot.doors.web.sanitize import clean_text
from chatbot.doors.web.server import server_config
from chatbot.doors.web.sse import encode_sse, iter_sse
from chatbot.doors.web.turnqueue import Ticket, TurnQueue
from chatbot.storage.factory import open_store
from chatbot.storage.protocol import Store
from chatbot.profile_schema import UnknownProfile

__all__ = ["WebLimits", "WebDoor", "create_app", "serve", "widget_file", "iter_sse"]  # iter_sse: bench_serve's old path

WIDGET_FILES = {"widget.js": "text/javascript; charset=utf-8",
                "example-host.html": "text/html; charset=utf-8"}
HUNG_UP = 499  # nginx's "client closed request": nobody reads it, but the log says what happened

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebLimits:
    """Edge limits of the web app (Settings fields of the same names override the defaults)."""

    rate_limit: str = "30/minute"  # per client, shared by every door (API, stream, UI, widget): "N/unit"
    max_body_bytes: int = 64 * 1024  # larger request bodies get 413 without being read
    max_waiting: int = 64  # turns allowed to wait for their turn; one more gets 503
    max_wait_s: float = 600.0  # a queued turn gives up after this long
    turns_at_once: int = 8  # turns answered side by side (their LLM calls share the agent's LLM gate)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebLimits:
        """Limits from the settings object, defaults for fields it does not have."""
        defaults = cls()
        return cls(**{name: getattr(settings, name, getattr(defaults, name))
                      for name in ("rate_limit", "max_body_bytes", "max_waiting", "max_wait_s", "turns_at_once")})


# ---------------------------------------------------------------------------------------------- request bodies
class ClientBody(BaseModel):
    """A request body: no unknown fields, and every text made storable (lone surrogates become U+FFFD)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        """Any Unicode a client can send is kept, except what cannot be encoded or stored (see `clean_text`)."""
        return clean_text(value) if isinstance(value, str) else value


class ChatRequest(ClientBody):
    """POST /api/chat and /api/chat/stream."""

    message: str = Field(description="what the person says, in any language")
    session_id: str | None = Field(None, description="continue this conversation (yours only); leave out to start one")
    profile_id: str | None = Field(None, description="the person's profile; leave out to use the cookie or a new one")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        """A message must say something."""
        if not value.strip():
            raise ValueError("the message is empty: write what you would like to watch")
        return value


class FeedbackRequest(ClientBody):
    """POST /api/feedback."""

    session_id: str
    item_id: str
    signal: Literal["like", "dislike", "seen"]


class RemoveSlotRequest(ClientBody):
    """POST /api/remove-slot: drop something tastebud understood (e.g. slot "companions", value "kids")."""

    session_id: str
    slot: str
    value: str | None = None


class CookieClaim(ClientBody):
    """POST /api/visitor-cookie: the claim the chat page got with its first saved turn."""

    claim: str


# ---------------------------------------------------------------------------------------------- small pieces
def widget_file(name: str) -> bytes:
    """A file shipped in chatbot/doors/web/widget/ (package data)."""
    return resources.files("chatbot.doors.web").joinpath("widget", name).read_bytes()


def widget_script() -> bytes:
    """widget.js with the served catalog's own placeholder ("What do you feel like watching?" is the films')."""
    from chatbot.turn.replies import catalog_schema, say

    script = widget_file("widget.js")
    if catalog_schema() is None:
        return script
    placeholder = json.dumps(say("placeholder", "en"), ensure_ascii=False).encode("utf-8")
    return script.replace(b'"What do you feel like watching?"', placeholder)


def _with_cookie(response: Response, request: Request, door: WebDoor, profile_id: str | None) -> Response:
    """Set the profile cookie to a saved profile's id, unless the browser already holds a live profile's cookie.

    A live cookie is never replaced: a request naming another profile (or another's conversation) answers as
    that profile, but the browser keeps the person it belongs to.
    """
    sent = request.cookies.get(PROFILE_COOKIE)
    if profile_id and sent != profile_id and not (sent and door.profiles.has_profile(sent)):
        response.headers.append("set-cookie", profile_cookie_header(profile_id))
    return response


def _caller_owns(door: WebDoor, request: Request, session_id: str) -> None:
    """UnknownSession unless the conversation exists; ForeignSession when the cookie names another profile."""
    door.owner(session_id, door.caller(None, request.cookies.get(PROFILE_COOKIE)))


async def _outcome(request: Request, events: Events) -> tuple[str, dict[str, Any]]:
    """The turn's last event ("done" or "error"), or ("gone", {}) when the client hung up and the turn was cancelled.

    Closing the events (leaving the `async with`) closes the agent's turn, which frees the turn's slot.
    """
    import anyio

    last: tuple[str, dict[str, Any]] = ("gone", {})

    async def watch(scope: anyio.CancelScope) -> None:
        """Cancel the turn when the client disconnects."""
        while (await request.receive())["type"] != "http.disconnect":
            pass
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(watch, group.cancel_scope)
        async with aclosing(events) as running:
            async for kind, data in running:
                if kind in ("done", "error"):
                    last = (kind, data)
        group.cancel_scope.cancel()
    return last


class TurnStream(StreamingResponse):
    """A turn's Server-Sent Events; however the response ends (done, error, the client gone), the turn is closed
    and its slot freed."""

    def __init__(self, events: Events, ticket: Ticket) -> None:
        self.events = events
        self.ticket = ticket

        async def sse() -> AsyncIterator[bytes]:
            """The turn's events as SSE bytes."""
            async for kind, data in events:
                yield encode_sse(kind, data)

        super().__init__(sse(), media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def stream_response(self, send: Any) -> None:
        """Stream, then close the turn even when cancelled by a disconnect."""
        import anyio

        try:
            await super().stream_response(send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()
                await self.events.aclose()
            self.ticket.release()


# ---------------------------------------------------------------------------------------------- routes
def _add_chat_routes(app: FastAPI, door: WebDoor, limit: Any) -> None:
    """POST /api/chat (the whole answer at once) and /api/chat/stream (Server-Sent Events)."""

    @app.post("/api/chat", summary="one turn; answers the same JSON as `tastebud ask --json`", dependencies=[limit])
    async def chat(request: Request, body: ChatRequest) -> Response:
        """One turn, answered when it is complete (waits in line if the LLM is busy); 503 when it was not saved."""
        session_id, profile_id = door.resolve(body.session_id, body.profile_id, request.cookies.get(PROFILE_COOKIE))
        ticket, events = door.turn(session_id, body.message, profile_id)
        try:
            kind, data = await _outcome(request, events)
        finally:
            ticket.release()
        if kind == "done":
            return _with_cookie(JSONResponse(data), request, door, data.get("profile_id"))
        if kind == "gone":
            return JSONResponse(error_body("the client hung up; the turn was cancelled", HUNG_UP), status_code=HUNG_UP)
        message = data.get("message") or "tastebud could not answer this time; please try again"
        extra = {"session_id": session_id} if session_id else {}
        return JSONResponse(error_body(message, 503, **extra), status_code=503)

    @app.post("/api/chat/stream", summary="one turn as Server-Sent Events: busy*, understood, items, note*, "
              "then done, or error when the turn failed or could not be saved", dependencies=[limit])
    async def chat_stream(request: Request, body: ChatRequest) -> Response:
        """One turn as Server-Sent Events; `busy` events tell a waiting person their place in line."""
        session_id, profile_id = door.resolve(body.session_id, body.profile_id, request.cookies.get(PROFILE_COOKIE))
        ticket, events = door.turn(session_id, body.message, profile_id)
        # A new visitor's profile is made by the turn itself, after these headers are sent: no cookie for it here
        # (the stream's `done` carries its id, as the widget keeps it).
        try:
            return _with_cookie(TurnStream(events, ticket), request, door, profile_id)
        except BaseException:  # the stream never starts (the store failed): free the place and the conversation
            ticket.release()
            raise


def _add_feedback_routes(app: FastAPI, door: WebDoor, limit: Any) -> None:
    """POST /api/feedback (like / dislike / seen) and /api/remove-slot (the understood panel)."""

    @app.post("/api/feedback", summary="like / dislike / seen on an item shown in this conversation",
              dependencies=[limit])
    def feedback(request: Request, body: FeedbackRequest) -> dict[str, Any]:
        """Record like / dislike / seen; the next answer takes it into account."""
        _caller_owns(door, request, body.session_id)
        return door.agent.feedback(body.session_id, body.item_id, body.signal)

    @app.post("/api/remove-slot", summary="drop something tastebud understood (e.g. companions: kids)",
              dependencies=[limit])
    def remove_slot(request: Request, body: RemoveSlotRequest) -> dict[str, Any]:
        """Drop one understood value and return the new understood object."""
        _caller_owns(door, request, body.session_id)
        return door.agent.remove_slot(body.session_id, body.slot, body.value)


def _add_profile_routes(app: FastAPI, door: WebDoor, limit: Any) -> None:
    """GET /api/profile/{id}, its JSON export, DELETE (forget me), and the chat page's profile cookie."""

    @app.get("/api/profile/{profile_id}", summary="what tastebud keeps about a profile", dependencies=[limit])
    def profile(profile_id: str) -> dict[str, Any]:
        """Counts, likes and sessions of a profile."""
        return door.profiles.profile_summary(profile_id)

    @app.get("/api/profile/{profile_id}/export", summary="everything stored about a profile, as a JSON download",
             dependencies=[limit])
    def export_profile(profile_id: str) -> Response:
        """Everything stored about a profile, as a download."""
        data = door.profiles.export_profile(profile_id)
        return JSONResponse(data, headers={
            "Content-Disposition": f'attachment; filename="tastebud-profile-{profile_id}.json"'})

    @app.delete("/api/profile/{profile_id}", summary="forget me: delete every stored row of a profile",
                dependencies=[limit])
    def delete_profile(request: Request, profile_id: str) -> Response:
        """Forget a profile: every row of it is deleted."""
        if not door.profiles.delete_profile(profile_id):
            raise UnknownProfile(f"no profile with id {profile_id!r} (it may have been deleted already)")
        response = JSONResponse({"deleted": True, "profile_id": profile_id})
        if request.cookies.get(PROFILE_COOKIE) == profile_id:
            response.delete_cookie(PROFILE_COOKIE, path="/", httponly=True, samesite="lax")
        return response

    @app.post("/api/visitor-cookie", include_in_schema=False, dependencies=[limit])
    def claim_cookie(request: Request, body: CookieClaim) -> Response:
        """The chat page trades the claim of its first saved turn for the HttpOnly profile cookie."""
        profile_id = door.claims.redeem(body.claim)
        if profile_id is None or not door.profiles.has_profile(profile_id):
            return JSONResponse(error_body("this claim is unknown or expired; the next saved turn brings a new one",
                                           404), status_code=404)
        return _with_cookie(JSONResponse({"ok": True}), request, door, profile_id)

    @app.delete("/api/visitor-cookie", include_in_schema=False)
    def drop_cookie() -> Response:
        """The chat page's "forget me": the browser drops its profile cookie."""
        response = JSONResponse({"ok": True})
        response.delete_cookie(PROFILE_COOKIE, path="/", httponly=True, samesite="lax")
        return response


def _add_widget_routes(app: FastAPI, door: WebDoor) -> None:
    """GET /api/health, /api/widget/check, and the widget's files (/widget.js, /widget/{name})."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.get("/api/health", summary="liveness and the turn queue")
    def health() -> dict[str, Any]:
        """Liveness and the turn queue's state."""
        status = door.queue.status()
        return {"status": "ok", "queue": {"running": status.running, "waiting": status.waiting,
                                          "max_waiting": status.max_waiting, "max_running": status.max_running}}

    @app.get("/api/widget/check", summary="may this host page embed the widget? (403 when its origin is not allowed)")
    def widget_check() -> dict[str, Any]:
        """200 for an allowed host page (the origin guard answers 403 otherwise)."""
        return {"ok": True}

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Response:
        """The embeddable widget script."""
        return Response(widget_script(), media_type=WIDGET_FILES["widget.js"],
                        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})

    @app.get("/widget/{name}", include_in_schema=False)
    def widget_asset(name: str) -> Response:
        """Other widget files (the example host page)."""
        if name not in WIDGET_FILES:
            raise StarletteHTTPException(404)
        return Response(widget_file(name), media_type=WIDGET_FILES[name])


def _mount_ui(app: FastAPI, door: WebDoor, settings: Settings) -> FastAPI:
    """The app with the Gradio UI mounted at `/`, sharing the door's agent, profiles, turn queue and limit."""
    import gradio as gr

    from chatbot.doors.web.ui import CSS, build_ui

    demo = build_ui(door, settings)
    # show_error=False: an unforeseen exception shows Gradio's generic error, never its text (paths, internals)
    return gr.mount_gradio_app(app, demo, path="/", footer_links=[], show_error=False, css=CSS, ssr_mode=False,
                               mcp_server=False, pwa=False)


# ---------------------------------------------------------------------------------------------- the app
def open_door(settings: Settings, agent: Any, profiles: Store | None, limits: WebLimits) -> WebDoor:
    """The web door over the given agent and profile store, opening whichever is missing (one store for all)."""
    if profiles is None:
        profiles = getattr(agent, "profiles", None) or open_store(settings)
    if agent is None:
        from chatbot.turn.agent import Agent

        agent = Agent.from_settings(settings, profiles=profiles)  # one profile store for every door
    hidden = tuple(str(p) for p in (settings.resolved_data_dir, getattr(profiles, "path", None)) if p)
    queue = TurnQueue(max_waiting=limits.max_waiting, max_wait_s=limits.max_wait_s, max_running=limits.turns_at_once)
    return WebDoor(agent, profiles, queue, ClientLimiter(limits.rate_limit), hidden_paths=hidden)


def create_app(settings: Settings, agent: Any = None, profiles: Store | None = None, *,
               limits: WebLimits | None = None, mount_ui: bool = True) -> FastAPI:
    """The whole web app: /api routes, widget files, and (unless `mount_ui=False`) the Gradio UI at `/`."""
    limits = limits or WebLimits.from_settings(settings)
    trusted_proxies = settings.trusted_proxies
    parse_proxies(trusted_proxies)  # a wrong value stops the start with its reason, not the first request
    door = open_door(settings, agent, profiles, limits)

    async def per_client(request: Request) -> None:
        """One request of this client's shared allowance (every door draws on the same one)."""
        door.admit(request.client.host if request.client else None)

    app = FastAPI(title="tastebud", description="A conversational movie recommender: chat, feedback, profiles.",
                  version="0.1.0", docs_url="/docs", redoc_url=None)
    app.state.door = door
    add_error_handlers(app, door.hidden_paths)
    limit = Depends(per_client)
    _add_chat_routes(app, door, limit)
    _add_feedback_routes(app, door, limit)
    _add_profile_routes(app, door, limit)
    _add_widget_routes(app, door)
    add_edge_middleware(app, parse_origins(settings.allowed_origins), limits.max_body_bytes, trusted_proxies)
    return _mount_ui(app, door, settings) if mount_ui else app


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the app with uvicorn until interrupted (`tastebud serve`); forwarded headers per `server_options`."""
    import uvicorn

    app = create_app(settings)
    print("loading the models and reading the fixed prompts, so the first person's answer is not slower…",
          file=sys.stderr)
    problem = app.state.door.agent.prepare()
    if problem:
        print(f"note: {problem}", file=sys.stderr)
    uvicorn.Server(server_config(app, settings, host=host or settings.host, port=port or settings.port,
                                 log_level="info")).run()
