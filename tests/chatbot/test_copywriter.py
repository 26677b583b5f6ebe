"""The copywriter: one LLM call writes every note, code checks each one, failures are retried once, then templated."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from chatbot.llm import FakeChatModel
from chatbot.text.names import CatalogLexicon
from chatbot.turn.notes.checker import NoteChecker, Problem, shares_skeleton
from chatbot.turn.notes.facts import prompt_facts
from chatbot.turn.notes.note import NoteDelta, NoteDone, NoteRequest, NoteStyle
from chatbot.turn.notes.templates import describe_item, template_note, why_chips
from chatbot.turn.notes.writer import Copywriter
from retrieval.errors import LLMError
from retrieval.text import display_title, has_cjk
from retrieval.types import Item
from tests.chatbot.notes_data import (
    ALIEN,
    AMELIE,
    CATALOG,
    GOOD_EN,
    GOOD_ZH,
    MATRIX,
    TOY_STORY,
)
from tests.chatbot.notes_data import answer as _answer
from tests.chatbot.notes_data import requests as _requests

ONE_CALL = NoteStyle(per_item=False)  # one call for all notes (a call per note: its own tests)


def _copywriter(*replies, timeout_s: float = 30.0, batch: bool = True) -> tuple[Copywriter, FakeChatModel]:
    """A copywriter over the small catalog with a scripted fake LLM (one call for all notes unless batch=False)."""
    fake = FakeChatModel(replies=list(replies))
    return Copywriter(fake, CatalogLexicon.from_items(CATALOG), timeout_s=timeout_s, batch=batch, style=ONE_CALL), fake


# ------------------------------------------------------------------------------------------- the LLM path
def test_good_notes_pass_through_in_one_call():
    """Notes that pass every check are shown as written, with why-chips, after a single LLM call."""
    writer, fake = _copywriter(_answer(GOOD_EN))
    notes = writer.write_notes(_requests(), "en")
    assert [n.text for n in notes] == GOOD_EN
    assert [n.source for n in notes] == ["llm", "llm"]
    assert [n.item_id for n in notes] == ["ml:1", "ml:1214"]
    assert notes[0].why == ("rainy evening -> cozy", "family-friendly", "you asked for: animation")
    assert len(fake.calls) == 1
    prompt = fake.calls[0].text
    assert "1. Toy Story (1995; Adventure, Animation, Children;" in prompt and "2. Alien (1979;" in prompt
    assert "rainy evening -> cozy" in prompt
    # every prompt token costs time: the runtime (on the card) and "plot unknown" stay out of the fact lines
    user = prompt.split("1. Toy Story (")[-1]
    assert "81 min" not in user and "plot unknown" not in user and "plot: A cowboy doll" in user
    schema = fake.calls[0].options["json_schema"]
    assert schema["required"] == ["1", "2"]  # short keys: every key token is generated, and costs time


def test_notes_are_matched_to_items_by_their_key():
    """A note is given to the item its key names, even when the answer lists the keys out of order."""
    writer, _ = _copywriter({"2": GOOD_EN[1], "1": GOOD_EN[0]})
    notes = writer.write_notes(_requests(), "en")
    assert [n.text for n in notes] == GOOD_EN


def test_stream_gives_deltas_per_item_then_final_notes():
    """While the LLM writes, each card gets its own text pieces; then one checked final note per item."""
    writer, _ = _copywriter(_answer(GOOD_EN))
    events = list(writer.write_notes_stream(_requests(), "en"))
    deltas = [e for e in events if isinstance(e, NoteDelta)]
    done = [e for e in events if isinstance(e, NoteDone)]
    assert len(deltas) > 4  # streamed in pieces, not in one block
    for pos in (0, 1):
        assert "".join(d.text_delta for d in deltas if d.position == pos) == GOOD_EN[pos]
    assert [d.position for d in done] == [0, 1]
    # the first item's final note arrives before the second item's text starts streaming
    first_done = events.index(done[0])
    assert all(d.position == 0 for d in events[:first_done] if isinstance(d, NoteDelta))


def test_note_naming_another_title_is_regenerated_then_templated():
    """A note that names another catalog film is written again (only that one); failing twice gives the template."""
    bad = "If you loved The Matrix, this cozy adventure with Tom Hanks is for you."
    still_bad = "Think Home Alone, but with toys."
    writer, fake = _copywriter(_answer([bad, GOOD_EN[1]]), _answer([still_bad]))
    notes = writer.write_notes(_requests(), "en")
    assert len(fake.calls) == 2
    retry_prompt = fake.calls[1].text
    assert "1. Toy Story (" in retry_prompt and "Alien" not in retry_prompt.split("1. Toy Story (")[-1]
    assert "it named another film" in retry_prompt  # the retry is told why the last draft was rejected,
    assert "Matrix" not in retry_prompt  # in general terms: naming the wrong film again only primes the model
    assert fake.calls[1].options["json_schema"]["required"] == ["1"]
    assert notes[1].text == GOOD_EN[1] and notes[1].source == "llm"
    assert notes[0].source == "template"
    assert notes[0].text == template_note(TOY_STORY, _requests()[0].reasons, "en")
    assert "Toy Story (1995)" in notes[0].text and "Matrix" not in notes[0].text
    assert any("The Matrix" in p for p in notes[0].problems)
    assert any("Home Alone" in p for p in notes[0].problems)


def test_note_borrowing_another_items_reason_is_rejected():
    """A note that applies another item's reason ("with your partner") to its own item is not shown."""
    borrowed = "A tense space horror to watch late with your partner, starring Sigourney Weaver."
    requests = [NoteRequest(AMELIE, ("watching with your partner",)), NoteRequest(ALIEN, ("you asked for: space horror",))]
    writer, _ = _copywriter(
        _answer(["A whimsical romance from Jean-Pierre Jeunet for you and your partner tonight.", borrowed],
                ("Amelie", "Alien")),
        _answer([borrowed], ("Alien",)),
    )
    notes = writer.write_notes(requests, "en")
    assert notes[0].source == "llm"
    assert notes[1].source == "template" and any("partner" in p for p in notes[1].problems)


def test_long_note_is_cut_to_its_first_sentences():
    """A note of four sentences keeps its first two (after the checks), instead of costing a retry."""
    long_note = ("A heartwarming animated adventure from John Lasseter for a cozy rainy evening. "
                 "It's a family-friendly movie with a great cast. You asked for animation. It's a classic.")
    writer, fake = _copywriter(_answer([long_note, GOOD_EN[1]]))
    notes = writer.write_notes(_requests(), "en")
    assert len(fake.calls) == 1
    assert notes[0].text == ("A heartwarming animated adventure from John Lasseter for a cozy rainy evening. "
                             "It's a family-friendly movie with a great cast.")
    assert notes[0].source == "llm"


def test_note_borrowing_another_items_plot_is_rejected():
    """A note that tells another item's story (here Toy Story's) on its own item is not shown."""
    borrowed = "A tense space horror with Sigourney Weaver, about a doll that is jealous and threatened."
    writer, _ = _copywriter(_answer([GOOD_EN[0], borrowed]), _answer([borrowed], ("Alien",)))
    notes = writer.write_notes(_requests(), "en")
    assert notes[0].source == "llm" and notes[1].source == "template"
    assert any("jealous" in p for p in notes[1].problems)


def test_retry_that_passes_is_used():
    """A rejected first draft followed by a good second draft shows the second draft."""
    writer, _ = _copywriter(_answer(["A 2003 romp starring Keanu Reeves.", GOOD_EN[1]]), _answer([GOOD_EN[0]]))
    notes = writer.write_notes(_requests(), "en")
    assert notes[0].text == GOOD_EN[0] and notes[0].source == "llm-retry"
    assert any("2003" in p for p in notes[0].problems) and any("Keanu Reeves" in p for p in notes[0].problems)


def test_garbage_answer_gives_template_notes_and_the_turn_still_answers():
    """Garbage from the LLM (twice) still yields one true template note per item, no exception."""
    writer, fake = _copywriter("I am sorry, I cannot help with that.", "{not json", '{"1. Alien": 3}')
    notes = writer.write_notes(_requests(), "en")
    assert len(fake.calls) == 2  # the batch, then one call that writes both notes again
    assert [n.source for n in notes] == ["template", "template"]
    assert notes[0].text.startswith("Toy Story (1995) is John Lasseter's animated")
    assert all(w in notes[1].text for w in ("Ridley Scott", "Alien (1979)", "horror", "sci-fi"))
    assert not shares_skeleton(notes[0].text, TOY_STORY, notes[1].text, ALIEN, "en")  # two shapes, not one
    assert all("JSON" in " ".join(n.problems) for n in notes)


def test_llm_error_gives_template_notes():
    """An LLM that fails (timeout, server down) gives template notes at once, not an error for the person."""
    writer, fake = _copywriter(LLMError("timed out"), LLMError("timed out"))
    notes = writer.write_notes(_requests(), "zh")
    assert len(fake.calls) == 1  # no retries against a model that is down
    assert [n.source for n in notes] == ["template", "template"]
    assert notes[0].text.startswith("Toy Story（1995年）是John Lasseter执导的动画冒险儿童片")


def test_per_item_mode_stops_calling_a_model_that_is_down():
    """Per-item mode makes one failing call, not one per item, when the model is down."""
    writer, fake = _copywriter(LLMError("connection refused"), batch=False)
    notes = writer.write_notes(_requests(), "en")
    assert len(fake.calls) == 1 and [n.source for n in notes] == ["template", "template"]


def test_no_llm_means_templates_without_waiting():
    """llm=None (or no time left) writes template notes at once."""
    writer = Copywriter(None, CatalogLexicon.from_items(CATALOG))
    started = time.perf_counter()
    notes = writer.write_notes(_requests(), "en")
    assert time.perf_counter() - started < 1.0
    assert [n.source for n in notes] == ["template", "template"]


