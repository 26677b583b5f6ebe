"""How many Oscars a note says its item won (or was nominated for), against the count its sheet gives.

The 1.5B writes Oscar counts from memory, and they were wrong ("获得5个奥斯卡奖" of Schindler's List, whose sheet says
"Won 7 Oscars"; "获得8个奥斯卡奖" of West Side Story, 10), while every other number of a note was checked. A count
must be the sheet's ("Won 7 Oscars.", "Nominated for 2 Oscars."); a sheet that gives none (an acting Oscar named
alone: "Won the Oscar for Best Actress: …") bears no count. "An Oscar" and "奥斯卡获奖" state no number.
"""

from __future__ import annotations

import re

from retrieval.types import Item

_EN_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
               "ten": 10, "eleven": 11, "twelve": 12}
_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_EN_COUNT = re.compile(r"\b(\d{1,2}|" + "|".join(_EN_NUMBERS) + r")\s+(?:Academy\s+Awards?|Oscars?)(\s+nominations?|"
                       r"\s+nods?)?\b", re.IGNORECASE)
_ZH_COUNT = re.compile(r"(?<!\d)(\d{1,2}|[一二两三四五六七八九十]{1,3})\s*(?:个|座|项|尊|次)?\s*(?:奥斯卡|学院奖)(?:奖)?(?:项|座)?"
                       r"(\s*(?:提名|的?提名))?")
_NOMINATED_BEFORE = re.compile(r"(?:nominated\s+for|nominations?\s+for|提名|获得?提名)\s*$", re.IGNORECASE)
_SHEET_WON = re.compile(r"\bWon (\d+) Oscars?\b")
_SHEET_NOMINATED = re.compile(r"\bNominated for (\d+) Oscars?\b")


def _zh_number(word: str) -> int | None:
    """一 .. 九十九 (and digits) as a number."""
    if word.isdigit():
        return int(word)
    if "十" not in word:
        return _ZH_DIGITS.get(word) if len(word) == 1 else None
    tens, _, ones = word.partition("十")
    value = (_ZH_DIGITS.get(tens, 0) if tens else 1) * 10 + (_ZH_DIGITS.get(ones, 0) if ones else 0)
    return value


def said_counts(text: str) -> list[tuple[str, int, bool]]:
    """Each Oscar count a note states: (its words, the number, whether it counts nominations)."""
    out = []
    for m in _EN_COUNT.finditer(text):
        word = m.group(1).lower()
        number = int(word) if word.isdigit() else _EN_NUMBERS[word]
        nominated = bool(m.group(2)) or bool(_NOMINATED_BEFORE.search(text[max(0, m.start() - 25):m.start()]))
        out.append((m.group(0), number, nominated))
    for m in _ZH_COUNT.finditer(text):
        number = _zh_number(m.group(1))
        if number is not None:
            nominated = bool(m.group(2)) or bool(_NOMINATED_BEFORE.search(text[max(0, m.start() - 6):m.start()]))
            out.append((m.group(0), number, nominated))
    return out


def wrong_oscar_counts(text: str, item: Item) -> list[str]:
    """What a note says of its item's Oscar count that the sheet does not give, in words ("won 5 Oscars, but its
    sheet says 7")."""
    awards = item.awards or ""
    sheet = {False: _SHEET_WON.search(awards), True: _SHEET_NOMINATED.search(awards)}
    found = []
    for words, number, nominated in said_counts(text):
        given = sheet[nominated]
        kind = "nominations" if nominated else "Oscars won"
        if given is None:
            found.append(f"says {words!r}, but its sheet gives no count of {kind}")
        elif int(given.group(1)) != number:
            found.append(f"says {words!r}, but its sheet says {given.group(1)} {kind}")
    return found
