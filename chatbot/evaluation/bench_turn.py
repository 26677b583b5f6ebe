"""`tastebud bench turn`: time to first card and to the whole reply over scripted turns, against a no-LLM baseline.

Beside the two latency figures it reports the notes step's share (the LLM notes are most of a reply's time):
prompt and output tokens, LLM calls and retries, and how many notes were the LLM's own (first draft or retry)
or fell back to the template (failed checks, or the time budget `TASTEBUD_NOTES_BUDGET_S` ran out).
"""

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


_NOTE_COUNTS = ("notes", "llm_calls", "retries", "prompt_tokens", "prompt_eval_tokens", "output_tokens", "first_pass",
                "retry_pass", "templates", "checks_failed", "not_asked")


def _notes_share(steps: list[Any], total_ms: list[float]) -> dict[str, Any]:
    """The notes steps' figures summed over the run (NotesStats of each turn that wrote notes)."""
    out: dict[str, Any] = {"turns_with_notes": len(steps)}
    for name in _NOTE_COUNTS:
        out[name] = int(sum(getattr(s, name) for s in steps))
    out["out_of_time_turns"] = sum(bool(s.out_of_time) for s in steps)
    planned = [(s.planned_s, s.seconds) for s in steps if s.planned_s]  # the pace's forecast, and what it took
    out["planned_over_taken_p50"] = round(float(np.median([p / t for p, t in planned if t])), 2) if planned else None
    seconds = [s.seconds * 1000 for s in steps]
    out["notes_step"] = _percentiles(seconds)
    out["share_of_reply_time"] = round(sum(seconds) / sum(total_ms), 3) if total_ms and sum(total_ms) else 0.0
    n = max(out["notes"], 1)
    out["llm_note_rate"] = round((out["first_pass"] + out["retry_pass"]) / n, 3)
    drafts = out["first_pass"] + out["retry_pass"] + out["checks_failed"]
    out["draft_pass_rate"] = round((out["first_pass"] + out["retry_pass"]) / drafts, 3) if drafts else None
    return out


