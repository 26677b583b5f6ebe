"""The reader of constraints: which quantities of a message are bounds, on which side, and what is left of them.

The grammar (constraints.yaml through grammar.py) is
    [negation [gap…]] [comparator [gap…]] QUANTITY [post-comparator]      "nothing that runs longer than 2 hours"
    [lead] QUANTITY join QUANTITY [trail]                                  "between 90 minutes and 2 hours"
over the quantities numbers.py finds anywhere in the message. A negation flips a comparator and toggles its
strictness ("not more than" = at most, "not before 1990" = 1990 on); a strict bound steps over the number on fields
that count in whole steps (years, scale values), not on measured ones (minutes). A decade or an era is a range
by itself; "the last N years" is a lower bound; a bare number is no bound at all ("I'm 30", "born in 1985"),
except in a unit whose number alone is a minimum ("dinner for six people": servings, units.yaml `alone`).
Within one message, several bounds on one slot keep the tightest; a lower bound above an upper bound on the same
field is a contradiction and neither is applied; a bound outside the field's plausible range is absurd and is
not applied. Words that lift a field ("any length", 年份不限) are read here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from chatbot.turn.understand.grammar import Comparator, Grammar, LangGrammar, comparator_for, load_grammar
from chatbot.turn.understand.message import HARD_BREAK
from chatbot.turn.understand.numbers import QuantityFinder
from chatbot.turn.understand.quantities import Quantity
from chatbot.turn.understand.spans import Span
from retrieval.text import has_cjk

_LEFT_CHARS = 80  # how far left of a quantity its comparator and negation may start
_FLIP = {"max": "min", "min": "max"}
_TOGETHER = re.compile(r"\s*(?:,?\s*(?:and|plus|&|\+)\s*|[,，、和加跟与]\s*|还有\s*)?")


@dataclass(frozen=True)
class Bound:
    """One bound the message states: a slot, its value, and the words that said it."""

    field: str  # runtime, year, age_rating
    slot: str  # runtime_max, year_min, max_age_rating, ...
    value: int | float | str
    start: int
    end: int
    words: str
    alternative: bool = False  # a value named alone ("rated G or PG"): alternatives widen, they do not tighten


@dataclass
class ConstraintReading:
    """What the reader found in one message."""

    bounds: dict[str, Bound] = field(default_factory=dict)  # slot -> the bound to apply
    found: list[Bound] = field(default_factory=list)  # every bound read, before settling
    fields: set[str] = field(default_factory=set)  # fields the message bounds in numbers (vague words yield to them)
    cleared: list[str] = field(default_factory=list)  # slots lifted ("any length")
    spans: list[Span] = field(default_factory=list)
    contradictions: list[tuple[Bound, Bound]] = field(default_factory=list)
    absurd: list[Bound] = field(default_factory=list)
    replacing: bool = False  # "instead": the people or genres named replace the old ones


@dataclass(frozen=True)
class _Side:
    """A comparator read next to a quantity: what it means, whether negated, and the text it covers."""

    comparator: Comparator | None
    negated: bool
    start: int
    end: int


class ConstraintReader:
    """Reads every bound and every lifted field of a message with the constraint grammar."""

    def __init__(self, grammar: Grammar | None = None) -> None:
        self.grammar = grammar or load_grammar()
        self.finder = QuantityFinder(self.grammar)
        self.fields = self.grammar.data.fields
        n = self.finder.numbers
        self._bare = []  # (language, "[lead] NUMBER join" anchored at the end, the number's value)
        for lang, number, value_of, lb in ((self.grammar.en, n.en, n.en_value, r"(?<![a-z0-9.'])"),
                                           (self.grammar.zh, n.zh, n.zh_value, "")):
            lead, join = lang.range_words
            rx = re.compile(
                rf"(?:(?P<lead>{lead})\s*)?{lb}(?P<n>{number})\s*(?P<half>个?\s*半)?\s*(?P<join>{join})\s*$")
            self._bare.append((lang, rx, value_of))

    def read(self, text: str, newest_year: int) -> ConstraintReading:
        """The bounds and lifted fields of a lower-cased message (wherever they stand, several per message)."""
        out = ConstraintReading()
        langs = [self.grammar.en] + ([self.grammar.zh] if has_cjk(text) else [])
        ignored = self.finder.ignored(text)
        out.spans += [Span(a, b, (("number", "not a bound"),)) for a, b in ignored]
        out.replacing = any(lang.replacing.search(text) for lang in langs)
        quantities = [q for q in self.finder.find(text, newest_year)
                      if all(q.end <= a or q.start >= b for a, b in ignored)]
        i = 0
        while i < len(quantities):
            q = quantities[i]
            nxt = quantities[i + 1] if i + 1 < len(quantities) else None
            run = self._counted_together(text, quantities, i)
            if len(run) > 1:  # "2 adults and 3 kids": five
                total = sum(p.lo or 0 for p in run)
                out.found += [b for b in [self._bound(q.field, "min", total, q.start, run[-1].end, text)] if b]
                i += len(run)
                continue
            pair = self._range(text, q, nxt, langs) if nxt else None
            if pair is not None:
                out.found += pair
                i += 2
                continue
            bare = self._bare_range(text, q, langs)
            out.found += bare if bare else self._single(text, q, nxt, langs)
            i += 1
        self._clearing(text, langs, out)
        self._settle(out)
        return out

    # -- ranges
    def _range(self, text: str, a: Quantity, b: Quantity, langs: list[LangGrammar]) -> list[Bound] | None:
        """"between 1990 and 2000", "from 90 minutes to 2 hours", "the 80s and 90s", "1990到2000年之间"."""
        if a.field != b.field or a.form in ("scale", "relative") or b.form in ("scale", "relative"):
            return None
        between = text[a.end:b.start]
        for lang in langs:
            m = lang.range_left.match(between)
            if m is None:
                continue
            if m.group("join") == "or" and not (a.form == b.form == "range"):
                continue
            lead = lang.range_lead.search(text[max(0, a.start - 30):a.start])
            if lead is None and a.form == "point" and b.form == "point" and m.group("join") in ("and", "和"):
                continue  # "1990 and 2000" alone is two years, not a span
            start = a.start - (len(lead.group(0)) if lead else 0)
            trail = lang.range_trail.match(text[b.end:])
            end = b.end + trail.end() if trail else b.end
            return self._span_bounds(a.field, a.lo, b.hi, start, end, text)
        return None

    def _bare_range(self, text: str, q: Quantity, langs: list[LangGrammar]) -> list[Bound] | None:
        """"between 90 and 120 minutes", "一个半到两个小时": a bare number, a join word, then a quantity."""
        if q.form != "point" or q.unit_factor == 0:
            return None
        left = text[max(0, q.start - 40):q.start]
        for lang, rx, value_of in self._bare:
            if lang not in langs:
                continue
            m = rx.search(left)
            if m is None or (lang is self.grammar.en and m.group("lead") is None and m.group("join") == "and"):
                continue
            value = value_of(m.group("n"))
            if value is None:
                continue
            lo = (value + (0.5 if m.group("half") else 0)) * q.unit_factor
            return self._span_bounds(q.field, lo, q.hi, q.start - len(m.group(0)), q.end, text)
        return None

    def _span_bounds(self, name: str, lo: float | None, hi: float | None, start: int, end: int,
                     text: str) -> list[Bound]:
        """Both bounds of a range (its ends sorted), each saying the whole range's words."""
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        if self.fields[name].alone == "min":  # "for 4 to 6 people": a dish for eight feeds them too
            hi = None
        out = []
        if lo is not None:
            out.append(self._bound(name, "min", lo, start, end, text))
        if hi is not None:
            out.append(self._bound(name, "max", hi, start, end, text))
        return [b for b in out if b is not None]

    # -- one quantity and its comparators
    def _single(self, text: str, q: Quantity, nxt: Quantity | None, langs: list[LangGrammar]) -> list[Bound]:
        """The bounds one quantity carries, by its comparators (before and after) and any negation."""
        spec = self.fields[q.field]
        before = self._before(text, q, spec.kind, langs)
        after = None if before and before.comparator else self._after(text, q, nxt, spec.kind, langs)
        start = before.start if before else q.start
        end = after.end if after else q.end
        negated = bool(before and before.negated)
        if self._conditional(text, start, end, langs):
            return []
        comparator = (before.comparator if before else None) or (after.comparator if after else None)
        if q.form == "relative":  # "the last 10 years"; "not from the last 10 years" is everything before them
            side, value = ("max", None if q.lo is None else q.lo - 1) if negated else ("min", q.lo)
            return [b for b in [self._bound(q.field, side, value, start, end, text)] if b]
        if comparator is not None and comparator.weak and q.form == "range" and not negated:
            comparator = None  # "from the 80s": the decade itself
        if comparator is None:
            return self._uncompared(text, q, negated, start, end)
        direction, strict = comparator.dir, comparator.strict
        if negated:
            if direction not in _FLIP:
                return []
            direction, strict = _FLIP[direction], not strict
        return self._directed(text, q, direction, strict, start, end)

    def _counted_together(self, text: str, quantities: list[Quantity], i: int) -> list[Quantity]:
        """The run of counts of sorts of people from quantities[i] on ("2 adults and 3 kids", 两个大人三个孩子,
        "2 adults, 2 teens and a toddler"): counted in parts, they are fed together (units.yaml `part`)."""
        spec = self.fields[quantities[i].field]
        parts = [w for u in spec.units if u.part for w in u.en + u.zh]

        def is_part(q: Quantity) -> bool:
            """A point count of this field whose unit word is a part."""
            return q.field == spec_field and q.form == "point" and any(text[q.start:q.end].endswith(w) for w in parts)

        spec_field = quantities[i].field
        run: list[Quantity] = []
        if not parts:
            return run
        for q in quantities[i:]:
            if not is_part(q) or (run and _TOGETHER.fullmatch(text[run[-1].end:q.start]) is None):
                break
            run.append(q)
        return run

    @staticmethod
    def _conditional(text: str, start: int, end: int, langs: list[LangGrammar]) -> bool:
        """True when the bound stands in a condition ("if it's over two hours", "超过两小时就会睡着")."""
        breaks = list(HARD_BREAK.finditer(text, 0, start))
        clause = text[breaks[-1].end() if breaks else 0:start]
        return any(lang.condition_before.search(clause) or lang.condition_after.match(text[end:]) for lang in langs)

    def _uncompared(self, text: str, q: Quantity, negated: bool, start: int, end: int) -> list[Bound]:
        """A quantity with no comparator: a decade or era is its own range, "no R" rules R out, "90+" is a minimum."""
        if q.form == "scale":
            if q.weak and not negated:
                return []
            value = (q.lo or 0) - 1 if negated else q.lo
            bound = self._bound(q.field, "max", value, start, end, text)
            return [] if bound is None else [replace(bound, alternative=not negated)]
        if negated:
            return []
        if q.form == "range":
            return self._span_bounds(q.field, q.lo, q.hi, start, end, text)
        spec = self.fields[q.field]
        if spec.alone == "min" and q.form == "point" and not q.plus:  # "for one person" bounds nothing
            trivial = spec.plausible is not None and q.lo is not None and q.lo <= spec.plausible.min
            return [] if trivial else [b for b in [self._bound(q.field, "min", q.lo, start, end, text)] if b]
        if q.plus:
            return [b for b in [self._bound(q.field, "min", q.lo, start, end, text)] if b]
        return []

    def _directed(self, text: str, q: Quantity, direction: str, strict: bool, start: int, end: int) -> list[Bound]:
        """The bound of a comparator's direction: strict ones step over the number on counted fields."""
        spec = self.fields[q.field]
        step = 0 if spec.kind == "quantity" else 1
        if direction == "eq":
            return self._span_bounds(q.field, q.lo, q.hi, start, end, text)
        if direction == "approx":
            value = None if q.hi is None else q.hi + spec.approx_margin
            return [b for b in [self._bound(q.field, "max", value, start, end, text)] if b]
        if direction == "max":
            value = (None if q.lo is None else q.lo - step) if strict else q.hi
        else:
            value = (None if q.hi is None else q.hi + step) if strict else q.lo
        return [b for b in [self._bound(q.field, direction, value, start, end, text)] if b]

    def _before(self, text: str, q: Quantity, kind: str, langs: list[LangGrammar]) -> _Side | None:
        """The comparator (and negation) just before a quantity, in whichever language reads more of it."""
        lo = max(0, q.start - _LEFT_CHARS)
        left = text[lo:q.start]
        best: _Side | None = None
        for lang in langs:
            m = lang.pre.search(left)
            if m is not None:
                word = m.group("pre") or (m.groupdict().get("hy") or "")
                c = comparator_for(lang.pre_words, word, kind)
                if c is not None:
                    side = _Side(c, bool(m.group("neg")), lo + m.start(), q.start)
                    best = side if best is None or side.start < best.start else best
                    continue
            m = lang.neg_only.search(left)
            if m is not None and (best is None or best.comparator is None):
                best = _Side(None, True, lo + m.start(), q.start)
        return best

    def _after(self, text: str, q: Quantity, nxt: Quantity | None, kind: str, langs: list[LangGrammar]) -> _Side | None:
        """The comparator just after a quantity ("or less", "以内", "or later"), unless it leads the next one."""
        for lang in langs:
            m = lang.post.match(text[q.end:q.end + 40])
            if m is not None and nxt is not None and not text[q.end + m.end():nxt.start].strip(" the"):
                continue  # "longer than 3 hours and under 90 minutes": "and under" belongs to the next quantity
            if m is not None:
                c = comparator_for(lang.post_words, m.group("post"), kind)
                if c is not None:
                    return _Side(c, False, q.end, q.end + m.end())
        return None

    def _bound(self, name: str, side: str, value: float | None, start: int, end: int, text: str) -> Bound | None:
        """A bound on a field's slot: scale values by name, numbers whole (None when the field has no such slot)."""
        spec = self.fields[name]
        slot = spec.slots.get(side)  # type: ignore[call-overload]
        if slot is None or value is None:
            return None
        if spec.kind == "scale":
            shown: int | str = spec.scale[max(0, min(len(spec.scale) - 1, int(value)))]
        else:
            shown = int(round(value)) if spec.whole else round(value, 2)
        return Bound(name, slot, shown, start, end, text[start:end].strip())

    # -- lifting fields, settling the bounds
    def _clearing(self, text: str, langs: list[LangGrammar], out: ConstraintReading) -> None:
        """"any length", "forget the year", "the director doesn't matter", 时长无所谓, 不限年份."""
        for lang in langs:
            for m in lang.clear.finditer(text):
                word = " ".join((m.group("n1") or m.group("n2")).split())
                name = lang.clear_names.get(word)
                if name is None:
                    continue
                for slot in self.fields[name].clear:
                    if slot not in out.cleared:
                        out.cleared.append(slot)
                out.spans.append(Span(m.start(), m.end(), (("number", "clear"),)))

    def _settle(self, out: ConstraintReading) -> None:
        """Keep the tightest bound per slot; drop absurd values and contradictory pairs (they are reported)."""
        for b in out.found:
            out.spans.append(Span(b.start, b.end, (("number", b.field),)))
            out.fields.add(b.field)
            if not self._plausible(b):
                out.absurd.append(b)
                continue
            kept = out.bounds.get(b.slot)
            both_alternatives = kept is not None and kept.alternative and b.alternative
            if kept is None or self._tighter(b, kept) != both_alternatives:
                out.bounds[b.slot] = b
        for spec in self.fields.values():
            lo, hi = out.bounds.get(spec.slots.get("min", "")), out.bounds.get(spec.slots.get("max", ""))
            if lo is not None and hi is not None and isinstance(lo.value, int) and isinstance(hi.value, int) \
                    and lo.value > hi.value:
                out.contradictions.append((lo, hi))
                del out.bounds[lo.slot], out.bounds[hi.slot]

    def _tighter(self, new: Bound, old: Bound) -> bool:
        """True when the new bound admits fewer items than the old one on the same slot."""
        spec = self.fields[new.field]
        if spec.kind == "scale":
            return spec.scale.index(str(new.value)) < spec.scale.index(str(old.value))
        is_max = spec.slots.get("max") == new.slot
        return int(new.value) < int(old.value) if is_max else int(new.value) > int(old.value)

    def _plausible(self, b: Bound) -> bool:
        """True when the value lies in the field's plausible range (always for scale values)."""
        p = self.fields[b.field].plausible
        return p is None or isinstance(b.value, str) or p.min <= b.value <= p.max


@lru_cache(maxsize=4)
def constraint_reader(path: str | None = None) -> ConstraintReader:
    """The reader over the packaged grammar (or the grammar file at `path`), built once."""
    return ConstraintReader(load_grammar(path))
