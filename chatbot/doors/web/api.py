"""The HTTP door: FastAPI routes over `Agent.respond`, the widget's files, and the Gradio UI mounted at `/`.

Thin by design: every answer comes from the agent; this module only validates requests (pydantic,
`extra="forbid"`), queues turns (one LLM, bounded line, `busy` positions), applies the edge limits
(per-client rate, body size, allowed host-page origins, frame-ancestors; see `edge`) and turns errors into
JSON a person can read: `{"error": "...", "status": N}` (see `errors`).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.background import BackgroundTask

from chatbot.config import Settings
from chatbot.doors.web.door import PROFILE_COOKIE, WebDoor, profile_cookie_header
from chatbot.doors.web.edge import add_edge_middleware, parse_origins
from chatbot.doors.web.errors import add_error_handlers, error_body
from chatbot.doors.web.sse import encode_sse, iter_sse
from chatbot.doors.web.turnqueue import TurnQueue
from chatbot.profiles import ProfileStore
from chatbot.profile_schema import UnknownProfile, UnknownSession

__all__ = ["WebLimits", "WebDoor", "create_app", "serve", "widget_file", "iter_sse"]  # iter_sse: bench_serve's old path

WIDGET_FILES = {"widget.js": "text/javascript; charset=utf-8",
                "example-host.html": "text/html; charset=utf-8"}


@dataclass(frozen=True)
class WebLimits:
    """Edge limits of the web app (Settings fields of the same names override the defaults)."""

    rate_limit: str = "30/minute"  # per client address, on every /api route that does work (slowapi syntax)
    max_body_bytes: int = 64 * 1024  # larger request bodies get 413 without being read
    max_waiting: int = 64  # turns allowed to wait for the LLM; one more gets 503
    max_wait_s: float = 600.0  # a queued turn gives up after this long

    @classmethod
    def from_settings(cls, settings: Settings) -> WebLimits:
        """Limits from the settings object, defaults for fields it does not have."""
        defaults = cls()
        return cls(**{name: getattr(settings, name, getattr(defaults, name))
                      for name in ("rate_limit", "max_body_bytes", "max_waiting", "max_wait_s")})


# ---------------------------------------------------------------------------------------------- request bodies
class ChatRequest(BaseModel):
    """POST /api/chat and /api/chat/stream."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="what the person says, in any language")
    session_id: str | None = Field(None, description="continue this conversation; leave out to start one")
    profile_id: str | None = Field(None, description="the person's profile; leave out to use the cookie or a new one")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        """A message must say something."""
        if not value.strip():
            raise ValueError("the message is empty: write what you would like to watch")
        return value


class FeedbackRequest(BaseModel):
    """POST /api/feedback."""

    model_config = ConfigDict(extra="forbid")

    session_id: str
    item_id: str
    signal: Literal["like", "dislike", "seen"]


class RemoveSlotRequest(BaseModel):
    """POST /api/remove-slot: drop something tastebud understood (e.g. slot "companions", value "kids")."""

    model_config = ConfigDict(extra="forbid")

    session_id: str
    slot: str
    value: str | None = None


# ---------------------------------------------------------------------------------------------- small pieces
def widget_file(name: str) -> bytes:
    """A file shipped in chatbot/doors/web/widget/ (package data)."""
    return resources.files("chatbot.doors.web").joinpath("widget", name).read_bytes()


def _with_cookie(response: Response, request: Request, profile_id: str | None) -> Response:
    """Set the profile cookie when it is not already the one the browser sent."""
    if profile_id and request.cookies.get(PROFILE_COOKIE) != profile_id:
        response.headers.append("set-cookie", profile_cookie_header(profile_id))
    return response


def _check_session(door: WebDoor, session_id: str) -> None:
    """UnknownSession unless the conversation exists."""
    if door.profiles.session_profile(session_id) is None:
        raise UnknownSession(f"no conversation with id {session_id!r}")


