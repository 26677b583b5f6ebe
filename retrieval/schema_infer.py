"""Schema inference: a catalog schema guessed from a file that came with none, for the operator to read and edit.

`infer_schema(rows, file_name)` looks at the column names and the cells (the names and thresholds it uses are data,
`retrieval/schemas/inference.yaml`): the id (unique, never empty) and the title; numbers with the unit their name
says (pages, price_eur, runtime_min ...); people by role (author, director, brand ...); a suitability scale;
separator-joined or low-cardinality strings as facets; long strings as text; everything else kept, unused.
Every decision worth knowing is a note in `schema.notes` ("column publisher: 16,807 distinct values, kept as text").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from retrieval.datafile import load_data
from retrieval.errors import CatalogError
from retrieval.schema import (
    CatalogSchema,
    Facet,
    ItemNoun,
    NumberField,
    PeopleField,
    Suitability,
    TextField,
)
from retrieval.schema_file import SCHEMAS_PACKAGE, units

_SEPARATORS = ("|", ";", ",")


@lru_cache(maxsize=1)
def _rules() -> dict[str, Any]:
    """The inference rules (retrieval/schemas/inference.yaml)."""
    return load_data(SCHEMAS_PACKAGE, "inference.yaml")


def column_key(name: str) -> str:
    """A column name for comparison: lower case, spaces, dots and dashes as "_" ("Book-Title" -> book_title)."""
    return re.sub(r"[\s.\-/]+", "_", str(name).strip().lstrip("\ufeff").lower()).strip("_")


def _missing(value: Any) -> bool:
    """True for None, NaN and blank text."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or \
        (isinstance(value, str) and not value.strip())


@dataclass
class _Column:
    """One column's cells as inference sees them: filled cells with their 1-based row numbers."""

    name: str
    cells: list[tuple[int, Any]] = field(default_factory=list)  # (row number, value), filled cells only
    n_rows: int = 0

    @property
    def key(self) -> str:
        """The column's comparison key."""
        return column_key(self.name)

    @property
    def texts(self) -> list[str]:
        """The filled cells as stripped text."""
        return [str(v).strip() for _, v in self.cells if not isinstance(v, (list, tuple))]

    def unique_and_full(self) -> bool:
        """True when every row has a value and no two rows share one (an id)."""
        values = [str(v).strip() for _, v in self.cells]
        return len(values) == self.n_rows and len(set(values)) == len(values)

    def mostly_unique(self) -> bool:
        """True when more than half the rows hold a value of their own (an id with a few bad rows to report)."""
        return len({str(v).strip() for _, v in self.cells}) * 2 > self.n_rows


def _columns(rows: list[dict[str, Any]]) -> list[_Column]:
    """Columns in first-seen order, each with its filled cells."""
    by_name: dict[str, _Column] = {}
    for row_no, row in enumerate(rows, start=1):
        for name, value in row.items():
            column = by_name.setdefault(str(name), _Column(str(name)))
            if hasattr(value, "tolist") and not isinstance(value, str):
                value = value.tolist()
            if not _missing(value) and value != []:
                column.cells.append((row_no, value))
    for column in by_name.values():
        column.n_rows = len(rows)
    return list(by_name.values())


