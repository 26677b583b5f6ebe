"""The working state of one notes step: each item's draft, the running counts, and one LLM call's round."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatbot.turn.notes.checker import Finding, Problem, shares_skeleton
from chatbot.turn.notes.measures import could_be_specific, specific_facts
from chatbot.turn.notes.note import Note, NoteDone, NoteEvent, NoteRequest, NotesStats
from chatbot.turn.notes.qualities import QualityLexicon
from retrieval.types import Item

_SAMEY = "repeats another film's note with only the title and names changed"
_VAGUE = "names nothing only this item has (no person, plot, award or genre of its own)"


@dataclass
class Draft:
    """Working state of one item's note during a turn."""

    request: NoteRequest
    focus: str = ""  # what the note is built around (`facts.note_focus`), chosen once for the whole answer
    text: str = ""
    done: bool = False
    problems: list[Finding] = field(default_factory=list)
    weak: Note | None = None  # a draft that passed every honesty check but reads like another film's note, or
    # names nothing of its own item: shown when no better one comes (a rewrite is tried only while time allows; a
    # true weak note beats a template)
    rewritten: int = 0  # rewrites asked for so far (`Rewrites`: one while the others are written; then one more)

    def failed_words(self) -> list[str]:
        """The words earlier drafts were turned down for (English words in a Chinese note): a rewrite is kept from them."""
        return list(dict.fromkeys(w for f in self.problems for w in f.words))

    def messages(self) -> tuple[str, ...]:
        """Why earlier drafts were rejected, in words (what a Note keeps)."""
        return tuple(f.message for f in self.problems)


@dataclass
class Tally:
    """Running counts of one notes step (becomes NotesStats)."""

    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    prompt_eval_tokens: int = 0
    output_tokens: int = 0
    llm_s: float = 0.0
    checks_failed: int = 0
    out_of_time: bool = False
    not_asked: int = 0
    planned_s: float | None = None

    def add_call(self, usage: dict[str, Any], seconds: float, pieces: int) -> None:
        """Count one LLM call from what the backend reported (a call stopped early reports nothing: its streamed
        pieces, one token each on the local backends, count as its output)."""
        self.calls += 1
        self.llm_s += seconds
        evaluated = int(usage.get("prompt_eval_tokens", usage.get("input_tokens")) or 0)
        self.prompt_tokens += max(int(usage.get("input_tokens") or 0), evaluated)  # a stopped call: what it read
        self.prompt_eval_tokens += evaluated
        self.output_tokens += int(usage.get("output_tokens") or pieces)

    def stats(self, finished: dict[int, Note], started: float) -> NotesStats:
        """The figures of a notes step that began at `started` (monotonic seconds) and ended with these notes."""
        sources = [n.source for n in finished.values()]
        return NotesStats(
            notes=len(finished), llm_calls=self.calls, retries=self.retries,
            prompt_tokens=self.prompt_tokens, prompt_eval_tokens=self.prompt_eval_tokens,
            output_tokens=self.output_tokens, llm_s=round(self.llm_s, 3),
            seconds=round(time.monotonic() - started, 3), first_pass=sources.count("llm"),
            retry_pass=sources.count("llm-retry"), templates=sources.count("template"),
            checks_failed=self.checks_failed, out_of_time=self.out_of_time, not_asked=self.not_asked,
            planned_s=self.planned_s,
        )


@dataclass
class Round:
    """One LLM call writing the notes of the drafts at `positions`, and what has come back of it so far."""

    drafts: list[Draft]
    positions: list[int]
    language: str
    deadline: float  # monotonic seconds
    stream: bool  # pass each note's text on as it arrives
    retry: bool  # a rewrite of rejected drafts
    tally: Tally
    ended: set[int] = field(default_factory=set)  # indexes into `positions` whose note was read to its end
    raw: list[str] = field(default_factory=list)  # the answer's text, piece by piece
    rewrites: Rewrites | None = None  # a failed note of it is rewritten at once, beside the others being written

    def fail_unended(self, finding: Finding) -> None:
        """Record a problem on every draft of the round whose note never ended."""
        for k, i in enumerate(self.positions):
            if k not in self.ended:
                self.drafts[i].problems.append(finding)


