"""The one catalog-names index (`chatbot.text.names.CatalogLexicon`): a title inside a catalog person's longer
name is the person, not the film ("Brad Bird's" does not name "The Birds", "Alfred Hitchcock" not "Hitchcock"),
in notes and replies as an LLM writes them, English and Chinese; real titles next to those names still count."""

from __future__ import annotations

import pytest

from chatbot.text.names import CatalogLexicon
from chatbot.turn.notes.checker import NoteChecker
from retrieval.types import Item

# Real MovieLens titles that are also a word of a well-known name, with the people who carry that name.
INCREDIBLES = Item("ml:8961", "Incredibles, The (2004)", 2004, ("Action", "Animation", "Children"),
                   directors=("Brad Bird",), cast=("Craig T. Nelson", "Holly Hunter"), runtime_min=115)
BIRDS = Item("ml:1333", "Birds, The (1963)", 1963, ("Horror", "Thriller"), directors=("Alfred Hitchcock",),
             cast=("Rod Taylor", "Tippi Hedren"), runtime_min=119)
HITCHCOCK = Item("ml:99149", "Hitchcock (2012)", 2012, ("Drama",), directors=("Sacha Gervasi",),
                 cast=("Anthony Hopkins", "Helen Mirren"), runtime_min=98)
MISSION = Item("ml:648", "Mission: Impossible (1996)", 1996, ("Action", "Thriller"), directors=("Brian De Palma",),
               cast=("Tom Cruise", "Jon Voight"), runtime_min=110)
CRUISE = Item("ml:2370", "Cruise, The (1998)", 1998, ("Documentary",), directors=("Bennett Miller",))
HER = Item("ml:106920", "Her (2013)", 2013, ("Drama", "Romance", "Sci-Fi"), directors=("Spike Jonze",),
           cast=("Joaquin Phoenix", "Scarlett Johansson"), runtime_min=126)
PHOENIX = Item("ml:1889", "Phoenix (1998)", 1998, ("Crime", "Drama"), directors=("Danny Cannon",),
               cast=("Ray Liotta", "Anthony LaPaglia"))
FARGO = Item("ml:608", "Fargo (1996)", 1996, ("Comedy", "Crime", "Drama"), directors=("Coen Brothers",),
             cast=("Frances McDormand", "William H. Macy"), runtime_min=98)
BROTHERS = Item("ml:72701", "Brothers (2009)", 2009, ("Drama", "Thriller", "War"), directors=("Jim Sheridan",))
RAN = Item("ml:1217", "Ran (1985)", 1985, ("Drama", "War"), directors=("Akira Kurosawa",), runtime_min=162)
AKIRA = Item("ml:1274", "Akira (1988)", 1988, ("Action", "Animation", "Sci-Fi"), directors=("Katsuhiro Otomo",))
BLINDSIDE = Item("ml:72998", "Blind Side, The  (2009)", 2009, ("Drama",), directors=("John Lee Hancock",))
HANCOCK = Item("ml:57951", "Hancock (2008)", 2008, ("Action", "Comedy"), directors=("Peter Berg",),
               cast=("Will Smith", "Charlize Theron"))
MALKOVICH = Item("ml:2997", "Being John Malkovich (1999)", 1999, ("Comedy", "Drama", "Fantasy"),
                 directors=("Spike Jonze",), cast=("John Cusack", "John Malkovich"))
ED_WOOD = Item("ml:235", "Ed Wood (1994)", 1994, ("Comedy", "Drama"), directors=("Tim Burton",),
               cast=("Johnny Depp", "Martin Landau"))
PLAN9 = Item("ml:2361", "Plan 9 from Outer Space (1959)", 1959, ("Horror", "Sci-Fi"), directors=("Ed Wood",))
CATALOG = [INCREDIBLES, BIRDS, HITCHCOCK, MISSION, CRUISE, HER, PHOENIX, FARGO, BROTHERS, RAN, AKIRA, BLINDSIDE,
           HANCOCK, MALKOVICH, ED_WOOD, PLAN9]


@pytest.fixture(scope="module")
def lexicon() -> CatalogLexicon:
    """The index of the small catalog above."""
    return CatalogLexicon.from_items(CATALOG)


def titles(lexicon: CatalogLexicon, text: str) -> list[str]:
    """The catalog titles the index finds in a text."""
    return [hit.title for hit in lexicon.find_titles(text)]


