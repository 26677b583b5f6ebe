"""The web door under floods, hostile input and careless clients (issue 14, part 5), over real HTTP on 127.0.0.1.

Each test drives the real FastAPI app served by uvicorn as `tastebud serve` serves it, with the scripted agent
and a real profile store: one per-client limit across every door (API, stream, widget, Gradio UI), whatever
X-Forwarded-For says; any Unicode answered in JSON; a session answers only its owner; no server path in any
error; an unsaved turn is never a 200; a client that hangs up frees its slot; refusals and page loads store
nothing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from chatbot.config import Settings
from chatbot.doors.web.api import WebLimits, create_app
from chatbot.doors.web.server import running_app
from chatbot.doors.web.sse import iter_sse
from chatbot.profile_schema import ProfileError
from chatbot.profiles import DB_NAME, ProfileStore
from tests.chatbot.scripted_agent import ScriptedAgent
from tests.chatbot.test_api import ALLOWED, serve_app

UI_STATUS = 4  # the status line's place among the Gradio turn's outputs


# ------------------------------------------------------------------------------------------ helpers
def table_rows(data_dir: Path, table: str) -> int:
    """Rows in one table of the real profile database (read-only connection)."""
    conn = sqlite3.connect(f"file:{data_dir / DB_NAME}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def post_stream(client: httpx.Client, body: bytes | dict, **headers: str) -> tuple[int, list[tuple[str, dict]], Any]:
    """POST /api/chat/stream: (status, events, JSON error body or None)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with client.stream("POST", "/api/chat/stream", content=content,
                       headers={"content-type": "application/json", **headers}) as r:
        if r.status_code != 200:
            return r.status_code, [], json.loads(r.read())
        return 200, list(iter_sse(r.iter_lines())), None


def ui_turn(url: str, message_json: str, **headers: str) -> str:
    """One turn through the Gradio UI's own HTTP API (as the page sends it); the status line it ended with.

    `message_json` is the message as a JSON string literal, so escapes such as a lone surrogate travel as sent.
    """
    body = ('{"data": [' + message_json + ", []]}").encode()
    r = httpx.post(f"{url}/gradio_api/call/respond", content=body, timeout=30,
                   headers={"content-type": "application/json", **headers})
    assert r.status_code == 200, r.text
    with httpx.stream("GET", f"{url}/gradio_api/call/respond/{r.json()['event_id']}", timeout=30) as events:
        lines = list(events.iter_lines())
    kinds = [line.split(":", 1)[1].strip() for line in lines if line.startswith("event:")]
    assert kinds and kinds[-1] == "complete", lines
    last = [line for line in lines if line.startswith("data:")][-1]
    return json.loads(last[5:])[UI_STATUS]


def fill(queue: Any) -> list[Any]:
    """Take every place the turn queue has (however many turns it runs at once); the tickets, to release."""
    from chatbot.doors.web.turnqueue import QueueFull

    tickets = []
    while True:
        try:
            tickets.append(queue.enter())
        except QueueFull:
            return tickets


class LockableStore:
    """A real ProfileStore whose writes fail the way a write-locked database fails, while `locked` is set."""

    def __init__(self, store: ProfileStore) -> None:
        self._store = store
        self.locked = False

    def __getattr__(self, name: str) -> Any:
        """Everything else is the real store's."""
        return getattr(self._store, name)

    def _refuse(self) -> None:
        """The store's own error for a database locked past its busy timeout (it names the file)."""
        if self.locked:
            raise ProfileError(f"the profile database {self._store.path} could not be used: database is locked")

    def record_turn_and_state(self, *args: Any, **kwargs: Any) -> Any:
        """Save a turn, unless locked."""
        self._refuse()
        return self._store.record_turn_and_state(*args, **kwargs)

    def add_feedback(self, *args: Any, **kwargs: Any) -> Any:
        """Save feedback, unless locked."""
        self._refuse()
        return self._store.add_feedback(*args, **kwargs)


