"""Simulated users: the simulator never names its target, users come from the held-out test split, the metrics
count hits the InteRecAgent way, identical LLM prompts are computed once, and the whole run reports per system."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pytest

from chatbot.config import Settings
from chatbot.profiles import ProfileStore
from chatbot.evaluation.simulate import (
    Episode,
    SimUser,
    cached_chat_model,
    clue_table,
    markdown_table,
    pick_users,
    popularity_band,
    reveal_messages,
    run_episode,
    simulate,
    summarise,
    trace_candidates,
    tune_blend,
)
from chatbot.evaluation.history import history_likes
from retrieval.types import Item
from retrieval.errors import TastebudError

CATALOG = {f"ml:{n}": Item(f"ml:{n}", f"Film Number {n}", 1980 + n, ("Comedy",) if n % 2 else ("Drama", "War"),
                           directors=(f"Director {n}",), countries=("France",) if n % 3 == 0 else ("United States",),
                           n_ratings=100 - n)
           for n in range(1, 21)}
CATALOG.update({f"ml:{n}": Item(f"ml:{n}", f"Blockbuster {n}", 2000, ("Action",), n_ratings=1000 + n)
                for n in range(21, 61)})  # popular films the simulated users never want


@dataclass(frozen=True)
class Event:
    """Same shape as chatbot.turn.agent.ReplyEvent."""

    kind: str
    data: dict[str, Any]


@dataclass
class FakeAgent:
    """Shows the target once the person has said its director (full), or when they liked films before (warm);
    otherwise the most popular films not yet disliked."""

    profiles: ProfileStore
    ranking: str = "full"
    weather: Any = None
    write_notes: bool = True
    scorer: Any = "a trained model"
    items: dict[str, Item] = field(default_factory=lambda: dict(CATALOG))
    said: dict[str, list[str]] = field(default_factory=dict)
    feedback_calls: list[tuple[str, str]] = field(default_factory=list)

    def respond(self, session_id: str | None, message: str, profile_id: str | None = None) -> Iterator[Event]:
        """understood, items, done."""
        if session_id is None:
            session_id = self.profiles.new_session(self.profiles.ensure_profile(profile_id))
        owner = self.profiles.session_profile(session_id)
        self.said.setdefault(session_id, []).append(message)
        disliked = set(self.profiles.disliked(owner))
        warm = bool(self.profiles.liked(owner))
        pool = sorted((it for it in CATALOG.values() if it.id not in disliked), key=lambda it: -it.n_ratings)
        director = next((it for it in CATALOG.values()
                         if it.directors and re.search(rf"\b{re.escape(it.directors[0])}\b", message)), None)
        if self.ranking == "full" and (director is not None or warm):
            target = director or CATALOG["ml:14"]
            pool = [target] + [it for it in pool if it.id != target.id]
        cards = [{"id": it.id, "title": it.title} for it in pool[:5]]
        yield Event("understood", {})
        yield Event("items", {"items": cards})
        yield Event("done", {"session_id": session_id, "items": cards, "reply": "", "understood": {}})

    def feedback(self, session_id: str, item_id: str, signal: str) -> dict[str, Any]:
        """Record the feedback."""
        self.feedback_calls.append((item_id, signal))
        self.profiles.add_feedback(self.profiles.session_profile(session_id), session_id, item_id, signal)
        return {}


def write_interactions(data_dir: Path) -> None:
    """Ten users, each liking five films in time order; the last liked film of user u is ml:(u+10)."""
    rows = []
    for u in range(1, 11):
        films = [u, u + 1, u + 2, u + 3, u + 10]
        rows += [{"user": f"ml-user:{u}", "item": f"ml:{f}", "rating": 4.5, "timestamp": 1000 * u + k}
                 for k, f in enumerate(films)]
        rows.append({"user": f"ml-user:{u}", "item": "ml:20", "rating": 1.0, "timestamp": 1000 * u - 1})
    df = pd.DataFrame(rows)
    df["rating"] = df["rating"].astype("float32")
    df.to_parquet(data_dir / "interactions.parquet")


def test_the_simulator_reveals_one_attribute_per_turn_and_never_names_the_target():
    target = Item("ml:99", "The Secret Film", 1994, ("Comedy", "Film-Noir"), directors=("Jane Doe",),
                  cast=("John Roe",), countries=("France",), languages=("French",))
    counts = Counter({"Comedy": 3000, "Film-Noir": 40})
    messages = reveal_messages(target, counts, turns=6)
    assert messages == [
        "I want to watch a movie tonight, something funny.",
        "I'd like a film noir.",
        "Preferably one from the 1990s.",
        "A film from France.",
        "It could also be a comedy.",
        "Maybe something directed by Jane Doe.",  # the most specific clue comes last
    ]
    assert all("Secret" not in m for m in messages)
    assert reveal_messages(target, counts, turns=6) == messages  # deterministic
    sparse = reveal_messages(Item("ml:1", "Bare", None, ("Drama",)), counts, turns=3)
    assert sparse == ["I want to watch a movie tonight, something moving.", "I'd like a drama.",
                      "Something else, please."]


def test_hit_rate_by_turn_is_cumulative_and_a_miss_counts_as_t_plus_one():
    eps = [Episode("a", "x", 1, ()), Episode("b", "y", 3, ()), Episode("c", "z", None, ()), Episode("d", "w", 2, ())]
    result = summarise(eps, turns=3)
    assert result == {"users": 4, "hit@5": 0.75, "hit@5_by_turn": [0.25, 0.5, 0.75], "avg_turn": 2.5}


def test_users_come_from_the_test_split_with_their_history_before_the_target(data_dir):
    write_interactions(data_dir)
    users = pick_users(data_dir, CATALOG, n=4)
    assert len(users) == 4 and len({u.user for u in users}) == 4
    for sim in users:
        u = int(sim.user.split(":")[1])
        assert sim.target.id == f"ml:{u + 10}"  # the last liked film is held out
        assert sim.history == tuple(f"ml:{f}" for f in (u, u + 1, u + 2, u + 3))
        assert sim.target.id not in sim.history and "ml:20" not in sim.history  # disliked films are not likes
    assert pick_users(data_dir, CATALOG, n=4) == users  # same seed, same users
    assert history_likes(data_dir, list(CATALOG), "ml-user:3") == ["ml:3", "ml:4", "ml:5", "ml:6"]
    with pytest.raises(TastebudError, match="no MovieLens user"):
        history_likes(data_dir, list(CATALOG), "ml-user:999")


def test_an_episode_dislikes_what_missed_and_stops_at_the_hit(tmp_path):
    agent = FakeAgent(ProfileStore.open(tmp_path))
    sim = SimUser("ml-user:1", CATALOG["ml:12"], ())
    messages = ["something funny", "from the 1990s", "directed by Director 12", "more", "more"]
    ep = run_episode(agent, sim, messages, None)
    assert ep.hit_turn == 3
    assert ep.messages == tuple(messages[:3])  # stopped at the hit
    assert len(agent.feedback_calls) == 10 and {s for _, s in agent.feedback_calls} == {"dislike"}
    assert "ml:12" not in {i for i, _ in agent.feedback_calls}


def test_identical_prompts_reach_the_llm_once(data_dir):
    from chatbot.llm import complete_json

    model = cached_chat_model(Settings(data_dir=data_dir, llm="fake"))
    model.enqueue({"a": 1}, {"a": 2})
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert complete_json(model, "the same message", schema) == {"a": 1}
    assert complete_json(model, "the same message", schema) == {"a": 1}
    assert complete_json(model, "another message", schema) == {"a": 2}
    assert len(model.calls) == 2


def test_the_whole_run_reports_every_system_mode_and_target_population_with_a_plot(data_dir):
    write_interactions(data_dir)
    agent = FakeAgent(ProfileStore.open(data_dir / "scratch"))
    settings = Settings(data_dir=data_dir, llm="fake")
    report = simulate(settings, n_users=5, turns=5, agent=agent, progress=False, notes=False)
    results = {(r["system"], r["mode"], r["targets"]): r for r in report["results"]}
    assert set(results) == {(s, m, t) for s in ("full", "retrieval", "popularity") for m in ("cold", "warm")
                            for t in ("held-out", "balanced")}
    assert all(r["users"] == 5 and len(r["hit@5_by_turn"]) == 5 for r in results.values())
    # this fake full system finds each target exactly when its director is said (the last clue): the hit curve
    # follows the turn of that clue in each script; popularity never finds them
    said_at = [next((n for n, m in enumerate(ex["messages"], 1) if "directed by" in m), None)
               for ex in report["scripts"] if ex["targets"] == "held-out"]
    expected = [sum(1 for t in said_at if t is not None and t <= turn) / 5 for turn in range(1, 6)]
    assert results[("full", "cold", "held-out")]["hit@5_by_turn"] == expected and expected[-1] > 0
    assert results[("popularity", "cold", "held-out")]["hit@5"] < 1.0
    assert results[("full", "warm", "held-out")]["avg_turn"] <= results[("full", "cold", "held-out")]["avg_turn"]
    # every hit of the fake full system came at the director's clue
    clues = results[("full", "cold", "held-out")]["by_clue"]
    assert clues["person"]["shown"] == 1.0 and clues["wish"]["shown"] == 0.0 and clues["genre"]["turns"] == 5
    assert Path(report["plot"]).stat().st_size > 5_000
    table = markdown_table(report)
    assert table.splitlines()[0].startswith("| system | mode | users | Hit@5 ≤ 5 turns | avg turn | targets |")
    assert len(table.split("\n\n")[0].splitlines()) == 2 + 12 and "| person" in table.split("\n\n")[2]
    with pytest.raises(TastebudError, match="mode must be"):
        simulate(settings, n_users=1, modes=("tepid",), agent=agent, progress=False)
    with pytest.raises(TastebudError, match="targets must be"):
        simulate(settings, n_users=1, targets=("famous",), agent=agent, progress=False)


def test_balanced_targets_take_as_many_people_from_each_popularity_band(data_dir):
    """Popularity alone cannot win a run whose targets are spread evenly over the catalog's popularity bands."""
    n_films = 4000
    catalog = {f"ml:{n}": Item(f"ml:{n}", f"Film {n}", 2000, ("Drama",), n_ratings=n_films - n)
               for n in range(n_films)}  # ml:0 is the most rated, ml:3999 the least
    rows = []
    for u in range(200):  # most people's last like is a popular film, as on MovieLens
        last = u % 50 if u < 150 else 80 * (u - 150) % n_films
        films = [(u * 7 + k) % n_films for k in range(1, 5)] + [last]
        rows += [{"user": f"ml-user:{u}", "item": f"ml:{f}", "rating": 4.5, "timestamp": 1000 * u + k}
                 for k, f in enumerate(films)]
    frame = pd.DataFrame(rows)
    frame["rating"] = frame["rating"].astype("float32")
    frame.to_parquet(data_dir / "interactions.parquet")
    held_out = pick_users(data_dir, catalog, n=10)
    balanced = pick_users(data_dir, catalog, n=10, targets="balanced")
    bands = Counter(popularity_band(int(u.target.id.split(":")[1]), n_films) for u in balanced)
    assert bands == Counter({b: 2 for b in range(5)})
    assert Counter(popularity_band(int(u.target.id.split(":")[1]), n_films) for u in held_out)[0] > 2
    assert pick_users(data_dir, catalog, n=10, targets="balanced") == balanced  # seeded


