"""The catalog schema: what a catalog's items are called and what each of its columns means.

A schema sits beside the catalog as `catalog.schema.yaml` (the demo catalogs ship theirs in
`retrieval/schemas/`). It names the item noun and verb in English and Chinese, the id and title columns, the text
fields (embedded, shown to the LLM), the facets (categorical, single- or multi-valued, with synonyms), the numbers
(each with a unit from `retrieval/schemas/units.yaml` and a plausible range), the people by role, an optional
ordered suitability scale, an optional image column and an optional interactions file. Reading and checking a
schema file is `retrieval.schema_file`; guessing one for a file that has none is `retrieval.schema_infer`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from retrieval.errors import CatalogError

SCHEMA_FILE = "catalog.schema.yaml"  # the schema's name beside catalog.jsonl
DEFAULT_MAX_VALUES = 1000  # a facet with more distinct values than this is kept as text


@dataclass(frozen=True)
class Words:
    """Words for one thing in English and in Chinese."""

    en: tuple[str, ...] = ()
    zh: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemNoun:
    """What one item is called and what people do with it: film / 电影 / watch / 看."""

    en: str = "item"
    en_plural: str = "items"
    zh: str = "条目"
    measure_zh: str = "个"  # the Chinese measure word: 一部电影, 一本书, 一道菜, 一件商品
    verb_en: str = "try"  # "something to watch"
    verb_en_past: str = "tried"  # "you watched"
    verb_zh: str = "试"  # 想看, 想读, 想做


@dataclass(frozen=True)
class Spelling:
    """Words and symbols written next to a number, and the factor that turns that number into the field's unit."""

    factor: float
    en: tuple[str, ...] = ()
    zh: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    part: bool = False  # the words count part of a whole ("adults", "kids"): several in a row add up


@dataclass(frozen=True)
class Lead:
    """Words before a number that make it a number of a unit ("serves 6"), and when "for N" is one."""

    en: tuple[str, ...] = ()
    for_after: tuple[str, ...] = ()  # "for N" is one after these words ("dinner for 6")
    not_before: tuple[str, ...] = ()  # never before these ("enough for 2 days")


@dataclass(frozen=True)
class Unit:
    """A unit of measure: its name, how people write it, whether values are whole, and a plausible range."""

    name: str
    label_en: str = ""
    label_zh: str = ""
    integer: bool = False
    range: tuple[float | None, float | None] = (None, None)
    spellings: tuple[Spelling, ...] = ()
    columns: tuple[str, ...] = ()  # column names that mean this unit (for inference)
    alone: str | None = None  # "min": a number of this unit said with no comparator is a lower bound ("for 6 people")
    lead: Lead = Lead()  # words before a number that make it this unit ("serves 6", "feeds 8", "a family of 5")


@dataclass(frozen=True)
class Level:
    """A named stretch of a number that people ask for in words: quick = at most 30 minutes."""

    name: str
    min: float | None = None
    max: float | None = None
    words: Words = Words()


@dataclass(frozen=True)
class TextField:
    """Free text: embedded for search and/or shown to the LLM; a list of lines when `multi`."""

    name: str
    label_en: str = ""
    label_zh: str = ""
    multi: bool = False
    separator: str | None = None
    embed: bool = True
    show: bool = True


@dataclass(frozen=True)
class Facet:
    """A categorical field; its vocabulary is closed (given, or read from the catalog when empty)."""

    name: str
    label_en: str = ""
    label_zh: str = ""
    multi: bool = False
    separator: str | None = None
    vocabulary: tuple[str, ...] = ()
    synonyms: tuple[tuple[str, Words], ...] = ()  # value -> the words people use for it
    max_values: int = DEFAULT_MAX_VALUES
    derived: str = ""  # how the values are made when not read from a column (e.g. word rules), for people
    asked_only: tuple[str, ...] = ()  # values an item is shown for only when asked by name (a sauce is no dish)
    also_in: tuple[str, ...] = ()  # text fields whose words also give an item a value (a title naming "Chicken")

    def words_for(self, value: str) -> Words:
        """The words people use for one value (empty when none are listed)."""
        return dict(self.synonyms).get(value, Words())

    def canonical(self, raw: str) -> str:
        """A value in the vocabulary's spelling when it is one (case, punctuation and synonyms ignored)."""
        return _canonical_table(self)[0].get(_key(raw), raw.strip())

    def split(self, raw: Any) -> tuple[str, ...]:
        """The values of one cell: a list as it is, text split at the separator when multi-valued; canonical."""
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return ()
        if hasattr(raw, "tolist"):
            raw = raw.tolist()
        parts = list(raw) if isinstance(raw, (list, tuple)) else \
            (str(raw).split(self.separator) if self.multi and self.separator else [str(raw)])
        out: list[str] = []
        for part in parts:
            value = self.canonical(str(part)) if part is not None else ""
            if value and value not in out:
                out.append(value)
        return tuple(out)