def test_too_few_notes_in_the_answer_are_filled_in():
    """When the answer has fewer notes than items, the missing ones are retried, then templated."""
    writer, fake = _copywriter(_answer([GOOD_EN[0]]), _answer([GOOD_EN[1]], ("Alien",)))
    notes = writer.write_notes(_requests(), "en")
    assert [n.text for n in notes] == GOOD_EN
    assert [n.source for n in notes] == ["llm", "llm-retry"]
    assert fake.calls[1].text.rstrip().split("\n1. ")[-1].startswith("Alien")


def test_chinese_notes_for_language_zh():
    """For zh the prompt asks for Chinese, Chinese notes pass, and English ones are rejected."""
    writer, fake = _copywriter(_answer(GOOD_ZH))
    notes = writer.write_notes(_requests(), "zh")
    assert [n.text for n in notes] == GOOD_ZH
    assert "Simplified Chinese" in fake.calls[0].text
    writer, _ = _copywriter(_answer(GOOD_EN), _answer(GOOD_EN))
    notes = writer.write_notes(_requests(), "zh")
    assert [n.source for n in notes] == ["template", "template"]
    assert all("not written in Chinese" in " ".join(n.problems) for n in notes)
    assert "执导的" in notes[0].text


def test_time_limit_bounds_the_whole_turn():
    """A slow LLM is stopped at the time limit and the notes still come (templates), in bounded time."""
    fake = FakeChatModel(replies=[_answer(GOOD_EN), _answer(GOOD_EN)], chunk_chars=2, delay_s=0.05)
    writer = Copywriter(fake, CatalogLexicon.from_items(CATALOG), timeout_s=1.0, style=ONE_CALL)
    started = time.perf_counter()
    notes = writer.write_notes(_requests(), "en")
    assert time.perf_counter() - started < 3.0
    assert len(notes) == 2 and all(n.text for n in notes)


def test_time_budget_keeps_finished_notes_and_templates_the_rest():
    """When the notes budget runs out mid-answer, the call stops, the note already checked stays, the rest are
    templates at once (no retry), and the step reports that it ran out of time."""
    fake = FakeChatModel(replies=[_answer(GOOD_EN), _answer(GOOD_EN)], chunk_chars=6, delay_s=0.05)
    writer = Copywriter(fake, CatalogLexicon.from_items(CATALOG), timeout_s=30.0, budget_s=1.3, style=ONE_CALL)
    started = time.perf_counter()
    notes = writer.write_notes(_requests(), "en")  # the whole answer would take ~1.9 s
    assert time.perf_counter() - started < 1.8
    assert len(fake.calls) == 1
    assert notes[0].text == GOOD_EN[0] and notes[0].source == "llm"
    assert notes[1].source == "template" and "Alien (1979)" in notes[1].text
    assert any("time budget ran out" in p for p in notes[1].problems)
    stats = writer.last_stats
    assert stats.out_of_time and stats.first_pass == 1 and stats.templates == 1 and stats.retries == 0


def test_no_retry_when_the_time_left_cannot_cover_one_more_note():
    """A failed note is written again only when the budget still covers a note at this turn's speed."""
    bad = "If you loved The Matrix, this cozy adventure with Tom Hanks is for you."
    fake = FakeChatModel(replies=[_answer([bad, GOOD_EN[1]]), _answer([GOOD_EN[0]])], chunk_chars=12, delay_s=0.05)
    writer = Copywriter(fake, CatalogLexicon.from_items(CATALOG), timeout_s=30.0, budget_s=2.5, style=ONE_CALL)
    notes = writer.write_notes(_requests(), "en")  # the batch call takes ~1 s: 1.5 s left is under the 2 s floor
    assert len(fake.calls) == 1
    assert [n.source for n in notes] == ["template", "llm"]
    assert any("no time left" in p for p in notes[0].problems) and any("Matrix" in p for p in notes[0].problems)
    writer = Copywriter(FakeChatModel(replies=[_answer([bad, GOOD_EN[1]]), _answer([GOOD_EN[0]])]),
                        CatalogLexicon.from_items(CATALOG), timeout_s=30.0, budget_s=10.0, style=ONE_CALL)
    assert [n.source for n in writer.write_notes(_requests(), "en")] == ["llm-retry", "llm"]  # time enough: retried


def test_stats_count_calls_tokens_and_where_each_note_came_from():
    """last_stats tells what the notes step cost: calls, retries, notes by source, drafts failing the checks."""
    writer, _fake = _copywriter(_answer(["A 2003 romp starring Keanu Reeves.", GOOD_EN[1]]), _answer([GOOD_EN[0]]))
    writer.write_notes(_requests(), "en")
    stats = writer.last_stats
    assert (stats.notes, stats.llm_calls, stats.retries) == (2, 2, 1)
    assert (stats.first_pass, stats.retry_pass, stats.templates, stats.checks_failed) == (1, 1, 0, 1)
    assert stats.seconds >= stats.llm_s > 0 and not stats.out_of_time


def test_a_note_repeating_another_films_note_is_rejected():
    """Two films with the same note word for word: the copy says nothing of its own film and is written again."""
    same = "Tom Hanks brings plenty of heart to a fun, cozy pick for a rainy evening in."
    writer, fake = _copywriter(_answer([same, same]), _answer([GOOD_EN[1]], ("Alien",)))
    notes = writer.write_notes(_requests(), "en")
    assert [n.source for n in notes] == ["llm", "llm-retry"]
    assert any("repeats another film's note" in p for p in notes[1].problems)
    assert "the same note as another film's" in fake.calls[1].text


def test_reasons_every_film_shares_are_dealt_out():
    """A reason shared by all films goes under every other film, not under each (the 1.5B wrote one note five
    times when every film had the same reasons)."""
    requests = [NoteRequest(TOY_STORY, ("rainy evening -> cozy", "you asked for: animation")),
                NoteRequest(ALIEN, ("rainy evening -> cozy", "you asked for: space horror"))]
    writer, fake = _copywriter(_answer(GOOD_EN))
    writer.write_notes(requests, "en")
    prompt = fake.calls[0].options and fake.calls[0].text.split("Write each note in English, 15 to 30 words. 2 notes.")[-2]
    user = fake.calls[0].text.split("1. Toy Story (")[-1]
    toy, alien = user.split("2. Alien (")
    assert "picked because: you asked for: animation; rainy evening -> cozy" in toy
    assert "picked because: you asked for: space horror\n" in alien and "rainy" not in alien
    assert prompt


def test_long_llm_note_stopped_by_the_length_limit_keeps_its_finished_sentences():
    """A note the schema's length limit stopped mid-sentence keeps its whole sentences, or is rejected as cut off."""
    from chatbot.turn.notes.note import LLM_NOTE_CHARS

    first = "A warm, funny adventure for a rainy evening with toys that come alive."
    runaway = (first + " It keeps going and going with more and more words" * 5)[: LLM_NOTE_CHARS["en"]]
    writer, _ = _copywriter(_answer([runaway, GOOD_EN[1]]))
    notes = writer.write_notes(_requests(), "en")
    assert notes[0].text == first and notes[0].source == "llm"
    cut = ("A warm and funny adventure " * 20)[: LLM_NOTE_CHARS["en"]]
    writer, _ = _copywriter(_answer([cut, GOOD_EN[1]]), _answer([cut]))
    notes = writer.write_notes(_requests(), "en")
    assert notes[0].source == "template" and any("cut off" in p for p in notes[0].problems)
    # one long sentence stopped by the limit ends at its last clause (a list of parts alone is no sentence)
    clauses = ("Full of toys, cowboys and toy rangers, John Lasseter's Toy Story is a warm, funny adventure "
               "about friendship that the whole room can share on a rainy evening, with Tom Hanks and Tim Allen "
               "as the voices of Woody and Buzz, two rivals who")[: LLM_NOTE_CHARS["en"]]
    writer, _ = _copywriter(_answer([clauses, GOOD_EN[1]]))
    notes = writer.write_notes(_requests(), "en")
    assert notes[0].source == "llm" and notes[0].text.endswith("voices of Woody and Buzz."), notes[0]


def test_a_note_cut_at_its_last_clause_is_a_sentence_or_nothing():
    """A note stopped inside its one sentence keeps the clauses before its last break when they make a sentence of
    note length (English: with a verb of its own); a bare list of parts is left cut off (rejected)."""
    from chatbot.turn.notes.measures import long_enough
    from chatbot.turn.notes.note import cut_to_clause

    def cut(text: str, language: str) -> str:
        return cut_to_clause(text, language, lambda head: long_enough(head, language))

    cake = ("Made with Nonstick cooking spray, Ibarra semisweet chocolate and unsweetened chocolate, Mexican "
            "Chocolate Cake with Mocha Buttercream is a rich, nut-free birthday treat your son can enjoy, with a")
    assert cut(cake, "en").endswith("your son can enjoy.")
    parts = ("Made with spray, semisweet chocolate, unsweetened chocolate, butter, sugar, eggs, vanilla, flour, "
             "baking soda, salt, buttermilk, coffee, cocoa and powdered sugar for the frosting and")
    assert cut(parts, "en") == parts
    zh = "这款纯素巧克力饼干用香蕉代替鸡蛋，加入黑巧克力豆和椰子油，四十五分钟就能烤好一大盘，适合不吃奶制品的你，和家人"
    assert cut(zh, "zh") == "这款纯素巧克力饼干用香蕉代替鸡蛋，加入黑巧克力豆和椰子油，四十五分钟就能烤好一大盘，适合不吃奶制品的你。"
    assert cut("一道汤，用土豆", "zh") == "一道汤，用土豆"  # too short to keep


def test_every_failed_note_is_rewritten_in_one_small_call():
    """Two rejected drafts are written again together in ONE call (one prompt, one answer), not a call each."""
    bad = ["A 2003 romp starring Keanu Reeves.", "If you loved The Matrix, this space horror is for you."]
    writer, fake = _copywriter(_answer(bad), _answer(GOOD_EN))
    notes = writer.write_notes(_requests(), "en")
    assert len(fake.calls) == 2 and writer.last_stats.retries == 1
    assert fake.calls[1].options["json_schema"]["required"] == ["1", "2"]
    assert "1. Toy Story (" in fake.calls[1].text and "2. Alien (" in fake.calls[1].text
    assert [n.source for n in notes] == ["llm-retry", "llm-retry"] and [n.text for n in notes] == GOOD_EN


