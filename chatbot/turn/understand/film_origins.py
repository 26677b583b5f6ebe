"""The countries and languages of the catalog's films, named in a message by the catalog's own values.

Every country and language the catalog holds is a name as it is spelled there ("a film from Brazil", "films from
the United Kingdom", "anything in Hungarian"); film_origins.yaml adds the other names people use ("the UK",
"Korea", 日本, 巴西). A country name counts only next to a word that makes it the film's ("from", "made in",
"film", 来自, 电影), and not where the person speaks of themself ("I'm from France", 我来自日本); a language name
only after "in" or before "language" / "-speaking", and not in "answer in English". The spans carry the same
tags as the lexicon's ("country", values) / ("language", values), so a negation before them rules them out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from chatbot.turn.understand.spans import Span
from prompts import load_data
from retrieval.text import has_cjk
from retrieval.types import Item

DATA_FILE = "film_origins.yaml"
_LOOK_BACK = 40  # characters before a match searched for "I'm" / "answer"
_EN_EDGE = r"(?<![a-z0-9'])"
_EN_END = r"(?![a-z0-9])"


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    """film_origins.yaml."""
    return load_data("chatbot.turn.understand", DATA_FILE)


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of phrases, longest first, any whitespace between words."""
    phrases = sorted({w.strip().lower() for w in words if w and w.strip()}, key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases)


def _names(catalog_values: Iterable[str], entries: list[dict[str, Any]], lang: str) -> dict[str, tuple[str, ...]]:
    """name (lower case) -> the catalog values it names: each value by its own spelling (English), plus the other
    names of film_origins.yaml (`lang`: en, zh or adjectives) whose values the catalog holds."""
    held = set(catalog_values)
    names: dict[str, list[str]] = {}
    if lang == "en":
        for value in held:
            names.setdefault(value.lower(), []).append(value)
    for entry in entries:
        values = [v for v in entry.get("values", []) if v in held]
        for name in entry.get(lang) or []:
            for value in values:
                if value not in names.setdefault(str(name).lower(), []):
                    names[str(name).lower()].append(value)
    return {name: tuple(values) for name, values in names.items() if values}


class FilmOrigins:
    """Finds the catalog's countries and languages named as a film's in a (lower-cased, normalised) message."""

    def __init__(self, items: Iterable[Item]) -> None:
        data = _data()
        items = list(items)
        self.countries = _names((c for i in items for c in i.countries), data["countries"], "en")
        self.languages = _names((lg for i in items for lg in i.languages), data["languages"], "en")
        self.countries_zh = _names((c for i in items for c in i.countries), data["countries"], "zh")
        adjectives = {**self.countries, **_names((c for i in items for c in i.countries), data["countries"],
                                                  "adjectives")}
        self._person = re.compile(rf"{_EN_EDGE}(?:{_alternation(data['person_origin_en'])})\s*(?:originally\s+)?$")
        # "<someone> is from", "my girlfriend's from": someone's origin, unless the someone is a film ("one that's")
        self._someone_is = re.compile(r"(?P<who>[a-z]+)(?:\s+(?:is|are|am|was|were)|'s|'re|'m)\s+(?:originally\s+)?$")
        self._film_words = frozenset(data["film_subjects_en"])
        self._to_me = re.compile(rf"{_EN_EDGE}(?:{_alternation(data['speak_to_me_en'])}){_EN_END}")
        # (pattern, kind, the names it reads, one name alone): built once, a message is read with them
        self._patterns: list[tuple[re.Pattern[str], str, dict[str, tuple[str, ...]], re.Pattern[str]]] = []
        for kind, names, before, lead, tail in (
                ("country", self.countries, adjectives, "country_lead_en", "country_tail_en"),
                ("language", self.languages, self.languages, "language_lead_en", "language_tail_en")):
            if not names:
                continue
            name, adjective = f"(?:{_alternation(names)})", f"(?:{_alternation(before)})"
            more = rf"(?:(?:\s*,\s*|\s+)(?:(?:or|and|nor)\s+)?(?:the\s+)?{name}{_EN_END})*"  # "from Sweden or Denmark"
            self._patterns += [
                (re.compile(rf"{_EN_EDGE}(?P<lead>{_alternation(data[lead])})\s+(?:the\s+)?{name}{_EN_END}{more}"),
                 kind, names, re.compile(rf"{_EN_EDGE}{name}{_EN_END}")),
                (re.compile(rf"{_EN_EDGE}{adjective}(?=(?:\s+|-)(?:{_alternation(data[tail])}){_EN_END})"), kind,
                 before, re.compile(rf"{_EN_EDGE}{adjective}{_EN_END}")),
            ]
        self._zh = None
        if self.countries_zh:
            name = "(?:" + "|".join(sorted(map(re.escape, self.countries_zh), key=len, reverse=True)) + ")"
            names = rf"{name}(?:(?:或者|或是|或|和|跟|与|、){name})*"  # 瑞典或丹麦
            lead = "|".join(map(re.escape, data["country_lead_zh"]))
            tail = "|".join(sorted(map(re.escape, data["country_tail_zh"]), key=len, reverse=True))
            ones = r"的(?:$|[\s,.;!?，。；！？、]|了|吧|啦|呢|哦)"  # 不要日本的: "no Japanese ones", at a clause's end
            self._zh = re.compile(rf"(?P<lead>{lead}){names}|{names}(?=的?(?:{tail})|{ones})")
            self._zh_name = re.compile(name)
            self._person_zh = tuple(sorted(data["person_origin_zh"], key=len, reverse=True))

    def find(self, text: str) -> list[Span]:
        """Spans of the countries and languages named as a film's, tagged ("country" | "language", values)."""
        out: list[Span] = []
        for pattern, kind, names, named in self._patterns:
            for m in pattern.finditer(text):
                if self._about_the_person(text, m, kind):
                    continue
                after_lead = m.end("lead") if m.groupdict().get("lead") else m.start()
                values = [v for n in named.finditer(text[after_lead:m.end()]) for v in names[" ".join(n.group().split())]]
                out.append(Span(m.start(), m.end(), ((kind, tuple(dict.fromkeys(values))),)))
        if self._zh is not None and has_cjk(text):
            for m in self._zh.finditer(text):
                if m.group("lead") and text[:m.start()].endswith(self._person_zh):
                    continue  # 我来自日本: where the person is from
                body = text[m.end("lead") if m.group("lead") else m.start():m.end()]
                values = [v for n in self._zh_name.findall(body) for v in self.countries_zh[n]]
                out.append(Span(m.start(), m.end(), (("country", tuple(dict.fromkeys(values))),)))
        return out

    def _about_the_person(self, text: str, m: re.Match[str], kind: str) -> bool:
        """True when the words before a lead speak of a person ("I'm from", "my girlfriend is from", "answer in")."""
        if m.groupdict().get("lead") is None:
            return False
        before = text[max(0, m.start() - _LOOK_BACK):m.start()]
        if kind == "country":
            someone = self._someone_is.search(before.rstrip() + " ")
            return bool(self._person.search(before.rstrip())) or (
                someone is not None and someone.group("who") not in self._film_words)
        return m.group("lead") == "in" and bool(self._to_me.search(" ".join(before.split()[-4:])))
