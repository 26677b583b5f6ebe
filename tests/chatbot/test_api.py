"""The HTTP API over real HTTP on 127.0.0.1 (uvicorn + httpx), with the scripted agent and a real ProfileStore.

Covers every route, the SSE event order, the turn queue (busy positions, 503 when full), errors in words,
body and rate limits, CORS / allowed origins, the profile cookie, and forget-me on the SQLite file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from chatbot.doors.web.api import WebLimits, create_app
from chatbot.config import Settings
from chatbot.profiles import DB_NAME, ProfileStore
from chatbot.doors.web.sse import iter_sse
from chatbot.doors.web.server import running_app
from chatbot.doors.web.turnqueue import QueueFull, QueueTimeout, TurnQueue
from tests.chatbot.scripted_agent import ScriptedAgent

ALLOWED = "http://127.0.0.1:9"  # an allowed host-page origin (nothing needs to listen there)


@contextmanager
def serve_app(data_dir: Path, *, delay_s: float = 0.0, limits: WebLimits | None = None, origins: str = ALLOWED,
              mount_ui: bool = False, trusted_proxies: str = "") -> Iterator[SimpleNamespace]:
    """The web app with a scripted agent on a free 127.0.0.1 port (served as `tastebud serve` serves it), and an
    httpx client for it."""
    profiles = ProfileStore.open(data_dir)
    agent = ScriptedAgent(profiles, delay_s=delay_s)
    settings = Settings(data_dir=data_dir, llm="fake", allowed_origins=origins, trusted_proxies=trusted_proxies)
    app = create_app(settings, agent=agent, profiles=profiles,
                     limits=limits or WebLimits(rate_limit="10000/minute"), mount_ui=mount_ui)
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))  # like a script, not a browser
    with running_app(app, settings) as url, httpx.Client(base_url=url, timeout=30, cookies=no_cookies) as client:
        yield SimpleNamespace(url=url, client=client, agent=agent, profiles=profiles, data_dir=data_dir, app=app)
    profiles.close()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """One shared app for the tests that do not need special limits."""
    with serve_app(tmp_path_factory.mktemp("web")) as w:
        yield w


def stream(client: httpx.Client, body: dict) -> list[tuple[str, dict]]:
    """POST to /api/chat/stream and return the parsed events."""
    with client.stream("POST", "/api/chat/stream", json=body) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        return list(iter_sse(r.iter_lines()))


def rows_mentioning(db: Path, value: str) -> dict[str, int]:
    """Rows, per table.column, whose column equals `value` (read-only connection to the real file)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        found = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for column in [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]:
                (n,) = conn.execute(f'SELECT count(*) FROM {table} WHERE "{column}" = ?', (value,)).fetchone()
                if n:
                    found[f"{table}.{column}"] = n
        return found
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------ chat
def test_chat_answers_like_ask_json_and_continues_the_session(web: SimpleNamespace) -> None:
    r = web.client.post("/api/chat", json={"message": "something funny in Paris with the kids"})
    assert r.status_code == 200
    done = r.json()
    assert {"session_id", "profile_id", "reply", "language", "understood", "items", "timings"} <= set(done)
    assert done["understood"]["location"] == "Paris"
    assert done["items"] and all(item["note"] for item in done["items"])
    assert all(item["age_rating"] in ("G", "PG") for item in done["items"])  # kids
    cookie = r.headers["set-cookie"]
    assert f"tastebud_profile={done['profile_id']}" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie

    again = web.client.post("/api/chat", json={"message": "and scary", "session_id": done["session_id"]})
    assert again.status_code == 200
    second = again.json()
    assert second["session_id"] == done["session_id"] and second["profile_id"] == done["profile_id"]
    assert second["understood"]["location"] == "Paris"  # state carried over
    assert not {i["id"] for i in second["items"]} & {i["id"] for i in done["items"]}  # nothing shown twice
    assert len(web.profiles.turns(done["session_id"])) == 2


def test_cookie_profile_is_used_when_the_body_names_none(web: SimpleNamespace) -> None:
    with httpx.Client(base_url=web.url, timeout=30) as browser:
        first = browser.post("/api/chat", json={"message": "comedy"}).json()
        second = browser.post("/api/chat", json={"message": "drama"}).json()  # new session, same person
    assert second["session_id"] != first["session_id"]
    assert second["profile_id"] == first["profile_id"]


