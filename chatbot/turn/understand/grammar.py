"""The constraint grammar (constraints.yaml, next to this file): its checked shape, and the word tables compiled
into the regular expressions that numbers.py (quantities) and bounds.py (comparators, negations, ranges) use.

Everything language-specific is data: number words, units per numeric field, comparators with their direction and
strictness, negations, filler words, range words and the words that lift a bound. Code holds only the grammar:
`[negation [gap…]] [comparator [gap…]] QUANTITY [post-comparator]` and `[lead] Q1 join Q2 [trail]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prompts import load_data
from retrieval.errors import DataFileError

GRAMMAR_FILE = "constraints.yaml"  # shipped in this package
Lang = Literal["en", "zh"]
Kind = Literal["quantity", "year", "scale", "facet"]
Direction = Literal["max", "min", "eq", "approx"]


class GrammarError(DataFileError):
    """The constraint grammar file is missing or malformed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Words(_Strict):
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)


class _Unit(_Words):
    factor: float
    part: bool = False  # the words count part of a whole ("adults", "kids"): several in a row add up


class _Plausible(_Strict):
    min: float
    max: float


class _FamilyName(_Strict):
    min_films: int
    lowercase_min_films: int
    before: list[str]
    after: list[str]
    common: list[str]
    place_before: list[str] = []


class FieldSpec(_Strict):
    """One constrainable field: its kind, the slots its bounds set, its units or scale, its names."""

    kind: Kind
    slots: dict[Literal["min", "max"], str] = Field(default_factory=dict)
    plausible: _Plausible | None = None
    units: list[_Unit] = Field(default_factory=list)
    approx_margin: float = 0
    whole: bool = True  # bounds are whole numbers (minutes, years); a price keeps its cents
    scale: list[str] = Field(default_factory=list)
    aliases: dict[str, str] = Field(default_factory=dict)
    names: _Words = Field(default_factory=_Words)
    clear: list[str] = Field(default_factory=list)
    family_name: _FamilyName | None = None
    alone: Literal["min"] | None = None  # a quantity with no comparator is a lower bound ("for 6 people")


class _EnNumbers(_Strict):
    ones: dict[str, int]
    tens: dict[str, int]
    hundred: list[str]
    before_unit: dict[str, float]


class _ZhNumbers(_Strict):
    digits: dict[str, int]
    multipliers: dict[str, int]


class _Numbers(_Strict):
    en: _EnNumbers
    zh: _ZhNumbers


class _Era(_Words):
    min: int | None = None
    max: int | None = None


class _Relative(_Strict):
    lead: list[str]
    units: dict[str, int]
    few: int | None = None
    trail: list[str] = Field(default_factory=list)


class _Years(_Strict):
    decade_words: dict[str, int]
    parts: dict[Lang, dict[str, tuple[int, int]]]
    not_decade_after: dict[Lang, list[str]]
    eras: list[_Era]
    relative: dict[Lang, _Relative]


class _Comparator(_Strict):
    words: list[str]
    dir: Direction
    strict: bool = False
    weak: bool = False
    kinds: list[Kind]


class _LangComparators(_Strict):
    pre: list[_Comparator]
    post: list[_Comparator]
    hyphen: list[str] = Field(default_factory=list)


class _Range(_Strict):
    lead: list[str]
    join: list[str]
    trail: list[str] = Field(default_factory=list)


class _Clearing(_Strict):
    before: list[str]
    after: list[str]
    limit_words: list[str]


class _Conditions(_Strict):
    en: list[str]
    zh_after: list[str]
    zh_before: list[str]


class GrammarFile(_Strict):
    """The shape of constraints.yaml, checked on load."""

    numbers: _Numbers
    fields: dict[str, FieldSpec]
    years: _Years
    comparators: dict[Lang, _LangComparators]
    ranges: dict[Lang, _Range]
    negations: _Words
    gaps: _Words
    not_constraints: _Words
    replacing: _Words
    conditions: _Conditions
    clearing: dict[Lang, _Clearing]


@dataclass(frozen=True)
class Comparator:
    """What a comparator word does: the side it bounds, whether the number itself is left out, the field kinds."""

    dir: Direction
    strict: bool
    weak: bool
    kinds: frozenset[str]


