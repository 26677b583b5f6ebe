"""Servers the deployment tests run as real processes: each in its own process group, logging to a file, waited
for with a time limit, and killed (the whole group) however the test ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.postgres import PostgresCluster, free_port

BIN = Path(sys.executable).parent  # the venv's commands: tastebud, chroma
POLL_S = 0.25
STOP_WAIT_S = 10.0
WORKER_START_S = 120.0


class ServerProcess:
    """One server command in a process group of its own: `wait_until` it answers, `kill` it (SIGKILL by default)."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            # start_new_session: the server and anything it starts share a process group the kill reaches
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=env, cwd=cwd, start_new_session=True)

    @property
    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.proc.poll() is None

    def log(self, last_chars: int = 4000) -> str:
        """The end of what the server printed."""
        try:
            return self.log_path.read_text(errors="replace")[-last_chars:]
        except OSError:
            return ""

    def wait_until(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """Poll `ready` until it is true; AssertionError with the log when the process exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if ready():
                    return
            except httpx.HTTPError:
                pass  # not listening yet
            if not self.alive:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} before it was ready:\n"
                                     f"{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} was not ready within {timeout_s:.0f} s:\n{self.log()}")
            time.sleep(POLL_S)

    def wait_for_url(self, url: str, timeout_s: float) -> None:
        """Wait until GET `url` answers 200."""
        self.wait_until(lambda: httpx.get(url, timeout=2.0).status_code == 200, timeout_s)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group and reap the server (bounded); a dead group is no error."""
        if self.alive:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_WAIT_S)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever the server left behind in its group
        except ProcessLookupError:
            pass


@dataclass
class LLMServer:
    """The one OpenAI-compatible server every worker asks."""

    base_url: str  # http://127.0.0.1:P/v1
    model: str
    stop: Callable[[], None] = field(repr=False)  # takes the server down (a test of the LLM being gone)


class Worker:
    """One `tastebud serve` process on its own port of 127.0.0.1."""

    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.env = env
        self.logs = logs
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = ServerProcess(f"worker {name}", [str(BIN / "tastebud"), "serve", "--host", "127.0.0.1",
                                                       "--port", str(self.port)], logs / f"worker-{name}.log", env)

    def wait_ready(self) -> None:
        """Wait until /api/health answers."""
        self.server.wait_for_url(f"{self.url}/api/health", WORKER_START_S)


@dataclass
class Deployment:
    """Two workers over one PostgreSQL database, one Chroma server and one LLM server."""

    cluster: PostgresCluster
    dbname: str
    database_url: str
    llm: LLMServer
    env: dict[str, str]
    logs: Path
    workers: dict[str, Worker] = field(default_factory=dict)

    def start(self, *names: str) -> None:
        """Start the named workers side by side and wait for each to answer (a dead one is started again)."""
        for name in names:
            self.workers[name] = Worker(name, self.env, self.logs)
        for name in names:
            self.workers[name].wait_ready()

    def worker(self, name: str) -> Worker:
        """A running worker by name, started again if an earlier test killed it."""
        if name not in self.workers or not self.workers[name].server.alive:
            self.start(name)
        return self.workers[name]

    def stop_all(self) -> None:
        """Kill every worker's process group."""
        for w in self.workers.values():
            w.server.kill()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a query on the deployment's database, as the superuser (what is really stored)."""
        import psycopg

        with psycopg.connect(host=str(self.cluster.root), port=self.cluster.port, user="postgres",
                             dbname=self.dbname, connect_timeout=10) as conn:
            return conn.execute(sql, params).fetchall()
