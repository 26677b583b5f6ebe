"""How many Oscars a note says its item won (or was nominated for), against the count its sheet gives.

The 1.5B writes Oscar counts from memory ("获得 2 项奥斯卡提名" of The Godfather, whose sheet says "Nominated for 7
Oscars"), while every other number of a note was checked. A count must be the sheet's ("Won 7 Oscars.",
"Nominated for 2 Oscars."); a sheet that gives none (an acting Oscar named alone: "Won the Oscar for Best Actress:
…") bears no count. "An Oscar" and "奥斯卡获奖" state no number. Numbers are read with the constraint grammar's
number words (`measures.number_words`), as the runtime check reads "二十五分钟".
"""

from __future__ import annotations

import functools
import re

from chatbot.turn.notes.measures import number_words
from retrieval.types import Item

MOST_OSCARS = 20  # no film has had more nominations (14) or wins (11): a bigger number is a year
_NOMINATED_BEFORE = re.compile(r"(?:nominated\s+for|nominations?\s+for|提名|获得?提名)\s*$", re.IGNORECASE)
_SHEET_WON = re.compile(r"\bWon (\d+) Oscars?\b")
_SHEET_NOMINATED = re.compile(r"\bNominated for (\d+) Oscars?\b")


@functools.lru_cache(maxsize=1)
def _count_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A number before "Oscars" / "Academy Awards" (English) and before 奥斯卡 / 学院奖 (Chinese)."""
    words = number_words()
    en = re.compile(rf"\b(?P<n>{words.en})\s+(?:Academy\s+Awards?|Oscars?)(?P<nom>\s+nominations?|\s+nods?)?\b",
                    re.IGNORECASE)
    zh = re.compile(rf"(?<![\d.])(?P<n>{words.zh})\s*(?:个|座|项|尊|次)?\s*(?:奥斯卡|学院奖)(?:奖)?(?:项|座)?"
                    r"(?P<nom>\s*的?提名)?")
    return en, zh


def said_counts(text: str) -> list[tuple[str, int, bool]]:
    """Each Oscar count a note states: (its words, the number, whether it counts nominations)."""
    out = []
    for pattern, value, reach in zip(_count_patterns(), (number_words().en_value, number_words().zh_value), (25, 6),
                                     strict=True):
        for m in pattern.finditer(text):
            number = value(m.group("n"))
            if number is None or number != int(number) or number > MOST_OSCARS:
                continue  # "the 1998 Oscars": a ceremony, not a count
            before = text[max(0, m.start() - reach):m.start()]
            nominated = bool(m.group("nom")) or bool(_NOMINATED_BEFORE.search(before))
            out.append((m.group(0), int(number), nominated))
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