@dataclass(frozen=True)
class LangGrammar:
    """One language's compiled comparators, negations, ranges and clearing words."""

    pre: re.Pattern[str]  # [negation gap*] comparator gap* — anchored at the end of the text before a quantity
    neg_only: re.Pattern[str]  # negation gap* — anchored at the end
    post: re.Pattern[str]  # post-comparator — anchored at the start of the text after a quantity
    pre_words: dict[str, tuple[Comparator, ...]]
    post_words: dict[str, tuple[Comparator, ...]]
    range_left: re.Pattern[str]  # [lead] join — between two quantities; `lead` before the first
    range_lead: re.Pattern[str]  # the lead word, anchored at the end of the text before the first quantity
    range_trail: re.Pattern[str]  # a trailing word ("之间"), anchored at the start
    range_words: tuple[str, str]  # the lead and join alternations (a bare number's range: "between 90 and 120 min")
    clear: re.Pattern[str]  # "any length", "the year doesn't matter", 时长无所谓
    clear_names: dict[str, str]  # a field name word -> the field
    replacing: re.Pattern[str]  # "instead", "换成": new people or genres replace the old ones
    condition_before: re.Pattern[str]  # "if", "如果": a bound after it in its clause is no request
    condition_after: re.Pattern[str]  # "就会": a bound right before it is no request (Chinese)


@dataclass(frozen=True)
class Grammar:
    """The compiled grammar: the data file plus one `LangGrammar` per language."""

    data: GrammarFile
    en: LangGrammar
    zh: LangGrammar

    def lang(self, language: str) -> LangGrammar:
        """The compiled tables of a language ("zh" for Chinese, English for everything else)."""
        return self.zh if language == "zh" else self.en

    def field_of_slot(self, slot: str) -> str | None:
        """The field a slot belongs to ("year_max" -> "year")."""
        for name, spec in self.data.fields.items():
            if slot in spec.slots.values():
                return name
        return None


def words_alt(phrases: list[str], en: bool) -> str:
    """A regex alternation of phrases, longest first; English phrases take any whitespace (or hyphens: "90-minute-or-
    less") between their words."""
    out = []
    for p in sorted({p.strip().lower() for p in phrases if p.strip()}, key=len, reverse=True):
        body = re.escape(p)
        out.append(body.replace(r"\ ", r"[\s-]+") if en else body)
    return "(?:" + "|".join(out) + ")" if out else "(?!x)x"


def _table(entries: list[_Comparator]) -> dict[str, tuple[Comparator, ...]]:
    """Phrase -> its comparators, one per group of field kinds ("up to" bounds runtimes and years)."""
    table: dict[str, tuple[Comparator, ...]] = {}
    for e in entries:
        for w in e.words:
            key = _key(w)
            table[key] = table.get(key, ()) + (Comparator(e.dir, e.strict, e.weak, frozenset(e.kinds)),)
    return table


def _key(phrase: str) -> str:
    """A phrase as a table key: lower case, one space between words, hyphens as spaces ("or-less" = "or less")."""
    return " ".join(re.split(r"[\s-]+", phrase.lower().strip("- ")))


def comparator_for(table: dict[str, tuple[Comparator, ...]], phrase: str, kind: str) -> Comparator | None:
    """The comparator a matched phrase means for a field of this kind, or None when it does not bound that kind."""
    for c in table.get(_key(phrase), ()):
        if kind in c.kinds:
            return c
    return None


