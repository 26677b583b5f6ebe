"""Exact filters: `Filters` and Chroma-style `where` expressions, checked in Python and pre-filtered in Chroma.

The `where` language (the one `tastebud search --where` takes):

- A field condition is `{"field": value}` (same as `$eq`) or `{"field": {"$op": value}}`; several keys in one
  object, or several operators on one field, all have to hold. `$and` / `$or` take a non-empty list of
  expressions.
- Fields: every `Item` field in `retrieval.types.FILTER_FIELDS`. List fields (genres, directors, cast, writers,
  languages, countries, and the virtual `people` = directors + cast + writers) are sets. A catalog described by a
  schema adds its own fields (`retrieval.fields`): its facets and people are sets (its people join `people`), its
  numbers are numbers, its text fields take only `$contains` (a substring test) and `$word` / `$noword` (a whole
  word, or not), and its other columns are text.
- Operators: `$eq $ne $in $nin $gt $gte $lt $lte $contains $word $noword $exists`.
  - `$exists: true` = the field holds a value (a list: at least one), `false` = it is null or empty.
  - On list fields: `$in` = some element is in the given set, `$nin` = no element is, `$contains` and `$eq` =
    the list holds the value, `$ne` = it does not. Ordering operators are not allowed.
  - On numbers (year, runtime_min, n_ratings, mean_rating): every operator but `$contains`.
  - On age_rating, ordering follows G < PG < PG-13 < R < NC-17; a rating outside that scale never passes an
    ordering test.
  - On title, `$contains` is a substring test; `$word` holds when the text has the value as a whole word
    ("cake" is in "Carrot Cake", not in "Pancakes"), `$noword` when it has not (and on a null text).
- Missing values: on a null scalar (or an empty list) every operator but `$ne` and `$nin` is false.
- Strings compare case-insensitively everywhere except `id` (ids are exact).

`item_matches*` are the exact semantics. `ColumnIndex.mask` computes the same answer for a whole catalog with
numpy (search uses it). `chroma_where` translates what it can into a Chroma pre-filter that admits at least every
matching item (callers always apply the exact check after it); search uses it only when asked to, because
Chroma's metadata filtering measured ~100x slower than the mask here.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from retrieval.errors import FilterError
from retrieval.fields import FILM_INTEGERS, FILM_KINDS, FieldKinds, Row, item_row
from retrieval.types import AGE_RATINGS, Filters, Item

OPERATORS: tuple[str, ...] = ("$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$contains", "$word",
                              "$noword", "$exists")
TEXT_OPS: tuple[str, ...] = ("$contains", "$word", "$noword")  # what free text takes
# Ruling out one of these ("nothing American") needs a known value: a film of unknown country might be American.
KNOWN_WHEN_RULED_OUT: tuple[str, ...] = ("countries", "languages")
ORDER_OPS: tuple[str, ...] = ("$gt", "$gte", "$lt", "$lte")
LOGICAL: tuple[str, ...] = ("$and", "$or")
_AGE_RANK = {r.lower(): n for n, r in enumerate(AGE_RATINGS)}

# Metadata stored in Chroma for pre-filtering: missing scalars get a sentinel so `$ne`/`$nin` keep them.
MISSING_NUMBER = -999_999
MISSING_STRING = ""
CHROMA_SCALAR_FIELDS: tuple[str, ...] = ("year", "runtime_min", "n_ratings", "mean_rating", "age_rating")
CHROMA_LIST_FIELDS: tuple[str, ...] = ("genres", "languages", "countries", "people")

Predicate = Callable[[Row], bool]
__all__ = ["FieldKinds", "FILM_KINDS", "item_row", "parse_where", "compile_filters", "item_matches"]


def _check_value(field: str, op: str, value: Any, path: str, kinds: FieldKinds) -> Any:
    """Validate one operand for a field and operator; return it normalised (lower-cased strings)."""
    if op == "$exists":
        if not isinstance(value, bool):
            raise FilterError(f"{path}: $exists takes true or false, got {json.dumps(value)}")
        return value
    if op in ("$in", "$nin"):
        if not isinstance(value, list) or not value:
            raise FilterError(f"{path}: {op} needs a non-empty list of values, got {json.dumps(value)}")
        return [_check_value(field, "$eq", v, path, kinds) for v in value]
    if field in kinds.numbers:
        if op in TEXT_OPS:
            raise FilterError(f"{path}: {op} does not apply to the number field {field!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise FilterError(f"{path}: {field!r} is a number, got {json.dumps(value)}")
        if field in kinds.integers and isinstance(value, float) and op in ("$eq", "$ne") and not value.is_integer():
            raise FilterError(f"{path}: {field!r} is a whole number, got {value}")
        return value
    if not isinstance(value, str):
        raise FilterError(f"{path}: {field!r} takes text, got {json.dumps(value)}")
    if field in kinds.texts and op not in TEXT_OPS:
        raise FilterError(f"{path}: {field!r} is free text: only $contains (a substring test), $word and $noword "
                          "(a whole word) apply to it")
    if field in kinds.sets and op in ORDER_OPS + ("$word", "$noword"):
        raise FilterError(f"{path}: {op} does not apply to the list field {field!r} (use $in, $nin or $contains)")
    if field == "age_rating" and op in ORDER_OPS and value.lower() not in _AGE_RANK:
        raise FilterError(f"{path}: {op} on age_rating needs one of {', '.join(AGE_RATINGS)}, got {value!r}")
    if field in ("id",) and op in ORDER_OPS + TEXT_OPS:
        raise FilterError(f"{path}: {op} does not apply to {field!r}")
    if field in kinds.strings and field != "age_rating" and op in ORDER_OPS:
        raise FilterError(f"{path}: {op} does not apply to {field!r}")
    return value if field == "id" else value.lower()


def _normalise(expr: Any, path: str, kinds: FieldKinds) -> dict[str, Any]:
    """Validate an expression and return it in canonical form: one key per object, explicit operators."""
    if not isinstance(expr, dict):
        raise FilterError(f"{path or 'where'}: expected an object like {{\"year\": {{\"$gte\": 2000}}}}, "
                          f"got {json.dumps(expr)}")
    if not expr:
        raise FilterError(f"{path or 'where'}: empty filter object")
    parts: list[dict[str, Any]] = []
    for key, value in expr.items():
        here = f"{path}.{key}" if path else key
        if key in LOGICAL:
            if not isinstance(value, list) or not value:
                raise FilterError(f"{here}: needs a non-empty list of filter objects")
            parts.append({key: [_normalise(v, f"{here}[{i}]", kinds) for i, v in enumerate(value)]})
        elif key.startswith("$"):
            raise FilterError(f"{here}: unknown operator {key!r} here (only $and / $or combine filters; "
                              f"field operators are {', '.join(OPERATORS)})")
        elif key not in kinds:
            raise FilterError(f"unknown field {key!r}; valid fields are: {', '.join(kinds.names())}")
        elif isinstance(value, dict):
            if not value:
                raise FilterError(f"{here}: empty operator object")
            for op, operand in value.items():
                if op not in OPERATORS:
                    raise FilterError(f"{here}: unknown operator {op!r}; valid operators are {', '.join(OPERATORS)}")
                parts.append({key: {op: _check_value(key, op, operand, f"{here}.{op}", kinds)}})
        else:
            op = "$contains" if key in kinds.texts else "$eq"  # a text field's plain value is a substring
            parts.append({key: {op: _check_value(key, op, value, here, kinds)}})
    return parts[0] if len(parts) == 1 else {"$and": parts}


def parse_where(text_or_dict: str | dict[str, Any], kinds: FieldKinds = FILM_KINDS) -> dict[str, Any]:
    """Parse and validate a `where` expression (JSON text or dict) over a catalog's fields; FilterError says why."""
    if isinstance(text_or_dict, str):
        try:
            data = json.loads(text_or_dict)
        except json.JSONDecodeError as exc:
            raise FilterError(f"the filter is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
                              f" (example: '{{\"year\": {{\"$gte\": 2000}}}}')") from None
    else:
        data = text_or_dict
    return _normalise(data, "", kinds)


