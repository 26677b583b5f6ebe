"""The demo catalog: MovieLens ml-latest-small ratings joined with Wikidata and TMDB film facts and plot summaries.

The inputs are located and read by `retrieval.demo_inputs`, titles parsed by `retrieval.demo_titles` and matched
by `retrieval.film_matcher`; this module joins them into catalog.jsonl, catalog.meta.json and
interactions.parquet. Each movie is matched to Wikidata (1940-2014) and to TMDB 5000 (1916-2017) alike: Wikidata's
facts come first and TMDB fills what they lack; TMDB's billing order ranks the cast (Wikidata lists it
alphabetically); the plot is the Rotten Tomatoes summary where there is one, else TMDB's overview. What both leave
empty, three small fill-only tables fill where they have the film (`retrieval.classic_films`: Wikipedia leads, the
Cannes competition, the acting Oscars), never overriding a fact of theirs.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from retrieval.catalog import catalog_hash, read_meta, write_atomically, write_catalog
from retrieval.classic_films import (
    ClassicFilm,
    count_sources,
    describe_fills,
    fill_empty_facts,
    load_classic_films,
    matched_films,
    sheet_is_empty,
)
from retrieval.demo_inputs import (
    CANNES_DOWNLOAD,
    CANNES_MEMBER,
    LEADS_DOWNLOAD,
    LEADS_MEMBER,
    TMDB_CREDITS,
    TMDB_DOWNLOAD,
    TMDB_MOVIES,
    DemoSources,
    TmdbFilm,
    WikiFilm,
    load_movielens,
    load_plots,
    load_tmdb_films,
    load_wikidata_films,
    locate_sources,
    package_versions,
)
from retrieval.demo_titles import ParsedTitle, parse_movielens_title, title_variants
from retrieval.film_matcher import FilmMatcher, FilmT
from retrieval.errors import CatalogError
from retrieval.text import fold
from retrieval.types import Item
from retrieval.wheels import read_wheel_member

if TYPE_CHECKING:
    import pandas as pd

SOURCE = "demo"  # the catalog meta's source: the films demo built it (tastebud setup may rebuild it)
# Bump when the join or the item fields change, so existing demo catalogs are rebuilt.
# 4: an old film's cast in the order its leads are billed elsewhere; 5: empty facts filled from Wikipedia leads, the
# Cannes competition and the acting Oscars (1,275 films had an empty fact sheet, mostly 1920s-30s classics)
BUILD_VERSION = 5
INTERACTIONS_FILE = "interactions.parquet"
MAX_CAST = 6
LEAD_BILLING = 3  # billed in the first three places of a TMDB film: a lead
BIT_BILLING = 7  # never billed in the first seven places of any TMDB film: an extra
# The Rotten Tomatoes plot corpus covers films released in these years; plots attach only to them.
PLOT_YEARS = (2001, 2004)


@dataclass(frozen=True)
class BuildReport:
    """What `build_demo_catalog` produced, with the Wikidata and TMDB coverage figures."""

    data_dir: Path
    n_items: int
    n_ratings: int
    n_users: int
    coverage_movies: float  # share of catalog movies that got Wikidata facts
    coverage_ratings: float  # share of ratings whose movie got Wikidata facts
    n_plots: int  # movies with a plot summary (Rotten Tomatoes or TMDB)
    match_methods: dict[str, int] = field(default_factory=dict)
    skipped: bool = False  # True when the catalog was already built from the same inputs
    seconds: float = 0.0
    tmdb_movies: int = 0  # catalog movies matched to a TMDB film
    tmdb_plots: int = 0  # plots that are TMDB overviews (the movie had no Rotten Tomatoes plot)
    with_director: int = 0  # movies that name a director (from either source)
    with_cast: int = 0  # movies that name a lead
    # empty fact sheets (no director, cast, awards or plot from Wikidata and TMDB) that each fill-only source filled
    # ('any': at least one did; see retrieval.classic_films), and the sheets still empty after them
    classic_fills: dict[str, int] = field(default_factory=dict)
    empty_sheets: int = 0

    def __str__(self) -> str:
        """A short human summary."""
        head = "demo catalog already up to date" if self.skipped else f"demo catalog built in {self.seconds:.1f} s"
        return (
            f"{head} ({self.data_dir}): {self.n_items:,} movies, {self.n_ratings:,} ratings by {self.n_users:,} users; "
            f"Wikidata facts for {self.coverage_movies:.1%} of movies and {self.coverage_ratings:.1%} of ratings; "
            f"TMDB facts for {self.tmdb_movies:,} movies; a director for {self.with_director:,}, a lead for "
            f"{self.with_cast:,}; {self.n_plots:,} plot summaries ({self.tmdb_plots:,} from TMDB); "
            f"{describe_fills(self.classic_fills, self.empty_sheets)}"
        )


def input_fingerprint(sources: DemoSources) -> str:
    """sha256 over the input files' bytes (the data files inside their wheels) and the build version: equal
    fingerprints give equal catalogs."""
    digest = hashlib.sha256(f"build-version:{BUILD_VERSION}\n".encode())

    def add(name: str, fh: IO[bytes]) -> None:
        """Hash one input's name and bytes."""
        digest.update(name.encode() + b"\0")
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)

    for path in (sources.movielens, sources.wikidata, sources.plots, sources.oscars):
        if path is not None:
            with path.open("rb") as fh:
                add(path.name, fh)
    wheels = [(sources.tmdb, TMDB_MOVIES, TMDB_DOWNLOAD), (sources.tmdb, TMDB_CREDITS, TMDB_DOWNLOAD),
              (sources.leads, LEADS_MEMBER, LEADS_DOWNLOAD), (sources.cannes, CANNES_MEMBER, CANNES_DOWNLOAD)]
    for wheel, member, download in wheels:
        if wheel is not None:
            read_wheel_member(wheel, member, download, lambda fh, name=member: add(name, fh))
    return digest.hexdigest()