# ---------------------------------------------------------------------------------------------- routes
def _add_chat_routes(app: FastAPI, door: WebDoor, limiter: Any, rate: str) -> None:
    """POST /api/chat (the whole answer at once) and /api/chat/stream (Server-Sent Events)."""

    @app.post("/api/chat", summary="one turn; answers the same JSON as `tastebud ask --json`")
    @limiter.limit(rate)
    async def chat(request: Request, body: ChatRequest) -> Response:
        """One turn, answered when it is complete (waits in line if the LLM is busy)."""
        session_id, profile_id = door.resolve(body.session_id, body.profile_id, request.cookies.get(PROFILE_COOKIE))
        done: dict[str, Any] | None = None
        failure: dict[str, Any] | None = None
        ticket, events = door.turn(session_id, body.message, profile_id)
        try:
            async for kind, data in events:
                if kind == "done":
                    done = data
                elif kind == "error":
                    failure = data
        finally:
            ticket.release()
        if done is None:
            message = (failure or {}).get("message") or "tastebud could not answer this time; please try again"
            return _with_cookie(JSONResponse(error_body(message, 503, session_id=session_id, profile_id=profile_id),
                                             status_code=503), request, profile_id)
        return _with_cookie(JSONResponse(done), request, done.get("profile_id") or profile_id)

    @app.post("/api/chat/stream", summary="one turn as Server-Sent Events: busy*, understood, items, note*, done")
    @limiter.limit(rate)
    async def chat_stream(request: Request, body: ChatRequest) -> Response:
        """One turn as Server-Sent Events; `busy` events tell a waiting person their place in line."""
        session_id, profile_id = door.resolve(body.session_id, body.profile_id, request.cookies.get(PROFILE_COOKIE))
        ticket, events = door.turn(session_id, body.message, profile_id)

        async def stream() -> AsyncIterator[bytes]:
            """The turn's events as SSE bytes."""
            async for kind, data in events:
                yield encode_sse(kind, data)

        # The background task frees the line even when the client leaves before the stream starts.
        response = StreamingResponse(stream(), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                                     background=BackgroundTask(ticket.release))
        return _with_cookie(response, request, profile_id)


def _add_feedback_routes(app: FastAPI, door: WebDoor, limiter: Any, rate: str) -> None:
    """POST /api/feedback (like / dislike / seen) and /api/remove-slot (the understood panel)."""

    @app.post("/api/feedback", summary="like / dislike / seen on an item shown in this conversation")
    @limiter.limit(rate)
    def feedback(request: Request, body: FeedbackRequest) -> dict[str, Any]:
        """Record like / dislike / seen; the next answer takes it into account."""
        _check_session(door, body.session_id)
        return door.agent.feedback(body.session_id, body.item_id, body.signal)

    @app.post("/api/remove-slot", summary="drop something tastebud understood (e.g. companions: kids)")
    @limiter.limit(rate)
    def remove_slot(request: Request, body: RemoveSlotRequest) -> dict[str, Any]:
        """Drop one understood value and return the new understood object."""
        _check_session(door, body.session_id)
        return door.agent.remove_slot(body.session_id, body.slot, body.value)