# ---------------------------------------------------------------- exact matching
def _compare(op: str, field: str, have: Any, want: Any) -> bool:
    """One scalar comparison for a present value."""
    if field == "age_rating" and op in ORDER_OPS:
        rank = _AGE_RANK.get(have)
        if rank is None:
            return False
        have, want = rank, _AGE_RANK[want]
    if op == "$eq":
        return have == want
    if op == "$ne":
        return have != want
    if op == "$gt":
        return have > want
    if op == "$gte":
        return have >= want
    if op == "$lt":
        return have < want
    if op == "$lte":
        return have <= want
    if op == "$in":
        return have in want
    if op == "$nin":
        return have not in want
    if op in ("$word", "$noword"):
        return (_word_rx(want).search(have) is not None) == (op == "$word")
    return isinstance(have, str) and want in have  # $contains on title / age_rating: substring


@lru_cache(maxsize=1024)
def _word_rx(word: str) -> re.Pattern[str]:
    """The whole word, not inside another ("cake" in "carrot cake", not in "pancakes")."""
    return re.compile(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])")


def _field_predicate(field: str, op: str, want: Any, kinds: FieldKinds) -> Predicate:
    """A predicate for one `{field: {op: value}}` condition, with the null semantics of the module docstring."""
    negative = op in ("$ne", "$nin", "$noword")
    if op == "$exists":
        return lambda row: (bool(row[field]) if field in kinds.sets else row[field] is not None) == want
    if field in kinds.sets:
        if op in ("$eq", "$contains"):
            return lambda row: want in row[field]
        if op == "$ne":
            return lambda row: want not in row[field]
        wanted = frozenset(want)
        if op == "$in":
            return lambda row: not row[field].isdisjoint(wanted)
        return lambda row: row[field].isdisjoint(wanted)  # $nin
    if op in ("$in", "$nin"):
        want = frozenset(want)

    def check(row: Row) -> bool:
        have = row[field]
        if have is None:
            return negative
        return _compare(op, field, have, want)

    return check