# ---------------------------------------------------------------- the join, step by step
@dataclass(frozen=True)
class CastRanks:
    """What ranks a cast without billing: how many Wikidata films each actor is in, and the best place each is billed
    in any TMDB film (names folded)."""

    fame: Counter[str]
    best_billed: Mapping[str, int]

    def tier(self, name: str) -> int:
        """0: billed as a lead somewhere; 2: billed only far down (an extra: Bess Flowers, in 64 Wikidata films and at
        best 8th in TMDB's, stood first in Vertigo's cast); 1: unknown."""
        best = self.best_billed.get(fold(name))
        return 1 if best is None else 0 if best < LEAD_BILLING else 2 if best >= BIT_BILLING else 1


def cast_ranks(films: Sequence[WikiFilm], tmdb_films: Sequence[TmdbFilm]) -> CastRanks:
    """The cast ranks of the Wikidata and TMDB tables."""
    best: dict[str, int] = {}
    for film in tmdb_films:
        for place, name in enumerate(film.cast):
            key = fold(name)
            best[key] = min(best.get(key, place), place)
    return CastRanks(Counter(name for film in films for name in film.cast), best)


def _order_cast(cast: tuple[str, ...], ranks: CastRanks, plot: str | None,
                billing: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Up to MAX_CAST names: those TMDB bills, in its billing order; then those the plot mentions; then those billed
    as a lead in another TMDB film, before those never billed near the top; then the most prolific in the Wikidata
    table.

    Wikidata gives cast alphabetically with no billing order; TMDB's billing (names compared folded: accents and
    case aside) is the real one where TMDB has the film; elsewhere how actors are billed in other films, then how
    many films an actor appears in, are the best proxies.
    """
    text = plot or ""
    billed: dict[str, int] = {}
    for rank, name in enumerate(billing):
        billed.setdefault(fold(name), rank)
    unbilled = len(billing)
    return tuple(sorted(cast, key=lambda name: (billed.get(fold(name), unbilled), name not in text, ranks.tier(name),
                                                -ranks.fame[name], name))[:MAX_CAST])


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
        tmdb_movies=int(cov.get("tmdb_movies", 0)),
        tmdb_plots=int(cov.get("plots_tmdb", 0)),
        with_director=int(cov.get("with_director", 0)),
        with_cast=int(cov.get("with_cast", 0)),
        classic_fills=dict(cov.get("classic_fills", {})),
        empty_sheets=int(cov.get("empty_sheets", 0)),
    )


@dataclass
class _Join:
    """The joined items and the tallies the coverage figures come from."""

    items: list[Item] = field(default_factory=list)
    methods: Counter[str] = field(default_factory=Counter)  # how each movie was matched ('none': not at all)
    # the same for TMDB; 'conflict': not Wikidata's film, 'taken': another movie's exact match (see _match_tmdb)
    tmdb_methods: Counter[str] = field(default_factory=Counter)
    matched_ratings: int = 0  # ratings of movies that got Wikidata facts
    tmdb_ratings: int = 0  # ratings of movies that got TMDB facts
    n_plots: int = 0  # movies with a plot (any source)
    n_tmdb_plots: int = 0  # of which TMDB overviews
    classic_fills: dict[str, int] = field(default_factory=dict)  # empty sheets each fill-only source filled
    empty_sheets: int = 0  # sheets still empty after them


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


def _same_film(film: WikiFilm, tmdb: TmdbFilm) -> bool:
    """False when Wikidata and TMDB name different directors (no surname in common, accents and case aside).

    Asked only of a TMDB match found by a looser tier than the exact title and year, where it meets another film
    of a like name: Wikidata's "The Island" of 2006 (Pavel Lungin) and TMDB's of 2005 (Michael Bay); "The
    Disappearance of Eleanor Rigby: Her" and "Her". On exact matches the two sources spell one director apart too
    often ("Bouseman"/"Bousman", "Kim Ji-woon"/"Kim Jee-woon") to tell films apart. True when either lacks directors.
    """
    def surnames(names: tuple[str, ...]) -> set[str]:
        """The folded last word of each name."""
        return {fold(name).split()[-1] for name in names if name.split()}

    return not (film.directors and tmdb.directors) or bool(surnames(film.directors) & surnames(tmdb.directors))


def _tmdb_facts(tmdb: TmdbFilm) -> dict[str, Any]:
    """The facts TMDB gives an item: runtime, people (the cast in billing order), languages, countries."""
    return dict(runtime_min=tmdb.runtime_min, directors=tmdb.directors, cast=tmdb.cast[:MAX_CAST],
                writers=tmdb.writers, languages=tmdb.languages, countries=tmdb.countries)


def _film_facts(film: WikiFilm | None, tmdb: TmdbFilm | None, plot: str | None,
                ranks: CastRanks) -> dict[str, Any]:
    """The item's film facts: Wikidata's, with what they lack filled from TMDB and the cast in TMDB's billing order;
    TMDB's alone for a film Wikidata lacks; none without either."""
    if film is None:
        return {} if tmdb is None else _tmdb_facts(tmdb)
    facts: dict[str, Any] = dict(
        runtime_min=film.runtime_min, age_rating=film.age_rating, directors=film.directors,
        cast=_order_cast(film.cast, ranks, plot, tmdb.cast if tmdb else ()), writers=film.writers,
        languages=film.languages, countries=film.countries, awards=film.awards,
    )
    if tmdb is not None:
        facts.update({name: value for name, value in _tmdb_facts(tmdb).items() if not facts[name]})
    return facts


