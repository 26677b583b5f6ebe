"""How the web app is served: uvicorn's settings (forwarded headers are the app's business, not the server's),
and a server in a background thread for tests and benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chatbot.config import Settings


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn keyword arguments: the server never rewrites the client's address from forwarded headers.

    uvicorn's own default trusts X-Forwarded-For from loopback, which would let anyone who can reach the port
    from this machine (or through a local proxy) pick the address the per-client limit counts. The app reads
    forwarded headers itself, only from TASTEBUD_TRUSTED_PROXIES (see `clients.TrustedProxies`).
    """
    return {"proxy_headers": False, "server_header": False, "timeout_graceful_shutdown": 5}


def server_config(app: Any, settings: Settings, **overrides: Any) -> Any:
    """A uvicorn.Config for the app with `server_options`, overridden by `overrides` (host, port, log_level…)."""
    import uvicorn

    return uvicorn.Config(app, **{**server_options(settings), **overrides})


@contextmanager
def running_app(app: Any, settings: Settings, host: str = "127.0.0.1", start_timeout_s: float = 60.0
                ) -> Iterator[str]:
    """Serve the app as `tastebud serve` would, in a background thread on a free port; yield its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, settings, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="tastebud-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the web server did not start within {start_timeout_s:.0f} s")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
