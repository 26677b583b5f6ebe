"""The agent: one turn = understand, context, update, retrieve, rank, write, remember — streamed as ReplyEvents.

Every door (CLI, HTTP API, Gradio UI, widget, dialogue runner, simulator) calls `Agent.respond`; none holds
logic of its own. Hard constraints are enforced by code (filters before and after retrieval, exclusion of
shown and rejected items); the LLM proposes an understanding and writes notes, code checks both.

The steps, by file: understand (`understand/`), context (`situated.py` over `context/`), update (`state.py`),
retrieve and rank (`recommend.py`), write (`notes/`), remember (`chatbot/profiles.py`). The events are typed in
`events.py`; every word the agent says comes from `replies.yaml` through `replies.py`. The one recoverable failure
a turn handles itself is saving it (the person still gets the answer, told so); a missing local time or weather
service becomes a notice in `situated.py`; any other TastebudError ends the turn and the door says it in words.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from chatbot.config import Settings
from chatbot.llm.gate import LLMGate, llm_slots
from chatbot.profile_schema import SessionStart, UnknownSession, new_id
from chatbot.turn.context import RuleOutcome, WeatherProvider, make_weather_provider
from chatbot.turn.events import (Card, Done, ErrorEvent, FeedbackRecorded, Items, NoteDelta, NoteFinal, ReplyEvent,
                                 Timings, Understood, WeatherShown, card, to_wire)
from chatbot.turn.recommend import (Found, RankingMode, Ranked, Recommender, SavedTaste, describe_filters, has_request,
                                    no_match_constraints, turn_filters)
from chatbot.turn.relaxation import Relaxed, relax
from chatbot.turn.replies import say
from chatbot.turn.situated import Situated, local_time_at, situate
from chatbot.turn.state import (DialogueState, apply_feedback, check_signal, record_shown, remove_slot, set_live_weather,
                                state_from_json, state_to_json, update, with_feedback_since)
from chatbot.turn.understand.message import clean_message
from retrieval.types import Item
from retrieval.errors import ModelUnavailable, TastebudError

if TYPE_CHECKING:
    from chatbot.storage.protocol import Store
    from chatbot.turn.intent import TurnIntent
    from chatbot.turn.notes.writer import Copywriter
    from chatbot.turn.understand.understander import Understander
    from ranking.model import InterestScorer
    from retrieval.search import Searcher

__all__ = ["Agent", "RankingMode", "ReplyEvent", "UnknownItem", "card", "clean_message", "describe_filters", "say"]

log = logging.getLogger(__name__)

_INTRO = {"refine": "intro_refine", "more_like": "intro_more_like", "feedback": "intro_after_feedback",
          "reset": "intro_reset"}  # intent -> the replies.yaml key of the line above the list ("intro_recommend")
MAX_SAVED_MESSAGE = 10_000  # characters of the person's message kept in the turn history


class UnknownItem(TastebudError):
    """Feedback on an item that was never shown in the conversation."""


@dataclass
class _Turn:
    """One turn in progress: whose, the message, the state it starts from, and the steps' timings."""

    session_id: str
    profile_id: str
    message: str  # as the person sent it (saved in the history)
    text: str  # cleaned
    truncated: bool
    state: DialogueState
    started: float  # time.monotonic() when the turn began
    start: SessionStart | None = None  # a new conversation: created (with a new profile) by its first saved turn
    ms: dict[str, float] = field(default_factory=dict)  # step -> milliseconds

    def timings(self, with_cards: bool) -> Timings:
        """The steps' timings, rounded; a step the turn did not run took 0.0."""
        first_card = self.ms.get("first_card_ms", _ms(self.started) if with_cards else 0.0)
        steps = {k: round(self.ms.get(k, 0.0), 1) for k in ("understand_ms", "retrieve_ms", "rank_ms")}
        return Timings(**steps, first_card_ms=round(first_card, 1), total_ms=round(_ms(self.started), 1))


