"""A call per note: each note sees only its own item; with a batched model (the embedded default) the calls of one
answer are written at once, each note streaming into its own card, and failed notes are rewritten together."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest


from chatbot.llm import FakeChatModel
from chatbot.text.names import CatalogLexicon
from chatbot.turn.notes.note import NoteDelta, NoteDone, NoteRequest
from chatbot.turn.notes.stream import example_notes
from chatbot.turn.notes import writer as writer_module
from chatbot.turn.notes.writer import Copywriter
from prompts import load_prompt
from retrieval.errors import LLMError
from retrieval.text import display_title
from retrieval.types import Item
from tests.chatbot.notes_data import (
    ALIEN,
    AMELIE,
    CATALOG,
    GOOD_EN,
    GOOD_ZH,
    HOME_ALONE,
    MATRIX,
    TOY_STORY,
)
from tests.chatbot.notes_data import answer as _answer
from tests.chatbot.notes_data import requests as _requests

BAD = "Just like Home Alone, a holiday classic for you and your partner."


def _writer(*replies, parallel: int = 0, timeout_s: float = 30.0) -> tuple[Copywriter, FakeChatModel]:
    """A copywriter writing a note per call over the small catalog (parallel>0: all calls of a round at once)."""
    fake = FakeChatModel(replies=list(replies), parallel=parallel)
    return Copywriter(fake, CatalogLexicon.from_items(CATALOG), timeout_s=timeout_s, batch=False), fake


def test_one_call_per_item_mode_streams_each_note():
    """Each note is its own call (one sheet in view), still streamed and checked."""
    writer, fake = _writer(_answer([GOOD_EN[0]]), _answer([GOOD_EN[1]], ("Alien",)))
    events = list(writer.write_notes_stream(_requests(), "en"))
    assert [e.note.text for e in events if isinstance(e, NoteDone)] == GOOD_EN
    assert len(fake.calls) == 2 and "Alien" not in fake.calls[0].text.split("1. Toy Story (")[-1]
    assert "".join(e.text_delta for e in events if isinstance(e, NoteDelta) and e.position == 1) == GOOD_EN[1]


def test_one_call_per_item_mode_retries_then_templates():
    """A bad note is retried alone, then templated; the good one passes."""
    writer, fake = _writer(_answer([BAD]), _answer([GOOD_EN[1]], ("Alien",)), _answer([BAD]))
    notes = writer.write_notes(_requests(), "en")
    assert len(fake.calls) == 3
    assert [n.source for n in notes] == ["template", "llm"]
    problems = " ".join(notes[0].problems)
    assert "Home Alone" in problems and "who you are with" in problems


def test_the_notes_of_an_answer_are_written_at_once_each_into_its_own_card():
    """With a batched model every note has a prompt of its own, they are written together (the words of the second
    card come before the first note ends), each card gets only its own words, and it is one call to the model."""
    writer, fake = _writer(_answer([GOOD_EN[0]]), _answer([GOOD_EN[1]], ("Alien",)), parallel=5)
    events = list(writer.write_notes_stream(_requests(), "en"))
    notes = {e.position: e.note for e in events if isinstance(e, NoteDone)}
    assert [notes[i].text for i in (0, 1)] == GOOD_EN and {n.source for n in notes.values()} == {"llm"}
    first_done = next(k for k, e in enumerate(events) if isinstance(e, NoteDone))
    assert {e.position for e in events[:first_done] if isinstance(e, NoteDelta)} == {0, 1}  # written side by side
    for i in (0, 1):
        assert "".join(e.text_delta for e in events if isinstance(e, NoteDelta) and e.position == i) == GOOD_EN[i]
    assert all(c.options.get("batched") for c in fake.calls) and len(fake.calls) == 2
    assert "Alien" not in fake.calls[0].text.split("1. Toy Story (")[-1]  # each prompt holds its own item only
    assert "Toy Story" not in fake.calls[1].text.split("1. Alien (")[-1]
    assert writer.last_stats.llm_calls == 1 and writer.last_stats.first_pass == 2


def test_a_failed_note_is_rewritten_at_once_while_the_others_are_written_and_a_twice_failed_one_gets_a_third_try(
        monkeypatch):
    """Both first notes fail; each is rewritten as soon as it has failed, in the same batched call, while the other
    is still being written (the shorter one first): one rewrite passes; with two rewrites allowed, the note that
    failed twice is written once more after the call, and that third draft is shown."""
    monkeypatch.setattr(writer_module, "MAX_REWRITES", 2)
    writer, fake = _writer(_answer([BAD]), _answer(["Better than Toy Story, this one."], ("Alien",)),
                           _answer([GOOD_EN[1]], ("Alien",)), _answer([BAD]), _answer([GOOD_EN[0]]), parallel=5)
    events = list(writer.write_notes_stream(_requests(), "en"))
    notes = {e.position: e.note for e in events if isinstance(e, NoteDone)}
    assert [notes[i].source for i in (0, 1)] == ["llm-retry", "llm-retry"]
    assert [notes[i].text for i in (0, 1)] == GOOD_EN
    assert len(fake.calls) == 5 and writer.last_stats.llm_calls == 2 and writer.last_stats.retries == 3
    assert "rejected" in fake.calls[2].text and "1. Alien (" in fake.calls[2].text  # told its note was rejected
    assert "1. Toy Story (" in fake.calls[3].text and "1. Toy Story (" in fake.calls[4].text


def test_a_note_that_fails_twice_gets_its_template_and_no_third_try():
    """Two drafts by default: the second failure gives the card its template note (true by construction); a third
    draft cost 1.1 s of whole reply p50 in `bench turn` and saved no note from its template."""
    writer, fake = _writer(_answer([BAD]), _answer([GOOD_EN[1]], ("Alien",)), _answer([BAD]), _answer([GOOD_EN[0]]),
                           parallel=5)
    notes = writer.write_notes(_requests(), "en")
    assert [n.source for n in notes] == ["template", "llm"] and notes[0].text
    assert len(fake.calls) == 3


def test_a_note_that_fails_three_times_gets_its_template_and_no_fourth_try(monkeypatch):
    """With two rewrites allowed, three drafts at most: the third failure gives the card its template note."""
    monkeypatch.setattr(writer_module, "MAX_REWRITES", 2)
    writer, fake = _writer(_answer([BAD]), _answer([GOOD_EN[1]], ("Alien",)), _answer([BAD]), _answer([BAD]),
                           _answer([GOOD_EN[0]]), parallel=5)
    notes = writer.write_notes(_requests(), "en")
    assert [n.source for n in notes] == ["template", "llm"] and notes[0].text
    assert len(fake.calls) == 4


def test_a_note_failing_as_the_call_ends_is_still_rewritten_once():
    """The last note to end fails when nothing else is being written: whether the call still took its rewrite or
    had already ended (its reader a piece behind), the note is rewritten exactly once and passes."""
    for _ in range(5):
        writer, fake = _writer(_answer([BAD + " " + BAD]), _answer([GOOD_EN[1]], ("Alien",)), _answer([GOOD_EN[0]]),
                               parallel=5)
        notes = writer.write_notes(_requests(), "en")
        assert [n.source for n in notes] == ["llm-retry", "llm"] and notes[0].text == GOOD_EN[0]
        assert len(fake.calls) == 3 and writer.last_stats.retries == 1 and writer.last_stats.retry_pass == 1


def test_a_chinese_note_with_english_words_is_rewritten_kept_from_those_words():
    """"适合你 asked的 romance": a Chinese note with English words in it is rewritten, and the rewrite may not write
    the words the first draft was turned down for."""
    mixed = "一部温馨有趣的动画冒险片，Tom Hanks 配音，充满 humor，很适合下雨的晚上和孩子 together 看。"
    writer, fake = _writer(_answer([mixed]), _answer([GOOD_ZH[1]], ("Alien",)), _answer([GOOD_ZH[0]]), parallel=5)
    notes = writer.write_notes(_requests(), "zh")
    assert [n.source for n in notes] == ["llm-retry", "llm"] and notes[0].text == GOOD_ZH[0]
    assert {"humor", "together"} <= set(fake.calls[2].options["avoid"])
    assert not {"humor", "together"} & set(fake.calls[0].options["avoid"])


@pytest.mark.parametrize("language, good, bad", [
    ("en", GOOD_EN, " Just like Home Alone, it is a holiday classic."),
    ("zh", GOOD_ZH, "和 Home Alone 一样是节日经典。"),
])
def test_a_note_with_one_untrue_sentence_keeps_its_true_one_without_a_rewrite(language, good, bad):
    """A note whose second sentence names another film is shown without that sentence, as the LLM wrote the rest."""
    writer, fake = _writer(_answer([good[0] + bad]), _answer([good[1]], ("Alien",)))
    notes = writer.write_notes(_requests(), language)
    assert [n.text for n in notes] == good and [n.source for n in notes] == ["llm", "llm"]
    assert len(fake.calls) == 2 and "Home Alone" in " ".join(notes[0].problems)


@pytest.mark.parametrize("bad_clause", ["主角莱昂纳多. 达尼森", "窗外阳光明媚", "和 Home Alone 一样好看"])
def test_a_chinese_note_keeps_its_true_clauses_when_one_clause_is_untrue(bad_clause):
    """"…史诗片，主角莱昂纳多. 达尼森，获得5个奥斯卡奖。": a lead it made up (or the person's weather, another film) in
    one clause of its only sentence made the whole note a template; the note is shown without that clause, as the
    LLM wrote the rest, and a clause that a "but" answers is never taken out alone."""
    good = "一部温馨有趣的动画冒险片，Tom Hanks 配音，很适合下雨的晚上和孩子一起看。"
    drafted = good.replace("，很适合", f"，{bad_clause}，很适合")
    writer, fake = _writer(_answer([drafted]), _answer([GOOD_ZH[1]], ("Alien",)))
    notes = writer.write_notes(_requests(), "zh")
    assert [n.text for n in notes] == [good, GOOD_ZH[1]] and [n.source for n in notes] == ["llm", "llm"]
    assert len(fake.calls) == 2
    paired = "一部动画冒险片，Tom Hanks 配音，虽然有点吵闹，但很适合下雨的晚上和孩子一起看。"
    from chatbot.turn.notes.note import clause_drops

    assert "一部动画冒险片，Tom Hanks 配音，但很适合下雨的晚上和孩子一起看。" not in clause_drops(paired, "zh")
    assert "一部动画冒险片，虽然有点吵闹，但很适合下雨的晚上和孩子一起看。" in clause_drops(paired, "zh")
    assert clause_drops("Tom Hanks voices a cowboy doll, and Tim Allen a spaceman, in a warm adventure.", "en") == []


def test_a_latin_name_counts_toward_a_chinese_notes_length_as_its_transliteration_would():
    """"Steven Spielberg 执导的二战史诗，…" is as long as "斯蒂芬·斯皮尔伯格执导的…": the name written as the
    sheet spells it does not make a Chinese note too short to keep."""
    from chatbot.turn.notes.measures import long_enough, note_length

    assert long_enough("Steven Spielberg 执导的二战史诗，讲一个商人救下上千犹太人。", "zh")
    assert not long_enough("执导的二战史诗，讲一个商人救下上千犹太人。", "zh")
    assert note_length("Tom Hanks 配音", "zh") == note_length("汤姆汉克斯配音", "zh")
    assert note_length("1994年的 PG-13 电影", "zh") == 7


def test_what_is_left_of_the_json_after_a_curly_quote_is_no_part_of_the_note():
    """The 1.5B closed a Chinese note with "”" instead of the JSON quote, so "”}" and blank lines ran into the note,
    which then failed as markup twice; the note is read without them. An English note keeps what it wrote; the
    colon's tail of a failed English note may go when what is left is a sentence."""
    writer, fake = _writer(_answer([GOOD_ZH[0] + "”}\n\n\n"]), _answer([GOOD_ZH[1]], ("Alien",)))
    notes = writer.write_notes(_requests(), "zh")
    assert [n.text for n in notes] == GOOD_ZH and [n.source for n in notes] == ["llm", "llm"]
    kept = "Tom Hanks voices a cowboy doll who fears a shiny new spaceman will replace him in this warm adventure."
    writer, fake = _writer(_answer([kept[:-1] + ": just like Home Alone, a holiday classic."]),
                           _answer([GOOD_EN[1]], ("Alien",)))
    notes = writer.write_notes(_requests(), "en")
    assert notes[0].text == kept and notes[0].source == "llm" and len(fake.calls) == 2


def test_a_true_sentence_too_short_to_be_a_note_is_not_kept_alone():
    """What is left must still be a whole note: a short true sentence beside an untrue one means a rewrite."""
    writer, fake = _writer(_answer(["Tom Hanks voices a cowboy doll. " + BAD]), _answer([GOOD_EN[1]], ("Alien",)),
                           _answer([GOOD_EN[0]]))
    notes = writer.write_notes(_requests(), "en")
    assert [n.text for n in notes] == GOOD_EN and notes[0].source == "llm-retry" and len(fake.calls) == 3


def test_a_batched_call_that_fails_gives_every_card_its_template():
    """The model fails (or is down) in the middle of the batch: every note is a template, the answer still comes."""
    writer, _ = _writer(_answer([GOOD_EN[0]]), LLMError("llama_decode returned 1"), parallel=5)
    notes = writer.write_notes(_requests(), "en")
    assert [n.source for n in notes] == ["template", "template"]
    assert all(n.text for n in notes)


def test_a_slow_batch_is_stopped_at_the_budget_and_templates_fill_in():
    """The batch writes too slowly for the notes budget: it is stopped in time and every card still gets a note."""
    writer, fake = _writer(_answer([GOOD_EN[0]]), _answer([GOOD_EN[1]], ("Alien",)), parallel=5, timeout_s=1.0)
    fake.delay_s = 0.2
    started = time.perf_counter()
    notes = writer.write_notes(_requests(), "en")
    assert time.perf_counter() - started < 3.0
    assert [n.source for n in notes] == ["template", "template"] and writer.last_stats.out_of_time


def test_on_a_slow_machine_only_the_notes_that_fit_are_asked_for_and_the_rest_are_templates_at_once():
    """The model has shown it writes a note in 10 s here and the budget is 30 s: the first two cards get written
    notes, the others get their template notes before the model writes a word, and nobody waits for notes that
    could never finish (on a 6 tokens/s machine five notes at once ran out of the budget, 140 of 147 templates)."""
    requests = _requests() + [NoteRequest(item, ("you asked for: something to watch tonight",))
                              for item in (AMELIE, MATRIX, HOME_ALONE)]
    writer, fake = _writer(_answer([GOOD_EN[0]]), _answer([GOOD_EN[1]], ("Alien",)), parallel=5)
    fake.note_s = 10.0
    events = list(writer.write_notes_stream(requests, "en"))
    first_words = next(k for k, e in enumerate(events) if isinstance(e, NoteDelta))
    assert sorted(e.position for e in events[:first_words] if isinstance(e, NoteDone)) == [2, 3, 4]
    notes = {e.position: e.note for e in events if isinstance(e, NoteDone)}
    assert [notes[i].source for i in range(5)] == ["llm", "llm", "template", "template", "template"]
    assert len(fake.calls) == 2 and writer.last_stats.not_asked == 3
    assert all("fit in the budget" in " ".join(notes[i].problems) for i in (2, 3, 4))
    fake.note_s, fake.replies = 0.0, [_answer([GOOD_EN[0]]), _answer([GOOD_EN[1]], ("Alien",))]
    writer.write_notes(_requests(), "en")  # speed not known yet: every note is asked for
    assert writer.last_stats.not_asked == 0 and writer.last_stats.first_pass == 2


def test_one_failed_note_is_rewritten_when_a_third_of_the_first_round_is_left():
    """Five notes written at once take longer than one: a single rewrite needs a fraction of the first round's
    time, so it is tried when the time left covers that fraction (it was refused unless a whole first round's time
    was left, and the card got its template: 31 of 36 recipe templates said "no time left")."""
    long_bad = " ".join([BAD] * 5)  # the long note makes the first round slow; the rewrite is short
    writer, fake = _writer(_answer([GOOD_EN[0]]), _answer([long_bad], ("Alien",)), _answer([GOOD_EN[1]], ("Alien",)),
                           parallel=5, timeout_s=9.0)
    fake.delay_s = 0.08  # the first round: ~60 pieces, ~4.8 s; 4 s left; the rewrite: ~18 pieces, ~1.5 s
    notes = writer.write_notes(_requests(), "en")
    assert [n.source for n in notes] == ["llm", "llm-retry"] and notes[1].text == GOOD_EN[1]
    assert not writer.last_stats.out_of_time


# ------------------------------------------------------------------------------------------- the real model
def _real_items() -> list[NoteRequest]:
    """Five real-looking items with the reasons the agent would give."""
    return [
        NoteRequest(TOY_STORY, ("rainy evening -> cozy", "family-friendly", "you asked for: animation")),
        NoteRequest(ALIEN, ("you asked for: space horror", "late night -> tense")),
        NoteRequest(AMELIE, ("you asked for: romantic comedy", "watching with your partner")),
        NoteRequest(MATRIX, ("you asked for: mind-bending sci-fi", "resembles Speed, which you liked")),
        NoteRequest(HOME_ALONE, ("family-friendly", "winter evening -> holiday comedy")),
    ]


@pytest.fixture(scope="module")
def notes_llm():
    """The real embedded 1.5B as the agent's notes model: its own llama.cpp context, five notes at once."""
    from chatbot.config import Settings
    from chatbot.llm import make_notes_model

    data_dir = Path(os.environ.get("TASTEBUD_TEST_LLM_DIR", Path(__file__).resolve().parents[2] / "var"))
    model = make_notes_model(Settings(llm="embedded", data_dir=data_dir, llm_timeout_s=600))
    assert model.parallel == 5
    return model


@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "zh"])
def test_real_model_writes_five_grounded_notes_at_once(notes_llm, language, artifacts_dir):
    """The real 1.5B writes the five notes of an answer side by side (batched decoding): every card's words
    stream before the first note ends, each final note passes the checks and names only its own film, and most
    are the model's own (not templates)."""
    from chatbot.llm import warm_up

    writer = Copywriter(notes_llm, CatalogLexicon.from_items(CATALOG), timeout_s=600)
    warm_up(notes_llm, writer.fixed_prompts([language]))  # as the app starts: the prefix read, its pace measured
    started = time.perf_counter()
    first_delta = None
    events = []
    for event in writer.write_notes_stream(_real_items(), language):
        if first_delta is None and isinstance(event, NoteDelta):
            first_delta = time.perf_counter() - started
        events.append(event)
    elapsed = time.perf_counter() - started
    notes = sorted((e for e in events if isinstance(e, NoteDone)), key=lambda e: e.position)
    assert [e.position for e in notes] == list(range(5))
    first_done = next(k for k, e in enumerate(events) if isinstance(e, NoteDone))
    assert len({e.position for e in events[:first_done] if isinstance(e, NoteDelta)}) >= 4  # side by side
    report = {
        "language": language,
        "seconds_for_5_notes": round(elapsed, 2),
        "first_delta_s": round(first_delta, 2) if first_delta else None,
        "stats": writer.last_stats.__dict__,
        "notes": [e.note.text for e in notes],
        "sources": [e.note.source for e in notes],
        "problems": [list(e.note.problems) for e in notes],
    }
    (artifacts_dir / f"notes-at-once-real-{language}.json").write_text(json.dumps(report, ensure_ascii=False,
                                                                                  indent=2, default=str))
    print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    for request, event in zip(_real_items(), notes):
        note = event.note
        if note.source != "template":
            assert writer.checker.check(note.text, request.item, language, request.reasons) == [], note
        for other in CATALOG:  # no other film is named, unless the reasons name it (a film the person liked)
            if other.id != request.item.id and display_title(other.title) in note.text:
                assert display_title(other.title) in " ".join(request.reasons), note
    assert sum(e.note.source != "template" for e in notes) >= 3  # the model writes most notes itself
    # its pace on this machine was known before the first note: all five fit in 600 s, and it said how long
    assert writer.last_stats.not_asked == 0 and 0 < writer.last_stats.planned_s < 600
    if language == "zh":  # kept from the dot of a transliterated name and the 《》 of a translated title
        assert not any(mark in e.note.text for e in notes if e.note.source != "template" for mark in "·・•《"), notes