def compile_where(where: dict[str, Any], kinds: FieldKinds = FILM_KINDS) -> Predicate:
    """Compile a canonical (parsed) expression into a predicate over `item_row` rows."""
    (key, value), = where.items()
    if key == "$and":
        preds = [compile_where(w, kinds) for w in value]
        return lambda row: all(p(row) for p in preds)
    if key == "$or":
        preds = [compile_where(w, kinds) for w in value]
        return lambda row: any(p(row) for p in preds)
    (op, operand), = value.items()
    return _field_predicate(key, op, operand, kinds)


def filters_to_where(filters: Filters, kinds: FieldKinds = FILM_KINDS) -> dict[str, Any] | None:
    """The canonical `where` expression equivalent to a `Filters` (None when it constrains nothing)."""
    parts: list[dict[str, Any]] = []
    if filters.genres_any:
        parts.append({"genres": {"$in": list(filters.genres_any)}})
    if filters.genres_none:
        parts.append({"genres": {"$nin": list(filters.genres_none)}})
    if filters.year_min is not None:
        parts.append({"year": {"$gte": filters.year_min}})
    if filters.year_max is not None:
        parts.append({"year": {"$lte": filters.year_max}})
    if filters.runtime_min is not None:
        parts.append({"runtime_min": {"$gte": filters.runtime_min}})
    if filters.runtime_max is not None:
        parts.append({"runtime_min": {"$lte": filters.runtime_max}})
    if filters.max_age_rating is not None:
        parts.append({"age_rating": {"$lte": filters.max_age_rating}})
    if filters.languages:
        parts.append({"languages": {"$in": list(filters.languages)}})
    if filters.countries:
        parts.append({"countries": {"$in": list(filters.countries)}})
    if filters.people:
        parts.append({"people": {"$in": list(filters.people)}})
    if filters.people_none:
        parts.append({"people": {"$nin": list(filters.people_none)}})
    for field, low, high in filters.ranges:
        sides = [{field: {op: v}} for op, v in (("$gte", low), ("$lte", high)) if v is not None]
        if sides and field in kinds.unknown_passes:  # most recipes do not say how many they feed
            sides = [{"$or": [{"$and": sides} if len(sides) > 1 else sides[0], {field: {"$exists": False}}]}]
        parts.extend(sides)
    parts.extend(kinds.wanted(field, values) for field, values in filters.any_of if values)
    parts.extend(p for field, values in filters.none_of if values for p in kinds.unwanted(field, values))
    parts.extend({field: {"$exists": True}} for field, values in filters.none_of
                 if values and field in KNOWN_WHEN_RULED_OUT)
    if filters.exclude_ids:
        parts.append({"id": {"$nin": sorted(filters.exclude_ids)}})
    if filters.where:
        parts.append(filters.where)
    if not parts:
        return None
    return parse_where(parts[0] if len(parts) == 1 else {"$and": parts}, kinds)


