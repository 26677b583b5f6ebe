"""The HTTP door: FastAPI routes over `Agent.respond`, the widget's files, and the Gradio UI mounted at `/`.

Thin by design: every answer comes from the agent; this module only validates requests (pydantic,
`extra="forbid"`), queues turns (one LLM, bounded line, `busy` positions), applies the edge limits
(per-client rate, body size, allowed host-page origins, frame-ancestors) and turns errors into JSON
a person can read: `{"error": "...", "status": N}`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.background import BackgroundTask

from chatbot.turn.agent import UnknownItem
from chatbot.config import Settings
from chatbot.profiles import InvalidFeedback, ProfileError, ProfileStore, UnknownProfile, UnknownSession
from chatbot.doors.web.turnqueue import QueueFull, QueueTimeout, Ticket, TurnQueue, aqueued_events
from retrieval.types import FilterError, LLMError, TastebudError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

PROFILE_COOKIE = "tastebud_profile"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
API_PREFIX = "/api/"
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


# ---------------------------------------------------------------------------------------------- errors
ERROR_STATUS: tuple[tuple[type[TastebudError], int], ...] = (
    (UnknownProfile, 404),
    (UnknownSession, 404),
    (InvalidFeedback, 422),
    (UnknownItem, 422),
    (FilterError, 422),
    (QueueFull, 503),
    (QueueTimeout, 503),
    (LLMError, 503),
    (ProfileError, 500),
)


def status_for(exc: TastebudError) -> int:
    """The HTTP status that says what kind of failure a TastebudError is."""
    for cls, status in ERROR_STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_body(message: str, status: int, **extra: Any) -> dict[str, Any]:
    """The one JSON shape of every API error."""
    return {"error": message, "status": status, **extra}


def describe_validation_errors(errors: list[dict[str, Any]]) -> str:
    """Pydantic/FastAPI validation errors as one sentence a person can act on."""
    parts = []
    for err in errors:
        kind = err.get("type", "")
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = ".".join(loc) or "the body"
        if kind == "json_invalid":
            ctx = err.get("ctx") or {}
            parts.append(f"the request body is not valid JSON ({ctx.get('error', 'cannot be parsed')})")
        elif kind == "missing":
            parts.append(f"'{where}' is required")
        elif kind == "extra_forbidden":
            parts.append(f"'{where}' is not a field this endpoint accepts")
        elif kind in ("model_attributes_type", "dict_type"):
            parts.append("the request body must be a JSON object")
        else:
            msg = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
            parts.append(f"'{where}': {msg}")
    return "; ".join(parts) or "the request is not valid"


# ---------------------------------------------------------------------------------------------- edge middleware
def _origin_of(scope: Scope) -> str:
    """This server's own origin as the browser sees it (scheme://host[:port] from the Host header)."""
    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}"


def _header(scope: Scope, name: bytes) -> str | None:
    """One request header as text, or None."""
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] = ()) -> None:
    """Answer with a JSON body straight from ASGI (used before the app sees the request)."""
    data = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": data})