def test_each_note_is_kept_from_the_words_its_own_item_cannot_bear():
    """Written at once, each prompt carries the words its note may not use: the qualities its own facts do not
    support (a horror film is not "cozy", a children's comedy not "scary") and, for a film with no plot on its
    sheet, the words that begin a story; never a quality its facts support."""
    writer, fake = _writer(_answer([GOOD_EN[0]]), _answer([GOOD_EN[1]], ("Alien",)), parallel=5)
    writer.write_notes(_requests(), "en")
    toy, alien = (set(c.options["avoid"]) for c in fake.calls)
    assert {"cozy", "funny", "heartwarming"} <= alien and {"scary", "creepy", "horror"} <= toy
    assert not {"scary", "horror", "creepy"} & alien and not {"funny", "animated"} & toy
    assert "about" in alien and "story" in alien  # Alien has no plot on its sheet
    assert "about" not in toy  # Toy Story's plot is on its sheet: its note may tell it
    shot = example_notes(load_prompt("notes").render(sheets=[], language="en"))  # the example shot's two notes
    assert len(shot) == 2 and all(c.options["distinct"] == shot for c in fake.calls)  # never echoed, nor each other
    writer, fake = _writer(_answer([GOOD_ZH[0]]), _answer([GOOD_ZH[1]], ("Alien",)), parallel=5)
    writer.write_notes(_requests(), "zh")
    assert {"温馨", "搞笑"} <= set(fake.calls[1].options["avoid"]) and "恐怖" in fake.calls[0].options["avoid"]