def test_no_rewrite_when_the_time_left_cannot_cover_every_failed_note():
    """The rewrite call must fit in the time left at this turn's speed for ALL the notes it rewrites (not only the
    2 s floor): two failed notes after a slow batch get their templates at once."""
    bad = ["A 2003 romp starring Keanu Reeves.", "If you loved The Matrix, this space horror is for you."]
    fake = FakeChatModel(replies=[_answer(bad), _answer(GOOD_EN)], chunk_chars=4, delay_s=0.1)
    writer = Copywriter(fake, CatalogLexicon.from_items(CATALOG), timeout_s=30.0, budget_s=5.3, style=ONE_CALL)
    started = time.perf_counter()
    notes = writer.write_notes(_requests(), "en")  # the batch takes ~2.8 s: ~2.5 s left, 2.5 notes' time ~3.5 s
    assert time.perf_counter() - started < 4.0
    assert len(fake.calls) == 1 and [n.source for n in notes] == ["template", "template"]
    assert writer.last_stats.out_of_time and all("no time left" in " ".join(n.problems) for n in notes)


def test_the_answer_schema_sets_a_minimum_note_length():
    """The schema keeps the model from closing a note after a character or two (seen with compact JSON)."""
    from chatbot.turn.notes.note import MIN_NOTE_CHARS

    writer, fake = _copywriter(_answer(GOOD_EN))
    writer.write_notes(_requests(), "en")
    schema = fake.calls[0].options["json_schema"]
    assert schema["properties"]["1"]["minLength"] == MIN_NOTE_CHARS["en"] >= 10


SAMEY = ["Tom Hanks stars in a classic you can watch tonight.",
         "Sigourney Weaver stars in a classic you can watch tonight."]


def test_a_note_that_only_swaps_the_names_is_kept_when_no_call_is_made_anyway():
    """Same words as another note but for the names: true, so kept as written rather than cost a call of its own."""
    writer, fake = _copywriter(_answer(SAMEY), _answer(GOOD_EN))
    notes = writer.write_notes(_requests(), "en")
    assert len(fake.calls) == 1 and [n.text for n in notes] == SAMEY
    assert [n.source for n in notes] == ["llm", "llm"]
    assert any("only the title and names changed" in p for p in notes[1].problems)
    assert writer.last_stats.checks_failed == 1 and writer.last_stats.templates == 0


def test_a_samey_note_rides_along_when_another_note_is_rewritten():
    """When a rewrite call happens anyway (a false note), the samey note is rewritten in that same call."""
    third = NoteRequest(AMELIE, ("you asked for: romance",))
    samey_three = SAMEY + ["A 2003 romp starring Keanu Reeves."]
    amelie = "A whimsical romance from Jean-Pierre Jeunet, light and charming."
    writer, fake = _copywriter(_answer(samey_three, ("a", "b", "c")), _answer([GOOD_EN[1], amelie], ("b", "c")))
    notes = writer.write_notes([*_requests(), third], "en")
    assert len(fake.calls) == 2
    assert fake.calls[1].options["json_schema"]["required"] == ["1", "2"]
    assert "1. Alien (" in fake.calls[1].text and "2. Amelie (" in fake.calls[1].text
    assert [n.text for n in notes] == [SAMEY[0], GOOD_EN[1], amelie]
    assert [n.source for n in notes] == ["llm", "llm-retry", "llm-retry"]


def test_samey_check_ignores_names_but_not_other_words():
    """Two notes read alike when they share a run of four words once titles and names are out (English; Chinese:
    six characters), the same measure as `tastebud eval notes`."""
    from chatbot.turn.notes.checker import shares_skeleton

    assert shares_skeleton(SAMEY[0], TOY_STORY, SAMEY[1], ALIEN, "en")
    assert shares_skeleton("Tom Hanks makes this a perfect pick for rainy days.", TOY_STORY,
                           "Sigourney Weaver makes this a perfect pick for a night in.", ALIEN, "en")
    assert not shares_skeleton(GOOD_EN[0], TOY_STORY, GOOD_EN[1], ALIEN, "en")
    assert not shares_skeleton(GOOD_ZH[0], TOY_STORY, GOOD_ZH[1], ALIEN, "zh")
    assert shares_skeleton("Tom Hanks 主演的温馨冒险，适合下雨的夜晚。", TOY_STORY,
                           "Sigourney Weaver 主演的温馨冒险，适合下雨的夜晚。", ALIEN, "zh")


VAGUE = "A fun pick for tonight that the whole family can enjoy together at home."


def test_a_note_that_could_be_about_any_film_is_written_again():
    """A true note that names nothing of its own film (no person, plot, award or genre of its own) is written once
    more, told to build it around its focus; the better note is shown."""
    writer, fake = _copywriter(_answer([VAGUE]), _answer([GOOD_EN[1]]), _answer([GOOD_EN[0]]), batch=False)
    notes = writer.write_notes(_requests(), "en")
    assert [n.text for n in notes] == GOOD_EN
    assert notes[0].source == "llm-retry" and any("names nothing only this item has" in p for p in notes[0].problems)
    assert "could have been about any film" in fake.calls[2].text


def test_a_vague_note_is_shown_rather_than_a_template_when_no_rewrite_comes():
    """Without a second call the vague note is still true: shown as written, never replaced by a template."""
    writer, fake = _copywriter(_answer([VAGUE, GOOD_EN[1]]))
    notes = writer.write_notes(_requests(), "en")
    assert len(fake.calls) == 1 and [n.text for n in notes] == [VAGUE, GOOD_EN[1]]
    assert [n.source for n in notes] == ["llm", "llm"]


# ------------------------------------------------------------------------------------------- the checks
@pytest.fixture(scope="module")
def checker() -> NoteChecker:
    """A checker over the small catalog."""
    return NoteChecker(CatalogLexicon.from_items(CATALOG))


@pytest.mark.parametrize(
    ("note", "problem"),
    [
        ("Like Alien, but for kids, and just as much fun on a rainy night.", "names another film: 'Alien'"),
        ("A sweet story in the spirit of Amelie, with toys that come alive.", "names another film: 'Amelie'"),
        ("A wonderful 1994 adventure for the whole family to enjoy tonight.", "the year 1994"),
        ("Pixar's adventure runs 95 minutes, just right for a school night.", "95 minutes"),
        ("A fun adventure that Steven Spielberg would be proud of, for all ages.", "Steven Spielberg"),
        ("Keanu Reeves lends his voice to this toy adventure the kids will love.", "Keanu Reeves"),
        ("A crowd-pleaser rated 4.6/5 by viewers, perfect for a cozy family night.", "rating of 4.6"),
        ("Perfect. Cozy. Funny. Just watch it.", "sentences"),
        ("Great.", "too short"),
        ("A classic from the 80s that the whole family will enjoy tonight at home.", "1980s"),
        ("A charming romance about a young woman who falls for a deaf musician.", "sheet has no plot"),
        ("一部浪漫喜剧，讲述一个女孩在巴黎的奇遇，适合你和伴侣。", "sheet has no plot"),
        ("Audrey Tautou plays a shy waitress who quietly fixes the lives of her neighbours.", "sheet has no plot"),
        ("A 2001 comedy about a family of penguins who live on a small island.", "sheet has no plot"),
        ("A warm comedy with Tom Hanks for a snowy afternoon with the family at home.", "the weather"),
        ("Tom Hanks and Tim Allen in an animated comedy to enjoy while it's pouring outside.", "the weather"),
        ("A lonely young woman sets out to change strangers' lives in this 2001 comedy.", "sheet has no plot"),
        ("一部浪漫喜剧：Audrey Tautou 饰演一个害羞的女孩，在巴黎寻找爱情。", "sheet has no plot"),
        ("一部法国浪漫喜剧，剧情：害羞的女服务员悄悄改变了邻居们的生活。", "sheet has no plot"),
        ("A fun, heartwarming adventure to share with your friends on a lazy evening.", "who you are with"),
        ("A cozy animated adventure directed by Tom Hanks, perfect for a rainy evening.", "Tom Hanks is the director"),
        ("A family-friendly animated adventure that you asked for and you enjoyed watching.", "already saw it"),
        ("Tom Hanks 执导的温馨动画冒险，很适合下雨的晚上和孩子一起看。", "Tom Hanks is the director"),
        ("Tom Hanks 在 1995 年执导的一部动画冒险片，很适合和孩子一起看。", "Tom Hanks is the director"),
        ("Jean-Pierre Jeunet's gentle comedy, a bittersweet tale of a waitress and her neighbours in Paris.",
         "sheet has no plot"),
        ("A romance set in Paris where a young waitress and her father who never speaks find each other.",
         "sheet has no plot"),
        ("John Lasseter directs a comedy that may call it something its facts do not show, for your kids.",
         "repeats the instructions"),
        ("A funny toy adventure for the kids. Your last note was rejected because it named another film.",
         "repeats the instructions"),
        ("A tragic drama of hard times: never call this film heartrending.", "repeats the instructions"),
        ("A comedy of modern times: a romantic, funny movie for a last note that was not accepted.",
         "repeats the instructions"),
        ("John Lasseter directs a cozy animation: a rainy day that suits the person's day.", "repeats the instructions"),
        ("A toy story that fits the person on a wet evening.", "repeats the instructions"),
        ("Tom Hanks stars in a thrilling, action-packed movie that you may call a Thriver.", "repeats the instructions"),
    ],
)
def test_checker_catches_ungrounded_notes(checker, note, problem):
    """Each kind of ungrounded claim is caught and explained."""
    item = AMELIE if "plot" in problem else TOY_STORY  # Amelie's sheet has no plot
    if "weather" in problem:  # the same note is fine when the person gave that weather
        assert checker.check(note, TOY_STORY, "en", ("snowy and pouring outside -> cozy", "family-friendly")) == []
    if "who you are with" in problem:
        assert checker.check(note, TOY_STORY, "en", ("watching with friends",)) == []
    problems = checker.check(note, item, "zh" if "一部" in note else "en")
    assert any(problem in p for p in problems), problems


