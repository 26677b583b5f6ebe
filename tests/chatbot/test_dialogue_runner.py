"""The dialogue runner against a scripted fake agent: checks pass and fail for the right reasons, bad scripts
name their file and line, every dialogue gets its own profile store, and the CLI prints and exits accordingly."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from chatbot.turn.context import FixedWeatherProvider, OfflineWeatherProvider
from chatbot.evaluation.dialogues.runner import DialogueRunner
from chatbot.evaluation.harness import DownWeatherProvider
from chatbot.evaluation.dialogues.script import ScriptError, load_script
from chatbot.evaluation.dialogues.checks import TitleFinder, match_understood
from chatbot.profiles import ProfileStore
from retrieval.errors import ContextUnavailable, TastebudError
from retrieval.types import Item

CATALOG = {
    it.id: it
    for it in (
        Item("ml:1", "Toy Story", 1995, ("Animation", "Children", "Comedy"), 81, "G", ("John Lasseter",)),
        Item("ml:2", "Paddington", 2014, ("Children", "Comedy"), 95, "PG"),
        Item("ml:3", "My Neighbor Totoro", 1988, ("Animation", "Children"), 86, "G"),
        Item("ml:4", "The Shining", 1980, ("Horror", "Thriller"), 146, "R", ("Stanley Kubrick",)),
        Item("ml:5", "Alien", 1979, ("Horror", "Sci-Fi"), 117, "R", ("Ridley Scott",)),
        Item("ml:6", "Groundhog Day", 1993, ("Comedy", "Romance"), 101, "PG"),
        Item("ml:7", "Amelie", 2001, ("Comedy", "Romance"), 122, "R", languages=("French",), countries=("France",)),
        Item("ml:8", "Heat", 1995, ("Action", "Crime"), 170, "R", ("Michael Mann",)),
        Item("ml:9", "The Iron Giant", 1999, ("Animation", "Children"), 86, "PG"),
        Item("ml:10", "Hook", 1991, ("Adventure", "Children"), 142, "PG"),
    )
}
WORDS = {"kids": ("Children",), "funny": ("Comedy",), "scary": ("Horror",), "romantic": ("Romance",),
         "action": ("Action",), "孩子": ("Children",)}


@dataclass(frozen=True)
class Event:
    """Same shape as chatbot.turn.agent.ReplyEvent."""

    kind: str
    data: dict[str, Any]


@dataclass
class FakeAgent:
    """The agent's doors over CATALOG: keyword matching, sessions and feedback in a real ProfileStore."""

    profiles: ProfileStore
    weather: Any = field(default_factory=OfflineWeatherProvider)
    clock: Any = None
    ranking: str = "full"
    write_notes: bool = True
    scorer: Any = None
    items: dict[str, Item] = field(default_factory=lambda: dict(CATALOG))
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    stray_title: str | None = None  # a title the reply names although it is not an item

    def respond(self, session_id: str | None, message: str, profile_id: str | None = None) -> Iterator[Event]:
        """understood, items, notes, done."""
        if session_id is None:
            profile_id = self.profiles.ensure_profile(profile_id)
            session_id = self.profiles.new_session(profile_id)
            self.sessions[session_id] = {"genres": [], "shown": [], "place": None, "weather": None, "last": []}
        s = self.sessions[session_id]
        owner = self.profiles.session_profile(session_id)
        low = message.lower()
        zh = bool(re.search(r"[\u4e00-\u9fff]", message))
        for word, genres in WORDS.items():
            if word in low:
                s["genres"] += [g for g in genres if g not in s["genres"]]
        if "seattle" in low or "西雅图" in message:
            s["place"] = "Seattle"
            try:
                s["weather"] = self.weather.current(None).condition
            except ContextUnavailable:
                s["weather"] = None
        if "pouring" in low:
            s["weather"] = "rain"
        understood = {"intent": "recommend", "location": s["place"], "companions": ["kids"] if "kids" in low else [],
                      "weather": {"condition": s["weather"], "source": "live", "temperature_c": None},
                      "liked": [CATALOG[i].title for i in self.profiles.liked(owner)], "filters": {}}
        yield Event("understood", understood)
        if "tell me more about the second" in low:
            about = s["last"][1]
            yield Event("done", {"session_id": session_id, "profile_id": owner, "reply": f"{about['title']} is...",
                                 "language": "en", "understood": understood, "items": [], "about_item": about})
            return
        if not s["genres"]:
            understood["clarifying_question"] = True
            reply = "你想看什么样的电影？" if zh else "What kind of film are you in the mood for?"
            yield Event("done", {"session_id": session_id, "profile_id": owner, "reply": reply,
                                 "language": "zh" if zh else "en", "understood": understood, "items": []})
            return
        disliked = set(self.profiles.disliked(owner))
        liked = self.profiles.liked(owner)
        pool = [it for it in CATALOG.values() if set(it.genres) & set(s["genres"])
                and it.id not in s["shown"] and it.id not in disliked]
        if "kids" in s["genres"] or "Children" in s["genres"]:
            pool = [it for it in pool if it.age_rating in ("G", "PG")]
        pool.sort(key=lambda it: (it.id not in liked, int(it.id.split(":")[1])))
        cards = [{"id": it.id, "title": it.title, "year": it.year, "genres": list(it.genres),
                  "age_rating": it.age_rating, "runtime_min": it.runtime_min, "why": []} for it in pool[:3]]
        yield Event("items", {"items": cards})
        for n in range(1, len(cards) + 1):
            yield Event("note", {"position": n, "delta": "A good pick."})
        s["shown"] += [c["id"] for c in cards]
        s["last"] = cards
        lines = [("给你这些：" if zh else "Here are some ideas:")] + [f"{n}. {c['title']}" for n, c in enumerate(cards, 1)]
        if self.stray_title:
            lines.append(f"You could also try {self.stray_title}.")
        yield Event("done", {"session_id": session_id, "profile_id": owner, "reply": "\n".join(lines),
                             "language": "zh" if zh else "en", "understood": understood, "items": cards})

    def feedback(self, session_id: str, item_id: str, signal: str) -> dict[str, Any]:
        """Record feedback for a shown item."""
        if item_id not in self.sessions[session_id]["shown"]:
            raise TastebudError(f"item {item_id!r} was not shown")
        self.profiles.add_feedback(self.profiles.session_profile(session_id), session_id, item_id, signal)
        return {"ok": True}


