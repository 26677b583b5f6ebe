"""A local HTTP server on 127.0.0.1 that answers like Open-Meteo's /v1/forecast, with scripted failures."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class Reply:
    """One scripted answer: a normal forecast, an HTTP status, garbage bytes, or a delay before answering."""

    kind: str = "ok"  # ok | status | garbage | sleep
    weather_code: int = 3
    temperature: float = 12.5
    status: int = 500
    sleep_s: float = 0.0


@dataclass
class OpenMeteoStub:
    """The server, its script of replies (used in order, then the default), and every request it saw."""

    server: ThreadingHTTPServer
    replies: deque[Reply] = field(default_factory=deque)
    default: Reply = field(default_factory=Reply)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The forecast endpoint URL."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1/forecast"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests."""
        with self.lock:
            self.replies.extend(replies)

    def next_reply(self, query: dict[str, list[str]]) -> Reply:
        """Record a request and pick its reply."""
        with self.lock:
            self.requests.append(query)
            return self.replies.popleft() if self.replies else self.default


def _forecast_body(query: dict[str, list[str]], reply: Reply) -> bytes:
    """A JSON body shaped like Open-Meteo's answer to `current=temperature_2m,weather_code`."""
    lat = float(query.get("latitude", ["0"])[0])
    lon = float(query.get("longitude", ["0"])[0])
    return json.dumps({
        "latitude": lat, "longitude": lon, "generationtime_ms": 0.03, "utc_offset_seconds": 0,
        "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 56.0,
        "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C", "weather_code": "wmo code"},
        "current": {"time": "2024-01-15T12:00", "interval": 900, "temperature_2m": reply.temperature,
                    "weather_code": reply.weather_code},
    }).encode()


def start_stub() -> OpenMeteoStub:
    """Start the stub on 127.0.0.1 on a free port, in a daemon thread."""
    holder: dict[str, OpenMeteoStub] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            parsed = urlparse(self.path)
            query = parse_qs(parsed.query)
            reply = holder["stub"].next_reply(query)
            if reply.kind == "sleep":
                time.sleep(min(reply.sleep_s, 5.0))
                reply = Reply()
            if parsed.path != "/v1/forecast":
                self._send(404, b'{"error": true, "reason": "not found"}')
            elif reply.kind == "status":
                self._send(reply.status, b'{"error": true, "reason": "scripted failure"}')
            elif reply.kind == "garbage":
                self._send(200, b"<html>this is not json")
            else:
                self._send(200, _forecast_body(query, reply))

        def _send(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stub = OpenMeteoStub(server=server)
    holder["stub"] = stub
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return stub


def stop_stub(stub: OpenMeteoStub) -> None:
    """Stop the server and free its port."""
    stub.server.shutdown()
    stub.server.server_close()
