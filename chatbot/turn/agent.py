"""The agent: one turn = understand, context, update, retrieve, rank, write, remember — streamed as ReplyEvents.

Every door (CLI, HTTP API, Gradio UI, widget, dialogue runner, simulator) calls `Agent.respond`; none holds
logic of its own. Hard constraints are enforced by code (filters before and after retrieval, exclusion of
shown and rejected items); the LLM proposes an understanding and writes notes, code checks both.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal

import numpy as np
import yaml
from jinja2 import Environment, StrictUndefined

from chatbot.config import Settings
from chatbot.turn.context.situation import (
    Place,
    Situation,
    Weather,
    WeatherProvider,
    apply_context_rules,
    choose_weather,
    local_time,
    make_weather_provider,
    part_of_day,
)
from chatbot.turn.state import DialogueState, filters_for, record_shown, remove_slot, set_live_weather, update
from retrieval.types import AGE_RATINGS, Candidate, ContextUnavailable, Filters, Item, ModelUnavailable, TastebudError

if TYPE_CHECKING:
    from chatbot.turn.notes.writer import Copywriter
    from chatbot.profiles import ProfileStore
    from chatbot.turn.understand.understander import TurnIntent, Understander
    from ranking.model import InterestScorer
    from retrieval.search import Searcher

log = logging.getLogger(__name__)

RankingMode = Literal["full", "retrieval", "popularity"]
SIGNALS = ("like", "dislike", "seen")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class ReplyEvent:
    """One streamed piece of a turn: understood, items, note, done, busy or error."""

    kind: str
    data: dict[str, Any]


@functools.lru_cache(maxsize=1)
def _replies() -> dict[str, dict[str, Any]]:
    """The reply phrases per language (chatbot/replies.yaml), compiled; every language has every key."""
    raw = yaml.safe_load(resources.files("chatbot.turn").joinpath("replies.yaml").read_text(encoding="utf-8"))
    env = Environment(undefined=StrictUndefined, autoescape=False)
    keys = set(raw["en"])
    for lang, table in raw.items():
        if set(table) != keys:
            raise TastebudError(f"chatbot/replies.yaml: language {lang!r} lacks {sorted(keys - set(table))}")
    return {lang: {k: env.from_string(v) for k, v in table.items()} for lang, table in raw.items()}


def say(key: str, language: str, **values: Any) -> str:
    """A reply phrase in the person's language (English for languages without a table)."""
    table = _replies().get(language) or _replies()["en"]
    return table[key].render(**values)


def clean_message(message: str, max_chars: int) -> tuple[str, bool]:
    """Normalise a raw message: drop control characters, collapse whitespace, truncate; (text, truncated)."""
    text = unicodedata.normalize("NFC", message or "")
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    if len(text) > max_chars:
        return text[:max_chars], True
    return text, False


def card(item: Item, why: tuple[str, ...] = (), note: str | None = None) -> dict[str, Any]:
    """The card of an item as every door shows it."""
    out: dict[str, Any] = {
        "id": item.id, "title": item.title, "year": item.year, "genres": list(item.genres),
        "age_rating": item.age_rating, "runtime_min": item.runtime_min, "why": list(why),
    }
    if note is not None:
        out["note"] = note
    return out


def _merge_filters(base: Filters, extra: Filters) -> Filters:
    """The stricter combination of two filter sets (context rules on top of the person's slots)."""
    def stricter_rating(a: str | None, b: str | None) -> str | None:
        ranks = [r for r in (a, b) if r in AGE_RATINGS]
        return min(ranks, key=AGE_RATINGS.index) if ranks else None

    def tighter(a: int | None, b: int | None, pick: Callable[..., int]) -> int | None:
        vals = [v for v in (a, b) if v is not None]
        return pick(vals) if vals else None

    wanted = tuple(g for g in base.genres_any if g not in extra.genres_none)
    return replace(
        base,
        genres_any=wanted,
        genres_none=tuple(dict.fromkeys(base.genres_none + extra.genres_none)),
        max_age_rating=stricter_rating(base.max_age_rating, extra.max_age_rating),
        runtime_max=tighter(base.runtime_max, extra.runtime_max, min),
        runtime_min=tighter(base.runtime_min, extra.runtime_min, max),
        exclude_ids=base.exclude_ids | extra.exclude_ids,
    )