@pytest.mark.parametrize(
    "text",
    [
        "Brad Bird's knack for set pieces makes this superhero romp a joy for the whole family.",
        "Directed by Brad Bird, it moves like a heist film and lands like a hug.",
        "A taut Alfred Hitchcock thriller, made for a stormy night with the lights off.",
        "Tom Cruise hangs off a train roof in this slick, twisty spy caper.",
        "Joaquin Phoenix gives a tender, lonely performance in this near-future love story.",
        "The Coen Brothers' bone-dry wit turns a kidnapping into a snowbound farce.",
        "From Akira Kurosawa, a thundering epic of a king and his sons.",
        "John Lee Hancock keeps the sports drama warm without getting syrupy.",
        "这部由Brad Bird执导的动画节奏明快，很适合全家一起看。",
        "由 Alfred Hitchcock 执导的经典惊悚片，适合下雨的夜晚。",
        "Tom Cruise主演的动作片，节奏紧凑，适合周末晚上。",
        "黑泽明（Akira Kurosawa）的史诗巨作，画面壮观。",
    ],
)
def test_a_title_inside_a_persons_name_is_not_a_film(lexicon, text):
    """The name of a catalog person is read as the person, whatever film hides in it, in English and Chinese."""
    assert titles(lexicon, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Brad Bird's follow-up is fun, but if you want a real scare, try The Birds.", ["The Birds"]),
        ("If you loved Hitchcock, this behind-the-scenes drama will charm you.", ["Hitchcock"]),
        ("Tom Cruise fans might pair it with The Cruise, a very different New York ride.", ["The Cruise"]),
        ("Joaquin Phoenix is superb, and Phoenix, the 1998 crime drama, is another matter.", ["Phoenix"]),
        ("Like Being John Malkovich, it is gloriously strange.", ["Being John Malkovich"]),
        ("Tim Burton's Ed Wood is a love letter to a hopeless dreamer.", ["Ed Wood"]),
        ("Akira Kurosawa fans should also see Akira, a very different Japanese classic.", ["Akira"]),
        ("喜欢 Alfred Hitchcock 的话，也可以看看 Hitchcock 这部传记片。", ["Hitchcock"]),
    ],
)
def test_titles_next_to_names_or_longer_than_them_still_count(lexicon, text, expected):
    """A film named on its own, or a title longer than the name inside it, is still a film (a title exactly as
    long as a name, "Ed Wood", is read as the film)."""
    assert titles(lexicon, text) == expected


def test_only_catalog_people_and_full_names_hide_a_title(lexicon):
    """A name the catalog does not know, or a first name alone, hides nothing."""
    assert titles(lexicon, "Much like Bob Phoenix said, it is a slow burn.") == ["Phoenix"]
    assert titles(lexicon, "With Joaquin, Phoenix would have been a better pick.") == ["Phoenix"]
    assert titles(lexicon, "BRAD BIRD'S best film.") == []  # names match in any case


@pytest.fixture(scope="module")
def checker(lexicon: CatalogLexicon) -> NoteChecker:
    """The note checker over the same small catalog."""
    return NoteChecker(lexicon)


def test_a_note_naming_its_own_director_is_fine(checker):
    """Notes as an LLM writes them, naming the film's own people whose names hide other titles."""
    assert checker.check("Brad Bird's superhero family romp is pure fun for a lazy night in.", INCREDIBLES, "en") == []
    assert checker.check("Tom Cruise hangs off a train roof in this slick, twisty spy caper.", MISSION, "en") == []
    assert checker.check("A taut Alfred Hitchcock thriller, made for a late night in.", BIRDS, "en") == []
    assert checker.check("这部由 Brad Bird 执导的动画节奏明快，很适合全家一起看。", INCREDIBLES, "zh") == []


def test_a_note_naming_someone_else_is_one_wrong_person_not_also_a_film(checker):
    """A stranger's name is flagged as a person not on the sheet, never as another film hidden in it."""
    problems = checker.check("A sleek, twisty spy caper in the vein of Alfred Hitchcock, ideal tonight.", MISSION, "en")
    assert problems == ["names Alfred Hitchcock, who is not on this film's sheet"]
    problems = checker.check("A sleek spy caper that Joaquin Phoenix fans will enjoy tonight.", MISSION, "en")
    assert problems == ["names Joaquin Phoenix, who is not on this film's sheet"]


def test_a_note_naming_another_film_beside_a_name_is_still_caught(checker):
    """The film next to the name is still another film."""
    problems = checker.check("Brad Bird's family romp is as gripping as The Birds, minus the scares.",
                             INCREDIBLES, "en")
    assert problems == ["names another film: 'The Birds'"]