def _add_profile_routes(app: FastAPI, door: WebDoor, limiter: Any, rate: str) -> None:
    """GET /api/profile/{id}, its JSON export, and DELETE (forget me)."""

    @app.get("/api/profile/{profile_id}", summary="what tastebud keeps about a profile")
    @limiter.limit(rate)
    def profile(request: Request, profile_id: str) -> dict[str, Any]:
        """Counts, likes and sessions of a profile."""
        return door.profiles.profile_summary(profile_id)

    @app.get("/api/profile/{profile_id}/export", summary="everything stored about a profile, as a JSON download")
    @limiter.limit(rate)
    def export_profile(request: Request, profile_id: str) -> Response:
        """Everything stored about a profile, as a download."""
        data = door.profiles.export_profile(profile_id)
        return JSONResponse(data, headers={
            "Content-Disposition": f'attachment; filename="tastebud-profile-{profile_id}.json"'})

    @app.delete("/api/profile/{profile_id}", summary="forget me: delete every stored row of a profile")
    @limiter.limit(rate)
    def delete_profile(request: Request, profile_id: str) -> Response:
        """Forget a profile: every row of it is deleted."""
        if not door.profiles.delete_profile(profile_id):
            raise UnknownProfile(f"no profile with id {profile_id!r} (it may have been deleted already)")
        response = JSONResponse({"deleted": True, "profile_id": profile_id})
        if request.cookies.get(PROFILE_COOKIE) == profile_id:
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
                                          "max_waiting": status.max_waiting}}

    @app.get("/api/widget/check", summary="may this host page embed the widget? (403 when its origin is not allowed)")
    def widget_check() -> dict[str, Any]:
        """200 for an allowed host page (the origin guard answers 403 otherwise)."""
        return {"ok": True}

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Response:
        """The embeddable widget script."""
        return Response(widget_file("widget.js"), media_type=WIDGET_FILES["widget.js"],
                        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})

    @app.get("/widget/{name}", include_in_schema=False)
    def widget_asset(name: str) -> Response:
        """Other widget files (the example host page)."""
        if name not in WIDGET_FILES:
            raise StarletteHTTPException(404)
        return Response(widget_file(name), media_type=WIDGET_FILES[name])


def _mount_ui(app: FastAPI, door: WebDoor, settings: Settings) -> FastAPI:
    """The app with the Gradio UI mounted at `/`, sharing the door's agent, profiles and turn queue."""
    import gradio as gr

    from chatbot.doors.web.ui import CSS, build_ui

    demo = build_ui(door, settings)
    return gr.mount_gradio_app(app, demo, path="/", footer_links=[], show_error=True, css=CSS, ssr_mode=False,
                               mcp_server=False, pwa=False)


# ---------------------------------------------------------------------------------------------- the app
def open_door(settings: Settings, agent: Any, profiles: ProfileStore | None, limits: WebLimits) -> WebDoor:
    """The web door over the given agent and profile store, opening whichever is missing (one store for all)."""
    if profiles is None:
        profiles = getattr(agent, "profiles", None) or ProfileStore.open(settings.resolved_data_dir)
    if agent is None:
        from chatbot.turn.agent import Agent

        agent = Agent.from_settings(settings, profiles=profiles)  # one profile store for every door
    return WebDoor(agent, profiles, TurnQueue(max_waiting=limits.max_waiting, max_wait_s=limits.max_wait_s))


def create_app(settings: Settings, agent: Any = None, profiles: ProfileStore | None = None, *,
               limits: WebLimits | None = None, mount_ui: bool = True) -> FastAPI:
    """The whole web app: /api routes, widget files, and (unless `mount_ui=False`) the Gradio UI at `/`."""
    from slowapi import Limiter
    from slowapi.util import get_remote_address

    limits = limits or WebLimits.from_settings(settings)
    door = open_door(settings, agent, profiles, limits)
    limiter = Limiter(key_func=get_remote_address, storage_uri="memory://")
    app = FastAPI(title="tastebud", description="A conversational movie recommender: chat, feedback, profiles.",
                  version="0.1.0", docs_url="/docs", redoc_url=None)
    app.state.limiter = limiter
    app.state.door = door
    add_error_handlers(app)
    _add_chat_routes(app, door, limiter, limits.rate_limit)
    _add_feedback_routes(app, door, limiter, limits.rate_limit)
    _add_profile_routes(app, door, limiter, limits.rate_limit)
    _add_widget_routes(app, door)
    add_edge_middleware(app, parse_origins(settings.allowed_origins), limits.max_body_bytes, door.profiles)
    return _mount_ui(app, door, settings) if mount_ui else app


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the app with uvicorn until interrupted (`tastebud serve`)."""
    import uvicorn

    app = create_app(settings)
    print("loading the models and reading the fixed prompts, so the first person's answer is not slower…",
          file=sys.stderr)
    problem = app.state.door.agent.prepare()
    if problem:
        print(f"note: {problem}", file=sys.stderr)
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="info",
                timeout_graceful_shutdown=5)
