"""A person of the film named in a role the sheet gives someone else is put right by the sheet, not turned into a
template; what cannot be put right safely is left for the checker."""

from __future__ import annotations

import pytest

from chatbot.llm import FakeChatModel
from chatbot.text.names import CatalogLexicon
from chatbot.turn.notes.note import NoteRequest
from chatbot.turn.notes.roles import with_right_roles
from chatbot.turn.notes.writer import Copywriter
from retrieval.types import Item
from tests.chatbot.notes_data import ALIEN, CATALOG, GOOD_ZH, TOY_STORY, answer
from tests.chatbot.test_copywriter import ONE_CALL

UNTOUCHABLES = Item("ml:2194", "The Untouchables", 1987, ("Action", "Crime", "Drama"), 119, "R", ("Brian De Palma",),
                    ("Kevin Costner", "Sean Connery", "Robert De Niro"))


@pytest.mark.parametrize(("note", "fixed"), [
    ("Kevin Costner 执导、Robert De Niro 主演的黑帮片，节奏紧凑，累了一周正好放松。",
     "Brian De Palma 执导、Robert De Niro 主演的黑帮片，节奏紧凑，累了一周正好放松。"),
    ("A gangster classic directed by Sean Connery, with Kevin Costner chasing Al Capone through Chicago.",
     "A gangster classic directed by Brian De Palma, with Kevin Costner chasing Al Capone through Chicago."),
    ("Brian De Palma's Chicago crime saga, starring Brian De Palma as the man who takes on Capone.",
     "Brian De Palma's Chicago crime saga, starring Brian De Palma as the man who takes on Capone."),  # said twice
])
def test_a_role_given_to_the_wrong_person_of_the_film_is_put_right(note: str, fixed: str) -> None:
    """The sheet's one director takes the director's place; a name said twice is left alone."""
    assert with_right_roles(note, UNTOUCHABLES) == fixed


@pytest.mark.parametrize("note", [
    "Kevin Costner 执导并主演的黑帮片，节奏紧凑。",  # two roles: which one is wrong is not known
    "A fine turn from Kevin Costner as Eliot Ness in a tense gangster classic.",  # "from" states no role
    "Brian De Palma directs Kevin Costner and Sean Connery in a tense gangster classic set in Chicago.",
])
def test_what_states_no_single_wrong_role_is_left_as_written(note: str) -> None:
    """Nothing is rewritten where the note is right or where the fix could make it wrong."""
    assert with_right_roles(note, UNTOUCHABLES) == note


def test_the_writer_shows_the_put_right_note_as_the_models_own() -> None:
    """A Chinese note that made Sigourney Weaver Alien's director is shown with Ridley Scott, no template, no rewrite."""
    wrong = "Sigourney Weaver 执导的经典科幻恐怖片，太空里的紧张气氛，适合喜欢刺激的你。"
    fake = FakeChatModel(replies=[answer([GOOD_ZH[0], wrong])])
    writer = Copywriter(fake, CatalogLexicon.from_items(CATALOG), timeout_s=30.0, style=ONE_CALL)
    notes = writer.write_notes([NoteRequest(TOY_STORY, ("rainy evening -> cozy",)),
                                NoteRequest(ALIEN, ("you asked for: space horror",))], "zh")
    assert notes[1].source == "llm" and notes[1].text.startswith("Ridley Scott 执导")
    assert len(fake.calls) == 1


@pytest.mark.parametrize("note", [
    "Brian De Palma 执导，Kevin Costner 主演的黑帮片，节奏紧凑，累了一周正好放松。",
    "Kevin Costner 主演、Brian De Palma 执导的黑帮片，Sean Connery 也在片中。",
    "Brian De Palma 执导, Kevin Costner 和 Sean Connery 主演，芝加哥的禁酒令年代。",
])
def test_the_common_chinese_shape_director_then_lead_is_read_right(note: str) -> None:
    """"X 执导，Y 主演" says Y stars, not that Y directs: no wrong role."""
    from chatbot.turn.notes.checker import NoteChecker, Problem

    checker = NoteChecker(CatalogLexicon.from_items([*CATALOG, UNTOUCHABLES]))
    assert Problem.WRONG_ROLE not in {f.problem for f in checker.findings(note, UNTOUCHABLES, "zh")}
    wrong = "导演是 Kevin Costner，Sean Connery 主演的黑帮片，节奏紧凑。"
    assert Problem.WRONG_ROLE in {f.problem for f in checker.findings(wrong, UNTOUCHABLES, "zh")}
