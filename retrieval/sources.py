"""The demo catalog: MovieLens ml-latest-small ratings joined with Wikidata film facts and real plot summaries.

The inputs are located and read by `retrieval.demo_inputs`, titles parsed by `retrieval.demo_titles` and matched
by `retrieval.film_matcher`; this module joins them into catalog.jsonl, catalog.meta.json and
interactions.parquet.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.catalog import catalog_hash, read_meta, write_atomically, write_catalog
from retrieval.demo_inputs import (
    DemoSources,
    WikiFilm,
    load_movielens,
    load_plots,
    load_wikidata_films,
    locate_sources,
    package_versions,
)
from retrieval.demo_titles import ParsedTitle, parse_movielens_title, title_variants
from retrieval.film_matcher import FilmMatcher
from retrieval.errors import CatalogError
from retrieval.types import Item

if TYPE_CHECKING:
    import pandas as pd

SOURCE = "demo"  # the catalog meta's source: the films demo built it (tastebud setup may rebuild it)
# Bump when the join or the item fields change, so existing demo catalogs are rebuilt.
BUILD_VERSION = 2
INTERACTIONS_FILE = "interactions.parquet"
MAX_CAST = 6
# The Rotten Tomatoes plot corpus covers films released in these years; plots attach only to them.
PLOT_YEARS = (2001, 2004)


@dataclass(frozen=True)
class BuildReport:
    """What `build_demo_catalog` produced, with the Wikidata coverage figures."""

    data_dir: Path
    n_items: int
    n_ratings: int
    n_users: int
    coverage_movies: float  # share of catalog movies that got Wikidata facts
    coverage_ratings: float  # share of ratings whose movie got Wikidata facts
    n_plots: int
    match_methods: dict[str, int] = field(default_factory=dict)
    skipped: bool = False  # True when the catalog was already built from the same inputs
    seconds: float = 0.0

    def __str__(self) -> str:
        """A short human summary."""
        head = "demo catalog already up to date" if self.skipped else f"demo catalog built in {self.seconds:.1f} s"
        return (
            f"{head} ({self.data_dir}): {self.n_items:,} movies, {self.n_ratings:,} ratings by {self.n_users:,} users; "
            f"Wikidata facts for {self.coverage_movies:.1%} of movies and {self.coverage_ratings:.1%} of ratings; "
            f"{self.n_plots:,} plot summaries"
        )


def input_fingerprint(sources: DemoSources) -> str:
    """sha256 over the input files' bytes and the build version: equal fingerprints give equal catalogs."""
    digest = hashlib.sha256(f"build-version:{BUILD_VERSION}\n".encode())
    for path in (sources.movielens, sources.wikidata, sources.plots):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- the join, step by step
def _order_cast(cast: tuple[str, ...], fame: Counter[str], plot: str | None) -> tuple[str, ...]:
    """Up to MAX_CAST names: those the plot mentions first, then the most prolific in the Wikidata table.

    Wikidata gives cast alphabetically with no billing order; how many films an actor appears in is the
    best proxy for "top billed" this data offers.
    """
    text = plot or ""
    return tuple(sorted(cast, key=lambda name: (name not in text, -fame[name], name))[:MAX_CAST])


def _year_of(value: Any) -> int | None:
    """A MovieLens year (a float, NaN when unknown) as an int or None."""
    if isinstance(value, (int, float)) and not math.isnan(value):
        return int(value)
    return None


def _up_to_date(data_dir: Path, fingerprint: str) -> bool:
    """True when the data dir holds a demo catalog built from these exact inputs, untouched since."""
    meta = read_meta(data_dir)
    if meta.get("source") != SOURCE or meta.get("inputs") != fingerprint:
        return False
    if not (data_dir / INTERACTIONS_FILE).is_file():
        return False
    try:
        return catalog_hash(data_dir) == meta.get("hash")
    except CatalogError:
        return False