def test_a_note_names_only_the_company_the_person_gave(checker):
    """Company nobody mentioned ("a cake to share with friends" for a birthday, "your friends" for a potluck with
    colleagues) is caught and kept from the writer, in English and Chinese; the company given is free to say, and
    小朋友 (children) is not 朋友 (friends)."""
    from chatbot.turn.notes.qualities import unwritable_words

    birthday = ("you asked for: birthday",)
    assert any("who you are with" in p for p in checker.check(
        "A soft cake for a birthday with friends, ready in an afternoon.", TOY_STORY, "en", birthday))
    banned = unwritable_words(TOY_STORY, "en", birthday)
    assert {"friends", "colleagues", "girlfriend"} <= set(banned) and "kids" not in banned  # Toy Story is Children
    kids = ("kids -> family-friendly",)
    assert not any("who you are with" in p for p in checker.check(
        "John Lasseter 的动画冒险，很适合和小朋友一起看。", TOY_STORY, "zh", kids))
    assert any("who you are with" in p for p in checker.check(
        "John Lasseter 的动画冒险，很适合和朋友一起看。", TOY_STORY, "zh", kids))
    zh = unwritable_words(TOY_STORY, "zh", kids)
    assert "同事" in zh and "女朋友" in zh and "朋友" not in zh and "小朋友" not in zh
    assert "朋友" in unwritable_words(replace(TOY_STORY, genres=("Comedy",)), "zh", birthday)
    assert "friends" not in unwritable_words(TOY_STORY, "en", ("watching with friends",))


RAIN = ("pouring in Seattle -> cozy", "kids -> family-friendly")


@pytest.mark.parametrize(
    "note",
    [
        "An animated adventure with rain as the backdrop, starring Tom Hanks, for you and the kids.",
        "John Lasseter directs a family-friendly adventure film with rain: cozy entertainment for everyone.",
        "A rain-soaked toy adventure with Tom Hanks and Tim Allen that your kids will adore.",
        "Tom Hanks 配音的动画冒险，雨中的玩具世界温馨又有趣，适合和孩子一起看。",
    ],
)
def test_the_persons_weather_said_of_the_film_is_caught(checker, note):
    """The person gave the rain; a note that puts rain into the film (its backdrop, its scenes) says what its
    facts do not. Said as the person's evening or what is outside, the same rain is fine."""
    problems = checker.check(note, TOY_STORY, "zh" if "配音" in note else "en", RAIN)
    assert any("weather as the film's" in p for p in problems), problems


@pytest.mark.parametrize(
    "note",
    [
        "Tom Hanks voices a cowboy doll in this warm comedy, just right while it pours outside.",
        "Stay in from the rain with John Lasseter's toy adventure; the kids will laugh all evening.",
        "Curl up as the rain taps the window: Tom Hanks and Tim Allen in a funny toy adventure.",
        "A cozy animated pick for a wet Seattle evening, with Tom Hanks as a worried cowboy doll.",
        "窗外下着雨，和孩子一起看 Tom Hanks 配音的这部温馨玩具冒险正合适。",
        "雨天的晚上，John Lasseter 的动画冒险最适合和孩子窝在沙发上看。",
    ],
)
def test_the_persons_weather_as_their_evening_passes(checker, note):
    """Rain as the person's evening, or what falls outside, ties the note to them without claiming it of the film."""
    assert checker.check(note, TOY_STORY, "zh" if "孩子" in note else "en", RAIN) == []


@pytest.mark.parametrize("note", [
    "上海这么热，在家和孩子看 Tom Hanks 配音的这部玩具冒险，轻松又好笑。",
    "炎热的夏日午后，John Lasseter 的动画冒险正适合和孩子一起在家避暑。",
])
def test_the_persons_heat_as_their_day_passes(checker, note):
    """A hot day in the person's city is their day too ("上海今天很热": "炎热的夏日午后", "这么热")."""
    assert checker.check(note, TOY_STORY, "zh", ("上海今天很热 -> light", "kids -> family-friendly")) == []


@pytest.mark.parametrize(("note", "language"), [
    ("2002 年的纪录片，讲述枪击案背后的真相，导演 Michael Moore，讲述枪击案背后的真相，很值得一看。", "zh"),
    ("Tom Hanks voices a cowboy doll in a funny toy adventure, a funny toy adventure for the kids.", "en"),
])
def test_a_note_that_says_the_same_thing_twice_is_caught(checker, note, language):
    """The 1.5B sometimes loops; a note saying one run of words twice is rewritten (a name said twice is fine)."""
    assert any("the same thing twice" in p for p in checker.check(note, TOY_STORY, language))
    assert not any("twice" in p for p in checker.check(
        "Tom Hanks 配音的玩具冒险又暖又好笑，Tom Hanks 的牛仔玩偶很适合孩子。", TOY_STORY, "zh"))


def test_a_plot_the_sheet_does_not_give_is_not_praised(checker):
    """"A touching plot" about a film whose sheet has no plot claims what nobody knows; a film with a plot may."""
    problems = checker.check("Jean-Pierre Jeunet's romantic comedy with a touching plot, for you two.", AMELIE, "en",
                             ("you asked for: romance",))
    assert any("sheet has no plot" in p for p in problems), problems
    assert any("sheet has no plot" in p for p in checker.check("Audrey Tautou 主演的浪漫喜剧，情节温暖动人，适合你们。",
                                                              AMELIE, "zh"))
    assert checker.check("Tom Hanks voices a cowboy doll in a plot full of warm jokes for a rainy evening.",
                         TOY_STORY, "en", ("rainy evening -> cozy",)) == []


@pytest.mark.parametrize(("note", "language"), [
    ("A mysterious man arrives at a hotel and is followed by a killer: a tense, dark mystery.", "en"),
    ("A lonely soldier returns home to a town that has forgotten him, in a quiet drama.", "en"),
    ("一个孩子和一个音乐家在月光下一起跳舞，浪漫的氛围很温馨，适合你们。", "zh"),
    ("一对恋人在巴黎相遇，浪漫又温馨，很适合和女朋友一起看。", "zh"),
    ("这部浪漫喜剧以银色月亮为背景，充满了温馨和情感，非常适合你。", "zh"),
    ("2001年的法国浪漫喜剧，剧情惊险刺激，适合喜欢这种类型的观众。", "zh"),
])
def test_a_story_made_up_for_a_film_without_a_plot_is_caught(checker, note, language):
    """Amélie's sheet here has no plot: whatever story a note tells of it (who arrives where, who meets whom, what
    it is set against, how thrilling its plot is) was made up, in any words."""
    assert any("sheet has no plot" in p for p in checker.check(note, AMELIE, language)), note


@pytest.mark.parametrize("note", [
    "一个让你们在雨天开心的选择：Audrey Tautou 主演的法国浪漫喜剧，温馨又俏皮。",
    "一个适合情侣在周末看的法国浪漫喜剧，Audrey Tautou 主演，轻松又甜。",
    "A warm French comedy the whole family will love, with Audrey Tautou, for a quiet night in.",
])
def test_who_a_film_suits_is_no_story(checker, note):
    """"一个让你们在雨天开心的选择" says who it suits and when, not what happens in it."""
    assert not any("sheet has no plot" in p for p in checker.check(note, AMELIE, "zh" if "主演" in note else "en"))


def test_a_genre_is_never_who_directed_a_film(checker):
    """"这部由儿童导演的音乐剧": the 1.5B read the genre Children as its director."""
    silvery = Item(id="m", title="By the Light of the Silvery Moon (1953)", year=1953,
                   genres=("Children", "Musical", "Romance"))
    assert any("that is its kind" in p for p in checker.check("这部由儿童导演的音乐剧，温馨又浪漫，适合你们。", silvery, "zh"))


def test_a_part_given_to_the_cast_of_a_film_without_a_plot_is_a_made_up_story(checker):
    """The sheet of Bambi names its cast, never their parts: "Donnie Dunagan is the charming, lovable bear" made one
    up. Saying who is in it, or that they are a delight for the family, gives nobody a part."""
    bambi = Item(id="b", title="Bambi (1942)", year=1942, genres=("Animation", "Children", "Drama"),
                 directors=("David Hand",), cast=("Donnie Dunagan", "Hardie Albright"))
    for note in ("Donnie Dunagan is the charming, lovable bear in this gentle 1942 classic for the kids.",
                 "David Hand's gentle classic, with Hardie Albright as a shy young prince, for a quiet evening."):
        assert any("sheet has no plot" in p for p in checker.check(note, bambi, "en")), note
    for note in ("David Hand's 1942 classic with Donnie Dunagan is a delight for the family on a quiet evening.",
                 "Donnie Dunagan and Hardie Albright lend their voices to David Hand's gentle 1942 animated classic."):
        assert checker.check(note, bambi, "en") == [], note
    assert checker.check("Tom Hanks voices a cowboy doll in a warm, funny adventure for a rainy evening with the kids.",
                         TOY_STORY, "en", ("rainy evening -> cozy",)) == []  # a part its plot gives


@pytest.mark.parametrize(
    "note",
    [
        "A warm, funny adventure for a rainy evening: Tom Hanks voices a cowboy doll who fears being replaced.",
        "Toy Story (1995) runs 81 minutes and is rated 3.9/5, a cozy pick for the family from the 90s.",
        "Speed things up tonight: John Lasseter's toy adventure stays home-alone-proof fun for the kids.",
        "Directed by John Lasseter, with Tim Allen and Don Rickles; just right for a rainy evening.",
        "A sweet, fast-paced comedy that is perfect if you are home alone on a rainy night.",
    ],
)
def test_checker_accepts_grounded_notes(checker, note):
    """Sheet facts, the item's own title and common words that happen to be titles are not flagged."""
    assert checker.check(note, TOY_STORY, "en", ("rainy evening -> cozy",)) == []