class OriginGuard:
    """Refuse /api requests from host pages whose origin is not allowed (403 readable by that page)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass same-origin, allowed-origin and origin-less requests; answer 403 to the rest."""
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            origin = _header(scope, b"origin")
            if origin and origin != _origin_of(scope) and origin not in self.allowed and "*" not in self.allowed:
                message = (f"this site ({origin}) is not allowed to embed tastebud; the operator can add it to "
                           "TASTEBUD_ALLOWED_ORIGINS")
                # The refusal itself is readable by the page, so the widget can say why it does not work.
                await _send_json(send, 403, error_body(message, 403), [
                    (b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")])
                return
        await self.app(scope, receive, send)


class EdgeGuard:
    """Body-size limit on every POST, frame-ancestors CSP on the UI, and the profile cookie for browser visitors."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, frame_ancestors: str, profiles: ProfileStore) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.csp = f"frame-ancestors {frame_ancestors}".encode()
        self.profiles = profiles

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply the limits, then hand over to the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if scope["method"] in ("POST", "PUT", "PATCH"):  # the API and the UI's own calls alike (no uploads here)
            receive = await self._limited_body(scope, receive, send)
            if receive is None:
                return
        extra: list[tuple[bytes, bytes]] = [(b"x-content-type-options", b"nosniff"),
                                            (b"referrer-policy", b"strict-origin-when-cross-origin")]
        if not path.startswith(API_PREFIX):
            extra.append((b"content-security-policy", self.csp))
            if path == "/" and scope["method"] == "GET":
                extra.extend(self._visitor_cookie(scope))

        async def send_with_headers(message: Message) -> None:
            """Add the extra headers to the response start."""
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _limited_body(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Read the body up to the limit and replay it; answer 413 (without reading the rest) when larger."""
        limit = self.max_body_bytes
        too_big = error_body(f"the request body is larger than {limit // 1024} kB; send a shorter message", 413)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, too_big, [(b"connection", b"close")])
            return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_json(send, 413, too_big, [(b"connection", b"close")])
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            """The buffered body once, then whatever the server sends next (e.g. a disconnect)."""
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    def _visitor_cookie(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """A Set-Cookie header with a new profile id when the visitor has no valid one yet."""
        from http.cookies import SimpleCookie

        cookie = SimpleCookie()
        cookie.load(_header(scope, b"cookie") or "")
        current = cookie.get(PROFILE_COOKIE)
        if current is not None and self.profiles.has_profile(current.value):
            return []
        return [(b"set-cookie", profile_cookie_header(self.profiles.new_profile()).encode("latin-1"))]


def profile_cookie_header(profile_id: str) -> str:
    """The Set-Cookie value carrying a profile id: HttpOnly, SameSite=Lax, one year."""
    return f"{PROFILE_COOKIE}={profile_id}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax"


def parse_origins(text: str) -> frozenset[str]:
    """Comma-separated origins (`https://shop.example, http://127.0.0.1:8000`) without trailing slashes."""
    return frozenset(o.strip().rstrip("/") for o in (text or "").split(",") if o.strip())


def sse(kind: str, data: dict[str, Any]) -> bytes:
    """One Server-Sent Event."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def widget_file(name: str) -> bytes:
    """A file shipped in chatbot/widget/ (package data)."""
    return resources.files("chatbot.doors.web").joinpath("widget", name).read_bytes()


# ---------------------------------------------------------------------------------------------- the app
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


def create_app(settings: Settings, agent: Any = None, profiles: ProfileStore | None = None, *,
               limits: WebLimits | None = None, mount_ui: bool = True) -> FastAPI:
    """The whole web app: /api routes, widget files, and (unless `mount_ui=False`) the Gradio UI at `/`."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from slowapi import Limiter
    from slowapi.errors import RateLimitExceeded
    from slowapi.util import get_remote_address
    from starlette.exceptions import HTTPException as StarletteHTTPException

    limits = limits or WebLimits.from_settings(settings)
    if profiles is None:
        profiles = getattr(agent, "profiles", None) or ProfileStore.open(settings.resolved_data_dir)
    if agent is None:
        from chatbot.turn.agent import Agent

        agent = Agent.from_settings(settings, profiles=profiles)  # one profile store for every door
    door = WebDoor(agent, profiles, TurnQueue(max_waiting=limits.max_waiting, max_wait_s=limits.max_wait_s))
    allowed = parse_origins(settings.allowed_origins)
    limiter = Limiter(key_func=get_remote_address, storage_uri="memory://")
    rate = limits.rate_limit

    app = FastAPI(title="tastebud", description="A conversational movie recommender: chat, feedback, profiles.",
                  version="0.1.0", docs_url="/docs", redoc_url=None)
    app.state.limiter = limiter
    app.state.door = door

    # ------------------------------------------------------------------ error answers
    @app.exception_handler(TastebudError)
    async def _tastebud_error(request: Request, exc: TastebudError) -> JSONResponse:
        """A TastebudError as JSON with the status that fits it."""
        status = status_for(exc)
        return JSONResponse(error_body(str(exc), status), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """Validation errors as one readable sentence."""
        return JSONResponse(error_body(describe_validation_errors(list(exc.errors())), 422), status_code=422)

    @app.exception_handler(RateLimitExceeded)
    async def _rate_limited(request: Request, exc: RateLimitExceeded) -> JSONResponse:
        """429 in words."""
        message = f"too many requests from your address (limit: {exc.detail}); wait a moment and try again"
        return JSONResponse(error_body(message, 429), status_code=429, headers={"Retry-After": "60"})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Starlette's HTTP errors in the same JSON shape."""
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse(error_body(message, exc.status_code), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    def with_cookie(response: Response, request: Request, profile_id: str | None) -> Response:
        """Set the profile cookie when it is not already the one the browser sent."""
        if profile_id and request.cookies.get(PROFILE_COOKIE) != profile_id:
            response.headers.append("set-cookie", profile_cookie_header(profile_id))
        return response

    # ------------------------------------------------------------------ chat
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
            return with_cookie(JSONResponse(error_body(message, 503, session_id=session_id, profile_id=profile_id),
                                            status_code=503), request, profile_id)
        return with_cookie(JSONResponse(done), request, done.get("profile_id") or profile_id)

    @app.post("/api/chat/stream", summary="one turn as Server-Sent Events: busy*, understood, items, note*, done")
    @limiter.limit(rate)
    async def chat_stream(request: Request, body: ChatRequest) -> Response:
        """One turn as Server-Sent Events; `busy` events tell a waiting person their place in line."""
        session_id, profile_id = door.resolve(body.session_id, body.profile_id, request.cookies.get(PROFILE_COOKIE))
        ticket, events = door.turn(session_id, body.message, profile_id)

        async def stream() -> AsyncIterator[bytes]:
            """The turn's events as SSE bytes."""
            async for kind, data in events:
                yield sse(kind, data)

        # The background task frees the line even when the client leaves before the stream starts.
        response = StreamingResponse(stream(), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                                     background=BackgroundTask(ticket.release))
        return with_cookie(response, request, profile_id)

    # ------------------------------------------------------------------ feedback and the understood panel
    @app.post("/api/feedback", summary="like / dislike / seen on an item shown in this conversation")
    @limiter.limit(rate)
    def feedback(request: Request, body: FeedbackRequest) -> dict[str, Any]:
        """Record like / dislike / seen; the next answer takes it into account."""
        if door.profiles.session_profile(body.session_id) is None:
            raise UnknownSession(f"no conversation with id {body.session_id!r}")
        return door.agent.feedback(body.session_id, body.item_id, body.signal)

    @app.post("/api/remove-slot", summary="drop something tastebud understood (e.g. companions: kids)")
    @limiter.limit(rate)
    def remove_slot(request: Request, body: RemoveSlotRequest) -> dict[str, Any]:
        """Drop one understood value and return the new understood object."""
        if door.profiles.session_profile(body.session_id) is None:
            raise UnknownSession(f"no conversation with id {body.session_id!r}")
        return door.agent.remove_slot(body.session_id, body.slot, body.value)

    # ------------------------------------------------------------------ profiles
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

    # ------------------------------------------------------------------ health and the widget
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

    # ------------------------------------------------------------------ middleware (last added = outermost)
    frame_ancestors = " ".join(["'self'", *sorted(allowed)]) if "*" not in allowed else "*"
    app.add_middleware(EdgeGuard, max_body_bytes=limits.max_body_bytes, frame_ancestors=frame_ancestors,
                       profiles=profiles)
    if allowed:
        app.add_middleware(CORSMiddleware, allow_origins=sorted(allowed), allow_credentials="*" not in allowed,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["content-type"])
    app.add_middleware(OriginGuard, allowed=allowed)

    if mount_ui:
        import gradio as gr

        from chatbot.doors.web.ui import CSS, build_ui

        demo = build_ui(door, settings)
        app = gr.mount_gradio_app(app, demo, path="/", footer_links=[], show_error=True, css=CSS, ssr_mode=False,
                                  mcp_server=False, pwa=False)
    return app


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


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse a Server-Sent Events text stream (line by line) into (event, data) pairs; for clients and tests."""
    kind, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", []
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
