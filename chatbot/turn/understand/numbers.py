"""Quantities in a message: numbers written as digits or words ("ninety", "an hour and a half", "一个半小时") with the
units of a numeric field, calendar years, decades, eras and "the last N years", and values of an ordered scale
("PG-13"). Every table comes from constraints.yaml (grammar.py); bounds.py decides which quantities are bounds.
"""

from __future__ import annotations

import re

from chatbot.turn.understand.grammar import FieldSpec, Grammar, words_alt
from chatbot.turn.understand.quantities import NumberWords, Quantity
from chatbot.turn.understand.years import YearFinder
from retrieval.schema import CatalogSchema
from retrieval.text import has_cjk

_EN_LB = r"(?<![a-z0-9.'])"
# minutes after hours with no unit of their own: "1h30" (attached digits), "一小时二十分" ("分" without "钟")
_TAIL = re.compile(r"(?P<m1>\d{1,2})(?![\d.:a-z])|\s*零?\s*(?P<m2>\d{1,2}|[一二三四五六七八九十]{1,3})\s*分(?!钟)")


class QuantityFinder:
    """Finds the quantities of every field of the grammar in a lower-cased message."""

    def __init__(self, grammar: Grammar) -> None:
        self.grammar = grammar
        self.numbers = NumberWords(grammar)
        fields = grammar.data.fields
        self._units = {name: spec for name, spec in fields.items() if spec.kind == "quantity"}
        self._unit_rx = {name: self._unit_patterns(spec) for name, spec in self._units.items()}
        self._year_field = next((n for n, s in fields.items() if s.kind == "year"), None)
        self._scale_field = next((n for n, s in fields.items() if s.kind == "scale"), None)
        if self._year_field:
            self.years = YearFinder(grammar, self.numbers)
        if self._scale_field:
            self._scale_rx, self._scale_names = self._scale_patterns(fields[self._scale_field])
        self._ignored = self._ignore_patterns()

    def ignored(self, text: str) -> list[tuple[int, int]]:
        """Where numbers stand that are never constraints ("I'm 30 years old", "married for 35 years", "30岁")."""
        out = []
        for rx in self._ignored:
            if rx.pattern and (rx is self._ignored[0] or has_cjk(text)):
                out += [(m.start(), m.end()) for m in rx.finditer(text)]
        return out

    def _ignore_patterns(self) -> list[re.Pattern[str]]:
        """The English and Chinese not-a-constraint phrases, "{n}" standing for a number."""
        out = []
        small_zh = "(?<!\\d)\\d{1,3}(?!\\d)|[" + "".join(self.numbers.zh_digits) + "十百]{1,4}"  # no years: 1970年前
        for lang, number in (("en", self.numbers.en), ("zh", small_zh)):
            phrases = getattr(self.grammar.data.not_constraints, lang)
            en = lang == "en"
            alts = []
            for phrase in sorted(phrases, key=len, reverse=True):
                parts = [re.escape(p).replace(r"\ ", r"\s+") if en else re.escape(p) for p in phrase.split("{n}")]
                alts.append(rf"(?:{number})".join(parts))
            body = "|".join(alts) or "(?!x)x"
            out.append(re.compile(rf"{_EN_LB}(?:{body})(?![a-z0-9])" if en else f"(?:{body})"))
        return out

    def find(self, text: str, newest_year: int) -> list[Quantity]:
        """Every quantity in the text, longest first where they overlap, in text order."""
        found: list[Quantity] = []
        for name in self._units:
            found += self._numeric(name, text)
        if self._year_field:
            found += self.years.find(self._year_field, text, newest_year)
        if self._scale_field:
            found += self._scale(text)
        kept: list[Quantity] = []
        for q in sorted(found, key=lambda q: (-(q.end - q.start), q.start)):
            if all(q.end <= k.start or q.start >= k.end for k in kept):
                kept.append(q)
        return sorted(kept, key=lambda q: q.start)

    # -- numeric fields with units
    def _unit_patterns(self, spec: FieldSpec) -> tuple[re.Pattern[str], re.Pattern[str], dict[str, float]]:
        """English and Chinese patterns of a numeric field, and unit word -> factor."""
        n = self.numbers
        factors = {u.lower(): unit.factor for unit in spec.units for u in unit.en + unit.zh}
        en_all = words_alt([u for unit in spec.units for u in unit.en], True)
        en_long = words_alt([u for unit in spec.units for u in unit.en if len(u) > 1], True)
        zh_units = words_alt([u for unit in spec.units for u in unit.zh], False)
        en = re.compile(
            rf"{_EN_LB}(?:half[\s-]+(?:an?\s+)?(?P<hu>{en_long})"
            rf"|(?P<n1>{n.en})\s+and\s+a\s+half[\s-]+(?P<u1>{en_long})"
            rf"|(?P<n2>{n.en_unit_lead})(?P<plus>\+)?[\s-]*(?P<u2>{en_all})(?P<half>\s+and\s+a\s+half)?)(?![a-z])"
        )
        zh = re.compile(
            rf"半\s*个?\s*(?P<hu>{zh_units})|(?P<n1>{n.zh})\s*个?\s*半\s*(?P<u1>{zh_units})"
            rf"|(?P<n2>{n.zh})\s*个?\s*(?P<u2>{zh_units})(?P<half>\s*半)?"
        )
        return en, zh, factors

    def _numeric(self, name: str, text: str) -> list[Quantity]:
        """The quantities of one numeric field: simple ones, then compounds ("1 hour 30 minutes", "一小时二十分钟")."""
        en, zh, factors = self._unit_rx[name]
        simple: list[Quantity] = []
        for rx, value_of in ((en, self.numbers.en_value), (zh, self.numbers.zh_value)):
            if rx is zh and not has_cjk(text):
                continue
            for m in rx.finditer(text):
                q = self._simple(name, m, value_of, factors)
                if q is not None:
                    simple.append(q)
        return self._compounds(name, text, sorted(simple, key=lambda q: q.start), factors)

    @staticmethod
    def _simple(name: str, m: re.Match[str], value_of: object, factors: dict[str, float]) -> Quantity | None:
        """One "NUMBER UNIT" match as a quantity (None for a one-letter unit after a word: "two m")."""
        g = m.groupdict()
        unit = " ".join((g["hu"] or g["u1"] or g["u2"]).split())
        factor = factors[unit]
        if g["hu"]:
            value = 0.5
        else:
            raw = g["n1"] or g["n2"]
            if len(unit) == 1 and unit.isascii() and not raw[:1].isdigit():  # "two m"; 三百页 is a quantity
                return None
            value = value_of(raw)  # type: ignore[operator]
            if value is None:
                return None
            value += 0.5 if (g["n1"] or g["half"]) else 0
        minutes = round(value * factor, 2)
        return Quantity(name, minutes, minutes, m.start(), m.end(), "point", plus=bool(g.get("plus")),
                        unit_factor=factor)

    def _compounds(self, name: str, text: str, simple: list[Quantity], factors: dict[str, float]) -> list[Quantity]:
        """Join a bigger unit and a smaller one ("an hour and 20 minutes", "1h30", "一小时二十分钟")."""
        smaller = sorted({f for f in factors.values()})
        out: list[Quantity] = []
        i = 0
        while i < len(simple):
            q = simple[i]
            nxt = simple[i + 1] if i + 1 < len(simple) else None
            gap = text[q.end:nxt.start] if nxt else ""
            if nxt and q.unit_factor > nxt.unit_factor and re.fullmatch(r"\s*(?:,\s*)?(?:and\s+)?零?\s*", gap):
                total = (q.lo or 0) + (nxt.lo or 0)
                out.append(Quantity(name, total, total, q.start, nxt.end, "point", unit_factor=nxt.unit_factor))
                i += 2
                continue
            tail = _TAIL.match(text, q.end)  # "1h30", "一小时二十分"
            below = [f for f in smaller if f < q.unit_factor]
            if tail and below:
                extra = self.numbers.zh_value(tail.group("m1") or tail.group("m2")) or 0
                total = (q.lo or 0) + extra * below[-1]
                out.append(Quantity(name, total, total, q.start, tail.end(), "point", unit_factor=below[-1]))
            else:
                out.append(q)
            i += 1
        return out

    # -- the ordered scale (age ratings)
    def _scale_patterns(self, spec: FieldSpec) -> tuple[re.Pattern[str], dict[str, int]]:
        """The pattern of a scale value ("rated PG-13", "R-rated", "R级") and each spelling -> its index."""
        names = {v.lower(): i for i, v in enumerate(spec.scale)}
        for alias, value in spec.aliases.items():
            names[alias.lower()] = spec.scale.index(value)
        spellings = set(names) | {k.replace("-", " ") for k in names} | {k.replace("-", "") for k in names}
        for k in list(names):
            names[k.replace("-", " ")] = names[k]
            names[k.replace("-", "")] = names[k]
        alt = words_alt(sorted(spellings), True)
        rx = re.compile(
            rf"(?<![a-z0-9-])(?P<rated>rated\s+)?(?P<v>{alt})(?P<after>\s*-?\s*rated|\s*级(?:片|别)?)?(?![a-z0-9])"
        )
        return rx, names

    def _scale(self, text: str) -> list[Quantity]:
        """Scale values; a one-letter value ("r", "g") is weak unless "rated" or "级" stands with it."""
        out = []
        for m in self._scale_rx.finditer(text):
            raw = " ".join(m.group("v").split())
            index = self._scale_names.get(raw)
            if index is None:
                continue
            weak = len(raw) == 1 and not (m.group("rated") or m.group("after"))
            out.append(Quantity(self._scale_field or "", index, index, m.start(), m.end(), "scale", weak=weak))
        return out


