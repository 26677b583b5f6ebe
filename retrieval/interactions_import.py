"""An operator's own interactions (who liked, bought, rated or viewed which item), imported beside their catalog.

`tastebud data import FILE --interactions FILE2` reads FILE2 (CSV, JSONL or Parquet) after the catalog: the user
and item columns are found by name (or named by the schema's `interactions`), a rating or an event column says
what a like is, and a timestamp column (numbers or dates) gives the order (the file's order otherwise). Rows are
written as `interactions.parquet` (user, item, rating, timestamp) on the 0.5-5 scale the interest model reads: a
like is 5, a dislike 1, anything else 3. Rows naming items the catalog lacks are skipped and counted; rows with
an empty user or item, or a rating that is not a number, are reported; nothing is written when no row is usable.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.catalog import write_atomically
from retrieval.errors import CatalogError
from retrieval.schema import InteractionsSpec

if TYPE_CHECKING:
    import pandas as pd

INTERACTIONS_FILE = "interactions.parquet"
USER_COLUMNS = ("user", "user_id", "userid", "customer", "customer_id", "reader", "reader_id", "member", "member_id",
                "visitor", "visitor_id", "session")
ITEM_COLUMNS = ("item", "item_id", "itemid", "id", "sku", "product", "product_id", "isbn", "book_id", "recipe_id",
                "movie_id", "course_id")
RATING_COLUMNS = ("rating", "score", "stars", "rate", "review_score")
EVENT_COLUMNS = ("event", "action", "event_type", "type", "interaction")
TIME_COLUMNS = ("timestamp", "time", "ts", "date", "datetime", "created_at", "event_time")
LIKE_EVENTS = ("like", "liked", "purchase", "purchased", "buy", "bought", "order", "ordered", "favourite",
               "favorite", "save", "saved", "cart", "add_to_cart", "read", "cooked", "watched", "completed")
DISLIKE_EVENTS = ("dislike", "disliked", "return", "returned", "refund", "hide", "not_interested")
LIKE, NEUTRAL, DISLIKE = 5.0, 3.0, 1.0


@dataclass
class InteractionsReport:
    """What an interactions import read, kept, skipped and rejected."""

    n_rows: int = 0
    n_kept: int = 0
    n_users: int = 0
    unknown_items: int = 0  # rows naming an item the catalog lacks (skipped)
    problems: list[str] = field(default_factory=list)  # rows rejected, in words
    rule: str = ""  # what a like is, in words

    def lines(self, max_problems: int = 20) -> list[str]:
        """A short summary for people."""
        out = [f"interactions: {self.n_kept:,} of {self.n_rows:,} rows kept ({self.n_users:,} people); "
               f"{self.unknown_items:,} name items the catalog lacks (skipped); {len(self.problems):,} rejected",
               f"  a like is {self.rule}"]
        out += [f"  {p}" for p in self.problems[:max_problems]]
        return out


def _read_table(path: Path) -> pd.DataFrame:
    """A CSV (',', ';' or tab), JSONL or Parquet file as a table of strings and numbers."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True, dtype=False)
        if suffix == ".csv":
            head = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
            return pd.read_csv(path, sep=max(",;\t", key=head.count), dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path.name} is not a readable interactions file: {exc}") from exc
    raise CatalogError(f"{path.name}: unknown file type {suffix or '(none)'!r}; give a .csv, .jsonl or .parquet file")


def _column(df: pd.DataFrame, named: str | None, names: tuple[str, ...], what: str, path: Path,
            required: bool = True) -> str | None:
    """The column the schema names, else the first of `names` present (case-insensitive); CatalogError if needed."""
    by_key = {str(c).strip().lower(): c for c in df.columns}
    if named:
        if named.lower() not in by_key:
            raise CatalogError(f"{path.name}: the schema names the {what} column {named!r}, which the file lacks "
                               f"(columns: {', '.join(map(str, df.columns))})")
        return by_key[named.lower()]
    found = next((by_key[n] for n in names if n in by_key), None)
    if found is None and required:
        raise CatalogError(f"{path.name}: no {what} column: looked for {', '.join(names[:6])} ...; columns found: "
                           f"{', '.join(map(str, df.columns)) or 'none'}")
    return found