@dataclass(frozen=True)
class NumberField:
    """A numeric field in a unit, with the range a value must fall in and the words for parts of it."""

    name: str
    unit: Unit
    label_en: str = ""
    label_zh: str = ""
    range: tuple[float | None, float | None] = (None, None)
    levels: tuple[Level, ...] = ()
    unknown_passes: bool = False  # an item that does not give this number passes a bound on it

    def parse(self, raw: Any) -> float | int | None:
        """A value in this field's unit from a number or text ("320", "€12,50", "1 h 30 min"); ValueError why not."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not {self._what()}")
        if isinstance(raw, (int, float)) or hasattr(raw, "item"):
            value = float(raw)
            if math.isnan(value):
                return None
        else:
            value = parse_quantity(str(raw), self.unit)
            if value is None:
                raise ValueError(f"{str(raw).strip()!r} is not {self._what()}")
        if not math.isfinite(value):
            raise ValueError(f"{raw!r} is not {self._what()}")
        return self._checked(value)

    def _what(self) -> str:
        """'a year', 'a number of pages', 'a number': how a bad value is described."""
        if self.unit.name == "year":
            return "a year"
        noun = self.unit.label_en or self.label_en
        return f"a number of {noun}" if noun else "a number"

    def _checked(self, value: float) -> float | int:
        """The value rounded when the unit is whole, and inside the plausible range; ValueError outside it."""
        if self.unit.integer:
            value = round(value)
        if self.unit.name == "year" and value == 0 and self.range != (None, None):
            raise ValueError("0 is not a year (there was no year 0; leave an unknown year empty)")
        low, high = self.range
        if (low is not None and value < low) or (high is not None and value > high):
            shown = _fmt(value)
            bounds = f"expected {_fmt(low) if low is not None else '…'}-{_fmt(high) if high is not None else '…'}"
            if self.unit.name == "year":
                raise ValueError(f"{shown} is not a plausible year ({bounds})")
            raise ValueError(f"{shown} is not a plausible {self.label_en or self.name} ({bounds} {self.unit.label_en})"
                             .rstrip())
        return int(value) if self.unit.integer else value


@dataclass(frozen=True)
class PeopleField:
    """People (or makers such as brands) with one role: director, author, chef, brand."""

    name: str
    role_en: str
    role_zh: str = ""
    multi: bool = True
    separator: str | None = "|"


@dataclass(frozen=True)
class Suitability:
    """An ordered suitability scale (MPAA G < PG < PG-13 < R < NC-17); an unknown level never passes a filter."""

    field: str
    scale: tuple[str, ...]
    label_en: str = ""
    label_zh: str = ""
    spellings: tuple[tuple[str, str], ...] = ()  # other spellings in the data -> a level ("PG13" -> "PG-13")
    unknown: tuple[str, ...] = ()  # words in the data that mean "not rated"
    words: tuple[tuple[str, Words], ...] = ()  # level -> words people use for it ("for kids" -> G)

    def level(self, raw: Any) -> str | None:
        """The level a cell holds, None when it says "unknown"; ValueError for anything else."""
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None
        text = str(raw).strip()
        if _key(text) in {_key(w) for w in self.unknown}:
            return None
        by_key = {_key(level): level for level in self.scale} | {_key(k): v for k, v in self.spellings}
        if _key(text) in by_key:
            return by_key[_key(text)]
        label = self.label_en or self.field
        article = "an" if label[:1].lower() in "aeiou" else "a"
        raise ValueError(f"{text!r} is not {article} {label} (use one of {', '.join(self.scale)}, or leave it empty)")

    def admits(self, value: str | None, most: str) -> bool:
        """True when `value` is known and no further along the scale than `most`."""
        if value is None or value not in self.scale:
            return False
        return self.scale.index(value) <= self.scale.index(most)


@dataclass(frozen=True)
class InteractionsSpec:
    """Where a catalog's interactions are and which columns mean what; a rating or an event says what a like is."""

    file: str
    user: str = "user"
    item: str = "item"
    rating: str | None = None
    event: str | None = None
    timestamp: str | None = None
    like_min: float | None = None  # a rating at or above this is a like
    like_events: tuple[str, ...] = ()  # event values that are likes (purchase, favourite)