@dataclass(frozen=True)
class CompiledFilters:
    """A `Filters` turned into an exact predicate plus the Chroma pre-filter that narrows the search."""

    where: dict[str, Any] | None  # canonical expression, None = everything passes
    predicate: Predicate
    chroma: dict[str, Any] | None  # Chroma `where`, None = no pre-filter

    def matches(self, row: Row) -> bool:
        """True when the row passes every constraint."""
        return self.predicate(row)


def compile_filters(filters: Filters, kinds: FieldKinds = FILM_KINDS) -> CompiledFilters:
    """Validate a `Filters` over a catalog's fields and compile it (FilterError on a bad field, value or rating)."""
    if filters.max_age_rating is not None and filters.max_age_rating.lower() not in _AGE_RANK:
        raise FilterError(f"unknown age rating {filters.max_age_rating!r}; use one of {', '.join(AGE_RATINGS)}")
    where = filters_to_where(filters, kinds)
    if where is None:
        return CompiledFilters(None, lambda row: True, None)
    return CompiledFilters(where, compile_where(where, kinds), chroma_where(where))


def item_matches(item: Item, filters: Filters, kinds: FieldKinds = FILM_KINDS) -> bool:
    """True when the item satisfies every constraint in `filters` (exact, case-insensitive strings)."""
    return compile_filters(filters, kinds).matches(item_row(item, kinds))


@lru_cache(maxsize=256)
def _compiled_from_json(text: str, kinds: FieldKinds) -> Predicate:
    """Compile a where expression given as canonical JSON (cached)."""
    return compile_where(parse_where(text, kinds), kinds)


def item_matches_where(item: Item, where: str | dict[str, Any], kinds: FieldKinds = FILM_KINDS) -> bool:
    """True when the item satisfies a `where` expression (the semantics of `tastebud search --where`)."""
    text = where if isinstance(where, str) else json.dumps(where, sort_keys=True)
    return _compiled_from_json(text, kinds)(item_row(item, kinds))


# ---------------------------------------------------------------- Chroma pre-filter
def chroma_metadata(item: Item, kinds: FieldKinds = FILM_KINDS) -> dict[str, Any]:
    """The metadata stored with an item's vector: pre-filterable fields, lower-cased, sentinels for missing."""
    row = item_row(item, kinds)  # `people` holds a schema catalog's people too
    meta: dict[str, Any] = {}
    for name in CHROMA_SCALAR_FIELDS:
        value = row[name]
        if value is None:
            value = MISSING_STRING if name == "age_rating" else MISSING_NUMBER
        meta[name] = float(value) if name == "mean_rating" else value
    for name in CHROMA_LIST_FIELDS:
        meta[name] = sorted(row[name]) or [MISSING_STRING]
    return meta