def _report_from_meta(data_dir: Path, meta: dict[str, Any], seconds: float) -> BuildReport:
    """A BuildReport for a catalog that is already built."""
    cov = meta.get("coverage", {})
    return BuildReport(
        data_dir=data_dir,
        n_items=int(meta.get("n_items", 0)),
        n_ratings=int(cov.get("n_ratings", 0)),
        n_users=int(cov.get("n_users", 0)),
        coverage_movies=float(cov.get("movies", 0.0)),
        coverage_ratings=float(cov.get("ratings", 0.0)),
        n_plots=int(cov.get("plots", 0)),
        match_methods=dict(cov.get("methods", {})),
        skipped=True,
        seconds=seconds,
    )


@dataclass
class _Join:
    """The joined items and the tallies the coverage figures come from."""

    items: list[Item] = field(default_factory=list)
    methods: Counter[str] = field(default_factory=Counter)  # how each movie was matched ('none': not at all)
    matched_ratings: int = 0  # ratings of movies that got Wikidata facts
    n_plots: int = 0


def _titled_ratings(sources: DemoSources) -> tuple[pd.DataFrame, dict[str, int]]:
    """The MovieLens ratings of movies that have a title, and what was dropped for lack of one."""
    ratings = load_movielens(sources.movielens)
    untitled = ratings["title"].isna() | ~ratings["title"].map(lambda t: isinstance(t, str) and bool(t.strip()))
    dropped = {"movies": int(ratings.loc[untitled, "movieId"].nunique()), "ratings": int(untitled.sum())}
    ratings = ratings.loc[~untitled]  # a handful of movies come without any title: nothing to show a person
    return ratings, dropped


