"""The demo catalog: real MovieLens + Wikidata + TMDB + plot data from the installed packages and the wheels (TMDB,
the fill-only Wikipedia leads and Cannes films), joined and written."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pandas as pd
import pytest

from chatbot.doors.cli import main
from retrieval.catalog import catalog_hash, load_catalog, read_meta
from retrieval.classic_films import load_lead_films
from retrieval.demo_inputs import WikiFilm, locate_sources, normalise_mpaa
from retrieval.demo_titles import ParsedTitle, parse_movielens_title
from retrieval.demo_titles import join_key as title_key
from retrieval.film_matcher import FilmMatcher
from retrieval.sources import build_demo_catalog
from retrieval.types import AGE_RATINGS, GENRES
from retrieval.errors import CatalogError


# ---------------------------------------------------------------- titles and ratings (fast, pure)
@pytest.mark.parametrize(
    ("raw", "display", "alternates"),
    [
        ("Usual Suspects, The", "The Usual Suspects", ()),
        ("Usual Suspects, The (1995)", "The Usual Suspects", ()),
        ("City of Lost Children, The (Cité des enfants perdus, La)", "The City of Lost Children",
         ("La Cité des enfants perdus",)),
        ("Seven (a.k.a. Se7en)", "Seven", ("Se7en",)),
        ("Léon: The Professional (a.k.a. The Professional) (Léon)", "Léon: The Professional",
         ("The Professional", "Léon")),
        ("Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il)", "The Good, the Bad and the Ugly",
         ("Il Buono, il brutto, il cattivo",)),
        ("(500) Days of Summer", "(500) Days of Summer", ()),
        ("Crouching Tiger, Hidden Dragon (Wo hu cang long)", "Crouching Tiger, Hidden Dragon", ("Wo hu cang long",)),
        ("Amelie (Fabuleux destin d'Amélie Poulain, Le)", "Amelie", ("Le Fabuleux destin d'Amélie Poulain",)),
    ],
)
def test_movielens_titles_become_display_titles(raw: str, display: str, alternates: tuple[str, ...]) -> None:
    assert parse_movielens_title(raw) == ParsedTitle(display, alternates)


def test_title_key_ignores_articles_accents_punctuation_and_ampersand() -> None:
    assert title_key("The Usual Suspects") == title_key("Usual Suspects") == "usual suspects"
    assert title_key("Amélie") == title_key("AMELIE")
    assert title_key("Dumb & Dumber") == title_key("Dumb and Dumber")
    assert title_key("La Haine") == title_key("Haine")
    assert title_key("A Bug's Life") == "bugs life"
    assert title_key("Kill Bill: Vol. 1") == title_key("Kill Bill: Volume 1") != title_key("Kill Bill: Vol. 2")
    assert title_key("Volver") == "volver"
    # MovieLens writes "1/3" where TMDB writes "⅓": the same film, not "331 3"
    assert title_key("The Naked Gun 33⅓: The Final Insult") == title_key("Naked Gun 33 1/3: The Final Insult")
    assert title_key("8½") == title_key("8 1/2") != title_key("81/2")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("G", "G"), ("PG-13", "PG-13"), ("M", "PG"), ("GP", "PG"), ("M/PG", "PG"), ("X", "NC-17"),
     ("Approved", None), ("Not Rated", None), ("TV-MA", None), (None, None)],
)
def test_mpaa_ratings_map_onto_our_scale(raw: str | None, expected: str | None) -> None:
    assert normalise_mpaa(raw) == expected


def _film(title: str, year: int) -> WikiFilm:
    """A bare Wikidata film for matcher tests."""
    return WikiFilm(title=title, year=year, runtime_min=None, age_rating=None, directors=(), writers=(), cast=(),
                    languages=(), countries=(), awards=None)


def test_matcher_prefers_exact_year_then_near_year_and_never_a_sequel() -> None:
    matcher = FilmMatcher([
        _film("The Producers", 1967), _film("The Producers", 2005), _film("Paranormal Activity 2", 2010),
        _film("Wallace & Gromit: The Curse of the Were-Rabbit", 2005), _film("The Wrong Trousers", 1993),
        _film("Christmas Carol: The Movie", 2001),
    ])

    def found(raw: str, year: int) -> tuple[str | None, str]:
        """The matched title (or None) and the method."""
        film, method = matcher.match(parse_movielens_title(raw), year)
        return (film.title if film else None, method)

    assert found("Producers, The", 2005) == ("The Producers", "exact")
    assert matcher.match(parse_movielens_title("Producers, The"), 1968)[0].year == 1967  # year ±1
    assert found("Paranormal Activity", 2009) == (None, "none")  # fuzzy must not take the sequel
    assert found("Wallace & Gromit in The Curse of the Were-Rabbit", 2005)[1] == "fuzzy"
    assert found("Wallace & Gromit: The Wrong Trousers", 1993) == ("The Wrong Trousers", "loose")
    assert found("Cowboy Bebop: The Movie", 2001) == (None, "none")  # "The Movie" alone is no evidence


def test_missing_data_package_names_the_pip_package(monkeypatch, data_dir: Path) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "bokeh_sampledata" else real_find_spec(name, *a))
    with pytest.raises(CatalogError, match=r"pip install bokeh-sampledata==2026\.1"):
        build_demo_catalog(data_dir, progress=False)
    assert not (data_dir / "catalog.jsonl").exists()


# ---------------------------------------------------------------- the real build (slow: the real packaged data)
@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real demo catalog, built once for this module (about 10 s)."""
    d = tmp_path_factory.mktemp("demo-catalog")
    build_demo_catalog(d, progress=False)
    return d


