"""The batched model's pace: learnt from the steps it decodes, it predicts how long a round of notes takes, so a
slow machine is asked for fewer notes than a fast one."""

from __future__ import annotations

import pytest

from chatbot.llm.pace import DecodePace
from chatbot.turn.notes.rounds import notes_that_fit


def _machine(base: float, per_answer: float, per_token: float) -> DecodePace:
    """A pace that has watched a machine with these step costs decode prompts and answers of every width."""
    pace = DecodePace()
    for tokens in (256, 256, 100, 37):
        pace.add(0, tokens, base + per_token * tokens)
    for answers in (1, 2, 3, 4, 5, 3, 1):
        for run in (0, 128):
            pace.add(answers, run, base + per_answer * answers + per_token * run)
    for _ in range(5):
        pace.add_answer(40)
    return pace


def test_the_fit_recovers_a_machines_step_costs():
    pace = _machine(0.12, 0.03, 0.004)
    base, per_answer, per_token = pace.coefficients()
    assert base == pytest.approx(0.12, rel=0.05) and per_answer == pytest.approx(0.03, rel=0.05)
    assert per_token == pytest.approx(0.004, rel=0.05)


def test_a_slow_machine_takes_longer_for_more_notes_and_nothing_is_known_before_answers_are_written():
    fast, slow = _machine(0.03, 0.008, 0.001), _machine(0.15, 0.03, 0.005)
    one, five = (slow.round_seconds([150] * n, 40, 128, 256) for n in (1, 5))
    assert one < five and fast.round_seconds([150] * 5, 40, 128, 256) < five / 3
    assert 5 < one < 12 and 15 < five < 40  # 40 steps of 0.15 s and more, plus the prompts read
    assert DecodePace().round_seconds([150], 40, 128, 256) is None


class _Model:
    """A batched model that has shown its pace: so many seconds per note written at once."""

    def __init__(self, per_note: float | None) -> None:
        self.per_note = per_note

    def round_seconds(self, prompts, max_tokens):
        return None if self.per_note is None else self.per_note * len(prompts)


def test_as_many_notes_are_asked_for_as_fit_in_the_time_left():
    prompts = ["p"] * 5
    assert notes_that_fit(_Model(4.0), prompts, 60, 30.0) == (5, 20.0)  # a fast machine: all five
    assert notes_that_fit(_Model(10.0), prompts, 60, 30.0) == (2, 20.0)
    assert notes_that_fit(_Model(60.0), prompts, 60, 30.0) == (1, 60.0)  # at least the first card's
    assert notes_that_fit(_Model(None), prompts, 60, 30.0) == (5, None)  # not known yet: all of them
    assert notes_that_fit(object(), prompts, 60, 30.0) == (5, None)  # a backend that cannot tell
