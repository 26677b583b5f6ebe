"""What each filterable field of a catalog is (number, set, string, text), and the row view that filters read.

The film fields are `Item`'s own (`FILM_KINDS`). A catalog described by a schema (`retrieval.schema`) adds its
own fields, kept in `Item.attributes` under the schema's column names: facets and people are sets, numbers are
numbers, text fields take `$contains` (a substring test), other columns are strings. `field_kinds(schema)` builds
that view once per catalog; `item_row(item, kinds)` is what predicates and the column index read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from retrieval.schema import CatalogSchema, Facet
from retrieval.types import LIST_FIELDS, Item

FILM_NUMBERS: tuple[str, ...] = ("year", "runtime_min", "n_ratings", "mean_rating")
FILM_INTEGERS: tuple[str, ...] = ("year", "runtime_min", "n_ratings")
FILM_STRINGS: tuple[str, ...] = ("id", "title", "age_rating")
FILM_SETS: tuple[str, ...] = LIST_FIELDS + ("people",)
_ITEM_FIELDS = frozenset(f.name for f in fields(Item)) | {"people"}

Row = dict[str, Any]


@dataclass(frozen=True)
class FieldKinds:
    """The filterable fields of one catalog by kind; `attributes` are those read from `Item.attributes`."""

    numbers: frozenset[str] = frozenset(FILM_NUMBERS)
    integers: frozenset[str] = frozenset(FILM_INTEGERS)
    sets: frozenset[str] = frozenset(FILM_SETS)
    strings: frozenset[str] = frozenset(FILM_STRINGS)
    texts: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()
    people: frozenset[str] = frozenset()  # attribute sets that are people by role (also in the virtual `people`)
    listed: tuple[str, ...] = ()  # a schema catalog's fields as a person is told them (empty: the film fields)
    unknown_passes: frozenset[str] = frozenset()  # numbers whose bounds an item without the number passes
    # facet -> (text fields, value -> its English words): an item whose title names a value has it too
    also_in: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]], ...] = ()

    def _title_words(self, facet: str, values: tuple[str, ...], op: str) -> list[dict[str, Any]]:
        """`{text: {op: word}}` for each text that also gives a facet's values (`also_in`) and each value's word."""
        for name, texts, words in self.also_in:
            if name == facet:
                table = dict(words)
                return [{t: {op: w}} for t in texts for v in values for w in table.get(v.lower(), ())]
        return []

    def wanted(self, facet: str, values: tuple[str, ...]) -> dict[str, Any]:
        """Items with one of a facet's values; where the schema says so (`also_in`), also those without a value
        whose title names one as a word (a third of the Cookbook has a category: "Chicken Pie" is a chicken dish)."""
        named = self._title_words(facet, values, "$word")
        if not named:
            return {facet: {"$in": list(values)}}
        title = named[0] if len(named) == 1 else {"$or": named}
        return {"$or": [{facet: {"$in": list(values)}}, {"$and": [{facet: {"$exists": False}}, title]}]}

    def unwanted(self, facet: str, values: tuple[str, ...]) -> list[dict[str, Any]]:
        """Items with none of a facet's values, nor (`also_in`) a title that names one ("soup, no chicken" leaves
        out "Chicken Soup I", whatever its category)."""
        return [{facet: {"$nin": list(values)}}, *self._title_words(facet, values, "$noword")]

    def names(self) -> tuple[str, ...]:
        """The field names to tell a person: the film fields, or id, title and a schema catalog's own fields."""
        return self.listed or FILM_STRINGS[:2] + FILM_NUMBERS + FILM_STRINGS[2:] + FILM_SETS

    def __contains__(self, name: object) -> bool:
        """True when `name` is a field of this catalog."""
        return name in self.numbers or name in self.sets or name in self.strings or name in self.texts


FILM_KINDS = FieldKinds()


def field_kinds(schema: CatalogSchema | None) -> FieldKinds:
    """The fields of a catalog: `Item`'s own plus every schema field that is not one of them (an attribute)."""
    if schema is None:
        return FILM_KINDS
    numbers, integers, sets, strings, texts = (set(FILM_NUMBERS), set(FILM_INTEGERS), set(FILM_SETS),
                                               set(FILM_STRINGS), set())
    extra: set[str] = set()

    def add(name: str, kind: set[str]) -> None:
        """Record one schema field that `Item` does not have."""
        if name not in _ITEM_FIELDS:
            kind.add(name)
            extra.add(name)

    for number in schema.numbers:
        add(number.name, numbers)
        if number.unit.integer and number.name not in _ITEM_FIELDS:
            integers.add(number.name)
    for part in (*schema.facets, *schema.people):
        add(part.name, sets)
    people = frozenset(p.name for p in schema.people if p.name not in _ITEM_FIELDS)
    for text in schema.texts:
        add(text.name, texts)
    for name in schema.other:
        add(name, strings)
    if schema.suitability:
        add(schema.suitability.field, strings)
    if not extra:
        return FILM_KINDS
    named = {p.name for p in (*schema.texts, *schema.facets, *schema.numbers, *schema.people)}
    listed = sorted(named | set(schema.other) | ({schema.suitability.field} if schema.suitability else set()))
    return FieldKinds(frozenset(numbers), frozenset(integers), frozenset(sets), frozenset(strings),
                      frozenset(texts), frozenset(extra), people,
                      ("id", "title", *listed, *(("people",) if schema.people else ())),
                      frozenset(n.name for n in schema.numbers if n.unknown_passes),
                      tuple((f.name, f.also_in, _value_words(f)) for f in schema.facets if f.also_in))


