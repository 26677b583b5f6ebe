"""Two workers, one conversation (issue 14, part 4): two `tastebud serve` processes over one PostgreSQL database,
one Chroma server and one LLM server, all real, all on 127.0.0.1.

A person's turns alternate between the workers as a load balancer would send them; one worker is killed with
SIGKILL in the middle of a turn; the database and the LLM server go missing. What the person sees is asserted.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from chatbot.doors.web.sse import iter_sse
from tests.deploy.processes import BIN, Deployment, ServerProcess, Worker
from tests.postgres import APP_USER, free_port

pytestmark = pytest.mark.slow

TURN_TIMEOUT_S = 90.0  # one turn, LLM notes included, on two busy cores
REFUSED_START_S = 90.0  # a worker that cannot reach its database stops within this


@dataclass
class Person:
    """One person in one conversation: their profile cookie and session id travel to whichever worker answers."""

    session_id: str | None = None
    profile_id: str | None = None
    shown: list[str] = field(default_factory=list)  # every card id shown so far, in order

    def headers(self) -> dict[str, str]:
        """The profile cookie the browser would send to any worker of the site."""
        return {"cookie": f"tastebud_profile={self.profile_id}"} if self.profile_id else {}

    def body(self, message: str) -> dict[str, Any]:
        """A chat request continuing this person's conversation."""
        return {"message": message, **({"session_id": self.session_id} if self.session_id else {})}

    def answered(self, done: dict[str, Any]) -> dict[str, Any]:
        """Remember the conversation a turn answered in, and its cards."""
        self.session_id, self.profile_id = done["session_id"], done["profile_id"]
        self.shown += [card["id"] for card in done["items"]]
        return done

    def chat(self, worker: Worker, message: str) -> dict[str, Any]:
        """One turn on a worker, whole (POST /api/chat)."""
        r = httpx.post(f"{worker.url}/api/chat", json=self.body(message), headers=self.headers(),
                       timeout=TURN_TIMEOUT_S)
        assert r.status_code == 200, f"worker {worker.name}: {r.status_code} {r.text}"
        return self.answered(r.json())

    def feedback(self, worker: Worker, item_id: str, signal_name: str) -> dict[str, Any]:
        """Like / dislike a card; the worker's 200 is its acknowledgement."""
        r = httpx.post(f"{worker.url}/api/feedback", headers=self.headers(), timeout=30,
                       json={"session_id": self.session_id, "item_id": item_id, "signal": signal_name})
        assert r.status_code == 200, f"worker {worker.name}: {r.status_code} {r.text}"
        return r.json()


def titles(done: dict[str, Any]) -> list[str]:
    """The card titles of an answer."""
    return [card["title"] for card in done["items"]]


def assert_comedies_within_two_hours(done: dict[str, Any]) -> None:
    """Every card is a comedy of at most 120 minutes, and the filters say so."""
    assert done["items"], done["reply"]
    assert done["understood"]["filters"].get("runtime_max") == 120, done["understood"]
    assert "Comedy" in done["understood"]["filters"].get("genres_any", []), done["understood"]
    for card in done["items"]:
        assert "Comedy" in card["genres"], card
        assert card["runtime_min"] is not None and card["runtime_min"] <= 120, card


# ------------------------------------------------------------------------------------------ 1. alternating turns
def test_turns_alternating_between_workers_keep_the_conversation(deployment: Deployment) -> None:
    a, b = deployment.worker("A"), deployment.worker("B")
    person = Person()

    first = person.chat(a, "a comedy from the 90s, nothing longer than two hours")
    assert_comedies_within_two_hours(first)
    assert all(1990 <= card["year"] <= 1999 for card in first["items"]), titles(first)
    liked = first["items"][0]
    assert liked["id"] in person.feedback(a, liked["id"], "like")["liked"]

    second = person.chat(b, "something older instead")  # B answers A's conversation
    assert second["session_id"] == first["session_id"]
    assert_comedies_within_two_hours(second)  # the runtime bound and the genre said on A still hold on B
    oldest_first = min(card["year"] for card in first["items"])
    assert all(card["year"] < oldest_first for card in second["items"]), (titles(first), titles(second))
    assert not set(person.shown[:5]) & {card["id"] for card in second["items"]}  # turn 1's cards never again
    assert liked["title"] in second["understood"]["liked"]  # the like acknowledged by A, seen by B

    disliked = second["items"][0]
    assert disliked["id"] in person.feedback(b, disliked["id"], "dislike")["disliked"]

    third = person.chat(a, "show me more")  # back on A: B's dislike and A's like are both remembered
    assert_comedies_within_two_hours(third)
    assert liked["title"] in third["understood"]["liked"]
    assert disliked["title"] in third["understood"]["disliked"]
    assert not set(person.shown[:10]) & {card["id"] for card in third["items"]}

    summary = httpx.get(f"{b.url}/api/profile/{person.profile_id}", headers=person.headers(), timeout=30).json()
    assert summary["liked"] == [liked["id"]] and summary["counts"]["turns"] == 3, summary
    export = httpx.get(f"{a.url}/api/profile/{person.profile_id}/export", headers=person.headers(), timeout=30)
    assert export.status_code == 200, export.text
    (session,) = export.json()["sessions"]
    assert [t["user_message"] for t in session["turns"]] == [
        "a comedy from the 90s, nothing longer than two hours", "something older instead", "show me more"]
    signals = {(f["item_id"], f["signal"]) for f in export.json()["feedback"]}
    assert signals == {(liked["id"], "like"), (disliked["id"], "dislike")}, signals