def _demo_item(movie_id: int, row: Any, parsed: ParsedTitle, facts: dict[str, Any], plot: str | None) -> Item:
    """The catalog item of one MovieLens movie, with its film facts (see `_film_facts`) and plot."""
    genres = tuple(g for g in str(row["genres"]).split("|") if g and g != "(no genres listed)")
    attributes: tuple[tuple[str, Any], ...] = ()
    if parsed.alternates:
        attributes = (("original_title", " / ".join(parsed.alternates)),)
    return Item(
        id=f"ml:{movie_id}", title=parsed.display, year=_year_of(row["year"]), genres=genres, plot=plot,
        n_ratings=int(row["count"]), mean_rating=round(float(row["mean"]), 3), attributes=attributes,
        **facts,
    )


def _match_films(movies: pd.DataFrame, parsed_by_id: dict[int, ParsedTitle],
                 films: list[FilmT]) -> dict[int, tuple[FilmT | None, str]]:
    """Every movie's film of one table (TMDB's, a fill-only one) and how it was found, by the same FilmMatcher tiers
    as Wikidata's.

    A film one movie matches exactly (title and year) is no other movie's by a looser tier: "Watchmen: Tales of the
    Black Freighter" is not "Watchmen", which MovieLens holds too ('taken').
    """
    matcher = FilmMatcher(films)
    found = {movie_id: matcher.match(parsed_by_id[int(movie_id)], _year_of(row["year"]))
             for movie_id, row in movies.iterrows()}
    exact = {id(film) for film, method in found.values() if film is not None and method == "exact"}
    return {int(movie_id): (None, "taken") if method != "exact" and id(film) in exact else (film, method)
            for movie_id, (film, method) in found.items()}


def _fill_classics(out: _Join, facts: dict[str, Any], plot: str | None,
                   films: list[tuple[str, ClassicFilm]]) -> str | None:
    """Fill the empty facts (and an absent plot) from the movie's fill-only films, tallying the empty sheets each
    source filled; the plot."""
    empty = sheet_is_empty(facts, plot)
    plot, fillers = fill_empty_facts(facts, plot, films, MAX_CAST)
    if empty:
        count_sources(fillers, out.classic_fills)
        out.empty_sheets += sheet_is_empty(facts, plot)
    return plot