@dataclass
class Rewrites:
    """The first drafts of a batched round that fail, each rewritten at once in the sequence it frees while the
    other notes are still being written (waiting for the whole round cost a second round's time, ~3 s, in the
    answers that had one): the round's pieces and parsers grow by one per rewrite, its prompt put in `inbox`,
    which the batched call reads between pieces."""

    rounds: list[Round]  # the call's rounds, one per answer being written (rewrites appended)
    parsers: list[Any]  # their parsers (NotesStreamParser), likewise
    inbox: list[tuple[Any, list[str], list[str]]]  # (prompt, avoid, blank) of each rewrite, for the batched call
    started: float  # when the call began (monotonic seconds)
    make: Callable[[Round], tuple[Any, Any, list[str], list[str]]]  # a rewrite's prompt, parser, avoid, blank

    def now(self, rnd: Round, i: int) -> None:
        """Rewrite draft i of a first-draft round at once, when the time left covers what its first draft took."""
        draft, now = rnd.drafts[i], time.monotonic()
        if rnd.retry or draft.rewritten or rnd.tally.out_of_time or rnd.deadline - now < max(2.0, now - self.started):
            return
        draft.rewritten += 1
        again = Round(rnd.drafts, [i], rnd.language, rnd.deadline, False, True, rnd.tally)
        prompt, parser, avoid, blank = self.make(again)
        self.rounds.append(again)
        self.parsers.append(parser)
        self.inbox.append((prompt, avoid, blank))
        rnd.tally.retries += 1

    def withdraw_unsent(self) -> None:
        """Forget the rewrites asked for after the call had ended (its reader was a piece behind): the round after
        the call writes them (they are the last asked: the call takes them in order)."""
        unsent = len(self.inbox)
        if unsent:
            for again in self.rounds[-unsent:]:
                for i in again.positions:
                    again.drafts[i].rewritten -= 1
                again.tally.retries -= 1
            del self.rounds[-unsent:], self.parsers[-unsent:], self.inbox[:]


def collect(events: Iterator[NoteEvent], finished: dict[int, Note]) -> Iterator[NoteEvent]:
    """Pass the events on, keeping each final note in `finished` by position."""
    for event in events:
        yield event
        if isinstance(event, NoteDone):
            finished[event.position] = event.note


def fail_unwritten(rnd: Round) -> None:
    """After the stream ended: notes the parser never saw finish (garbage, missing notes) count as failed."""
    try:
        shape_ok = isinstance(json.loads("".join(rnd.raw)), dict)
    except json.JSONDecodeError:
        shape_ok = False
    for k, i in enumerate(rnd.positions):
        if k not in rnd.ended:
            if shape_ok:
                rnd.drafts[i].problems.append(Finding(Problem.NO_NOTE, "no note was written for it"))
            else:
                rnd.drafts[i].problems.append(Finding(Problem.NOT_JSON, "the answer was not the expected JSON"))
            rnd.tally.checks_failed += 1


STEP_FIXED = 1.5  # a batched decoding step's fixed cost, in notes' worth (1.5B, 2 cores: ~10 tokens/s alone, ~19 for 5)


def rewrite_seconds(round_s: float, notes: int, first: int) -> float:
    """The seconds a parallel round rewriting `notes` notes should take, when the first round of `first` notes took
    `round_s`: each step of batched decoding (and each item's lines read) costs a fixed part plus a part per note,
    so one rewrite takes about a third of a first round of five, not all of it."""
    return round_s * (STEP_FIXED + notes) / (STEP_FIXED + max(first, notes))


FIT_SHARE = 0.8  # of the time left, what the first drafts may be planned to take (checks, streaming, slow steps)


def notes_that_fit(llm: Any, prompts: list[Any], max_tokens: int, seconds: float) -> tuple[int, float | None]:
    """How many of these note prompts, the first ones, the model should finish within `seconds` written at once,
    by the speed it has shown on this machine (`round_seconds`), and the seconds it should take them; all of them
    (and None) when it cannot tell; at least one."""
    estimate = getattr(llm, "round_seconds", None)
    if not callable(estimate):
        return len(prompts), None
    for n in range(len(prompts), 0, -1):
        seconds_n = estimate(prompts[:n], max_tokens)
        if seconds_n is None or seconds_n <= seconds * FIT_SHARE or n == 1:
            return n, seconds_n
    return 0, None


def weakness(text: str, item: Item, language: str, written: Sequence[tuple[str, Item]],
             answer: Sequence[Item]) -> Finding | None:
    """Why a true note is still weak: it shares a skeleton with a note written, or names nothing of its own."""
    if any(shares_skeleton(text, item, other, other_item, language) for other, other_item in written):
        return Finding(Problem.SAMEY, _SAMEY)
    if could_be_specific(item) and not specific_facts(text, item, answer, language, QualityLexicon.served()):
        return Finding(Problem.VAGUE, _VAGUE)
    return None
