"""A real Chroma server on 127.0.0.1 for tests: started as a subprocess, waited for (bounded), killed after."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CHROMA_BIN = Path(sys.executable).with_name("chroma")
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_chroma_server(path: Path) -> Iterator[str]:
    """Run `chroma run --path PATH --host 127.0.0.1 --port FREE` and yield its URL once it answers."""
    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    log_path = path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(CHROMA_BIN), "run", "--path", str(path / "db"), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chroma server did not start: {log_path.read_text(errors='replace')}")
                time.sleep(0.25)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