def _as_rows(data: Any) -> list[dict[str, Any]]:
    """Rows from a pandas DataFrame or any sequence of mappings."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return data.to_dict("records")
    return [dict(r) for r in data]


# ---------------------------------------------------------------- id, title, noun
def _pick(columns: list[_Column], names: list[str], need_unique: bool) -> _Column | None:
    """The first column, in the order of `names`, that exists (and is a full unique id when asked)."""
    by_key = {c.key: c for c in columns}
    for name in names:
        column = by_key.get(name)
        if column is not None and (not need_unique or column.unique_and_full()):
            return column
    return None


def _id_and_title(columns: list[_Column], file_name: str, notes: list[str]) -> tuple[_Column, _Column]:
    """The id and title columns; CatalogError saying what was looked for when either is missing."""
    rules = _rules()
    found = ", ".join(c.name for c in columns) or "none"
    id_col = _pick(columns, rules["id_columns"], need_unique=True)
    if id_col is None:
        id_col = next((c for c in columns if c.key.endswith("_id") and c.unique_and_full()), None)
    if id_col is None:  # an id-named column with a few empty or repeated cells: those rows are reported
        id_col = next((c for c in (_pick(columns, [n], False) for n in rules["id_columns"])
                       if c is not None and (c.key == "id" or c.mostly_unique())), None)
        if id_col is not None:
            notes.append(f"id column {id_col.name!r} has empty or repeated values (those rows will be reported)")
    if id_col is None:
        clashing = [c.name for c in columns if c.key in rules["id_columns"]]
        why = f" ({', '.join(clashing)} has empty or repeated values)" if clashing else ""
        raise CatalogError(f"{file_name}: no id column{why}: looked for a column with unique, non-empty values "
                           f"named {', '.join(rules['id_columns'][:8])} ...; columns found: {found}. "
                           "Add an 'id' column, or give a schema that names it")
    rest = [c for c in columns if c is not id_col]
    title = _pick(rest, rules["title_columns"], need_unique=False)
    if title is None:
        raise CatalogError(f"{file_name}: no title column: looked for {', '.join(rules['title_columns'][:8])} ...; "
                           f"columns found: {found}. Add a 'title' column, or give a schema that names it")
    if len(title.cells) < title.n_rows:
        notes.append(f"title column {title.name!r}: {title.n_rows - len(title.cells)} rows have no title "
                     "(they will be reported on import)")
    return id_col, title


def _noun(file_name: str, columns: list[_Column]) -> ItemNoun:
    """The item noun whose words occur in the file's name or column names (else "item")."""
    rules = _rules()
    words = set(re.split(r"[^a-z0-9]+", Path(file_name).stem.lower())) | {c.key for c in columns}
    words |= {part for c in columns for part in c.key.split("_")}
    for entry in rules["nouns"]:
        if words & set(entry["words"]):
            return ItemNoun(**{k: v for k, v in entry.items() if k != "words"})
    return ItemNoun(**rules["fallback_noun"])


# ---------------------------------------------------------------- the other columns, one kind at a time
def _label(key: str) -> tuple[str, str]:
    """English and Chinese labels for a column: its words, and the Chinese for a known name."""
    labels = _rules()["labels_zh"]
    words = key.replace("_", " ")
    zh = labels.get(key) or next((labels[p] for p in key.split("_") if p in labels), "")
    return words, zh


def _role(key: str) -> dict[str, str] | None:
    """The people role a column name says ('book_author' -> author), if any."""
    rules = _rules()
    parts = key.split("_")
    while len(parts) > 1 and parts[0] in rules["people_prefixes"]:
        parts = parts[1:]
    name = "_".join(parts)
    for candidate in (name, name[:-1] if name.endswith("s") else name, name.removesuffix("_name")):
        if candidate in rules["people"]:
            return rules["people"][candidate]
    return None


def _separator(column: _Column) -> str | None:
    """The separator that joins several short values in this column's cells, if one does."""
    limits = _rules()["thresholds"]
    texts = column.texts
    if not texts:
        return None
    for sep in _SEPARATORS:
        holding = [t for t in texts if sep in t]
        if len(holding) < limits["separator_share"] * len(texts):
            continue
        parts = [p.strip() for t in texts for p in t.split(sep) if p.strip()]
        if parts and sum(map(len, parts)) / len(parts) <= limits["part_max_chars"]:
            return sep
    return None


def _unit_for(key: str) -> str | None:
    """The unit a column's name says (pages, eur, minutes ...), if any."""
    for name, unit in units().items():
        if key in unit.columns:
            return name
    return None


