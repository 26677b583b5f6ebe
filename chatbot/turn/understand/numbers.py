"""Bounds written as numbers or codes: runtimes ("under 2 hours", "90分钟以内"), years and decades ("before 2000",
"the 90s", "八十年代") and age ratings ("PG-13 or below"), in English and Chinese."""

from __future__ import annotations

import re
from typing import Any

from chatbot.turn.understand.spans import Span
from retrieval.text import has_cjk
from retrieval.types import AGE_RATINGS

_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "half": 0.5}
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "半": 0.5}

_EN_NUM = r"(\d+(?:\.\d+)?|an?|one|two|three|four|half an?)"
_EN_UNIT = r"(hours?|hrs?|h|minutes?|mins?|m)"
_RUNTIME_MAX_EN = re.compile(
    rf"\b(?:under|less than|shorter than|at most|max(?:imum)?|no (?:more|longer) than|below|within|up to|not (?:more|longer) than|not over|tops)\s+"
    rf"{_EN_NUM}\s*{_EN_UNIT}(\s+and\s+a\s+half)?(?![a-z])"
)
_RUNTIME_MAX_EN_AFTER = re.compile(rf"\b{_EN_NUM}\s*{_EN_UNIT}(\s+and\s+a\s+half)?\s+(?:or less|or shorter|or under|max(?:imum)?|tops|at most|or so max)\b")
_RUNTIME_MIN_EN = re.compile(
    rf"\b(?:over|more than|longer than|at least|minimum|min)\s+{_EN_NUM}\s*{_EN_UNIT}(\s+and\s+a\s+half)?(?![a-z])"
)
_ZH_NUM = r"(\d+|[零一二两三四五六七八九十百]+)"
_RUNTIME_ZH = re.compile(
    rf"(不超过|少于|小于|低于|不到|最多|控制在|超过|多于|大于|至少|起码)?\s*{_ZH_NUM}\s*(个)?\s*(半)?\s*(小时|钟头|分钟)\s*(半)?\s*(以内|之内|内|以下|以上|左右)?"
)
_DECADE_FULL = re.compile(r"(?<![0-9])(19[0-9]0|20[0-2]0)'?s(?![a-z])")
_DECADE_SHORT = re.compile(r"(?<![0-9a-z])'?([2-9]0)'?s(?![a-z])")
_DECADE_ZH = re.compile(r"(19[0-9]0|20[0-2]0|[2-9]0|[二三四五六七八九]十)\s*年代")
_YEAR_BEFORE = re.compile(r"\b(before|pre-?|earlier than|older than|prior to)\s*(19\d\d|20\d\d)\b")
_YEAR_UNTIL = re.compile(r"\b(until|up to|through|no later than)\s+(19\d\d|20\d\d)\b")
_YEAR_AFTER = re.compile(r"\b(after|post-?|later than|newer than)\s*(19\d\d|20\d\d)\b")
_YEAR_SINCE = re.compile(r"\b(since|from|no earlier than)\s+(19\d\d|20\d\d)\b")
_YEAR_BETWEEN = re.compile(r"\b(?:between|from)\s+(19\d\d|20\d\d)\s*(?:and|to|-|until)\s*(19\d\d|20\d\d)\b")
_YEAR_ZH = re.compile(r"(19\d\d|20\d\d)\s*年?\s*(以前|之前|前|以后|之后|后|以来)")
_AGE = r"(pg-13|pg13|pg 13|pg|nc-17|nc17|g|r)"
_AGE_MAX_AFTER = re.compile(rf"\b(?:rated\s+)?{_AGE}(?:[\s-]rated)?\s+(?:or (?:below|lower|less|under)|max(?:imum)?|at most|and (?:below|under)|tops)\b")
_AGE_MAX_BEFORE = re.compile(rf"\b(?:nothing above|not above|at most|max(?:imum)?|up to|no higher than|rated)\s+{_AGE}(?![a-z0-9-])")
_AGE_NOT = re.compile(rf"\b(?:no|not|nothing|avoid)\s+(?:rated\s+)?{_AGE}(?:[\s-]rated)?(?![a-z0-9-])")
_ZH_MORE = ("超过", "多于", "大于", "至少", "起码")  # a Chinese runtime prefix meaning "at least"


def read_numbers(text: str, scalars: dict[str, Any]) -> list[Span]:
    """Set year, runtime and age-rating bounds in `scalars` from a lower-cased message; the spans of their words."""
    out: list[Span] = []
    _runtimes_en(text, scalars, out)
    if has_cjk(text):
        _runtimes_zh(text, scalars, out)
    _decades(text, scalars, out)
    _years(text, scalars, out)
    _age_ratings(text, scalars, out)
    return out


def _mark(out: list[Span], m: re.Match[str], what: str) -> None:
    """Remember the words a number expression used."""
    out.append(Span(m.start(), m.end(), (("number", what),)))


