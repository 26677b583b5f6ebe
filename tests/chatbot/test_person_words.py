"""A note says the person asked only for what they asked for, and never calls the film by the person's own mood."""

from __future__ import annotations

import pytest

from chatbot.text.names import CatalogLexicon
from chatbot.turn.notes.checker import NoteChecker, Problem
from retrieval.types import Item

GREASE = Item("ml:1380", "Grease", 1978, ("Comedy", "Musical", "Romance"), 110, "PG", ("Randal Kleiser",),
              ("John Travolta", "Olivia Newton-John"))
KELLY = Item("ml:6786", "Kelly's Heroes", 1970, ("Action", "Comedy", "War"), 144, "PG", ("Brian G. Hutton",),
             ("Clint Eastwood", "Telly Savalas"))
APOCALYPSE = Item("ml:1208", "Apocalypse Now", 1979, ("Action", "Drama", "War"), 153, "R", ("Francis Ford Coppola",),
                  ("Marlon Brando", "Martin Sheen"))
GRUMPY = Item("ml:2802", "Grumpy Old Men", 1993, ("Comedy",), 103, "PG-13", ("Donald Petrie",),
              ("Walter Matthau", "Jack Lemmon"))
CHECKER = NoteChecker(CatalogLexicon.from_items([GREASE, KELLY, APOCALYPSE, GRUMPY]))


def _problems(note: str, item: Item, reasons: tuple[str, ...], language: str = "en") -> set[Problem]:
    """The kinds of problem the checker finds in a note."""
    return {f.problem for f in CHECKER.findings(note, item, language, reasons)}


@pytest.mark.parametrize("note", [
    "Clint Eastwood and Telly Savalas pull off a gold heist: a war comedy, just the war movie you asked for.",
    "Brian G. Hutton directs Clint Eastwood in a wartime caper, exactly the kind of war film you wanted.",
    "Just what you were after: a war film where Clint Eastwood and Telly Savalas chase Nazi gold.",
])
def test_a_note_never_says_the_person_asked_for_a_kind_they_did_not(note: str) -> None:
    """Someone who asked for something funny did not ask for a war film, whatever the film is."""
    reasons = ("you asked for: something funny to cheer me up",)
    assert Problem.NOT_ASKED in _problems(note, KELLY, reasons)


@pytest.mark.parametrize(("note", "reasons"), [
    ("Clint Eastwood leads a band of misfits after Nazi gold: a war comedy, just the laughs you asked for.",
     ("you asked for: something funny to cheer me up",)),
    ("Francis Ford Coppola directs Marlon Brando in a war drama, the war epic you asked for.",
     ("you asked for: a big war epic",)),
    ("Francis Ford Coppola directs Marlon Brando in the dark, tense war drama you were after.",
     ("War as you asked",)),
    ("Randal Kleiser directs John Travolta in a musical romance: the kind of film you asked for.",
     ("you asked for: a feel-good musical",)),
])
def test_what_the_person_did_ask_for_may_be_said(note: str, reasons: tuple[str, ...]) -> None:
    """A comedy for someone who wanted laughs, a war drama for someone who asked for war: no complaint."""
    assert Problem.NOT_ASKED not in _problems(note, KELLY if "Eastwood" in note else
                                              APOCALYPSE if "Coppola" in note else GREASE, reasons)


def test_a_chinese_note_is_held_to_what_the_person_asked_too() -> None:
    """"你想要的战争片" to someone who asked for a romance is a false claim; "你想要的浪漫" is not."""
    reasons = ("你想要：浪漫的电影",)
    wrong = "Randal Kleiser 执导、John Travolta 主演的歌舞片，正是你想要的战争片。"
    right = "Randal Kleiser 执导、John Travolta 主演的歌舞爱情片，正是你想要的浪漫。"
    assert Problem.NOT_ASKED in _problems(wrong, GREASE, reasons, "zh")
    assert Problem.NOT_ASKED not in _problems(right, GREASE, reasons, "zh")


@pytest.mark.parametrize("note", [
    "Randal Kleiser directs John Travolta in a grumpy, funny comedy with songs you can sing along to.",
    "John Travolta and Olivia Newton-John make this a grumpy musical for a snowy night in.",
    "A cranky comedy with John Travolta dancing through high school, songs and all.",
])
def test_the_persons_mood_is_never_said_of_the_film(note: str) -> None:
    """Grumpy teenagers or a cranky evening are the person's, not Grease's."""
    reasons = ("you asked for: something for two grumpy teenagers who are cranky about the snow",)
    assert Problem.MOOD_OF_ITEM in _problems(note, GREASE, reasons)


@pytest.mark.parametrize("note", [
    "Songs and dancing with John Travolta: a funny musical that could win over two grumpy teenagers.",
    "For grumpy kids and a cold night, Randal Kleiser's musical has John Travolta and Olivia Newton-John singing.",
])
def test_the_persons_mood_may_be_said_of_them(note: str) -> None:
    """Saying the film suits grumpy teenagers keeps the mood theirs."""
    reasons = ("you asked for: something for two grumpy teenagers",)
    assert Problem.MOOD_OF_ITEM not in _problems(note, GREASE, reasons)


