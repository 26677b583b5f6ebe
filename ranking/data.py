"""Interactions and the chronological leave-last-out split that every ranking model shares.

Signals (the choice every model sees):
- a rating >= 4.0 is a *positive* ("liked"): on MovieLens' 0.5-5 scale 4 is the first "really liked it" star,
  and about half of all ratings clear it, so positives are plentiful but still selective;
- a rating <= 2.0 is a *negative* ("disliked"), kept as a signal the interest model reads, never a target;
- anything in between is *neutral*: the person watched it, which says something, but it is neither.
Targets are always positives: the split holds out each person's last positive (test) and the one before it
(validation); everything that happened before the validation positive is training data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.errors import CatalogError

if TYPE_CHECKING:  # pandas is imported lazily: `import ranking.data` stays cheap
    import pandas as pd

POSITIVE_MIN = 4.0  # a rating at or above this is a positive (liked)
NEGATIVE_MAX = 2.0  # a rating at or below this is a negative (disliked)
LIKED, NEUTRAL, DISLIKED = 1, 0, -1  # sign codes used in History.signs
COLUMNS = ("user", "item", "rating", "timestamp")


@dataclass(frozen=True)
class RowProblem:
    """One rejected interaction row: its position in the file, the field and why."""

    row: int
    field: str
    reason: str


@dataclass(frozen=True)
class CleanInteractions:
    """Interactions that passed validation, plus every row that did not."""

    frame: pd.DataFrame
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True)
class History:
    """What one person did, in item-index space, oldest first."""

    items: np.ndarray  # (L,) int64 item indices
    signs: np.ndarray  # (L,) int8: LIKED, NEUTRAL or DISLIKED
    text_vector: np.ndarray | None = None  # (384,) float32 vector of what the person said, if anything

    @property
    def liked(self) -> np.ndarray:
        """Indices of the liked items, oldest first."""
        return self.items[self.signs == LIKED]


@dataclass(frozen=True)
class Split:
    """A chronological leave-last-out split over one item universe; every model sees exactly this."""

    item_ids: tuple[str, ...]  # item index -> item id
    users: tuple[str, ...]  # evaluated users, aligned with the histories and targets below
    train: pd.DataFrame  # user, item (index), rating, timestamp, sign: everything before each validation positive
    valid_histories: tuple[History, ...]  # history before the validation positive
    valid_targets: np.ndarray  # (U,) int64 validation positive per user
    test_histories: tuple[History, ...]  # history before the test positive (includes the validation positive)
    test_targets: np.ndarray  # (U,) int64 test positive per user
    dropped: dict[str, int] = field(default_factory=dict)  # what was left out and why (counts)

    @property
    def n_items(self) -> int:
        """Size of the item universe."""
        return len(self.item_ids)


def clean_interactions(df: pd.DataFrame) -> CleanInteractions:
    """Validate raw interaction rows: missing columns fail; NaN/inf/out-of-range ratings are rejected and reported."""
    import pandas as pd

    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise CatalogError(
            f"the interactions table lacks the column(s) {', '.join(missing)}; "
            f"it needs {', '.join(COLUMNS)} (run `tastebud data build` to make the demo one)"
        )
    df = df.reset_index(drop=True)
    rating = pd.to_numeric(df["rating"], errors="coerce").astype("float64")
    ts = pd.to_numeric(df["timestamp"], errors="coerce")
    problems: list[RowProblem] = []
    bad = np.zeros(len(df), dtype=bool)
    checks = [
        ("rating", ~np.isfinite(rating.to_numpy()), "not a finite number (NaN or infinite)"),
        ("rating", np.isfinite(rating.to_numpy()) & ((rating < 0.0) | (rating > 5.0)).to_numpy(), "outside 0-5"),
        ("timestamp", ts.isna().to_numpy(), "not a number"),
        ("user", df["user"].isna().to_numpy() | (df["user"].astype(str).str.strip() == "").to_numpy(), "empty"),
        ("item", df["item"].isna().to_numpy() | (df["item"].astype(str).str.strip() == "").to_numpy(), "empty"),
    ]
    for name, mask, reason in checks:
        for row in np.flatnonzero(mask & ~bad):
            problems.append(RowProblem(int(row), name, reason))
        bad |= mask
    good = df.loc[~bad, list(COLUMNS)].copy()
    good["user"] = good["user"].astype(str)
    good["item"] = good["item"].astype(str)
    good["rating"] = rating[~bad].astype("float32")
    good["timestamp"] = ts[~bad].astype("int64")
    return CleanInteractions(good.reset_index(drop=True), tuple(problems))


def load_interactions(data_dir: Path) -> pd.DataFrame:
    """Read `interactions.parquet` from the data dir, validated; rejected rows are listed in `df.attrs["problems"]`."""
    import pandas as pd

    path = Path(data_dir) / "interactions.parquet"
    if not path.exists():
        raise CatalogError(f"no interactions in {data_dir}; run `tastebud data build` first")
    try:
        raw = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read {path}: {exc}; rebuild it with `tastebud data build --force`") from exc
    clean = clean_interactions(raw)
    clean.frame.attrs["problems"] = list(clean.problems)
    return clean.frame


def sign_of(rating: np.ndarray) -> np.ndarray:
    """Sign codes for ratings: LIKED (>= 4), DISLIKED (<= 2) or NEUTRAL."""
    rating = np.asarray(rating, dtype=np.float64)
    return np.where(rating >= POSITIVE_MIN, LIKED, np.where(rating <= NEGATIVE_MAX, DISLIKED, NEUTRAL)).astype(np.int8)


@dataclass
class _Cut:
    """Each evaluated user's validation and test histories and targets, and every user's training rows."""

    users: list[str] = field(default_factory=list)
    valid_h: list[History] = field(default_factory=list)
    test_h: list[History] = field(default_factory=list)
    valid_t: list[int] = field(default_factory=list)
    test_t: list[int] = field(default_factory=list)
    train_parts: list[pd.DataFrame] = field(default_factory=list)
    too_few: int = 0  # users with fewer than three positives (train only)
    future_rows: int = 0  # rows after a user's test positive (dropped)


def _ordered_frame(df: pd.DataFrame, item_ids: tuple[str, ...]) -> tuple[pd.DataFrame, dict[str, int]]:
    """The interactions of known items with item index and sign, ordered by user, time and a (user, item) hash."""
    import pandas as pd

    index = {item: i for i, item in enumerate(item_ids)}
    frame = df[list(COLUMNS)].copy()
    frame["item_idx"] = frame["item"].map(index)
    dropped = {"unknown_item_rows": int(frame["item_idx"].isna().sum())}
    frame = frame[frame["item_idx"].notna()].copy()
    frame["item_idx"] = frame["item_idx"].astype(np.int64)
    frame["sign"] = sign_of(frame["rating"].to_numpy())
    # Ties in time (MovieLens users often rate dozens of films within one second) get a fixed pseudo-random
    # order from a hash of (user, item): ordering them by id would plant an artificial sequence to learn.
    frame["tie"] = pd.util.hash_pandas_object(frame["user"].astype(str) + "|" + frame["item"].astype(str),
                                              index=False).to_numpy()
    frame = frame.sort_values(["user", "timestamp", "tie"], kind="mergesort").reset_index(drop=True)
    return frame, dropped


def _cut_users(frame: pd.DataFrame) -> _Cut:
    """Cut each user's ordered rows at the last two positives (users with fewer than three only train)."""
    cut = _Cut()
    for user, rows in frame.groupby("user", sort=True):
        items = rows["item_idx"].to_numpy(np.int64)
        signs = rows["sign"].to_numpy(np.int8)
        pos = np.flatnonzero(signs == LIKED)
        if len(pos) < 3:
            cut.too_few += 1
            cut.train_parts.append(rows)
            continue
        v, t = int(pos[-2]), int(pos[-1])
        cut.train_parts.append(rows.iloc[:v])
        cut.future_rows += len(rows) - t - 1
        cut.users.append(str(user))
        cut.valid_h.append(History(items[:v].copy(), signs[:v].copy()))
        cut.valid_t.append(int(items[v]))
        cut.test_h.append(History(items[:t].copy(), signs[:t].copy()))
        cut.test_t.append(int(items[t]))
    return cut


