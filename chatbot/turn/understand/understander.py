"""Understanding one message: message + DialogueState -> TurnIntent.

Two readers work together. Code reads every message with word lists (lexicon.yaml, next to this file), the
constraint grammar (constraints.yaml: years, runtimes, age ratings, their comparators and negations, in English
and Chinese; bounds.py), the catalog's people, the gazetteer and the stated-weather/time lexicon of
chatbot.turn.context, and the catalog's title index. The LLM (through `complete_json`, a small schema with closed
vocabularies) reads new free-text requests. The LLM proposes, code checks: titles must be in the catalog,
cities must resolve in the gazetteer and be named in the message, genres and companions are closed lists,
every bound, exclusion and person must be grounded in the message's words (grounding.py), and what code read
itself ("nothing scary", "before 1960") always wins.

When is the LLM needed? Code is sure — and the LLM is not called — when
- the message is a reset ("start over"), a prompt-injection attempt, or a greeting/thanks, or
- it is a follow-up (something was shown already) and every content word of it is explained by code:
  "something shorter, and no animation", "more like the second one", "tell me more about the first",
  "第二部怎么样". A new request (nothing shown yet) or any unexplained word goes to the LLM.
`llm_policy="lean"` also skips the LLM for a new request that code explains completely (the Seattle and
Beijing examples are), saving one LLM call on first turns; "always" and "never" are for tests and benchmarks.
When the LLM fails (LLMError: timeout, garbage), the code's own reading is the answer; the turn still works.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

# PlaceSlot, LexiconError, intent_schema, detect_language and normalise_message lived here before the split
# into a package; they stay importable from here.
from chatbot.llm.gate import UNDERSTAND, LLMBusy, LLMGate, held
from chatbot.turn.intent import TurnIntent
from chatbot.turn.replies import say, use_catalog
from chatbot.turn.state import DialogueState
from chatbot.turn.understand import llm_reading
from chatbot.turn.understand.catalog_reading import CatalogReading, apply_catalog_reading, catalog_reader
from chatbot.turn.understand.grounding import Grounds
from chatbot.turn.understand.lexicon import load_lexicon
from chatbot.turn.understand.llm_reading import Draft, checked_place, merge_llm_reading
from chatbot.turn.understand.reading import GazetteerLike, Reading
from chatbot.turn.understand.references import PointedItems, point_at_items, unresolved_item_cue
from chatbot.turn.understand.rules import RuleReader
from chatbot.turn.understand.titles import TitleIndex
from retrieval.types import Item
from retrieval.errors import LLMError


class Understander:
    """message + DialogueState -> TurnIntent: code reads everything, the LLM helps with free text."""

    def __init__(
        self,
        llm: Any,
        catalog_items: Iterable[Item],
        gazetteer: GazetteerLike | None,
        *,
        timeout_s: float = 30.0,
        lexicon_path: str | None = None,
        llm_policy: Literal["auto", "lean", "always", "never"] = "auto",
        data_dir: Path | None = None,
    ) -> None:
        self.llm = llm
        self.gazetteer = gazetteer
        self.timeout_s = timeout_s
        self.llm_policy = llm_policy
        self.lexicon = load_lexicon(lexicon_path)
        self.items: dict[str, Item] = {item.id: item for item in catalog_items}
        self.titles = TitleIndex(self.items.values())
        years = [i.year for i in self.items.values() if i.year]
        self.newest_year = max(years) if years else 2018
        self.rules = RuleReader(self.lexicon, self.titles, gazetteer, self.items, self.newest_year)
        self.last_llm_seconds: float | None = None  # wall time of the latest LLM call (None: not called)
        self.gate: LLMGate | None = None  # shared with the notes when several conversations run at once
        self.llm_wait_s: float | None = None  # how long to wait for a busy LLM before going by the words alone
        # a schema catalog's own reader and context rules (None: the film catalog's, in rules.py and context/)
        self.catalog = catalog_reader(data_dir, list(self.items.values())) if data_dir is not None else None
        self.context_rules = self.catalog.context_rules if self.catalog is not None else None
        if data_dir is not None:  # the agent's understander: replies and notes speak of this catalog's items
            use_catalog(self.catalog.schema if self.catalog is not None else None, Path(data_dir))

    # -- public
    def understand(self, message: str, state: DialogueState) -> TurnIntent:
        """Read one message in the light of the conversation so far; never raises for odd input."""
        reading = self.read(message, state)
        catalog = self.catalog.read(message) if self.catalog is not None else None
        if catalog is not None:  # words a schema catalog's reader explains need no LLM
            reading.leftover = self.catalog.unexplained(message, reading.leftover, catalog)
        self.last_llm_seconds = None
        llm_data: dict[str, Any] | None = None
        llm_error: str | None = None
        llm_busy = False
        if self.needs_llm(reading, state):
            try:
                llm_data = self.ask_llm(message)
            except LLMError as exc:  # said: busy (in the reply, Agent._understand), or failed (here)
                llm_error = str(exc)
                llm_busy = isinstance(exc, LLMBusy)
                if not llm_busy:
                    reading.notes.append(say("llm_fallback", reading.language if reading.language == "zh" else "en"))
        intent = self.combine(reading, state, llm_data, llm_error, catalog)
        intent = intent.model_copy(update={"llm_busy": True}) if llm_busy else intent
        if self.catalog is None or catalog is None:
            return intent
        return apply_catalog_reading(intent, catalog, self.catalog.schema, llm_data, self.catalog, reading.mood_wishes,
                                     self.echo.kinds)

    def read(self, message: str, state: DialogueState) -> Reading:
        """Code's own reading of a message: word lists, numbers, places, weather, titles, references."""
        return self.rules.read(message, state)

    def needs_llm(self, reading: Reading, state: DialogueState) -> bool:
        """True when a new free-text request needs the LLM; False when code's reading is sure."""
        if self.llm is None or self.llm_policy == "never" or reading.injection or not reading.text.strip():
            return False
        if self.llm_policy == "always":
            return True
        if "reset" in reading.cues and not reading.leftover:
            return False
        if not reading.leftover and not reading.has_constraints and reading.cues <= {"chitchat"} and reading.cues:
            return False  # "thanks!", "hi"
        leftover = self.catalog.meaningful(reading.leftover) if self.catalog is not None else reading.leftover
        sure = not leftover and not unresolved_item_cue(reading, state)
        if sure and (state.shown or self.llm_policy == "lean"):
            return False  # a follow-up (or, when lean, any message) whose every word code explains
        return True

    @cached_property
    def echo(self) -> llm_reading.Echo:
        """The understanding prompt's example answer, whose words the LLM's wish keeps only where the person said them."""
        return llm_reading.prompt_echo(self.fixed_prompt())

    def fixed_prompt(self) -> Any:
        """The understanding prompt with a short message: its fixed prefix, for the LLM to pre-read."""
        if self.catalog is None:
            return llm_reading.understand_prompt("hello")
        return llm_reading.understand_prompt("hello", self.catalog.kinds(), self.catalog.schema.noun)

    def ask_llm(self, message: str) -> dict[str, Any]:
        """The LLM's reading of the message as schema-checked JSON (LLMError when it fails)."""
        started = time.monotonic()
        try:
            with held(self.gate, UNDERSTAND, self.llm_wait_s):
                if self.catalog is None:
                    return llm_reading.ask_llm(self.llm, message, self.timeout_s)
                return llm_reading.ask_llm(self.llm, message, self.timeout_s, self.catalog.kinds(),
                                           self.catalog.schema.noun)
        finally:
            self.last_llm_seconds = time.monotonic() - started

    # -- combining both readings
    def _own_words(self, reading: Reading, catalog: CatalogReading | None) -> str:
        """The message's describing words as a search wish; on a schema catalog, without the words its reader read
        or words that name nothing ("allergic cake his": "cake" and "allergic to nuts" were read, "his" is idle)."""
        wish = self.rules.fallback_wish(reading)
        if wish and catalog is not None and self.catalog is not None:
            wish = " ".join(self.catalog.meaningful(self.catalog.unexplained(reading.text, wish.split(), catalog)))
        return wish

    def combine(
        self, reading: Reading, state: DialogueState, llm: dict[str, Any] | None, llm_error: str | None = None,
        catalog: CatalogReading | None = None,
    ) -> TurnIntent:
        """The checked intent: code's reading, plus the LLM's where code found nothing and the LLM's answer checks out."""
        draft = Draft.from_reading(reading)
        llm_intent = None
        if llm is not None:
            grounds = Grounds(reading, self.lexicon, self.newest_year)
            llm_intent = merge_llm_reading(draft, llm, reading, self.titles, self._match_person, grounds, self.echo)
        draft.genres = [g for g in draft.genres if g not in draft.excluded]
        if reading.language == "en" and reading.leftover and llm is None:
            wish = self._own_words(reading, catalog)  # the person's own words, when no LLM read them
            if wish and wish not in draft.wishes:
                draft.wishes.append(wish)
        place, unknown_place = checked_place(reading, llm, self.gazetteer, draft.notes)
        items = point_at_items(reading, state, draft.title_kinds, draft.notes)
        intent = decide_intent(reading, state, llm_intent, items)
        if intent == "more_like" and not items.referenced_ids and not items.mentioned_ids and state.seed_ids:
            items.referenced_ids = list(state.seed_ids)
        sc = draft.scalars
        return TurnIntent(
            intent=intent,
            wishes=draft.wishes,
            hints=[h for h in draft.hints if h not in draft.wishes],
            genres=draft.genres,
            genres_excluded=draft.excluded,
            people=draft.people,
            people_none=draft.people_none,
            year_min=sc.get("year_min"),
            year_max=sc.get("year_max"),
            runtime_min=sc.get("runtime_min"),
            runtime_max=sc.get("runtime_max"),
            max_age_rating=sc.get("max_age_rating"),
            languages=reading.languages,
            countries=reading.countries,
            languages_none=reading.languages_none,
            countries_none=reading.countries_none,
            mentioned_ids=items.mentioned_ids,
            liked_ids=items.liked_ids,
            disliked_ids=items.disliked_ids,
            rejected_ids=list(dict.fromkeys(items.rejected_ids)),
            references=items.references,
            referenced_ids=list(dict.fromkeys(items.referenced_ids)),
            place=place,
            unknown_place=unknown_place,
            weather=draft.weather,
            part_of_day=reading.part_of_day,
            companions=draft.companions,
            mood=reading.mood,
            occasion=reading.occasion,
            cleared=reading.cleared,
            relative=[slot for slot, value in reading.relative.items() if sc.get(slot) == value],  # not overridden
            language=reading.language,  # type: ignore[arg-type]
            injection=reading.injection,
            source="llm" if llm is not None else "rules",
            llm_error=llm_error,
            notes=draft.notes,
            notices=reading.notices,
        )

    def _match_person(self, text: str) -> str | None:
        """The catalog spelling of a person's name (the rule reader's people index)."""
        return self.rules.people.match(text)


