"""One row of a catalog described by a schema, validated at the edge: an Item, or a problem per bad field.

The schema says what each column is: numbers are read in their unit and checked against the schema's own
plausible range (no film bounds: a book from 1813 is fine), facets and people are split at their separator,
texts kept (a list of lines when `multi`), a suitability level must be on its scale. A schema field that has the
name of an `Item` field of the same kind (year, genres, directors, plot, age_rating ...) fills that field, so a
film-like catalog keeps every film behaviour; every other field lives in `Item.attributes` under its column name.
"""

from __future__ import annotations

import json
from typing import Any

from retrieval.catalog_rows import RowProblem, clean_cells
from retrieval.schema import CatalogSchema
from retrieval.types import Item

_ITEM_NUMBERS = {"year": int, "runtime_min": int, "n_ratings": int, "mean_rating": float}
_ITEM_LISTS = ("genres", "languages", "countries", "directors", "cast", "writers")
_ITEM_TEXTS = ("plot", "awards")


def _as_text(value: Any) -> str:
    """A cell as text: lists and dicts as JSON, everything else as str, trimmed."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


def _split(value: Any, separator: str | None, multi: bool) -> list[str]:
    """A cell's values: a list as it is, text split at the separator when multi-valued; empty parts dropped."""
    parts = list(value) if isinstance(value, (list, tuple)) else \
        (str(value).split(separator) if multi and separator else [str(value)])
    return list(dict.fromkeys(p.strip() for p in map(str, parts) if p is not None and str(p).strip()))


def _field_value(schema: CatalogSchema, kind: str, name: str, value: Any) -> Any:
    """One cell read as its schema field says; ValueError with the reason when it cannot be."""
    if kind == "number":
        return schema.number(name).parse(value)  # type: ignore[union-attr]
    if kind == "facet":
        facet = schema.facet(name)
        return list(facet.split(value)) if facet else []  # type: ignore[union-attr]
    if kind == "people":
        part = next(p for p in schema.people if p.name == name)
        return _split(value, part.separator, part.multi)
    if kind == "text":
        text = next(t for t in schema.texts if t.name == name)
        return _split(value, text.separator, True) if text.multi else _as_text(value)
    if kind == "suitability":
        return schema.suitability.level(value)  # type: ignore[union-attr]
    return _as_text(value)


def schema_row(row_no: int, raw: dict[str, Any], schema: CatalogSchema) -> tuple[Item | None, list[RowProblem]]:
    """Validate one raw row against a schema: the Item, or None and the problems found (one per bad field)."""
    data, problems = clean_cells(row_no, raw, column_of=lambda key: str(key).strip().lstrip("\ufeff"))
    if data is None:
        return None, problems
    kinds = schema.columns()
    values: dict[str, Any] = {}
    for name in (schema.id, schema.title):
        value = data.get(name)
        if value is None or not _as_text(value):
            problems.append(RowProblem(row_no, name, f"is empty; every item needs its {'id' if name == schema.id else 'title'}"))
    for name, kind in kinds.items():
        if name in (schema.id, schema.title) or data.get(name) is None:
            continue
        try:
            value = _field_value(schema, kind, name, data[name])
        except ValueError as exc:
            problems.append(RowProblem(row_no, name, str(exc)))
            continue
        if value not in (None, "", []):
            values[name] = value
    if problems:
        return None, problems
    return _item(_as_text(data[schema.id]), _as_text(data[schema.title]), values, kinds), []


def _item(item_id: str, title: str, values: dict[str, Any], kinds: dict[str, str]) -> Item:
    """An Item: fields named like Item's own (and of the same kind) go there, the rest into attributes."""
    own: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for name, value in values.items():
        kind = kinds.get(name)
        if kind == "number" and name in _ITEM_NUMBERS:
            own[name] = _ITEM_NUMBERS[name](value)
        elif kind in ("facet", "people") and name in _ITEM_LISTS:
            own[name] = tuple(value)
        elif kind == "text" and name in _ITEM_TEXTS and isinstance(value, str):
            own[name] = value
        elif kind == "suitability" and name == "age_rating":
            own[name] = value
        else:
            attributes[name] = value
    return Item(id=item_id, title=title, **own, attributes=tuple(sorted(attributes.items())))
