"""A film to cry at is a wish in either language; a word under a negation ("not a downer") never becomes one; and a
note may call a film heartbreaking only where its facts bear it out."""

from __future__ import annotations

import pytest

from chatbot.turn.notes.qualities import QualityLexicon
from chatbot.turn.state import DialogueState
from chatbot.turn.understand.understander import Understander
from retrieval.types import Item

FILMS = [Item(id="c:1", title="Rainy Harbour", year=1961, genres=("Drama", "Romance"), runtime_min=88),
         Item(id="c:2", title="Pie Fight", year=1999, genres=("Comedy", "Children"), runtime_min=80)]


@pytest.fixture(scope="module")
def understander() -> Understander:
    """The rules-only reader over two films."""
    return Understander(None, FILMS, None, llm_policy="never")


@pytest.mark.parametrize("message", ["something that'll make me cry", "I need a good cry tonight",
                                     "a proper tearjerker please", "想找一部让人哭的老电影", "想看一部催泪的电影",
                                     "来部感人的片子"])
def test_wanting_to_cry_is_a_wish(understander: Understander, message: str) -> None:
    assert "moving tearjerker" in understander.understand(message, DialogueState()).wishes


@pytest.mark.parametrize("message", ["not a tearjerker, please", "不要催泪的", "no tearjerkers please",
                                     "just broke up, need something that isn't romantic at all, not a downer either"])
def test_a_negated_word_is_never_a_wish(understander: Understander, message: str) -> None:
    wishes = understander.understand(message, DialogueState()).wishes
    assert "moving tearjerker" not in wishes
    assert not any(w in wish for wish in wishes for w in ("tearjerker", "downer", "romantic"))


def test_heartbreaking_is_said_only_of_a_film_whose_facts_bear_it_out() -> None:
    lexicon = QualityLexicon.load()
    drama, comedy = FILMS
    for note, lang in [("A heartbreaking love story by the sea.", "en"), ("一部催泪的爱情片。", "zh")]:
        assert all(lexicon.holds(c.quality, drama) for c in lexicon.claims(note, lang) if c.quality == "sad")
    for note, lang in [("A heartbreaking food fight.", "en"), ("一部让人哭的喜剧。", "zh")]:
        claims = [c for c in lexicon.claims(note, lang) if c.quality == "sad"]
        assert claims and not any(lexicon.holds(c.quality, comedy) for c in claims)