@pytest.fixture(scope="module")
def demo_items(demo_dir: Path) -> dict:
    """The demo catalog's items by id."""
    return {item.id: item for item in load_catalog(demo_dir)}


@pytest.mark.slow
def test_demo_coverage_of_ratings_with_wikidata_facts(demo_dir: Path) -> None:
    coverage = read_meta(demo_dir)["coverage"]
    assert coverage["ratings"] >= 0.92
    assert coverage["movies"] >= 0.80
    assert coverage["plots"] >= 3000  # TMDB's overviews beside the ~240 Rotten Tomatoes plots
    assert coverage["tmdb_movies"] >= 3000


@pytest.mark.slow
def test_demo_items_have_display_titles_and_known_facts(demo_items: dict) -> None:
    assert len(demo_items) == 9061
    assert demo_items["ml:50"].title == "The Usual Suspects"
    assert demo_items["ml:50"].directors == ("Bryan Singer",)
    toy = demo_items["ml:1"]
    assert (toy.title, toy.year, toy.age_rating, toy.runtime_min) == ("Toy Story", 1995, "G", 80)  # Wikidata: 80 min
    assert toy.directors == ("John Lasseter",)
    assert set(toy.genres) == {"Adventure", "Animation", "Children", "Comedy", "Fantasy"}
    lost = demo_items["ml:29"]
    assert lost.title == "The City of Lost Children"
    assert dict(lost.attributes)["original_title"] == "La Cité des enfants perdus"
    assert "Jean-Pierre Jeunet" in lost.directors and "France" in lost.countries
    gump = demo_items["ml:356"]
    assert "Tom Hanks" in gump.cast and len(gump.cast) <= 6


@pytest.mark.slow
def test_demo_films_outside_wikidatas_years_and_leads_come_from_tmdb(demo_items: dict) -> None:
    oz = demo_items["ml:919"]  # 1939: before Wikidata's table (1940-2014)
    assert (oz.title, oz.year) == ("The Wizard of Oz", 1939)
    assert oz.directors == ("Victor Fleming",) and oz.cast[0] == "Judy Garland"
    assert "Dorothy" in oz.plot
    fury = demo_items["ml:122882"]  # 2015: after it
    assert fury.directors == ("George Miller",) and fury.cast[:2] == ("Tom Hardy", "Charlize Theron")
    lambs = demo_items["ml:593"]  # in Wikidata, whose alphabetical cast list made Anthony Hopkins the lead
    assert lambs.directors == ("Jonathan Demme",) and lambs.cast[0] == "Jodie Foster"