def _run(agent: Any, n_turns: int, label: str, progress: bool) -> dict[str, Any]:
    """Run the script's first `n_turns` turns through `Agent.respond`, timing each from the caller's side."""
    turns = [(c, m) for c, conv in enumerate(SCRIPT) for m in conv]
    order = sorted(range(len(turns)), key=lambda i: (i % len(SCRIPT[0]), i // len(SCRIPT[0])))
    picked = sorted(order[:n_turns] if n_turns < len(turns) else range(len(turns)))
    sessions: dict[int, str | None] = {}
    first, words, total, llm_turns = [], [], [], 0
    notes_steps: list[Any] = []
    languages: dict[str, list[Any]] = {}
    for i in tqdm(picked, desc=label, disable=not progress):
        conv, message = turns[i]
        stats_before = getattr(agent.copywriter, "last_stats", None)
        started = time.monotonic()
        first_card = first_words = None
        done: dict[str, Any] = {}
        for event in agent.respond(sessions.get(conv), message):
            if event.kind == "items" and first_card is None:
                first_card = (time.monotonic() - started) * 1000
            elif event.kind == "note" and first_words is None:  # the first words of the first note in a card
                first_words = (time.monotonic() - started) * 1000
            elif event.kind == "done":
                done = event.data
        elapsed = (time.monotonic() - started) * 1000
        sessions[conv] = done.get("session_id")
        total.append(elapsed)
        first.append(first_card if first_card is not None else elapsed)
        if first_words is not None:
            words.append(first_words)
        llm_turns += done.get("understood", {}).get("understanding") == "llm"
        stats = getattr(agent.copywriter, "last_stats", None)
        if agent.write_notes and stats is not None and stats is not stats_before:  # this turn wrote notes
            notes_steps.append(stats)
            languages.setdefault(done.get("language", "en"), []).append(stats)
    out = {"system": label, "turns": len(picked), "llm_understanding_turns": llm_turns,
           "first_card": _percentiles(first), "first_note_words": _percentiles(words), "whole_reply": _percentiles(total)}
    if notes_steps:
        out["notes"] = _notes_share(notes_steps, total)
        out["notes"]["by_language"] = {
            lang: {k: v for k, v in _notes_share(steps, []).items() if k in ("turns_with_notes", "notes", "first_pass",
                                                                             "retry_pass", "templates", "checks_failed",
                                                                             "llm_note_rate", "draft_pass_rate")}
            for lang, steps in sorted(languages.items())
        }
    return out


def run_turn_benchmark(settings: Settings, n_turns: int = 20, progress: bool = True,
                       sequential_notes: bool = False) -> dict[str, Any]:
    """The same scripted turns on the configured LLM and on a no-LLM baseline (rules + template notes);
    `sequential_notes`: also with the notes written one call after another (the baseline of batched notes)."""
    import tempfile
    from pathlib import Path

    from chatbot.evaluation.harness import notes_one_at_a_time, open_agent, rules_only
    from chatbot.llm import notes_backend
    from chatbot.profiles import ProfileStore

    n_turns = max(1, min(n_turns, sum(len(c) for c in SCRIPT)))
    results = []
    with tempfile.TemporaryDirectory(prefix="tastebud-bench-") as tmp:
        t = time.monotonic()
        agent = open_agent(settings, profiles=ProfileStore.open(Path(tmp) / "full"))
        agent.warm_up()
        open_s = time.monotonic() - t
        results.append(_run(agent, n_turns, f"llm={settings.llm}", progress))
        if sequential_notes:
            one_by_one = notes_one_at_a_time(agent, profiles=ProfileStore.open(Path(tmp) / "sequential"))
            results.append(_run(one_by_one, n_turns, f"llm={settings.llm}, notes one at a time", progress))
        baseline = rules_only(agent, profiles=ProfileStore.open(Path(tmp) / "base"))
        results.append(_run(baseline, n_turns, "baseline: no LLM (rules + template notes)", progress))
    return {"llm": settings.llm, "notes_llm": notes_backend(settings), "notes_budget_s": settings.notes_budget_s,
            "notes_parallel": settings.notes_parallel, "threads": settings.threads, "open_s": round(open_s, 1),
            "goal": {"first_card_p50_ms": 1500, "first_note_words_p50_ms": 2500, "whole_reply_p50_ms": 10000}, "results": results}


def format_turn_table(report: dict[str, Any]) -> str:
    """A markdown table of the benchmark."""
    lines = ["| system | turns | LLM-understood | first card p50 | p95 | first note words p50 | p95 | whole reply p50 "
             "| p95 |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        words = r.get("first_note_words") or {"p50_ms": float("nan"), "p95_ms": float("nan")}
        lines.append(f"| {r['system']} | {r['turns']} | {r['llm_understanding_turns']} | "
                     f"{r['first_card']['p50_ms']:.0f} ms | {r['first_card']['p95_ms']:.0f} ms | "
                     f"{words['p50_ms']:.0f} ms | {words['p95_ms']:.0f} ms | "
                     f"{r['whole_reply']['p50_ms']:.0f} ms | {r['whole_reply']['p95_ms']:.0f} ms |")
    goal = report.get("goal", {})
    lines.append(f"\ngoal: first card p50 ≤ {goal.get('first_card_p50_ms', 1500)} ms, first note words p50 ≤ "
                 f"{goal.get('first_note_words_p50_ms', 2500)} ms, whole reply p50 ≤ "
                 f"{goal.get('whole_reply_p50_ms', 10000)} ms (agent opened in {report['open_s']} s)")
    for r in report["results"]:
        notes = r.get("notes")
        if not notes:
            continue
        lines.append(
            f"\nnotes step of {r['system']} (notes LLM {report.get('notes_llm', '?')}, budget "
            f"{report.get('notes_budget_s', '?')} s): {notes['turns_with_notes']} turns wrote {notes['notes']} notes, "
            f"{notes['share_of_reply_time']:.0%} of all reply time; notes step p50 {notes['notes_step']['p50_ms']:.0f} ms, "
            f"p95 {notes['notes_step']['p95_ms']:.0f} ms"
        )
        lines.append("| LLM calls | retries | prompt tokens (evaluated) | output tokens | LLM first draft | after retry "
                     "| template | drafts failing checks | budget ran out |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        lines.append(f"| {notes['llm_calls']} | {notes['retries']} | {notes['prompt_tokens']} ({notes['prompt_eval_tokens']}) "
                     f"| {notes['output_tokens']} | {notes['first_pass']} | {notes['retry_pass']} | {notes['templates']} "
                     f"| {notes['checks_failed']} | {notes['out_of_time_turns']} turns |")
        for lang, figures in notes.get("by_language", {}).items():
            rate = figures["draft_pass_rate"]
            lines.append(f"- {lang}: {figures['notes']} notes, {figures['llm_note_rate']:.0%} written by the LLM, drafts "
                         f"passing the checks {'n/a' if rate is None else f'{rate:.0%}'}")
    return "\n".join(lines)
