"""A name a Chinese note transliterated, written back as on the sheet when it clearly sounds like one of the item's
own people: "克里斯托弗诺兰执导的烧脑悬疑片" of Memento becomes "Christopher Nolan 执导的烧脑悬疑片".

The 1.5B transliterates names in Chinese notes even when told to keep them in Latin letters, and a name in Chinese
cannot be checked against the sheet, so such notes failed (22 of 47 template notes of `tastebud eval notes`).
The code decides: a name found with its dot or where the checker finds one without (`ZH_UNDOTTED_NAME`) is compared
by sound (pinyin against the Latin spelling, both reduced to consonant classes) with the item's own people, those
of the role its neighbouring word names first (执导 → directors, 主演 → cast); it is replaced only when one person
is clearly nearest. A name that sounds like nobody on the sheet ("瑞奇杰克森" of I Heart Huckabees) stays and
fails the check as before; a replaced name is then checked like any other (a cast member said to direct fails).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from functools import lru_cache

from pypinyin import lazy_pinyin

from chatbot.turn.notes.patterns import TRANSLIT, ZH_UNDOTTED_NAME
from retrieval.types import Item

MIN_LIKENESS = 0.75  # the sound of the nearest person (0..1): 0.92 "汤姆汉克斯" ~ Tom Hanks, 0.62 "汤姆霍金斯"
MIN_MARGIN = 0.1  # ahead of the next nearest: "雷纳德" is 0.75 Chris Sarandon and 0.67 Rob Reiner: neither
_DIRECTING = re.compile("执导|导演|编导|监制")
_ACTING = re.compile("主演|主角|领衔|配音|饰|出演|表演|演技|演出|携手")
# A name with its dot ("汤姆·汉克斯和提姆·艾伦配音", also "罗伯特.扎梅克西斯", "罗伯特-雷纳德", "斯蒂芬妮. 斯皮尔伯格"):
# the name's own characters round each dot.
_DOTTED = re.compile(f"[{TRANSLIT}]+(?:[\u00b7\u30fb\u2022.\\-．] ?[{TRANSLIT}]+)+")
# A given name transliterated before a family name kept in Latin letters ("罗伯特 Zemeckis").
_HALF = re.compile(f"([{TRANSLIT}]{{2,8}})[ .\u00b7\u30fb\u2022-]?([A-Z][A-Za-z'-]+)")
_DOTS = re.compile("[\u00b7\u30fb\u2022.\\-．]")
_CJK = re.compile("[\u4e00-\u9fff]")
# Characters of transliterated names too common to find a name by ("大卫" David, "乔治" George, "道格拉斯" Douglas,
# "海伦" Helen), taken in only at a found name's start.
_NAME_CHARS = frozenset(TRANSLIT + "大治道海得")

# Pinyin initials and Latin spellings, each to a consonant class (vowels carry little across the two).
_INITIALS = (("zh", "S"), ("ch", "S"), ("sh", "S"), ("b", "P"), ("p", "P"), ("m", "M"), ("f", "F"), ("d", "T"),
             ("t", "T"), ("n", "N"), ("l", "L"), ("g", "K"), ("k", "K"), ("h", "H"), ("j", "S"), ("q", "S"),
             ("x", "S"), ("r", "L"), ("z", "S"), ("c", "S"), ("s", "S"), ("y", ""), ("w", "W"))
_LATIN = (("sch", "S"), ("chr", "KL"), ("ch", "?"), ("ph", "F"), ("th", "T"), ("sh", "S"), ("ck", "K"), ("qu", "K"),
          ("x", "KS"), ("gh", ""), ("wh", "W"), ("kn", "N"), ("b", "P"), ("p", "P"), ("m", "M"), ("f", "F"), ("v", "W"),
          ("w", "W"), ("d", "T"), ("t", "T"), ("n", "N"), ("l", "L"), ("r", "L"), ("k", "K"), ("q", "K"), ("h", "H"),
          ("j", "S"), ("s", "S"), ("z", "S"))
_SOFT = re.compile("[cg](?=[eiy])")  # "Vincent", "George": the soft c and g sound like s


def zh_sound(name: str) -> str:
    """The consonant classes of a name written in Chinese characters ("诺兰" -> "NLN")."""
    out = []
    for syllable in lazy_pinyin(_DOTS.sub("", name)):
        if syllable == "er":  # 尔: the r of a Latin name
            out.append("L")
            continue
        for initial, cls in _INITIALS:
            if syllable.startswith(initial):
                out.append(cls)
                syllable = syllable[len(initial):]
                break
        if syllable.endswith("n") or syllable.endswith("ng"):
            out.append("N")
    return "".join(out)


@lru_cache(maxsize=4096)
def latin_sounds(name: str) -> tuple[str, ...]:
    """The consonant classes of a name in Latin letters, one per reading of an unclear "ch" (Nicholson: k;
    Charlie: s)."""
    spelled = _SOFT.sub("s", re.sub("[^a-z]", "", name.lower()))
    out, i = [], 0
    while i < len(spelled):
        for letters, cls in _LATIN:
            if spelled.startswith(letters, i):
                out.append(cls)
                i += len(letters)
                break
        else:
            i += 1  # a vowel, or c / g before a hard vowel (handled below)
            if spelled[i - 1] in "cg":
                out.append("K")
    sound = "".join(out)
    readings = {sound.replace("?", "K"), sound.replace("?", "S")}
    return tuple(sorted(re.sub(r"(.)\1+", r"\1", r) for r in readings))


def likeness(zh_name: str, person: str, whole: bool = False) -> float:
    """How much a Chinese transliteration sounds like a person's Latin name, whole or (unless `whole`) the family
    or the given name alone (0..1; "罗伯特执导" of Rob Reiner)."""
    heard = zh_sound(zh_name)
    words = person.split()
    forms = {person, words[0], words[-1]} if words and not whole else {person}
    return max(SequenceMatcher(None, heard, sound).ratio() for form in forms for sound in latin_sounds(form))


def nearest_person(zh_name: str, item: Item, role: str | None = None) -> str | None:
    """The one person on the item's sheet this transliteration clearly names (those of its role first), or None."""
    pools: list[Sequence[str]] = [item.directors if role == "director" else item.cast] if role else []
    for pool in (*pools, item.people):
        scored = sorted(((likeness(zh_name, p), p) for p in dict.fromkeys(pool)), reverse=True)
        if not scored or scored[0][0] < MIN_LIKENESS:
            continue
        if len(scored) == 1 or scored[0][0] - scored[1][0] >= MIN_MARGIN:
            return scored[0][1]
    return None