def _join(movies: pd.DataFrame, parsed_by_id: dict[int, ParsedTitle], plot_of: dict[int, str],
          films: list[WikiFilm], tmdb_films: list[TmdbFilm], classics: dict[str, list[ClassicFilm]],
          progress: bool) -> _Join:
    """Match every movie to its Wikidata film, its TMDB film and its fill-only films, and make its catalog item."""
    from tqdm import tqdm

    matcher = FilmMatcher(films)
    tmdb_of = _match_films(movies, parsed_by_id, tmdb_films)
    classic_of = {source: _match_films(movies, parsed_by_id, table) for source, table in classics.items()}
    ranks = cast_ranks(films, tmdb_films)
    out = _Join(classic_fills=dict.fromkeys(classics, 0))
    for movie_id, row in tqdm(movies.iterrows(), total=len(movies), desc="joining films", unit="movie",
                              disable=not progress, leave=False):
        parsed = parsed_by_id[int(movie_id)]
        film, method = matcher.match(parsed, _year_of(row["year"]))
        tmdb, tmdb_method = tmdb_of[int(movie_id)]
        if film is not None and tmdb is not None and tmdb_method != "exact" and not _same_film(film, tmdb):
            tmdb, tmdb_method = None, "conflict"  # two different films: Wikidata's is kept, as before
        out.methods[method] += 1
        out.tmdb_methods[tmdb_method] += 1
        plot = plot_of.get(int(movie_id))
        if plot is None and tmdb is not None and tmdb.plot:
            plot = tmdb.plot
            out.n_tmdb_plots += 1
        facts = _film_facts(film, tmdb, plot, ranks)
        plot = _fill_classics(out, facts, plot, matched_films(classic_of, int(movie_id)))
        out.n_plots += plot is not None
        out.matched_ratings += int(row["count"]) if film is not None else 0
        out.tmdb_ratings += int(row["count"]) if tmdb is not None else 0
        out.items.append(_demo_item(int(movie_id), row, parsed, facts, plot))
    return out


def _coverage(join: _Join, ratings: pd.DataFrame, dropped: dict[str, int]) -> dict[str, Any]:
    """The coverage figures recorded in the catalog's meta (and printed by `tastebud data build`)."""
    n_matched = len(join.items) - join.methods["none"]
    n_tmdb = len(join.items) - sum(join.tmdb_methods[m] for m in ("none", "conflict", "taken"))
    return {
        "movies": round(n_matched / max(1, len(join.items)), 4),
        "ratings": round(join.matched_ratings / max(1, len(ratings)), 4),
        "matched_movies": n_matched,
        "n_ratings": int(len(ratings)),
        "n_users": int(ratings["userId"].nunique()),
        "plots": join.n_plots,
        "plots_tmdb": join.n_tmdb_plots,
        "methods": dict(join.methods),
        "tmdb_movies": n_tmdb,
        "tmdb_share": round(n_tmdb / max(1, len(join.items)), 4),
        "tmdb_ratings": round(join.tmdb_ratings / max(1, len(ratings)), 4),
        "tmdb_methods": dict(join.tmdb_methods),
        "with_director": sum(bool(item.directors) for item in join.items),
        "with_cast": sum(bool(item.cast) for item in join.items),
        "classic_fills": dict(join.classic_fills),
        "empty_sheets": join.empty_sheets,
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
def build_demo_catalog(data_dir: Path, force: bool = False, progress: bool = True,
                       sources: DemoSources | None = None) -> BuildReport:
    """Build catalog.jsonl, catalog.meta.json and interactions.parquet from the packaged data (idempotent)."""
    started = time.perf_counter()
    data_dir = Path(data_dir)
    sources = sources or locate_sources()
    fingerprint = input_fingerprint(sources)
    if not force and _up_to_date(data_dir, fingerprint):
        return _report_from_meta(data_dir, read_meta(data_dir), time.perf_counter() - started)

    ratings, dropped = _titled_ratings(sources)
    films = load_wikidata_films(sources.wikidata)
    tmdb_films = load_tmdb_films(sources.tmdb)
    classics = load_classic_films(sources.leads, sources.cannes, sources.oscars)
    plots = load_plots(sources.plots)
    movies = _movie_table(ratings)
    parsed_by_id, plot_of = _assign_plots(movies, plots)
    join = _join(movies, parsed_by_id, plot_of, films, tmdb_films, classics, progress)
    coverage = _coverage(join, ratings, dropped)

    _write_interactions(data_dir, ratings)
    meta = {"source": SOURCE, "inputs": fingerprint, "build_version": BUILD_VERSION,
            "packages": package_versions(), "coverage": coverage}
    write_catalog(data_dir, join.items, meta)  # last: its meta marks the build complete
    return BuildReport(
        data_dir=data_dir, n_items=len(join.items), n_ratings=int(len(ratings)), n_users=coverage["n_users"],
        coverage_movies=coverage["movies"], coverage_ratings=coverage["ratings"], n_plots=join.n_plots,
        match_methods=dict(join.methods), skipped=False, seconds=time.perf_counter() - started,
        tmdb_movies=coverage["tmdb_movies"], tmdb_plots=join.n_tmdb_plots, with_director=coverage["with_director"],
        with_cast=coverage["with_cast"], classic_fills=coverage["classic_fills"], empty_sheets=join.empty_sheets,
    )
