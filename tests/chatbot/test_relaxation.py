""""Shorter" (older, longer, newer) than anything that fits: the nearest films that fit the rest, said so in words.

The real agent (rules-only understanding, template notes, relevance ranking) over a small in-memory catalog: every
comedy runs at least 90 minutes and was made in 1990 or later, and four of the six comedies are exactly 90 minutes
long and from 1990, so any three comedies shown include one of those and nothing unseen is shorter or older. A
bound the person said in numbers is never let go: then the answer stays "nothing matches".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.config import Settings
from chatbot.profiles import ProfileStore
from chatbot.turn.agent import Agent
from chatbot.turn.context import OfflineWeatherProvider
from chatbot.turn.notes.writer import Copywriter
from chatbot.turn.replies import say
from chatbot.turn.state import DialogueState
from chatbot.turn.understand.understander import Understander
from retrieval.embeddings import FakeEmbedder
from retrieval.search import Searcher
from retrieval.types import Item


def _film(n: int, title: str, genres: tuple[str, ...], runtime: int, year: int) -> Item:
    """A catalog film rated PG."""
    return Item(id=f"t:{n}", title=title, year=year, genres=genres, age_rating="PG", runtime_min=runtime,
                plot=f"{title}: a story of friends, mishaps and a long summer.")


CATALOG = [
    _film(1, "Lemonade Stand", ("Comedy",), 90, 1990),
    _film(2, "The Wrong Bus", ("Comedy",), 90, 1990),
    _film(3, "Uncle Barry's Boat", ("Comedy",), 90, 1990),
    _film(4, "Pancake Tuesday", ("Comedy",), 90, 1990),
    _film(5, "The Long Picnic", ("Comedy",), 100, 2000),
    _film(6, "Grand Hotel Mixup", ("Comedy",), 110, 2010),
    _film(7, "Quiet Harbour", ("Drama",), 70, 1950),  # shorter and older, but no comedy
    _film(8, "Tiny Robots", ("Animation", "Comedy"), 75, 1960),  # shorter and older, but animated
]
COMEDY = {f"t:{n}" for n in range(1, 7)}


@pytest.fixture(scope="module")
def searcher() -> Searcher:
    """The small catalog, searched in memory with the hashing embedder."""
    return Searcher.in_memory(CATALOG, FakeEmbedder())


@pytest.fixture
def agent(searcher: Searcher, tmp_path: Path) -> Agent:
    """A rules-only agent over the small catalog: three items an answer, template notes, its own profiles."""
    settings = Settings(data_dir=tmp_path, llm="fake", n_items=3, understand_llm="never", chroma_url=None)
    return Agent(settings, searcher=searcher, understander=Understander(None, CATALOG, None, llm_policy="never"),
                 copywriter=Copywriter.from_items(None, CATALOG), profiles=ProfileStore.open(tmp_path / "profiles"),
                 weather=OfflineWeatherProvider(), scorer=None, ranking="retrieval", write_notes=False)


def _turn(agent: Agent, session: str | None, message: str):
    """One turn; the done payload."""
    events = list(agent.respond(session, message))
    assert events[-1].kind == "done", [e.kind for e in events]
    return events[-1].payload


def _comedies(agent: Agent, first: str):
    """The first turn: three live-action comedies, one of them 90 minutes long and from 1990."""
    done = _turn(agent, None, first)
    assert {c.id for c in done.items} <= COMEDY and len(done.items) == 3
    assert min(c.runtime_min for c in done.items) == 90 and min(c.year for c in done.items) == 1990
    return done


@pytest.mark.parametrize("first, shorter, language", [
    ("a comedy, no animation please", "anything shorter?", "en"),
    ("a comedy, no animation please", "something quicker", "en"),
    ("想看喜剧，不要动画", "短一点的", "zh"),
    ("想看喜剧，不要动画", "有更短的吗", "zh"),
])
def test_shorter_than_anything_that_fits_shows_the_shortest_that_fit_the_rest(agent, first, shorter, language):
    before = _comedies(agent, first)
    done = _turn(agent, before.session_id, shorter)
    shown = [c.id for c in done.items]
    assert shown and set(shown) <= COMEDY - {c.id for c in before.items}  # the rest holds, nothing seen again
    runtimes = [c.runtime_min for c in done.items]
    assert runtimes == sorted(runtimes)  # the shortest first
    unseen = sorted(CATALOG[n].runtime_min for n in range(6) if CATALOG[n].id not in {c.id for c in before.items})
    assert runtimes == unseen[:len(runtimes)]  # the shortest of those that fit the rest
    assert done.reply.startswith(say("relaxed_shorter", language, bound=90))
    state = agent.load_state(done.session_id)
    assert state.runtime_max is None  # "shorter" was let go, not saved as a bound the person asked for
    assert state.genres_excluded == ("Animation",) and state.genres == ("Comedy",)
    assert "runtime_max" not in done.understood.filters


@pytest.mark.parametrize("first, older, language", [
    ("a comedy, no animation please", "any older ones?", "en"),
    ("想看喜剧，不要动画", "老一点的", "zh"),
])
def test_older_than_anything_that_fits_shows_the_oldest_that_fit_the_rest(agent, first, older, language):
    before = _comedies(agent, first)
    done = _turn(agent, before.session_id, older)
    years = [c.year for c in done.items]
    assert {c.id for c in done.items} <= COMEDY - {c.id for c in before.items}
    assert years and years == sorted(years) and years[0] == 1990
    assert done.reply.startswith(say("relaxed_older", language, bound=1990))
    assert agent.load_state(done.session_id).year_max is None


@pytest.mark.parametrize("first, bounded, language", [
    ("a comedy, no animation please", "anything shorter, under 85 minutes?", "en"),
    ("a comedy, no animation please", "something under 80 minutes", "en"),
    ("想看喜剧，不要动画", "85分钟以内的", "zh"),
])
def test_a_bound_said_in_numbers_is_never_let_go(agent, first, bounded, language):
    before = _comedies(agent, first)
    done = _turn(agent, before.session_id, bounded)
    assert not done.items
    assert done.reply.startswith(say("no_match", language, constraints="")[:12])
    assert agent.load_state(done.session_id).runtime_max in (80, 85)  # what they said stays what they asked


def test_a_bound_said_before_in_numbers_still_holds_when_shorter_is_let_go(agent):
    """"Under 95 minutes", then "shorter" than the 90-minute films: the films let in stay under 95, and once none
    is left the answer is "nothing matches"."""
    before = _turn(agent, None, "a comedy under 95 minutes, no animation")
    assert {c.runtime_min for c in before.items} == {90}
    done = _turn(agent, before.session_id, "anything shorter?")
    assert [c.runtime_min for c in done.items] == [90]  # the fourth 90-minute comedy, the only one left under 95
    assert done.reply.startswith(say("relaxed_shorter", "en", bound=90))
    assert agent.load_state(done.session_id).runtime_max == 95
    last = _turn(agent, done.session_id, "anything shorter?")
    assert not last.items and "runtime_max=89" in last.reply


def test_only_a_bound_set_from_the_last_list_is_relative():
    understander = Understander(None, CATALOG, None, llm_policy="never")
    assert understander.understand("something short", DialogueState()).relative == []  # nothing shown yet
    shown = DialogueState(shown=(("t:1", "t:5"),), genres=("Comedy",))
    assert understander.understand("更短的", shown).relative == ["runtime_max"]
    assert understander.understand("anything newer?", shown).relative == ["year_min"]
    assert understander.understand("shorter, under 85 minutes", shown).relative == []
