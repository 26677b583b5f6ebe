"""`tastebud bench serve`: many concurrent conversations over real HTTP against the real app, vs a baseline.

The app runs in this process under uvicorn on 127.0.0.1 (a free port). N sessions talk at once over
`/api/chat/stream` (two turns each, then one like), bounded in count and by a global deadline. Each
session carries its own markers (a city and a genre), so cross-talk shows: a session must only ever get
its own session id back, never another session's city in what was understood or replied, and its state
(its city) must carry into its second turn. The same sessions run twice over HTTP: turns side by side
(TASTEBUD_TURNS_AT_ONCE, their LLM calls behind the agent's LLM gate) and, as the baseline, one whole turn at
a time (the queue before the gate), so the table shows what a person waits for in each.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

from chatbot.config import Settings

# (city, genre as said, MovieLens genre): distinct cities so each session's marker is unique.
MARKERS: tuple[tuple[str, str, str], ...] = tuple(
    (city, word, genre) for city, (word, genre) in zip(
        ("Seattle", "Paris", "Tokyo", "Berlin", "Madrid", "Rome", "Lisbon", "Dublin", "Oslo", "Vienna", "Prague",
         "Warsaw", "Athens", "Cairo", "Nairobi", "Lagos", "Mumbai", "Delhi", "Beijing", "Shanghai", "Seoul",
         "Sydney", "Auckland", "Toronto", "Chicago", "Boston", "Denver", "Austin", "Miami", "Lima", "Santiago",
         "Havana", "Helsinki", "Stockholm", "Copenhagen", "Budapest", "Bangkok", "Manila", "Jakarta", "Istanbul"),
        [("funny", "Comedy"), ("scary", "Horror"), ("action", "Action"), ("romantic", "Romance"),
         ("sci-fi", "Sci-Fi"), ("crime", "Crime"), ("animated", "Animation"), ("documentary", "Documentary")] * 5,
    )
)


@dataclass
class TurnResult:
    """Timings and content of one turn as a client saw it."""

    ok: bool
    first_card_s: float | None = None  # request sent -> `items` event
    last_note_s: float | None = None  # request sent -> the last note's final text
    turn_s: float | None = None  # request sent -> `done` event
    busy_positions: list[int] = field(default_factory=list)
    done: dict[str, Any] | None = None
    seen_text: str = ""  # everything the session received
    state_text: str = ""  # what carries session state (understood slots, each card's "why"): the cross-talk check
    error: str | None = None


@dataclass
class SessionResult:
    """One scripted conversation: its markers, turns, feedback outcome and cross-talk findings."""

    index: int
    city: str
    genre: str
    turns: list[TurnResult] = field(default_factory=list)
    feedback_ok: bool | None = None
    violations: list[str] = field(default_factory=list)
    own_city_echoed: int = 0
    genre_hits: int = 0
    n_items: int = 0


def script_for(index: int) -> tuple[str, str, str, list[str]]:
    """(city, genre word, MovieLens genre, [turn 1, turn 2]) of session `index`."""
    city, word, genre = MARKERS[index % len(MARKERS)]
    return city, word, genre, [f"I'm in {city} tonight. Recommend something {word}.",
                               f"Something a bit shorter please, still {word}."]


def _percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation, or None when empty."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, int(round(q)) - 1))]


def stream_turn(client: Any, body: dict[str, Any], timeout_s: float) -> TurnResult:
    """POST one message to /api/chat/stream and time the `items` and `done` events."""
    import httpx

    from chatbot.doors.web.sse import iter_sse

    started = time.perf_counter()
    result = TurnResult(ok=False)
    texts: list[str] = []
    texts_by_kind: list[tuple[str, Any]] = []
    try:
        with client.stream("POST", "/api/chat/stream", json=body, timeout=httpx.Timeout(max(0.1, timeout_s))) as r:
            if r.status_code != 200:
                r.read()
                result.error = f"HTTP {r.status_code}: {r.text[:200]}"
                return result
            for kind, data in iter_sse(r.iter_lines()):
                if kind == "busy":
                    result.busy_positions.append(int(data.get("position", 0)))
                    continue
                texts.append(json.dumps(data, ensure_ascii=False))
                texts_by_kind.append((kind, data))
                if kind == "items" and result.first_card_s is None:
                    result.first_card_s = time.perf_counter() - started
                elif kind == "note" and data.get("final") is not None:
                    result.last_note_s = time.perf_counter() - started
                elif kind == "done":
                    result.turn_s = time.perf_counter() - started
                    result.done = data
                    result.ok = True
                elif kind == "error":
                    result.error = str(data.get("message"))
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.seen_text = "\n".join(texts)
    result.state_text = state_text(texts_by_kind)
    return result


def state_text(events: list[tuple[str, Any]]) -> str:
    """The session-state part of a turn's events: understood slots and each card's reasons, as JSON text.

    Catalog text (titles, notes, plots) is left out on purpose: a film may be called "Paris Is Burning"
    without any session having said Paris.
    """
    parts = []
    for kind, data in events:
        if kind == "understood":
            parts.append(json.dumps(data, ensure_ascii=False))
        elif kind in ("items", "done") and isinstance(data, dict):
            if kind == "done":
                parts.append(json.dumps(data.get("understood"), ensure_ascii=False))
            for item in data.get("items") or []:
                parts.append(json.dumps(item.get("why"), ensure_ascii=False))
    return "\n".join(parts)


def _check_cross_talk(s: SessionResult, all_cities: set[str]) -> None:
    """Record what in this session's answers belongs to another session."""
    session_ids = {t.done.get("session_id") for t in s.turns if t.done}
    if len(session_ids) > 1:
        s.violations.append(f"session {s.index}: got different session ids {sorted(map(str, session_ids))}")
    for n, t in enumerate(s.turns, 1):
        others = [c for c in all_cities - {s.city} if c in t.state_text]
        if others:
            s.violations.append(f"session {s.index} turn {n}: saw other sessions' cities {others}")
        if s.city in t.state_text:
            s.own_city_echoed += 1
        for item in (t.done or {}).get("items", []):
            s.n_items += 1
            s.genre_hits += int(s.genre in (item.get("genres") or []))