def test_stream_sends_understood_items_notes_done_in_order(web: SimpleNamespace) -> None:
    events = stream(web.client, {"message": "a horror film for a rainy night in Oslo"})
    kinds = [k for k, _ in events]
    assert kinds[0] == "understood" and kinds[1] == "items" and kinds[-1] == "done"
    assert set(kinds[2:-1]) == {"note"}
    done = events[-1][1]
    assert events[0][1] == done["understood"] and done["understood"]["weather"]["source"] == "stated"
    notes: dict[int, str] = {}
    finals: dict[int, str] = {}
    for kind, data in events:
        if kind == "note" and "delta" in data:
            notes[data["position"]] = notes.get(data["position"], "") + data["delta"]
        elif kind == "note":
            finals[data["position"]] = data["final"]
    assert [notes[n] for n in sorted(notes)] == [item["note"] for item in done["items"]]
    assert finals == notes
    assert [i["id"] for i in events[1][1]["items"]] == [i["id"] for i in done["items"]]


def test_llm_failure_is_told_in_words_and_the_session_survives(web: SimpleNamespace) -> None:
    first = web.client.post("/api/chat", json={"message": "comedy"}).json()
    r = web.client.post("/api/chat", json={"message": "FAIL please", "session_id": first["session_id"]})
    assert r.status_code == 503
    assert "did not answer in time" in r.json()["error"] and r.json()["session_id"] == first["session_id"]
    events = stream(web.client, {"message": "RAISE", "session_id": first["session_id"]})
    assert events == [("error", {"message": "the language model stopped answering (scripted failure)"})]
    after = web.client.post("/api/chat", json={"message": "something else", "session_id": first["session_id"]})
    assert after.status_code == 200 and after.json()["session_id"] == first["session_id"]
    assert web.client.get("/api/health").json()["queue"] == {"running": 0, "waiting": 0, "max_waiting": 64, "max_running": 8}


# ------------------------------------------------------------------------------------------ errors in words
@pytest.mark.parametrize(("body", "expected"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b"{}", "'message' is required"),
    (b'{"message": "   "}', "the message is empty"),
    (b'{"message": "hi", "user": "x"}', "'user' is not a field"),
    (b'{"message": 42}', "'message'"),
])
def test_malformed_chat_bodies_get_422_with_a_clear_message(web: SimpleNamespace, body: bytes, expected: str) -> None:
    for path in ("/api/chat", "/api/chat/stream"):
        r = web.client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422
        assert expected in r.json()["error"] and r.json()["status"] == 422


def test_unknown_ids_are_404_with_a_clear_message(web: SimpleNamespace) -> None:
    ghost = "A" * 22
    r = web.client.post("/api/chat", json={"message": "hi", "profile_id": ghost})
    assert r.status_code == 404 and "no profile with id" in r.json()["error"]
    r = web.client.post("/api/chat/stream", json={"message": "hi", "session_id": ghost})
    assert r.status_code == 404 and "no conversation with id" in r.json()["error"]
    for method, path in (("GET", f"/api/profile/{ghost}"), ("GET", f"/api/profile/{ghost}/export"),
                         ("DELETE", f"/api/profile/{ghost}"), ("GET", "/api/profile/..%2F..")):
        r = web.client.request(method, path)
        assert r.status_code == 404 and "error" in r.json(), path
    r = web.client.post("/api/feedback", json={"session_id": ghost, "item_id": "ml:1", "signal": "like"})
    assert r.status_code == 404 and "no conversation" in r.json()["error"]