@dataclass(frozen=True)
class CatalogSchema:
    """Everything a catalog's columns mean; every part of tastebud that speaks of items reads this."""

    name: str
    noun: ItemNoun = ItemNoun()
    id: str = "id"
    title: str = "title"
    texts: tuple[TextField, ...] = ()
    facets: tuple[Facet, ...] = ()
    numbers: tuple[NumberField, ...] = ()
    people: tuple[PeopleField, ...] = ()
    suitability: Suitability | None = None
    image: str | None = None
    popularity: str | None = None  # a number that counts how popular an item is (ratings, sales)
    interactions: InteractionsSpec | None = None
    other: tuple[str, ...] = ()  # columns kept with the items but used by nothing
    notes: tuple[str, ...] = field(default=(), compare=False)  # what inference decided, for the operator

    def columns(self) -> dict[str, str]:
        """Every column the schema names -> what it is (id, title, text, facet, number, people, ...)."""
        out = {self.id: "id", self.title: "title"}
        for kind, parts in (("text", self.texts), ("facet", self.facets), ("number", self.numbers),
                            ("people", self.people)):
            out.update({p.name: kind for p in parts if not getattr(p, "derived", "")})
        if self.suitability:
            out[self.suitability.field] = "suitability"
        if self.image:
            out[self.image] = "image"
        out.update({name: "other" for name in self.other})
        return out

    def check_columns(self, columns: list[str] | tuple[str, ...], file_name: str) -> None:
        """CatalogError when the schema names a column the file lacks (id and title are always needed)."""
        have = set(columns)
        missing = [(name, kind) for name, kind in self.columns().items() if name not in have]
        if missing:
            named = "; ".join(f"field {name!r} ({kind})" for name, kind in missing)
            raise CatalogError(
                f"{file_name}: the catalog schema names columns the file does not have: {named}. "
                f"Columns found: {', '.join(map(str, columns)) or 'none'}. Edit the schema ({SCHEMA_FILE}) "
                "or the file, and import again")

    def facet(self, name: str) -> Facet | None:
        """The facet of that name, if any."""
        return next((f for f in self.facets if f.name == name), None)

    def number(self, name: str) -> NumberField | None:
        """The number field of that name, if any."""
        return next((n for n in self.numbers if n.name == name), None)

    def role(self, role_en: str) -> PeopleField | None:
        """The people field with that role (director, author, chef ...), if any."""
        return next((p for p in self.people if p.role_en == role_en), None)

    def embedded_texts(self) -> tuple[str, ...]:
        """The text fields embedded for search (the title always is)."""
        return tuple(t.name for t in self.texts if t.embed)


# ---------------------------------------------------------------- numbers written as text
_NUMBER = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.,]\d+)?|[+-]?[.,]\d+"
_FRACTIONS = {"½": 0.5, "¼": 0.25, "¾": 0.75, "⅓": 1 / 3, "⅔": 2 / 3, "⅛": 0.125}


def _to_float(text: str) -> float:
    """'1,234' -> 1234, '12,50' -> 12.5, '3.5' -> 3.5."""
    text = text.replace(" ", "")
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", text):
        return float(text.replace(",", ""))
    return float(text.replace(",", "."))


def parse_quantity(text: str, unit: Unit) -> float | None:
    """A quantity written with numbers, unit words and symbols, in `unit` ("1 h 30 min" -> 90); None if it isn't one.

    Every number must be followed by a spelling of the unit (or, for the last or only number, by nothing); the
    parts are added ("1 h 30 min"). Anything else left over (other words) means the text is not a quantity.
    """
    rest = text.strip().lower()
    for char, value in _FRACTIONS.items():
        rest = re.sub(rf"(\d)\s*{char}", lambda m, v=value: f"{m.group(1)}{str(v)[1:]}", rest)
        rest = rest.replace(char, str(value))
    for spelling in unit.spellings:
        for symbol in spelling.symbols:
            rest = rest.replace(symbol.lower(), " ")
    words = sorted(((w.lower(), s.factor) for s in unit.spellings for w in s.en + s.zh), key=lambda p: -len(p[0]))
    pattern = "|".join(re.escape(w) for w, _ in words) or r"(?!x)x"
    factor_of = dict(words)
    total, found, pos = 0.0, False, 0
    token = re.compile(rf"\s*({_NUMBER})\s*(?:({pattern})(?![a-z]))?\.?\s*")
    while pos < len(rest):
        match = token.match(rest, pos)
        if not match or match.end() == pos:
            return None
        number, word = match.group(1), match.group(2)
        if word is None and match.end() < len(rest):
            return None
        total += _to_float(number) * (factor_of[word] if word else 1.0)
        found, pos = True, match.end()
    return total if found else None


def _fmt(value: float | None) -> str:
    """A number as a person writes it: 1813, 12.5."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _key(text: str) -> str:
    """A comparison key: lower case, letters, digits and CJK only."""
    return re.sub(r"[\W_]+", "", str(text).lower())


@lru_cache(maxsize=256)
def _canonical_table(facet: Facet) -> tuple[dict[str, str]]:
    """key -> vocabulary value, over values and their English and Chinese synonyms (a one-tuple: cacheable)."""
    table: dict[str, str] = {}
    for value, words in facet.synonyms:
        for word in words.en + words.zh:
            table.setdefault(_key(word), value)
    for value in facet.vocabulary:
        table[_key(value)] = value
    return (table,)
