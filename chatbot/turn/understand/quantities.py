"""A quantity found in a message (a number with a field's unit, a year or decade, a scale value) and numbers written
as digits or words in English and Chinese ("ninety", "a hundred and twenty", "一百二十", "一九九五"), from the
tables of constraints.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from chatbot.turn.understand.grammar import Grammar, words_alt

Form = Literal["point", "range", "relative", "scale"]


@dataclass(frozen=True)
class Quantity:
    """A quantity of one field found in the text: [lo, hi] in the field's base unit (minutes, years, scale index)."""

    field: str
    lo: float | None  # None: open below ("this century" has no end, "the last 10 years" no start... see form)
    hi: float | None
    start: int
    end: int
    form: Form  # point (one value), range (a decade, an era), relative ("the last 10 years"), scale (a rating)
    plus: bool = False  # "90+ minutes": at least
    weak: bool = False  # a bare "r" or "g": a rating only with a comparator or a negation
    unit_factor: float = 0  # the unit of a numeric quantity (compound forms join a bigger unit and a smaller one)


class NumberWords:
    """Numbers as words or digits: the regexes that find them and their values (English and Chinese)."""

    def __init__(self, grammar: Grammar) -> None:
        en, zh = grammar.data.numbers.en, grammar.data.numbers.zh
        self.ones, self.tens, self.hundred = en.ones, en.tens, set(en.hundred)
        self.before_unit = {" ".join(k.split()): v for k, v in en.before_unit.items()}
        ones = words_alt([k for k, v in en.ones.items() if v], True)
        units9 = words_alt([k for k, v in en.ones.items() if 0 < v < 10], True)
        tens = words_alt(list(en.tens), True)
        hundred = words_alt(list(en.hundred), True)
        below100 = rf"(?:{tens}(?:[\s-]{units9})?|{ones})"
        words = rf"(?:(?:a|one)\s+{hundred}(?:\s+(?:and\s+)?{below100})?|{below100})"
        self.en = rf"(?:\d+(?:\.\d+)?|{words}(?![a-z]))"  # a number that stands alone
        # a number before a unit: "an hour", "a couple of hours"
        self.en_unit_lead = rf"(?:{self.en}|{words_alt(list(self.before_unit), True)})"
        self.zh_digits, self.zh_mult = zh.digits, zh.multipliers
        chars = "".join(list(zh.digits) + list(zh.multipliers))
        self.zh = rf"(?:\d+(?:\.\d+)?|[{chars}]+)"

    def en_value(self, text: str) -> float | None:
        """The value of an English number ("90", "1.5", "twenty-five", "a hundred and twenty", "an")."""
        text = " ".join(text.lower().split())
        try:
            return float(text)
        except ValueError:
            pass
        if text in self.before_unit:
            return float(self.before_unit[text])
        total = 0
        for tok in re.split(r"[\s-]+", text):
            if tok in ("and", ""):
                continue
            if tok in self.ones:
                total += self.ones[tok]
            elif tok in self.tens:
                total += self.tens[tok]
            elif tok in self.hundred:
                total = (total or 1) * 100
            elif tok == "a":
                total += 1
            else:
                return None
        return float(total)

    def zh_value(self, text: str) -> float | None:
        """The value of a Chinese or Arabic number ("两", "一百二十", "九十", "90", "一九九五" digit by digit)."""
        text = text.strip()
        try:
            return float(text)
        except ValueError:
            pass
        if text and all(c in self.zh_digits for c in text) and len(text) > 1:
            return float("".join(str(self.zh_digits[c]) for c in text))  # 一九九五, 九零
        total, current = 0, 0
        for ch in text:
            if ch in self.zh_mult:
                total += (current or 1) * self.zh_mult[ch]
                current = 0
            elif ch in self.zh_digits:
                current = self.zh_digits[ch]
            else:
                return None
        return float(total + current)
