"""The edge of the web app: the client's address behind a trusted proxy, allowed host-page origins, the body-size
limit and security headers, applied as ASGI middleware before any route runs.

A page load sets no cookie and makes no profile: the profile cookie comes with the first saved turn.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chatbot.doors.web.clients import TrustedProxies
from chatbot.doors.web.errors import error_body

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
    """Body-size limit on every POST, security headers everywhere, and the frame-ancestors CSP on the UI."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, frame_ancestors: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.csp = f"frame-ancestors {frame_ancestors}".encode()

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


def add_edge_middleware(app: FastAPI, allowed: frozenset[str], max_body_bytes: int, trusted_proxies: str = "") -> None:
    """The edge guard, CORS for allowed host pages, the origin guard, and the trusted-proxy reading outermost
    (last added = outermost), so every later step sees the client's own address and scheme."""
    from fastapi.middleware.cors import CORSMiddleware

    frame_ancestors = " ".join(["'self'", *sorted(allowed)]) if "*" not in allowed else "*"
    app.add_middleware(EdgeGuard, max_body_bytes=max_body_bytes, frame_ancestors=frame_ancestors)
    if allowed:
        app.add_middleware(CORSMiddleware, allow_origins=sorted(allowed), allow_credentials="*" not in allowed,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["content-type"])
    app.add_middleware(OriginGuard, allowed=allowed)
    if trusted_proxies.strip():
        app.add_middleware(TrustedProxies, proxies=trusted_proxies)