@pytest.mark.parametrize(
    "note",
    [
        "Jean-Pierre Jeunet directs Audrey Tautou in a 2001 romantic comedy for a couple on a quiet night in.",
        "A perfect pick for a couple who wants to laugh: Audrey Tautou in a French romantic comedy.",
        "Audrey Tautou stars in a romantic comedy for friends who want to laugh together tonight.",
        "A charming French comedy with Audrey Tautou, made for two lovers who like a quiet night in.",
        "Jean-Pierre Jeunet 执导、Audrey Tautou 主演的浪漫喜剧，适合一对恋人在周末夜晚一起看。",
    ],
)
def test_a_note_without_a_story_passes_for_a_film_without_a_plot(checker, note):
    """Who made it, who is in it and who it suits are not a story: no plot needed for them."""
    assert checker.check(note, AMELIE, "zh" if "执导" in note else "en") == []


def test_checker_handles_titles_people_and_chinese(checker):
    """Article-moved titles, names in the reasons, and Chinese rules (translated names and titles) are handled."""
    assert checker.check("A mind-bending 1999 ride with Keanu Reeves, fast and smart.", MATRIX, "en") == []
    assert checker.check("The Matrix (1999) is a mind-bending ride with Keanu Reeves.", MATRIX, "en") == []
    liked = ("resembles Alien, which you liked",)
    assert checker.check("If you liked Alien, this cozy adventure will charm you.", TOY_STORY, "en", liked) == []
    assert checker.check(GOOD_ZH[0], TOY_STORY, "zh", ("rainy evening -> cozy",)) == []
    problems = checker.check("汤姆·汉克斯主演的《玩具总动员》，是1995年的经典动画。", TOY_STORY, "zh")
    assert any("汤姆·汉克斯" in p for p in problems) and any("玩具总动员" in p for p in problems)
    assert any("Chinese" in p for p in checker.check("一部温馨的动画冒险片，适合雨夜。", TOY_STORY, "en"))


def test_display_title_and_chips():
    """MovieLens-style titles read naturally; chips are short, deduplicated and at most three."""
    assert display_title("Matrix, The (1999)") == "The Matrix"
    assert display_title("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)") == "Amelie"
    chips = why_chips(["rainy evening -> cozy", "Rainy evening -> cozy", ("you asked for: a long space adventure "
                       "with lots of aliens"), "family", "funny"])
    assert chips[0] == "rainy evening -> cozy" and len(chips) == 3
    assert all(len(c) <= 32 for c in chips) and chips[1].endswith("\u2026")


def test_template_notes_pass_the_checks(checker):
    """The fallback notes are true by construction: they pass the same checks in both languages."""
    reasons = ("rainy evening -> cozy", "family-friendly")
    for item in CATALOG:
        for language in ("en", "zh"):
            note = template_note(item, reasons, language)
            assert display_title(item.title) in note
            problems = checker.check(note, item, language, reasons)
            assert problems == [] or all("too long" in p for p in problems), (note, problems)


def test_describe_item_from_catalog_facts():
    """'Tell me more' answers from the catalog facts, in the person's language."""
    text = describe_item(TOY_STORY, "en")
    for fact in ("Toy Story (1995)", "John Lasseter", "Tom Hanks", "81 minutes", "rated G", "3.9/5", "cowboy doll"):
        assert fact in text
    zh = describe_item(TOY_STORY, "zh")
    assert "导演：John Lasseter" in zh and "片长 81 分钟" in zh


def test_describe_item_with_a_checked_llm_sentence():
    """The optional LLM sentence is added only when it passes the checks."""
    told = "Tom Hanks voices a cowboy doll who fears that a shiny new spaceman toy will take his place."
    writer, _ = _copywriter(_answer([told]))
    assert writer.describe_item(TOY_STORY, "en", with_llm=True).startswith(told)
    writer, _ = _copywriter(_answer(["Better than Alien."]), _answer(["Made in 2010."]))
    text = writer.describe_item(TOY_STORY, "en", with_llm=True)
    assert text == describe_item(TOY_STORY, "en")


@pytest.mark.slow
def test_checks_over_the_real_catalog(demo_data_dir):
    """Over the real 9k-film catalog: true notes pass, other films' titles and people are caught."""
    import random

    from retrieval.catalog import load_catalog

    items = load_catalog(demo_data_dir)
    checker = NoteChecker(CatalogLexicon.from_items(items))
    rng = random.Random(7)
    sample = rng.sample(items, 200)
    reasons = ("rainy evening -> cozy", "you asked for: something light")
    flagged_true = 0
    shape = {Problem.TOO_SHORT, Problem.WRONG_LANGUAGE}  # a thin item's template is short: true, not a lie

    def untrue(note: str, item, language: str) -> bool:
        return any(f.problem not in shape for f in checker.findings(note, item, language, reasons))

    for item in sample:  # template notes and generic notes that name the item's own people are fine
        by = f" from {item.directors[0]}" if item.directors else ""
        for note in (template_note(item, reasons, "en"), f"A fine pick for a rainy evening{by}, worth a look tonight."):
            flagged_true += untrue(note, item, "en")
        flagged_true += untrue(template_note(item, reasons, "zh"), item, "zh")
    caught_titles = caught_people = n = 0
    with_cast = [it for it in items if it.cast and len(it.cast[0].split()) >= 2]
    for item in sample:
        other, person_of = rng.choice(items), rng.choice(with_cast)
        if other.id == item.id or person_of.cast[0] in item.people:
            continue
        n += 1
        note = f"A fine pick for tonight, much like {display_title(other.title)}."
        caught_titles += any("another film" in p for p in checker.check(note, item, "en"))
        note = f"A fine pick for tonight, with a strong turn by {person_of.cast[0]}."
        caught_people += any("not on this film" in p for p in checker.check(note, item, "en"))
    assert flagged_true == 0
    assert caught_titles >= 0.9 * n  # the misses are one-word titles under 5 letters ("Rope"), by design
    assert caught_people >= 0.9 * n


def test_the_prompt_leads_each_film_with_the_genres_the_other_films_lack():
    walle = Item("ml:1", "WALL·E", 2008, ("Adventure", "Animation", "Children", "Romance", "Sci-Fi"))
    monsters = Item("ml:2", "Monsters, Inc.", 2001, ("Adventure", "Animation", "Children", "Comedy", "Fantasy"))
    common = frozenset(set(walle.genres) & set(monsters.genres))
    assert prompt_facts(walle, common)[1] == "Romance, Sci-Fi, Adventure"
    assert prompt_facts(monsters, common)[1] == "Comedy, Fantasy, Adventure"
    assert prompt_facts(walle)[1] == "Adventure, Animation, Children"  # alone, the catalog order


def test_each_note_has_a_call_of_its_own_with_its_share_of_the_reasons():
    """By default every note is its own call (one item in view: the 1.5B copied one film's plot into the others'
    notes), streamed at once; a reason all items share goes to one item in turn, not to all of them."""
    shared = ("rain → cozy", "kids → family-friendly")
    third = NoteRequest(AMELIE, shared)
    amelie = "Audrey Tautou's shy waitress secretly fixes strangers' lives around Montmartre, a sweet pick for you."
    fake = FakeChatModel(replies=[_answer([GOOD_EN[0]], ("a",)), _answer([GOOD_EN[1]], ("b",)),
                                  _answer([amelie], ("c",))])
    writer = Copywriter(fake, CatalogLexicon.from_items(CATALOG), timeout_s=30.0)
    notes = writer.write_notes([NoteRequest(TOY_STORY, shared), NoteRequest(ALIEN, shared), third], "en")
    assert [n.text for n in notes] == [GOOD_EN[0], GOOD_EN[1], amelie]
    assert [c.options["json_schema"]["required"] for c in fake.calls] == [["1"], ["1"], ["1"]]
    assert "Alien" not in fake.calls[0].text.split("1. Toy Story (")[-1]
    own = [c.text.split("picked because: ")[-1].split("\n")[0] for c in fake.calls]
    assert own == ["rain → cozy", "kids → family-friendly", "rain → cozy"]


def test_a_quality_the_facts_do_not_support_is_never_shown():
    """The person asked for cozy; a note calling a horror film cozy (or a family film 'not scary' is fine, but a
    horror film 'not scary' is not) is rejected and written again, then falls back to the template."""
    cozy_alien = "A cozy, heartwarming evening with Sigourney Weaver aboard the Nostromo, just what you asked for."
    not_scary = "Sigourney Weaver leads the Nostromo crew in a space film that is not scary at all, a calm pick."
    writer, fake = _copywriter(_answer([GOOD_EN[0], cozy_alien]), _answer([not_scary], ("Alien",)))
    requests = [NoteRequest(TOY_STORY, ("rainy evening -> cozy",)), NoteRequest(ALIEN, ("rainy evening -> cozy",))]
    notes = writer.write_notes(requests, "en")
    assert notes[0].text == GOOD_EN[0] and notes[1].source == "template"
    assert any("cozy" in p and "do not support" in p for p in notes[1].problems)
    assert any("scary" in p for p in notes[1].problems)
    assert "never call it: cozy" in fake.calls[0].text.split("2. Alien (")[-1]


def test_a_shorter_title_inside_the_items_own_counts_only_within_its_whole_title():
    """A note for "Batman v Superman" that speaks of "Batman and Superman" names two other films of the catalog (as
    a reader, and the dialogue tests' grounded check, read it); the whole title with those words in it is fine."""
    both = Item(id="ml:122886", title="Batman v Superman: Dawn of Justice (2016)", year=2016,
                genres=("Action", "Adventure", "Fantasy"), directors=("Zack Snyder",), cast=("Ben Affleck",))
    batman = Item(id="ml:592", title="Batman (1989)", year=1989, genres=("Action",))
    superman = Item(id="ml:2640", title="Superman (1978)", year=1978, genres=("Action",))
    checker = NoteChecker(CatalogLexicon.from_items([*CATALOG, both, batman, superman]))
    loose = "Zack Snyder's superhero epic of Batman and Superman: a thrilling adventure for a long afternoon."
    assert any("Batman" in p for p in checker.check(loose, both, "en"))
    whole = "Zack Snyder directs Ben Affleck in Batman v Superman: Dawn of Justice, a thrilling long-afternoon epic."
    assert checker.check(whole, both, "en") == []