def test_each_turn_notes_whether_retrieval_held_the_target(tmp_path):
    """A clue that loses the target (its filters drop it) shows as not retrieved; one that the ranking loses, as
    retrieved but not shown."""

    @dataclass
    class Found:
        candidates: list[Any]

    @dataclass
    class Candidate:
        item: Item

    class Tracing(FakeAgent):
        def _retrieve(self, message: str) -> tuple[Found, None]:  # as the agent's: (found, relaxed or None)
            keep = [] if "1990s" in message else [Candidate(CATALOG["ml:12"])]
            return Found(keep + [Candidate(CATALOG["ml:21"])]), None

        def respond(self, session_id: str | None, message: str, profile_id: str | None = None) -> Iterator[Event]:
            self._retrieve(message)
            yield from super().respond(session_id, message, profile_id)

    agent = Tracing(ProfileStore.open(tmp_path))
    found = trace_candidates(agent)
    sim = SimUser("ml-user:1", CATALOG["ml:12"], ())
    ep = run_episode(agent, sim, ["something funny", "from the 1990s", "directed by Director 12"], None,
                     ["wish", "decade", "person"], found)
    assert ep.hit_turn == 3 and ep.retrieved == (True, False, True) and len(ep.shown) == 3
    table = clue_table([ep])
    assert table["wish"] == {"turns": 1, "shown": 0.0, "retrieved": 1.0}
    assert table["decade"]["retrieved"] == 0.0 and table["person"]["shown"] == 1.0