def _compile_lang(data: GrammarFile, lang: Lang) -> LangGrammar:
    """Compile one language's comparator, negation, range and clearing tables."""
    en = lang == "en"
    cmp = data.comparators[lang]
    pre_words, post_words = _table(cmp.pre), _table(cmp.post)
    neg = words_alt(getattr(data.negations, lang), en)
    gap = words_alt(getattr(data.gaps, lang), en)
    pre = words_alt(list(pre_words), en)
    post = words_alt(list(post_words), en)
    if en:
        lb, sep, gaps3, gaps2 = r"(?<![a-z0-9'])", r"\s+", rf"(?:{gap}\s+){{0,3}}", rf"(?:{gap}\s+){{0,2}}"
        hyphen = words_alt(cmp.hyphen, True)
        pre_rx = (rf"{lb}(?:(?P<neg>{neg}){sep}{gaps3})?(?:(?P<pre>{pre})(?:\s+|(?<=[<>=≤≥])\s*)"
                  rf"|(?P<hy>{hyphen})\s*-\s*){gaps2}$")
        neg_rx = rf"{lb}(?P<neg>{neg}){sep}{gaps3}$"
        post_rx = rf"^[\s-]*(?:,\s*)?(?P<post>{post})(?![a-z0-9])"
    else:
        gaps3, gaps2 = rf"(?:{gap}\s*){{0,3}}", rf"(?:{gap}\s*){{0,2}}"
        pre_rx = rf"(?:(?P<neg>{neg})\s*{gaps3})?(?P<pre>{pre})\s*{gaps2}$"
        neg_rx = rf"(?P<neg>{neg})\s*{gaps3}$"
        post_rx = rf"^\s*(?:的\s*)?(?P<post>{post})"
    rng = data.ranges[lang]
    lead, join, trail = words_alt(rng.lead, en), words_alt(rng.join, en), words_alt(rng.trail, en)
    if en:
        range_left = rf"^\s*(?P<join>{join}|or)\s*(?:the\s+)?$"
        range_lead = rf"(?<![a-z0-9'])(?P<lead>{lead})\s+(?:the\s+)?$"
    else:
        range_left = rf"^\s*(?P<join>{join})\s*$"
        range_lead = rf"(?P<lead>{lead})\s*$"
    return LangGrammar(
        pre=re.compile(pre_rx), neg_only=re.compile(neg_rx), post=re.compile(post_rx),
        pre_words=pre_words, post_words=post_words,
        range_left=re.compile(range_left), range_lead=re.compile(range_lead),
        range_trail=re.compile(rf"^\s*(?P<trail>{trail})"), range_words=(lead, join),
        clear=_clear_pattern(data, lang), clear_names=_clear_names(data, lang),
        replacing=re.compile(_bounded(words_alt(getattr(data.replacing, lang), en), en)),
        condition_before=re.compile(_bounded(words_alt(data.conditions.en if en else data.conditions.zh_before, en),
                                             en)),
        condition_after=re.compile(r"^\s*" + (r"(?!x)x" if en else words_alt(data.conditions.zh_after, False))),
    )


def _bounded(alt: str, en: bool) -> str:
    """An alternation as whole English words (Chinese phrases stand as they are)."""
    return rf"(?<![a-z0-9']){alt}(?![a-z0-9])" if en else alt


def _clear_names(data: GrammarFile, lang: Lang) -> dict[str, str]:
    """A field's name word -> the field."""
    return {" ".join(w.lower().split()): name for name, spec in data.fields.items() for w in getattr(spec.names, lang)}


def _clear_pattern(data: GrammarFile, lang: Lang) -> re.Pattern[str]:
    """`before [the] NAME [limit]` or `[the] NAME [limit] after` (English); `before NAME` / `NAME [的][limit] after`."""
    en = lang == "en"
    c = data.clearing[lang]
    names = words_alt(list(_clear_names(data, lang)), en)
    before, after, limit = words_alt(c.before, en), words_alt(c.after, en), words_alt(c.limit_words, en)
    if en:
        lb, rb = r"(?<![a-z0-9'])", r"(?![a-z0-9])"
        return re.compile(
            rf"{lb}(?:{before})\s+(?:(?:the|a|that)\s+)?(?P<n1>{names})(?:\s+{limit})?{rb}"
            rf"|{lb}(?:the\s+)?(?P<n2>{names})(?:\s+{limit})?\s*(?:,\s*)?(?:{after}){rb}"
        )
    return re.compile(rf"(?:{before})\s*(?P<n1>{names})|(?P<n2>{names})\s*(?:的)?\s*(?:{limit})?\s*(?:{after})")


@lru_cache(maxsize=4)
def load_grammar(path: str | None = None) -> Grammar:
    """Read, check and compile the constraint grammar (the packaged constraints.yaml unless a path is given)."""
    where = path or f"chatbot/turn/understand/{GRAMMAR_FILE}"
    try:
        raw = load_data("chatbot.turn.understand", GRAMMAR_FILE, path)
    except DataFileError as exc:
        raise GrammarError(f"cannot read the constraint grammar ({where}): {exc}") from exc
    try:
        data = GrammarFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"])
        raise GrammarError(f"the constraint grammar ({where}) is malformed at {at}: {first['msg']}") from exc
    return compile_grammar(data)


def compile_grammar(data: GrammarFile) -> Grammar:
    """A checked grammar file compiled for both languages (a catalog's own fields: catalog_reading.py)."""
    return Grammar(data=data, en=_compile_lang(data, "en"), zh=_compile_lang(data, "zh"))
