"""Who is watching and the weather, as the person says them: a sensitive viewer ("one of them scares easily") rules
fright out, and the LLM's companions or weather count only when the message has words that carry them (issue 12:
a follow-up about years came back with the model's made-up partner and snow)."""

from __future__ import annotations

import pytest

from chatbot.llm import FakeChatModel
from chatbot.turn.state import DialogueState
from chatbot.turn.understand.understander import Understander
from retrieval.types import Item
from tests.chatbot.test_understand import gazetteer, llm_json as answer  # noqa: F401 (a module-scoped fixture)

ITEMS = [
    Item(id="ml:1", title="Arrival (2016)", year=2016, genres=("Sci-Fi", "Drama"), runtime_min=116, n_ratings=90),
    Item(id="ml:2", title="Alien (1979)", year=1979, genres=("Horror", "Sci-Fi"), runtime_min=117, n_ratings=150),
    Item(id="ml:3", title="Paddington (2014)", year=2014, genres=("Children", "Comedy"), runtime_min=95, n_ratings=31),
    Item(id="ml:4", title="Mask, The (1994)", year=1994, genres=("Comedy",), runtime_min=101, n_ratings=60,
         cast=("Jim Carrey", "Cameron Diaz")),
    Item(id="ml:5", title="Batman (1989)", year=1989, genres=("Action",), runtime_min=126, n_ratings=90,
         cast=("Michael Keaton", "Jack Nicholson")),
    Item(id="ml:6", title="Sleepless in Seattle (1993)", year=1993, genres=("Comedy", "Romance"), runtime_min=105,
         n_ratings=80, cast=("Tom Hanks", "Meg Ryan")),
]


@pytest.mark.parametrize("message", [
    "sci-fi with friends tonight, one of them scares easily",
    "my little brother gets scared easily so keep it tame, maybe an adventure",
    "something for the family, grandma is pretty squeamish",
    "I'm a total scaredy-cat, give me a good mystery",
    "我女朋友胆子小，来点科幻片",
    "孩子容易害怕，想看个冒险片",
])
def test_someone_who_scares_easily_rules_out_fright(gazetteer, message):
    """A viewer who frightens easily is a reason to leave Horror and Thriller out, never a wish for them."""
    intent = Understander(None, ITEMS, gazetteer).understand(message, DialogueState())
    assert {"Horror", "Thriller"} <= set(intent.genres_excluded)
    assert not {"Horror", "Thriller"} & set(intent.genres)


@pytest.mark.parametrize("message", [
    "something really scary for halloween",
    "none of us are squeamish, give us a proper horror",
    "a horror film that is not for the faint of heart",
])
def test_asking_for_a_fright_still_asks_for_one(gazetteer, message):
    """Scary words said as a wish stay a wish, and a denied sensitivity is no exclusion."""
    intent = Understander(None, ITEMS, gazetteer).understand(message, DialogueState())
    assert "Horror" in intent.genres and "Horror" not in intent.genres_excluded


def test_the_models_companions_and_weather_need_words_in_the_message(gazetteer):
    """"Keep it to the last ten years" names nobody and no weather: the model's partner and snow are dropped and
    said; "with my sister" and "it's bucketing down outside" carry what the model reads from them."""
    llm = FakeChatModel(replies=[answer(weather="snow", **{"with": ["partner"]}),
                                 answer(**{"with": ["family"]}, weather="rain")])
    u = Understander(llm, ITEMS, gazetteer, llm_policy="always")
    made_up = u.understand("can we keep it to stuff from the last ten years?", DialogueState())
    assert made_up.companions == [] and made_up.weather is None
    assert any("partner" in n for n in made_up.notes) and any("snow" in n for n in made_up.notes)
    said = u.understand("a film to watch with my sister, it's bucketing down outside", DialogueState())
    assert said.companions == ["family"] and said.weather == "rain"


@pytest.mark.parametrize("message, companions", [
    ("something my 7 year old can watch", ["kids"]),
    ("a film for my 10-year-old, nothing too long", ["kids"]),
    ("watching with my six-year-old daughter tonight", ["kids"]),
    ("I'm 30 years old and I've never seen a western", []),
    ("my husband is 40 years old, something romantic", ["partner"]),
])
def test_an_age_says_who_is_watching_without_becoming_a_bound(gazetteer, message, companions):
    """"My 7 year old" is a child watching, and no year or runtime bound; a grown-up's age is neither."""
    intent = Understander(None, ITEMS, gazetteer).understand(message, DialogueState())
    assert intent.companions == companions
    assert intent.year_min is None and intent.year_max is None and intent.runtime_min is None