def _chroma_condition(field: str, op: str, value: Any) -> dict[str, Any] | None:
    """A Chroma condition admitting at least the items that pass `{field: {op: value}}`, or None (no narrowing)."""
    if op == "$exists":
        return None
    if field in ("mean_rating",) and op in ("$eq", "$ne", "$in", "$nin"):
        return None  # float equality: leave it to the exact check
    if field in CHROMA_LIST_FIELDS:
        if op in ("$eq", "$contains"):
            return {field: {"$contains": value}}
        if op == "$ne":
            return {field: {"$not_contains": value}}
        if op == "$in":
            conds = [{field: {"$contains": v}} for v in dict.fromkeys(value)]
            return conds[0] if len(conds) == 1 else {"$or": conds}
        if op == "$nin":
            conds = [{field: {"$not_contains": v}} for v in dict.fromkeys(value)]
            return conds[0] if len(conds) == 1 else {"$and": conds}
        return None
    if field not in CHROMA_SCALAR_FIELDS or op in TEXT_OPS:
        return None
    sentinel = MISSING_STRING if field == "age_rating" else MISSING_NUMBER
    if field == "age_rating" and op in ORDER_OPS:
        rank = _AGE_RANK[value]
        keep = [r.lower() for r in AGE_RATINGS if {"$gt": _AGE_RANK[r.lower()] > rank,
                                                     "$gte": _AGE_RANK[r.lower()] >= rank,
                                                     "$lt": _AGE_RANK[r.lower()] < rank,
                                                     "$lte": _AGE_RANK[r.lower()] <= rank}[op]]
        return {field: {"$in": keep}} if keep else {field: {"$eq": "\x00never"}}
    values = value if isinstance(value, list) else [value]
    if sentinel in values:
        return None  # the sentinel would be confused with a missing value
    if field in FILM_INTEGERS:
        if any(isinstance(v, float) and not v.is_integer() for v in values):
            return None
        value = [int(v) for v in values] if isinstance(value, list) else int(value)
    return {field: {op: value}}


def chroma_where(where: dict[str, Any]) -> dict[str, Any] | None:
    """Translate a canonical expression into a Chroma `where` that admits a superset of its matches (or None)."""
    (key, value), = where.items()
    if key in LOGICAL:
        subs = [chroma_where(w) for w in value]
        if key == "$and":
            kept = [s for s in subs if s is not None]
        else:
            if any(s is None for s in subs):
                return None  # one unbounded branch makes the whole $or unbounded
            kept = subs  # type: ignore[assignment]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else {key: kept}
    (op, operand), = value.items()
    return _chroma_condition(key, op, operand)


