"""Grounded, honest notes per recommended item: the LLM writes each note, code checks every one.

The flow for one turn (`Copywriter.write_notes_stream`, the default `NoteStyle`):
1. each item becomes one compact fact line (`prompt_facts`: year, genres, director, lead actor, plot where known,
   an Oscar won), its own reasons plus its share of the reasons every item shares (dealt out one per item: fed
   the same reasons, the 1.5B wrote one note five times), a focus (`note_focus`: the plot, the lead, the
   director, an award, each kind once per answer while there are others) and the asked-for qualities its facts
   support ("may call it") and do not ("never call it", `qualities.py`);
2. a prompt of ONE item per note (`NoteStyle.per_item`; given five items at once the 1.5B copied one item's plot
   into the others' notes) writes it as schema-constrained compact JSON `{"1":"note"}`, parsed while it streams
   (`stream.py`), so its words arrive as `NoteDelta`s for its card. With the embedded model the prompts of an
   answer are written at once by batched decoding (`can_stream_many`, `chatbot/llm/llamacpp_batch.py`: five
   notes in ~10 s, not ~27 s), each language in a llama.cpp context of its own (its fixed prefix stays read);
   other backends take them one call after another; `BRIEF_STYLE` (a baseline) writes all notes in one call;
3. every finished note is checked by `NoteChecker` (`checker.py`) against the item's full sheet (`fact_sheet`):
   other titles and people, numbers, a story without a plot, a quality its facts do not support, and it must not
   repeat another item's note. A note sharing a run of four words with another note of the answer once names are
   out (`shares_skeleton`, the measure `tastebud eval notes` uses) is true but samey, and one that names nothing
   of its own item (`specific_facts`, the benchmark's specificity) is true but vague: soft failures;
4. a note failing in one of its sentences keeps the others when they pass alone and are long enough
   (`sentence_drops`; a Chinese note likewise the rest of a sentence without one clause, `clause_drops`); a failed, samey or vague note is written again, told what was wrong: at once, in the
   sequence it frees (`rounds.Rewrites`), or after the round while the time left covers it (MAX_REWRITES). A note
   failing every draft, or any note when the LLM is down or the budget (TASTEBUD_NOTES_BUDGET_S) runs out, becomes
   a template note (`templates.py`), true by construction; a samey or vague note not rewritten is shown as written.
Each item ends with one `NoteDone` carrying the final `Note`; `Copywriter.last_stats` holds what the step cost.
`Copywriter.describe_item` answers "tell me more about the second one" from the catalog facts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chatbot.llm.calls import can_stream_many
from chatbot.llm.gate import LLMGate
from chatbot.text.names import CatalogLexicon, TitleHit, fold_name, title_key
from chatbot.turn.notes.roles import with_right_roles
from chatbot.turn.notes.checker import PLOT_MARK, TERMINAL, Finding, NoteChecker, Problem, retry_hints
from chatbot.turn.notes.facts import clean_reason, deal, fact_sheet, liked_titles, note_focus, prompt_facts, told_item
from chatbot.turn.notes.measures import long_enough, note_names, unwritable
from chatbot.turn.notes.note import (
    LLM_NOTE_CHARS,
    MAX_REASONS,
    MIN_NOTE_CHARS,
    Note,
    NoteDelta,
    NoteDone,
    NoteEvent,
    NoteRequest,
    NotesStats,
    NoteStyle,
    clause_drops,
    cut_to_clause,
    cut_to_sentence,
    note_language,
    sentence_drops,
    trim_note,
    without_json_tail,
)
from chatbot.turn.notes.qualities import QualityLexicon
from chatbot.turn.notes.rounds import (Draft, Rewrites, Round, Tally, collect, fail_unwritten, notes_that_fit,
                                       rewrite_seconds, weakness)
from chatbot.turn.notes.stream import (NotesStreamParser, example_notes, note_labels, notes_schema, numbered,
                                       stream_json_text, stream_many_json)
from chatbot.turn.notes.templates import describe_item, template_note, why_chips
from chatbot.turn.notes.zh_mend import mended_zh
from chatbot.turn.replies import catalog_schema
from retrieval.errors import TastebudError
from retrieval.text import display_title
from retrieval.types import Item

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

# The names callers import from here (plain imports of the modules that define them).
__all__ = [
    "LLM_NOTE_CHARS", "MIN_NOTE_CHARS", "CatalogLexicon", "Copywriter", "Note", "NoteChecker", "NoteDelta", "NoteDone",
    "NoteEvent", "NoteRequest", "NotesStats", "TitleHit", "describe_item", "fact_sheet", "prompt_facts",
    "template_note", "title_key", "why_chips", "llm_failed",
]

_LLM_FAILED = "the language model failed"
_OUT_OF_TIME = "out of time for the notes"
MAX_REWRITES = 1  # drafts after the first (a second after the call: +1.1 s whole reply p50, no note saved)
_NO_TIME_LEFT = Finding(Problem.OUT_OF_TIME, f"{_OUT_OF_TIME}: no time left to write it again")
_BUDGET_SPENT = Finding(Problem.OUT_OF_TIME, f"{_OUT_OF_TIME}: the time budget ran out while writing it")


class Copywriter:
    """Writes the notes of a turn (a call per note, or one for all in `BRIEF_STYLE`), checks them, rewrites the
    failed ones while time allows, then templates.

    `budget_s` bounds the whole notes step: when it runs out, the call in progress is stopped, notes already
    written and checked are kept, and every other item gets its template note at once. The failed notes are
    rewritten only when the time left is enough for all of them at the speed the model showed in this turn (written
    at once, fewer notes take less time: `rewrite_seconds`).
    """

    def __init__(
        self,
        llm: BaseChatModel | None,
        lexicon: CatalogLexicon,
        timeout_s: float = 60.0,
        retry: bool = True,
        batch: bool = True,
        budget_s: float | None = None,
        style: NoteStyle | None = None,
        by_language: dict[str, BaseChatModel] | None = None,
    ) -> None:
        """llm=None: template notes only. timeout_s bounds all LLM calls of a turn; batch: one call for all notes;
        budget_s: the notes step's time budget (None: timeout_s); style: prompts and lengths (`NoteStyle`);
        by_language: the model for notes in a language, where it is not `llm` (a context of its own per language)."""
        self.style = style or NoteStyle()
        self.batch = batch and not self.style.per_item
        self.llm = llm
        self.by_language = {lang: model for lang, model in (by_language or {}).items() if model is not llm}
        self.lexicon = lexicon
        self.checker = NoteChecker(lexicon, dict(self.style.min_chars))
        self.timeout_s = timeout_s
        self.retry = retry
        self.budget_s = budget_s
        self.last_stats = NotesStats()  # the latest notes step's figures
        self.gate: LLMGate | None = None  # shared with understanding when several conversations run at once

    @classmethod
    def from_items(
        cls,
        llm: BaseChatModel | None,
        items: Iterable[Item],
        timeout_s: float = 60.0,
        batch: bool = True,
        budget_s: float | None = None,
        retry: bool = True,
        by_language: dict[str, BaseChatModel] | None = None,
    ) -> Copywriter:
        """A copywriter checking against this catalog."""
        return cls(llm, CatalogLexicon.from_items(items), timeout_s=timeout_s, batch=batch, budget_s=budget_s,
                   retry=retry, by_language=by_language)

    def write_notes(self, requests: Sequence[NoteRequest], language: str = "en") -> list[Note]:
        """The final notes, in request order (the non-streaming form of `write_notes_stream`)."""
        notes: dict[int, Note] = {}
        for event in self.write_notes_stream(requests, language):
            if isinstance(event, NoteDone):
                notes[event.position] = event.note
        return [notes[i] for i in range(len(requests))]

    def write_notes_stream(self, requests: Sequence[NoteRequest], language: str = "en") -> Iterator[NoteEvent]:
        """NoteDeltas while the LLM writes, then one NoteDone per item (the checked final note)."""
        language = note_language(language)
        requests = [r if isinstance(r, NoteRequest) else NoteRequest(*r) for r in requests]
        if not requests:
            return
        started = time.monotonic()
        limit = self.timeout_s if self.budget_s is None else min(self.timeout_s, self.budget_s)
        deadline = started + limit
        used: set[str] = set()
        drafts = [Draft(r, focus=note_focus(r.item, used, language, [o.item for o in requests])) for r in requests]
        finished: dict[int, Note] = {}
        tally = Tally()
        try:
            if self.llm is not None:
                per_note_s = yield from self._first_drafts(drafts, language, deadline, tally, finished)
                yield from self._rewrite_failed(drafts, language, deadline, tally, finished, per_note_s)
            for i, draft in enumerate(drafts):
                if i not in finished:
                    written = [(finished[j].text, drafts[j].request.item) for j in finished]
                    finished[i] = draft.weak or self._template(draft, language, i, written)
                    yield NoteDone(i, finished[i])
        finally:
            self.last_stats = tally.stats(finished, started)

    def _first_drafts(
        self, drafts: list[Draft], language: str, deadline: float, tally: Tally, finished: dict[int, Note]
    ) -> Generator[NoteEvent, None, float]:
        """The first draft of every note (one call for all, or one per item); returns the seconds a note took."""
        everyone = list(range(len(drafts)))
        if self._parallel(language):  # every note at once, a prompt each: the round's time is one note's
            everyone = yield from self._fitting(drafts, language, deadline, tally, finished)
            call_started = time.monotonic()
            yield from collect(self._draft_round(drafts, everyone, language, deadline, stream=True, retry=False,
                                                 tally=tally), finished)
            return time.monotonic() - call_started
        groups = [everyone] if self.batch else [[i] for i in everyone]
        per_note_s = 0.0  # seconds one note took in this turn's calls (the retry estimate)
        for group in groups:
            if deadline - time.monotonic() < 1.0 or self._llm_failed(drafts):
                break  # out of time, or the model is down: the rest get template notes at once
            call_started = time.monotonic()
            rounds = self._draft_round(drafts, group, language, deadline, stream=True, retry=False, tally=tally)
            yield from collect(rounds, finished)
            per_note_s = max(per_note_s, (time.monotonic() - call_started) / len(group))
        return per_note_s

    def _fitting(self, drafts: list[Draft], language: str, deadline: float, tally: Tally,
                 finished: dict[int, Note]) -> Generator[NoteEvent, None, list[int]]:
        """The first notes, as many as the model writes at once in the time left at the speed it showed here; the
        others get their template notes now, so that the reply ends when those few are written."""
        prompts = [self._notes_prompt(Round(drafts, [i], language, deadline, True, False, Tally()),
                                      note_labels([display_title(d.request.item.title)])) for i, d in enumerate(drafts)]
        n, tally.planned_s = notes_that_fit(self.by_language.get(language, self.llm), prompts,
                                            8 + dict(self.style.tokens)[language], deadline - time.monotonic())
        for i in range(n, len(drafts)):
            drafts[i].problems.append(Finding(Problem.OUT_OF_TIME, f"{_OUT_OF_TIME}: only {n} fit in the budget here"))
            finished[i], tally.not_asked = self._template(drafts[i], language, i, []), tally.not_asked + 1
            yield NoteDone(i, finished[i])
        return list(range(n))

    def _rewrite_failed(
        self,
        drafts: list[Draft],
        language: str,
        deadline: float,
        tally: Tally,
        finished: dict[int, Note],
        per_note_s: float,
    ) -> Iterator[NoteEvent]:
        """Write every failed note once more when the time left covers it: all in ONE small call (batch), or one
        call per note (per item: each while the time left covers one more note at this turn's speed), or all at once
        (parallel: while the time left covers `rewrite_seconds` for them, the weak ones left out first).

        Without the time, the failed notes get their templates now rather than make the person wait. Samey notes
        and vague notes (true, but like another film's or about nothing of their own) ride along only when a call is
        made anyway.
        """
        left = [i for i in range(len(drafts)) if i not in finished and drafts[i].rewritten < MAX_REWRITES]
        failed, weak = [i for i in left if drafts[i].weak is None], [i for i in left if drafts[i].weak is not None]
        if not self.batch or failed and deadline - time.monotonic() >= per_note_s * (len(failed) + len(weak) + 0.5):
            failed = sorted(failed + weak)  # one call per note: each weak note is its own small call
        if not failed or not self.retry or self._llm_failed(drafts) or tally.out_of_time:
            return
        parallel = self._parallel(language)  # all rewrites at once: fewer notes than the first round, sooner done
        for group in [failed] if self.batch or parallel else [[i] for i in failed]:
            if parallel and deadline - time.monotonic() < rewrite_seconds(per_note_s, len(group), len(drafts)):
                group = [i for i in group if drafts[i].weak is None]  # the failed ones; the weak ones are shown
            cost = rewrite_seconds(per_note_s, len(group), len(drafts)) if parallel else \
                per_note_s * (len(group) + (0.5 if self.batch else 0.25))
            if not group:
                continue
            if deadline - time.monotonic() < max(2.0, cost):
                for i in group:
                    drafts[i].problems.append(_NO_TIME_LEFT)
                tally.out_of_time = True
                continue
            rounds = self._draft_round(drafts, group, language, deadline, stream=False, retry=True, tally=tally)
            yield from collect(rounds, finished)

    @staticmethod
    def _llm_failed(drafts: list[Draft]) -> bool:
        """True when an LLM call of this turn failed outright (error or time limit), not just a bad note."""
        return any(f.problem is Problem.LLM_FAILED for d in drafts for f in d.problems)

    def _parallel(self, language: str) -> bool:
        """True when the notes in this language are written one item a prompt, all prompts at once."""
        return not self.batch and can_stream_many(self.by_language.get(language, self.llm))

    def _draft_round(
        self,
        drafts: list[Draft],
        positions: list[int],
        language: str,
        deadline: float,
        stream: bool,
        retry: bool,
        tally: Tally | None = None,
    ) -> Iterator[NoteEvent]:
        """The notes at `positions` in ONE LLM call: one prompt for all, or (`_parallel`) a prompt of one item
        each, written at once by batched decoding; NoteDelta while each note is written, NoteDone for each one that
        passes the checks."""
        tally = tally if tally is not None else Tally()
        parallel = self._parallel(language)
        alone = [[i] for i in positions] if parallel else [positions]
        rounds = [Round(drafts, group, language, deadline, stream, retry, tally) for group in alone]
        labels = [note_labels([display_title(drafts[i].request.item.title) for i in group]) for group in alone]
        prompts = [self._notes_prompt(rnd, lab) for rnd, lab in zip(rounds, labels)]
        schema = notes_schema(labels[0], language, dict(self.style.min_chars), dict(self.style.max_chars))
        max_tokens = 8 + dict(self.style.tokens)[language] * len(alone[0])
        timeout = max(deadline - time.monotonic(), 1.0)
        usage: dict[str, Any] = {}
        call_started = time.monotonic()
        if retry:
            tally.retries += len(rounds)
        llm = self.by_language.get(language, self.llm)
        parsers = [NotesStreamParser(lab) for lab in labels]
        if parallel:  # even a single rewrite: the batched context holds the prompt's prefix
            avoid = [unwritable(told_item(d.request.item, d.focus), language, d.request.reasons)
                     for d in (drafts[g[0]] for g in alone)]
            kept = [d for d in drafts if d.done]  # notes of this answer already accepted
            blank = [note_names(d.request.item, liked_titles(d.request.reasons))  # each its own, as the measure blanks
                     for d in [*(drafts[g[0]] for g in alone), *kept]]
            rewrites = Rewrites(rounds, parsers, [], call_started, self._rewrite_call) if self.retry and not retry \
                else None  # a failed first draft is rewritten at once, beside the notes still being written
            for rnd in rounds:
                rnd.rewrites = rewrites
            shot = example_notes(prompts[0])  # the example's notes: never echoed, like the notes already kept
            pieces = stream_many_json(llm, prompts, schema, timeout, max_tokens, usage, self.gate, avoid,
                                      [d.text or "" for d in kept] + shot, blank + [()] * len(shot),
                                      rewrites.inbox if rewrites else None)
        else:
            pieces = numbered(stream_json_text(llm, prompts[0], schema, timeout, max_tokens, usage, self.gate))
        try:
            stopped = yield from self._read_answers(rounds, pieces, parsers)
        except TastebudError as exc:  # LLMError, or the model could not load (ModelUnavailable)
            spent = time.monotonic() >= deadline - 0.05  # the backend's own time limit is the budget's end
            tally.out_of_time = tally.out_of_time or spent
            for rnd in rounds:
                rnd.fail_unended(_BUDGET_SPENT if spent else Finding(Problem.LLM_FAILED, f"{_LLM_FAILED}: {exc}"))
            return
        finally:
            pieces.close()  # stops generation now (and frees the model) when the loop was left early
            if rounds[0].rewrites is not None:
                rounds[0].rewrites.withdraw_unsent()
            tally.add_call(usage, time.monotonic() - call_started, sum(len(rnd.raw) for rnd in rounds))
        if not stopped:
            for rnd in rounds:
                fail_unwritten(rnd)

    def _rewrite_call(self, rnd: Round) -> tuple[Any, NotesStreamParser, list[str], list[str]]:
        """A one-note rewrite round's prompt, parser, words to avoid and own names (`Rewrites`)."""
        draft = rnd.drafts[rnd.positions[0]]
        request, labels = draft.request, note_labels([display_title(draft.request.item.title)])
        return (self._notes_prompt(rnd, labels), NotesStreamParser(labels),
                unwritable(told_item(request.item, draft.focus), rnd.language, request.reasons) + draft.failed_words(),
                note_names(request.item, liked_titles(request.reasons)))

    def _notes_prompt(self, rnd: Round, labels: list[str]) -> Any:
        """The chat messages asking for the round's notes: one compact sheet per item with its own reasons, what to
        build the note around, the asked-for qualities its facts support and those they do not.

        Reasons every item of the answer shares are dealt out, one per item in turn (a single shared reason to
        every other item): given the same reasons under every item, the 1.5B model wrote the same note five times
        ("X's Title is a cozy heartwarming film with a rainy evening pick for the kids"); shown the notes already
        written, it copied them."""
        from prompts import load_prompt

        items = [rnd.drafts[i].request.item for i in rnd.positions]
        every = [list(dict.fromkeys(clean_reason(r) for r in d.request.reasons[:MAX_REASONS])) for d in rnd.drafts]
        reasons = [every[i] for i in rnd.positions]
        shared = [r for r in every[0] if all(r in own for own in every[1:])] if len(every) > 1 else []
        deck = shared if len(shared) != 1 else [*shared, ""]
        genre_sets = [set(item.genres) for item in items]
        common = frozenset(set.intersection(*genre_sets)) if len(genre_sets) > 1 else frozenset()
        qualities = QualityLexicon.served()
        noun = schema.noun.en if (schema := catalog_schema()) is not None else "film"
        sheets = []
        for k, item in enumerate(items):
            asked = qualities.asked(rnd.drafts[rnd.positions[k]].request.reasons)
            sheets.append({
                "n": k + 1,
                "label": labels[k],
                "title": display_title(item.title),
                "facts": prompt_facts(told_item(item, rnd.drafts[rnd.positions[k]].focus), common),
                "reasons": [r for r in reasons[k] if r not in shared] + deal(deck, rnd.positions[k]),
                "focus": rnd.drafts[rnd.positions[k]].focus,
                "may": deal([qualities.word(q, rnd.language) for q in asked if qualities.holds(q, item)],
                             rnd.positions[k]),
                "never": [qualities.word(q, rnd.language) for q in asked if not qualities.holds(q, item)],
                # why the last draft was rejected, in general terms
                "avoid": retry_hints(rnd.drafts[rnd.positions[k]].problems, noun),
            })
        name, extra = self._prompt_name()
        return load_prompt(name).render(sheets=sheets, language=rnd.language, **extra)

    def fixed_prompts(self, languages: Sequence[str] = ("zh", "en")) -> list[Any]:
        """The notes prompt with no items, in these languages: its fixed prefix, for the LLM to pre-read."""
        from prompts import load_prompt

        name, extra = self._prompt_name()
        return [load_prompt(name).render(sheets=[], language=lang, **extra) for lang in languages]

    def fixed_prefixes(self) -> list[tuple[BaseChatModel, list[Any]]]:
        """Each notes model with the fixed prompt prefixes it should pre-read (its own language last)."""
        if self.llm is None:
            return []
        own = [(model, self.fixed_prompts([lang])) for lang, model in self.by_language.items()]
        rest = [lang for lang in ("zh", "en") if lang not in self.by_language]
        return own + [(self.llm, self.fixed_prompts(rest))]

    def _prompt_name(self) -> tuple[str, dict[str, str]]:
        """The notes prompt of the catalog served (this style's): films' own, or the schema catalog's with its noun."""
        schema = catalog_schema()
        if schema is None:
            return self.style.prompt, {}
        return self.style.catalog_prompt, {"noun": schema.noun.en, "nouns": schema.noun.en_plural}

    def _read_answers(
        self, rounds: list[Round], pieces: Iterator[tuple[int, str]], parsers: list[NotesStreamParser]
    ) -> Generator[NoteEvent, None, bool]:
        """Read the streamed answers (round index, piece), checking each note as it ends; returns True when the time
        budget stopped them."""
        deadline = rounds[0].deadline
        for k, piece in pieces:
            rnd = rounds[k]
            rnd.raw.append(piece)
            for kind, j, text in parsers[k].feed(piece):
                yield from self._on_parsed(rnd, kind, j, text)
            if time.monotonic() > deadline + 0.25 and any(len(r.ended) < len(r.positions) for r in rounds):
                # The budget is spent (a local backend stops itself at the deadline and says what the call
                # had done; this is for the others): stop the call, keep the notes that passed.
                rounds[0].tally.out_of_time = True
                for r in rounds:
                    r.fail_unended(_BUDGET_SPENT)
                return True
        return False

    def _on_parsed(self, rnd: Round, kind: str, k: int, text: str) -> Iterator[NoteEvent]:
        """A NoteDelta for a piece of note k of the round; at its end, its NoteDone when it passes the checks."""
        if k >= len(rnd.positions) or k in rnd.ended:
            return
        i = rnd.positions[k]
        if kind == "delta":
            if rnd.stream:
                yield NoteDelta(i, text)
            return
        rnd.ended.add(k)
        drafts = rnd.drafts
        others = [r for j, d in enumerate(drafts) if j != i for r in d.request.reasons]
        others += [PLOT_MARK + d.request.item.plot for j, d in enumerate(drafts) if j != i and d.request.item.plot]
        written = [(d.text, d.request.item) for j, d in enumerate(drafts) if j != i and d.done]
        answer = [d.request.item for d in drafts]
        outcome = self._accept(drafts[i], text, rnd.language, rnd.retry, others, written, answer)
        if outcome is not None:
            yield NoteDone(i, outcome)
        else:
            rnd.tally.checks_failed += 1
            if rnd.rewrites is not None:
                rnd.rewrites.now(rnd, i)

    def _accept(self, draft: Draft, text: str, language: str, retry: bool, others: Sequence[str],
                written: Sequence[tuple[str, Item]] = (), answer: Sequence[Item] = ()) -> Note | None:
        """The Note when the draft text passes the checks; else None, with the problems recorded.

        `written`: the notes accepted for the other items of this answer, with their items (a copy says nothing of its
        own film); `answer`: every item of the answer (a genre the others share is nothing of this one's own).
        """
        text, item = trim_note(without_json_tail(re.sub(r"\s+", " ", text)), language), draft.request.item
        if language == "zh":  # names as on the sheet, a made-up one's role taken out, genres in Chinese
            text = mended_zh(text, item, liked_titles(draft.request.reasons))
        text = with_right_roles(text, item)  # "Kevin Costner 执导" of The Untouchables: its director is Brian De Palma
        if len(text) >= dict(self.style.max_chars)[language] * 0.95 and text[-1:] not in TERMINAL:
            text = cut_to_sentence(text, language)  # stopped by the schema's length limit mid-sentence
            if text[-1:] not in TERMINAL:  # ... inside its only sentence: ended at its last clause
                text = cut_to_clause(text, language, lambda head: long_enough(head, language))
        problems = self._problems(text, draft, language, others, written)
        draft.problems.extend(problems)  # a sentence that fails (or is samey) is left out when the rest is a note
        cuts = [*sentence_drops(text, language), *clause_drops(text, language)] if problems else []
        true = ([] if problems else [text]) + [part for part in cuts if long_enough(
            part, language) and not self._problems(part, draft, language, others, written)]
        if not true:
            return None
        soft = [weakness(part, draft.request.item, language, written, answer) for part in true]
        best = next((k for k, finding in enumerate(soft) if finding is None), 0)
        text = true[best]
        note = Note(item_id=item.id, text=text, why=why_chips(draft.request.reasons),
                    source="llm-retry" if retry else "llm", problems=draft.messages())
        if soft[best] is not None:  # true but samey or vague: rewritten while time allows, else shown (never a template)
            draft.problems.append(soft[best])
            draft.weak = replace(note, problems=draft.messages())
            return None
        draft.text, draft.done = text, True
        return note

    def _problems(self, text: str, draft: Draft, language: str, others: Sequence[str],
                  written: Sequence[tuple[str, Item]]) -> list[Finding]:
        """What makes this draft text untrue or unusable (the checker's findings, a cut-off, a copy of a note)."""
        problems = self.checker.findings(text, draft.request.item, language, draft.request.reasons, others)
        if len(text) >= dict(self.style.max_chars)[language] * 0.95 and text[-1:] not in TERMINAL:
            problems.append(Finding(Problem.CUT_OFF, "cut off mid-sentence (too long)"))
        if any(fold_name(text) == fold_name(other) for other, _ in written):
            problems.append(Finding(Problem.REPEATED, "repeats another film's note word for word"))
        return problems

    def _template(self, draft: Draft, language: str, position: int, written: list[tuple[str, Item]]) -> Note:
        """The template note of a draft that never passed (its shape by the card's place and the notes written)."""
        item, reasons = draft.request.item, draft.request.reasons
        text = template_note(item, reasons[:MAX_REASONS], language, position, written)
        return Note(item_id=item.id, text=text, why=why_chips(reasons), source="template", problems=draft.messages())

    def describe_item(self, item: Item, language: str = "en", with_llm: bool = False) -> str:
        """The item's catalog facts written out, plus (with_llm) one checked LLM sentence about it."""
        text = describe_item(item, language)
        if not with_llm or self.llm is None:
            return text
        language = note_language(language)
        drafts = [Draft(NoteRequest(item, ()))]
        sentence = None
        deadline = time.monotonic() + self.timeout_s
        for event in self._draft_round(drafts, [0], language, deadline, stream=False, retry=False):
            if isinstance(event, NoteDone):
                sentence = event.note.text
        return f"{sentence}\n\n{text}" if sentence else text


def llm_failed(note: Note) -> bool:
    """Whether a template stood in for this note because the language model failed (an error, not a rejected draft)."""
    return note.source == "template" and any(p.startswith(_LLM_FAILED) for p in note.problems)
