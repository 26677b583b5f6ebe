"""Where a film comes from and what it is spoken in, named by the catalog's own values: wanted, ruled out, or not
about the film at all ("I'm from France"), in English and Chinese; and what the filters then let through."""

from __future__ import annotations

import pytest

from chatbot.turn.context import Gazetteer
from chatbot.turn.intent import TurnIntent
from chatbot.turn.state import DialogueState, filters_for, remove_slot, update
from chatbot.turn.understand.understander import Understander
from retrieval.filters import item_matches
from retrieval.types import Item

ITEMS = [
    Item(id="f:0", title="Festen", year=1998, genres=("Drama",), countries=("Denmark",), languages=("Danish",)),
    Item(id="f:11", title="Persona", year=1966, genres=("Drama",), countries=("Sweden",), languages=("Swedish",)),
    Item(id="f:1", title="City of God", year=2002, genres=("Crime", "Drama"), countries=("Brazil",),
         languages=("Portuguese",)),
    Item(id="f:2", title="Oldboy", year=2003, genres=("Thriller", "Mystery"), countries=("South Korea",),
         languages=("Korean",)),
    Item(id="f:3", title="Trainspotting", year=1996, genres=("Comedy", "Drama"), countries=("United Kingdom",),
         languages=("English",)),
    Item(id="f:4", title="Amelie", year=2001, genres=("Comedy", "Romance"), countries=("France",),
         languages=("French",)),
    Item(id="f:5", title="Spirited Away", year=2001, genres=("Animation", "Fantasy"), countries=("Japan",),
         languages=("Japanese",)),
    Item(id="f:6", title="Fargo", year=1996, genres=("Comedy", "Crime"), countries=("United States",),
         languages=("English",)),
    Item(id="f:7", title="Infernal Affairs", year=2002, genres=("Crime", "Thriller"), countries=("Hong Kong",),
         languages=("Cantonese",)),
    Item(id="f:8", title="Man Bites Dog", year=1992, genres=("Comedy", "Crime"), countries=("Belgium",),
         languages=("French",)),
    Item(id="f:9", title="Werckmeister Harmonies", year=2000, genres=("Drama",), countries=("Hungary",),
         languages=("Hungarian",)),
    Item(id="f:10", title="Tidewater Tales", year=2011, genres=("Drama",), countries=("Republic of Tidewater",),
         languages=("Tidish",)),  # a country and a language no word list knows: the catalog's own names count
    Item(id="f:12", title="Deadpool", year=2016, genres=("Action", "Comedy")),  # its country is not on record
]


@pytest.fixture(scope="module")
def reader() -> Understander:
    """Understanding by code alone (no LLM), with the real offline gazetteer."""
    gazetteer = Gazetteer()
    gazetteer.warm_up()
    return Understander(None, ITEMS, gazetteer)


@pytest.mark.parametrize("message, countries", [
    ("A film from Brazil.", ["Brazil"]),
    ("any good thrillers out of South Korea?", ["South Korea"]),
    ("something made in Japan, please", ["Japan"]),
    ("I'd love a Belgian film tonight", ["Belgium"]),
    ("films from the United Kingdom", ["United Kingdom"]),
    ("Hong Kong action movies", ["Hong Kong"]),
    ("anything from the Republic of Tidewater?", ["Republic of Tidewater"]),
    ("something from Sweden or Denmark, dark and cold", ["Sweden", "Denmark"]),
    ("films from France, Japan and Brazil", ["France", "Japan", "Brazil"]),
    ("来自巴西的电影", ["Brazil"]),
    ("瑞典或丹麦的片子", ["Sweden", "Denmark"]),
    ("有没有韩国的片子", ["South Korea"]),
])
def test_a_country_named_as_the_films_is_wanted(reader: Understander, message: str, countries: list[str]) -> None:
    intent = reader.understand(message, DialogueState())
    assert intent.countries == countries
    assert not intent.countries_none


@pytest.mark.parametrize("message, ruled_out", [
    ("nothing from France please", ["France"]),
    ("no American films tonight", ["United States"]),
    ("anything but Hollywood", ["United States"]),
    ("I don't want anything from Japan", ["Japan"]),
    ("不要美国电影", ["United States"]),
    ("不要日本的", ["Japan"]),
    ("something funny, but please nothing from the US or France this time", ["United States", "France"]),
])
def test_a_country_after_a_negation_is_ruled_out(reader: Understander, message: str, ruled_out: list[str]) -> None:
    intent = reader.understand(message, DialogueState())
    assert intent.countries_none == ruled_out
    assert not intent.countries


@pytest.mark.parametrize("message", [
    "I'm from France, what should I watch tonight?",
    "we're visiting from Japan and want a comedy",
    "我来自日本，推荐一部喜剧",
    "my girlfriend is from Brazil, we want a romantic comedy tonight",
    "my dad's from Hong Kong and he's visiting, something we can all watch",
])
def test_where_the_person_comes_from_is_not_a_films_country(reader: Understander, message: str) -> None:
    intent = reader.understand(message, DialogueState())
    assert not intent.countries and not intent.countries_none


def test_a_country_of_films_is_not_where_the_person_is(reader: Understander) -> None:
    film = reader.understand("Hong Kong action movies", DialogueState())
    assert film.place is None
    here = reader.understand("I'm in Hong Kong tonight, what should I watch?", DialogueState())
    assert here.place is not None and not here.countries


@pytest.mark.parametrize("message, languages", [
    ("anything in Hungarian?", ["Hungarian"]),
    ("a film in Tidish, if you have one", ["Tidish"]),
    ("a Hungarian-language drama", ["Hungarian"]),
])
def test_a_language_named_as_the_films_is_wanted(reader: Understander, message: str, languages: list[str]) -> None:
    assert reader.understand(message, DialogueState()).languages == languages


def test_asking_to_be_answered_in_a_language_sets_no_film_language(reader: Understander) -> None:
    intent = reader.understand("can you answer in English please", DialogueState())
    assert not intent.languages


def test_ruling_a_country_out_after_asking_for_it_keeps_only_the_last_word(reader: Understander) -> None:
    state = update(DialogueState(), reader.understand("a comedy from the UK", DialogueState()))
    assert state.countries == ("United Kingdom",)
    state = update(state, reader.understand("actually nothing British - what about films from France?", state))
    assert state.countries == ("France",) and state.countries_none == ("United Kingdom",)
    shown = [i.id for i in ITEMS if item_matches(i, filters_for(state))]
    assert shown == ["f:4"]  # Amelie: a French comedy; Trainspotting is British


def test_ruled_out_countries_and_languages_filter_every_item_and_can_be_lifted() -> None:
    state = update(DialogueState(), TurnIntent(countries_none=["United States"], languages_none=["English"]))
    passing = {i.id for i in ITEMS if item_matches(i, filters_for(state))}
    # a film whose country or language is not on record might be American: "nothing American" leaves it out
    assert passing == {"f:0", "f:1", "f:2", "f:4", "f:5", "f:7", "f:8", "f:9", "f:10", "f:11"}
    lifted = remove_slot(remove_slot(state, "countries_none", "United States"), "languages_none")
    assert {i.id for i in ITEMS if item_matches(i, filters_for(lifted))} == {i.id for i in ITEMS}