def test_a_title_or_a_liked_title_is_no_mood() -> None:
    """Grumpy Old Men's own title, or a liked film called that, is nobody's mood."""
    note = "Walter Matthau and Jack Lemmon trade insults in a warm, funny comedy about two grumpy old men."
    assert Problem.MOOD_OF_ITEM not in _problems(note, GRUMPY, ("like Grumpy Old Men, which you liked",))
    reasons = ("like Grumpy Old Men, which you liked",)
    note = "John Travolta and Olivia Newton-John sing through a funny musical comedy of high school."
    assert Problem.MOOD_OF_ITEM not in _problems(note, GREASE, reasons)


def test_a_chinese_mood_is_kept_the_persons() -> None:
    """"无聊的喜剧" calls the film boring; "无聊的时候看的喜剧" keeps the boredom the person's."""
    reasons = ("你想要：无聊的时候看点好笑的",)
    assert Problem.MOOD_OF_ITEM in _problems("John Travolta 主演的一部无聊的喜剧歌舞片，轻松好笑。", GREASE, reasons, "zh")
    ok = "无聊的时候看的歌舞喜剧，John Travolta 和 Olivia Newton-John 又唱又跳。"
    assert Problem.MOOD_OF_ITEM not in _problems(ok, GREASE, reasons, "zh")


FIRST_STRIKE = Item("ml:1429", "First Strike", 1996, ("Action", "Adventure", "Comedy", "Thriller"), 85, "PG-13",
                    ("Stanley Tong",), ("Jackie Chan", "Jackson Lou"))


@pytest.mark.parametrize("note", [
    "Stanley Tong 执导、张国荣主演的动作喜剧，周末陪爸妈看正合适。",
    "由成龙主演的动作冒险片，Stanley Tong 执导，打斗干净利落。",
])
def test_a_name_written_in_chinese_characters_is_caught(note: str) -> None:
    """A name the Chinese way ("张国荣", "成龙") cannot be checked against a sheet that spells names in Latin letters."""
    assert Problem.CHINESE_NAME in _problems(note, FIRST_STRIKE, (), "zh")


def test_words_that_only_begin_like_a_surname_are_no_name() -> None:
    """"成功执导" (directed with success) and a name in Latin letters pass."""
    note = "Stanley Tong 成功执导、Jackie Chan 主演的动作喜剧，周末陪爸妈看正合适。"
    assert Problem.CHINESE_NAME not in _problems(note, FIRST_STRIKE, (), "zh")


@pytest.mark.parametrize(("note", "language"), [
    ("If you wanted a war film, Brian G. Hutton's caper with Clint Eastwood has the battles and the laughs.", "en"),
    ("如果你想看战争片，Clint Eastwood 主演的这部也有不少笑料。", "zh"),
])
def test_a_wish_said_as_if_is_no_claim_that_it_was_made(note: str, language: str) -> None:
    """"If you wanted a war film" claims nothing about what the person asked for."""
    assert Problem.NOT_ASKED not in _problems(note, KELLY, ("you asked for: something funny",), language)


def test_the_notes_model_is_kept_from_the_persons_mood_words() -> None:
    """"grumpy" of "you asked for: grumpy comedy" is among the words a note is kept from, so drafts do not fail on it."""
    from chatbot.turn.notes.measures import unwritable

    assert "grumpy" in unwritable(GREASE, "en", ("you asked for: grumpy comedy", "snow → cozy"))
    assert "grumpy" not in unwritable(GREASE, "en", ("you asked for: funny comedy",))


@pytest.mark.parametrize(("reasons", "language"), [
    (("like Alien, which you liked",), "en"),  # "something like Alien"
    (("with Cary Grant",), "en"),
    (("和你喜欢的 Titanic 相似",), "zh"),
    ((), "en"),
])
def test_a_note_is_kept_from_saying_you_asked_where_nothing_was_asked(reasons, language) -> None:
    """Told only a film they liked, the 1.5B wrote "a sci-fi thriller with a twist that you asked for" and "the
    action-packed kind you asked for" (then a template, after a rewrite that said it again): with no genre and no
    wish among the reasons, the words that claim one are among those the note is kept from; where they asked,
    they stay free."""
    from chatbot.turn.notes.measures import unwritable

    kept_from = unwritable(GREASE, language, reasons)
    assert ("asked" in kept_from and "wanted" in kept_from) if language == "en" else "你想要" in kept_from
    asked = ("Comedy as you asked",) if language == "en" else ("按你的要求：喜剧",)
    free = unwritable(GREASE, language, reasons + asked)
    assert "asked" not in free and "你想要" not in free
    assert "asked" not in unwritable(GREASE, "en", ("you asked for: something cozy",))


def test_a_wish_read_from_the_persons_mood_reaches_the_notes_without_it() -> None:
    """"grumpy comedy" (from "two grumpy teenagers") is "comedy" in the reasons the notes are written from."""
    from chatbot.turn.notes.person_words import without_person_states

    assert without_person_states("grumpy comedy") == "comedy"
    assert without_person_states("无聊的时候看点好笑的") == "的时候看点好笑的"
    assert without_person_states("grumpy") == "grumpy"  # nothing else said: kept as it is


def test_a_war_themed_film_must_be_a_war_film() -> None:
    """"A war-themed, comedic film" (`make run`'s first answer, of The General) claims a war film: Grease is none."""
    reasons = ("you asked for: a funny film for tonight",)
    assert Problem.UNSUPPORTED in _problems("Randal Kleiser's war-themed, comedic musical for a night in.", GREASE,
                                            reasons)
    assert Problem.UNSUPPORTED not in _problems("Brian G. Hutton's war-themed, comedic caper for a night in.", KELLY,
                                                reasons)
