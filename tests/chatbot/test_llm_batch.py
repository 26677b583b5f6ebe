"""The decoding scheduler: continuous batching, prefix reuse, cancellation, the queue bound, priorities and the
short wait of understanding calls — on a scripted stand-in engine (fast, exact), then (slow) on the real 0.5B."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest

from chatbot.llm.generation import BACKGROUND, URGENT, CallGroup, GenerationRequest, LLMBusy
from chatbot.llm.scheduler import DecodeScheduler
from retrieval.errors import LLMError

END = 0


class EchoEngine:
    """A stand-in model over characters: the answer to "question>" is the question upper-cased, then the end token;
    a question starting "long" answers "x" for ever. Each sequence's KV cache is a list, checked position by
    position, so the scheduler's bookkeeping (prefix reuse, copies, trims) is checked with every token."""

    def __init__(self, step_s: float = 0.002, seq_ctx: int = 4096) -> None:
        self.config = SimpleNamespace(max_batch=64)
        self.seq_ctx = seq_ctx
        self.step_s = step_s
        self.kv: dict[int, list[int]] = defaultdict(list)
        self.widths: list[int] = []  # sequences in each decode step
        self._next: dict[int, int] = {}

    def decode(self, entries: Any) -> None:
        """Append each token to its sequence (at the right position) and compute the next token where asked."""
        time.sleep(self.step_s)
        self._next = {}
        for i, e in enumerate(entries):
            assert e.pos == len(self.kv[e.seq]), "a token must go right after what the sequence holds"
            self.kv[e.seq].append(e.token)
            if e.logits:
                self._next[i] = self._answer_token(self.kv[e.seq])
        self.widths.append(len({e.seq for e in entries}))

    @staticmethod
    def _answer_token(kv: list[int]) -> int:
        """The next token of the answer written so far."""
        text = "".join(map(chr, kv))
        question, _, written = text.rpartition(">")
        question = question.rpartition("|")[2]
        answer = "x" * 100_000 if question.startswith("long") else question.upper()
        return ord(answer[len(written)]) if len(written) < len(answer) else END

    def context_pointer(self) -> Any:
        """Choosers read from the engine itself."""
        return self

    def keep_prefix(self, seq: int, n: int) -> None:
        """Drop from position n on."""
        del self.kv[seq][n:]

    def copy_prefix(self, src: int, dst: int, n: int) -> None:
        """Copy the first n tokens."""
        self.kv[dst] = list(self.kv[src][:n])

    def is_end(self, token: int) -> bool:
        """The end token."""
        return token == END

    def piece(self, token: int) -> bytes:
        """One character."""
        return chr(token).encode("utf-8")

    def chooser(self, schema: Any, temperature: float, seed: int) -> Any:
        """Reads the answer token the last decode computed."""
        return SimpleNamespace(sample=lambda engine, idx: engine._next[idx], close=lambda: None)

    def close(self) -> None:
        """Nothing to free."""


def tokens(text: str) -> tuple[int, ...]:
    """A prompt's tokens: one per character."""
    return tuple(map(ord, text))


def request(text: str, priority: int = URGENT, **kw: Any) -> GenerationRequest:
    """A request with generous limits unless told otherwise."""
    return GenerationRequest(tokens(text), max_tokens=kw.pop("max_tokens", 200), timeout_s=kw.pop("timeout_s", 30),
                             priority=priority, **kw)


@pytest.fixture
def make() -> Any:
    """Schedulers over fresh echo engines, closed after the test."""
    made: list[DecodeScheduler] = []

    def build(step_s: float = 0.002, **kw: Any) -> tuple[DecodeScheduler, EchoEngine]:
        engine = EchoEngine(step_s)
        scheduler = DecodeScheduler(lambda: engine, **{"n_slots": 4, "n_pinned": 1, "reserve": 0, **kw})
        scheduler.wait_ready()
        made.append(scheduler)
        return scheduler, engine

    yield build
    for scheduler in made:
        scheduler.close()


