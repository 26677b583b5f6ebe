"""A real, throwaway PostgreSQL for tests: its own cluster in a temp dir, listening on 127.0.0.1 only.

`postgres_cluster` (session-scoped) runs initdb and pg_ctl from the installed server binaries (Debian's
`postgresql` package: /usr/lib/postgresql/<version>/bin), as the `postgres` user when the tests run as root
(initdb refuses root). TCP connections need a password (scram-sha-256); the superuser reaches the server only
through the Unix socket in the temp dir. Every test database gets its own database (`cluster.database()`),
dropped afterwards. Every wait is bounded: pg_ctl -t, subprocess timeouts, connect_timeout.

The tests skip, saying so, only when the server binaries are not installed.
"""

from __future__ import annotations

import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

APT_PACKAGE = "postgresql"  # Debian's server package (postgresql-15 on bookworm): initdb, pg_ctl, postgres
APP_USER = "tastebud"
START_TIMEOUT_S = 30
COMMAND_TIMEOUT_S = 60
_names = itertools.count(1)


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl (highest installed version first), or None."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name),
                        reverse=True)
    for found in (shutil.which("initdb"), shutil.which("pg_ctl")):
        if found:
            candidates.append(Path(found).parent)
    return next((d for d in candidates if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)


def _version(name: str) -> tuple[int, ...]:
    """'15' -> (15,); names that are not versions sort first."""
    return tuple(int(p) for p in name.split(".") if p.isdigit()) or (0,)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """One PostgreSQL server of the tests' own: initdb'd into a temp dir, started and stopped with pg_ctl."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="tastebud-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.password = secrets.token_urlsafe(12)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Run a server binary (as the postgres user when we are root); AssertionError with its output on failure."""
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise AssertionError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}\n{log}")
        return done

    def init(self) -> None:
        """initdb: local (socket) connections trusted, TCP ones need a password."""
        self._run("initdb", "-N", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--no-locale",
                  "--auth-local=trust", "--auth-host=scram-sha-256")

    def start(self) -> None:
        """Start the server on a free port of 127.0.0.1 (a few ports tried if one is taken meanwhile)."""
        last: AssertionError | None = None
        for _ in range(3):
            self.port = self.port or free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
                       "-c shared_buffers=32MB")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_TIMEOUT_S),
                          "-o", options, "start", timeout=START_TIMEOUT_S + 10)
                return
            except AssertionError as exc:
                last, self.port = exc, 0
        raise AssertionError(f"PostgreSQL did not start: {last}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (fast: disconnect everyone; immediate: like a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(START_TIMEOUT_S), "stop",
                  timeout=START_TIMEOUT_S + 10)

    def destroy(self) -> None:
        """Stop the server if it runs and remove every file of it."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except (AssertionError, subprocess.TimeoutExpired):
                pass  # the files go anyway; a stray server dies with its data dir
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self) -> psycopg.Connection:
        """A superuser connection through the Unix socket (autocommit)."""
        return psycopg.connect(host=str(self.root), port=self.port, user="postgres", dbname="postgres",
                               autocommit=True, connect_timeout=10)

    def create_app_user(self) -> None:
        """The login role the app connects as, with its password."""
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE {APP_USER} LOGIN PASSWORD '{self.password}'")

    def url(self, dbname: str, password: str | None = None, port: int | None = None) -> str:
        """postgresql://tastebud:<password>@127.0.0.1:<port>/<dbname>."""
        return f"postgresql://{APP_USER}:{password or self.password}@127.0.0.1:{port or self.port}/{dbname}"

    @contextmanager
    def database(self) -> Iterator[tuple[str, str]]:
        """(name, URL) of a new empty database owned by the app user, dropped afterwards."""
        name = f"t{next(_names)}_{secrets.token_hex(3)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {APP_USER}")
        try:
            yield name, self.url(name)
        finally:
            if (self.data / "postmaster.pid").exists():
                with self.admin() as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def database_files(self, dbname: str) -> list[Path]:
        """Every file of one database's tables and indexes, after a CHECKPOINT wrote the dirty pages out."""
        with self.admin() as conn:
            conn.execute("CHECKPOINT")
            (oid,) = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        return sorted(p for p in (self.data / "base" / str(oid)).iterdir() if p.is_file())


def start_cluster() -> PostgresCluster:
    """A started cluster with the app user, or a skip when the server binaries are not installed."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(f"PostgreSQL server binaries (initdb, pg_ctl) are not installed; install Debian's "
                    f"'{APT_PACKAGE}' package to run the PostgreSQL back-end tests")
    cluster = PostgresCluster(bindir)
    try:
        cluster.init()
        cluster.start()
        cluster.create_app_user()
    except BaseException:
        cluster.destroy()
        raise
    return cluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL server for the whole test session (127.0.0.1, a free port, its own temp dir)."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The URL of a fresh, empty database of this test's own on the session's PostgreSQL."""
    with postgres_cluster.database() as (_, url):
        yield url