# ---------------------------------------------------------------- vectorised exact matching over a whole catalog
class ColumnIndex:
    """The catalog as numpy columns and inverted lists, so a `where` becomes an exact boolean mask in microseconds.

    `mask(where)[n]` equals `compile_where(where)(item_row(items[n]))` for every n (same null and case rules).
    """

    def __init__(self, items: list[Item], kinds: FieldKinds = FILM_KINDS) -> None:
        self.n = len(items)
        self.kinds = kinds
        rows = [item_row(i, kinds) for i in items]
        self._numbers = {f: np.array([np.nan if r[f] is None else float(r[f]) for r in rows], dtype=np.float64)
                         for f in kinds.numbers}
        self._age_rank = np.array([_AGE_RANK.get(r["age_rating"], np.nan) if r["age_rating"] else np.nan
                                   for r in rows], dtype=np.float64)
        strings = kinds.strings | kinds.texts
        self._strings = {f: [r[f] for r in rows] for f in strings}
        self._string_pos: dict[str, dict[str, list[int]]] = {f: {} for f in kinds.strings}
        self._set_pos: dict[str, dict[str, list[int]]] = {f: {} for f in kinds.sets}
        for n, r in enumerate(rows):
            for f in kinds.strings:
                if r[f] is not None:
                    self._string_pos[f].setdefault(r[f], []).append(n)
            for f in kinds.sets:
                for v in r[f]:
                    self._set_pos[f].setdefault(v, []).append(n)
        self._cache: dict[str, np.ndarray] = {}  # recent masks by canonical JSON (searches repeat filters)
        self._lock = threading.Lock()

    def _positions(self, table: dict[str, list[int]], values: list[Any]) -> np.ndarray:
        """Mask of rows holding any of the values in an inverted table."""
        out = np.zeros(self.n, dtype=bool)
        for v in values:
            pos = table.get(v)
            if pos:
                out[pos] = True
        return out

    def _condition(self, field: str, op: str, want: Any) -> np.ndarray:
        """Mask of one `{field: {op: value}}` condition."""
        if op == "$exists":
            if field in self.kinds.sets:
                held = self._positions(self._set_pos[field], list(self._set_pos[field]))
            elif field in self.kinds.numbers:
                held = ~np.isnan(self._numbers[field])
            else:
                held = np.fromiter((s is not None for s in self._strings[field]), dtype=bool, count=self.n)
            return held if want else ~held
        if field in self.kinds.sets:
            table = self._set_pos[field]
            hit = self._positions(table, want if isinstance(want, list) else [want])
            return ~hit if op in ("$ne", "$nin") else hit
        numeric = field in self.kinds.numbers
        if numeric or (field == "age_rating" and op in ORDER_OPS):
            col = self._numbers[field] if numeric else self._age_rank
            value = want if numeric or op in ("$in", "$nin") else _AGE_RANK[want]
            with np.errstate(invalid="ignore"):
                if op == "$eq":
                    return col == value
                if op == "$ne":
                    return ~(col == value)
                if op == "$gt":
                    return col > value
                if op == "$gte":
                    return col >= value
                if op == "$lt":
                    return col < value
                if op == "$lte":
                    return col <= value
                hit = np.isin(col, np.asarray(want, dtype=np.float64))
                return ~hit if op == "$nin" else hit
        # strings (id, title, age_rating, other columns): equality and substring; text fields: substring
        if op == "$contains":
            return np.fromiter((s is not None and want in s for s in self._strings[field]), dtype=bool, count=self.n)
        if op in ("$word", "$noword"):
            rx, yes = _word_rx(want), op == "$word"
            return np.fromiter(((s is not None and rx.search(s) is not None) == yes if s is not None else not yes
                                for s in self._strings[field]), dtype=bool, count=self.n)
        hit = self._positions(self._string_pos[field], want if isinstance(want, list) else [want])
        return ~hit if op in ("$ne", "$nin") else hit

    def evaluate(self, where: dict[str, Any]) -> np.ndarray:
        """Mask of a canonical expression, computed afresh (see `mask` for the cached form)."""
        (key, value), = where.items()
        if key == "$and":
            out = np.ones(self.n, dtype=bool)
            for w in value:
                out &= self.evaluate(w)
            return out
        if key == "$or":
            out = np.zeros(self.n, dtype=bool)
            for w in value:
                out |= self.evaluate(w)
            return out
        (op, operand), = value.items()
        return self._condition(key, op, operand)

    def mask(self, where: dict[str, Any] | None) -> np.ndarray | None:
        """Boolean mask (N,) of items passing a canonical expression; None when nothing is constrained."""
        if where is None:
            return None
        key = json.dumps(where, sort_keys=True)
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            hit = self.evaluate(where)
            hit.setflags(write=False)
            with self._lock:
                if len(self._cache) >= 128:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = hit
        return hit