@pytest.fixture
def agent(tmp_path: Path) -> FakeAgent:
    """A fake agent whose own store must never be written by the runner (each dialogue gets a fresh one)."""
    return FakeAgent(ProfileStore.open(tmp_path / "base"))


@pytest.fixture
def runner(agent: FakeAgent) -> DialogueRunner:
    """A runner over the fake agent; ml-user:42 liked Hook."""
    return DialogueRunner(agent, dict(CATALOG), warm_likes=lambda user: ["ml:10"] if user == "ml-user:42" else [])


def write(tmp_path: Path, name: str, text: str) -> Path:
    """A script file."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
name: rainy night with kids
profile: new
weather: {condition: rain, temperature_c: 8}
turns:
  - user: "I'm in Seattle, something for my kids tonight"
    expect:
      understood: {location: seattle, companions: [Kids], weather: rain}
      items: {min: 3, max: 6}
      all_items: {age_rating: {$in: [G, PG]}, genres: {$nin: [Horror, Thriller]}}
      some_item: {genres: {$contains: Animation}}
      reply_language: en
      grounded: true
  - feedback: {item: 1, signal: dislike}
  - user: "more for the kids please"
    expect:
      none_of: [previous:1, {genres: {$contains: Horror}}]
      no_repeat: true
      reply_contains_any: ["ideas", "similar"]
      reply_not_contains: ["Shining"]
  - user: "tell me more about the second one"
    expect:
      describes: previous:2
      items: 0
"""


def test_a_conversation_that_meets_every_expectation_passes(tmp_path, runner, agent):
    outcome = runner.run(load_script(write(tmp_path, "good.yaml", GOOD)))
    assert [t.failures for t in outcome.turns] == [(), (), (), ()]
    assert outcome.passed
    assert outcome.turns[0].titles == ("Toy Story", "Paddington", "My Neighbor Totoro")
    assert "Toy Story" not in outcome.turns[2].titles  # the disliked film never came back
    with sqlite3.connect(agent.profiles.path) as conn:  # the base store was not used: each dialogue has its own
        assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)


