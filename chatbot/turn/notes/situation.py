"""Who and what a person's situation is made of, as a note may speak of it: each kind of weather and company, the
words of a note's reasons that give it, how a note says it (the checker's patterns) and the words the notes model is
kept from when nothing gives it."""

from __future__ import annotations

import re

from chatbot.text.names import fold_name

# Each kind of weather: the words in a note's reasons or its item's facts that give it, how a note says it (the
# checker's pattern) and the words the notes model is kept from when nothing gives it ("a snowy afternoon" came
# from the prompt's example into notes for people who had said nothing of snow).
WEATHER_KINDS: tuple[tuple[tuple[str, ...], str, dict[str, tuple[str, ...]]], ...] = (
    (("rain", "pour", "drizzl", "storm", "shower", "wet", "雨"),
     r"\b(?:rain\w*|pouring|drizzl\w*|storm\w*|downpour)\b|下雨|雨天|雨夜|雨中|雨季|暴雨|风雨|下着雨",
     {"en": ("rain", "rainy", "raining", "rainstorm", "drizzle", "drizzly", "downpour", "pouring", "storm", "stormy"),
      "zh": ("下雨", "雨天", "雨夜", "雨中", "暴雨", "下着雨")}),
    (("snow", "blizzard", "雪"), r"\b(?:snow\w*|blizzard\w*)\b|下雪|雪天|雪夜|飘雪|大雪",
     {"en": ("snow", "snowy", "snowing", "snowfall", "blizzard"), "zh": ("下雪", "雪天", "雪夜", "飘雪", "大雪")}),
    (("sun", "hot", "heat", "summer", "晴", "热", "阳光"),
     r"\b(?:sunny|sunshine|heat ?wave|scorching|summery|hot summer|summer heat|the heat)\b|晴天|阳光明媚|炎热|烈日",
     {"en": ("sunny", "sunshine", "heatwave", "scorching", "summery"), "zh": ("晴天", "阳光明媚", "炎热", "烈日")}),
)


# Each kind of company: the words of a note's reasons (or its item's genres) that give it, how a note says it (the
# checker's pattern) and the words the notes model is kept from when nothing gives it ("a cake to share with
# friends" of a birthday cake, "a dish to bring with your friends" of a potluck with colleagues). 小朋友 is children.
COMPANY_KINDS: tuple[tuple[tuple[str, ...], str, dict[str, tuple[str, ...]]], ...] = (
    (("partner", "couple", "date", "romantic", "romance", "girlfriend", "boyfriend", "wife", "husband"),
     r"\b(?:your|a) (?:partner|date|girlfriend|boyfriend|wife|husband|significant other|loved one)\b|"
     r"伴侣|另一半|恋人|情侣|女朋友|男朋友|对象",
     {"en": ("girlfriend", "boyfriend", "husband", "significant other"),
      "zh": ("伴侣", "另一半", "恋人", "情侣", "女朋友", "男朋友")}),
    (("family", "kid", "kids", "children", "child"),
     r"\b(?:your|the) (?:family|kids|children|little ones)\b|家人|全家|孩子|小朋友|一家人",
     {"en": ("kids", "children", "little ones"), "zh": ("家人", "全家", "孩子", "小朋友")}),
    (("friend", "friends", "group"), r"\b(?:your|with) friends\b|(?<![小男女])朋友",
     {"en": ("friends",), "zh": ("朋友",)}),
    (("colleague", "colleagues", "coworker", "coworkers", "work"),
     r"\b(?:your )?(?:colleagues|coworkers)\b|同事", {"en": ("colleagues", "coworkers"), "zh": ("同事",)}),
)


def unsaid_company(grounded: str, language: str) -> list[str]:
    """The company words a note may not write: those of every kind of company that `grounded` (its reasons and its
    item's genres) does not give; 朋友 only while children are not given either (it is the end of 小朋友)."""
    own = {w.rstrip("s") for w in re.findall(r"[a-z]+", fold_name(grounded))}
    given = [any(g.rstrip("s") in own for g in ground) for ground, _, _ in COMPANY_KINDS]
    words = [w for (_, _, said), ok in zip(COMPANY_KINDS, given) if not ok for w in said.get(language, ())]
    return [w for w in words if not (w == "朋友" and given[1])]


def unsaid_weather(grounded: str, language: str) -> list[str]:
    """The weather words a note may not write: those of every kind of weather that `grounded` (its reasons and
    its item's facts) does not give."""
    own = fold_name(grounded)
    return [w for ground, _, words in WEATHER_KINDS if not any(g in own for g in ground)
            for w in words.get(language, ())]