def test_validation_users_hold_out_their_validation_film_and_never_see_their_test_film(data_dir):
    write_interactions(data_dir)
    users = pick_users(data_dir, CATALOG, n=4, part="valid")
    for sim in users:
        u = int(sim.user.split(":")[1])
        assert sim.target.id == f"ml:{u + 3}"  # the liked film before the last one
        assert sim.history == tuple(f"ml:{f}" for f in (u, u + 1, u + 2))
        assert f"ml:{u + 10}" not in sim.history  # the test film stays unseen
    with pytest.raises(TastebudError, match="test or the validation part"):
        pick_users(data_dir, CATALOG, n=4, part="train")


@dataclass
class BlendSensitiveAgent(FakeAgent):
    """Finds the director's film only when the blend gives popularity a weight of at least 0.3."""

    settings: Any = None

    def respond(self, session_id: str | None, message: str, profile_id: str | None = None) -> Iterator[Event]:
        """Like FakeAgent, but the full system is blind below a popularity weight of 0.3."""
        ranking = self.ranking
        if self.settings is not None and self.settings.w_popularity < 0.3:
            self.ranking = "retrieval"
        try:
            yield from super().respond(session_id, message, profile_id)
        finally:
            self.ranking = ranking


def test_tuning_picks_the_blend_that_finds_more_targets_on_validation_users(data_dir):
    write_interactions(data_dir)
    settings = Settings(data_dir=data_dir, llm="fake")
    agent = BlendSensitiveAgent(ProfileStore.open(data_dir / "scratch"), settings=settings)
    before = settings.model_dump()
    report = tune_blend(settings, n_users=4, turns=5, agent=agent, progress=False,
                        weights=((0.45, 0.45, 0.10), (0.2, 0.5, 0.3)), lambdas=(0.7, 1.0))
    assert len(report["trials"]) == 3  # two blends at the current lambda, then the better blend at lambda 1
    for target, sim in zip(report["targets"], pick_users(data_dir, CATALOG, n=4, seed=1, part="valid")):
        u = int(sim.user.split(":")[1])
        assert target == f"ml:{u + 3}" != f"ml:{u + 10}"  # each person's validation film, never their test film
    best = report["best"]
    assert (best["relevance"], best["interest"], best["popularity"]) == (0.2, 0.5, 0.3)
    blind = report["trials"][0]
    assert blind["cold_hit@5"] == 0.0 and best["cold_hit@5"] > 0.0 and best["hit@5"] > blind["hit@5"]
    assert settings.model_dump() == before  # the caller's settings are left alone