def test_failed_checks_say_which_items_broke_them_and_the_line(tmp_path, runner):
    script = write(tmp_path, "bad.yaml", """
name: wrong expectations
turns:
  - user: "something funny"
    expect:
      all_items: {age_rating: {$in: [G]}}
      some_item: {genres: {$contains: Horror}}
      items: {min: 5}
      understood: {location: Paris}
      reply_language: zh
""")
    outcome = runner.run(load_script(script))
    assert not outcome.passed
    failures = outcome.turns[0].failures
    assert len(failures) == 6
    assert failures[0].startswith("all_items (line 6)") and "Paddington, Groundhog Day" in failures[0]
    assert "no item passes" in failures[1]
    assert "expected at least 5 items, got 3" in failures[2]
    assert "understood.location is None, expected 'Paris'" in failures[3]
    assert "reply language is 'en'" in failures[4]
    assert "expected a Chinese reply, got 'Here are some ideas:" in failures[5]


def test_grounded_fails_when_the_reply_names_a_catalog_film_that_is_not_shown(tmp_path, runner, agent):
    agent.stray_title = "The Shining"
    script = write(tmp_path, "g.yaml", "name: g\nturns:\n  - user: funny\n    expect: {grounded: true}\n")
    outcome = runner.run(load_script(script))
    assert outcome.turns[0].failures == (
        "grounded (line 4): the reply names films that are not among its items: The Shining",)


def test_title_finder_ignores_prose_and_titles_inside_shown_titles():
    finder = TitleFinder([Item("a", "Heat"), Item("b", "Alien"), Item("c", "Aliens"), Item("d", "Up"),
                          Item("e", "Toy Story"), Item("f", "Toy Story 2"), Item("g", "Rush"), Item("h", "1984")])
    text = ("Heat waves are coming.\n1. Toy Story 2 (1984): up and away, with Geoffrey Rush. "
            "Like Alien, only warmer.")
    assert finder.ungrounded(text, ["Toy Story 2"]) == ["Alien"]
    assert finder.ungrounded(text, ["Toy Story 2", "Alien"]) == []


def test_grounded_reads_a_directors_name_as_a_person_not_as_the_film_inside_it(tmp_path, agent):
    """A reply naming Brad Bird or Alfred Hitchcock names no film "The Birds" or "Hitchcock"; the films do count."""
    extra = [Item("ml:1333", "Birds, The (1963)", 1963, ("Horror",), directors=("Alfred Hitchcock",)),
             Item("ml:99149", "Hitchcock (2012)", 2012, ("Drama",), directors=("Sacha Gervasi",)),
             Item("ml:8961", "Incredibles, The (2004)", 2004, ("Animation",), directors=("Brad Bird",))]
    runner = DialogueRunner(agent, {**CATALOG, **{it.id: it for it in extra}}, warm_likes=lambda user: [])
    script = write(tmp_path, "g.yaml", "name: g\nturns:\n  - user: funny\n    expect: {grounded: true}\n")
    for stray in ("anything with Brad Bird's touch", "something Alfred Hitchcock would enjoy",
                  "Brad Bird执导的作品"):
        agent.stray_title = stray
        assert runner.run(load_script(script)).turns[0].failures == (), stray
    agent.stray_title = "Brad Bird's best, or The Birds for a scare"
    assert runner.run(load_script(script)).turns[0].failures == (
        "grounded (line 4): the reply names films that are not among its items: The Birds",)


