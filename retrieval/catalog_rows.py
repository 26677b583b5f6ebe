"""One row of an imported catalog file, validated at the edge by `CatalogRow` (pydantic).

A bad field is reported as a `RowProblem` with its row number, field and reason; `validate_row` turns one raw
row (a dict from CSV, JSONL or Parquet) into an `Item` or into its problems.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from retrieval.types import AGE_RATINGS, GENRES, LIST_FIELDS, Item

# Longest text accepted in any one field of an imported row (a plot summary is ~1-5 kB).
MAX_FIELD_CHARS = 20_000
# Longest id and title accepted.
MAX_ID_CHARS = 200
MAX_TITLE_CHARS = 500
# Plausible bounds for numbers in an imported row.
YEAR_RANGE = (1870, 2100)  # the first films are from the late 1880s
RUNTIME_MAX_MIN = 10_000  # a few experimental films run for days; anything longer is a typo
MAX_LIST_ELEMENTS = 500

# Ways of saying "this film has no rating" that are accepted silently as "unknown" on import.
_NO_RATING_WORDS = {"", "not rated", "unrated", "nr", "n/a", "na", "none", "null"}
_GENRE_BY_KEY = {re.sub(r"[^a-z]", "", g.lower()): g for g in GENRES}
_GENRE_SYNONYMS = {
    "sciencefiction": "Sci-Fi", "scifi": "Sci-Fi", "family": "Children", "childrens": "Children",
    "kids": "Children", "animated": "Animation", "noir": "Film-Noir", "filmnoir": "Film-Noir",
    "musicals": "Musical", "documentaries": "Documentary",
}


class RowProblem(NamedTuple):
    """One problem with one row of an imported file: its 1-based row number, the field and why."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        """The problem as a person reads it: row 7, field year: 'abc' is not a year."""
        return f"row {self.row}, field {self.field}: {self.reason}"


# ---------------------------------------------------------------- normalising values
def normalise_age_rating(raw: str | None) -> str | None:
    """An MPAA-style rating in canonical form (G/PG/PG-13/R/NC-17), None for "no rating", ValueError otherwise."""
    if raw is None:
        return None
    key = re.sub(r"[\s_]+", "", str(raw).strip().upper())
    if key.lower() in {w.replace(" ", "") for w in _NO_RATING_WORDS}:
        return None
    canonical = {"G": "G", "PG": "PG", "PG13": "PG-13", "PG-13": "PG-13", "R": "R", "NC17": "NC-17", "NC-17": "NC-17"}
    if key in canonical:
        return canonical[key]
    raise ValueError(f"{raw!r} is not an age rating (use one of {', '.join(AGE_RATINGS)}, or leave it empty)")


def canonical_genre(raw: str) -> str:
    """A genre in MovieLens spelling when it is one of ours (case and synonyms ignored), else as given."""
    key = re.sub(r"[^a-z]", "", raw.lower())
    return _GENRE_BY_KEY.get(key) or _GENRE_SYNONYMS.get(key) or raw.strip()


def split_list(value: Any) -> list[str]:
    """A list field from a JSON array, a JSON-array string, or an "a|b", "a; b" or "a, b" string."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ValueError("looks like a JSON array but is not valid JSON") from None
        else:
            sep = "|" if "|" in text else ";" if ";" in text else ","
            value = text.split(sep)
    if hasattr(value, "tolist"):  # numpy arrays from Parquet list columns
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{value!r} is not a list (give a JSON array or values separated by '|')")
    out: list[str] = []
    for element in value:
        if element is None:
            continue
        if not isinstance(element, (str, int)) or isinstance(element, bool):
            raise ValueError(f"list element {element!r} is not text")
        text = str(element).strip()
        if text and text not in out:
            out.append(text)
    if len(out) > MAX_LIST_ELEMENTS:
        raise ValueError(f"has {len(out)} entries; the limit is {MAX_LIST_ELEMENTS}")
    return out