@pytest.mark.slow
def test_demo_classics_get_facts_from_the_fill_only_tables(demo_dir: Path, demo_items: dict) -> None:
    """The real Wikipedia leads, Cannes films and Oscars fill what Wikidata (1940-2014) and TMDB leave empty."""
    soup = demo_items["ml:1256"]
    assert (soup.title, soup.year, soup.directors) == ("Duck Soup", 1933, ("Leo McCarey",))
    earth = demo_items["ml:3447"]
    assert (earth.title, earth.year) == ("The Good Earth", 1937)
    assert earth.awards == "Won the Oscar for Best Actress: Luise Rainer." and "Luise Rainer" in earth.cast
    kong = demo_items["ml:2366"]  # the package's King Kong page is the character's, naming the 1976 remake's director
    assert (kong.title, kong.year) == ("King Kong", 1933) and "John Guillermin" not in kong.directors
    leads = load_lead_films(locate_sources().leads)
    assert not [film for film in leads if "John Guillermin" in film.directors and film.year == 1933]
    coverage = read_meta(demo_dir)["coverage"]
    assert coverage["classic_fills"]["any"] >= 60 and coverage["empty_sheets"] <= 1215  # of 1,275 empty sheets


@pytest.mark.slow
def test_demo_items_respect_the_item_vocabularies(demo_items: dict) -> None:
    items = list(demo_items.values())
    assert all(set(i.genres) <= set(GENRES) for i in items)
    assert all(i.age_rating in (None, *AGE_RATINGS) for i in items)
    assert all(len(i.cast) <= 6 for i in items)
    assert all(i.runtime_min is None or 0 < i.runtime_min < 1000 for i in items)
    assert all(i.n_ratings >= 1 and 0.5 <= i.mean_rating <= 5 for i in items)
    assert sum(i.plot is not None for i in items) >= 150
    assert all(i.title and "(" not in i.title[-1:] and not i.title.endswith(", The") for i in items)


@pytest.mark.slow
def test_demo_interactions_match_the_catalog(demo_dir: Path, demo_items: dict) -> None:
    frame = pd.read_parquet(demo_dir / "interactions.parquet")
    # ml-latest-small has 100,004 ratings; 7 of them rate 5 movies that come without any title and are dropped
    assert len(frame) == 100_004 - read_meta(demo_dir)["coverage"]["dropped_untitled"]["ratings"] == 99_997
    assert list(frame.columns) == ["user", "item", "rating", "timestamp"]
    assert str(frame["rating"].dtype) == "float32" and str(frame["timestamp"].dtype) == "int64"
    assert frame["user"].str.match(r"^ml-user:\d+$").all() and frame["user"].nunique() == 671
    assert set(frame["item"]) <= set(demo_items)
    assert frame["rating"].between(0.5, 5).all()
    toy = frame[frame["item"] == "ml:1"]
    assert len(toy) == demo_items["ml:1"].n_ratings
    assert abs(toy["rating"].mean() - demo_items["ml:1"].mean_rating) < 1e-3


@pytest.mark.slow
def test_demo_build_is_idempotent_and_fast_the_second_time(demo_dir: Path) -> None:
    before = catalog_hash(demo_dir)
    mtime = (demo_dir / "catalog.jsonl").stat().st_mtime_ns
    started = time.perf_counter()
    report = build_demo_catalog(demo_dir, progress=False)
    assert report.skipped and time.perf_counter() - started < 2.0
    assert report.coverage_ratings >= 0.92
    assert catalog_hash(demo_dir) == before and (demo_dir / "catalog.jsonl").stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_demo_rebuild_after_tampering_restores_the_same_catalog(demo_dir: Path) -> None:
    before = catalog_hash(demo_dir)
    with (demo_dir / "catalog.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"id": "x", "title": "tampered"}\n')
    report = build_demo_catalog(demo_dir, progress=False)
    assert not report.skipped
    assert catalog_hash(demo_dir) == before  # deterministic output


@pytest.mark.slow
def test_cli_data_build_prints_the_coverage(demo_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(demo_dir))
    assert main(["data", "build"]) == 0
    out = capsys.readouterr().out
    assert "already up to date" in out and "of ratings" in out and "9,061 movies" in out