def test_title_finder_tells_names_from_titles_in_english_and_chinese():
    finder = TitleFinder([Item("a", "Birds, The (1963)", directors=("Alfred Hitchcock",)),
                          Item("b", "Incredibles, The (2004)", directors=("Brad Bird",)),
                          Item("c", "Cruise, The (1998)"), Item("d", "Mission: Impossible (1996)", cast=("Tom Cruise",))])
    reply = ("1. The Incredibles: Brad Bird's superhero family at full tilt.\n"
             "2. Mission: Impossible: Tom Cruise on a wire, Brian De Palma at his slickest.")
    assert finder.ungrounded(reply, ["The Incredibles", "Mission: Impossible"]) == []
    reply_zh = "给你这些：\n1. The Incredibles：Brad Bird 执导的超级英雄动画。\n2. Mission: Impossible：Tom Cruise主演。"
    assert finder.ungrounded(reply_zh, ["The Incredibles", "Mission: Impossible"]) == []
    assert finder.ungrounded(reply + " Or The Cruise.", ["The Incredibles", "Mission: Impossible"]) == ["The Cruise"]


def test_title_finder_reads_a_genre_name_as_the_genre():
    """The reasons name genres ("Comedy, Romance as you asked"); "Romance" (1999) is then no film named."""
    finder = TitleFinder([Item("a", "Romance (1999)", genres=("Drama", "Romance")),
                          Item("b", "Trainwreck (2015)", genres=("Comedy", "Romance")), Item("c", "Hitch (2005)")])
    reply = "1. Trainwreck (2015): a comedy, romance film. Picked for you: Comedy, Romance as you asked."
    assert finder.ungrounded(reply, ["Trainwreck"]) == []
    assert finder.ungrounded("给你这些：\n1. Trainwreck：按你的要求：Romance。", ["Trainwreck"]) == []
    assert finder.ungrounded(reply + " Or try Hitch.", ["Trainwreck"]) == ["Hitch"]


def test_title_finder_reads_an_award_on_the_items_sheet_as_the_award():
    """ "Won 5 Oscars" on Schindler's List's sheet: a note saying so names no film "Oscar" (1991); another title does."""
    finder = TitleFinder([Item("a", "Oscar (1991)"), Item("b", "Schindler's List (1993)", awards="Won 5 Oscars."),
                          Item("c", "Munich (2005)")])
    reply = "1. Schindler's List: Spielberg's Oscar-winning drama, five Oscars in all."
    assert finder.ungrounded(reply, ["Schindler's List"], ["Won 5 Oscars."]) == []
    assert finder.ungrounded(reply, ["Schindler's List"]) == ["Oscar"]
    assert finder.ungrounded(reply + " Or try Munich.", ["Schindler's List"], ["Won 5 Oscars."]) == ["Munich"]


def test_a_lists_numbers_start_no_title():
    """ "3. Iron Man" in an answer's list names Iron Man, not the film "3-Iron" (2004); written as a title it is one."""
    finder = TitleFinder([Item("a", "3-Iron (2004)"), Item("b", "Iron Man (2008)"), Item("c", "Inception (2010)")])
    reply = "Here are 3 picks:\n1. Inception (2010): a heist in dreams.\n2) Inception again\n3. Iron Man (2008): Jon Favreau."
    assert finder.ungrounded(reply, ["Inception", "Iron Man"]) == []
    assert finder.ungrounded("给你这些：\n3. Iron Man：Jon Favreau 执导的动作片。", ["Iron Man"]) == []
    assert finder.ungrounded(reply + " Or Kim Ki-duk's 3-Iron.", ["Inception", "Iron Man"]) == ["3-Iron"]


def test_clarifying_question_and_chinese_reply(tmp_path, runner):
    script = write(tmp_path, "zh.yaml", """
name: vague in Chinese
turns:
  - user: "推荐一部电影"
    expect: {clarifying_question: true, reply_language: zh, items: 0}
  - user: "和孩子一起看"
    expect: {clarifying_question: false, reply_language: zh, items: {min: 1}}
""")
    outcome = runner.run(load_script(script))
    assert outcome.passed, outcome.lines()