def with_sheet_names(text: str, item: Item) -> str:
    """The Chinese note with every transliterated name that clearly sounds like one of the item's people written as
    on the sheet; the rest of the note untouched."""
    named = [*dict.fromkeys(item.people), *title_names(item.title)]  # "Roast of James Franco" names him too
    text = _HALF.sub(lambda m: _whole_name(m, named), text) if named else text
    if not item.people:
        return text
    for start, end in reversed(_name_spans(text)):
        near = text[end:end + 3] + text[max(0, start - 3):start]
        role = "director" if _DIRECTING.search(near) else "cast" if _ACTING.search(near) else None
        start = _reach_back(text, start, end, item)
        person = nearest_person(text[start:end], item, role)
        if person is None or re.match("[A-Za-z]", text[end:end + 1]):  # "莱顿ighton": garbled, left to the checker
            continue
        before = " " if start > 0 and _CJK.match(text[start - 1]) else ""
        after = " " if end < len(text) and _CJK.match(text[end]) else ""
        text = f"{text[:start]}{before}{person}{after}{text[end:]}"
    return text


def _name_spans(text: str) -> list[tuple[int, int]]:
    """Where the note writes a name in Chinese characters (dotted or not), each read once, whole."""
    spans = [m.span() for m in (*_DOTTED.finditer(text), *ZH_UNDOTTED_NAME.finditer(text))]
    kept: list[tuple[int, int]] = []
    for start, end in sorted(set(spans), key=lambda span: (span[0], -span[1])):
        if not kept or start >= kept[-1][1]:  # a dotted name is also an undotted one: read once, whole
            kept.append((start, end))
    return kept