def leave_last_out(df: pd.DataFrame, item_ids: list[str] | tuple[str, ...] | None = None) -> Split:
    """Chronological leave-last-out per user: last positive -> test, the one before -> validation, the rest -> train.

    Ties in time are broken by a hash of (user, item) so the split is deterministic but carries no id order. Users with fewer than three positives
    cannot be evaluated; their interactions (before any cut) still train the models. Interactions after a user's
    test positive are dropped (they are the future). Items outside `item_ids` (default: every item seen) are dropped.
    """
    import pandas as pd

    if item_ids is None:
        item_ids = sorted(df["item"].astype(str).unique())
    item_ids = tuple(item_ids)
    frame, dropped = _ordered_frame(df, item_ids)
    cut = _cut_users(frame)
    dropped.update({"users_with_fewer_than_3_positives": cut.too_few, "rows_after_test_positive": cut.future_rows})
    train = pd.concat(cut.train_parts, ignore_index=True) if cut.train_parts else frame.iloc[:0]
    train = train[["user", "item_idx", "rating", "timestamp", "sign"]].rename(columns={"item_idx": "item"})
    return Split(
        item_ids=item_ids,
        users=tuple(cut.users),
        train=train.reset_index(drop=True),
        valid_histories=tuple(cut.valid_h),
        valid_targets=np.asarray(cut.valid_t, dtype=np.int64),
        test_histories=tuple(cut.test_h),
        test_targets=np.asarray(cut.test_t, dtype=np.int64),
        dropped=dropped,
    )