def _movie_table(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per movie (title, year, genres, rating count and mean), by movieId."""
    stats = ratings.groupby("movieId")["rating"].agg(["count", "mean"])
    movies = ratings.drop_duplicates("movieId").set_index("movieId")[["title", "year", "genres"]]
    return movies.join(stats).sort_index()


def _assign_plots(movies: pd.DataFrame, plots: dict[str, str]) -> tuple[dict[int, ParsedTitle], dict[int, str]]:
    """Every movie's parsed title, and the plot summary of each movie that gets one."""
    plot_owner: dict[str, int] = {}
    parsed_by_id: dict[int, ParsedTitle] = {}
    for movie_id, row in movies.iterrows():
        parsed_by_id[int(movie_id)] = parsed = parse_movielens_title(row["title"])
        year = _year_of(row["year"])
        if year is None or not PLOT_YEARS[0] <= year <= PLOT_YEARS[1]:
            continue  # the corpus reviews films of 2001-2004; an older film of the same name is another film
        for key in title_variants(parsed)[:1]:
            if key in plots:  # a plot title shared by several MovieLens movies goes to the most rated one
                other = plot_owner.get(key)
                if other is None or movies.at[other, "count"] < row["count"]:
                    plot_owner[key] = int(movie_id)
    return parsed_by_id, {movie_id: plots[key] for key, movie_id in plot_owner.items()}


def _demo_item(movie_id: int, row: Any, parsed: ParsedTitle, film: WikiFilm | None, plot: str | None,
               fame: Counter[str]) -> Item:
    """The catalog item of one MovieLens movie, with the facts of its Wikidata film when it has one."""
    genres = tuple(g for g in str(row["genres"]).split("|") if g and g != "(no genres listed)")
    attributes: tuple[tuple[str, Any], ...] = ()
    if parsed.alternates:
        attributes = (("original_title", " / ".join(parsed.alternates)),)
    facts: dict[str, Any] = {}
    if film is not None:
        facts = dict(
            runtime_min=film.runtime_min, age_rating=film.age_rating, directors=film.directors,
            cast=_order_cast(film.cast, fame, plot), writers=film.writers, languages=film.languages,
            countries=film.countries, awards=film.awards,
        )
    return Item(
        id=f"ml:{movie_id}", title=parsed.display, year=_year_of(row["year"]), genres=genres, plot=plot,
        n_ratings=int(row["count"]), mean_rating=round(float(row["mean"]), 3), attributes=attributes,
        **facts,
    )


def _join(movies: pd.DataFrame, parsed_by_id: dict[int, ParsedTitle], plot_of: dict[int, str],
          films: list[WikiFilm], progress: bool) -> _Join:
    """Match every movie to its Wikidata film and make its catalog item."""
    from tqdm import tqdm

    matcher = FilmMatcher(films)
    fame: Counter[str] = Counter(name for film in films for name in film.cast)
    out = _Join()
    for movie_id, row in tqdm(movies.iterrows(), total=len(movies), desc="joining films", unit="movie",
                              disable=not progress, leave=False):
        parsed = parsed_by_id[int(movie_id)]
        film, method = matcher.match(parsed, _year_of(row["year"]))
        out.methods[method] += 1
        plot = plot_of.get(int(movie_id))
        out.n_plots += plot is not None
        if film is not None:
            out.matched_ratings += int(row["count"])
        out.items.append(_demo_item(int(movie_id), row, parsed, film, plot, fame))
    return out


def _coverage(join: _Join, ratings: pd.DataFrame, dropped: dict[str, int]) -> dict[str, Any]:
    """The coverage figures recorded in the catalog's meta (and printed by `tastebud data build`)."""
    n_matched = len(join.items) - join.methods["none"]
    return {
        "movies": round(n_matched / max(1, len(join.items)), 4),
        "ratings": round(join.matched_ratings / max(1, len(ratings)), 4),
        "matched_movies": n_matched,
        "n_ratings": int(len(ratings)),
        "n_users": int(ratings["userId"].nunique()),
        "plots": join.n_plots,
        "methods": dict(join.methods),
        "dropped_untitled": dropped,
    }


def _write_interactions(data_dir: Path, ratings: pd.DataFrame) -> None:
    """Write interactions.parquet (user, item, rating, timestamp) atomically."""
    import numpy as np
    import pandas as pd

    interactions = pd.DataFrame({
        "user": "ml-user:" + ratings["userId"].astype("int64").astype(str),
        "item": "ml:" + ratings["movieId"].astype("int64").astype(str),
        "rating": ratings["rating"].astype(np.float32),
        "timestamp": ratings["timestamp"].astype(np.int64),
    }).reset_index(drop=True)
    buffer = io.BytesIO()
    interactions.to_parquet(buffer, index=False)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(data_dir / INTERACTIONS_FILE, buffer.getvalue())
    except OSError as exc:
        raise CatalogError(f"cannot write {data_dir / INTERACTIONS_FILE}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------- the build
def build_demo_catalog(data_dir: Path, force: bool = False, progress: bool = True) -> BuildReport:
    """Build catalog.jsonl, catalog.meta.json and interactions.parquet from the packaged data (idempotent)."""
    started = time.perf_counter()
    data_dir = Path(data_dir)
    sources = locate_sources()
    fingerprint = input_fingerprint(sources)
    if not force and _up_to_date(data_dir, fingerprint):
        return _report_from_meta(data_dir, read_meta(data_dir), time.perf_counter() - started)

    ratings, dropped = _titled_ratings(sources)
    films = load_wikidata_films(sources.wikidata)
    plots = load_plots(sources.plots)
    movies = _movie_table(ratings)
    parsed_by_id, plot_of = _assign_plots(movies, plots)
    join = _join(movies, parsed_by_id, plot_of, films, progress)
    coverage = _coverage(join, ratings, dropped)

    _write_interactions(data_dir, ratings)
    meta = {"source": SOURCE, "inputs": fingerprint, "build_version": BUILD_VERSION,
            "packages": package_versions(), "coverage": coverage}
    write_catalog(data_dir, join.items, meta)  # last: its meta marks the build complete
    return BuildReport(
        data_dir=data_dir, n_items=len(join.items), n_ratings=int(len(ratings)), n_users=coverage["n_users"],
        coverage_movies=coverage["movies"], coverage_ratings=coverage["ratings"], n_plots=join.n_plots,
        match_methods=dict(join.methods), skipped=False, seconds=time.perf_counter() - started,
    )