def test_one_megabyte_body_is_refused_without_reading_it(web: SimpleNamespace) -> None:
    r = web.client.post("/api/chat", content=b"x" * (1 << 20), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than 64 kB" in r.json()["error"]
    sent = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count and stop early
        for _ in range(256):  # 16 MB: more than the socket buffers can swallow if the server stopped reading
            sent.append(1)
            yield b"x" * 65536

    try:
        r = web.client.post("/api/chat", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
    except httpx.HTTPError:
        pass  # the server may close the connection while the client is still sending: also a refusal
    assert len(sent) < 256
    assert web.client.get("/api/health").status_code == 200  # still serving


# ------------------------------------------------------------------------------------------ feedback and slots
def test_feedback_is_recorded_and_changes_the_next_answer(web: SimpleNamespace) -> None:
    first = web.client.post("/api/chat", json={"message": "anything"}).json()
    comedy = next(i for i in first["items"] if "Comedy" in i["genres"])
    r = web.client.post("/api/feedback", json={"session_id": first["session_id"], "item_id": comedy["id"],
                                                "signal": "like"})
    assert r.status_code == 200 and comedy["id"] in r.json()["liked"]
    assert web.profiles.liked(first["profile_id"]) == [comedy["id"]]
    nxt = web.client.post("/api/chat", json={"message": "more", "session_id": first["session_id"]}).json()
    assert "Comedy" in nxt["items"][0]["genres"]


def test_control_without_the_like_starts_elsewhere(web: SimpleNamespace) -> None:
    first = web.client.post("/api/chat", json={"message": "anything"}).json()
    nxt = web.client.post("/api/chat", json={"message": "more", "session_id": first["session_id"]}).json()
    assert "Comedy" not in nxt["items"][0]["genres"]  # so the test above measures the like, not chance


def test_feedback_errors_are_clear(web: SimpleNamespace) -> None:
    first = web.client.post("/api/chat", json={"message": "comedy"}).json()
    r = web.client.post("/api/feedback", json={"session_id": first["session_id"], "item_id": "ml:999",
                                                "signal": "like"})
    assert r.status_code == 422 and "was not shown in this conversation" in r.json()["error"]
    r = web.client.post("/api/feedback", json={"session_id": first["session_id"], "item_id": "ml:1",
                                                "signal": "love"})
    assert r.status_code == 422 and "'signal'" in r.json()["error"]
    r = web.client.post("/api/feedback", json={"session_id": first["session_id"]})
    assert r.status_code == 422 and "'item_id' is required" in r.json()["error"]


def test_remove_slot_drops_it_from_what_was_understood(web: SimpleNamespace) -> None:
    first = web.client.post("/api/chat", json={"message": "comedy with the kids"}).json()
    assert first["understood"]["companions"] == ["kids"]
    r = web.client.post("/api/remove-slot", json={"session_id": first["session_id"], "slot": "companions",
                                                   "value": "kids"})
    assert r.status_code == 200 and r.json()["companions"] == []
    nxt = web.client.post("/api/chat", json={"message": "more", "session_id": first["session_id"]}).json()
    assert "kids watching: nothing rated above PG" not in nxt["understood"]["rules_fired"]
    r = web.client.post("/api/remove-slot", json={"session_id": first["session_id"], "slot": "nonsense"})
    assert r.status_code == 400 and "unknown slot" in r.json()["error"]


# ------------------------------------------------------------------------------------------ profiles
def test_profile_summary_export_and_forget_me_leaves_no_row(web: SimpleNamespace) -> None:
    first = web.client.post("/api/chat", json={"message": "comedy"}).json()
    pid, sid = first["profile_id"], first["session_id"]
    web.client.post("/api/feedback", json={"session_id": sid, "item_id": first["items"][0]["id"], "signal": "like"})
    summary = web.client.get(f"/api/profile/{pid}").json()
    assert summary["liked"] == [first["items"][0]["id"]] and summary["counts"]["turns"] == 1
    export = web.client.get(f"/api/profile/{pid}/export")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    assert export.json()["sessions"][0]["turns"][0]["user_message"] == "comedy"
    db = web.data_dir / DB_NAME
    assert rows_mentioning(db, pid)  # there is something to delete

    r = web.client.delete(f"/api/profile/{pid}", headers={"cookie": f"tastebud_profile={pid}"})
    assert r.status_code == 200 and r.json() == {"deleted": True, "profile_id": pid}
    assert "tastebud_profile=" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    assert rows_mentioning(db, pid) == {} and rows_mentioning(db, sid) == {}
    assert web.client.get(f"/api/profile/{pid}").status_code == 404
    r = web.client.post("/api/chat", json={"message": "hi", "session_id": sid})
    assert r.status_code == 404  # the forgotten conversation cannot be continued


# ------------------------------------------------------------------------------------------ queue
@pytest.mark.parametrize("at_once", [1, 2])
def test_waiting_turns_see_their_place_and_at_most_the_allowed_number_run(data_dir: Path, at_once: int) -> None:
    limits = WebLimits(rate_limit="10000/minute", turns_at_once=at_once)
    # 0.2 s per event: the first turns' cards take about a second, far longer than the 0.25 s over which all the
    # others arrive, so the later arrivals wait even on a loaded machine (at 0.05 s the turns could end first)
    with serve_app(data_dir, delay_s=0.2, limits=limits) as w:
        results: dict[int, list[tuple[str, dict]]] = {}

        def talk(i: int) -> None:
            with httpx.Client(base_url=w.url, timeout=60) as c:
                results[i] = stream(c, {"message": f"comedy #{i}"})

        threads = [threading.Thread(target=talk, args=(i,)) for i in range(4 + at_once)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join(60)
    if at_once == 1:
        assert w.agent.max_running == 1  # one whole turn at a time, its notes included
    else:  # side by side: up to the bound computing cards, and the notes of those already shown go on
        assert w.agent.max_running >= at_once
    busy = [[d["position"] for k, d in ev if k == "busy"] for ev in results.values()]
    assert sum(1 for b in busy if b) >= 2  # the later arrivals waited and were told so
    assert all(b == sorted(b, reverse=True) for b in busy)  # positions only move forward
    for events in results.values():
        kinds = [k for k, _ in events if k != "busy"]
        assert kinds[0] == "understood" and kinds[-1] == "done"
        assert all(k != "busy" for k in [k for k, _ in events][[k for k, _ in events].index("understood"):])
    assert len({ev[-1][1]["session_id"] for ev in results.values()}) == 4 + at_once


def test_a_second_message_while_the_first_is_answered_is_refused_in_words(data_dir: Path) -> None:
    with serve_app(data_dir, delay_s=0.3) as w:
        first = w.client.post("/api/chat", json={"message": "a comedy"}).json()
        sid = first["session_id"]
        late: dict[str, Any] = {}
        talking = threading.Thread(target=lambda: late.update(
            answer=stream(httpx.Client(base_url=w.url, timeout=60), {"message": "older", "session_id": sid})))
        talking.start()
        deadline = time.monotonic() + 10
        while not w.agent.running and time.monotonic() < deadline:
            time.sleep(0.01)
        r = w.client.post("/api/chat", json={"message": "and shorter", "session_id": sid})
        talking.join(60)
        assert r.status_code == 409 and "still being answered" in r.json()["error"]
        assert late["answer"][-1][0] == "done"  # the first one was not disturbed
        r = w.client.post("/api/chat", json={"message": "and shorter", "session_id": sid})
        assert r.status_code == 200  # once it is answered, the conversation takes the next message


def test_a_client_that_leaves_mid_stream_does_not_stall_the_line(data_dir: Path) -> None:
    with serve_app(data_dir, delay_s=0.2) as w:
        with w.client.stream("POST", "/api/chat/stream", json={"message": "comedy"}) as r:
            assert r.status_code == 200
            next(r.iter_lines())  # the first event arrived; now hang up mid-turn
        deadline = time.monotonic() + 20
        while w.client.get("/api/health").json()["queue"]["running"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not w.client.get("/api/health").json()["queue"]["running"]
        r = w.client.post("/api/chat", json={"message": "still there?"})
        assert r.status_code == 200 and r.json()["items"]


def test_full_queue_answers_503_with_a_clear_message(data_dir: Path) -> None:
    limits = WebLimits(rate_limit="1000/minute", max_waiting=1, turns_at_once=1)
    with serve_app(data_dir, delay_s=0.3, limits=limits) as w:
        threads = [threading.Thread(target=lambda: httpx.post(f"{w.url}/api/chat", json={"message": "x"}, timeout=60))
                   for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while w.client.get("/api/health").json()["queue"]["waiting"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        r = w.client.post("/api/chat", json={"message": "me too"})
        assert r.status_code == 503 and "busy" in r.json()["error"] and "try again" in r.json()["error"]
        r = w.client.post("/api/chat/stream", json={"message": "me too"})
        assert r.status_code == 503
        for t in threads:
            t.join(60)
        assert w.client.post("/api/chat", json={"message": "now"}).status_code == 200


def test_turn_queue_is_first_come_first_served_and_bounded() -> None:
    q = TurnQueue(max_waiting=2, max_wait_s=0.3)
    a, b, c = q.enter(), q.enter(), q.enter()
    assert (a.position, b.position, c.position) == (0, 1, 2)
    with pytest.raises(QueueFull, match="try again"):
        q.enter()
    a.release()
    assert (b.position, c.position) == (0, 1)
    assert list(q.waits(b)) == []  # b runs at once
    with pytest.raises(QueueTimeout, match="did not come within"):
        list(q.waits(c))  # b never releases: c gives up after max_wait_s, and leaves the line
    assert q.status().waiting == 0 and q.status().running


# ------------------------------------------------------------------------------------------ edge limits
def test_rate_limit_answers_429_in_words(data_dir: Path) -> None:
    with serve_app(data_dir, limits=WebLimits(rate_limit="3/minute")) as w:
        codes = [w.client.post("/api/chat", json={"message": "hi"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = w.client.post("/api/chat", json={"message": "hi"})
        assert "too many requests" in r.json()["error"] and r.headers["retry-after"]
        assert w.client.get("/api/health").status_code == 200  # health is not rate limited


def test_cors_allows_listed_origins_and_refuses_others_readably(web: SimpleNamespace) -> None:
    pre = web.client.options("/api/chat/stream", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ALLOWED
    r = web.client.post("/api/chat", json={"message": "hi"}, headers={"Origin": ALLOWED})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ALLOWED
    evil = "http://evil.example"
    for method, path in (("GET", "/api/widget/check"), ("POST", "/api/chat"), ("OPTIONS", "/api/chat")):
        r = web.client.request(method, path, headers={"Origin": evil}, json={"message": "hi"} if method == "POST" else None)
        assert r.status_code == 403, path
        assert "not allowed to embed tastebud" in r.json()["error"]
        assert r.headers["access-control-allow-origin"] == evil  # so the widget can show the reason
    same = web.client.get("/api/widget/check", headers={"Origin": web.url})
    assert same.status_code == 200 and same.json() == {"ok": True}


def test_ui_docs_widget_and_visitor_cookie(data_dir: Path) -> None:
    with serve_app(data_dir, mount_ui=True) as w:
        page = w.client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert w.client.get("/config").json()["title"] == "tastebud"  # the Gradio UI is what is mounted at /
        assert "set-cookie" not in page.headers  # a page load makes no profile: the first saved turn does
        assert page.headers["content-security-policy"] == f"frame-ancestors 'self' {ALLOWED}"
        first = w.client.post("/api/chat", json={"message": "comedy"})
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("tastebud_profile=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        pid = cookie.split("=", 1)[1].split(";", 1)[0]
        assert pid == first.json()["profile_id"] and w.profiles.has_profile(pid) and len(pid) >= 22
        browser = httpx.Client(base_url=w.url, timeout=30, cookies={"tastebud_profile": pid})
        again = browser.get("/")  # a returning visitor keeps the profile: no new cookie
        assert "set-cookie" not in again.headers
        chat = browser.post("/api/chat", json={"message": "comedy"})
        assert chat.json()["profile_id"] == pid and "set-cookie" not in chat.headers  # the cookie carries over
        assert w.client.get("/docs").status_code == 200
        paths = set(w.client.get("/openapi.json").json()["paths"])
        assert {"/api/chat", "/api/chat/stream", "/api/feedback", "/api/profile/{profile_id}",
                "/api/profile/{profile_id}/export", "/api/health", "/api/remove-slot"} <= paths
        js = w.client.get("/widget.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"] and "attachShadow" in js.text
        assert "innerHTML" not in js.text.split("*/", 1)[1]  # the widget never injects markup
        host = w.client.get("/widget/example-host.html")
        assert host.status_code == 200 and "widget.js" in host.text
        assert w.client.get("/widget/../config.py").status_code == 404