_NUMBER_END = r"(?![\d.:/]|st\b|nd\b|rd\b|th\b)"  # not "7:30", "12/25", "6th"


def lead_patterns(schema: CatalogSchema, number: str) -> list[tuple[re.Pattern[str], str]]:
    """The lead words of each number's unit before a number ("serves 6", "a family of five"), with the unit's word
    that follows the number instead (units.yaml `lead`); "for N" only after a word of `for_after` ("dinner for
    6"); never before a unit of any number or a word of `not_before` ("enough for 2 days")."""
    units = [w for n in schema.numbers for sp in n.unit.spellings for w in sp.en]
    out = []
    for field in schema.numbers:
        lead = field.unit.lead
        unit = next((w for sp in field.unit.spellings for w in sp.en), "")
        if not unit or not (lead.en or lead.for_after):
            continue
        after = rf"{_NUMBER_END}(?!\s*{words_alt(units + list(lead.not_before), True)}(?![a-z]))"
        body = [rf"(?<![a-z])(?:{words_alt(list(lead.en), True)})\s+(?P<n>{number}){after}"]
        if lead.for_after:
            body.append(rf"(?<![a-z]){words_alt(list(lead.for_after), True)}(?:\s+[a-z'-]+){{0,3}}?\s+for\s+"
                        rf"(?P<n2>{number}){after}")
        out.append((re.compile("|".join(body)), unit))
    return out