def read_all(schedulers_gens: list[Any]) -> list[str]:
    """Read several generations at once, each in its own thread."""
    out = [""] * len(schedulers_gens)

    def read(i: int) -> None:
        out[i] = "".join(schedulers_gens[i].pieces())

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(schedulers_gens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return out


def wait_until(check: Any, timeout_s: float = 5.0) -> bool:
    """Poll until `check()` is true or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


# ---------------------------------------------------------------------------------------------- batching
def test_streams_decoded_together_write_what_each_writes_alone(make: Any) -> None:
    scheduler, engine = make()
    questions = ["sys|rainy lisbon>", "sys|heist in tokyo>", "sys|oslo chess>", "sys|a ghost story>"]
    alone = ["".join(scheduler.submit(request(q)).pieces()) for q in questions]
    assert alone == [q.rpartition("|")[2][:-1].upper() for q in questions]
    engine.widths.clear()
    together = read_all([scheduler.submit(request(q)) for q in questions])
    assert together == alone
    assert max(engine.widths) == 4  # all four sequences shared decode steps
    assert scheduler.status().active == 0 and scheduler.status().finished == 8


def test_a_warmed_prefix_is_copied_not_read_again(make: Any) -> None:
    scheduler, engine = make(n_slots=2)
    system = "you are a very long system prompt with many rules|"
    warm = scheduler.submit(request(system + "hello>", BACKGROUND, prefill_only=True, max_tokens=0))
    assert list(warm.pieces()) == [] and warm.stats.finish_reason == "prefilled"
    gens = [scheduler.submit(request(system + q)) for q in ("first question>", "second one>")]
    assert read_all(gens) == ["FIRST QUESTION", "SECOND ONE"]
    assert all(g.stats.cached_tokens >= len(system) for g in gens)  # copied from the pinned sequence
    assert all(g.stats.prompt_eval_tokens == len(g.request.tokens) - g.stats.cached_tokens for g in gens)


def test_a_stop_string_ends_the_answer_before_it(make: Any) -> None:
    scheduler, _ = make()
    gen = scheduler.submit(request("hello world>", stop=("WOR",)))
    assert "".join(gen.pieces()) == "HELLO " and gen.stats.finish_reason == "stop"


def test_max_tokens_and_the_time_limit_end_a_call(make: Any) -> None:
    scheduler, _ = make(step_s=0.01)
    gen = scheduler.submit(request("long story>", max_tokens=5))
    assert "".join(gen.pieces()) == "xxxxx" and gen.stats.finish_reason == "length"
    started = time.monotonic()
    with pytest.raises(LLMError, match="longer than") as stopped:
        "".join(scheduler.submit(request("long story>", max_tokens=100_000, timeout_s=0.3)).pieces())
    assert time.monotonic() - started < 2 and "after 0 tokens" not in str(stopped.value)  # it ran, then stopped
    assert wait_until(lambda: scheduler.status().active == 0)


def test_a_queued_call_with_too_little_time_left_is_not_started(make: Any) -> None:
    scheduler, _ = make(step_s=0.01, n_slots=1)
    first = scheduler.submit(request("long one>", max_tokens=100_000))
    late = scheduler.submit(request("late note>", BACKGROUND, timeout_s=1.5))
    with pytest.raises(LLMError, match="after 0 tokens"):
        "".join(late.pieces())
    assert late.stats.queued_s is None and late.stats.output_tokens == 0  # refused at ~0.5 s, never run
    first.cancel()


# ---------------------------------------------------------------------------------------------- leaving
def test_a_closed_generator_frees_its_slot(make: Any) -> None:
    scheduler, engine = make(step_s=0.01)
    gen = scheduler.submit(request("long answer>", max_tokens=100_000))
    pieces = gen.pieces()
    assert [next(pieces) for _ in range(3)] == ["x", "x", "x"]
    pieces.close()  # the caller stopped reading
    assert wait_until(lambda: scheduler.status().active == 0)
    assert scheduler.status().cancelled == 1
    seq_len = max(len(kv) for kv in engine.kv.values())
    time.sleep(0.1)
    assert max(len(kv) for kv in engine.kv.values()) == seq_len  # nothing more was decoded for it


def test_a_queued_call_whose_person_left_is_dropped_without_running(make: Any) -> None:
    scheduler, _ = make(step_s=0.01, n_slots=1)
    running = scheduler.submit(request("long first>", max_tokens=100_000))
    group = CallGroup()
    outcome: dict[str, Any] = {}

    def turn() -> None:
        with group.active():
            gen = scheduler.submit(request("second>", BACKGROUND))
            outcome["gen"] = gen
            try:
                outcome["text"] = "".join(gen.pieces())
            except LLMError as exc:
                outcome["error"] = exc

    worker = threading.Thread(target=turn)
    worker.start()
    assert wait_until(lambda: scheduler.status().queued == 1)
    left = time.monotonic()
    group.cancel()  # the person's connection closed: their turn's calls stop
    worker.join(5)
    assert "person left" in str(outcome["error"]) and time.monotonic() - left < 1
    running.cancel()
    assert wait_until(lambda: scheduler.status().dropped == 1 and scheduler.status().active == 0)
    assert outcome["gen"].stats.queued_s is None  # it never got a slot
    with group.active(), pytest.raises(LLMError, match="person left"):
        scheduler.submit(request("third>"))  # a later call of the same turn is not even queued


# ---------------------------------------------------------------------------------------------- the queue
def test_past_the_queue_bound_a_call_is_told_to_try_again_shortly(make: Any) -> None:
    scheduler, _ = make(step_s=0.01, n_slots=1, max_queued=1)
    first = scheduler.submit(request("long one>", max_tokens=100_000))
    assert wait_until(lambda: scheduler.status().active == 1)
    second = scheduler.submit(request("two>", BACKGROUND))
    with pytest.raises(LLMBusy, match="try again shortly"):
        scheduler.submit(request("three>", BACKGROUND))
    assert scheduler.status().refused == 1
    first.cancel()
    assert "".join(second.pieces()) == "TWO"  # the one in line still runs


def test_an_understanding_call_waits_only_briefly_for_a_slot(make: Any) -> None:
    scheduler, _ = make(step_s=0.01, n_slots=1)
    busy = scheduler.submit(request("long notes>", BACKGROUND, max_tokens=100_000))
    assert wait_until(lambda: scheduler.status().active == 1)
    started = time.monotonic()
    with pytest.raises(LLMBusy, match="try again shortly"):
        "".join(scheduler.submit(request("what to watch>", slot_wait_s=0.2)).pieces())
    assert 0.15 < time.monotonic() - started < 1.0
    busy.cancel()


def test_understanding_calls_run_before_note_calls_queued_earlier(make: Any) -> None:
    scheduler, _ = make(step_s=0.005, n_slots=1)
    first = scheduler.submit(request("long running>", BACKGROUND, max_tokens=30))
    assert wait_until(lambda: scheduler.status().active == 1)
    notes = [scheduler.submit(request(f"note {n}>", BACKGROUND)) for n in (1, 2)]
    understanding = scheduler.submit(request("understand me>", URGENT))
    texts = read_all([first, *notes, understanding])
    assert texts == ["x" * 30, "NOTE 1", "NOTE 2", "UNDERSTAND ME"]
    admitted = {g.number: g.submitted + g.stats.queued_s for g in (*notes, understanding)}
    assert admitted[understanding.number] < min(admitted[n.number] for n in notes)


def test_note_calls_leave_a_slot_for_understanding(make: Any) -> None:
    scheduler, _ = make(step_s=0.01, n_slots=2, reserve=1)
    notes = [scheduler.submit(request(f"long note {n}>", BACKGROUND, max_tokens=100_000)) for n in (1, 2)]
    assert wait_until(lambda: scheduler.status().active == 1) and scheduler.status().queued == 1
    understanding = scheduler.submit(request("rainy paris>", slot_wait_s=0.5))
    assert "".join(understanding.pieces()) == "RAINY PARIS"
    assert understanding.stats.queued_s < 0.2
    for gen in notes:
        gen.cancel()


# ---------------------------------------------------------------------------------------------- the real model
@pytest.fixture(scope="module")
def small_model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The real 0.5B GGUF, assembled from its packages once for this module."""
    from chatbot.llm import ensure_gguf

    return str(ensure_gguf(tmp_path_factory.mktemp("llm-batch"), "0.5b", progress=False))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_real_small_model_writes_the_same_greedy_text_together_as_alone(small_model_path: str) -> None:
    from chatbot.llm import complete_json, stream_text
    from chatbot.llm.batched import BatchedLlamaChatModel

    model = BatchedLlamaChatModel(model_path=small_model_path, n_threads=2, slot_wait_s=300, temperature=0.0)
    prompts = [[("system", "You are brief."), ("user", f"Name {n} colours, comma separated.")] for n in (2, 3, 4)]
    alone = ["".join(stream_text(model, p, 300, max_tokens=16)) for p in prompts]
    out: list[str] = [""] * len(prompts)

    def write(i: int) -> None:
        out[i] = "".join(stream_text(model, prompts[i], 300, max_tokens=16))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert out == alone and all(alone)
    schema = {"type": "object", "properties": {"capital": {"type": "string", "maxLength": 20}},
              "required": ["capital"], "additionalProperties": False}
    assert "Paris" in complete_json(model, [("user", "The capital of France, as JSON.")], schema, 300)["capital"]
    status = model.scheduler().status()
    assert status.active == 0 and status.queued == 0 and status.finished >= 7
