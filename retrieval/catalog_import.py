"""The import of a person's own catalog file: CSV, JSONL or Parquet, read and validated row by row.

Each row is validated at the edge (`retrieval.catalog_rows`); a bad row is reported with its row number, field
and reason, and the good rows are imported.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.catalog_rows import (
    EXTRA_CELLS,
    HEADER_CELLS,
    ITEM_COLUMNS,
    RowProblem,
    canonical_column,
    validate_row,
)
from retrieval.errors import CatalogError
from retrieval.schema import CatalogSchema
from retrieval.schema_infer import infer_schema
from retrieval.schema_rows import schema_row
from retrieval.types import Item

MAX_FILE_BYTES = 512 * 1024 * 1024  # a catalog file larger than this is refused before reading it

SUPPORTED_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


@dataclass(frozen=True)
class ImportReport:
    """What an import found: the good items, and a problem per bad field of each rejected row."""

    items: list[Item]
    problems: list[RowProblem]
    n_rows: int = 0  # data rows read (header excluded)
    schema: CatalogSchema | None = None  # the schema the rows were read with (None: the film columns)
    inferred: bool = False  # the schema was guessed from the file (the operator should look at it)

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
    header = [canonical_column(h) for h in rows[0]]

    def pairs() -> Iterator[tuple[int, dict[str, Any]]]:
        """Each data row as a dict keyed by column."""
        for row_no, cells in enumerate(rows[1:], start=1):
            record = {name: cells[i] if i < len(cells) else None for i, name in enumerate(header) if name}
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                record[EXTRA_CELLS] = len(cells)
                record[HEADER_CELLS] = len(header)
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
            column = canonical_column(key)
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
    columns = [canonical_column(c) for c in table.column_names]
    records = table.to_pylist()
    return columns, list(enumerate(records, start=1))


_FILM_ONLY = frozenset({"runtime_min", "age_rating", "directors", "cast", "writers", "awards", "plot"})


def _film_shaped(columns: list[str]) -> bool:
    """True for a film file: every column a film field, or one only films have (runtime_min, cast ...);
    other columns of a film file are kept as attributes, as before."""
    named = [c for c in columns if c]
    return all(c in ITEM_COLUMNS or c == "attributes" for c in named) or bool(_FILM_ONLY & set(named))


def import_catalog_file(path: Path, schema: CatalogSchema | None = None) -> ImportReport:
    """Read and validate a CSV, JSONL or Parquet catalog file: good rows become Items, bad rows problems.

    With a schema, rows are read as it says; without one, a file whose columns are all film fields is read as
    films, and any other file gets a schema inferred from its columns (`retrieval.schema_infer`).
    """
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
    inferred = False
    if schema is None and rows and not _film_shaped(columns):
        schema, inferred = infer_schema([record for _, record in rows], path.name), True
    if schema is not None:
        raw_columns = list(dict.fromkeys(str(k).strip() for _, record in rows for k in record
                                         if k not in (EXTRA_CELLS, HEADER_CELLS)))
        schema.check_columns(raw_columns, path.name)
        items, row_problems = _validated(rows, lambda n, r: schema_row(n, r, schema), schema.id)
        problems = sorted(problems + row_problems, key=lambda p: p.row)
        n_rows = len(rows) + len({p.row for p in problems if p.field == "(row)"})
        return ImportReport(items=items, problems=problems, n_rows=n_rows, schema=schema, inferred=inferred)
    for required in ("id", "title"):
        if rows and required not in columns:
            raise CatalogError(
                f"{path.name} has no {required!r} column (columns found: {', '.join(map(str, columns)) or 'none'}); "
                "every catalog needs 'id' and 'title'"
            )
    items, row_problems = _validated(rows, validate_row)
    problems = sorted(problems + row_problems, key=lambda p: p.row)
    n_rows = len(rows) + len({p.row for p in problems if p.field == "(row)"})
    return ImportReport(items=items, problems=problems, n_rows=n_rows)


def _validated(rows: list[tuple[int, dict[str, Any]]],
               validate: Callable[[int, dict[str, Any]], tuple[Item | None, list[RowProblem]]],
               id_field: str = "id") -> tuple[list[Item], list[RowProblem]]:
    """Every row through `validate`, with repeated ids reported (the first row of an id wins)."""
    items: list[Item] = []
    problems: list[RowProblem] = []
    first_row_of: dict[str, int] = {}
    for row_no, record in rows:
        item, row_problems = validate(row_no, record)
        if item is not None and item.id in first_row_of:
            row_problems = [RowProblem(row_no, id_field, f"{item.id!r} repeats the id of row {first_row_of[item.id]}")]
            item = None
        problems.extend(row_problems)
        if item is not None:
            first_row_of[item.id] = row_no
            items.append(item)
    return items, problems
