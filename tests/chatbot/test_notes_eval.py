"""`tastebud eval notes`: the fixed requests, the scoring by code, the report files and the command's wiring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chatbot.config import Settings
from chatbot.evaluation import notes_eval
from chatbot.evaluation.notes_eval import (
    AnswerRecord,
    RecordingCopywriter,
    catalog_settings,
    check_goals,
    format_notes_table,
    load_conversations,
    score_answer,
    score_records,
    summarize,
    write_report,
)
from chatbot.text.names import CatalogLexicon
from chatbot.turn.notes.note import NoteDone, NoteRequest
from chatbot.turn.notes.writer import Copywriter
from retrieval.errors import TastebudError
from retrieval.types import Item

TOY_STORY = Item(id="ml:1", title="Toy Story (1995)", year=1995, genres=("Adventure", "Animation", "Children", "Comedy"),
                 directors=("John Lasseter",), cast=("Tom Hanks", "Tim Allen"), age_rating="G", runtime_min=81,
                 awards="Won 1 Oscar. Nominated for 2 Oscars.")
ALIEN = Item(id="ml:1214", title="Alien (1979)", year=1979, genres=("Horror", "Sci-Fi"), directors=("Ridley Scott",),
             cast=("Sigourney Weaver",), age_rating="R", runtime_min=117)
KIDS = "kids → family-friendly (PG at most, no horror or thrillers)"
LIKED = "like Speed, which you liked"
GOOD_EN = ["Tom Hanks voices a cowboy doll in John Lasseter's funny adventure, one to share with your kids tonight.",
           "Ridley Scott's sci-fi horror leaves Sigourney Weaver alone in the dark, close to Speed, which you liked."]


@pytest.fixture(autouse=True)
def _films_served():
    """Each test scores as a process serving films (another test may have left a schema catalog served)."""
    from chatbot.turn.replies import use_catalog

    use_catalog(None)
    yield
    use_catalog(None)


def _record(notes: list[str], language: str = "en", system: str = "notes", sources: list[str] | None = None
            ) -> AnswerRecord:
    """An answer of two films with these notes."""
    return AnswerRecord("c", 0, language, system, [TOY_STORY, ALIEN], [(KIDS,), (LIKED,)], notes,
                        sources or ["llm", "llm"], 1.0, 5.0)


def _has_cjk(text: str) -> bool:
    """True when the text holds a Chinese character."""
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.parametrize("catalog, words", [
    ("films", (["loved", "liked", "喜欢"], ["kids", "孩子"], ["rain", "pouring", "下雨", "snowy"], ["late", "深夜"],
               ["girlfriend", "partner", "女朋友"], ["friends", "朋友"])),
    ("recipes", (["kids", "孩子"], ["rain", "下雨", "snowing"], ["late", "深夜"], ["vegetarian", "vegan", "素"],
                 ["no dairy", "不要奶制品"], ["less cooking time", "省时"], ["不辣的汤，给老人吃"])),
])
def test_the_fixed_requests_cover_what_the_issue_asks(catalog, words):
    """At least 40 conversations per catalog, in both languages, with companions, weather, time and refinements."""
    conversations = load_conversations(catalog)
    assert len(conversations) >= 40 and len({c.id for c in conversations}) == len(conversations)
    texts = [t for c in conversations for t in c.turns]
    first = [c.turns[0] for c in conversations]
    assert sum(map(_has_cjk, first)) >= 15 and sum(not _has_cjk(t) for t in first) >= 15
    assert sum(len(c.turns) > 1 for c in conversations) >= 6  # refinements
    for options in words:
        assert any(w in t for t in texts for w in options), options


def test_an_unknown_catalog_is_refused_naming_the_ones_with_requests():
    """A catalog without a requests file says which catalogs have one."""
    with pytest.raises(TastebudError, match="films, recipes"):
        load_conversations("books")


def test_the_recipes_run_serves_the_recipes_catalog():
    """`--catalog recipes` runs on a copy of the settings with the catalog changed (its own data dir)."""
    films = Settings(data_dir="var", llm="fake")
    recipes = catalog_settings(films, "recipes")
    assert recipes.catalog == "recipes" and films.catalog == "films"
    assert recipes.resolved_data_dir == films.resolved_data_dir / "recipes"
    assert catalog_settings(films, "films") is films


def test_an_unsupported_claim_is_counted_and_a_shared_skeleton_found():
    """A claim the facts do not bear out is listed per note; the 4-grams two notes share are the answer's."""
    good = score_answer(_record(GOOD_EN))
    assert [s["unsupported"] for s in good.scores] == [[], []] and good.shared == []
    assert all(s["specific"] and s["in_range"] for s in good.scores), good.scores
    bad = score_answer(_record(["A cozy pick you will want to talk about for days, perfect for tonight.",
                                "A cozy pick you will want to talk about for days, perfect for tonight too."]))
    assert bad.scores[1]["unsupported"] == ["cozy (cozy)"] and bad.scores[0]["unsupported"] == []
    assert not bad.scores[0]["specific"] and "talk about for days" in bad.shared