def _value_words(facet: Facet) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each value of a facet and its English words, lower case ("dumpling", "dumplings")."""
    out = []
    for value in dict.fromkeys([*facet.vocabulary, *(v for v, _ in facet.synonyms)]):  # an empty one: read later
        words = sorted({w.lower() for w in (value, *facet.words_for(value).en) if w.strip()}, key=len)
        out.append((value.lower(), tuple(words)))
    return tuple(out)


def _as_number(value: Any) -> float | None:
    """A stored number as float; None when missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _as_text(value: Any) -> str | None:
    """A stored text (or list of lines) lower-cased; None when missing."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value).lower()
    return str(value).lower()


def _as_set(value: Any) -> frozenset[str]:
    """A stored facet (one value or a list) as a set of lower-cased values."""
    if value is None:
        return frozenset()
    values = value if isinstance(value, (list, tuple)) else [value]
    return frozenset(str(v).lower() for v in values if v is not None and str(v).strip())


def item_row(item: Item, kinds: FieldKinds = FILM_KINDS) -> Row:
    """The view of an item that predicates read: lower-cased strings, list fields as sets, attributes by kind."""
    row: Row = {
        "id": item.id,
        "title": item.title.lower(),
        "year": item.year,
        "runtime_min": item.runtime_min,
        "age_rating": item.age_rating.lower() if item.age_rating else None,
        "n_ratings": item.n_ratings,
        "mean_rating": item.mean_rating,
    }
    for name in LIST_FIELDS:
        row[name] = frozenset(v.lower() for v in getattr(item, name))
    row["people"] = row["directors"] | row["cast"] | row["writers"]
    if kinds.attributes:
        attributes = dict(item.attributes)
        for name in kinds.attributes:
            value = attributes.get(name)
            if name in kinds.numbers:
                row[name] = _as_number(value)
            elif name in kinds.sets:
                row[name] = _as_set(value)
            else:
                row[name] = _as_text(value)
        for name in kinds.people:
            row["people"] = row["people"] | row[name]
    return row


def attribute_facts(item: Item, schema: CatalogSchema | None, max_text_chars: int = 700) -> list[str]:
    """An item's schema fields beyond `Item`'s own as short sentences ("time: 45 minutes."), for search texts.

    Facets and people first, then numbers with their unit, then the embedded text fields (cut to fit the model).
    """
    if schema is None or not item.attributes:
        return []
    attributes = dict(item.attributes)
    out: list[str] = []
    for part in (*schema.facets, *schema.people):
        if part.name in _ITEM_FIELDS:
            continue
        values = _as_set(attributes.get(part.name)) and attributes.get(part.name)
        if values:
            shown = values if isinstance(values, (list, tuple)) else [values]
            label = getattr(part, "label_en", "") or getattr(part, "role_en", "") or part.name
            out.append(f"{label}: {', '.join(map(str, shown))}.")
    for number in schema.numbers:
        value = _as_number(attributes.get(number.name)) if number.name not in _ITEM_FIELDS else None
        if value is not None:
            shown = str(int(value)) if value.is_integer() else f"{value:g}"
            out.append(f"{number.label_en or number.name}: {shown} {number.unit.label_en}".rstrip() + ".")
    left = max_text_chars
    for text in schema.texts:
        value = _as_text(attributes.get(text.name)) if text.embed and text.name not in _ITEM_FIELDS else None
        if value and left > 40:
            raw = attributes[text.name]
            value = "; ".join(map(str, raw)) if isinstance(raw, (list, tuple)) else str(raw)
            if len(value) > left:
                value = value[:left].rsplit(" ", 1)[0] + "..."
            out.append(f"{text.label_en or text.name}: {value}")
            left -= len(value)
    return out


def grouped(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(field, value) pairs as the (field, values) groups `Filters.any_of` / `none_of` hold, first-seen order."""
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        if value not in out.setdefault(name, []):
            out[name].append(value)
    return tuple((name, tuple(values)) for name, values in out.items())


def item_facts(item: Item) -> dict[str, Any]:
    """An item's fields by name: the Item fields it has (year, genres ...) and its schema attributes, lists as lists."""
    own = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(item).items() if k != "attributes"}
    return {k: v for k, v in own.items() if v not in (None, [], "")} | dict(item.attributes)
