"""`tastebud bench turn`: time to first card and to the whole reply over scripted turns, against a no-LLM baseline."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from tqdm import tqdm

from chatbot.config import Settings

# Four short conversations, five turns each: new requests (the LLM may be asked), refinements, references.
SCRIPT: tuple[tuple[str, ...], ...] = (
    ("I'm in Seattle and it's pouring, something cozy to watch with my kids tonight, nothing scary",
     "something shorter, and no animation", "more like the second one", "tell me more about the first one",
     "something older"),
    ("a tense crime thriller from the 90s", "no horror", "more like the first one", "something newer",
     "tell me more about the third one"),
    ("我在北京，下着雨，想和女朋友看一部浪漫的电影", "不要太长的", "更像第二部的", "换一批", "第一部讲什么"),
    ("a funny movie to watch with friends at a party", "less violent", "something from the 80s",
     "more like the second one", "something shorter"),
)


def _percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    if not values:
        return {"p50_ms": float("nan"), "p95_ms": float("nan")}
    return {"p50_ms": round(float(np.percentile(values, 50)), 1), "p95_ms": round(float(np.percentile(values, 95)), 1)}


def _run(agent: Any, n_turns: int, label: str, progress: bool) -> dict[str, Any]:
    """Run the script's first `n_turns` turns through `Agent.respond`, timing each from the caller's side."""
    turns = [(c, m) for c, conv in enumerate(SCRIPT) for m in conv]
    order = sorted(range(len(turns)), key=lambda i: (i % len(SCRIPT[0]), i // len(SCRIPT[0])))
    picked = sorted(order[:n_turns] if n_turns < len(turns) else range(len(turns)))
    sessions: dict[int, str | None] = {}
    first, total, llm_turns = [], [], 0
    for i in tqdm(picked, desc=label, disable=not progress):
        conv, message = turns[i]
        started = time.monotonic()
        first_card = None
        done: dict[str, Any] = {}
        for event in agent.respond(sessions.get(conv), message):
            if event.kind == "items" and first_card is None:
                first_card = (time.monotonic() - started) * 1000
            elif event.kind == "done":
                done = event.data
        elapsed = (time.monotonic() - started) * 1000
        sessions[conv] = done.get("session_id")
        total.append(elapsed)
        first.append(first_card if first_card is not None else elapsed)
        llm_turns += done.get("understood", {}).get("understanding") == "llm"
    return {"system": label, "turns": len(picked), "llm_understanding_turns": llm_turns,
            "first_card": _percentiles(first), "whole_reply": _percentiles(total)}


def run_turn_benchmark(settings: Settings, n_turns: int = 20, progress: bool = True) -> dict[str, Any]:
    """The same scripted turns on the configured LLM and on a no-LLM baseline (rules + template notes)."""
    import tempfile
    from pathlib import Path

    from chatbot.agent import Agent
    from chatbot.context import OfflineWeatherProvider
    from chatbot.profiles import ProfileStore

    n_turns = max(1, min(n_turns, sum(len(c) for c in SCRIPT)))
    results = []
    with tempfile.TemporaryDirectory(prefix="tastebud-bench-") as tmp:
        t = time.monotonic()
        agent = Agent.from_settings(settings, weather=OfflineWeatherProvider(),
                                    profiles=ProfileStore.open(Path(tmp) / "full"))
        agent.warm_up()
        open_s = time.monotonic() - t
        results.append(_run(agent, n_turns, f"llm={settings.llm}", progress))
        baseline = Agent(settings, searcher=agent.searcher, understander=agent.understander,
                         copywriter=agent.copywriter, profiles=ProfileStore.open(Path(tmp) / "base"),
                         weather=agent.weather, scorer=agent.scorer, write_notes=False)
        saved_llm, baseline.understander.llm = baseline.understander.llm, None
        try:
            results.append(_run(baseline, n_turns, "baseline: no LLM (rules + template notes)", progress))
        finally:
            baseline.understander.llm = saved_llm
    return {"llm": settings.llm, "threads": settings.threads, "open_s": round(open_s, 1),
            "goal": {"first_card_p50_ms": 1500, "whole_reply_p50_ms": 6000}, "results": results}


def format_turn_table(report: dict[str, Any]) -> str:
    """A markdown table of the benchmark."""
    lines = ["| system | turns | LLM-understood | first card p50 | p95 | whole reply p50 | p95 |",
             "|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        lines.append(f"| {r['system']} | {r['turns']} | {r['llm_understanding_turns']} | "
                     f"{r['first_card']['p50_ms']:.0f} ms | {r['first_card']['p95_ms']:.0f} ms | "
                     f"{r['whole_reply']['p50_ms']:.0f} ms | {r['whole_reply']['p95_ms']:.0f} ms |")
    lines.append(f"\ngoal: first card p50 ≤ 1500 ms, whole reply p50 ≤ 6000 ms (agent opened in {report['open_s']} s)")
    return "\n".join(lines)