def test_weather_and_clock_come_from_the_script(tmp_path, runner):
    fixed = load_script(write(tmp_path, "w.yaml", """
name: live weather
weather: {condition: snow, temperature_c: -3}
now: 2024-01-05T20:00:00Z
turns:
  - user: "in Seattle with the kids"
    expect: {understood: {weather: snow}}
"""))
    assert fixed.now == datetime(2024, 1, 5, 20, tzinfo=timezone.utc)
    assert runner.run(fixed).passed
    down = load_script(write(tmp_path, "d.yaml", """
name: weather down
weather: down
turns:
  - user: "in Seattle with the kids"
    expect: {understood: {weather: null}}
"""))
    assert runner.run(down).passed
    with pytest.raises(ContextUnavailable):
        DownWeatherProvider().current(None)
    assert isinstance(FixedWeatherProvider({"condition": "snow"}).current(None).condition, str)


def test_each_dialogue_gets_its_own_profile_store(tmp_path, runner):
    first = write(tmp_path, "a.yaml", """
name: dislike Toy Story
turns:
  - user: kids
  - feedback: {item: 1, signal: dislike}
""")
    second = write(tmp_path, "b.yaml", """
name: fresh person
turns:
  - user: kids
    expect: {some_item: {title: Toy Story}}
""")
    outcomes = list(runner.run_paths([first, second]))
    assert [o.passed for o in outcomes] == [True, True]


def test_warm_start_seeds_the_profile_with_the_users_liked_films(tmp_path, runner):
    script = write(tmp_path, "warm.yaml", """
name: warm start
profile: ml-user:42
turns:
  - user: kids
    expect: {understood: {liked: [Hook]}, some_item: {id: "ml:10"}}
""")
    assert runner.run(load_script(script)).passed
    unknown = write(tmp_path, "nobody.yaml", "name: n\nprofile: ml-user:7\nturns:\n  - user: kids\n")
    outcome = runner.run(load_script(unknown))
    assert not outcome.passed and "no liked films for ml-user:7" in outcome.error


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("name: x\nturns:\n  - user: hi\n    expect:\n      vibes: good\n", 5, "unknown check 'vibes'"),
        ("name: x\nturns:\n  - user: hi\n    expect:\n      all_items: {year: {$around: 1990}}\n", 5,
         "unknown operator '$around'"),
        ("name: x\nturns:\n  - user: hi\n    expect:\n      all_items: {colour: red}\n", 5, "unknown field 'colour'"),
        ("name: x\nturns:\n  - user: hi\n    expect: {items: 3]\n  - user: there\n", 4, "not valid YAML"),
        ("name: x\nturns:\n  - feedback: {item: 1, signal: dislike}\n", 3, "needs an earlier `user` turn"),
        ("name: x\nturns:\n  - user: hi\n  - feedback: {item: 0, signal: like}\n", 4, "1-based position"),
        ("name: x\nturns:\n  - user: hi\n  - feedback: {item: 1, signal: love}\n", 4, "like, dislike, seen"),
        ("name: x\nprofile: bob\nturns:\n  - user: hi\n", 2, "profile must be `new`"),
        ("name: x\nweather: {condition: drizzle}\nturns:\n  - user: hi\n", 2, "weather condition must be one of"),
        ("name: x\nturn:\n  - user: hi\n", 2, "unknown key 'turn'"),
    ],
)
def test_bad_scripts_name_the_file_the_line_and_why(tmp_path, text, line, reason):
    path = write(tmp_path, "broken.yaml", text)
    with pytest.raises(ScriptError) as err:
        load_script(path)
    assert err.value.line == line
    assert reason in err.value.reason
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_a_broken_script_is_reported_and_the_others_still_run(tmp_path, runner):
    write(tmp_path, "1-broken.yaml", "name: x\nturns:\n  - user: hi\n    expect: {vibes: good}\n")
    write(tmp_path, "2-good.yaml", "name: ok\nturns:\n  - user: funny\n    expect: {items: {min: 1}}\n")
    write(tmp_path, "3-too-far.yaml", "name: far\nturns:\n  - user: funny\n  - feedback: {item: 9, signal: like}\n")
    outcomes = list(runner.run_paths([tmp_path]))
    assert [o.passed for o in outcomes] == [False, True, False]
    assert "1-broken.yaml:4: unknown check 'vibes'" in outcomes[0].error
    assert outcomes[2].turns[1].failures == (
        f"{tmp_path / '3-too-far.yaml'}:4: feedback points at item 9, but the last answer showed 3 item(s)",)