def import_interactions(path: Path, item_ids: set[str], spec: InteractionsSpec | None = None
                        ) -> tuple[pd.DataFrame, InteractionsReport]:
    """The usable rows of an interactions file (user, item, rating 0.5-5, timestamp) and what was done with each."""
    import numpy as np
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path} does not exist or is not a file")
    df = _read_table(path)
    spec = spec or InteractionsSpec(file=path.name)
    user = _column(df, spec.user if spec.user != "user" else None, USER_COLUMNS, "user", path)
    item = _column(df, spec.item if spec.item != "item" else None, ITEM_COLUMNS, "item", path)
    rating_col = _column(df, spec.rating, RATING_COLUMNS, "rating", path, required=False)
    event_col = None if rating_col else _column(df, spec.event, EVENT_COLUMNS, "event", path, required=False)
    time_col = _column(df, spec.timestamp, TIME_COLUMNS, "timestamp", path, required=False)
    report = InteractionsReport(n_rows=len(df))
    users = df[user].astype(str).str.strip()
    items = df[item].astype(str).str.strip()
    keep = (users != "") & (items != "") & (users.str.lower() != "nan") & (items.str.lower() != "nan")
    report.problems += [f"row {n + 1}: the user or the item is empty" for n in np.flatnonzero(~keep.to_numpy())]
    rating, rule = _ratings(df, rating_col, event_col, spec, report, keep)
    known = items.isin(item_ids)
    report.unknown_items = int((keep & ~known).sum())
    keep &= known & rating.notna()
    order = np.arange(len(df), dtype=np.int64)
    stamps = _timestamps(df[time_col]) if time_col else pd.Series(order)
    out = pd.DataFrame({"user": users[keep].to_numpy(), "item": items[keep].to_numpy(),
                        "rating": rating[keep].astype("float32").to_numpy(),
                        "timestamp": stamps[keep].fillna(0).astype("int64").to_numpy()})
    report.n_kept, report.n_users, report.rule = len(out), int(out["user"].nunique()), rule
    return out, report


def _ratings(df: pd.DataFrame, rating_col: str | None, event_col: str | None, spec: InteractionsSpec,
             report: InteractionsReport, keep: pd.Series) -> tuple[pd.Series, str]:
    """Each row as like (5), neutral (3) or dislike (1), and the rule in words; NaN for a row to reject."""
    import numpy as np
    import pandas as pd

    if rating_col is not None:
        raw = pd.to_numeric(df[rating_col], errors="coerce")
        bad = raw.isna() & keep
        report.problems += [f"row {n + 1}: rating {df[rating_col].iloc[n]!r} is not a number" for n in np.flatnonzero(bad)]
        top = float(raw.max()) if raw.notna().any() else 5.0
        like_min = spec.like_min if spec.like_min is not None else (4.0 if top <= 5 else 0.6 * top)
        dislike_max = like_min / 2
        values = np.where(raw >= like_min, LIKE, np.where(raw <= dislike_max, DISLIKE, NEUTRAL))
        return pd.Series(values, index=df.index).where(raw.notna()), \
            f"a {rating_col} of {like_min:g} or more (a dislike: {dislike_max:g} or less)"
    if event_col is not None:
        likes = {e.lower() for e in (spec.like_events or LIKE_EVENTS)}
        events = df[event_col].astype(str).str.strip().str.lower()
        values = np.where(events.isin(likes), LIKE, np.where(events.isin(DISLIKE_EVENTS), DISLIKE, NEUTRAL))
        return pd.Series(values, index=df.index), f"an {event_col} of {', '.join(sorted(likes)[:6])} ..."
    return pd.Series(LIKE, index=df.index), "every row (the file has no rating or event column)"


def _timestamps(column: pd.Series) -> pd.Series:
    """Seconds since 1970 from numbers or dates; unreadable ones become NaN (then 0)."""
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().mean() >= 0.9:
        return numbers
    dates = pd.to_datetime(column, errors="coerce", utc=True)
    return (dates - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)


def write_interactions(data_dir: Path, table: pd.DataFrame) -> Path:
    """interactions.parquet in the data dir, written atomically."""
    if table.empty:
        raise CatalogError("no interaction row could be used: nothing was written (the previous file is unchanged)")
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    target = Path(data_dir) / INTERACTIONS_FILE
    try:
        write_atomically(target, buffer.getvalue())
    except OSError as exc:
        raise CatalogError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target
