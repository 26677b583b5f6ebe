"""The streamed JSON answer of the notes call: its schema, its keys, and a parser that reports each note as it
arrives (`{"1":"note","2":...}`, numbered keys anchoring each note to its film)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from chatbot.llm.gate import NOTES, LLMGate, PersonLeft, held, person_left
from chatbot.turn.notes.note import LLM_NOTE_CHARS, MIN_NOTE_CHARS

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


class NotesStreamParser:
    """Reads `{"1. Title": "note", "2. Title": "note"}` as it streams; reports each note's text as it arrives.

    A note's position is its label's index when the label is known (any key order works), else its order.
    """

    def __init__(self, labels: Sequence[str]) -> None:
        """Start before the object; labels are the keys in item order."""
        self.index = {label: k for k, label in enumerate(labels)}
        self.state = "before"  # before -> key_next -> in_key -> value_next -> in_value -> key_next ... -> after
        self.position = -1
        self.n_values = 0
        self.key: list[str] = []
        self.current: list[str] = []
        self.escape = ""  # a pending escape sequence ("\\", "\\u12")

    def feed(self, chunk: str) -> list[tuple[str, int, str]]:
        """Events for this chunk: ("delta", position, text) and ("end", position, full text)."""
        events: list[tuple[str, int, str]] = []
        delta: list[str] = []
        for ch in chunk:
            if self.state in ("in_key", "in_value"):
                if self.escape:
                    self.escape += ch
                    decoded = self._decode_escape()
                    if decoded is None:
                        continue
                    self.escape = ""
                    self._add(decoded, delta)
                elif ch == "\\":
                    self.escape = ch
                elif ch == '"':
                    if self.state == "in_key":
                        self.state = "value_next"
                    else:
                        if delta:
                            events.append(("delta", self.position, "".join(delta)))
                            delta.clear()
                        events.append(("end", self.position, "".join(self.current)))
                        self.state = "key_next"
                else:
                    self._add(ch, delta)
            elif self.state == "before":
                if ch == "{":
                    self.state = "key_next"
            elif self.state == "key_next":
                if ch == '"':
                    self.state, self.key = "in_key", []
                elif ch == "}":
                    self.state = "after"
            elif self.state == "value_next":
                if ch == '"':
                    label = "".join(self.key)
                    self.position = self.index.get(label, self.n_values)
                    self.n_values += 1
                    self.state, self.current = "in_value", []
        if delta and self.state == "in_value":
            events.append(("delta", self.position, "".join(delta)))
        return events

    def _add(self, text: str, delta: list[str]) -> None:
        """Add decoded text to the key or the note being read."""
        if self.state == "in_key":
            self.key.append(text)
        else:
            self.current.append(text)
            delta.append(text)

    def _decode_escape(self) -> str | None:
        """The character of a complete escape sequence, or None while it is incomplete."""
        seq = self.escape
        if seq[1] == "u":
            if len(seq) < 6:
                return None
            try:
                return chr(int(seq[2:6], 16))
            except ValueError:
                return ""
        return {"n": " ", "t": " ", "r": "", "b": "", "f": "", "/": "/", '"': '"', "\\": "\\"}.get(seq[1], seq[1])


def example_notes(prompt: Any) -> list[str]:
    """The notes of a rendered notes prompt's example shot: what no note may echo (the 1.5B wrote "<director>
    directs <lead> in a crime thriller: the tense, after-dark kind of film that you asked for" from the example's
    Collateral note); [] when its answers are not notes JSON."""
    import json

    out: list[str] = []
    for _, answer in getattr(prompt, "examples", ()):
        try:
            notes = json.loads(answer)
        except ValueError:
            continue
        out += [v for v in notes.values() if isinstance(v, str)] if isinstance(notes, dict) else []
    return out


def note_labels(titles: Sequence[str]) -> list[str]:
    """The JSON keys of the notes: "1", "2", ..., one per item, as numbered in the prompt (a key is generated
    token by token like any text: "1. Toy Story" cost ~5 more tokens a note than "1")."""
    return [str(k) for k in range(1, len(titles) + 1)]


def notes_schema(labels: Sequence[str], language: str, min_chars: dict[str, int] | None = None,
                 max_chars: dict[str, int] | None = None) -> dict[str, Any]:
    """JSON schema of the answer: one bounded note string under each item's label, in order."""
    # minLength: with compact JSON the model once closed every note after one character
    note = {"type": "string", "minLength": (min_chars or MIN_NOTE_CHARS)[language],
            "maxLength": (max_chars or LLM_NOTE_CHARS)[language]}
    return {
        "type": "object",
        "properties": {label: note for label in labels},
        "required": list(labels),
        "additionalProperties": False,
    }


CARDS_PAUSE_S = 1.0  # the longest pause between two note pieces while other turns compute their cards


def stream_json_text(
    model: BaseChatModel, messages: Any, schema: dict, timeout_s: float, max_tokens: int, usage: dict | None = None,
    gate: LLMGate | None = None,
) -> Generator[str, None, None]:
    """The raw text of a schema-constrained answer, piece by piece (LLMError on failure, timeout, or when the
    `gate` stays busy with other calls for the whole `timeout_s`)."""
    from chatbot.llm import stream_text

    with held(gate, NOTES, timeout_s) as waited:
        for piece in stream_text(model, messages, max(timeout_s - waited, 1.0), schema=schema, max_tokens=max_tokens,
                                 usage=usage):
            if person_left():  # nobody reads these notes any more: free the LLM for the others
                raise PersonLeft("the person left while their notes were being written")
            if gate is not None:  # another person's cards come first: the decoding pauses while they are made
                gate.yield_to_cards(CARDS_PAUSE_S)
            yield piece


def stream_many_json(
    model: BaseChatModel, prompts: list[Any], schema: dict, timeout_s: float, max_tokens: int,
    usage: dict | None = None, gate: LLMGate | None = None, avoid: list[list[str]] | None = None,
    distinct: list[str] | None = None, blank: Sequence[Sequence[str]] = (), more: list[Any] | None = None,
) -> Generator[tuple[int, str], None, None]:
    """The raw text of several schema-constrained answers written at once, as (prompt index, piece), each kept
    from the words of its `avoid` list (`more`: prompts added while reading, see `stream_many_text`); the same
    gate, pauses and errors as `stream_json_text`."""
    from chatbot.llm import stream_many_text

    with held(gate, NOTES, timeout_s) as waited:
        for k, piece in stream_many_text(model, prompts, max(timeout_s - waited, 1.0), schema=schema,
                                         max_tokens=max_tokens, usage=usage, avoid=avoid,
                                         distinct=distinct, blank=blank, more=more):
            if person_left():
                raise PersonLeft("the person left while their notes were being written")
            if gate is not None:
                gate.yield_to_cards(CARDS_PAUSE_S)
            yield k, piece


def numbered(pieces: Generator[str, None, None]) -> Generator[tuple[int, str], None, None]:
    """The pieces of one call as the answer of round 0; closing this closes the call."""
    try:
        for piece in pieces:
            yield 0, piece
    finally:
        pieces.close()