def test_understood_subset_match_rules():
    actual = {"location": "Seattle", "weather": {"condition": "rain", "source": "live"},
              "companions": ["kids", "partner"], "filters": {"genres_none": ["Horror"], "max_age_rating": "PG"},
              "mood": None}
    assert match_understood({"location": "SEATTLE", "weather": "Rain", "companions": ["KIDS"],
                             "filters": {"genres_none": ["horror"]}, "mood": None}, actual) == []
    assert match_understood({"weather": {"source": "stated"}}, actual) == [
        "understood.weather.source is 'live', expected 'stated'"]
    assert match_understood({"companions": ["friends"], "occasion": "date"}, actual) == [
        "understood.companions is ['kids', 'partner'], missing ['friends']", "understood.occasion is missing"]


def test_cli_prints_each_turn_and_exits_non_zero_on_failure(tmp_path, monkeypatch, capsys, agent):
    from chatbot.doors import cli
    from chatbot.evaluation import harness
    from chatbot.evaluation.dialogues.runner import DialogueRunner

    monkeypatch.setattr(harness, "open_agent", lambda settings, **kw: agent)
    monkeypatch.setattr(DialogueRunner, "warm_likes", lambda self, user: ["ml:10"])
    good = write(tmp_path, "good.yaml", GOOD)
    assert cli.main(["dialogue-test", str(good)]) == 0
    out = capsys.readouterr().out
    assert "PASS rainy night with kids" in out and "1 passed, 0 failed" in out
    bad = write(tmp_path, "bad.yaml", "name: b\nturns:\n  - user: funny\n    expect: {items: {max: 1}}\n")
    assert cli.main(["dialogue-test", str(good), str(bad), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["passed"], report["failed"]) == (1, 1)
    assert report["dialogues"][1]["turns"] == [
        {"n": 1, "passed": False, "failures": ["items (line 4): expected 0–1 items, got 3"], "kind": "user",
         "text": "funny", "items": ["Toy Story", "Paddington", "Groundhog Day"]}]
    assert cli.main(["dialogue-test", str(tmp_path / "missing.yaml")]) == 2
    assert "no dialogue script or folder" in capsys.readouterr().err


def test_warm_start_history_and_comparisons_with_the_previous_answer(tmp_path, runner):
    warm = write(tmp_path, "warm.yaml", """
name: warm start shows an already liked film
profile: ml-user:42
turns:
  - user: kids
    expect: {not_in_history: true}
""")
    assert runner.run(load_script(warm)).turns[0].failures == (
        "not_in_history (line 6): films this person already liked: Hook",)
    longer = write(tmp_path, "longer.yaml", """
name: the second answer is longer
turns:
  - user: funny
  - user: more funny
    expect:
      than_previous: {runtime_min: greater}
  - user: funny
  - user: funny
    expect:
      than_previous: {runtime_min: less}
""")
    outcome = runner.run(load_script(longer))
    assert outcome.turns[1].passed
    assert outcome.turns[3].failures == (
        "than_previous (line 11): no items were shown, so there is nothing to check",)


def test_every_documented_check_is_implemented():
    from chatbot.evaluation.dialogues.script import CHECKS

    assert [n for n in CHECKS if not callable(getattr(DialogueRunner, f"_check_{n}", None))] == []


def test_a_title_is_never_read_across_the_lines_of_a_reply():
    """A note ending "... an ogre named Shrek." above the line "2. (500) Days of Summer" names no "Shrek 2": the
    grounding check once failed a right answer for it."""
    finder = TitleFinder([Item("a", "Shrek (2001)"), Item("b", "Shrek 2 (2004)"), Item("c", "(500) Days of Summer (2009)")])
    reply = ("Here are 2 picks for you:\n1. Shrek (2001): a comedy about a likable ogre named Shrek.\n"
             "2. (500) Days of Summer (2009): a romance for the two of you.")
    assert finder.ungrounded(reply, ["Shrek", "(500) Days of Summer"]) == []
    assert finder.ungrounded("1. Shrek (2001): better than Shrek 2, we think.", ["Shrek"]) == ["Shrek 2"]