def _runtimes_en(text: str, sc: dict[str, Any], out: list[Span]) -> None:
    """English runtimes: "under 2 hours", "90 minutes or less", "at least an hour and a half"."""
    for rx, key in ((_RUNTIME_MAX_EN, "runtime_max"), (_RUNTIME_MAX_EN_AFTER, "runtime_max"),
                    (_RUNTIME_MIN_EN, "runtime_min")):
        for m in rx.finditer(text):
            minutes = _minutes(m.group(1), m.group(2), m.group(3))
            if minutes:
                sc[key] = minutes
                _mark(out, m, "runtime")


def _runtimes_zh(text: str, sc: dict[str, Any], out: list[Span]) -> None:
    """Chinese runtimes: "两个小时以内", "不超过九十分钟", "至少两小时" (a bound word is required)."""
    for m in _RUNTIME_ZH.finditer(text):
        prefix, number, _, half1, unit, half2, suffix = m.groups()
        if not (prefix or suffix):
            continue
        value = _zh_number(number)
        if value is None:
            continue
        value += 0.5 if (half1 or half2) else 0
        minutes = int(value * 60) if unit in ("小时", "钟头") else int(value)
        if not 20 <= minutes <= 400:
            continue
        if prefix in _ZH_MORE or suffix == "以上":
            sc["runtime_min"] = minutes
        elif suffix == "左右":
            sc["runtime_max"] = minutes + 15
        else:
            sc["runtime_max"] = minutes
        _mark(out, m, "runtime")


def _decades(text: str, sc: dict[str, Any], out: list[Span]) -> None:
    """Both year bounds: "between 1990 and 2000", "the 1980s", "90s", "九十年代"."""
    for m in _YEAR_BETWEEN.finditer(text):
        a, b = sorted((int(m.group(1)), int(m.group(2))))
        sc["year_min"], sc["year_max"] = a, b
        _mark(out, m, "year")
    for rx, base in ((_DECADE_FULL, 0), (_DECADE_SHORT, 1900)):
        for m in rx.finditer(text):
            decade = base + int(m.group(1))
            sc["year_min"], sc["year_max"] = decade, decade + 9
            _mark(out, m, "year")
    for m in _DECADE_ZH.finditer(text):
        raw = m.group(1)
        value = int(raw) if raw.isdigit() else int(_zh_number(raw) or 0)
        decade = value if value >= 1900 else 1900 + value
        if 1900 <= decade <= 2020:
            sc["year_min"], sc["year_max"] = decade, decade + 9
            _mark(out, m, "year")


def _years(text: str, sc: dict[str, Any], out: list[Span]) -> None:
    """One year bound: "before 2000", "since 2010", "2000年以后" (not inside words already read)."""
    for rx, key, delta in ((_YEAR_BEFORE, "year_max", -1), (_YEAR_UNTIL, "year_max", 0),
                           (_YEAR_AFTER, "year_min", 1), (_YEAR_SINCE, "year_min", 0)):
        for m in rx.finditer(text):
            if any(s.start <= m.start() < s.end for s in out):
                continue
            sc[key] = int(m.group(2)) + delta
            _mark(out, m, "year")
    for m in _YEAR_ZH.finditer(text):
        year, word = int(m.group(1)), m.group(2)
        if word in ("以前", "之前", "前"):
            sc["year_max"] = year - 1
        else:
            sc["year_min"] = year
        _mark(out, m, "year")


def _age_ratings(text: str, sc: dict[str, Any], out: list[Span]) -> None:
    """The highest age rating allowed: "PG-13 or below", "nothing above PG", "no R-rated"."""
    for rx, mode in ((_AGE_MAX_AFTER, "max"), (_AGE_MAX_BEFORE, "max"), (_AGE_NOT, "not")):
        for m in rx.finditer(text):
            rating = _age_name(m.group(1))
            if rating not in AGE_RATINGS:
                continue
            if mode == "not":
                rating = AGE_RATINGS[max(0, AGE_RATINGS.index(rating) - 1)]
            sc["max_age_rating"] = rating
            _mark(out, m, "age")


def _zh_number(text: str) -> float | None:
    """A small Chinese or Arabic number ("两", "一百二十", "90", "九十") as a float."""
    if not text:
        return None
    if text.isdigit():
        return float(text)
    if text == "半":
        return 0.5
    total, current = 0.0, 0.0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        else:
            return None
    return total + current


def _age_name(raw: str) -> str:
    """Canonical MPAA name of a matched rating token."""
    raw = raw.replace(" ", "-").upper()
    return {"PG13": "PG-13", "NC17": "NC-17"}.get(raw, raw)


def _minutes(number: str, unit: str, half: str | None) -> int | None:
    """Minutes from a matched English number and unit."""
    number = number.strip()
    if number.startswith("half"):
        value = 0.5
    else:
        value = _NUMBER_WORDS.get(number)
        if value is None:
            try:
                value = float(number)
            except ValueError:
                return None
    if half:
        value += 0.5
    minutes = value * 60 if unit.startswith("h") else value
    return int(round(minutes)) if 20 <= minutes <= 400 else None