@pytest.mark.parametrize("message, wanted, ruled_out", [
    ("we want a horror but not a slasher, from the 2000s", ["Horror"], []),
    ("sci-fi please, but no aliens", ["Sci-Fi"], []),
    ("恐怖片，但不要太血腥", ["Horror"], ["War"]),
    ("no horror, a comedy", ["Comedy"], ["Horror"]),
    ("Anything but fantasy, I've had my fill of dragons", [], ["Fantasy"]),
    ("不要恐怖片，来点喜剧", ["Comedy"], ["Horror"]),
])
def test_a_genre_asked_for_by_name_is_not_ruled_out_by_a_side_word(gazetteer, message, wanted, ruled_out):
    """"A horror but not a slasher" still asks for horror; "anything but fantasy" still rules fantasy out."""
    intent = Understander(None, ITEMS, gazetteer).understand(message, DialogueState())
    assert intent.genres == wanted and intent.genres_excluded == ruled_out


@pytest.mark.parametrize("message, year_min, year_max", [
    ("no old movies, something funny", 1986, None),
    ("I don't mind old films, a western would be great", None, None),
    ("no problem with old movies", None, None),
    ("old films please, a western", None, 1985),
    ("我不介意老电影，来部西部片", None, None),
])
def test_a_vague_word_means_what_stands_before_it(gazetteer, message, year_min, year_max):
    """"Old" asks for old films; "no old movies" for newer ones; "I don't mind old films" for neither."""
    intent = Understander(None, ITEMS, gazetteer).understand(message, DialogueState())
    assert (intent.year_min, intent.year_max) == (year_min, year_max)


def test_a_chinese_message_does_not_take_the_models_cast_list(gazetteer):
    """A Chinese message naming one actor in Chinese ("金·凯瑞") gets that actor, not others the model adds; a second
    transliterated name the reader does not know ("梅格·瑞恩") lets the model's reading of it in."""
    llm = FakeChatModel(replies=[answer(people=["Jim Carrey", "Michael Keaton", "Cameron Diaz"]),
                                 answer(people=["Tom Hanks", "Meg Ryan"])])
    u = Understander(llm, ITEMS, gazetteer, llm_policy="always")
    one = u.understand("好久没看电影了，上次看还是去年春节，这次想看部金·凯瑞的喜剧", DialogueState())
    assert one.people == ["Jim Carrey"]
    two = u.understand("想看汤姆·汉克斯和梅格·瑞恩的电影", DialogueState())
    assert set(two.people) == {"Tom Hanks", "Meg Ryan"}


@pytest.mark.parametrize("message, ruled_out, runtime_max", [
    ("something made after 2005 that isn't a cartoon", ["Animation"], None),
    ("a film that is not a musical and isn't too long", ["Musical"], 120),
])
def test_a_negation_with_a_verb_rules_out(gazetteer, message, ruled_out, runtime_max):
    """"That isn't a cartoon" rules animation out, never in; "isn't too long" is a length limit."""
    intent = Understander(None, ITEMS, gazetteer).understand(message, DialogueState())
    assert intent.genres_excluded == ruled_out and not intent.genres and intent.runtime_max == runtime_max


PLACE_NAMED_PEOPLE = [
    *(Item(id=f"ml:{10 + k}", title=f"{t} ({y})", year=y, genres=g, n_ratings=50, cast=("Joaquin Phoenix",))
      for k, (t, y, g) in enumerate([("Her", 2013, ("Drama", "Romance")), ("Gladiator", 2000, ("Action", "Drama")),
                                     ("Walk the Line", 2005, ("Drama",)), ("Signs", 2002, ("Thriller",))])),
    *(Item(id=f"ml:{20 + k}", title=f"{t} ({y})", year=y, genres=g, n_ratings=50, cast=("Denzel Washington",))
      for k, (t, y, g) in enumerate([("Glory", 1989, ("War",)), ("Philadelphia", 1993, ("Drama",)),
                                     ("Training Day", 2001, ("Crime",)), ("Inside Man", 2006, ("Crime",))])),
]


@pytest.mark.parametrize("message, people, place", [
    ("it's so hot in Phoenix today, something light and breezy to watch indoors", [], "Phoenix"),
    ("stuck at the airport in Phoenix, give me a comedy", [], "Phoenix"),
    ("visiting Washington this weekend, need a thriller for the hotel room", [], "Washington"),
    ("something with Phoenix in it, he was great in Her", ["Joaquin Phoenix"], None),
    ("I'm in the mood for a Washington film", ["Denzel Washington"], None),
    ("anything starring Phoenix?", ["Joaquin Phoenix"], None),
])
def test_a_city_that_is_also_an_actors_name_is_the_place(gazetteer, message, people, place):
    """"Hot in Phoenix" is the city the person is in, not a wish for Joaquin Phoenix; the same family name after
    "with", "starring" or before "film" is still the person."""
    intent = Understander(None, ITEMS + PLACE_NAMED_PEOPLE, gazetteer).understand(message, DialogueState())
    assert intent.people == people
    if place:
        assert intent.place is not None and place in intent.place.name