def test_a_word_of_the_items_own_title_is_never_kept_from_its_note():
    """"The Philadelphia Story" has no plot on its sheet, but its note must still be able to write its title whole
    (kept from "Story", the 1.5B wrote "The Philadelphia", another film's title)."""
    from chatbot.llm.protocol import lower_case_only
    from chatbot.turn.notes.qualities import unwritable_words
    from retrieval.types import Item

    story = Item(id="ml:898", title="The Philadelphia Story (1940)", year=1940, genres=("Comedy", "Drama", "Romance"),
                 directors=("George Cukor",), cast=("Cary Grant", "Katharine Hepburn"))
    assert "story" not in unwritable_words(story, "en") and "about" in unwritable_words(story, "en")
    assert "story" in unwritable_words(ALIEN, "en")
    # kept only from its lower-case forms: "Light of Day" is named, "a light and breezy drama" is not written
    light = Item(id="ml:4102", title="Light of Day (1987)", year=1987, genres=("Drama",),
                 directors=("Paul Schrader",), cast=("Michael J. Fox", "Joan Jett"))
    assert lower_case_only("light") in unwritable_words(light, "en", ("you asked for: light and breezy",))
    assert lower_case_only("story") in unwritable_words(story, "en")
    # a title that writes the word in lower case keeps it free ("weeknight quick chicken curry"), as do its people's names
    curry = Item(id="r:1", title="Weeknight quick chicken curry", genres=("Drama",))
    assert not {"quick", lower_case_only("quick")} & set(unwritable_words(curry, "en", ("you asked for: quick",)))