def test_the_items_own_title_in_lower_case_or_its_subtitle_names_no_other_film():
    """"the penguins of Madagascar" is the item's own title, not the film Madagascar; "the Island of Lost Dreams"
    is Spy Kids 2's subtitle, not the film The Island; "Madagascar" alone still names the other film."""
    penguins = Item("ml:2", "Penguins of Madagascar", 2014, ("Animation", "Comedy"), directors=("Eric Darnell",))
    spy_kids = Item("ml:4", "Spy Kids 2: The Island of Lost Dreams", 2002, ("Adventure",), cast=("Steve Buscemi",))
    others = [Item("ml:1", "Madagascar", 2005, ("Animation",)), Item("ml:3", "Island, The", 2005, ("Action",))]
    checker = NoteChecker(CatalogLexicon.from_items([*CATALOG, penguins, spy_kids, *others]))
    kids = ("kids -> family-friendly",)
    own = "Eric Darnell sends the penguins of Madagascar on a funny animated caper, a good laugh for you and the kids."
    assert checker.check(own, penguins, "en", kids) == []
    sub = "Steve Buscemi turns up on the Island of Lost Dreams in an adventure for you and the kids to share."
    assert checker.check(sub, spy_kids, "en", kids) == []
    loose = "Eric Darnell's penguins set off from Madagascar on a funny animated caper, a laugh for you and the kids."
    assert checker.check(loose, penguins, "en", kids) == ["names another film: 'Madagascar'"]


def test_an_award_the_items_sheet_gives_is_no_film_of_that_name():
    """"Won 5 Oscars" on the sheet: an "Oscar-winning" note is true, though the catalog has a film "Oscar" (1991);
    for a film that won none, "Oscar" is still read as that other film."""
    schindler = Item(id="ml:527", title="Schindler's List (1993)", year=1993, genres=("Drama", "War"),
                     directors=("Steven Spielberg",), cast=("Liam Neeson",), awards="Won 5 Oscars. Nominated for 10.")
    oscar = Item(id="ml:6424", title="Oscar (1991)", year=1991, genres=("Comedy",))
    checker = NoteChecker(CatalogLexicon.from_items([*CATALOG, schindler, oscar]))
    note = "Steven Spielberg's Oscar-winning drama, with Liam Neeson in the role of his career."
    assert checker.check(note, schindler, "en") == []
    bare = replace(schindler, awards=None)
    assert any("'Oscar'" in p for p in checker.check(note, bare, "en"))


@pytest.mark.parametrize(
    "note",
    [
        "A romantic drama set during World War II, with Audrey Tautou, for a quiet night in.",
        "Jean-Pierre Jeunet's comedy takes place in a sleepy seaside town, a sweet pick for you two.",
        "Audrey Tautou 主演的浪漫喜剧，故事发生在巴黎的小咖啡馆，适合你们俩。",
    ],
)
def test_a_setting_the_sheet_does_not_give_is_a_story(checker, note):
    """Where and when a film is set is part of its story: without a plot on its sheet, a note cannot know it
    ("Gone with the Wind, set during World War II")."""
    problems = checker.check(note, AMELIE, "zh" if "主演" in note else "en", ("you asked for: romance",))
    assert any("sheet has no plot" in p for p in problems), problems


def test_a_summer_theme_the_film_does_not_have_is_caught(checker):
    """The person's hot day is theirs: "a comedy with a hot summer theme" says it of the film."""
    hot = ("hot in Phoenix -> light", "you asked for: comedy")
    problems = checker.check("A Tom Hanks comedy with a hot summer theme, a light pick for you.", TOY_STORY, "en", hot)
    assert any("weather as the film's" in p for p in problems), problems
    assert checker.check("Tom Hanks voices a cowboy doll in a light comedy to enjoy indoors on a hot afternoon.",
                         TOY_STORY, "en", hot) == []


@pytest.mark.parametrize(("note", "finding"), [
    ("詹姆斯卡梅隆执导的这部动画冒险，温馨有趣，很适合下雨的晚上和孩子一起看。", "name in Chinese"),
    ("由约翰莱塞特执导，玩具们的冒险又暖又好笑，适合下雨的晚上全家一起看。", "name in Chinese"),
    ("汤姆·汉克斯配音的这部动画冒险，温馨有趣，很适合下雨的晚上和孩子一起看。", "name in Chinese"),
    ("一部温馨有趣的动画冒险，汤姆克鲁斯 饰主角，很适合下雨的晚上和孩子一起看。", "name in Chinese"),
    ("John Lasseter 执导的玩具冒险，适合你 asked 的温馨，雨夜和孩子一起看正好。", "another language"),
    ("一部 Sci-Fi 味道的动画冒险，Tom Hanks 配音，很适合下雨的晚上和孩子一起看。", "another language"),
    ("Tom Hanks 配音的牛仔玩偶，充满 humor，下雨的晚上全家一起看正好。", "another language"),
    ("Tom Hanks starring 的动画冒险，温馨有趣，很适合下雨的晚上和孩子一起看。", "another language"),
])
def test_a_chinese_note_naming_someone_in_chinese_or_writing_english_words_is_rewritten(checker, note, finding):
    """A transliterated name, with its dot or without, cannot be told apart from a made-up one, and English words
    inside a Chinese note ("适合你 asked的 romance") read as a broken sentence: both are rewritten. The sheet's own
    spelling of a name in Latin letters, and the title of a film the person liked, are fine."""
    reasons = ("rainy evening -> cozy",)
    assert any(finding in p for p in checker.check(note, TOY_STORY, "zh", reasons))
    assert checker.check("John Lasseter 执导、Tom Hanks 配音的动画冒险，温馨有趣，很适合下雨的晚上和孩子一起看。",
                         TOY_STORY, "zh", reasons) == []
    liked = ("rainy evening -> cozy", "like Alien, which you liked")
    assert checker.check("喜欢 Alien 的你，也会爱上 Tom Hanks 配音的这部温馨动画，雨夜和孩子一起看正好。",
                         TOY_STORY, "zh", liked) == []


@pytest.mark.parametrize("note", [
    "John Lasseter's toy adventure is warm and funny, just right for a rainy evening with the kids, всего 81 минута.",
    "Tom Hanks voices a cowboy doll in a warm, funny adventure: the kids will say これは面白い on a rainy evening.",
])
def test_an_english_note_with_words_of_another_script_is_rewritten(checker, note):
    """The 1.5B slips into other languages ("in just 15-20 минут"): such a note is rewritten, kept from those words."""
    assert any("another language" in p for p in checker.check(note, TOY_STORY, "en", ("rainy evening -> cozy",)))


def test_a_compound_of_genres_claims_each_genre(checker):
    """"A comedy-drama-romance" for Toy Story claims a drama and a romance it is not; a compound that is no list of
    genres ("family-friendly", "drama-free") claims nothing."""
    problems = checker.check("John Lasseter directs a family-friendly comedy-drama-romance for a night in.",
                             TOY_STORY, "en", ("kids -> family-friendly",))
    assert any("'romance'" in p for p in problems) and any("'drama'" in p for p in problems), problems
    assert checker.check("Tom Hanks in a drama-free, family-friendly comedy for the kids tonight.", TOY_STORY, "en",
                         ("kids -> family-friendly",)) == []


@pytest.mark.parametrize(("note", "written"), [
    ("约翰拉塞特执导的玩具冒险，温馨有趣，很适合下雨的晚上和孩子一起看。", "John Lasseter 执导的玩具冒险"),
    ("由汤姆汉克斯配音的牛仔玩偶，又暖又好笑，下雨的晚上全家一起看正好。", "由 Tom Hanks 配音的牛仔玩偶"),
    ("汤姆·汉克斯和提姆·艾伦配音的动画冒险，温馨好笑，很适合雨夜陪孩子看。", "Tom Hanks 和 Tim Allen 配音的"),
])
def test_a_name_written_in_chinese_is_written_back_as_on_the_sheet(note, written):
    """The 1.5B transliterates names however it is told: a name that clearly sounds like one of the film's own
    people is shown as the sheet spells it, and the note passes; one that sounds like nobody on it loses the role
    it was given (the claim cannot be checked, the rest of the note can), or, with no role beside it, still fails."""
    writer, _ = _copywriter(_answer([note, GOOD_ZH[1]]))
    notes = writer.write_notes(_requests(), "zh")
    assert written in notes[0].text and notes[0].source == "llm", notes[0]
    made_up = "瑞奇杰克森配音的玩具冒险，温馨有趣，很适合下雨的晚上和孩子一起看。"
    writer, _ = _copywriter(_answer([made_up, GOOD_ZH[1]]))
    notes = writer.write_notes(_requests(), "zh")
    assert notes[0].text == "玩具冒险，温馨有趣，很适合下雨的晚上和孩子一起看。" and notes[0].source == "llm", notes[0]
    told = "这部电影的导演是罗伯特，讲的是玩具牛仔怕被取代，很适合下雨的晚上和孩子一起看。"
    writer, _ = _copywriter(_answer([told, GOOD_ZH[1]]))
    assert "罗伯特" not in writer.write_notes(_requests(), "zh")[0].text
    no_role = "和瑞奇杰克森一样温馨有趣的玩具冒险，很适合下雨的晚上和孩子一起看。"
    writer, _ = _copywriter(_answer([no_role, GOOD_ZH[1]]), _answer([no_role]))
    notes = writer.write_notes(_requests(), "zh")
    assert notes[0].source == "template" and "name in Chinese" in " ".join(notes[0].problems)


