"""The LLM gate: turns run side by side, their LLM calls share a bounded number of slots, understanding goes
before notes, and nobody waits longer than their call allows (they get the words-alone reading or a template)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from chatbot.config import Settings
from chatbot.llm import FakeChatModel
from chatbot.llm.gate import NOTES, TURN_LEFT, UNDERSTAND, LLMBusy, LLMGate, PersonLeft, llm_slots
from chatbot.turn.notes.stream import stream_json_text
from chatbot.turn.state import DialogueState
from chatbot.turn.understand.understander import Understander
from tests.chatbot.test_understand import ITEMS, gazetteer, llm_json  # noqa: F401 (a fixture)


def test_no_more_calls_run_at_once_than_the_gate_has_slots() -> None:
    gate, lock = LLMGate(slots=2), threading.Lock()
    running, most = [0], [0]

    def call() -> None:
        with gate.hold(NOTES, wait_s=10):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.02)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most[0] == 2 and gate.status() == (0, 0)


def test_a_person_waiting_for_cards_goes_before_notes_already_in_line() -> None:
    gate = LLMGate(slots=1)
    order: list[str] = []
    held = gate.hold(NOTES, wait_s=5)
    held.__enter__()  # someone's notes are being written

    def call(name: str, priority: int) -> None:
        with gate.hold(priority, wait_s=5):
            order.append(name)

    notes = [threading.Thread(target=call, args=(f"notes {i}", NOTES)) for i in range(3)]
    for t in notes:
        t.start()
    while gate.status()[1] < 3:
        time.sleep(0.005)
    understanding = threading.Thread(target=call, args=("understanding", UNDERSTAND))
    understanding.start()
    while gate.status()[1] < 4:
        time.sleep(0.005)
    held.__exit__(None, None, None)
    for t in [*notes, understanding]:
        t.join(5)
    assert order == ["understanding", "notes 0", "notes 1", "notes 2"]  # then first come, first served


def test_a_call_that_cannot_start_in_time_is_told_and_leaves_the_line() -> None:
    gate = LLMGate(slots=1)
    with gate.hold(NOTES):
        started = time.monotonic()
        with pytest.raises(LLMBusy, match="busy"):
            with gate.hold(UNDERSTAND, wait_s=0.2):
                pass
        assert 0.15 < time.monotonic() - started < 2.0
        assert gate.status() == (1, 0)  # the one that gave up is not in line any more
    with gate.hold(UNDERSTAND, wait_s=0.0) as waited:  # free again: no wait at all
        assert waited == 0.0


def test_the_calls_of_a_person_who_left_are_dropped_from_the_line_and_stop_writing() -> None:
    gate, outcome = LLMGate(slots=1), {}
    left = threading.Event()

    def their_turn() -> None:
        TURN_LEFT.set(left)
        try:
            with gate.hold(NOTES, wait_s=30):
                outcome["ran"] = True
        except PersonLeft as exc:
            outcome["dropped"] = str(exc)

    with gate.hold(UNDERSTAND):  # someone else's call runs
        waiting = threading.Thread(target=their_turn)
        waiting.start()
        while gate.status()[1] < 1:
            time.sleep(0.005)
        hung_up = time.monotonic()
        left.set()  # the browser tab was closed
        waiting.join(5)
        assert "left" in outcome["dropped"] and "ran" not in outcome and time.monotonic() - hung_up < 1.0
        assert gate.status() == (1, 0)

    llm = FakeChatModel(replies=['{"1":"' + "a long note about a film " * 20 + '"}'], chunk_chars=4)
    pieces = stream_json_text(llm, [("user", "notes please")], {"type": "object"}, 30, 200, gate=gate)
    token = TURN_LEFT.set(left)
    try:
        with pytest.raises(PersonLeft):
            list(pieces)
    finally:
        TURN_LEFT.reset(token)
    assert gate.status() == (0, 0)  # the slot is free for the others


def test_the_gate_has_one_slot_for_llama_cpp_and_the_servers_slots_for_a_batched_backend() -> None:
    assert llm_slots(Settings(llm="embedded")) == 1
    assert llm_slots(Settings(llm="fake")) == 1
    assert llm_slots(Settings(llm="openai", openai_base_url="http://127.0.0.1:9/v1")) >= 2


def test_understanding_goes_by_the_words_alone_when_the_llm_is_busy_with_others(gazetteer) -> None:
    llm = FakeChatModel(replies=[llm_json(genres=["Horror"])])
    u = Understander(llm, ITEMS, gazetteer)
    u.gate, u.llm_wait_s = LLMGate(slots=1), 0.2
    with u.gate.hold(NOTES):  # another person's notes hold the only slot
        started = time.monotonic()
        intent = u.understand("honestly just something lighthearted for me and my mates, nothing too long",
                              DialogueState())
        assert time.monotonic() - started < 2.0
    assert intent.llm_busy and intent.source == "rules" and not llm.calls  # the model was never asked
    assert intent.companions == ["friends"] and intent.runtime_max == 120  # the words still count


@pytest.mark.slow
def test_a_turn_with_the_llm_busy_shows_cards_at_once_and_says_why(demo_data_dir: Path, tmp_path: Path) -> None:
    from tests.chatbot.test_agent import _agent, _turn

    agent = _agent(demo_data_dir, tmp_path, llm=FakeChatModel(replies=[llm_json(genres=["Comedy"])] * 8))
    agent.understander.llm_wait_s = 0.2
    agent.copywriter.budget_s = 1.0
    _turn(agent, None, "a comedy")  # loads the embedder and the index: the timing below is of a warm app
    with agent.llm_gate.hold(NOTES):  # the one slot is taken by someone else the whole time
        started = time.monotonic()
        events, done = _turn(agent, None, "we want a laugh tonight, me and my sister, something from the 90s maybe")
        took = time.monotonic() - started
    assert took < 5.0 and done["items"]
    assert "Many people are asking right now" in done["reply"]
    assert all(it["note"] for it in done["items"])  # template notes, true by construction
    assert all(it["year"] and 1990 <= it["year"] <= 1999 for it in done["items"])  # the words still bind


def test_notes_pause_for_other_peoples_cards_only_where_pausing_frees_the_cpu() -> None:
    gate = LLMGate(slots=1)
    cards_shown = gate.cards_begin()  # someone's cards are being computed
    assert 0.15 < gate.yield_to_cards(0.2) < 1.0  # one pull-based decoder: it pauses (bounded)
    with gate.hold(NOTES):
        waiting = threading.Thread(target=lambda: gate.hold(UNDERSTAND, wait_s=0.5).__enter__() and None)
        waiting.start()
        while gate.status()[1] < 1:
            time.sleep(0.005)
        assert gate.yield_to_cards(1.0) < 0.1  # that turn waits for this slot: pausing would only delay both
        waiting.join(2)
    cards_shown()
    cards_shown()  # twice is once
    assert gate.yield_to_cards(1.0) == 0.0
    batched = LLMGate(slots=4)
    batched.cards_begin()
    assert batched.yield_to_cards(1.0) == 0.0  # a batched runtime decodes on anyway: no pause


def test_llm_work_on_its_own_threads_passes_results_errors_and_stops_when_left() -> None:
    from chatbot.llm import niced

    made: list[int] = []

    def counting():
        try:
            for n in range(1000):
                made.append(n)
                yield n
        finally:
            made.append(-1)  # closed on its own thread

    pieces = niced.iterate(counting)
    assert [next(pieces) for _ in range(3)] == [0, 1, 2]
    pieces.close()
    deadline = time.monotonic() + 5
    while made[-1] != -1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert made[-1] == -1 and len(made) < 10  # at most a step ahead of the reader, then stopped

    def failing():
        yield "first"
        raise ValueError("the model broke")

    with pytest.raises(ValueError, match="broke"):
        list(niced.iterate(failing))
    token = TURN_LEFT.set(threading.Event())
    try:
        assert niced.run(lambda: TURN_LEFT.get()) is TURN_LEFT.get()  # the turn's marks travel along
    finally:
        TURN_LEFT.reset(token)