def test_a_note_is_kept_from_praising_a_plot_its_sheet_does_not_have():
    """"剧情紧凑" (a tight plot) of a film whose sheet has no plot says its story is known: a Chinese note is kept
    from it, as from "讲述"; "剧情片" (a drama) stays free, and a film with a plot on its sheet may praise it; an
    English note is kept from "for the kids" of a film that is not for children (its genres and rating), not of
    one that is."""
    from chatbot.turn.notes.qualities import unwritable_words
    from retrieval.types import Item

    bound = Item(id="ml:1", title="Bound (1996)", year=1996, genres=("Crime", "Drama", "Romance"),
                 directors=("Lana Wachowski",), cast=("Joe Pantoliano",))
    assert {"剧情紧凑", "剧情曲折", "讲述"} <= set(unwritable_words(bound, "zh"))
    assert not {w for w in unwritable_words(bound, "zh") if "剧情片".startswith(w) or w == "剧情"}
    assert "剧情紧凑" not in unwritable_words(TOY_STORY, "zh")
    # kept from "饰演", the 1.5B wrote "饰饰的": a role it tried to give, read as one
    from chatbot.turn.notes.checker import NoteChecker
    from chatbot.text.names import CatalogLexicon

    checker = NoteChecker(CatalogLexicon.from_items([bound]))
    assert any("story" in p for p in checker.check("Joe Pantoliano 饰饰的犯罪爱情片，适合喜欢悬疑的你在周末晚上看。", bound, "zh"))
    # so the note is kept from 饰 itself where the sheet has people and no plot; a dish's garnish (装饰) stays free
    assert "饰" in unwritable_words(bound, "zh") and "饰" not in unwritable_words(TOY_STORY, "zh")
    cake = Item(id="r:1", title="Lemon Cake", attributes=(("course", "dessert"),))
    assert "饰" not in unwritable_words(cake, "zh")
    assert {"for the kids", "for children", "humor"} <= set(unwritable_words(ALIEN, "en"))
    assert "for the kids" not in unwritable_words(TOY_STORY, "en")