def test_a_note_saying_a_word_twice_is_counted():
    """"a cozy, funny, cozy story for a cozy heart" is padding a reader notices: the note is counted, its own
    names (said twice as often as not) aside."""
    padded = score_answer(_record(["Tom Hanks stars in a cozy, funny, cozy story for a cozy heart and Tom Hanks fans.",
                                   GOOD_EN[1]]))
    assert [s["repeats"] for s in padded.scores] == [["cozy"], []]
    assert summarize([padded])["repeating_a_word"] == 0.5


def test_chinese_notes_count_characters_and_flag_english_words():
    """A Chinese note's length is in characters; English words that are not names are the wrong language, while
    the item's people and a liked title from the reasons are names."""
    zh = score_answer(_record(["Tom Hanks 配音的 cozy 动画冒险，好笑又温馨，可以和孩子一起看，适合今晚。",
                               "Ridley Scott 执导的科幻恐怖片，Sigourney Weaver 主演，和你喜欢的 Speed 很接近。"], "zh"))
    assert zh.scores[0]["foreign_words"] == ["cozy"] and zh.scores[1]["foreign_words"] == []
    assert zh.scores[0]["length"] == 31  # 24 Chinese characters, and Tom, Hanks, cozy as half their letters: 2, 3, 2
    en = score_answer(_record(GOOD_EN))
    assert en.scores[0]["length"] == 18 and en.scores[0]["foreign_words"] == []


def test_summary_and_goals():
    """The figures per system and the goals of issue 15 for today's notes."""
    cozy = "A cozy pick you will want to talk about for days, perfect for tonight."
    records = [score_answer(_record([GOOD_EN[0], cozy], sources=["llm", "template"]))]
    figures = summarize(records)
    assert figures["notes"] == 2 and figures["unsupported_claims"] == 1 and figures["llm_written"] == 0.5
    assert figures["specific"] == 0.5 and figures["first_words_s"]["p50"] == 1.0
    assert figures["by_language"]["en"]["notes"] == 2 and figures["by_language"]["zh"]["median_length"] is None
    goals = check_goals(figures)
    assert not goals["unsupported_claims"]["met"] and not goals["llm_written"]["met"]
    assert goals["first_words_p50_s"]["met"] and goals["last_note_p50_s"]["met"]
    assert goals["median_length_in_range"]["met"]
    few = check_goals(summarize([score_answer(_record(GOOD_EN))]))
    assert not few["unsupported_claims"]["met"]  # no claim, but fewer than 200 notes: not yet shown


def test_a_film_whose_sheet_names_nothing_is_counted_apart():
    """A film with no person, plot or award on its sheet can only be named by its genre: the specificity over the
    films whose sheet has something to name is shown beside the specificity over all notes."""
    bare = Item(id="ml:9", title="Get Your Stuff (2000)", year=2000, genres=("Comedy", "Drama"))
    record = AnswerRecord("c", 0, "en", "notes", [TOY_STORY, bare], [(KIDS,), (KIDS,)],
                          [GOOD_EN[0], "A warm, funny comedy to watch with the people you love tonight."],
                          ["llm", "llm"], 1.0, 5.0)
    figures = summarize([score_answer(record)])
    assert figures["specific"] == 0.5 and figures["sheet_has_facts"] == 0.5
    assert figures["specific_where_sheet_has_facts"] == 1.0