def decide_intent(reading: Reading, state: DialogueState, llm_intent: str | None, items: PointedItems) -> str:
    """The turn's intent: code's cues first, then the LLM's when it fits what code found."""
    cues = reading.cues
    mentioned = items.mentioned_ids
    has_items = bool(items.referenced_ids or mentioned)
    follow_up = bool(state.shown)
    constraints = reading.has_constraints
    if "reset" in cues:
        return "reset"
    if "ask_about" in cues and has_items and not constraints:
        return "ask_about_item"
    if "more_like" in cues and (has_items or state.seed_ids):
        return "more_like"
    if items.liked_ids or items.disliked_ids or items.rejected_ids:
        return ("refine" if follow_up else "recommend") if constraints else "feedback"
    if reading.injection:
        return "refine" if follow_up else "recommend"
    if llm_intent == "more_like" and mentioned:
        return "more_like"
    if llm_intent == "ask_about_item" and has_items:
        return "ask_about_item"
    if "another" in cues and "ask_about" not in cues:  # "show me more", "换一批": the same request, other items
        return "refine" if follow_up else "recommend"
    if llm_intent == "chitchat" and not constraints:
        return "chitchat"
    if constraints or llm_intent in ("recommend", "more_like", "feedback"):
        return "refine" if follow_up else "recommend"
    if cues == {"chitchat"} or (not reading.leftover and not constraints and not cues):
        return "chitchat"
    return "refine" if follow_up else "recommend"