@dataclass(frozen=True)
class _Voice:
    """How the turn speaks: the reply language, what goes before the reply, and the notices for the person."""

    language: str  # en or zh
    prefix: tuple[str, ...] = ()  # the injection notice, when the message tried to change the instructions
    notices: tuple[str, ...] = ()  # truncation, unknown place, weather down, ...
    intro: str | None = None  # the line above the list when the intent's own would mislead (a bound let go)


@dataclass(frozen=True)
class _Answer:
    """What a turn answers and saves: the reply, the cards, the new state and the understood panel."""

    state: DialogueState
    reply: str
    understood: Understood
    language: str
    cards: tuple[Card, ...] = ()
    about: Card | None = None


class Agent:
    """Turns a message and a session into a streamed answer with real catalog items."""

    def __init__(self, settings: Settings, *, searcher: Searcher, understander: Understander, copywriter: Copywriter,
                 profiles: Store, weather: WeatherProvider, scorer: InterestScorer | None, ranking: RankingMode = "full",
                 clock: Callable[[], datetime] | None = None, write_notes: bool = True) -> None:
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
        self._showing: dict[str, frozenset[str]] = {}  # session -> cards out, turn not saved yet (likeable already)
        self.llm_gate = LLMGate(slots=llm_slots(settings))  # every conversation's LLM calls: understanding first
        understander.gate = copywriter.gate = self.llm_gate
        understander.llm_wait_s = settings.llm_wait_s

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        weather: WeatherProvider | None = None,
        ranking: RankingMode = "full",
        llm: Any | None = None,
        profiles: Store | None = None,
        write_notes: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> Agent:
        """Open every part from the data dir (the index, the interest model, the LLM, the profile store)."""
        from chatbot.llm import make_chat_model, make_notes_model
        from chatbot.storage.factory import open_store
        from chatbot.turn.context import Gazetteer
        from chatbot.turn.notes.writer import Copywriter
        from chatbot.turn.understand.understander import Understander
        from retrieval.search import Searcher

        data_dir = settings.resolved_data_dir
        searcher = Searcher.open(data_dir, chroma_url=settings.chroma_url)
        injected = llm  # an injected model (tests) writes the notes too
        llm = llm if llm is not None else make_chat_model(settings)
        notes_llm = {lang: injected or make_notes_model(settings, llm, lang) for lang in ("en", "zh")}
        items = list(searcher.items.values())
        gazetteer = Gazetteer()
        gazetteer.warm_up()
        understander = Understander(llm, items, gazetteer, timeout_s=settings.llm_timeout_s,
                                    llm_policy=settings.understand_llm, data_dir=data_dir)
        copywriter = Copywriter.from_items(notes_llm["en"], items, timeout_s=settings.llm_timeout_s, by_language=notes_llm,
                                           budget_s=settings.notes_budget_s, retry=settings.notes_retry)
        scorer = cls._open_scorer(data_dir, searcher) if ranking == "full" else None
        if weather is None:
            weather = make_weather_provider(settings.weather_url, settings.weather_timeout_s)
        profiles = profiles or open_store(settings)
        return cls(settings, searcher=searcher, understander=understander, copywriter=copywriter,
                   profiles=profiles, weather=weather, scorer=scorer, ranking=ranking, clock=clock,
                   write_notes=write_notes)

    def warm_up(self) -> float:
        """Load the query embedder and the LLM and pre-read the stable prompt prefixes; seconds taken."""
        from chatbot.llm import warm_up

        started = time.monotonic()
        self.searcher.embed_query("warm up")
        llm = self.understander.llm
        if llm is not None:
            understand = self.understander.fixed_prompt()  # this catalog's understanding prompt
            warm_up(llm, [understand])
        for model, notes in self.copywriter.fixed_prefixes():  # the notes prompt's fixed prefix, per language
            warm_up(model, notes)
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

    @property
    def recommender(self) -> Recommender:
        """Retrieval and ranking over this agent's searcher, interest model and ranking mode."""
        return Recommender(self.searcher, self.scorer, self.settings, self.ranking, self._vector_pos)

    # ------------------------------------------------------------------ sessions
    def new_session(self, profile_id: str | None = None) -> str:
        """A new conversation for a (possibly new) profile; returns its session id."""
        profile_id = self.profiles.ensure_profile(profile_id)
        session_id = self.profiles.new_session(profile_id)
        self.profiles.save_session_state(session_id, state_to_json(DialogueState()))
        return session_id

    def _open_session(self, session_id: str | None, profile_id: str | None
                      ) -> tuple[str, str, DialogueState, SessionStart | None]:
        """(session_id, profile_id, state, start): a known session answers only its owner; otherwise a new one.

        Nothing is stored here: a new conversation (and a new profile) is created by its first saved turn, so a
        refused or failed turn leaves no row behind. A caller without a profile id (the CLI, the evaluation) is
        the session's owner; a caller with one must own the session (UnknownSession otherwise).
        """
        if session_id:
            owner = self.profiles.session_profile(session_id)
            if owner is not None:
                if profile_id and owner != profile_id:
                    raise UnknownSession("this conversation belongs to someone else: start a new one")
                return session_id, owner, state_from_json(self.profiles.load_session_state(session_id)), None
        known = profile_id if profile_id and self.profiles.has_profile(profile_id) else None
        start = SessionStart(known or new_id(), new_profile=known is None)
        return new_id(), start.profile_id, DialogueState(), start

    def load_state(self, session_id: str, profile_id: str | None = None) -> DialogueState:
        """The saved state of a session (TastebudError for an unknown session, or one of another profile's)."""
        owner = self.profiles.session_profile(session_id)
        if owner is None or (profile_id and owner != profile_id):
            raise UnknownSession("unknown session: start a new conversation")
        return state_from_json(self.profiles.load_session_state(session_id))

    # ------------------------------------------------------------------ the turn
    def respond(self, session_id: str | None, message: str, profile_id: str | None = None) -> Iterator[ReplyEvent]:
        """One turn: understood, items (cards before notes), note deltas, done. Never loses the session.

        The seven steps in order: understand, context, update, retrieve, rank, write, remember; a turn that needs
        no search ("tell me more", a bare reset, chitchat, too little to go on) or finds nothing skips to remember.
        """
        started = time.monotonic()
        session_id, profile_id, state, start = self._open_session(session_id, profile_id)
        text, truncated = clean_message(message, self.settings.max_message_chars)
        turn = _Turn(session_id, profile_id, message, text, truncated, state, started, start)
        if not text:
            yield from self._remember(turn, self._nothing_said(state))
            return
        intent, voice = self._understand(turn)                                           # 1 understand
        situated = situate(state, intent, voice.language, self.weather, self.clock,      # 2 context
                           self.understander.context_rules)
        state = self._update(state, intent, situated)                                    # 3 update
        voice = replace(voice, notices=voice.notices + situated.notices)
        understood = self._understood(state, intent, situated.rules, voice.notices, situated.local)
        yield ReplyEvent.of(understood)
        answer = self._answer_without_search(state, intent, understood, situated.rules, voice)
        if answer is None:
            found, relaxed = self._retrieve(turn, state, intent, situated.rules, voice.language)  # 4 retrieve
            if relaxed is not None:  # nothing "shorter" fits: the shortest that fit the rest, said so
                state, found, understood = relaxed.state, relaxed.found, relaxed.panel(understood, situated.rules)
                voice = replace(voice, intro=relaxed.said)
            if not found.candidates:
                answer = self._no_match(state, understood, found, voice)
            else:
                ranked = self._rank(turn, state, found, situated.rules, voice.language)  # 5 rank
                answer = yield from self._write(turn, state, intent, understood, ranked, voice)  # 6 write
        yield from self._remember(turn, answer)                                          # 7 remember

    # ------------------------------------------------------------------ 1 understand
    def _understand(self, turn: _Turn) -> tuple[TurnIntent, _Voice]:
        """What the message asks for, in the reply language, with the notices it earns (truncated, injection)."""
        t = time.monotonic()
        intent = self.understander.understand(turn.text, turn.state)
        turn.ms["understand_ms"] = _ms(t)
        language = intent.language if intent.language in ("en", "zh") else "en"
        notices = (say("truncated", language, chars=self.settings.max_message_chars),) if turn.truncated else ()
        notices += tuple(intent.notices)  # bounds said but not applied: contradictory or absurd (issue 12)
        if intent.llm_error:
            log.info("understanding fell back to rules: %s", intent.llm_error)
        notices += (say("llm_busy", language),) if intent.llm_busy else ()  # busy with others: the words alone
        intent = self._people_backstop(turn.text, intent, language)
        prefix = (say("injection", language),) if intent.injection else ()
        return intent, _Voice(language, prefix, notices)

    def _people_backstop(self, text: str, intent: TurnIntent, language: str) -> TurnIntent:
        """Full names of catalog people in the message become the people slot when understanding found none."""
        if intent.people or intent.intent in ("ask_about_item", "chitchat") or intent.injection:  # "start over: by X"
            return intent
        spelled = [p for p in self.searcher.people_named(text) if p not in intent.people_none]
        if not spelled:
            return intent
        notes = list(intent.notes) + [say("people_found", language, people=", ".join(spelled))]
        return intent.model_copy(update={"people": spelled, "notes": notes})

    # ------------------------------------------------------------------ 3 update
    @staticmethod
    def _update(state: DialogueState, intent: TurnIntent, situated: Situated) -> DialogueState:
        """The state after this turn's intent, with the live weather the context step fetched."""
        new = update(state, intent)
        if situated.live is not None:
            new = set_live_weather(new, situated.live.condition, situated.live.temperature_c)
        return new

    def _understood(self, state: DialogueState, intent: TurnIntent | None, rules: RuleOutcome | None,
                    notices: tuple[str, ...], local: datetime | None) -> Understood:
        """The `understood` panel: intent, place, weather and its source, local time, slots, filters, rules."""
        ctx = state.context
        return Understood(
            intent=intent.intent if intent else None,
            location=ctx.place,
            unknown_place=ctx.unknown_place,
            weather=WeatherShown(ctx.weather, ctx.weather_source, ctx.temperature_c),
            local_time=local.strftime("%Y-%m-%d %H:%M") if local is not None else None,
            part_of_day=ctx.part_of_day,
            companions=tuple(ctx.companions),
            mood=ctx.mood,
            occasion=ctx.occasion,
            filters=describe_filters(turn_filters(state, rules)),
            wishes=tuple(state.wishes),
            liked=tuple(self.items[i].title for i in state.liked_ids + state.seed_ids if i in self.items),
            disliked=tuple(self.items[i].title for i in state.disliked_ids if i in self.items),
            rules_fired=tuple(rules.fired) if rules is not None else (),
            notes=tuple(intent.notes if intent else ()) + tuple(notices),
            understanding=intent.source if intent else None,
        )

    # ------------------------------------------------------------------ answers without a search
    def _nothing_said(self, state: DialogueState) -> _Answer:
        """The answer to an empty message: ask what they would like; the state stays as it was."""
        understood = self._understood(state, None, None, (), local_time_at(state.context, self.clock))
        return _Answer(state, say("empty_message", state.language), understood, state.language)

    def _answer_without_search(self, state: DialogueState, intent: TurnIntent, understood: Understood,
                               rules: RuleOutcome, voice: _Voice) -> _Answer | None:
        """"Tell me more", a bare reset, chitchat or too little to search on; None when the turn should search."""
        language = voice.language
        if intent.intent == "ask_about_item":
            return self._describe(state, intent, understood, voice)
        thanks = intent.intent == "chitchat" and bool(state.shown) and not intent.injection  # "thanks!" after a list
        if has_request(state, rules) and not thanks:
            return None
        if intent.intent == "reset":
            reply = " ".join(voice.prefix + (say("reset_only", language),) + voice.notices)
            return _Answer(state, reply, understood, language)
        key = "after_list" if thanks else "chitchat" if intent.intent == "chitchat" or intent.injection else "clarify"
        reply = " ".join(voice.prefix + voice.notices + (say(key, language),))
        # both replies ask the person what they would like
        return _Answer(state, reply, replace(understood, clarifying_question=True), language)

    def _describe(self, state: DialogueState, intent: TurnIntent, understood: Understood, voice: _Voice) -> _Answer:
        """"Tell me more about the second one": answered from the catalog facts of that item."""
        target = (intent.referenced_ids or intent.mentioned_ids or ([state.focus_id] if state.focus_id else []))
        item = self.items.get(target[0]) if target else None
        before = voice.notices + voice.prefix
        if item is None:
            reply = " ".join(before + (say("no_item_referenced", voice.language),))
            return _Answer(state, reply, understood, voice.language)
        reply = " ".join(before + (self.copywriter.describe_item(item, voice.language),))
        return _Answer(state, reply, understood, voice.language, about=Card.of(item))

    @staticmethod
    def _no_match(state: DialogueState, understood: Understood, found: Found, voice: _Voice) -> _Answer:
        """Nothing passes every hard filter: say which constraints to loosen."""
        constraints = no_match_constraints(found.filters) or found.query
        reply = " ".join(voice.prefix + voice.notices + (say("no_match", voice.language, constraints=constraints),))
        return _Answer(state, reply, understood, voice.language)

    # ------------------------------------------------------------------ 4 retrieve, 5 rank
    def _retrieve(self, turn: _Turn, state: DialogueState, intent: TurnIntent, rules: RuleOutcome, language: str
                  ) -> tuple[Found, Relaxed | None]:
        """Candidates that pass every hard filter (the saved profile is read once a turn, here); when none do, those
        nearest the way a bound set relative to the last list asked, that bound let go (`relaxation.py`)."""
        t = time.monotonic()
        taste = SavedTaste.read(self.profiles, turn.profile_id, bool(turn.start and turn.start.new_profile))
        found = self.recommender.retrieve(state, rules, taste)
        relaxed = None if found.candidates else relax(self.recommender, found, state, turn.state, intent, rules, language)
        turn.ms["retrieve_ms"] = _ms(t)
        return found, relaxed

    def _rank(self, turn: _Turn, state: DialogueState, found: Found, rules: RuleOutcome, language: str) -> Ranked:
        """The items to show, in order, with their reasons."""
        t = time.monotonic()
        ranked = self.recommender.rank(found, state, rules, language)
        turn.ms["rank_ms"] = _ms(t)
        return ranked

    # ------------------------------------------------------------------ 6 write
    def _write(self, turn: _Turn, state: DialogueState, intent: TurnIntent, understood: Understood, ranked: Ranked,
               voice: _Voice) -> Generator[ReplyEvent, None, _Answer]:
        """The cards first, then their notes as they are written; the answer lists every card with its note."""
        from chatbot.turn.notes.templates import why_chips

        language = voice.language
        notices = voice.notices + ((say(ranked.notice, language),) if ranked.notice else ())
        cards = tuple(Card.of(item, why_chips(ranked.reasons[item.id])) for item in ranked.items)
        turn.ms["first_card_ms"] = _ms(turn.started)
        self._showing[turn.session_id] = frozenset(c.id for c in cards)
        yield ReplyEvent.of(Items(cards))
        notes, why, plain = yield from self._notes(ranked, language)  # plain: the LLM failed, templates stood in
        cards = tuple(replace(c, note=notes.get(c.id, ""), why=tuple(why.get(c.id, c.why))) for c in cards)
        intro = voice.intro or say(_INTRO.get(intent.intent, "intro_recommend"), language, n=len(cards))
        lines = [" ".join(voice.prefix + notices + ((say("notes_plain", language),) if plain else ()) + (intro,))]
        for n, c in enumerate(cards, 1):
            year = f" ({c.year})" if c.year else ""
            lines.append(f"{n}. {c.title}{year}: {c.note}")
        lines.append(say("outro", language))
        new_state = record_shown(state, [c.id for c in cards])
        return _Answer(new_state, "\n".join(lines), understood, language, cards)

    def _notes(self, ranked: Ranked, language: str
               ) -> Generator[ReplyEvent, None, tuple[dict[str, str], dict[str, tuple[str, ...]], bool]]:
        """Stream note pieces; returns ({item_id: note}, {item_id: why chips}, whether the LLM failed a note)."""
        from chatbot.turn.notes import writer

        items, reasons = ranked.items, ranked.reasons
        why: dict[str, tuple[str, ...]] = {}
        final: dict[str, str] = {}
        plain = False
        if not self.write_notes:
            for it in items:
                final[it.id] = writer.template_note(it, reasons[it.id], language)
                why[it.id] = writer.why_chips(reasons[it.id])
            return final, why, False
        requests = [writer.NoteRequest(it, tuple(reasons[it.id])) for it in items]
        for event in self.copywriter.write_notes_stream(requests, language):
            if isinstance(event, writer.NoteDelta):
                yield ReplyEvent.of(NoteDelta(position=event.position + 1, delta=event.text_delta))
            elif isinstance(event, writer.NoteDone):
                it = items[event.position]
                final[it.id] = event.note.text
                why[it.id] = event.note.why
                plain = plain or writer.llm_failed(event.note)
                yield ReplyEvent.of(NoteFinal(position=event.position + 1, final=event.note.text))
        return final, why, plain

    # ------------------------------------------------------------------ 7 remember
    def _remember(self, turn: _Turn, answer: _Answer) -> Iterator[ReplyEvent]:
        """Save the turn and its state together, then the `done` event with the whole answer. The turn's one
        recoverable failure: when saving fails it ends with an `error` event and no `done` (an answer that was not
        saved is not an answer the next turn or a like can build on)."""
        timings = turn.timings(bool(answer.cards))
        try:  # a like given while the turn ran (maybe on another worker) is kept, not overwritten
            state = answer.state if turn.start else with_feedback_since(answer.state, turn.state, state_from_json(
                self.profiles.load_session_state(turn.session_id)))
            self.profiles.record_turn_and_state(turn.session_id, turn.message[:MAX_SAVED_MESSAGE], answer.reply,
                                                [to_wire(c) for c in answer.cards], state_to_json(state),
                                                start=turn.start)
        except TastebudError as exc:
            self._showing.pop(turn.session_id, None)
            log.error("could not save the turn: %s", exc)
            yield ReplyEvent.of(ErrorEvent(say("save_failed", answer.language, error=str(exc))))
            return
        self._showing.pop(turn.session_id, None)
        yield ReplyEvent.of(Done(session_id=turn.session_id, profile_id=turn.profile_id, reply=answer.reply,
                                 language=answer.language, understood=answer.understood, items=answer.cards,
                                 timings=timings, about_item=answer.about))

    # ------------------------------------------------------------------ feedback and slots
    def feedback(self, session_id: str, item_id: str, signal: str, profile_id: str | None = None) -> dict[str, Any]:
        """Record like / dislike / seen for an item shown in this session; the next answer uses it."""
        check_signal(signal)
        state = self.load_state(session_id, profile_id)
        if item_id not in state.all_shown and item_id not in self._showing.get(session_id, ()):  # or being noted
            raise UnknownItem(f"item {item_id!r} was not shown in this conversation")
        owner = self.profiles.session_profile(session_id)
        self.profiles.add_feedback(owner, session_id, item_id, signal)
        state = apply_feedback(state, item_id, signal)
        self.profiles.save_session_state(session_id, state_to_json(state))
        return to_wire(FeedbackRecorded(session_id=session_id, item_id=item_id, signal=signal,
                                        liked=state.liked_ids, disliked=state.disliked_ids))

    def remove_slot(self, session_id: str, slot: str, value: str | None = None,
                    profile_id: str | None = None) -> dict[str, Any]:
        """Drop a slot the person no longer wants (e.g. companions=kids); returns the new understood object."""
        state = remove_slot(self.load_state(session_id, profile_id), slot, value)
        self.profiles.save_session_state(session_id, state_to_json(state))
        language = state.language if state.language in ("en", "zh") else "en"
        situated = situate(state, None, language, self.weather, self.clock, self.understander.context_rules)
        return to_wire(self._understood(state, None, situated.rules, (), situated.local))


def _ms(since: float) -> float:
    """Milliseconds since a monotonic instant."""
    return (time.monotonic() - since) * 1000.0