def _rows_note(rows: list[int]) -> str:
    """'rows 3, 7 and 9' (at most a few listed, then a count)."""
    limit = _rules()["thresholds"]["report_rows"]
    shown = ", ".join(map(str, rows[:limit]))
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"rows {shown}{more} hold" if len(rows) > 1 else f"row {shown} holds"


def _number(column: _Column, notes: list[str]) -> NumberField | None:
    """A number field when enough of the cells read as numbers in the unit the name says; bad rows noted."""
    limits = _rules()["thresholds"]
    unit_name = _unit_for(column.key)
    unit = units()[unit_name or "number"]
    label_en, label_zh = _label(column.key)
    field_ = NumberField(column.name, unit, label_en, label_zh, unit.range)
    free = NumberField(column.name, unit, label_en, label_zh, (None, None))
    bad: list[int] = []
    outside: list[tuple[int, str]] = []
    for row_no, value in column.cells:
        try:
            free.parse(value)
        except ValueError:
            bad.append(row_no)
            continue
        try:
            field_.parse(value)
        except ValueError as exc:
            outside.append((row_no, str(exc)))
    n = len(column.cells)
    share = (n - len(bad)) / n if n else 0.0
    if share < limits["number_share"] and not (unit_name and share >= limits["named_number_share"]):
        if unit_name and share > 0:
            notes.append(f"column {column.name!r} is named like a number of {unit.label_en or unit_name} but only "
                         f"{share:.0%} of its cells are numbers: kept as text")
        return None
    if bad:
        notes.append(f"column {column.name!r} is a number ({unit.label_en or 'no unit'}) but {_rows_note(bad)} "
                     "words, not numbers: those rows will be reported on import")
    if outside:
        notes.append(f"column {column.name!r}: {_rows_note([r for r, _ in outside])} values outside the plausible "
                     f"range ({outside[0][1]}); edit numbers.{column.name}.range to accept them")
    if not unit_name:
        notes.append(f"column {column.name!r} is a number with no unit its name says: edit numbers.{column.name}.unit "
                     "(minutes, pages, eur, usd, year, servings ...) so people can ask for it in words")
    return field_


def _suitability(column: _Column) -> Suitability | None:
    """A suitability scale when nearly every cell is a level of one known scale."""
    rules = _rules()
    if column.key not in rules["suitability_columns"] or not column.texts:
        return None
    unknown = [str(w) for w in rules["unknown_levels"]]
    for scale in rules["scales"]:
        levels = [str(level) for level in scale["levels"]]
        suit = Suitability(column.name, tuple(levels), *_label(column.key),
                           tuple((str(k), str(v)) for k, v in scale.get("spellings", {}).items()), tuple(unknown))
        good, known = 0, 0
        for text in column.texts:
            try:
                known += suit.level(text) is not None
                good += 1  # a level, or a word for "not rated"
            except ValueError:
                pass
        if known and good >= rules["thresholds"]["suitability_share"] * len(column.texts):
            return suit
    return None


def _facet_or_text(column: _Column, notes: list[str]) -> Facet | TextField | None:
    """A facet (multi-valued when a separator joins values), a text field, or None (kept, unused)."""
    limits = _rules()["thresholds"]
    label_en, label_zh = _label(column.key)
    lists = [v for _, v in column.cells if isinstance(v, (list, tuple))]
    texts = column.texts
    if not texts and not lists:
        return None
    sep = None if lists else _separator(column)
    mean_chars = sum(map(len, texts)) / len(texts) if texts else 0.0
    if column.key in _rules()["text_columns"] or (mean_chars > limits["text_mean_chars"] and sep is None):
        return TextField(column.name, label_en, label_zh, multi=bool(lists))
    values = [str(p).strip() for v in lists for p in v] if lists else \
        [p.strip() for t in texts for p in (t.split(sep) if sep else [t]) if p.strip()]
    counts = Counter(values)
    if len(counts) > limits["max_values"]:
        notes.append(f"column {column.name!r} has {len(counts):,} distinct values (more than "
                     f"{limits['max_values']:,}): kept as text, searched by its words but not offered as a filter")
        return TextField(column.name, label_en, label_zh, embed=True, show=True)
    if lists or sep or len(counts) <= limits["facet_max_share"] * len(column.cells) or len(counts) <= 2:
        vocabulary = tuple(v for v, _ in counts.most_common())
        return Facet(column.name, label_en, label_zh, multi=bool(lists or sep),
                     separator=sep or ("|" if lists else None), vocabulary=vocabulary, max_values=limits["max_values"])
    return TextField(column.name, label_en, label_zh, embed=False, show=True)


