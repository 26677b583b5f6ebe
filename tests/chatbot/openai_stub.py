"""A small OpenAI-compatible chat server on 127.0.0.1 for tests: scripted answers, plain JSON or SSE streaming."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class StubAnswer:
    """What the server answers to one request."""

    content: str = ""  # the assistant's text
    status: int = 200  # HTTP status; not 200 sends an OpenAI-style error body
    delay_s: float = 0.0  # wait before answering
    chunk_chars: int = 5  # characters per SSE chunk when streaming


@dataclass
class OpenAIStub:
    """The running server: `base_url`, the scripted answers, and the JSON bodies it received."""

    server: ThreadingHTTPServer
    answers: deque[StubAnswer] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """The /v1 URL to give an OpenAI client."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def enqueue(self, *answers: StubAnswer | str) -> None:
        """Script the next answers (a string is a 200 answer with that text)."""
        for a in answers:
            self.answers.append(StubAnswer(content=a) if isinstance(a, str) else a)

    def close(self) -> None:
        """Stop the server and free the port."""
        self.server.shutdown()
        self.server.server_close()


def _completion(content: str) -> dict[str, Any]:
    """A non-streaming chat completion body."""
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "stub-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": max(len(content) // 4, 1), "total_tokens": 20},
    }


def _chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    """One streamed chunk body."""
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "stub-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def start_openai_stub() -> OpenAIStub:
    """Start the server on a free port of 127.0.0.1 in a daemon thread."""
    stub: OpenAIStub

    class Handler(BaseHTTPRequestHandler):
        """Answers POST /v1/chat/completions from the script."""

        def log_message(self, *args: Any) -> None:
            """Keep test output quiet."""

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            """One chat completion, plain or streamed; a client that hung up early is no error here."""
            try:
                self._answer()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _answer(self) -> None:
            """Read the request and send the scripted answer."""
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            stub.requests.append(body)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            answer = stub.answers.popleft() if stub.answers else StubAnswer(status=500, content="no scripted answer")
            if answer.delay_s:
                time.sleep(answer.delay_s)
            if answer.status != 200:
                self._send_json(answer.status, {"error": {"message": answer.content, "type": "server_error"}})
                return
            if not body.get("stream"):
                self._send_json(200, _completion(answer.content))
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            pieces = [answer.content[i : i + answer.chunk_chars] for i in range(0, len(answer.content), answer.chunk_chars)]
            events = [_chunk({"role": "assistant", "content": ""}, None)]
            events += [_chunk({"content": p}, None) for p in pieces]
            events.append(_chunk({}, "stop"))
            for event in events:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

        def _send_json(self, status: int, payload: dict[str, Any]) -> None:
            """Send one JSON body."""
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stub = OpenAIStub(server=server)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-stub", daemon=True).start()
    return stub