@contextmanager
def lockable_app(data_dir: Path) -> Iterator[SimpleNamespace]:
    """The API over a store whose writes can be made to fail."""
    real = ProfileStore.open(data_dir)
    store = LockableStore(real)
    settings = Settings(data_dir=data_dir, llm="fake", allowed_origins=ALLOWED)
    app = create_app(settings, agent=ScriptedAgent(store), profiles=store,  # type: ignore[arg-type]
                     limits=WebLimits(rate_limit="10000/minute"), mount_ui=False)
    with running_app(app, settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield SimpleNamespace(url=url, client=client, store=store, data_dir=data_dir)
    real.close()


# ------------------------------------------------------------------------------------------ 1. one limit per client
def test_one_client_cannot_exceed_the_limit_by_switching_doors_or_headers(data_dir: Path) -> None:
    with serve_app(data_dir, mount_ui=True, limits=WebLimits(rate_limit="4/hour")) as w:
        assert w.client.post("/api/chat", json={"message": "comedy"},
                             headers={"X-Forwarded-For": "10.0.0.1"}).status_code == 200
        assert post_stream(w.client, {"message": "drama"}, **{"X-Forwarded-For": "10.0.0.2"})[0] == 200
        widget = post_stream(w.client, {"message": "horror"}, Origin=ALLOWED, **{"X-Forwarded-For": "10.0.0.3"})
        assert widget[0] == 200 and widget[1][-1][0] == "done"
        assert "Done." in ui_turn(w.url, '"action"', **{"X-Forwarded-For": "10.0.0.4"})
        # the allowance (4) is spent, whichever door and whatever forwarded address comes next
        r = w.client.post("/api/chat", json={"message": "more"}, headers={"X-Forwarded-For": "10.0.0.5"})
        assert r.status_code == 429 and "too many requests" in r.json()["error"] and int(r.headers["retry-after"]) >= 1
        status, _, error = post_stream(w.client, {"message": "more"}, **{"X-Forwarded-For": "10.9.9.9, 10.0.0.6"})
        assert status == 429 and "too many requests" in error["error"]
        assert "too many requests" in ui_turn(w.url, '"more"', **{"X-Forwarded-For": "10.0.0.7"})
        assert w.client.post("/api/feedback", json={"session_id": "A" * 22, "item_id": "ml:1", "signal": "like"},
                             headers={"Origin": ALLOWED}).status_code == 429
        assert w.client.get("/api/health").status_code == 200  # liveness is not rate limited


def test_behind_a_trusted_proxy_only_the_hop_it_added_picks_the_client(data_dir: Path) -> None:
    with serve_app(data_dir, limits=WebLimits(rate_limit="2/hour"), trusted_proxies="127.0.0.1") as w:
        def chat(forwarded: str) -> int:
            """One chat as forwarded by the proxy on 127.0.0.1."""
            return w.client.post("/api/chat", json={"message": "comedy"},
                                 headers={"X-Forwarded-For": forwarded}).status_code

        assert [chat("203.0.113.7"), chat("203.0.113.7"), chat("203.0.113.7")] == [200, 200, 429]
        assert chat("198.51.100.1, 203.0.113.7") == 429  # what the client wrote left of the proxy's hop is not read
        assert chat("203.0.113.8") == 200  # another client behind the same proxy has its own allowance
        # the proxy saw a client on its own machine: the addresses that client wrote before that hop are not read
        assert [chat("198.51.100.50, 127.0.0.1"), chat("198.51.100.51, 127.0.0.1"),
                chat("198.51.100.52, 127.0.0.1")] == [200, 200, 429]


# ------------------------------------------------------------------------------------------ 2. any Unicode
HOSTILE_TEXT = [
    r'"comedy \ud800 x"',  # a lone high surrogate
    r'"comedy \udc00 x"',  # a lone low surrogate
    r'"\udc00\ud800 reversed pair"',
    r'"nul \u0000 inside"',
    r'"\ud800"',  # nothing but a surrogate
    r'"noncharacters \uffff \ufffe and \udbff\udfff"',
    r'"bidi \u202e override \u2066 isolate"',
    '"' + "e\u0301" * 2000 + '"',  # a flood of combining marks
    '"emoji \U0001F600 and CJK \u4e0b\u96e8"',
]


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=range(len(HOSTILE_TEXT)))
def test_any_unicode_gets_an_answer_or_a_clear_4xx_never_a_500(web_app: SimpleNamespace, text: str) -> None:
    body = ('{"message": ' + text + "}").encode()
    r = web_app.client.post("/api/chat", content=body, headers={"content-type": "application/json"})
    assert r.headers["content-type"].startswith("application/json")
    assert r.status_code == 200 or 400 <= r.status_code < 500, r.text
    assert r.json().get("reply") or r.json().get("error")
    status, events, error = post_stream(web_app.client, body)
    assert (status == 200 and events[-1][0] in ("done", "error")) or (400 <= status < 500 and error["error"])
    for field in ("session_id", "profile_id"):
        r = web_app.client.post("/api/chat", content=('{"message": "hi", "' + field + '": ' + text + "}").encode(),
                                headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500 and r.json()["error"], r.text


def test_invalid_utf8_and_a_surrogate_in_the_ui_are_answered_in_words(web_app: SimpleNamespace) -> None:
    r = web_app.client.post("/api/chat", content=b'{"message": "\xff\xfe comedy"}',
                            headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500 and r.json()["error"]
    assert "Done." in ui_turn(web_app.url, r'"comedy \ud800 x"')


# ------------------------------------------------------------------------------------------ 3. a session has one owner
def test_a_session_answers_only_its_owner(web_app: SimpleNamespace) -> None:
    mine = web_app.client.post("/api/chat", json={"message": "comedy"}).json()
    theirs = web_app.client.post("/api/chat", json={"message": "drama"}).json()
    stranger = {"tastebud_profile": theirs["profile_id"]}
    body = {"message": "continue", "session_id": mine["session_id"]}
    with httpx.Client(base_url=web_app.url, timeout=30, cookies=stranger) as other:
        for r in (other.post("/api/chat", json=body),
                  other.post("/api/chat/stream", json=body),
                  other.post("/api/feedback", json={"session_id": mine["session_id"],
                                                    "item_id": mine["items"][0]["id"], "signal": "like"}),
                  other.post("/api/remove-slot", json={"session_id": mine["session_id"], "slot": "genres"})):
            assert r.status_code == 403 and "belongs to another profile" in r.json()["error"], r.text
            assert "set-cookie" not in r.headers  # the caller keeps their own cookie
    r = web_app.client.post("/api/chat", json={**body, "profile_id": theirs["profile_id"]})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert len(web_app.profiles.turns(mine["session_id"])) == 1  # nothing was added to the owner's conversation
    assert not web_app.profiles.liked(mine["profile_id"])
    with httpx.Client(base_url=web_app.url, timeout=30, cookies={"tastebud_profile": mine["profile_id"]}) as owner:
        again = owner.post("/api/chat", json=body)
        assert again.status_code == 200 and again.json()["profile_id"] == mine["profile_id"]


# ------------------------------------------------------------------------------------------ 4 and 5. storage failures
def test_an_unsaved_turn_is_an_error_and_no_error_names_a_server_path(data_dir: Path) -> None:
    with lockable_app(data_dir) as w:
        first = w.client.post("/api/chat", json={"message": "comedy"}).json()
        w.store.locked = True
        body = {"message": "more", "session_id": first["session_id"]}
        r = w.client.post("/api/chat", json=body)
        assert r.status_code == 503 and "could not save this turn" in r.json()["error"]
        _, events, _ = post_stream(w.client, body)
        assert events[-1][0] == "error" and "done" not in [kind for kind, _ in events]
        assert "could not save this turn" in events[-1][1]["message"]
        liked = w.client.post("/api/feedback", json={"session_id": first["session_id"],
                                                      "item_id": first["items"][0]["id"], "signal": "like"})
        assert liked.status_code >= 500 and "database is locked" in liked.json()["error"]
        crash = w.client.post("/api/chat", json={"message": "CRASH"})
        assert crash.status_code >= 500 and "unexpected problem" in crash.json()["error"]
        _, crashed, _ = post_stream(w.client, {"message": "CRASH"})
        assert crashed[-1][0] == "error"
        told = json.dumps([r.json(), events, liked.json(), crash.json(), crashed])
        for secret in (str(w.data_dir), str(w.data_dir.resolve()), DB_NAME, "/tmp/"):
            assert secret not in told, secret
        assert "[server path]" in told  # the messages still say what went wrong


# ------------------------------------------------------------------------------------------ 6. hanging up
def test_a_client_that_hangs_up_has_its_turn_cancelled_and_its_slot_freed(data_dir: Path) -> None:
    with serve_app(data_dir, delay_s=0.5) as w:  # a whole turn takes 8 pauses: 4 s
        with w.client.stream("POST", "/api/chat/stream", json={"message": "comedy"}) as r:
            next(r.iter_lines())  # the first event arrived; now hang up mid-turn
        hung_up = time.monotonic()
        while w.agent.running and time.monotonic() - hung_up < 10:
            time.sleep(0.05)
        assert w.agent.running == 0 and time.monotonic() - hung_up < 2.0  # cancelled, not run to the end
        with pytest.raises(httpx.ReadTimeout):  # the whole-answer door: the client gives up after 0.7 s
            w.client.post("/api/chat", json={"message": "drama"}, timeout=0.7)
        hung_up = time.monotonic()
        time.sleep(0.1)
        while w.agent.running and time.monotonic() - hung_up < 10:
            time.sleep(0.05)
        assert w.agent.running == 0 and time.monotonic() - hung_up < 2.0
        assert table_rows(data_dir, "turns") == 0  # neither cancelled turn ran on to be saved
        assert w.client.get("/api/health").json()["queue"]["running"] == 0


# ------------------------------------------------------------------------------------------ 7. no profile for nothing
def test_page_loads_and_refused_requests_store_no_profile(data_dir: Path) -> None:
    with serve_app(data_dir, mount_ui=True, limits=WebLimits(rate_limit="12/hour", max_waiting=0)) as w:
        for _ in range(5):
            page = w.client.get("/")
            assert page.status_code == 200 and "set-cookie" not in page.headers
        holders = fill(w.app.state.door.queue)  # every turn slot is taken and nobody may wait: 503
        try:
            for _ in range(3):
                assert w.client.post("/api/chat", json={"message": "comedy"}).status_code == 503
                assert post_stream(w.client, {"message": "comedy"})[0] == 503
            assert "busy" in ui_turn(w.url, '"comedy"')
        finally:
            for ticket in holders:
                ticket.release()
        for _ in range(6):  # the allowance (12) is spent: 429
            w.client.post("/api/chat", content=b"{}", headers={"content-type": "application/json"})
        assert w.client.post("/api/chat", json={"message": "comedy"}).status_code == 429
        assert "too many requests" in ui_turn(w.url, '"comedy"')
        assert table_rows(data_dir, "profiles") == 0
    with serve_app(data_dir) as w:  # the first saved turn makes the profile, and its cookie
        r = w.client.post("/api/chat", json={"message": "comedy"})
        assert r.status_code == 200 and r.json()["profile_id"] in r.headers["set-cookie"]
        assert table_rows(data_dir, "profiles") == 1


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def web_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """One shared app with the UI mounted, for the tests that need no special limits."""
    with serve_app(tmp_path_factory.mktemp("hardening"), mount_ui=True) as w:
        yield w


# ------------------------------------------------------------------------------------------ the pieces
def test_the_bucket_refills_evenly_and_ipv6_clients_are_keyed_by_their_64() -> None:
    from chatbot.doors.web.clients import ClientLimiter, client_key, parse_rate

    now = [0.0]
    limiter = ClientLimiter("3/minute", clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(20.0)  # one request comes back every 20 s
    assert limiter.take("b") == 0.0  # another client has its own
    now[0] = 20.0
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1" and client_key(None) == "unknown"
    assert parse_rate("100/5 minutes") == (100, 300.0) and parse_rate("30 per minute") == (30, 60.0)
    with pytest.raises(Exception, match="not like '30/minute'"):
        parse_rate("lots")


def test_scrubbing_removes_paths_and_keeps_urls_and_rates() -> None:
    from chatbot.doors.web.sanitize import clean_text, scrub_paths

    said = scrub_paths("the profile database /srv/tb/var/profiles.sqlite could not be used: database is locked; "
                       "see http://127.0.0.1:7860/widget.js (limit 30/minute) or file:///srv/tb/x.db, C:\\tb\\x.db")
    assert "/srv" not in said and "tb\\x.db" not in said and said.count("[server path]") == 3
    assert "http://127.0.0.1:7860/widget.js" in said and "30/minute" in said
    assert scrub_paths("cannot create the data dir /data for profiles", ("/data",)) == \
        "cannot create the data dir [server path] for profiles"
    assert clean_text("a \ud800 b \x00c") == "a \ufffd b c"