def _as_int(value: Any, what: str) -> int:
    """An int from an int, an integral float or a string of digits; ValueError naming `what` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not {what}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+(\.0+)?", value.strip()):
        return int(float(value.strip()))
    raise ValueError(f"{value!r} is not {what}")


# ---------------------------------------------------------------- one row, validated at the edge
class CatalogRow(BaseModel):
    """One row of an imported catalog file; unknown columns are kept as item attributes."""

    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    year: int | None = None
    genres: list[str] = []
    runtime_min: int | None = None
    age_rating: str | None = None
    directors: list[str] = []
    cast: list[str] = []
    writers: list[str] = []
    languages: list[str] = []
    countries: list[str] = []
    awards: str | None = None
    plot: str | None = None
    n_ratings: int = 0
    mean_rating: float | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _check_id(cls, value: Any) -> str:
        """Ids are non-empty text (whole numbers are accepted and turned into text)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("is missing (every item needs an id)")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"{value!r} is not a valid id (use text or a whole number)")
        text = str(value).strip()
        if len(text) > MAX_ID_CHARS:
            raise ValueError(f"is {len(text):,} characters long; an id may have at most {MAX_ID_CHARS}")
        if any(ord(ch) < 32 for ch in text):
            raise ValueError("contains control characters")
        return text

    @field_validator("title", mode="before")
    @classmethod
    def _check_title(cls, value: Any) -> str:
        """Titles are non-empty text of reasonable length."""
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("is missing (every item needs a title)")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValueError(f"{value!r} is not text")
        text = " ".join(str(value).split())
        if len(text) > MAX_TITLE_CHARS:
            raise ValueError(f"is {len(text):,} characters long; a title may have at most {MAX_TITLE_CHARS}")
        return text

    @field_validator("year", mode="before")
    @classmethod
    def _check_year(cls, value: Any) -> int | None:
        """A whole year in a plausible range."""
        if value is None:
            return None
        year = _as_int(value, "a year")
        if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
            raise ValueError(f"{year} is not a plausible year (expected {YEAR_RANGE[0]}-{YEAR_RANGE[1]})")
        return year

    @field_validator("runtime_min", mode="before")
    @classmethod
    def _check_runtime(cls, value: Any) -> int | None:
        """A positive whole number of minutes."""
        if value is None:
            return None
        minutes = _as_int(value, "a whole number of minutes")
        if minutes <= 0:
            raise ValueError(f"{minutes} is not a valid runtime (it must be a positive number of minutes)")
        if minutes > RUNTIME_MAX_MIN:
            raise ValueError(f"{minutes} minutes is not a plausible runtime")
        return minutes

    @field_validator("age_rating", mode="before")
    @classmethod
    def _check_age_rating(cls, value: Any) -> str | None:
        """One of G, PG, PG-13, R, NC-17 (or empty / "Not Rated" for unknown)."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not an age rating (use one of {', '.join(AGE_RATINGS)})")
        return normalise_age_rating(value)

    @field_validator("genres", "directors", "cast", "writers", "languages", "countries", mode="before")
    @classmethod
    def _check_list(cls, value: Any) -> list[str]:
        """Lists come as JSON arrays or as "a|b" / "a; b" / "a, b" text."""
        return split_list(value)

    @field_validator("genres", mode="after")
    @classmethod
    def _canonical_genres(cls, value: list[str]) -> list[str]:
        """Genres we know are spelled the MovieLens way; others are kept as given."""
        out: list[str] = []
        for genre in value:
            canonical = canonical_genre(genre)
            if canonical not in out:
                out.append(canonical)
        return out

    @field_validator("awards", "plot", mode="before")
    @classmethod
    def _check_text(cls, value: Any) -> str | None:
        """Free text fields must be text."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not text")
        return value.strip() or None

    @field_validator("n_ratings", mode="before")
    @classmethod
    def _check_n_ratings(cls, value: Any) -> int:
        """A count of ratings: a whole number, zero or more."""
        if value is None:
            return 0
        count = _as_int(value, "a whole number of ratings")
        if count < 0:
            raise ValueError(f"{count} is not a valid count (it cannot be negative)")
        return count

    @field_validator("mean_rating", mode="before")
    @classmethod
    def _check_mean_rating(cls, value: Any) -> float | None:
        """An average rating: a finite number, zero or more."""
        if value is None:
            return None
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        if not math.isfinite(number) or not 0 <= number <= 100:
            raise ValueError(f"{value!r} is not a plausible average rating")
        return number

    def to_item(self) -> Item:
        """The validated row as an Item (extra columns become attributes)."""
        data = self.model_dump(exclude=set(self.model_extra or {}))
        for name in LIST_FIELDS:
            data[name] = tuple(data[name])
        attributes = tuple(sorted((k, v) for k, v in (self.model_extra or {}).items() if v is not None))
        return Item(**data, attributes=attributes)


