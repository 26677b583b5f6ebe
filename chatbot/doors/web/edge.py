"""The edge of the web app: allowed host-page origins, the body-size limit, security headers and the visitor's
profile cookie, applied as ASGI middleware before any route runs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chatbot.doors.web.door import PROFILE_COOKIE, profile_cookie_header
from chatbot.doors.web.errors import error_body
from chatbot.profiles import ProfileStore

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/"


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


def parse_origins(text: str) -> frozenset[str]:
    """Comma-separated origins (`https://shop.example, http://127.0.0.1:8000`) without trailing slashes."""
    return frozenset(o.strip().rstrip("/") for o in (text or "").split(",") if o.strip())


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


def add_edge_middleware(app: FastAPI, allowed: frozenset[str], max_body_bytes: int, profiles: ProfileStore) -> None:
    """The edge guard, CORS for allowed host pages, and the origin guard outermost (last added = outermost)."""
    from fastapi.middleware.cors import CORSMiddleware

    frame_ancestors = " ".join(["'self'", *sorted(allowed)]) if "*" not in allowed else "*"
    app.add_middleware(EdgeGuard, max_body_bytes=max_body_bytes, frame_ancestors=frame_ancestors,
                       profiles=profiles)
    if allowed:
        app.add_middleware(CORSMiddleware, allow_origins=sorted(allowed), allow_credentials="*" not in allowed,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["content-type"])
    app.add_middleware(OriginGuard, allowed=allowed)