def _is_image(column: _Column) -> bool:
    """True when the name says picture and the cells look like addresses or image paths."""
    rules = _rules()
    named = column.key in rules["image_columns"] or any(w in column.key for w in rules["image_words"])
    texts = column.texts[:200]
    looks = texts and sum(bool(re.match(r"(https?://|/|\./)\S+$|\S+\.(jpe?g|png|gif|webp)$", t, re.I))
                          for t in texts) >= 0.8 * len(texts)
    return bool(named and looks)


def _people(column: _Column, role: dict[str, str]) -> PeopleField:
    """A people field; several names per cell when '|' or ';' joins them (a comma may sit inside one name)."""
    texts = column.texts
    sep = next((s for s in ("|", ";") if texts and sum(s in t for t in texts) >= 0.1 * len(texts)), None)
    return PeopleField(column.name, role["en"], role["zh"], multi=sep is not None, separator=sep or "|")


@dataclass
class _Parts:
    """What inference has decided so far."""

    texts: list[TextField] = field(default_factory=list)
    facets: list[Facet] = field(default_factory=list)
    numbers: list[NumberField] = field(default_factory=list)
    people: list[PeopleField] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    suitability: Suitability | None = None
    image: str | None = None


def _classify(column: _Column, parts: _Parts, notes: list[str]) -> None:
    """Put one column in its place: image, people, suitability, number, facet, text or other."""
    role = _role(column.key)
    if not column.cells:
        parts.other.append(column.name)
        notes.append(f"column {column.name!r} is empty in every row: kept, unused")
    elif parts.image is None and _is_image(column):
        parts.image = column.name
    elif role is not None:
        parts.people.append(_people(column, role))
    elif parts.suitability is None and (suit := _suitability(column)) is not None:
        parts.suitability = suit
    elif (number := _number(column, notes)) is not None:
        parts.numbers.append(number)
    else:
        kind = _facet_or_text(column, notes)
        if isinstance(kind, Facet):
            parts.facets.append(kind)
        elif isinstance(kind, TextField):
            parts.texts.append(kind)
        else:
            parts.other.append(column.name)


def infer_schema(data: Any, file_name: str) -> CatalogSchema:
    """A schema for a catalog file given as rows (mappings) or a DataFrame; decisions and warnings in `notes`."""
    rows = _as_rows(data)
    if not rows:
        raise CatalogError(f"{file_name} is empty: it has no rows to import")
    columns = _columns(rows)
    notes: list[str] = []
    id_col, title = _id_and_title(columns, file_name, notes)
    parts = _Parts()
    for column in columns:
        if column is not id_col and column is not title:
            _classify(column, parts, notes)
    if not any(t.embed for t in parts.texts):
        notes.append("no long text column (such as a description): search reads the title alone; "
                     "add a description column for better answers")
    popularity = next((n.name for n in parts.numbers if n.unit.name == "count"), None)
    return CatalogSchema(
        name=Path(file_name).stem or "catalog", noun=_noun(file_name, columns), id=id_col.name, title=title.name,
        texts=tuple(parts.texts), facets=tuple(parts.facets), numbers=tuple(parts.numbers),
        people=tuple(parts.people), suitability=parts.suitability, image=parts.image, popularity=popularity,
        other=tuple(parts.other), notes=tuple(notes),
    )