def test_a_wish_the_person_never_made_and_their_mood_said_of_the_film_count_as_unsupported():
    """"The horror film you asked for" to parents of small children, "a grumpy adventure" to someone grumpy: both
    are claims the person's own words do not bear out, counted with the checker's functions."""
    reasons = [(KIDS, "you asked for: something for my grumpy kids"), (LIKED,)]
    notes = ["Tom Hanks and Tim Allen in John Lasseter's grumpy adventure, one to share with your kids tonight.",
             "Ridley Scott's tense sci-fi horror with Sigourney Weaver: the horror film you asked for, close to Speed."]
    record = AnswerRecord("c", 0, "en", "notes", [TOY_STORY, ALIEN], reasons, notes, ["llm", "llm"], 1.0, 5.0)
    first, second = score_answer(record).scores
    assert any("their mood" in u for u in first["unsupported"])
    assert any("not asked" in u for u in second["unsupported"])
    assert not score_answer(_record(GOOD_EN)).scores[1]["unsupported"]


def test_report_table_json_and_figure(tmp_path):
    """The table names every system; the JSON holds every note; the PNG is written."""
    records = [_record(GOOD_EN, system=s) for s in ("notes", "brief", "templates")]
    report = score_records(records)
    report.update(catalog="films", skipped={})
    table = format_notes_table(report)
    assert "| | notes | brief | templates |" in table and "unsupported claims" in table
    json_path, png_path = write_report(report, tmp_path)
    assert json_path == tmp_path / "reports" / "notes-eval-films.json" and png_path.stat().st_size > 1000
    saved = json.loads(json_path.read_text(encoding="utf-8"))
    assert len(saved["answers"]) == 3 and saved["answers"][0]["notes"][0]["title"] == "Toy Story (1995)"


class _StubAgent:
    """An agent that answers every message with two cards and writes their notes through its copywriter."""

    def __init__(self, copywriter: Any) -> None:
        """Made by the harness from its parts (here only the copywriter)."""
        self.copywriter = copywriter

    def warm_up(self) -> float:
        """Nothing to load."""
        return 0.0

    def respond(self, session: str | None, message: str) -> Iterator[Any]:
        """Items, then the notes as the copywriter writes them, then done (the agent's event kinds)."""
        from chatbot.turn.events import Card, Items, NoteDelta, NoteFinal, ReplyEvent
        from chatbot.turn.notes.note import NoteDelta as WriterDelta

        cards = (Card.of(TOY_STORY), Card.of(ALIEN))
        yield ReplyEvent.of(Items(cards))
        requests = [NoteRequest(TOY_STORY, (KIDS,)), NoteRequest(ALIEN, (LIKED,))]
        for event in self.copywriter.write_notes_stream(requests, "zh" if "孩子" in message else "en"):
            if isinstance(event, WriterDelta):
                yield ReplyEvent.of(NoteDelta(position=event.position + 1, delta=event.text_delta))
            elif isinstance(event, NoteDone):
                yield ReplyEvent.of(NoteFinal(position=event.position + 1, final=event.note.text))
        yield _DoneEvent(cards)


class _DoneEvent:
    """A minimal done event (what the benchmark reads of it: the session id and the items)."""

    kind = "done"
    payload = None

    def __init__(self, cards: tuple[Any, ...]) -> None:
        """The done data of an answer with these cards."""
        self.data = {"session_id": "s1", "items": [c.id for c in cards]}


class _BriefWriter:
    """A brief copywriter that streams one scripted short note per item, as if the LLM wrote it."""

    def write_notes_stream(self, requests: list[NoteRequest], language: str = "en") -> Iterator[Any]:
        """A delta, then the final note, per item."""
        from chatbot.turn.notes.note import Note, NoteDelta

        for i, request in enumerate(requests):
            text = f"A fine pick: {request.item.title}."
            yield NoteDelta(i, text)
            yield NoteDone(i, Note(request.item.id, text, (), "llm"))