def test_a_like_acknowledged_while_another_worker_answers_stays_in_the_conversation(deployment: Deployment) -> None:
    a, b = deployment.worker("A"), deployment.worker("B")
    person = Person()
    first = person.chat(a, "a comedy from the 90s, nothing longer than two hours")
    liked = first["items"][1]
    with httpx.Client(timeout=TURN_TIMEOUT_S) as client, \
            client.stream("POST", f"{a.url}/api/chat/stream", json=person.body("something older instead"),
                          headers=person.headers()) as stream:
        sse = iter_sse(stream.iter_lines())
        assert next(kind for kind, _ in sse if kind in ("items", "done", "error")) == "items"
        assert liked["id"] in person.feedback(b, liked["id"], "like")["liked"]  # B acknowledges while A answers
        assert [kind for kind, _ in sse][-1] == "done"
    stored = deployment.query("SELECT item_id FROM feedback WHERE session_id = %s AND signal = 'like'",
                              (person.session_id,))
    assert stored == [(liked["id"],)]  # the row is in PostgreSQL ...
    nxt = person.chat(b, "show me more")
    assert liked["title"] in nxt["understood"]["liked"], nxt["understood"]  # ... but the conversation forgot it


# ------------------------------------------------------------------------------------------ 2. SIGKILL mid-turn
def test_a_worker_killed_mid_turn_loses_no_acknowledged_like(deployment: Deployment) -> None:
    a, b = deployment.worker("A"), deployment.worker("B")
    person = Person()
    first = person.chat(a, "a comedy from the 90s, nothing longer than two hours")
    acknowledged: list[str] = []
    events: list[str] = []
    with httpx.Client(timeout=TURN_TIMEOUT_S) as client, \
            client.stream("POST", f"{a.url}/api/chat/stream", json=person.body("something older instead"),
                          headers=person.headers()) as stream:
        assert stream.status_code == 200
        sse = iter_sse(stream.iter_lines())  # one reader of the stream, before and after the kill
        for kind, _ in sse:
            events.append(kind)
            if kind in ("items", "done", "error"):
                break
        assert events[-1] == "items", events  # the cards are out, the notes are still being written
        for card in first["items"][:3]:
            assert card["id"] in person.feedback(a, card["id"], "like")["liked"]
            acknowledged.append(card["id"])
        a.server.kill(signal.SIGKILL)  # the stream is still open: the turn dies with the worker
        with pytest.raises(httpx.HTTPError):
            for kind, _ in sse:
                events.append(kind)
    assert "done" not in events, events

    assert len(acknowledged) == 3
    stored = deployment.query("SELECT item_id FROM feedback WHERE session_id = %s AND signal = 'like' ORDER BY seq",
                              (person.session_id,))
    assert [row[0] for row in stored] == acknowledged  # every like A acknowledged is in PostgreSQL

    nxt = person.chat(b, "show me more")  # B carries on the conversation A was answering
    assert nxt["session_id"] == first["session_id"]
    assert_comedies_within_two_hours(nxt)
    liked_titles = {card["title"] for card in first["items"][:3]}
    assert liked_titles <= set(nxt["understood"]["liked"]), nxt["understood"]
    assert not {card["id"] for card in first["items"]} & {card["id"] for card in nxt["items"]}


# ------------------------------------------------------------------------------------------ 3. bad input
def test_a_worker_without_its_database_stops_with_the_masked_url(deployment: Deployment) -> None:
    password = "S3cret-not-for-logs"
    port = free_port()  # nothing listens there: PostgreSQL is down
    url = f"postgresql://{APP_USER}:{password}@127.0.0.1:{port}/tastebud"
    env = {**deployment.env, "TASTEBUD_DATABASE_URL": url}
    server = ServerProcess("worker without database", [str(BIN / "tastebud"), "serve", "--port", str(free_port())],
                           deployment.logs / "worker-no-db.log", env)
    try:
        server.wait_until(lambda: not server.alive, REFUSED_START_S)
    finally:
        server.kill()
    said = server.log()
    assert server.proc.returncode not in (0, None), said
    assert f"postgresql://{APP_USER}:***@127.0.0.1:{port}/tastebud" in said, said
    assert "is PostgreSQL running" in said and password not in said and "Traceback" not in said, said


def test_with_the_llm_server_down_a_turn_still_answers_with_cards_and_says_so(deployment: Deployment) -> None:
    b = deployment.worker("B")
    deployment.llm.stop()
    person = Person()
    started = time.monotonic()
    done = person.chat(b, "a bittersweet comedy about a heist gone wrong, nothing longer than two hours")
    assert time.monotonic() - started < 60
    assert len(done["items"]) == 5 and all(card["note"] for card in done["items"]), done["reply"]
    assert "went by your words alone" in " ".join(done["understood"]["notes"]), done["understood"]
    assert done["understood"]["understanding"] == "rules"
    assert all(card["runtime_min"] <= 120 for card in done["items"])
