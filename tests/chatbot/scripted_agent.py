"""A small scripted agent with the real Agent's doors (respond / feedback / remove_slot / new_session).

It answers from a tiny fixed catalog by keyword, keeps sessions, turns and feedback in a REAL ProfileStore
(so profile routes and forget-me are exercised for real), and yields the real typed ReplyEvents
(chatbot.turn.events) in the same order as chatbot.turn.agent: understood, items, note*, done — or error. Likes move the liked item's genre
to the front of the next answer, so "a like changes the next answer" can be tested through every door.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from chatbot.turn.agent import UnknownItem
from chatbot.turn.events import (
    Card, Done, ErrorEvent, Items, NoteDelta, NoteFinal, ReplyEvent, Timings, Understood, WeatherShown, to_wire,
)
from chatbot.profiles import ProfileStore
from chatbot.profile_schema import UnknownSession
from retrieval.errors import LLMError, TastebudError

XSS_TITLE = "<img src=x onerror=alert(1)>"
TEMPLATE_TITLE = "${alert(2)} {{value}}"

CATALOG: tuple[dict[str, Any], ...] = (
    {"id": "ml:1", "title": "Heat", "year": 1995, "genres": ["Action", "Crime"], "age_rating": "R", "runtime_min": 170},
    {"id": "ml:2", "title": "Up", "year": 2009, "genres": ["Animation", "Children"], "age_rating": "PG", "runtime_min": 96},
    {"id": "ml:3", "title": "Airplane!", "year": 1980, "genres": ["Comedy"], "age_rating": "PG", "runtime_min": 88},
    {"id": "ml:4", "title": XSS_TITLE, "year": 2001, "genres": ["Horror"], "age_rating": "R", "runtime_min": 90},
    {"id": "ml:5", "title": "Toy Story", "year": 1995, "genres": ["Animation", "Children", "Comedy"],
     "age_rating": "G", "runtime_min": 81},
    {"id": "ml:6", "title": "Alien", "year": 1979, "genres": ["Horror", "Sci-Fi"], "age_rating": "R", "runtime_min": 117},
    {"id": "ml:7", "title": "Groundhog Day", "year": 1993, "genres": ["Comedy", "Romance"], "age_rating": "PG",
     "runtime_min": 101},
    {"id": "ml:8", "title": TEMPLATE_TITLE, "year": 2010, "genres": ["Drama"], "age_rating": "PG-13", "runtime_min": 99},
    {"id": "ml:9", "title": "Casablanca", "year": 1942, "genres": ["Drama", "Romance"], "age_rating": "PG",
     "runtime_min": 102},
    {"id": "ml:10", "title": "The Thing", "year": 1982, "genres": ["Horror", "Sci-Fi"], "age_rating": "R",
     "runtime_min": 109},
    {"id": "ml:11", "title": "Paddington", "year": 2014, "genres": ["Children", "Comedy"], "age_rating": "PG",
     "runtime_min": 95},
    {"id": "ml:12", "title": "Ronin", "year": 1998, "genres": ["Action", "Crime", "Thriller"], "age_rating": "R",
     "runtime_min": 122},
)
GENRE_WORDS = {"comedy": "Comedy", "funny": "Comedy", "horror": "Horror", "scary": "Horror", "action": "Action",
               "drama": "Drama", "romance": "Romance", "romantic": "Romance", "animation": "Animation",
               "sci-fi": "Sci-Fi", "crime": "Crime", "thriller": "Thriller", "children": "Children"}
CITIES = ("Seattle", "Paris", "Tokyo", "Berlin", "Madrid", "Rome", "Lisbon", "Dublin", "Oslo", "Vienna",
          "Prague", "Warsaw", "Athens", "Cairo", "Nairobi", "Lagos", "Mumbai", "Delhi", "Beijing", "Shanghai",
          "Seoul", "Sydney", "Auckland", "Toronto", "Chicago", "Boston", "Denver", "Austin", "Miami", "Lima",
          "Santiago", "Havana")


@dataclass
class _Session:
    """In-memory slots of one scripted conversation."""

    profile_id: str
    genres: list[str] = field(default_factory=list)
    companions: list[str] = field(default_factory=list)
    place: str | None = None
    weather: str | None = None
    shown: list[str] = field(default_factory=list)


class ScriptedAgent:
    """The Agent's doors over a fixed catalog; `delay_s` per event simulates the LLM's pace."""

    def __init__(self, profiles: ProfileStore, delay_s: float = 0.0, n_items: int = 3) -> None:
        self.profiles = profiles
        self.delay_s = delay_s
        self.n_items = n_items
        self.items = {it["id"]: it for it in CATALOG}
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self.running = 0  # turns running right now (the queue keeps this at most its max_running)
        self.max_running = 0

    def new_session(self, profile_id: str | None = None) -> str:
        """Start a conversation (and a profile when none is given)."""
        profile_id = self.profiles.ensure_profile(profile_id)
        session_id = self.profiles.new_session(profile_id)
        with self._lock:
            self._sessions[session_id] = _Session(profile_id)
        return session_id

    def _session(self, session_id: str) -> _Session:
        """The slots of a known session, or UnknownSession."""
        with self._lock:
            found = self._sessions.get(session_id)
        if found is None:
            raise UnknownSession(f"no conversation with id {session_id!r}")
        return found

    def understood(self, s: _Session) -> Understood:
        """The `understood` payload, the same type as chatbot.turn.agent's."""
        rules = ["rainy evening: cosy picks"] if s.weather == "rain" else []
        if "kids" in s.companions:
            rules.append("kids watching: nothing rated above PG")
        filters: dict[str, Any] = {"genres_any": list(s.genres)} if s.genres else {}
        if "kids" in s.companions:
            filters["max_age_rating"] = "PG"
        return Understood(
            intent="recommend", location=s.place, unknown_place=None,
            weather=WeatherShown(s.weather, "stated" if s.weather else None, None),
            local_time=None, part_of_day=None, companions=tuple(s.companions), mood=None,
            occasion=None, filters=filters, wishes=(), liked=(), disliked=(),
            rules_fired=tuple(rules), notes=(), understanding="rules",
        )

    def respond(self, session_id: str | None, message: str, profile_id: str | None = None) -> Iterator[ReplyEvent]:
        """One scripted turn: understood, items, note deltas, done (or error when the message says FAIL).

        RAISE raises an LLMError, CRASH a RuntimeError; a turn that cannot be saved yields error then done, as the
        real agent does.
        """
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            yield from self._respond(session_id, message, profile_id)
        finally:
            with self._lock:
                self.running -= 1

    def _respond(self, session_id: str | None, message: str, profile_id: str | None) -> Iterator[ReplyEvent]:
        """The turn itself."""
        started = time.perf_counter()
        if session_id is None:
            session_id = self.new_session(profile_id)
        s = self._session(session_id)
        if "RAISE" in message:
            raise LLMError("the language model stopped answering (scripted failure)")
        if "CRASH" in message:  # a bug, not a TastebudError; its text names a server path
            where = getattr(self.profiles, "path", "/srv/tastebud/profiles.sqlite")
            raise RuntimeError(f"scripted crash reading {where}")
        if "FAIL" in message:
            yield ReplyEvent.of(ErrorEvent("the language model did not answer in time; please try again"))
            return
        low = message.lower()
        for word, genre in GENRE_WORDS.items():
            if word in low and genre not in s.genres:
                s.genres.append(genre)
        if "kids" in low and "kids" not in s.companions:
            s.companions.append("kids")
        for city in CITIES:
            if city.lower() in low:
                s.place = city
        if "rain" in low:
            s.weather = "rain"
        understood = self.understood(s)
        self._pause()
        yield ReplyEvent.of(understood)
        cards = self._pick(s)
        self._pause()
        yield ReplyEvent.of(Items(tuple(cards)))
        notes = []
        for n, card in enumerate(cards, 1):
            note = f"A {', '.join(card.genres).lower()} pick from {card.year}."
            for delta in (note[: len(note) // 2], note[len(note) // 2:]):
                self._pause()
                yield ReplyEvent.of(NoteDelta(n, delta))
            yield ReplyEvent.of(NoteFinal(n, note))  # the checked note, as chatbot.turn.agent sends
            notes.append(note)
        s.shown.extend(c.id for c in cards)
        items = tuple(replace(c, note=note) for c, note in zip(cards, notes))
        reply = f"Here are {len(items)} ideas" + (f" for {s.place}" if s.place else "") + "."
        try:
            self.profiles.record_turn_and_state(session_id, message, reply, [to_wire(c) for c in items],
                                                json.dumps(to_wire(understood)))
        except TastebudError as exc:  # as chatbot.turn.agent's remember step: answered, then told it was not saved
            yield ReplyEvent.of(ErrorEvent(f"I answered, but could not save this turn: {exc}"))
        total_ms = round((time.perf_counter() - started) * 1000.0, 1)
        yield ReplyEvent.of(Done(session_id=session_id, profile_id=s.profile_id, reply=reply, language="en",
                                 understood=understood, items=items,
                                 timings=Timings(0.0, 0.0, 0.0, 0.0, total_ms)))

    def _pause(self) -> None:
        """Simulated model time."""
        if self.delay_s:
            time.sleep(self.delay_s)

    def _pick(self, s: _Session) -> list[Card]:
        """Items matching the wanted genres, liked genres first, never disliked or already shown."""
        liked = self.profiles.liked(s.profile_id)
        disliked = set(self.profiles.disliked(s.profile_id))
        liked_genres = {g for i in liked if i in self.items for g in self.items[i]["genres"]}
        pool = [it for it in CATALOG if it["id"] not in disliked and it["id"] not in s.shown and it["id"] not in liked]
        if s.genres:
            pool = [it for it in pool if set(it["genres"]) & set(s.genres)] or pool
        if "kids" in s.companions:
            pool = [it for it in pool if it["age_rating"] in ("G", "PG")]
        pool.sort(key=lambda it: -len(set(it["genres"]) & liked_genres))
        return [Card(id=it["id"], title=it["title"], year=it["year"], genres=tuple(it["genres"]),
                     age_rating=it["age_rating"], runtime_min=it["runtime_min"],
                     why=tuple(f"matches {g}" for g in it["genres"] if g in s.genres) or ("popular pick",))
                for it in pool[: self.n_items]]

    def feedback(self, session_id: str, item_id: str, signal: str) -> dict[str, Any]:
        """Record like / dislike / seen for an item shown in this session."""
        s = self._session(session_id)
        if item_id not in s.shown:
            raise UnknownItem(f"item {item_id!r} was not shown in this conversation")
        self.profiles.add_feedback(s.profile_id, session_id, item_id, signal)
        return {"ok": True, "item_id": item_id, "signal": signal,
                "liked": self.profiles.liked(s.profile_id), "disliked": self.profiles.disliked(s.profile_id)}

    def remove_slot(self, session_id: str, slot: str, value: str | None) -> dict[str, Any]:  # the wire dict
        """Drop one understood value (e.g. companions: kids) and return the new understood object."""
        s = self._session(session_id)
        if slot in ("genres", "companions"):
            current = getattr(s, slot)
            setattr(s, slot, [] if value is None else [v for v in current if v != value])
        elif slot in ("place", "weather"):
            setattr(s, slot, None)
        else:
            raise TastebudError(f"unknown slot {slot!r}")
        return to_wire(self.understood(s))