def _run_session(client: Any, index: int, deadline: float) -> SessionResult:
    """Two turns and one like for session `index`, each bounded by the global deadline."""
    city, _, genre, messages = script_for(index)
    s = SessionResult(index=index, city=city, genre=genre)
    body: dict[str, Any] = {}
    for message in messages:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            s.turns.append(TurnResult(ok=False, error="global deadline reached"))
            continue
        turn = stream_turn(client, {**body, "message": message}, remaining)
        s.turns.append(turn)
        if turn.done:
            body = {"session_id": turn.done.get("session_id"), "profile_id": turn.done.get("profile_id")}
    last = next((t.done for t in reversed(s.turns) if t.done and t.done.get("items")), None)
    if last and deadline - time.monotonic() > 0:
        r = client.post("/api/feedback", json={"session_id": last["session_id"], "item_id": last["items"][0]["id"],
                                               "signal": "like"}, timeout=max(0.1, deadline - time.monotonic()))
        s.feedback_ok = r.status_code == 200
    return s


def _summarise(name: str, sessions: list[SessionResult], wall_s: float) -> dict[str, Any]:
    """Figures of one run: errors, latency percentiles, throughput, cross-talk."""
    cities = {s.city for s in sessions}
    for s in sessions:
        _check_cross_talk(s, cities)
    turns = [t for s in sessions for t in s.turns]
    first = [t.first_card_s for t in turns if t.first_card_s is not None]
    whole = [t.turn_s for t in turns if t.turn_s is not None]
    notes = [t.last_note_s for t in turns if t.last_note_s is not None]
    ids = [s.turns[0].done.get("session_id") for s in sessions if s.turns and s.turns[0].done]
    violations = [v for s in sessions for v in s.violations]
    if len(ids) != len(set(ids)):
        violations.append("two sessions were given the same session id")
    n_items = sum(s.n_items for s in sessions)
    r = lambda v: None if v is None else round(v, 3)  # noqa: E731
    return {
        "mode": name,
        "sessions": len(sessions),
        "turns": len(turns),
        "turns_ok": sum(t.ok for t in turns),
        "errors": [t.error for t in turns if t.error][:10],
        "n_errors": sum(1 for t in turns if not t.ok),
        "first_card_p50_s": r(_percentile(first, 50)), "first_card_p95_s": r(_percentile(first, 95)),
        "last_note_p50_s": r(_percentile(notes, 50)), "last_note_p95_s": r(_percentile(notes, 95)),
        "turn_p50_s": r(_percentile(whole, 50)), "turn_p95_s": r(_percentile(whole, 95)),
        "wall_s": round(wall_s, 2),
        "turns_per_min": round(60 * len(whole) / wall_s, 2) if wall_s > 0 else None,
        "max_busy_position": max((p for t in turns for p in t.busy_positions), default=0),
        "feedback_ok": sum(1 for s in sessions if s.feedback_ok), "feedback_tried": sum(
            1 for s in sessions if s.feedback_ok is not None),
        "cross_talk_violations": violations[:20], "n_cross_talk_violations": len(violations),
        "own_city_echoed_share": round(sum(s.own_city_echoed for s in sessions) / max(1, len(turns)), 3),
        "items_with_own_genre_share": round(sum(s.genre_hits for s in sessions) / n_items, 3) if n_items else None,
    }


