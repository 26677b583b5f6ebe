"""`tastebud bench turn`: the notes step's share is summed right and printed beside the latency figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.turn.notes.note import NotesStats
from chatbot.evaluation.bench_turn import _notes_share, format_turn_table


def _report(notes: dict | None) -> dict:
    """A benchmark report as run_turn_benchmark returns it (one LLM system, one baseline)."""
    llm = {"system": "llm=embedded", "turns": 20, "llm_understanding_turns": 2,
           "first_card": {"p50_ms": 60.0, "p95_ms": 900.0}, "first_note_words": {"p50_ms": 2100.0, "p95_ms": 2600.0},
           "whole_reply": {"p50_ms": 5400.0, "p95_ms": 7100.0}}
    if notes is not None:
        llm["notes"] = notes
    base = {"system": "baseline: no LLM (rules + template notes)", "turns": 20, "llm_understanding_turns": 0,
            "first_card": {"p50_ms": 6.0, "p95_ms": 20.0}, "whole_reply": {"p50_ms": 67.0, "p95_ms": 72.0}}
    return {"llm": "embedded", "notes_llm": "embedded", "notes_budget_s": 5.0, "threads": 2, "open_s": 3.2,
            "goal": {"first_card_p50_ms": 1500, "first_note_words_p50_ms": 2500, "whole_reply_p50_ms": 10000}, "results": [llm, base]}


def test_notes_share_sums_tokens_retries_and_sources():
    """Two notes steps: counts add up, rates come from them, the share of reply time is the notes' part."""
    steps = [
        NotesStats(notes=5, llm_calls=2, retries=1, prompt_tokens=900, prompt_eval_tokens=400, output_tokens=130,
                   llm_s=4.0, seconds=4.0, first_pass=4, retry_pass=1, templates=0, checks_failed=1),
        NotesStats(notes=5, llm_calls=1, retries=0, prompt_tokens=500, prompt_eval_tokens=250, output_tokens=60,
                   llm_s=5.0, seconds=5.0, first_pass=3, retry_pass=0, templates=2, checks_failed=0,
                   out_of_time=True),
    ]
    share = _notes_share(steps, [4100.0, 5100.0, 60.0])
    assert share["turns_with_notes"] == 2 and share["notes"] == 10
    assert (share["llm_calls"], share["retries"], share["prompt_tokens"], share["output_tokens"]) == (3, 1, 1400, 190)
    assert (share["first_pass"], share["retry_pass"], share["templates"], share["out_of_time_turns"]) == (7, 1, 2, 1)
    assert share["llm_note_rate"] == 0.8  # 8 of 10 notes are the LLM's own
    assert share["draft_pass_rate"] == round(8 / 9, 3)  # 9 drafts checked, 8 passed
    assert share["share_of_reply_time"] == round(9000 / 9260, 3)
    assert share["notes_step"]["p50_ms"] == 4500.0


def test_table_prints_latency_against_the_goal_and_the_notes_share():
    """The printed table has both latency figures with the goal, and a notes line with tokens and fallbacks."""
    steps = [NotesStats(notes=5, llm_calls=1, prompt_tokens=600, prompt_eval_tokens=270, output_tokens=110,
                        seconds=5.0, first_pass=4, templates=1, checks_failed=1)]
    notes = _notes_share(steps, [5400.0])
    notes["by_language"] = {"en": {k: notes[k] for k in ("turns_with_notes", "notes", "first_pass", "retry_pass",
                                                         "templates", "checks_failed", "llm_note_rate",
                                                         "draft_pass_rate")}}
    text = format_turn_table(_report(notes))
    assert "| llm=embedded | 20 | 2 | 60 ms | 900 ms | 2100 ms | 2600 ms | 5400 ms | 7100 ms |" in text
    assert "first note words p50 ≤ 2500 ms, whole reply p50 ≤ 10000 ms" in text
    assert "| baseline: no LLM (rules + template notes) | 20 | 0 | 6 ms | 20 ms | nan ms | nan ms | 67 ms |" in text
    assert "notes LLM embedded, budget 5.0 s" in text and "1 turns wrote 5 notes" in text
    assert "| 1 | 0 | 600 (270) | 110 | 4 | 0 | 1 | 1 | 0 turns |" in text
    assert "- en: 5 notes, 80% written by the LLM, drafts passing the checks 80%" in text
    assert "notes step of baseline" not in format_turn_table(_report(None))


@pytest.mark.slow
def test_turn_benchmark_on_the_real_index_reports_the_notes_step(demo_data_dir: Path):
    """Three real turns with the scripted LLM (no replies: rules understanding, template notes): figures for every
    system (the notes one at a time too), and the notes share says every note was a template."""
    from chatbot.config import Settings
    from chatbot.evaluation.bench_turn import run_turn_benchmark

    report = run_turn_benchmark(Settings(data_dir=demo_data_dir, llm="fake"), n_turns=3, progress=False,
                                sequential_notes=True)
    llm, one_by_one, base = report["results"]
    assert llm["turns"] == base["turns"] == one_by_one["turns"] == 3
    assert "one at a time" in one_by_one["system"] and one_by_one["notes"]["notes"] == llm["notes"]["notes"]
    assert llm["whole_reply"]["p50_ms"] >= llm["first_card"]["p50_ms"] > 0
    notes = llm["notes"]
    assert notes["turns_with_notes"] >= 1 and notes["notes"] >= 3
    assert notes["templates"] == notes["notes"] and notes["llm_note_rate"] == 0.0
    assert "notes" not in base  # the baseline writes template notes without the copywriter
    assert report["notes_llm"] == "fake"
