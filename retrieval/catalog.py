"""The catalog on disk (load, hash, atomic write) and the import of a person's own catalog file.

An imported file is CSV, JSONL or Parquet. Each row is validated at the edge by `CatalogRow` (pydantic);
a bad row is reported with its row number, field and reason, and the good rows are imported.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from retrieval.types import AGE_RATINGS, GENRES, LIST_FIELDS, CatalogError, Item

CATALOG_FILE = "catalog.jsonl"
META_FILE = "catalog.meta.json"

# Longest text accepted in any one field of an imported row (a plot summary is ~1-5 kB).
MAX_FIELD_CHARS = 20_000
# Longest id and title accepted.
MAX_ID_CHARS = 200
MAX_TITLE_CHARS = 500
# Plausible bounds for numbers in an imported row.
YEAR_RANGE = (1870, 2100)  # the first films are from the late 1880s
RUNTIME_MAX_MIN = 10_000  # a few experimental films run for days; anything longer is a typo
MAX_LIST_ELEMENTS = 500
MAX_FILE_BYTES = 512 * 1024 * 1024  # a catalog file larger than this is refused before reading it

SUPPORTED_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}

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


@dataclass(frozen=True)
class ImportReport:
    """What an import found: the good items, and a problem per bad field of each rejected row."""

    items: list[Item]
    problems: list[RowProblem]
    n_rows: int = 0  # data rows read (header excluded)

    @property
    def n_rejected(self) -> int:
        """How many rows were rejected."""
        return len({p.row for p in self.problems})

    def summary_lines(self, max_problems: int = 50) -> list[str]:
        """A short human summary: counts, then one line per problem (the first `max_problems`)."""
        lines = [f"imported {len(self.items)} items, rejected {self.n_rejected} rows (of {self.n_rows} read)"]
        lines += [f"  {p}" for p in self.problems[:max_problems]]
        if len(self.problems) > max_problems:
            lines.append(f"  ... and {len(self.problems) - max_problems} more problems")
        return lines


# ---------------------------------------------------------------- the catalog in a data dir
def catalog_path(data_dir: Path) -> Path:
    """Where the catalog file of a data dir lives."""
    return Path(data_dir) / CATALOG_FILE


def _missing_catalog(data_dir: Path) -> CatalogError:
    """The error for a data dir without a catalog, saying how to make one."""
    return CatalogError(
        f"there is no catalog in {data_dir}: run `tastebud data build` for the demo movie catalog, "
        "or `tastebud data import FILE` for your own"
    )


def load_catalog(data_dir: Path) -> list[Item]:
    """Every item of the data dir's catalog, in file order (CatalogError if missing or corrupt)."""
    path = catalog_path(data_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _missing_catalog(Path(data_dir)) from None
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog {path}: {exc.strerror or exc}") from exc
    items: list[Item] = []
    for line_no, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(Item.from_dict(json.loads(line)))
        except (ValueError, TypeError) as exc:
            raise CatalogError(
                f"the catalog {path} is damaged at line {line_no} ({exc}); "
                "rebuild it with `tastebud data build` or re-import your file"
            ) from exc
    return items


def catalog_hash(data_dir: Path) -> str:
    """sha256 (hex) of the catalog file's bytes: changes whenever any item changes."""
    path = catalog_path(data_dir)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise _missing_catalog(Path(data_dir)) from None
    return digest.hexdigest()


def read_meta(data_dir: Path) -> dict[str, Any]:
    """The catalog's meta record ({} when there is none or it is unreadable)."""
    try:
        return json.loads((Path(data_dir) / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_catalog(data_dir: Path, items: list[Item], meta: dict[str, Any]) -> None:
    """Write catalog.jsonl and catalog.meta.json atomically; on failure the previous catalog stays."""
    data_dir = Path(data_dir)
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise CatalogError(f"two catalog items share the id {item.id!r}; ids must be unique")
        seen.add(item.id)
    body = "".join(json.dumps(item.to_dict(), ensure_ascii=False) + "\n" for item in items).encode("utf-8")
    full_meta = {**meta, "hash": hashlib.sha256(body).hexdigest(), "n_items": len(items)}
    meta_bytes = (json.dumps(full_meta, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    target, meta_target = data_dir / CATALOG_FILE, data_dir / META_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(target, body, replace=False)
        write_atomically(meta_target, meta_bytes, replace=False)
        os.replace(_tmp_path(target), target)
        os.replace(_tmp_path(meta_target), meta_target)
    except OSError as exc:
        for path in (target, meta_target):
            with contextlib.suppress(OSError):
                _tmp_path(path).unlink()
        raise CatalogError(
            f"cannot write the catalog in {data_dir}: {exc.strerror or exc}; "
            "the previous catalog (if any) is unchanged. Check that the data dir is writable "
            "(setting TASTEBUD_DATA_DIR)"
        ) from exc


def _tmp_path(path: Path) -> Path:
    """The side file a write goes to before it replaces `path`."""
    return path.with_name(path.name + ".tmp")


def write_atomically(path: Path, data: bytes, replace: bool = True) -> None:
    """Write bytes to `path.tmp`, fsync, and (by default) move it over `path` in one step."""
    tmp = _tmp_path(path)
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    if replace:
        os.replace(tmp, path)


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
_SURROGATE = re.compile(r"[\udc80-\udcff]")
_EXTRA_CELLS = "(extra cells)"


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


def _canonical_column(name: str) -> str:
    """A column name: item fields matched case-insensitively, others kept as given (trimmed)."""
    text = str(name).strip().lstrip("\ufeff")
    lowered = text.lower()
    return lowered if lowered in _ITEM_FIELDS else text


def validate_row(row_no: int, raw: dict[str, Any]) -> tuple[Item | None, list[RowProblem]]:
    """Validate one raw row: the Item, or None and the problems found (one per bad field)."""
    problems: list[RowProblem] = []
    data: dict[str, Any] = {}
    if _EXTRA_CELLS in raw:
        raw = dict(raw)
        n_cells, n_header = raw.pop(_EXTRA_CELLS), raw.pop("(header cells)")
        reason = f"has {n_cells} cells but the header has {n_header} columns (an unquoted comma?)"
        return None, [RowProblem(row_no, "(row)", reason)]
    for key, value in raw.items():
        column = _canonical_column(key)
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


# ---------------------------------------------------------------- reading files
def _decode(raw: bytes) -> str:
    """Bytes as text; undecodable bytes survive as surrogate escapes so the row holding them is reported."""
    text = raw.decode("utf-8", errors="surrogateescape")
    return text.removeprefix("\ufeff")


def _read_csv(path: Path, raw: bytes) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """Columns and (row number, row) pairs of a CSV file; row 1 is the first line after the header."""
    text = _decode(raw)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)  # the header decides: ',' unless ';' or tabs dominate
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=delimiter)
    old_limit = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # we apply our own, clearer, per-field limit
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise CatalogError(f"{path.name} is not a readable CSV file: {exc}") from exc
    finally:
        csv.field_size_limit(old_limit)
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        return [], iter(())
    header = [_canonical_column(h) for h in rows[0]]

    def pairs() -> Iterator[tuple[int, dict[str, Any]]]:
        """Each data row as a dict keyed by column."""
        for row_no, cells in enumerate(rows[1:], start=1):
            record = {name: cells[i] if i < len(cells) else None for i, name in enumerate(header) if name}
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                record[_EXTRA_CELLS] = len(cells)
                record["(header cells)"] = len(header)
            yield row_no, record

    return header, pairs()


def _read_jsonl(path: Path, raw: bytes) -> tuple[list[str], list[tuple[int, dict[str, Any]]], list[RowProblem]]:
    """Rows of a JSONL file, one per line (row number = line number); unparsable lines are problems."""
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[RowProblem] = []
    columns: list[str] = []
    for line_no, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        text = _decode(line)
        try:
            record = json.loads(text)
        except ValueError as exc:
            problems.append(RowProblem(line_no, "(row)", f"is not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(record, dict):
            problems.append(RowProblem(line_no, "(row)", "is not a JSON object ({...})"))
            continue
        for key in record:
            column = _canonical_column(key)
            if column not in columns:
                columns.append(column)
        rows.append((line_no, record))
    return columns, rows, problems


def _read_parquet(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Rows of a Parquet file (row 1 is the first row)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise CatalogError(f"{path.name} is not a readable Parquet file: {exc}") from exc
    columns = [_canonical_column(c) for c in table.column_names]
    records = table.to_pylist()
    return columns, list(enumerate(records, start=1))


def import_catalog_file(path: Path) -> ImportReport:
    """Read and validate a CSV, JSONL or Parquet catalog file: good rows become Items, bad rows problems."""
    path = Path(path)
    kind = SUPPORTED_EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise CatalogError(
            f"{path.name}: unknown file type {path.suffix or '(no extension)'!r}; "
            "give a .csv, .jsonl or .parquet file"
        )
    if not path.is_file():
        raise CatalogError(f"{path} does not exist or is not a file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CatalogError(f"{path.name} is {size / 2**20:,.0f} MiB; the limit is {MAX_FILE_BYTES / 2**20:,.0f} MiB")
    problems: list[RowProblem] = []
    if kind == "parquet":
        columns, rows = _read_parquet(path)
    else:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CatalogError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if kind == "csv":
            columns, row_iter = _read_csv(path, raw)
            rows = list(row_iter)
        else:
            columns, rows, problems = _read_jsonl(path, raw)
    if not rows and not problems:
        raise CatalogError(f"{path.name} is empty: it has no rows to import")
    for required in ("id", "title"):
        if rows and required not in columns:
            raise CatalogError(
                f"{path.name} has no {required!r} column (columns found: {', '.join(map(str, columns)) or 'none'}); "
                "every catalog needs 'id' and 'title'"
            )
    items: list[Item] = []
    first_row_of: dict[str, int] = {}
    for row_no, record in rows:
        item, row_problems = validate_row(row_no, record)
        if item is not None and item.id in first_row_of:
            row_problems = [RowProblem(row_no, "id", f"{item.id!r} repeats the id of row {first_row_of[item.id]}")]
            item = None
        problems.extend(row_problems)
        if item is not None:
            first_row_of[item.id] = row_no
            items.append(item)
    problems.sort(key=lambda p: p.row)
    n_rows = len(rows) + len({p.row for p in problems if p.field == "(row)"})
    return ImportReport(items=items, problems=problems, n_rows=n_rows)
