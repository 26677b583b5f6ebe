"""Walking the spans of a message clause by clause: the scope of a negation ("nothing scary or gory, but funny"),
which genres and people are wanted or ruled out, references to the last list, cues, and the situation words."""

from __future__ import annotations

import re

from chatbot.turn.understand.lexicon import Effect, Lexicon
from chatbot.turn.understand.message import HARD_BREAK, WORD
from chatbot.turn.understand.reading import Reading, add_new
from chatbot.turn.understand.spans import Span
from retrieval.text import has_cjk, is_cjk_char

_POINTING = re.compile(r"\b(?:it|that|this|those|these|them)\b|[这那]")  # "seen it", "more like that", "那部"
_REFERENCE_ENDERS = {"please", "pls", "then", "again", "instead", "too", "and", "but", "or", "one"}
_REFERENCE_LEADERS = ("the", "that", "your", "ur", "this")
NEGATION_REACH = 3  # words a negation reaches over ("no *really* scary films"); 0 after a soft break ("no gore or ...")


def read_clauses(text: str, spans: list[Span], reading: Reading, lexicon: Lexicon) -> list[tuple[str, Effect]]:
    """Fill the reading from its spans in text order; return the refinements found, in order, for the caller."""
    walk = _ClauseWalk(text, spans, reading, lexicon)
    for i, span in enumerate(spans):
        walk.step(i, span)
    return walk.effects


class _ClauseWalk:
    """The state of one walk: whether a negation is in force, and where its words ended."""

    def __init__(self, text: str, spans: list[Span], reading: Reading, lexicon: Lexicon) -> None:
        self.text, self.spans, self.reading, self.lexicon = text, spans, reading, lexicon
        self.negatable = {e.name: e.effect for e in lexicon.data.negatable}
        self.refinements = {e.name: e.effect for e in lexicon.data.refinements}
        self.cancelled_by_negation = {e.name for e in lexicon.data.refinements if e.negatable}
        self.effects: list[tuple[str, Effect]] = []
        self.negated = False
        self.accepting = False  # "I don't mind old films": a vague word after it bounds nothing
        self.last_neg_end = -1  # end of the latest negation-related span (cue, soft break or a negated target)
        self.pending_soft = False
        self.prev_end = 0

    def step(self, i: int, span: Span) -> None:
        """Read one span in the light of the negation in force."""
        self._close_scope(span)
        self.prev_end = span.end
        kinds = span.kinds()
        if self.pending_soft and "refinement" in kinds:  # "not a musical and isn't too long": a new wish
            self._end_negation()
        if self._scope_word(span, kinds) or self._constraint_word(span, kinds) or self._item_word(i, span, kinds):
            return
        if not self.negated:  # "without the kids", "not sad": nothing to add
            self._situation_word(span, kinds)

    def _end_negation(self) -> None:
        """A clause ended: no negation (or acceptance) is in force."""
        self.negated, self.pending_soft, self.accepting = False, False, False

    def _close_scope(self, span: Span) -> None:
        """End the negation at a hard break, or when too many words stand between it and this span."""
        if HARD_BREAK.search(self.text[self.prev_end:span.start]):
            self._end_negation()
        if (self.negated or self.accepting) and self.last_neg_end >= 0:
            gap = self.text[self.last_neg_end:span.start]
            gap_words = len(WORD.findall(gap)) + sum(1 for c in gap if is_cjk_char(c))
            if gap_words > (0 if self.pending_soft else NEGATION_REACH):
                self._end_negation()

    def _scope_word(self, span: Span, kinds: set[str]) -> bool:
        """Breaks, negations and injection attempts; True when the span was one."""
        reading = self.reading
        if "break" in kinds and not kinds & {"genre", "mood", "quality"}:
            self._end_negation()
        elif "soft_break" in kinds:
            if self.negated:
                self.pending_soft = True
                self.last_neg_end = span.end
        elif "injection" in kinds:
            reading.injection = True
        elif "acceptance" in kinds:
            self.negated, self.accepting, self.pending_soft, self.last_neg_end = False, True, False, span.end
        elif "negation" in kinds:
            self.negated, self.pending_soft, self.last_neg_end = True, False, span.end
            reading.negation_seen = True
            if "cue" in kinds:  # "don't like", "hate": a negation and a dislike at once
                reading.cues.add(span.payload("cue"))
        else:
            return False
        return True

    def _constraint_word(self, span: Span, kinds: set[str]) -> bool:
        """Refinements, negated refinements ("nothing violent"), genres and people; True when the span was one."""
        if "refinement" in kinds:
            name = span.payload("refinement")
            effect, turned = self.refinements[name], self.refinements[name].opposite()
            if self.negated and name in self.cancelled_by_negation:  # "none of us is squeamish"
                pass
            elif self.accepting and turned is not None:  # "I don't mind old films": no bound
                self.reading.notes.append(f'"{self.text[span.start:span.end]}" is fine with you, so it sets no limit')
            elif self.negated and turned is not None:  # "no old movies"
                self.effects.append((f"not {name}", turned))
            else:
                self.effects.append((name, effect))
        elif self.negated and "negatable" in kinds:
            name = span.payload("negatable")
            self.effects.append((f"no {name}", self.negatable[name]))
            self.last_neg_end, self.pending_soft = span.end, False
        elif "genre" in kinds:
            genres = list(span.payload("genre"))
            add_new(self.reading.genres_excluded if self.negated else self.reading.genres, genres)
            word = self.text[span.start:span.end]
            if not self.negated:  # "a horror" (by name) rather than "something with dragons"
                named = word + (self.text[span.end:span.end + 2] if has_cjk(word) else "")  # "恐怖" + "片"
                add_new(self.reading.genres_by_name, [g for g in genres if names_genre(named, g)])
            else:
                self.reading.negated_spans.append(span)
                self.reading.notes.append(f'"{word}" after a negation: no {", ".join(genres)}')
                self.last_neg_end, self.pending_soft = span.end, False
        elif "person" in kinds:  # "with Tom Hanks", "nothing by Woody Allen"
            add_new(self.reading.people_none if self.negated else self.reading.people, [span.payload("person")])
            if self.negated:
                self.last_neg_end, self.pending_soft = span.end, False
        elif kinds & {"language", "country"}:  # "a film from Japan", "nothing American", 不要美国电影
            self._origin_word(span, "language" if "language" in kinds else "country")
        else:
            return False
        return True

    def _item_word(self, i: int, span: Span, kinds: set[str]) -> bool:
        """Ordinals, titles, cues ("more like", "seen it") and pronouns; True when the span was one."""
        reading = self.reading
        if "ordinal" in kinds:
            if is_reference(self.text, self.spans, i, self.lexicon.data.references.nouns.zh):
                (reading.rejected_refs if self.negated else reading.references).append(span.payload("ordinal"))
        elif "title" in kinds:
            if self.negated:
                reading.titles[span.payload("title")] = "disliked"
        elif "cue" in kinds:
            cue = span.payload("cue")
            reading.cues.add("disliked" if cue == "liked" and self.negated else cue)
            if _POINTING.search(self.text[span.start:span.end]):
                reading.pronoun = True  # "seen it", "more like that"
        elif "pronoun" in kinds:
            reading.pronoun = True
        else:
            return False
        return True

    def _situation_word(self, span: Span, kinds: set[str]) -> None:
        """Companions, mood, qualities and occasion."""
        reading = self.reading
        if "companion" in kinds:
            add_new(reading.companions, [span.payload("companion")])
        elif "mood" in kinds:
            reading.mood = span.payload("mood")
        elif "quality" in kinds:
            add_new(reading.wishes, [span.payload("quality")])
        elif "occasion" in kinds:
            reading.occasion = span.payload("occasion")

    def _origin_word(self, span: Span, kind: str) -> None:
        """A film language or country: wanted, or ruled out after a negation."""
        reading, values = self.reading, list(span.payload(kind))
        if self.negated:
            add_new(reading.languages_none if kind == "language" else reading.countries_none, values)
            self.last_neg_end, self.pending_soft = span.end, False
        else:
            add_new(reading.languages if kind == "language" else reading.countries, values)


