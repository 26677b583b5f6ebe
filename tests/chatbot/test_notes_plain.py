"""When the language model fails while writing the notes, the answer still comes, and it says why the notes are plain."""

from __future__ import annotations

import json
from pathlib import Path

from chatbot.config import Settings
from chatbot.llm.fake import FakeChatModel
from chatbot.profiles import ProfileStore
from chatbot.turn.agent import Agent
from chatbot.turn.context import OfflineWeatherProvider
from chatbot.turn.notes.writer import Copywriter
from chatbot.turn.replies import say
from chatbot.turn.understand.understander import Understander
from retrieval.embeddings import FakeEmbedder
from retrieval.search import Searcher
from retrieval.types import Item

CATALOG = [Item(id=f"p:{n}", title=title, year=1990 + n, genres=("Comedy",), age_rating="PG", runtime_min=95,
                directors=(director,), plot=f"{title}: two neighbours, one garden and a very long summer.")
           for n, (title, director) in enumerate([("Garden Wars", "Ann Lee"), ("The Hedge", "Bo Park"),
                                                  ("Fence Talk", "Cy Roe"), ("Mulch", "Di Fox")])]


def _answer(tmp_path: Path, llm: FakeChatModel, message: str) -> dict:
    """One turn of a rules-only agent whose notes are written by `llm`; the done event's data."""
    settings = Settings(data_dir=tmp_path, llm="fake", n_items=3, understand_llm="never", chroma_url=None,
                        notes_retry=False)
    agent = Agent(settings, searcher=Searcher.in_memory(CATALOG, FakeEmbedder()),
                  understander=Understander(None, CATALOG, None, llm_policy="never"),
                  copywriter=Copywriter.from_items(llm, CATALOG), profiles=ProfileStore.open(tmp_path / "p"),
                  weather=OfflineWeatherProvider(), scorer=None, ranking="retrieval")
    return [e for e in agent.respond(None, message)][-1].data


def test_a_model_that_fails_mid_notes_is_said_and_the_cards_keep_plain_notes(tmp_path: Path) -> None:
    down = FakeChatModel(replies=[]).enqueue(ConnectionError("connection refused"))
    done = _answer(tmp_path, down, "a funny film for tonight")
    assert done["items"] and all(c["note"] for c in done["items"])  # the answer came, every card has a note
    assert say("notes_plain", "en") in done["reply"]
    zh = _answer(tmp_path / "zh", FakeChatModel(replies=[]).enqueue(TimeoutError("timed out")), "今晚想看一部喜剧")
    assert zh["items"] and say("notes_plain", "zh") in zh["reply"]


def test_notes_the_model_wrote_say_nothing_about_it(tmp_path: Path) -> None:
    lines = ["A comedy of two neighbours and one garden over a very long summer, light enough for tonight.",
             "Bo Park films small wars across a hedge, a gentle laugh to close this evening with.",
             "Di Fox makes compost and pride collide: quick, silly fun before bed.",
             "Ann Lee's garden feud runs ninety-five breezy minutes, made for winding down."]
    replies = [json.dumps({str(k + 1): lines[(k + n) % 4] for k in range(3)}) for n in range(8)]
    done = _answer(tmp_path, FakeChatModel(replies=replies), "a funny film for tonight")
    assert done["items"] and say("notes_plain", "en") not in done["reply"]
