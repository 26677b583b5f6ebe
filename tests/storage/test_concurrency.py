"""Many writers and crashes on both back ends: separate connections appending to one session lose nothing, and
a writer killed with SIGKILL in the middle of a write loses at most the write in flight."""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.storage.backends import Backend

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_eight_connections_appending_to_one_session_lose_nothing(backend: Backend) -> None:
    setup = backend.open()
    session = setup.new_session(setup.new_profile())
    setup.close()
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            own = backend.open()  # its own connections, as another worker would have
            try:
                for i in range(50):
                    own.record_turn(session, f"{k}:{i}", "r", [])
            finally:
                own.close()
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and errors == []
    check = backend.open()
    try:
        turns = check.turns(session)
    finally:
        check.close()
    assert [t.n for t in turns] == list(range(1, 401))
    assert sorted(t.user_message for t in turns) == sorted(f"{k}:{i}" for k in range(8) for i in range(50))


CHILD = textwrap.dedent(
    """
    import json, sys
    from chatbot.config import Settings
    from chatbot.storage.factory import open_store
    store = open_store(Settings())  # TASTEBUD_DATA_DIR / TASTEBUD_DATABASE_URL from the environment
    session = sys.argv[1] if len(sys.argv) > 1 else store.new_session(store.new_profile())
    print("session", session, flush=True)
    n = len(store.turns(session))
    padding = "x" * 20000  # big enough that a write spans several pages
    while True:
        n = store.record_turn_and_state(session, f"message {n + 1} " + padding, f"reply {n + 1}",
                                        [{"id": f"ml:{n + 1}"}], json.dumps({"turn": n + 1}))
        print(n, flush=True)
    """
)


def _child_env(backend: Backend) -> dict[str, str]:
    """The environment that points the child's Settings at this back end's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEBUD_")}
    env.update(PYTHONPATH=str(REPO_ROOT), TASTEBUD_DATA_DIR=str(backend.data_dir))
    url = getattr(backend, "url", None)
    if url:
        env["TASTEBUD_DATABASE_URL"] = url
    return env


def _run_and_kill(backend: Backend, session: str | None, commits: int) -> tuple[str, int]:
    """Start a writer process, SIGKILL it after `commits` confirmed commits; return (session, last confirmed)."""
    args = [sys.executable, "-c", CHILD] + ([session] if session else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(backend),
                            cwd=REPO_ROOT)
    last, deadline = 0, time.monotonic() + 60
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while last < commits and time.monotonic() < deadline:
            if not sel.select(timeout=1.0):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("session"):
                session = line.split()[1]
            else:
                last = int(line)
        time.sleep(random.uniform(0, 0.02))  # land the kill at a random point of a write, not just after a print
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        rest, err = proc.stdout.read(), proc.stderr.read()  # read() also returns lines readline() buffered already
    finally:
        sel.close()
        if proc.poll() is None:
            proc.kill()
    assert last >= commits, f"the writer did not get going: {err[-2000:]}"
    assert proc.returncode == -signal.SIGKILL
    for line in rest.splitlines():  # commits confirmed between the last read and the kill
        last = int(line)
    assert session is not None
    return session, last


@pytest.mark.timeout(300)
def test_a_writer_killed_mid_write_loses_at_most_the_turn_in_flight(backend: Backend) -> None:
    session = None
    for commits in (40, 25, 60, 10, 30, 20):  # kill it again and again, appending to the same session
        session, confirmed = _run_and_kill(backend, session, commits)
        store = backend.open()
        try:
            turns = store.turns(session)
            numbers = [t.n for t in turns]
            assert numbers == list(range(1, len(numbers) + 1))  # no gap, no duplicate
            assert len(numbers) in (confirmed, confirmed + 1)  # every confirmed commit, plus maybe the in-flight one
            assert all(t.user_message.startswith(f"message {t.n} ") and t.reply == f"reply {t.n}" for t in turns)
            # the state always matches the last turn: they were written in one transaction
            assert json.loads(store.load_session_state(session) or "null") == {"turn": len(numbers)}
        finally:
            store.close()
