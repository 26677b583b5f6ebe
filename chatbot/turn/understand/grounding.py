"""Grounding what the LLM proposes in the words of the message: a bound, an exclusion or a person the model reads
into a message is used only when a span of the message supports it (the constraint reader found it, or the
number stands next to the field's unit, the genre word after a negation, the name in the text). Where the reader
read the same field itself, the reader wins."""

from __future__ import annotations

import re
from functools import cached_property

from chatbot.turn.understand.bounds import constraint_reader
from chatbot.turn.understand.lexicon import Lexicon
from chatbot.turn.understand.message import HARD_BREAK, WORD
from chatbot.turn.understand.reading import Reading
from retrieval.text import fold, has_cjk

_NEGATION_WORDS = 4  # English words a negation may stand before the genre word it rules out ("no *really* scary")
_NEGATION_CHARS = 6  # the same for Chinese characters ("不要太恐怖的")
BOUND_SLOTS: tuple[str, ...] = ("year_min", "year_max", "runtime_min", "runtime_max", "max_age_rating")


class Grounds:
    """What one message can support: its quantities, genre words after negations, and the names in it."""

    def __init__(self, reading: Reading, lexicon: Lexicon, newest_year: int) -> None:
        self.reading = reading
        self.text = reading.text
        self.lexicon = lexicon
        self.newest_year = newest_year

    @cached_property
    def _quantities(self) -> list[tuple[str, float | None, float | None]]:
        """(field, lo, hi) of every quantity in the message, comparator or not ("two hours", "1985", "PG-13")."""
        return [(q.field, q.lo, q.hi) for q in constraint_reader().finder.find(self.text, self.newest_year)]

    def bound(self, slot: str, value: object) -> bool:
        """True when the message states a number for this bound: the reader read it, or a quantity of the field with
        that value (one step off for a strict "before"/"after") stands in the message."""
        reader = constraint_reader()
        field = reader.grammar.field_of_slot(slot)
        if field is None:
            return False
        found = self.reading.constraints
        if found is not None and any(b.slot == slot and b.value == value for b in found.found):
            return True
        spec = reader.fields[field]
        if spec.kind == "scale":
            if value not in spec.scale:
                return False
            index = spec.scale.index(str(value))
            return any(f == field and lo in (index, index + 1) for f, lo, _ in self._quantities)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        step = 0 if spec.kind == "quantity" else 1
        for f, lo, hi in self._quantities:
            if f != field:
                continue
            ends = [v for v in (lo, hi) if v is not None]
            if any(abs(v - value) <= step for v in ends):
                return True
        return False

    def exclusion(self, genre: str) -> bool:
        """True when a word for the genre stands after a negation in the same clause ("no horror", "不要恐怖片")."""
        for word in self._genre_words(genre):
            for m in re.finditer(_word_pattern(word), self.text):
                if self._negated_before(m.start()):
                    return True
        return False

    def person(self, name: str, named: int = 0) -> bool:
        """True when the person's name (at least the family name) is written in the message. A Chinese message may
        name a person in Chinese, which only the catalog check can confirm: then some of its words must be ones no
        word list explains, and either a transliterated name ("梅格·瑞恩") stands outside the names the reader
        read, or nobody is named yet (`named`: people taken so far) — one unknown name, not a cast list."""
        words = [w for w in WORD.findall(fold(name).lower()) if len(w) > 1]
        said = set(WORD.findall(fold(self.text)))
        if words and (words[-1] in said or " ".join(words) in fold(self.text)):
            return True
        if self.reading.language != "zh" or not has_cjk(" ".join(self.reading.leftover)):
            return False
        read = [s for s in self.reading.spans if "person" in s.kinds()]
        dots = [i for i, c in enumerate(self.text) if c in "·•・" and not any(s.start <= i < s.end for s in read)]
        return bool(dots) or (not read and named == 0)

    def person_read_by_reader(self, name: str) -> str | None:
        """The person the rule reader found where this name is written ("a film by Nolan": the reader's Christopher
        Nolan, whom a model's "Jonathan Nolan" does not replace), or None."""
        words = [w for w in WORD.findall(fold(name).lower()) if len(w) > 1]
        for span in self.reading.spans:
            if "person" in span.kinds() and words and words[-1] in WORD.findall(fold(self.text[span.start:span.end])):
                return str(span.payload("person"))
        return None

    def person_negated(self, name: str) -> bool:
        """True when the family name stands after a negation in its clause ("nothing by Woody Allen")."""
        words = [w for w in WORD.findall(fold(name).lower()) if len(w) > 1]
        if not words:
            return False
        m = re.search(_word_pattern(words[0]), fold(self.text))
        return m is not None and self._negated_before(m.start())

    def situation(self, kind: str) -> bool:
        """True when the message has a word that could carry the model's companions or weather (situation_cues)."""
        cues = self.lexicon.data.situation_cues[kind]  # type: ignore[index]
        folded = fold(self.text)
        return any(c in self.text for c in cues.zh) or any(re.search(_word_pattern(c.lower()), folded) for c in cues.en)

    def says(self, word: str) -> bool:
        """True when the message says this English word of the model's wish: in its own words ("fun" for "funny",
        "comedies" for "comedy"), in a wish the word lists read from it ("light" from "轻松"), or as a word for a
        genre it asks for ("funny" where "喜剧" asked for Comedy)."""
        own = WORD.findall(fold(self.text)) + [w for wish in self.reading.wishes for w in WORD.findall(wish.lower())]
        own += [w for g in self.reading.genres for phrase in self._genre_words(g) for w in WORD.findall(phrase)]
        return any(_same_word(word.lower(), part) for w in own for part in PARTS.findall(w))

    def _genre_words(self, genre: str) -> list[str]:
        """The genre's own name and every lexicon word that stands for it."""
        out = [genre.lower()]
        for entry in self.lexicon.data.genres:
            if genre in entry.genres:
                out += [w.lower() for w in entry.en + entry.zh]
        return out

    def _negated_before(self, start: int) -> bool:
        """True when a negation stands shortly before `start`, with no clause break between."""
        clause = self.text[:start]
        breaks = list(HARD_BREAK.finditer(clause))
        clause = clause[breaks[-1].end():] if breaks else clause
        negations = self.lexicon.data.negations
        if has_cjk(clause[-_NEGATION_CHARS:]):
            tail = clause[-_NEGATION_CHARS:]
            if any(n in tail for n in negations.zh):
                return True
        words = WORD.findall(clause)[-_NEGATION_WORDS:]
        tail = " ".join(words)
        return any(re.search(_word_pattern(n.lower()), tail) for n in negations.en)


PARTS = re.compile(r"[a-z0-9]+")  # the parts of an English word ("feel-good": feel, good)


def _same_word(a: str, b: str) -> bool:
    """True when two English words share a stem: the shorter (three letters or more) starts the longer, up to its
    first five letters ("fun" / "funny", "comedy" / "comedies", "light" / "lighter")."""
    short, long_ = sorted((a, b), key=len)
    n = min(len(short), 5)
    return len(short) >= 3 and short[:n] == long_[:n]


def _word_pattern(word: str) -> str:
    """A whole-word pattern for an English word or phrase; a plain substring for Chinese."""
    if has_cjk(word):
        return re.escape(word)
    return r"(?<![a-z0-9'])" + re.escape(word).replace(r"\ ", r"\s+") + r"(?![a-z0-9])"