_ROLE_AFTER = re.compile(r"\s*(?:执导|导演|编导|领衔主演|主演|配音|出演)(的)?")
_ROLE_BEFORE = re.compile(r"(?:由|的?(?:导演是|导演为|主演是|主演为)|导演|主演)\s*$")


def without_unknown_names(text: str, item: Item) -> str:
    """The Chinese note without the role of a name it wrote in Chinese that sounds like none of the item's people
    ("罗伯特执导的法庭戏" of a film Robert never made: "法庭戏"; "导演是罗伯特，"): the claim cannot be checked, the
    rest of the note can. A name with no role beside it stays (and fails the check)."""
    for start, end in reversed(_name_spans(text)):
        if item.people and nearest_person(text[start:end], item) is not None:
            continue
        after, before = _ROLE_AFTER.match(text, end), _ROLE_BEFORE.search(text[:start])
        if after is None and before is None:
            continue
        cut_from = before.start() if before is not None and (after is None or before.group(0) == "由") else start
        text = text[:cut_from] + text[(after.end() if after is not None else end):]
    text = re.sub(r"([，、；：])\s*[，、；：]", r"\1", re.sub(r"\s*([，、；：])\s*(?=[。！？])", "", text))
    return re.sub(r"^\s*[，、；：]\s*", "", text).strip()


def _reach_back(text: str, start: int, end: int, item: Item) -> int:
    """Where the name begins, taking in up to two name characters before the run that make it sound more like one
    of the item's people ("大" of "大卫芬奇", "治" of "乔治卢卡斯": too common to find a name by)."""
    best, begin = max(likeness(text[start:end], p, whole=True) for p in item.people), start
    for back in (1, 2):
        if start - back < 0 or text[start - back] not in _NAME_CHARS:
            break
        now = max(likeness(text[start - back:end], p, whole=True) for p in item.people)
        if now > best:
            best, begin = now, start - back
    return begin


def title_names(title: str) -> list[str]:
    """The runs of two or more capitalised words of a title, which may be a person's name ("James Franco")."""
    return re.findall(r"[A-Z][\w'.-]+(?:\s+[A-Z][\w'.-]+)+", title)


def _whole_name(m: re.Match[str], named: Sequence[str]) -> str:
    """"罗伯特 Zemeckis" as "Robert Zemeckis" (and "罗伯特 De Niro" as "Robert De Niro") when the Latin words begin
    the rest of the name of one of the item's people (`named`) and the characters before them sound like the start
    of it; "罗伯特 Robert Zemeckis" as "Robert Zemeckis" (the given name written twice); else as written."""
    before = " " if m.start() > 0 and _CJK.match(m.string[m.start() - 1]) else ""
    heard, latin, at = m.group(1), m.group(2), m.start(2)
    if any(len(p.split()) > 1 and m.string.startswith(p, at) for p in named) and likeness(
            heard, latin, whole=True) >= MIN_LIKENESS - 0.25:
        return f"{before}{latin}"
    starts = {" ".join(p.split()[:i]) for p in named for i in range(1, len(p.split()))
              if m.string.startswith(" ".join(p.split()[i:]), at)}
    starts = {given for given in starts if likeness(heard, given) >= MIN_LIKENESS - 0.25}
    return f"{before}{starts.pop()} {latin}" if len(starts) == 1 else m.group(0)