def test_a_transliterated_name_goes_to_the_nearest_person_of_its_role():
    """"斯科斯塞执导" is the director, Martin Scorsese, though it sounds half like Jack Nicholson of the cast; a name
    that sounds equally like two people is left alone (and then fails the check)."""
    from chatbot.turn.notes.zh_names import with_sheet_names

    boot = Item(id="z", title="Das Boot (1981)", directors=("Wolfgang Petersen",), cast=("Jürgen Prochnow",))
    assert with_sheet_names("沃尔夫冈彼得森执导的潜艇战争片。", boot) == "Wolfgang Petersen 执导的潜艇战争片。"
    reiner = Item(id="w", title="A Few Good Men (1992)", directors=("Rob Reiner",), cast=("Tom Cruise", "Demi Moore"))
    assert with_sheet_names("罗伯特执导的法庭戏。", reiner) == "Rob Reiner 执导的法庭戏。"
    departed = Item(id="x", title="The Departed (2006)", directors=("Martin Scorsese",),
                    cast=("Leonardo DiCaprio", "Matt Damon", "Jack Nicholson"))
    assert with_sheet_names("斯科斯塞执导的犯罪片。", departed) == "Martin Scorsese 执导的犯罪片。"
    assert with_sheet_names("尼科尔森主演的警匪片。", departed) == "Jack Nicholson 主演的警匪片。"
    bride = Item(id="y", title="The Princess Bride (1987)", directors=("Rob Reiner",),
                 cast=("Cary Elwes", "Robin Wright", "Chris Sarandon"))
    assert with_sheet_names("雷纳德主演的童话冒险。", bride) == "雷纳德主演的童话冒险。"
    schindler = Item(id="v", title="Schindler's List (1993)", directors=("Steven Spielberg",),
                     cast=("Liam Neeson", "Ben Kingsley"))  # a dot and a space, the given name wrong: one name, whole
    assert with_sheet_names("斯蒂芬妮. 斯皮尔伯格执导的二战史诗。", schindler) == "Steven Spielberg 执导的二战史诗。"


@pytest.mark.parametrize("note,shown", [
    ("一部 Sci-Fi 风格的动画冒险，Tom Hanks 配音，温馨好笑，很适合下雨的晚上和孩子一起看。", "一部科幻风格的动画冒险"),
    ("Tom Hanks 配音的 animated 冒险，温馨好笑，下雨的晚上和孩子一起看正好。", "Tom Hanks 配音的动画冒险"),
    ("这部 Comedy 讲玩具们的友情，Tom Hanks 配音，很适合下雨的晚上和孩子一起看。", "这部喜剧讲玩具们的友情"),
])
def test_a_genre_a_chinese_note_leaves_in_english_is_shown_in_chinese(note, shown):
    """The 1.5B leaves a genre in English inside a Chinese note ("Sci-Fi" of Contact): the person reads it in
    Chinese, as the catalog's schema names it, and the note is not thrown away for its English word."""
    writer, _ = _copywriter(_answer([note, GOOD_ZH[1]]))
    notes = writer.write_notes(_requests(), "zh")
    assert notes[0].text.startswith(shown) and notes[0].source == "llm", notes[0]


def test_a_chinese_genre_word_that_is_the_films_title_stays_as_the_title():
    """"Romance" (1999) and "Big" are titles, and so is a liked "War Horse": a Chinese note keeps them in
    Latin letters."""
    from chatbot.turn.notes.zh_mend import with_chinese_values
    from retrieval.schema_file import packaged_schema

    romance = Item(id="r", title="Romance (1999)", genres=("Drama", "Romance"))
    text = "Romance 是一部大胆的法国 drama，讲一段关系的挣扎。"
    assert with_chinese_values(text, romance, packaged_schema("films")) == "Romance 是一部大胆的法国剧情，讲一段关系的挣扎。"
    liked = "一部 drama，和你喜欢的 War Horse 一样讲一段关系的挣扎。"  # the name found again after "drama" is mended
    assert with_chinese_values(liked, romance, packaged_schema("films"), ["War Horse"]) == (
        "一部剧情，和你喜欢的 War Horse 一样讲一段关系的挣扎。")


def test_a_name_with_dang_in_it_is_read_whole_and_dang_in_a_word_is_no_name():
    """"约翰麦当娜执导" of Shakespeare in Love is its director, John Madden, written as the sheet spells him; 当 in
    "当年" or "相当" beside a name is no part of it."""
    from chatbot.turn.notes.zh_names import with_sheet_names

    shakespeare = Item(id="s", title="Shakespeare in Love (1998)", directors=("John Madden",),
                       cast=("Gwyneth Paltrow", "Joseph Fiennes", "Geoffrey Rush"))
    assert with_sheet_names("约翰麦当娜执导的浪漫喜剧。", shakespeare) == "John Madden 执导的浪漫喜剧。"
    assert with_sheet_names("杰弗里拉什当年演的剧院老板，相当好笑。", shakespeare) == (
        "Geoffrey Rush 当年演的剧院老板，相当好笑。")  # 什 of 拉什 (Rush) too


def test_a_given_name_in_chinese_before_the_rest_in_latin_letters_is_written_whole():
    """"詹姆斯 Franco" of the Comedy Central Roast of James Franco is the man its title names; "罗伯特 De Niro" is
    Robert De Niro, not Robert De Niro De Niro; "罗伯特 Robert De Niro" says his given name once; a long given name
    ("弗朗西斯福尔德 Coppola") is taken whole; two people the
    Latin words could finish ("拉娜 Wachowski": Lana or Lilly) leave the note as written."""
    from chatbot.turn.notes.zh_names import with_sheet_names

    roast = Item(id="r", title="Comedy Central Roast of James Franco (2013)", genres=("Comedy",))
    assert with_sheet_names("喜剧频道的吐槽大会，詹姆斯 Franco 被朋友们轮番调侃。", roast) == (
        "喜剧频道的吐槽大会，James Franco 被朋友们轮番调侃。")
    king = Item(id="k", title="The King of Comedy (1982)", directors=("Martin Scorsese",), cast=("Robert De Niro",))
    assert with_sheet_names("罗伯特 De Niro 主演的黑色喜剧。", king) == "Robert De Niro 主演的黑色喜剧。"
    assert with_sheet_names("罗伯特 Robert De Niro 主演的黑色喜剧。", king) == "Robert De Niro 主演的黑色喜剧。"
    bound = Item(id="b", title="Bound (1996)", directors=("Lana Wachowski", "Lilly Wachowski"))
    assert with_sheet_names("拉娜 Wachowski 执导的犯罪片。", bound) == "拉娜 Wachowski 执导的犯罪片。"
    apocalypse = Item(id="a", title="Apocalypse Now (1979)", directors=("Francis Ford Coppola",))
    assert with_sheet_names("弗朗西斯福尔德 Coppola 执导的战争片。", apocalypse) == (  # was "弗 Francis Ford Coppola"
        "Francis Ford Coppola 执导的战争片。")


def test_a_name_beginning_with_a_vowel_or_glued_to_chinese_is_read_whole():
    """"埃里克莱顿" is Eric Leighton, all of it (not "埃 Eric Leighton"); a transliteration running on into Latin
    letters ("埃里克莱顿ighton") is garbled and left for the checker, which reads a Latin name glued to the Chinese
    after it ("Eric Leightonighton和恐龙") like any other: not a person of the sheet."""
    from chatbot.turn.notes.zh_names import with_sheet_names

    dinosaur = Item(id="d", title="Dinosaur (2000)", year=2000, genres=("Animation", "Children"),
                    directors=("Eric Leighton", "Ralph Zondag"), cast=("D. B. Sweeney", "Alfre Woodard"))
    assert with_sheet_names("埃里克莱顿执导的恐龙动画片，适合全家一起看。", dinosaur) == (
        "Eric Leighton 执导的恐龙动画片，适合全家一起看。")
    assert with_sheet_names("埃里克莱顿ighton执导的恐龙动画片。", dinosaur) == "埃里克莱顿ighton执导的恐龙动画片。"
    checker = NoteChecker(CatalogLexicon.from_items([*CATALOG, dinosaur]))
    glued = "埃 Eric Leightonighton和恐龙动画片，适合全家一起在周末观看。"
    assert any("Leightonighton" in p for p in checker.check(glued, dinosaur, "zh"))
    assert checker.check("Eric Leighton和 Ralph Zondag 执导的恐龙动画片，适合全家一起在周末观看。", dinosaur, "zh") == []


def test_a_film_with_nothing_of_its_own_on_its_sheet_is_built_around_what_sets_it_apart():
    """The Wizard of Oz (1939) is outside the packaged Wikidata table: no people, plot or award on its sheet. Its note
    is told to build on the genre the answer's other films lack (the specific thing it can say), else on nothing."""
    from chatbot.turn.notes.facts import note_focus

    oz = Item(id="ml:919", title="The Wizard of Oz", year=1939, genres=("Adventure", "Children", "Musical"))
    others = [Item(id="ml:1", title="Toy Story", year=1995, genres=("Adventure", "Children", "Comedy"),
                   directors=("John Lasseter",)),
              Item(id="ml:2", title="Jumanji", year=1995, genres=("Adventure", "Children", "Fantasy"))]
    answer = [others[0], oz, others[1]]
    used: set[str] = set()
    assert note_focus(oz, used, "en", answer) == "its genre Musical"
    assert note_focus(oz, set(), "zh", answer) == "its genre Musical"
    assert note_focus(others[1], set(), "en", answer) == "its genre Fantasy"
    alike = replace(oz, genres=("Adventure", "Children"))
    assert note_focus(alike, set(), "en", [others[0], alike]) == ""  # nothing sets it apart: the prompt's rule
    assert note_focus(others[0], set(), "en", answer) == "its director, John Lasseter"  # its own facts come first