_ITEM_FIELDS = tuple(CatalogRow.model_fields)
ITEM_COLUMNS = frozenset(_ITEM_FIELDS)  # the columns of a film-shaped file
_SURROGATE = re.compile(r"[\udc80-\udcff]")
EXTRA_CELLS = "(extra cells)"  # key a reader adds to a row with more cells than the header
HEADER_CELLS = "(header cells)"  # and, beside it, the header's length


def _clean_value(value: Any) -> Any:
    """Empty strings and NaN become None; numpy scalars become Python scalars."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _value_size(value: Any) -> int:
    """Characters a value takes as text (for the per-field size limit)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return 0
    try:
        return len(json.dumps(value, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return len(str(value))


def _has_bad_bytes(value: Any) -> bool:
    """True when decoding left undecodable bytes (surrogate escapes) in this value."""
    if isinstance(value, str):
        return bool(_SURROGATE.search(value))
    if isinstance(value, (list, tuple)):
        return any(_has_bad_bytes(v) for v in value)
    if isinstance(value, dict):
        return any(_has_bad_bytes(k) or _has_bad_bytes(v) for k, v in value.items())
    return False


def canonical_column(name: str) -> str:
    """A column name: item fields matched case-insensitively, others kept as given (trimmed)."""
    text = str(name).strip().lstrip("\ufeff")
    lowered = text.lower()
    return lowered if lowered in _ITEM_FIELDS else text


def clean_cells(row_no: int, raw: dict[str, Any], column_of: Any = None) -> tuple[dict[str, Any] | None,
                                                                                list[RowProblem]]:
    """A raw row's cells, cleaned (empty -> None) and checked (UTF-8, size, cell count); None when the row is bad.

    `column_of` names a column from its header (default: item fields matched case-insensitively).
    """
    problems: list[RowProblem] = []
    data: dict[str, Any] = {}
    if EXTRA_CELLS in raw:
        raw = dict(raw)
        n_cells, n_header = raw.pop(EXTRA_CELLS), raw.pop(HEADER_CELLS)
        reason = f"has {n_cells} cells but the header has {n_header} columns (an unquoted comma?)"
        return None, [RowProblem(row_no, "(row)", reason)]
    for key, value in raw.items():
        column = (column_of or canonical_column)(key)
        if not column:
            continue
        value = _clean_value(value)
        if _has_bad_bytes(value) or _has_bad_bytes(column):
            problems.append(RowProblem(row_no, column, "is not valid UTF-8 text (the file has broken bytes here)"))
            continue
        size = _value_size(value)
        if size > MAX_FIELD_CHARS:
            problems.append(
                RowProblem(row_no, column, f"is {size:,} characters long; the limit is {MAX_FIELD_CHARS:,} per field")
            )
            continue
        data[column] = value
    return data, problems


def validate_row(row_no: int, raw: dict[str, Any]) -> tuple[Item | None, list[RowProblem]]:
    """Validate one raw row: the Item, or None and the problems found (one per bad field)."""
    data, problems = clean_cells(row_no, raw)
    if data is None:
        return None, problems
    bad_fields = {p.field for p in problems}
    for name in ("id", "title"):
        if name not in bad_fields:
            data.setdefault(name, None)
    try:
        row = CatalogRow.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "(row)"
            if field in bad_fields:
                continue
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(RowProblem(row_no, field, message))
        return None, problems
    if problems:
        return None, problems
    return row.to_item(), []