def _stub_harness(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The harness opens the stub agent (template notes); the brief copywriter is a scripted one. Returns the
    settings the agent was opened with."""
    lexicon = CatalogLexicon.from_items([TOY_STORY, ALIEN])
    opened: list[Settings] = []

    def open_agent(settings: Settings, **options: Any) -> _StubAgent:
        opened.append(settings)
        return _StubAgent(Copywriter(None, lexicon))

    monkeypatch.setattr("chatbot.evaluation.harness.open_agent", open_agent)
    monkeypatch.setattr("chatbot.evaluation.harness.derive_agent", lambda b, **parts: _StubAgent(parts["copywriter"]))
    monkeypatch.setattr("chatbot.evaluation.notes_eval.brief_copywriter", lambda copywriter, models=None: _BriefWriter())
    return opened


def test_a_run_scores_every_system_on_the_same_items_and_writes_the_report(monkeypatch, tmp_path):
    """Each request runs through the agent; the baselines write notes for exactly the items and reasons the notes
    step was asked for; the report's JSON and PNG land in the data dir's reports folder."""
    opened = _stub_harness(monkeypatch)
    report = notes_eval.run_notes_eval(Settings(data_dir=tmp_path, llm="fake"), catalog="recipes", limit=2,
                                       progress=False)
    assert opened[0].catalog == "recipes" and report["catalog"] == "recipes" and report["conversations"] == 2
    assert list(report["systems"]) == ["notes", "brief", "templates"] and report["skipped"] == {}
    assert report["systems"]["notes"]["notes"] == report["systems"]["templates"]["notes"] == 4
    assert report["systems"]["brief"]["llm_written"] == 1.0 and report["systems"]["notes"]["llm_written"] == 0.0
    assert {tuple(n["title"] for n in a["notes"]) for a in report["answers"]} == {("Toy Story (1995)", "Alien (1979)")}
    assert set(report["goals"]) >= {"specific", "first_words_p50_s", "last_note_p50_s", "llm_written"}
    json_path, png_path = write_report(report, tmp_path)
    assert json_path.name == "notes-eval-recipes.json" and png_path.name == "notes-eval-recipes.png"
    assert png_path.stat().st_size > 1000 and json.loads(json_path.read_text(encoding="utf-8"))["catalog"] == "recipes"


def test_without_baselines_only_todays_notes_are_scored(monkeypatch, tmp_path):
    """--no-baseline scores today's notes only."""
    _stub_harness(monkeypatch)
    settings = Settings(data_dir=tmp_path, llm="fake")
    alone = notes_eval.run_notes_eval(settings, baseline=False, limit=1, progress=False)
    assert list(alone["systems"]) == ["notes"] and alone["skipped"] == {}


def test_recording_copywriter_passes_everything_through():
    """The recorder is the agent's copywriter for everything but keeping what it was asked; parts the agent sets on
    it (its LLM gate) reach the wrapped copywriter."""
    inner = Copywriter(None, CatalogLexicon.from_items([TOY_STORY, ALIEN]))
    recorder = RecordingCopywriter(inner)
    events = list(recorder.write_notes_stream([NoteRequest(TOY_STORY, (KIDS,))], "en"))
    assert isinstance(events[-1], NoteDone) and recorder.asked[0][1] == "en" and recorder.notes[0][0].source == "template"
    assert recorder.last_stats is inner.last_stats and recorder.describe_item(TOY_STORY).startswith("Toy Story")
    gate = object()
    recorder.gate = gate
    assert inner.gate is gate and "gate" not in vars(recorder)


def test_the_command_line_routes_eval_notes(monkeypatch):
    """`tastebud eval notes --catalog recipes --json` runs the notes benchmark; `tastebud eval --json` stays the
    ranking evaluation."""
    from chatbot.doors.cli import build_parser, ranking

    called = []
    monkeypatch.setattr(ranking, "_cmd_eval", lambda args, settings: called.append("ranking") or 0)
    monkeypatch.setattr("chatbot.doors.cli.notes._cmd_eval_notes", lambda args, settings: called.append("notes") or 0)
    parser = build_parser()
    args = parser.parse_args(["eval", "notes", "--catalog", "recipes", "--json"])
    assert args.what == "notes" and args.catalog == "recipes" and args.json and not args.no_baseline
    args.handler(args, None)
    args = parser.parse_args(["eval", "notes", "--limit", "2", "--conversation", "en-date-night", "--no-baseline"])
    assert args.limit == 2 and args.conversation == ["en-date-night"] and args.no_baseline
    args = parser.parse_args(["eval", "--json"])
    assert args.what is None and args.dataset == "ml-latest-small"
    args.handler(args, None)
    assert called == ["notes", "ranking"]
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "notes", "--catalog", "books"])