def names_genre(word: str, genre: str) -> bool:
    """True when a genre word is the genre's own name ("horror", "comedies", "恐怖片", with the two characters after
    a Chinese word) and not a side word ("slasher", "dragons", "丧尸")."""
    name = genre.lower()
    stem = name[:-1] if len(name) > 3 else name  # "comed" in "comedies"
    return stem in word or (has_cjk(word) and ("片" in word or "电影" in word))


def is_reference(text: str, spans: list[Span], i: int, nouns_zh: list[str]) -> bool:
    """An ordinal counts as a reference when a noun follows ("second one", "第二部") or "the" precedes it at a clause end."""
    span = spans[i]
    word = text[span.start:span.end]
    if has_cjk(word):
        after = text[span.end:span.end + 3]
        return any(n in after for n in nouns_zh) or not after.strip() or bool(HARD_BREAK.match(after)) \
            or after.startswith("的")
    if word.startswith("#") or word.startswith("number"):
        return True
    nxt = spans[i + 1] if i + 1 < len(spans) else None
    between = text[span.end:nxt.start] if nxt else ""
    if nxt is not None and "ref_noun" in nxt.kinds() and not between.strip():
        return True
    before = text[max(0, span.start - 12):span.start].split()
    after_words = WORD.findall(text[span.end:span.end + 20])
    clause_end = not after_words or bool(HARD_BREAK.match(text[span.end:].lstrip() or "."))
    return bool(before) and before[-1] in _REFERENCE_LEADERS and (clause_end or after_words[0] in _REFERENCE_ENDERS)