def describe_filters(f: Filters) -> dict[str, Any]:
    """The hard filters as a plain dict (only the ones that are set)."""
    out: dict[str, Any] = {}
    for name in ("genres_any", "genres_none", "languages", "countries", "people"):
        if getattr(f, name):
            out[name] = list(getattr(f, name))
    for name in ("year_min", "year_max", "runtime_min", "runtime_max", "max_age_rating"):
        if getattr(f, name) is not None:
            out[name] = getattr(f, name)
    if f.exclude_ids:
        out["excluded_items"] = len(f.exclude_ids)
    return out


class Agent:
    """Turns a message and a session into a streamed answer with real catalog items."""

    def __init__(
        self,
        settings: Settings,
        *,
        searcher: Searcher,
        understander: Understander,
        copywriter: Copywriter,
        profiles: ProfileStore,
        weather: WeatherProvider,
        scorer: InterestScorer | None,
        ranking: RankingMode = "full",
        clock: Callable[[], datetime] | None = None,
        write_notes: bool = True,
    ) -> None:
        self.settings = settings
        self.searcher = searcher
        self.items: dict[str, Item] = searcher.items
        self.understander = understander
        self.copywriter = copywriter
        self.profiles = profiles
        self.weather = weather
        self.scorer = scorer
        self.ranking = ranking
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.write_notes = write_notes
        self._vector_pos = {id_: n for n, id_ in enumerate(searcher.ids)}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        weather: WeatherProvider | None = None,
        ranking: RankingMode = "full",
        llm: Any | None = None,
        profiles: ProfileStore | None = None,
        write_notes: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> Agent:
        """Open every part from the data dir (the index, the interest model, the LLM, the profile store)."""
        from chatbot.turn.context.situation import Gazetteer
        from chatbot.turn.notes.writer import Copywriter
        from chatbot.llm.models import make_chat_model, make_notes_model
        from chatbot.profiles import ProfileStore
        from chatbot.turn.understand.understander import Understander
        from retrieval.search import Searcher

        data_dir = settings.resolved_data_dir
        searcher = Searcher.open(data_dir, chroma_url=settings.chroma_url)
        notes_llm = llm  # an injected model (tests) writes the notes too
        llm = llm if llm is not None else make_chat_model(settings)
        notes_llm = notes_llm if notes_llm is not None else make_notes_model(settings, llm)
        items = list(searcher.items.values())
        gazetteer = Gazetteer()
        gazetteer.warm_up()
        understander = Understander(llm, items, gazetteer, timeout_s=settings.llm_timeout_s,
                                    llm_policy=settings.understand_llm)
        copywriter = Copywriter.from_items(notes_llm, items, timeout_s=settings.llm_timeout_s,
                                           budget_s=settings.notes_budget_s, retry=settings.notes_retry)
        scorer = None
        if ranking == "full":
            scorer = cls._open_scorer(data_dir, searcher)
        if weather is None:
            weather = make_weather_provider(settings.weather_url, settings.weather_timeout_s)
        profiles = profiles or ProfileStore.open(data_dir)
        return cls(settings, searcher=searcher, understander=understander, copywriter=copywriter,
                   profiles=profiles, weather=weather, scorer=scorer, ranking=ranking, clock=clock,
                   write_notes=write_notes)

    def warm_up(self) -> float:
        """Load the query embedder and the LLM and pre-read the stable prompt prefixes; seconds taken."""
        from chatbot.turn.context.situation import COMPANIONS
        from chatbot.llm.models import warm_up
        from prompts import load_prompt
        from retrieval.types import GENRES

        started = time.monotonic()
        self.searcher.embed_query("warm up")
        llm = self.understander.llm
        if llm is not None:
            understand = load_prompt("understand").render(genres=list(GENRES), companions=list(COMPANIONS),
                                                          message="hello")
            warm_up(llm, [understand])
        if self.copywriter.llm is not None:  # the notes prompt's fixed prefix, in both languages
            notes = [load_prompt("notes").render(sheets=[], language=lang) for lang in ("zh", "en")]
            warm_up(self.copywriter.llm, notes)
        return time.monotonic() - started

    def prepare(self) -> str | None:
        """`warm_up` before the first person's turn (so their notes don't pay for loading the LLM); None when done,
        else what could not load, in words (the turns then answer without that part, as they would anyway)."""
        try:
            self.warm_up()
        except TastebudError as exc:
            return str(exc)
        return None

    @staticmethod
    def _open_scorer(data_dir: Path, searcher: Searcher) -> InterestScorer | None:
        """The interest model for this catalog, or None (said in the reply) when it is not trained."""
        from ranking.model import InterestScorer

        try:
            return InterestScorer.load(data_dir, searcher.ids, searcher.vectors, searcher.embed_query)
        except ModelUnavailable as exc:
            log.warning("interest model unavailable: %s", exc)
            return None

    # ------------------------------------------------------------------ sessions
    def new_session(self, profile_id: str | None = None) -> str:
        """A new conversation for a (possibly new) profile; returns its session id."""
        profile_id = self.profiles.ensure_profile(profile_id)
        session_id = self.profiles.new_session(profile_id)
        self.profiles.save_session_state(session_id, _state_json(DialogueState()))
        return session_id

    def _open_session(self, session_id: str | None, profile_id: str | None) -> tuple[str, str, DialogueState]:
        """(session_id, profile_id, state): an existing session keeps its own profile; otherwise a new one."""
        if session_id:
            owner = self.profiles.session_profile(session_id)
            if owner is not None:
                raw = self.profiles.load_session_state(session_id)
                return session_id, owner, _state_from_json(raw)
        profile_id = self.profiles.ensure_profile(profile_id)
        session_id = self.profiles.new_session(profile_id)
        return session_id, profile_id, DialogueState()

    def load_state(self, session_id: str) -> DialogueState:
        """The saved state of a session (TastebudError for an unknown session)."""
        if self.profiles.session_profile(session_id) is None:
            raise TastebudError("unknown session: start a new conversation")
        return _state_from_json(self.profiles.load_session_state(session_id))

    # ------------------------------------------------------------------ the turn
    def respond(self, session_id: str | None, message: str, profile_id: str | None = None) -> Iterator[ReplyEvent]:
        """One turn: understood, items (cards before notes), note deltas, done. Never loses the session."""
        started = time.monotonic()
        session_id, profile_id, state = self._open_session(session_id, profile_id)
        timings: dict[str, float] = {}
        text, truncated = clean_message(message, self.settings.max_message_chars)
        notices: list[str] = []
        if not text:
            language = state.language
            reply = say("empty_message", language)
            yield from self._finish(session_id, profile_id, state, message, reply, [],
                                    self._understood(state, None, [], []), timings, started, language)
            return
        t = time.monotonic()
        intent = self.understander.understand(text, state)
        timings["understand_ms"] = _ms(t)
        language = intent.language if intent.language in ("en", "zh") else "en"
        if truncated:
            notices.append(say("truncated", language, chars=self.settings.max_message_chars))
        if intent.llm_error:
            log.info("understanding fell back to rules: %s", intent.llm_error)

        intent = self._people_backstop(text, intent)
        new_state = update(state, intent)
        new_state, situation, context_notes = self._situation(new_state, intent, language)
        notices.extend(context_notes)
        rules = apply_context_rules(situation)
        understood = self._understood(new_state, intent, rules.fired, notices, rules)
        yield ReplyEvent("understood", understood)

        kind = intent.intent
        prefix: list[str] = []
        if intent.injection:
            prefix.append(say("injection", language))
        if kind == "ask_about_item":
            yield from self._describe(session_id, profile_id, new_state, message, intent, understood,
                                      timings, started, language, notices + prefix)
            return
        searchable = self._has_request(new_state, rules)
        if kind == "reset" and not searchable:
            reply = " ".join(prefix + [say("reset_only", language)] + notices)
            yield from self._finish(session_id, profile_id, new_state, message, reply, [], understood,
                                    timings, started, language)
            return
        if not searchable:
            key = "chitchat" if kind == "chitchat" or intent.injection else "clarify"
            reply = " ".join(prefix + notices + [say(key, language)])
            understood["clarifying_question"] = True  # both replies ask the person what they would like
            yield from self._finish(session_id, profile_id, new_state, message, reply, [], understood,
                                    timings, started, language)
            return

        # retrieve
        t = time.monotonic()
        filters = _merge_filters(filters_for(new_state), rules.filters)
        # films the saved profile liked, disliked or has seen are never recommended again
        seen_before = set(self.profiles.liked(profile_id)) | set(self.profiles.disliked(profile_id)) \
            | set(self.profiles.seen(profile_id))
        filters = replace(filters, exclude_ids=filters.exclude_ids | frozenset(seen_before))
        query = self._query_text(new_state, rules)
        candidates = self.searcher.search(query, filters, k=self.settings.n_candidates)
        timings["retrieve_ms"] = _ms(t)
        if not candidates:
            constraints = ", ".join(f"{k}={v}" for k, v in describe_filters(filters).items() if k != "excluded_items")
            reply = " ".join(prefix + notices + [say("no_match", language, constraints=constraints or query)])
            yield from self._finish(session_id, profile_id, new_state, message, reply, [], understood,
                                    timings, started, language)
            return

        # rank
        t = time.monotonic()
        ranked, reasons, rank_note = self._rank(candidates, new_state, profile_id, query, rules, filters)
        timings["rank_ms"] = _ms(t)
        if rank_note:
            notices.append(say(rank_note, language))
        cards = [card(item, _chips(reasons[item.id])) for item in ranked]
        timings["first_card_ms"] = _ms(started)
        yield ReplyEvent("items", {"items": cards})

        # write
        notes, why = yield from self._notes(ranked, reasons, language)
        for c in cards:
            c["note"] = notes.get(c["id"], "")
            c["why"] = list(why.get(c["id"], c["why"]))
        intro_key = {"refine": "intro_refine", "more_like": "intro_more_like", "feedback": "intro_after_feedback",
                     "reset": "intro_reset"}.get(kind, "intro_recommend")
        lines = [" ".join(prefix + notices + [say(intro_key, language, n=len(cards))])]
        for n, c in enumerate(cards, 1):
            year = f" ({c['year']})" if c["year"] else ""
            lines.append(f"{n}. {c['title']}{year}: {c['note']}")
        lines.append(say("outro", language))
        final_state = record_shown(new_state, [c["id"] for c in cards])
        yield from self._finish(session_id, profile_id, final_state, message, "\n".join(lines), cards,
                                understood, timings, started, language)

    # ------------------------------------------------------------------ steps
    def _people_backstop(self, text: str, intent: TurnIntent) -> TurnIntent:
        """Full names of catalog people in the message become the people slot when understanding found none."""
        if intent.people or intent.intent in ("ask_about_item", "reset", "chitchat") or intent.injection:
            return intent
        spelled = self.searcher.people_named(text)
        if not spelled:
            return intent
        notes = list(intent.notes) + [f"looking for films with {', '.join(spelled)}"]
        return intent.model_copy(update={"people": spelled, "notes": notes})

    def _situation(self, state: DialogueState, intent: TurnIntent, language: str
                   ) -> tuple[DialogueState, Situation, list[str]]:
        """Place, weather (stated wins over live), local time and part of day; notes for what failed."""
        notes: list[str] = []
        ctx = state.context
        place = None
        if ctx.place and ctx.lat is not None and ctx.timezone:
            place = Place(ctx.place, ctx.country_code or "", ctx.lat, ctx.lon or 0.0, ctx.timezone)
        if intent.unknown_place:
            notes.append(say("unknown_place", language, place=intent.unknown_place))
        stated = None
        if ctx.weather and ctx.weather_source == "stated":
            stated = Weather(ctx.weather, ctx.temperature_c, "stated")
        weather = stated
        if stated is None and place is not None:
            if ctx.weather_source == "live" and ctx.weather and not intent.place:
                weather = Weather(ctx.weather, ctx.temperature_c, "live")
            else:
                choice = choose_weather(None, place, self.weather)
                weather = choice.weather
                if weather is not None:
                    state = set_live_weather(state, weather.condition, weather.temperature_c)
                elif choice.note:
                    notes.append(say("weather_down", language, place=place.name))
        pod = ctx.part_of_day
        if pod is None and place is not None:
            try:
                pod = part_of_day(local_time(place, self.clock()))
            except ContextUnavailable:
                pod = None
        situation = Situation(place=place, weather=weather, part_of_day=pod, companions=ctx.companions,
                              mood=ctx.mood, occasion=ctx.occasion)
        return state, situation, notes

    @staticmethod
    def _has_request(state: DialogueState, rules: Any) -> bool:
        """True when there is enough to search on (a wish, a genre, a person, a seed film, a filter or context)."""
        ctx = state.context
        return bool(
            state.wishes or state.genres or state.people or state.seed_ids or state.liked_ids
            or state.languages or state.countries or state.year_min or state.year_max
            or state.runtime_max or state.max_age_rating or state.genres_excluded
            or ctx.companions or ctx.mood or ctx.occasion or rules.wishes or rules.leanings
        )

    def _query_text(self, state: DialogueState, rules: Any) -> str:
        """The soft wishes as retrieval text: the person's wishes, genres, people, seed films and context words."""
        parts: list[str] = list(state.wishes)
        parts += list(state.genres)
        parts += list(state.people)
        for seed in state.seed_ids[-2:]:
            item = self.items.get(seed)
            if item is not None:
                parts.append(f"{' '.join(item.genres)} {item.plot or ''} {' '.join(item.directors)}".strip())
        parts += list(rules.wishes) + list(rules.leanings)
        text = " ".join(p for p in parts if p).strip()
        return text[:1000]

    def _profile_ids(self, state: DialogueState, profile_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Liked and disliked ids: this session's and the saved profile's (the session wins)."""
        saved_liked = tuple(self.profiles.liked(profile_id))
        saved_disliked = tuple(self.profiles.disliked(profile_id))
        disliked = tuple(dict.fromkeys(saved_disliked + state.disliked_ids))
        liked = tuple(i for i in dict.fromkeys(saved_liked + state.liked_ids + state.seed_ids) if i not in disliked)
        return liked, disliked

    def _rank(self, candidates: list[Candidate], state: DialogueState, profile_id: str, query: str, rules: Any,
              filters: Filters) -> tuple[list[Item], dict[str, list[str]], str | None]:
        """Blend relevance, interest and popularity, diversify with MMR, keep N; plus the reasons per item."""
        from ranking.rerank import Weights, rerank

        liked, disliked = self._profile_ids(state, profile_id)
        ids = [c.item.id for c in candidates]
        interest = None
        note = None
        if self.ranking == "full":
            if self.scorer is None:
                note = "no_interest_model"
            else:
                from ranking.model import Profile

                interest = self.scorer.score(Profile(liked=liked, disliked=disliked, text=query), ids)
        weights = Weights(relevance=self.settings.w_relevance, interest=self.settings.w_interest,
                                popularity=self.settings.w_popularity)
        if self.ranking == "retrieval":
            weights = Weights(relevance=1.0, interest=0.0, popularity=0.0)
        elif self.ranking == "popularity":
            weights = Weights(relevance=0.0, interest=0.0, popularity=1.0)
        vectors = self.searcher.vectors[[self._vector_pos[i] for i in ids]]
        lam = self.settings.mmr_lambda if self.ranking == "full" else 1.0
        ranked = rerank(candidates, interest, vectors, weights=weights, mmr_lambda=lam, n=self.settings.n_items,
                        exclude_ids=filters.exclude_ids)
        items = [r.item for r in ranked]
        reasons = {it.id: self._reasons(it, state, rules, liked) for it in items}
        return items, reasons, note

    def _reasons(self, item: Item, state: DialogueState, rules: Any, liked: tuple[str, ...]) -> list[str]:
        """Short English reasons an item fits: matched genres and wishes, context rules, a liked film it resembles."""
        reasons: list[str] = []
        matched = [g for g in item.genres if g in state.genres]
        if matched:
            reasons.append(f"{', '.join(matched)} as you asked")
        if state.people:
            people = [p for p in item.people if p in state.people]
            if people:
                reasons.append(f"with {', '.join(people[:2])}")
        if state.wishes:
            reasons.append(f"you asked for: {state.wishes[-1]}")
        for fired in rules.fired[:2]:
            reasons.append(fired)
        similar = self._most_similar_liked(item, liked)
        if similar is not None:
            reasons.append(f"like {similar.title}, which you liked")
        return reasons

    def _most_similar_liked(self, item: Item, liked: tuple[str, ...]) -> Item | None:
        """The liked film closest to this item by content (cosine ≥ 0.5), if any."""
        pos = [self._vector_pos[i] for i in liked[-20:] if i in self._vector_pos]
        if not pos or item.id not in self._vector_pos:
            return None
        sims = self.searcher.vectors[pos] @ self.searcher.vectors[self._vector_pos[item.id]]
        best = int(np.argmax(sims))
        return self.items[self.searcher.ids[pos[best]]] if sims[best] >= 0.5 else None

    def _notes(self, items: list[Item], reasons: dict[str, list[str]], language: str
               ) -> Iterator[ReplyEvent]:
        """Stream note deltas; returns ({item_id: final checked note}, {item_id: why chips})."""
        from chatbot.turn.notes.writer import NoteDelta, NoteDone, NoteRequest, template_note, why_chips

        why: dict[str, tuple[str, ...]] = {}
        final: dict[str, str] = {}
        if not self.write_notes:
            for it in items:
                final[it.id] = template_note(it, reasons[it.id], language)
                why[it.id] = why_chips(reasons[it.id])
            return final, why
        requests = [NoteRequest(it, tuple(reasons[it.id])) for it in items]
        for event in self.copywriter.write_notes_stream(requests, language):
            if isinstance(event, NoteDelta):
                yield ReplyEvent("note", {"position": event.position + 1, "delta": event.text_delta})
            elif isinstance(event, NoteDone):
                it = items[event.position]
                final[it.id] = event.note.text
                why[it.id] = event.note.why
                yield ReplyEvent("note", {"position": event.position + 1, "final": event.note.text})
        return final, why

    def _describe(self, session_id: str, profile_id: str, state: DialogueState, message: str,
                  intent: TurnIntent, understood: dict[str, Any], timings: dict[str, float], started: float,
                  language: str, prefix: list[str]) -> Iterator[ReplyEvent]:
        """"Tell me more about the second one": answered from the catalog facts of that item."""
        target = (intent.referenced_ids or intent.mentioned_ids or ([state.focus_id] if state.focus_id else []))
        item = self.items.get(target[0]) if target else None
        if item is None:
            reply = " ".join(prefix + [say("no_item_referenced", language)])
            yield from self._finish(session_id, profile_id, state, message, reply, [], understood, timings,
                                    started, language)
            return
        text = self.copywriter.describe_item(item, language)
        reply = " ".join(prefix + [text])
        yield from self._finish(session_id, profile_id, state, message, reply, [], understood, timings,
                                started, language, about=card(item))

    def _finish(self, session_id: str, profile_id: str, state: DialogueState, message: str,
                reply: str, cards: list[dict[str, Any]], understood: dict[str, Any], timings: dict[str, float],
                started: float, language: str, about: dict[str, Any] | None = None) -> Iterator[ReplyEvent]:
        """Persist the turn and its state together, then the `done` event with the whole answer."""
        timings.setdefault("understand_ms", 0.0)
        timings.setdefault("retrieve_ms", 0.0)
        timings.setdefault("rank_ms", 0.0)
        timings.setdefault("first_card_ms", _ms(started) if cards else 0.0)
        timings["total_ms"] = _ms(started)
        try:
            self.profiles.record_turn_and_state(session_id, message[:10_000], reply, cards, _state_json(state))
        except TastebudError as exc:
            log.error("could not save the turn: %s", exc)
            yield ReplyEvent("error", {"message": f"I answered, but could not save this turn: {exc}"})
        done = {
            "session_id": session_id, "profile_id": profile_id, "reply": reply, "language": language,
            "understood": understood, "items": cards, "timings": {k: round(v, 1) for k, v in timings.items()},
        }
        if about is not None:
            done["about_item"] = about
        yield ReplyEvent("done", done)

    # ------------------------------------------------------------------ what I understood
    def _understood(self, state: DialogueState, intent: TurnIntent | None, fired: list[str], notices: list[str],
                    rules: Any | None = None) -> dict[str, Any]:
        """The `understood` object: intent, place, weather and its source, local time, slots, filters, rules."""
        ctx = state.context
        local = None
        if ctx.timezone and ctx.place:
            try:
                local = local_time(Place(ctx.place, ctx.country_code or "", ctx.lat or 0.0, ctx.lon or 0.0,
                                         ctx.timezone), self.clock()).strftime("%Y-%m-%d %H:%M")
            except ContextUnavailable:
                local = None
        filters = filters_for(state)
        if rules is not None:
            filters = _merge_filters(filters, rules.filters)
        liked = [self.items[i].title for i in state.liked_ids + state.seed_ids if i in self.items]
        disliked = [self.items[i].title for i in state.disliked_ids if i in self.items]
        return {
            "intent": intent.intent if intent else None,
            "location": ctx.place,
            "unknown_place": ctx.unknown_place,
            "weather": {"condition": ctx.weather, "source": ctx.weather_source, "temperature_c": ctx.temperature_c},
            "local_time": local,
            "part_of_day": ctx.part_of_day,
            "companions": list(ctx.companions),
            "mood": ctx.mood,
            "occasion": ctx.occasion,
            "filters": describe_filters(filters),
            "wishes": list(state.wishes),
            "liked": liked,
            "disliked": disliked,
            "rules_fired": list(fired),
            "notes": list(intent.notes if intent else []) + list(notices),
            "understanding": intent.source if intent else None,
        }

    # ------------------------------------------------------------------ feedback and slots
    def feedback(self, session_id: str, item_id: str, signal: str) -> dict[str, Any]:
        """Record like / dislike / seen for an item shown in this session; the next answer uses it."""
        if signal not in SIGNALS:
            raise TastebudError(f"signal must be one of {', '.join(SIGNALS)}, not {signal!r}")
        state = self.load_state(session_id)
        if item_id not in state.all_shown:
            raise UnknownItem(f"item {item_id!r} was not shown in this conversation")
        profile_id = self.profiles.session_profile(session_id)
        self.profiles.add_feedback(profile_id, session_id, item_id, signal)
        liked = tuple(i for i in state.liked_ids if i != item_id)
        disliked = tuple(i for i in state.disliked_ids if i != item_id)
        rejected = state.rejected_ids
        if signal == "like":
            liked += (item_id,)
        elif signal == "dislike":
            disliked += (item_id,)
            rejected = tuple(dict.fromkeys(rejected + (item_id,)))
        else:
            rejected = tuple(dict.fromkeys(rejected + (item_id,)))
        state = replace(state, liked_ids=liked, disliked_ids=disliked, rejected_ids=rejected)
        self.profiles.save_session_state(session_id, _state_json(state))
        return {"session_id": session_id, "item_id": item_id, "signal": signal,
                "liked": list(state.liked_ids), "disliked": list(state.disliked_ids)}

    def remove_slot(self, session_id: str, slot: str, value: str | None = None) -> dict[str, Any]:
        """Drop a slot the person no longer wants (e.g. companions=kids); returns the new understood object."""
        state = remove_slot(self.load_state(session_id), slot, value)
        self.profiles.save_session_state(session_id, _state_json(state))
        language = state.language if state.language in ("en", "zh") else "en"
        _, situation, _ = self._situation(state, _NoIntent(), language)
        rules = apply_context_rules(situation)
        return self._understood(state, None, rules.fired, [], rules)


class UnknownItem(TastebudError):
    """Feedback on an item that was never shown in the conversation."""


@dataclass(frozen=True)
class _NoIntent:
    """Stands in for a TurnIntent when the state changes without a message (slot removal)."""

    place: Any = None
    unknown_place: str | None = None


def _state_json(state: DialogueState) -> str:
    """The state as JSON text for the profile store."""
    import json

    return json.dumps(state.to_dict(), ensure_ascii=False)


def _state_from_json(raw: str | None) -> DialogueState:
    """A saved state (an empty one when nothing was saved yet)."""
    import json

    if not raw:
        return DialogueState()
    return DialogueState.from_dict(json.loads(raw))


def _chips(reasons: list[str]) -> tuple[str, ...]:
    """Why-chips for a card before its note is written."""
    from chatbot.turn.notes.writer import why_chips

    return why_chips(reasons)


def _ms(since: float) -> float:
    """Milliseconds since a monotonic instant."""
    return (time.monotonic() - since) * 1000.0
