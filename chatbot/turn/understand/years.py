"""Calendar quantities of the year field: four-digit years (1995, 一九九五年, 两千年), decades ("the late 80s",
"the eighties", "八九十年代"), eras ("this century", 上世纪) and "the last N years" (近十年), from constraints.yaml."""

from __future__ import annotations

import re

from chatbot.turn.understand.grammar import Grammar, words_alt
from chatbot.turn.understand.quantities import NumberWords, Quantity
from retrieval.text import has_cjk

_LB = r"(?<![a-z0-9'])"
_YEAR = r"(?<![\d$£€])(?<!\d[.,:])(?P<y>1\d{3}|2\d{3}|3\d{3})(?![\d%]|[.,:]\d)"
_ZH_YEAR_CHARS = (r"(?P<zy>[一二三四五六七八九零〇]{4}"  # 一九九五年, or 两千年, 两千零五年, 两千一十年
                  r"|两千(?:零[一二三四五六七八九]|[一二三四五六七八九]?十[一二三四五六七八九]?)?)\s*年(?!代)")


class YearFinder:
    """Finds years, decades, eras and "the last N years" in a lower-cased message."""

    def __init__(self, grammar: Grammar, numbers: NumberWords) -> None:
        self.numbers = numbers
        y = grammar.data.years
        self.decade_words = y.decade_words
        self.parts_en, self.parts_zh = y.parts.get("en", {}), y.parts.get("zh", {})
        self.not_after = set(y.not_decade_after.get("en", []))
        parts_en = words_alt(list(self.parts_en), True)
        dwords = words_alt(list(self.decade_words), True)
        self.decade_en = re.compile(
            rf"{_LB}(?:the\s+)?(?:(?P<part>{parts_en})[\s-]*)?(?:'|’)?"
            rf"(?:(?P<d>(?:1[89]|20)\d0|\d0)(?:'|’)?s|(?P<dw>{dwords}))(?![a-z0-9])"
        )
        parts_zh = words_alt(list(self.parts_zh), False)
        zh_chars = "".join(numbers.zh_digits) + "十"
        self.decade_zh = re.compile(
            rf"(?:上世纪|上个世纪|二十世纪|20世纪)?\s*(?P<d>\d{{2,4}}|[{zh_chars}]{{1,4}})\s*年代\s*(?P<part>{parts_zh})?"
        )
        self.eras = [(re.compile(_LB + words_alt(e.en, True) + r"(?![a-z0-9])"), e.min, e.max) for e in y.eras if e.en]
        self.eras += [(re.compile(words_alt(e.zh, False)), e.min, e.max) for e in y.eras if e.zh]
        rel_en, rel_zh = y.relative["en"], y.relative["zh"]
        self.rel_units_en, self.rel_few = rel_en.units, rel_en.few
        self.relative_en = re.compile(
            rf"{_LB}(?:the\s+)?{words_alt(rel_en.lead, True)}\s+(?:(?P<n>{numbers.en}|few|couple\s+of|couple)\s+)?"
            rf"(?P<u>{words_alt(list(rel_en.units), True)})(?![a-z])"
        )
        trail = words_alt(rel_zh.trail, False)
        self.relative_zh = re.compile(
            rf"(?:{words_alt(rel_zh.lead, False)})\s*(?P<n>{numbers.zh})\s*个?\s*年"
            rf"(?!代|前|以前|之前|后|以后|之后)(?:{trail})?"
            rf"|(?P<n2>{numbers.zh})\s*年\s*(?:内|以内|之内)"
        )
        self.year = re.compile(_YEAR + r"(?:\s*年(?!代))?")
        self.short_year = re.compile(r"(?<![a-z0-9])'(?P<yy>\d\d)(?![\d']|s\b)")  # "after '85"
        self.zh_year = re.compile(_ZH_YEAR_CHARS)

    def find(self, field: str, text: str, newest_year: int) -> list[Quantity]:
        """Every calendar quantity in the text (overlaps are settled by the caller, longest first)."""
        out: list[Quantity] = []
        zh = has_cjk(text)
        out += self._decades_en(field, text)
        if zh:
            out += self._decades_zh(field, text)
        for rx, lo, hi in self.eras:
            out += [Quantity(field, lo, hi, m.start(), m.end(), "range") for m in rx.finditer(text)]
        out += self._relative(field, text, newest_year, zh)
        for m in self.year.finditer(text):
            value = float(m.group("y"))
            out.append(Quantity(field, value, value, m.start(), m.end(), "point"))
        for m in self.short_year.finditer(text):
            value = float(_century(int(m.group("yy"))))
            out.append(Quantity(field, value, value, m.start(), m.end(), "point"))
        if zh:
            for m in self.zh_year.finditer(text):
                value = self.numbers.zh_value(m.group("zy"))
                if value is not None and 1000 <= value <= 3999:
                    out.append(Quantity(field, value, value, m.start(), m.end(), "point"))
        return out

    def _decades_en(self, field: str, text: str) -> list[Quantity]:
        """"the 80s", "1980s", "the late nineties" (not "my 30s")."""
        out = []
        for m in self.decade_en.finditer(text):
            before = text[max(0, m.start() - 12):m.start()].split()
            if before and before[-1] in self.not_after:
                continue
            if m.group("dw"):
                start = self.decade_words[" ".join(m.group("dw").split())]
            else:
                raw = int(m.group("d"))
                start = raw if raw >= 1000 else (2000 + raw if raw < 20 else 1900 + raw)
            lo, hi = _part(start, self.parts_en.get((m.group("part") or "").strip()))
            out.append(Quantity(field, lo, hi, m.start(), m.end(), "range"))
        return out

    def _decades_zh(self, field: str, text: str) -> list[Quantity]:
        """"八十年代", "80年代", "1980年代", "八九十年代" (two decades), "九十年代末"."""
        out = []
        for m in self.decade_zh.finditer(text):
            raw = m.group("d")
            pair = len(raw) == 3 and raw.endswith("十") and all(c in self.numbers.zh_digits for c in raw[:2])
            if pair:  # 八九十: the eighties and nineties
                first, second = self.numbers.zh_digits[raw[0]] * 10, self.numbers.zh_digits[raw[1]] * 10
                lo, hi = _century(first), _century(second) + 9
            else:
                value = self.numbers.zh_value(raw)
                if value is None:
                    continue
                start = _century(int(value)) if value < 100 else int(value)
                if start % 10 or not 1880 <= start <= 2090:
                    continue
                lo, hi = _part(start, self.parts_zh.get(m.group("part") or ""))
            out.append(Quantity(field, lo, hi, m.start(), m.end(), "range"))
        return out

    def _relative(self, field: str, text: str, newest_year: int, zh: bool) -> list[Quantity]:
        """"the last ten years", "the past decade", "近十年", "五年内": from the catalog's newest year back."""
        out = []
        for m in self.relative_en.finditer(text):
            raw = " ".join((m.group("n") or "").split())
            n = self.rel_few if raw == "few" else 2.0 if raw.startswith("couple") else (
                self.numbers.en_value(raw) if raw else 1.0)
            unit = self.rel_units_en[" ".join(m.group("u").split())]
            if n:
                out.append(Quantity(field, newest_year - n * unit, None, m.start(), m.end(), "relative"))
        if zh:
            for m in self.relative_zh.finditer(text):
                n = self.numbers.zh_value(m.group("n") or m.group("n2"))
                if n and n < 200:
                    out.append(Quantity(field, newest_year - n, None, m.start(), m.end(), "relative"))
        return out


def _century(two_digits: int) -> int:
    """A two-digit year or decade as a year: 80 -> 1980, 0 -> 2000, 10 -> 2010."""
    return 2000 + two_digits if two_digits < 20 else 1900 + two_digits


def _part(start: int, part: tuple[int, int] | None) -> tuple[float, float]:
    """A decade, or part of it ("early" = its first years), as [first year, last year]."""
    if part is None:
        return float(start), float(start + 9)
    return float(start + part[0]), float(start + part[1])