def test_every_note_is_kept_from_the_prompts_own_words():
    """"a sci-fi thriller that may call itself a thriller": the prompt's labels are kept from every note, in
    either language, whatever its sheet holds."""
    from chatbot.turn.notes.qualities import unwritable_words

    for item in (ALIEN, TOY_STORY):
        assert {"may call it", "picked because"} <= set(unwritable_words(item, "en"))
        assert "推荐语" in unwritable_words(item, "zh")


def test_a_chinese_note_is_kept_from_writing_names_and_titles_in_chinese():
    """The dot of "汤姆·汉克斯" and the 《》 of a translated title are kept from every Chinese note (the sheet spells
    both in Latin letters, and a Chinese name cannot be checked against it); English notes may use them."""
    from chatbot.turn.notes.qualities import unwritable_words

    assert {"\u00b7", "\u300a"} <= set(unwritable_words(ALIEN, "zh"))
    assert "\u00b7" not in unwritable_words(ALIEN, "en")



def test_a_chinese_note_is_kept_from_the_english_words_of_its_sheet_and_reasons():
    """"适合你想要的 cozy", "获得 2 项 Oscar", "ensemble喜剧": the English words of the sheet (genres, awards, the
    plot's words) and of the reasons are kept from a Chinese note, so it writes them in Chinese; the title, the
    people and a title the reasons name ("Liked The Matrix") stay writable, and English notes keep every word."""
    from chatbot.turn.notes.qualities import unwritable_words

    love = Item("ml:9", "Love Actually (2003)", 2003, ("Comedy", "Romance"), directors=("Richard Curtis",),
                cast=("Hugh Grant",), awards="Won 1 Oscar", plot="An ensemble of eight love stories in London.")
    reasons = ("you asked for: cozy", "Liked The Matrix (1999)")
    kept = set(unwritable_words(love, "zh", reasons))
    assert {"cozy", "ensemble", "comedy", "romance", "oscar"} <= kept, kept
    assert not {"love", "actually", "hugh", "grant", "richard", "curtis", "the", "matrix"} & kept, kept
    assert not {"cozy", "ensemble", "oscar"} & set(unwritable_words(love, "en", reasons))


def test_only_the_note_built_around_a_story_is_told_the_story():
    """Two films with a plot each: the note built around its plot reads it; the other, built around its lead, is
    told no story (a plot costs a prompt ~30 tokens) and is kept from telling one, so it cannot make one up."""
    from dataclasses import replace

    alien = replace(ALIEN, plot="The crew of a space tug is stalked by a deadly creature after answering a signal.")
    writer, fake = _writer(_answer([GOOD_EN[0]]), _answer([GOOD_EN[1]], ("Alien",)), parallel=5)
    writer.write_notes([NoteRequest(TOY_STORY, ("rainy evening -> cozy",)), NoteRequest(alien, ("space horror",))], "en")
    toy_prompt, alien_prompt = (c.text.split("notes.")[-1] for c in fake.calls)
    assert "cowboy doll" in toy_prompt and "what happens in its plot" in toy_prompt
    assert "space tug" not in alien_prompt and "Sigourney Weaver" in alien_prompt
    assert {"about", "story"} <= set(fake.calls[1].options["avoid"]) and "about" not in fake.calls[0].options["avoid"]
