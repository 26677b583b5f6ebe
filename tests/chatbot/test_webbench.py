"""`tastebud bench serve` driven against the real app over HTTP, with the scripted agent (fast, deterministic)."""

from __future__ import annotations

from dataclasses import replace

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from chatbot.config import Settings
from chatbot.profiles import ProfileStore
from chatbot.evaluation.bench_serve import MARKERS, format_table, run_serve_benchmark
from tests.chatbot.scripted_agent import CITIES, ScriptedAgent


class LeakyAgent(ScriptedAgent):
    """A broken agent that shares one 'current place' between all sessions: cross-talk the bench must catch."""

    shared_place: str | None = None

    def respond(self, session_id: str | None, message: str, profile_id: str | None = None) -> Iterator[Any]:
        """Remember the place of the latest message that named one, whoever sent it."""
        LeakyAgent.shared_place = next((c for c in CITIES if c.lower() in message.lower()), LeakyAgent.shared_place)
        yield from super().respond(session_id, message, profile_id)

    def understood(self, s: Any) -> Any:
        """Report the shared place instead of this session's own."""
        return replace(super().understood(s), location=LeakyAgent.shared_place)


def bench(data_dir: Path, agent_cls: type[ScriptedAgent], n: int) -> dict[str, Any]:
    """Run the serve benchmark on `n` sessions with a scripted agent."""
    profiles = ProfileStore.open(data_dir)
    try:
        agent = agent_cls(profiles, delay_s=0.003)
        return run_serve_benchmark(Settings(data_dir=data_dir, llm="fake"), n_sessions=n, agent=agent,
                                   deadline_s=120, progress=False)
    finally:
        profiles.close()


def test_concurrent_sessions_run_side_by_side_and_never_cross(data_dir: Path) -> None:
    report = bench(data_dir, ScriptedAgent, 8)
    side, baseline = report["runs"]
    assert side["mode"].startswith("side by side") and baseline["mode"].startswith("one turn at a time")
    for run in (side, baseline):
        assert run["turns_ok"] == 16 and run["n_errors"] == 0 and run["feedback_ok"] == 8
        assert run["n_cross_talk_violations"] == 0 and run["own_city_echoed_share"] == 1.0
        assert run["first_card_p50_s"] <= run["last_note_p50_s"] <= run["turn_p50_s"] <= run["turn_p95_s"]
    assert baseline["max_busy_position"] >= 1  # one at a time: people really waited in line, and were told so
    assert side["max_busy_position"] == 0  # 8 people, 16 turns at once: nobody waits for a whole turn
    Console(width=200, record=True).print(format_table(report))


def test_cross_talk_is_detected(data_dir: Path) -> None:
    report = bench(data_dir, LeakyAgent, 6)
    assert report["runs"][0]["n_cross_talk_violations"] > 0
    assert any("saw other sessions' cities" in v for v in report["runs"][0]["cross_talk_violations"])


def test_session_count_is_bounded(data_dir: Path) -> None:
    with pytest.raises(ValueError, match="between 1 and"):
        run_serve_benchmark(Settings(data_dir=data_dir, llm="fake"), n_sessions=len(MARKERS) + 1,
                            agent=object(), progress=False)


def test_catalog_text_is_not_cross_talk_but_state_is() -> None:
    from chatbot.evaluation.bench_serve import state_text

    film = {"id": "ml:1", "title": "Paris Is Burning", "note": "A vivid Paris ballroom documentary.", "why": ["documentary"]}
    events = [("understood", {"location": "Dublin", "rules_fired": []}), ("items", {"items": [film]}),
              ("note", {"id": "ml:1", "delta": "Paris"}), ("done", {"understood": {"location": "Dublin"}, "items": [film]})]
    assert "Paris" not in state_text(events) and "Dublin" in state_text(events)
    leaked = [("understood", {"location": "Paris"}), ("done", {"understood": {"location": "Paris"}, "items": []})]
    assert "Paris" in state_text(leaked)
    leaked_why = [("items", {"items": [dict(film, why=["raining in Paris"])]})]
    assert "Paris" in state_text(leaked_why)