def run_serve_benchmark(settings: Settings, n_sessions: int = 32, agent: Any = None, deadline_s: float = 1800.0,
                        baseline: bool = True, progress: bool = True) -> dict[str, Any]:
    """Drive `n_sessions` concurrent conversations over HTTP against the real app: turns side by side, then (the
    baseline) one whole turn at a time; each run bounded by `deadline_s`."""
    from chatbot.storage.factory import open_store

    if not 1 <= n_sessions <= len(MARKERS):
        raise ValueError(f"--sessions must be between 1 and {len(MARKERS)} (one unique city per session)")
    started_all = time.monotonic()
    if agent is None:
        from chatbot.turn.agent import Agent

        agent = Agent.from_settings(settings)
    profiles = getattr(agent, "profiles", None) or open_store(settings)
    # warm-up: load every model once, so neither run pays for it
    warm_started = time.perf_counter()
    for _ in agent.respond(None, "Recommend a good drama film for tonight.", None):  # a real search: loads all
        pass
    warm_s = time.perf_counter() - warm_started
    at_once = settings.turns_at_once
    modes = [(f"side by side ({at_once} turns at once, LLM gate)", at_once)]
    if baseline:
        modes.append(("one turn at a time (baseline)", 1))
    runs = [_http_run(settings, agent, profiles, n_sessions, name, turns, deadline_s, progress)
            for name, turns in modes]
    return {"n_sessions": n_sessions, "turns_per_session": 2, "warmup_s": round(warm_s, 2),
            "agent": type(agent).__name__, "llm_slots": getattr(getattr(agent, "llm_gate", None), "slots", None),
            "runs": runs, "deadline_s": deadline_s, "total_s": round(time.monotonic() - started_all, 2)}


def _http_run(settings: Settings, agent: Any, profiles: Any, n_sessions: int, name: str, turns_at_once: int,
              deadline_s: float, progress: bool) -> dict[str, Any]:
    """One run: the app with `turns_at_once` on a free port, every session at once, summarised."""
    import httpx
    from tqdm import tqdm

    from chatbot.doors.web.api import WebLimits, create_app
    from chatbot.doors.web.server import running_app

    deadline = time.monotonic() + deadline_s
    limits = WebLimits(rate_limit="100000/minute", max_waiting=2 * n_sessions + 4, max_wait_s=deadline_s,
                       turns_at_once=turns_at_once)
    app = create_app(settings, agent=agent, profiles=profiles, limits=limits, mount_ui=True)
    results: list[SessionResult | None] = [None] * n_sessions
    bar = tqdm(total=n_sessions, desc=name, unit="session", disable=not progress)
    with running_app(app, settings) as base_url:
        limits_http = httpx.Limits(max_connections=n_sessions + 4, max_keepalive_connections=n_sessions + 4)
        # one pool for every session and no cookies: each session names its own ids in the body, like a script
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        with httpx.Client(base_url=base_url, limits=limits_http, cookies=no_cookies) as client:
            def worker(i: int) -> None:
                """Run one scripted session."""
                results[i] = _run_session(client, i, deadline)
                bar.update(1)

            t0 = time.perf_counter()
            threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n_sessions)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=max(0.1, deadline - time.monotonic() + 5))
            wall = time.perf_counter() - t0
    bar.close()
    done_sessions = [r if r is not None else SessionResult(i, *script_for(i)[0:3:2],
                                                           turns=[TurnResult(ok=False, error="did not finish")])
                     for i, r in enumerate(results)]
    return {**_summarise(name, done_sessions, wall), "turns_at_once": turns_at_once}


def format_table(report: dict[str, Any]) -> Any:
    """The benchmark as a rich Table."""
    from rich.table import Table

    table = Table(title=f"bench serve: {report['n_sessions']} sessions × {report['turns_per_session']} turns "
                        f"({report['agent']}, warm-up {report['warmup_s']} s)")
    columns = [("mode", "mode"), ("turns ok", "turns_ok"), ("errors", "n_errors"),
               ("1st card p50 s", "first_card_p50_s"), ("1st card p95 s", "first_card_p95_s"),
               ("last note p50 s", "last_note_p50_s"), ("last note p95 s", "last_note_p95_s"),
               ("turn p50 s", "turn_p50_s"), ("turn p95 s", "turn_p95_s"), ("wall s", "wall_s"),
               ("turns/min", "turns_per_min"), ("max queue pos", "max_busy_position"),
               ("likes ok", "feedback_ok"), ("cross-talk", "n_cross_talk_violations"),
               ("own genre", "items_with_own_genre_share")]
    for title, _ in columns:
        table.add_column(title, justify="left" if title == "mode" else "right")
    for run in report["runs"]:
        table.add_row(*["-" if run.get(key) is None else str(run.get(key)) for _, key in columns])
    return table