def test_what_a_films_own_plot_and_genres_say_is_no_error():
    """True notes the checker once turned down, now that most films have a plot: the decade its story is set in
    (To Kill a Mockingbird, 1962, "in 1930s Alabama"), its characters' names in a Chinese note (Cole Sear), and
    "romantic" of a romance when another film was the one dealt "you asked for: romantic". What is not its own
    still fails: another decade, an English genre in a Chinese note, a borrowed word its facts do not bear."""
    mockingbird = Item(id="ml:7065", title="To Kill a Mockingbird (1962)", year=1962, genres=("Drama",),
                       directors=("Robert Mulligan",), cast=("Gregory Peck",),
                       plot="In 1930s Alabama, a lawyer defends a black man against an undeserved rape charge.")
    sense = Item(id="ml:2762", title="Sixth Sense, The (1999)", year=1999, genres=("Drama", "Horror", "Mystery"),
                 directors=("M. Night Shyamalan",), cast=("Bruce Willis",),
                 plot="A child psychologist starts treating Cole Sear, a boy who sees the dead.")
    titanic = Item(id="ml:1721", title="Titanic (1997)", year=1997, genres=("Drama", "Romance"),
                   directors=("James Cameron",), cast=("Leonardo DiCaprio",))
    checker = NoteChecker(CatalogLexicon.from_items([*CATALOG, mockingbird, sense, titanic]))
    kinds = lambda *args: {f.problem for f in checker.findings(*args)}  # noqa: E731
    assert not kinds("Gregory Peck defends an innocent man in 1930s Alabama, a quiet story for a thoughtful night in.",
                     mockingbird, "en")
    assert Problem.DECADE in kinds("Gregory Peck in a 1950s courtroom drama, a quiet story for a thoughtful night.",
                                   mockingbird, "en")
    assert not kinds("Bruce Willis 饰演的心理医生遇见能看见亡灵的男孩 Cole Sear，适合安静的夜晚。", sense, "zh")
    assert Problem.WRONG_LANGUAGE in kinds("Bruce Willis 主演的 Horror 片，男孩能看见亡灵，适合安静的夜晚。", sense, "zh")
    other = ("you asked for: something romantic and sweeping",)
    assert not kinds("James Cameron directs Leonardo DiCaprio in a romantic drama for a long evening together.",
                     titanic, "en", ("Romance as you asked",), other)
    assert Problem.BORROWED in kinds("James Cameron directs Leonardo DiCaprio in a drama with a sweeping, romantic "
                                     "feel.", titanic, "en", ("Romance as you asked",), other)


def test_the_decade_a_film_is_from_is_no_wrong_year():
    """"A 1980s classic" of Back to the Future (1985) was read as the year 1980 and the note became a template; a
    decade is checked as a decade, and a year or decade that is not the film's still fails."""
    future = Item(id="ml:2011", title="Back to the Future (1985)", year=1985, genres=("Adventure", "Comedy", "Sci-Fi"),
                  directors=("Robert Zemeckis",), cast=("Michael J. Fox",),
                  plot="Eighties teenager Marty McFly is accidentally sent back in time to 1955.")
    checker = NoteChecker(CatalogLexicon.from_items([*CATALOG, future]))
    kinds = lambda text: {f.problem for f in checker.findings(text, future, "en")}  # noqa: E731
    for fine in ("A 1980s classic: Michael J. Fox races back to 1955 in Robert Zemeckis's time-travel comedy.",
                 "Michael J. Fox in a 1980's time-travel comedy that sends Marty McFly back to 1955, fun for all.",
                 "Michael J. Fox in a 1980\u2019s time-travel comedy that sends Marty McFly back to 1955, fun for all."):
        assert not kinds(fine), fine
    assert Problem.YEAR in kinds("A 1984 classic: Michael J. Fox races back to 1955 in a time-travel comedy for all.")
    assert Problem.DECADE in kinds("A 1970s classic: Michael J. Fox races back to 1955 in a time-travel comedy.")
    zh = {f.problem for f in checker.findings("Michael J. Fox 主演的 1980 年代经典科幻喜剧，Marty McFly 回到 1955 年，轻松有趣。",
                                               future, "zh")}
    assert Problem.YEAR not in zh and Problem.DECADE not in zh


def test_an_old_films_acting_oscar_is_in_its_prompt_and_bears_an_oscar_winning_note():
    """The Good Earth (1937) has no Wikidata sheet; the acting-Oscars table gives it "Won the Oscar for Best
    Actress: Luise Rainer.": the prompt shows it, a note may call it Oscar-winning and name her, and a count of
    Oscars it does not give still fails."""
    from chatbot.turn.notes.facts import prompt_facts

    earth = Item(id="ml:3447", title="The Good Earth (1937)", year=1937, genres=("Drama",), cast=("Luise Rainer",),
                 awards="Won the Oscar for Best Actress: Luise Rainer.")
    assert "won the oscar for best actress" in prompt_facts(earth)
    checker = NoteChecker(CatalogLexicon.from_items([*CATALOG, earth]))
    assert not checker.check("Luise Rainer won an Oscar for this 1937 drama, an Oscar-winning film for a quiet, "
                             "thoughtful night in.", earth, "en")
    assert checker.check("Luise Rainer stars in this 1937 drama, which won five Oscars: a film for a thoughtful "
                         "night in.", earth, "en")


@pytest.mark.parametrize("note, wrong", [
    ("Francis Ford Coppola directs Marlon Brando in a crime saga that won three Oscars, for a long night in.", True),
    ("Francis Ford Coppola directs Marlon Brando in a crime saga that won 2 Academy Awards, for a long night in.",
     False),
    ("Marlon Brando leads this crime saga, nominated for seven Oscars and a classic for a long night in.", False),
    ("Marlon Brando leads this crime saga with its 2 Oscar nominations, a classic for a long night in.", True),
    ("1972 年的犯罪剧情片，由 Francis Ford Coppola 执导，Robert Duvall 主演，获得 2 项奥斯卡提名。", True),
    ("1972 年的犯罪剧情片，由 Francis Ford Coppola 执导，Marlon Brando 主演，获得两项奥斯卡奖，七项提名。", False),
    ("Francis Ford Coppola 执导、Marlon Brando 主演的犯罪史诗，荣获五座奥斯卡，适合一个漫长的夜晚。", True),
    ("Francis Ford Coppola 执导、Marlon Brando 主演的犯罪史诗，1972 年奥斯卡最佳影片，适合漫长的夜晚。", False),
])
def test_a_note_gives_only_its_sheets_count_of_oscars(note, wrong):
    """The Godfather's sheet says "Won 2 Oscars. Nominated for 7 Oscars.": a Chinese note said "获得 2 项奥斯卡提名"
    and passed, the one number of a note nothing checked; a count of wins or of nominations must be the sheet's."""
    godfather = Item(id="ml:858", title="Godfather, The (1972)", year=1972, genres=("Crime", "Drama"),
                     directors=("Francis Ford Coppola",), cast=("Marlon Brando", "Robert Duvall"),
                     awards="Won 2 Oscars. Nominated for 7 Oscars.")
    checker = NoteChecker(CatalogLexicon.from_items([*CATALOG, godfather]))
    problems = [f.message for f in checker.findings(note, godfather, "zh" if has_cjk(note) else "en")
                if f.problem is Problem.UNSUPPORTED and "but its sheet" in f.message]
    assert bool(problems) == wrong, problems


def test_a_stage_name_beginning_with_the_makes_no_word_after_the_a_person():
    """"The Oscar-winning Planet of the Apes" was read as a person, "The Oscar-winning", because the catalog has
    "The Edge" and "The Undertaker" in its casts; a real person not on the sheet still fails."""
    apes = Item(id="ml:2529", title="Planet of the Apes (1968)", year=1968, genres=("Action", "Drama", "Sci-Fi"),
                directors=("Franklin J. Schaffner",), cast=("Charlton Heston",), awards="Won 1 Oscar.")
    edge = Item(id="ml:9", title="It Might Get Loud (2008)", year=2008, genres=("Documentary",),
                cast=("The Edge", "Jimmy Page", "Jack White"))
    checker = NoteChecker(CatalogLexicon.from_items([*CATALOG, apes, edge]))
    assert not checker.check("The Oscar-winning Planet of the Apes is a thrilling action drama with Charlton Heston "
                             "as the lead.", apes, "en")
    assert checker.check("The Edge joins Charlton Heston in this thrilling action drama about astronauts.", apes, "en")
    assert checker.check("Jimmy Page joins Charlton Heston in this thrilling action drama about astronauts.", apes,
                         "en")


def test_a_person_asked_for_who_directed_and_wrote_the_film_is_named_once():
    """"Something by Hayao Miyazaki": he directed and wrote Princess Mononoke, and its template note said "It has
    Hayao Miyazaki and Hayao Miyazaki, whom you asked for"."""
    mononoke = Item(id="ml:3000", title="Princess Mononoke (Mononoke-hime) (1997)", year=1997,
                    genres=("Action", "Adventure", "Animation"), directors=("Hayao Miyazaki",),
                    cast=("Yōji Matsuda",), writers=("Hayao Miyazaki",))
    for language in ("en", "zh"):
        for position in range(5):
            note = template_note(mononoke, ("with Hayao Miyazaki, Hayao Miyazaki", "Animation as you asked"),
                                 language, position)
            assert note.count("Hayao Miyazaki") == 1, note


def test_a_chinese_note_retells_a_plot_only_when_nothing_else_is_known_and_a_prompt_plot_ends_cleanly():
    """A Chinese note built around an English plot came out wrong (Grease's Danny "a green-skinned dog") and its
    specificity could not be read: it is built around the people instead, while an English one still tells the
    plot; a film known by its plot alone keeps it. The prompt's plot ends at a sentence or clause, never with the
    "…" a note once copied."""
    from chatbot.turn.notes.facts import PLOT_FOCUS, note_focus, plot_line

    grease = Item(id="ml:1380", title="Grease (1978)", year=1978, genres=("Comedy", "Musical", "Romance"),
                  directors=("Randal Kleiser",), cast=("John Travolta", "Olivia Newton-John"),
                  plot="Australian good girl Sandy and greaser Danny fell in love over the summer.")
    used: set[str] = set()
    assert [note_focus(grease, used, "zh") for _ in range(3)] == [
        "its lead, John Travolta", "its director, Randal Kleiser", "its lead, John Travolta"]
    assert note_focus(grease, set(), "en") == PLOT_FOCUS
    only_plot = replace(grease, directors=(), cast=())
    assert note_focus(only_plot, set(), "zh") == PLOT_FOCUS
    gump = ("A man with a low IQ has accomplished great things in his life and been present during significant "
            "historic events - in each case, far exceeding what anyone imagined he could do.")
    line = plot_line(gump, 130)
    assert line == "A man with a low IQ has accomplished great things in his life and been present during " \
                   "significant historic events"
    assert plot_line(grease.plot, 130) == grease.plot
    assert all(not plot_line(gump, n).endswith(("\u2026", ",", "-")) and len(plot_line(gump, n)) <= n
               for n in range(40, 200, 7))