def train_sequences(split: Split) -> list[History]:
    """Each user's training interactions as one History, oldest first (for fitting models)."""
    out: list[History] = []
    for _, rows in split.train.groupby("user", sort=True):
        out.append(History(rows["item"].to_numpy(np.int64), rows["sign"].to_numpy(np.int8)))
    return out


def positive_matrix(split: Split):
    """Users x items CSR matrix of training positives (1.0), for the matrix-based baselines."""
    import scipy.sparse as sp

    pos = split.train[split.train["sign"] == LIKED]
    if len(pos) == 0:
        return sp.csr_matrix((0, split.n_items), dtype=np.float32)
    user_codes, rows = np.unique(pos["user"].to_numpy(), return_inverse=True)
    mat = sp.csr_matrix(
        (np.ones(len(pos), dtype=np.float32), (rows, pos["item"].to_numpy())),
        shape=(len(user_codes), split.n_items),
    )
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat


def item_popularity(split: Split) -> np.ndarray:
    """(N,) count of training positives per item."""
    pos = split.train[split.train["sign"] == LIKED]["item"].to_numpy()
    return np.bincount(pos, minlength=split.n_items).astype(np.float64)


def split_fingerprint(split: Split) -> str:
    """sha256 over the split's training rows and targets (to reuse a checkpoint trained on the same split)."""
    h = hashlib.sha256()
    h.update("\n".join(split.item_ids).encode())
    for col in ("item", "timestamp", "sign"):
        h.update(np.ascontiguousarray(split.train[col].to_numpy()).tobytes())
    h.update(split.valid_targets.tobytes())
    h.update(split.test_targets.tobytes())
    return h.hexdigest()


def cold_history(history: History, k: int, recent: bool = False) -> History:
    """Only the first (or, with `recent`, the latest) k liked items of a history."""
    liked = history.liked[-k:] if recent else history.liked[:k]
    return History(liked.copy(), np.full(len(liked), LIKED, np.int8))
