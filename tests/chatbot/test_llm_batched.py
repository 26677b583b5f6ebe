"""Batched generation (xllamacpp): the server's parameters, the request, error and time-limit mapping, the chat
model over a scripted server, the factory's runtime choice, the benchmark's arithmetic; and (slow) the real
model: schema-checked JSON, two calls progressing together, a time limit, and `tastebud llm-server` answering the
project's OpenAI backend."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from chatbot.config import Settings
from chatbot.evaluation.bench_llm import CallTiming, group_figures, note_calls, note_schema
from chatbot.llm import XLlamaCppChatModel, complete_json, ensure_gguf, make_chat_model, stream_text
from chatbot.llm import xllamacpp_backend as xb
from retrieval.errors import LLMError, ModelUnavailable, TastebudError

CITY = {"type": "object", "properties": {"city_en": {"type": "string", "maxLength": 30}},
        "required": ["city_en"], "additionalProperties": False}


# ---------------------------------------------------------------------------------------------- parameters
def _fake_xllamacpp() -> SimpleNamespace:
    """A stand-in for the xllamacpp module whose CommonParams records what is set."""
    def common_params() -> SimpleNamespace:
        return SimpleNamespace(model=SimpleNamespace(path=""), cpuparams=SimpleNamespace(n_threads=-1, poll=50),
                               cpuparams_batch=SimpleNamespace(n_threads=-1, poll=50))

    return SimpleNamespace(CommonParams=common_params)


def test_server_params_bound_context_threads_and_ram_and_keep_the_api_private():
    config = xb.ServerConfig(model_path="/m/qwen.gguf", slots=3, n_ctx_per_slot=2048, n_threads=2)
    params = xb.server_params(_fake_xllamacpp(), config, "k3y")
    assert params.model.path == "/m/qwen.gguf"
    assert (params.n_parallel, params.n_ctx, params.cont_batching) == (3, 6144, True)
    assert [params.cpuparams.n_threads, params.cpuparams_batch.n_threads] == [2, 2]
    assert [params.cpuparams.poll, params.cpuparams_batch.poll] == [0, 0]  # no spinning on shared cores
    assert params.hostnames == ["127.0.0.1"] and params.port == 0 and params.api_keys == ["k3y"]
    assert (params.ui, params.verbosity, params.n_threads_http, params.fit_params) == (False, 0, 1, False)
    assert params.cache_ram_mib <= 512
    assert params.model_alias == ["qwen"]


def test_a_missing_package_names_the_pin_and_libgomp(monkeypatch):
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # import fails as when the wheel is absent
    with pytest.raises(ModelUnavailable, match=r"xllamacpp==2026\.10\.11549.*libgomp1"):
        xb.open_server(xb.ServerConfig(model_path="/nowhere.gguf"))


def test_a_missing_model_file_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "xllamacpp", _fake_xllamacpp())
    with pytest.raises(ModelUnavailable, match="tastebud setup"):
        xb.open_server(xb.ServerConfig(model_path=str(tmp_path / "missing.gguf")))


def test_the_request_carries_the_schema_limits_and_stops():
    opts = {"json_schema": CITY, "timeout_s": 7.5, "max_tokens": 40, "temperature": 0.0}
    request = xb.chat_request(xb.as_messages([("system", "s"), ("user", "u")]), ["\n\n"], opts, seed=3)
    assert request["messages"] == [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    assert (request["stream"], request["max_tokens"], request["temperature"], request["seed"]) == (True, 40, 0.0, 3)
    assert request["stop"] == ["\n\n"] and request["t_max_predict_ms"] == 7500
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["schema"] == CITY
    plain = xb.chat_request(xb.as_messages("hi"), None, dict(opts, json_schema=None), seed=0)
    assert "response_format" not in plain and "stop" not in plain


def test_server_errors_become_clear_llm_errors():
    too_long = xb.server_error({"code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": 5030,
                                "n_ctx": 4096, "message": "request exceeds"})
    assert "too long" in str(too_long) and "5030" in str(too_long)
    assert "refused the call: bad grammar" in str(xb.server_error({"type": "invalid_request", "message": "bad grammar"}))
    assert "failed: oops" in str(xb.server_error("oops"))


# ---------------------------------------------------------------------------------------------- a scripted server
def _chunk(text: str | None = None, finish: str | None = None, **extra) -> dict:
    """One OpenAI-style streamed chunk as xllamacpp hands it to the callback."""
    delta = {} if text is None else {"content": text}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


class ScriptedServer:
    """Plays chunks to the callback, as xllamacpp.Server.handle_chat_completions does; records the requests."""

    def __init__(self, chunks: list, delay_s: float = 0.0, raises: Exception | None = None) -> None:
        self.chunks, self.delay_s, self.raises = chunks, delay_s, raises
        self.requests: list[dict] = []
        self.stopped_at: int | None = None  # the chunk after which the callback asked to stop

    def handle_chat_completions(self, request: dict, callback) -> None:
        self.requests.append(request)
        if self.raises:
            raise self.raises
        for i, chunk in enumerate(self.chunks):
            time.sleep(self.delay_s)
            if callback(chunk):
                self.stopped_at = i
                return


DONE = [_chunk(finish="stop"), {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3},
                                "timings": {"prompt_n": 5, "prompt_ms": 250.0, "predicted_n": 3, "predicted_ms": 90.0}}]


@pytest.fixture
def scripted(monkeypatch):
    """A chat model whose shared server is a ScriptedServer (set `.server` before calling)."""
    holder = SimpleNamespace(server=None)

    def fake_shared(config: xb.ServerConfig) -> xb.RunningServer:
        return xb.RunningServer(server=holder.server, config=config, load_s=0.0, base_url="http://127.0.0.1:1",
                                api_key="k", model_name="qwen-test")

    monkeypatch.setattr(xb, "shared_server", fake_shared)
    holder.model = XLlamaCppChatModel(model_path="/m/qwen.gguf", timeout_s=5)
    return holder


def test_the_model_streams_the_server_chunks_and_reports_the_work(scripted):
    scripted.server = ScriptedServer([_chunk(None), _chunk('{"city_en"'), _chunk(': "Oslo"'), _chunk("}"), *DONE])
    usage: dict = {}
    text = "".join(stream_text(scripted.model, [("user", "Oslo")], 5, schema=CITY, max_tokens=20, usage=usage))
    assert json.loads(text) == {"city_en": "Oslo"}
    assert usage["input_tokens"] == 12 and usage["output_tokens"] == 3
    assert usage["prompt_eval_tokens"] == 5 and usage["gen_tokens"] == 3 and usage["prompt_eval_s"] == 0.25
    request = scripted.server.requests[-1]
    assert request["response_format"]["json_schema"]["schema"] == CITY
    assert request["temperature"] == 0.0 and request["max_tokens"] == 20  # greedy for JSON, as call_options says


def test_complete_json_reads_the_whole_answer(scripted):
    scripted.server = ScriptedServer([_chunk('{"city_en": "Rome"}'), *DONE])
    assert complete_json(scripted.model, "in Rome", CITY, timeout_s=5, max_tokens=16) == {"city_en": "Rome"}
    assert scripted.model.invoke("x").response_metadata["finish_reason"] == "stop"


def test_an_error_chunk_or_a_raised_error_becomes_llmerror(scripted):
    scripted.server = ScriptedServer([{"error": {"type": "exceed_context_size_error", "n_prompt_tokens": 9000,
                                                 "n_ctx": 4096}}])
    with pytest.raises(LLMError, match="too long"):
        scripted.model.invoke("x")
    scripted.server = ScriptedServer([], raises=ValueError("Expected 'messages' to be an array"))
    with pytest.raises(LLMError, match="messages"):
        scripted.model.invoke("x")
    scripted.server = ScriptedServer([_chunk("cut")])  # no finish reason: the answer broke off
    with pytest.raises(LLMError, match="without a finish reason"):
        scripted.model.invoke("x")


def test_the_time_limit_stops_the_call_in_time_and_cancels_it_in_the_server(scripted):
    scripted.server = ScriptedServer([_chunk(f"w{i} ") for i in range(100)] + DONE, delay_s=0.05)
    started = time.monotonic()
    with pytest.raises(LLMError, match="longer than") as caught:
        scripted.model.invoke("a long story", timeout_s=0.4)
    assert time.monotonic() - started < 1.5
    assert 1 <= caught.value.usage["output_tokens"] <= 9  # what was written before the limit (~8 at 0.05 s each)
    time.sleep(0.2)
    assert scripted.server.stopped_at is not None and scripted.server.stopped_at < 20  # the server was told to stop


def test_the_time_limit_holds_while_the_server_is_silent(scripted):
    scripted.server = ScriptedServer([_chunk("late"), *DONE], delay_s=2.0)  # a long prompt: no chunk for 2 s
    started = time.monotonic()
    with pytest.raises(LLMError, match="longer than"):
        scripted.model.invoke("x", timeout_s=0.3)
    assert time.monotonic() - started < 1.5  # not the 2 s the server stays silent


def test_unknown_options_are_refused(scripted):
    scripted.server = ScriptedServer(DONE)
    with pytest.raises(LLMError, match="does not take the options"):
        scripted.model.invoke("x", top_k=3)


# ---------------------------------------------------------------------------------------------- the factory
@pytest.fixture
def fake_gguf(monkeypatch, tmp_path):
    """ensure_gguf replaced by a stand-in path."""
    monkeypatch.setattr("chatbot.llm.factory.ensure_gguf", lambda shared, size="1.5b", **_: tmp_path / f"m-{size}.gguf")


def test_the_runtime_setting_picks_the_batched_model(fake_gguf, data_dir):
    model = make_chat_model(Settings(data_dir=data_dir, llm="embedded-small", llm_runtime="xllamacpp", llm_slots=6,
                                     threads=1, llm_timeout_s=9))
    assert isinstance(model, XLlamaCppChatModel)
    assert (model.slots, model.n_threads, model.timeout_s) == (6, 1, 9)
    assert model.model_path.endswith("m-0.5b.gguf")
    config = model.server_config()
    assert config.slots == 6 and config.n_ctx_per_slot == model.n_ctx and config.port == 0
    default = make_chat_model(Settings(data_dir=data_dir, llm="embedded"))
    assert not isinstance(default, XLlamaCppChatModel)  # llama-cpp-python stays the default
    with pytest.raises(TastebudError, match="TASTEBUD_LLM_RUNTIME"):
        make_chat_model(Settings(data_dir=data_dir, llm="embedded", llm_runtime="vllm"))


# ---------------------------------------------------------------------------------------------- the benchmark
def test_note_calls_differ_and_the_group_figures_add_up():
    calls = note_calls(20)
    users = [c.messages[-1][1] for c in calls]
    assert len(set(users)) == 20 and all("3 notes" in u for u in users)
    assert note_schema()["required"] == ["1", "2", "3"]
    figures = group_figures([CallTiming(1.0, 4.0, 40), CallTiming(2.0, 8.0, 40)], wall_s=8.0)
    assert figures["tokens"] == 80 and figures["tok_per_s"] == 10.0
    assert figures["first_token_p50_s"] == 1.5 and figures["done_p95_s"] == 7.8


# ---------------------------------------------------------------------------------------------- the real model
@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory) -> Path:
    """The real 0.5B GGUF, assembled from its packages into a data dir of this module's own."""
    return ensure_gguf(tmp_path_factory.mktemp("llm-batched"), "0.5b", progress=False)


@pytest.fixture(scope="module")
def batched(small_gguf) -> XLlamaCppChatModel:
    """The real small model on xllamacpp, two slots."""
    return XLlamaCppChatModel(model_path=str(small_gguf), n_threads=2, slots=2, timeout_s=120)


@pytest.mark.slow
def test_real_batched_model_answers_schema_checked_json(batched):
    data = complete_json(batched, [("system", "Extract the city as JSON."), ("user", "Two nights in Oslo.")],
                         CITY, timeout_s=120, max_tokens=24)
    assert data == {"city_en": "Oslo"}


@pytest.mark.slow
def test_real_batched_model_decodes_two_calls_together(batched):
    events: list[tuple[int, float]] = []

    def run(k: int) -> None:
        for _ in stream_text(batched, [("user", f"Count from {k} upward, in words.")], 120, max_tokens=10):
            events.append((k, time.monotonic()))

    threads = [threading.Thread(target=run, args=(k,)) for k in (1, 20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    last = {k: max(at for kk, at in events if kk == k) for k in (1, 20)}
    first_done = min(last.values())
    for k in (1, 20):  # each call wrote several pieces before the other one finished
        assert sum(1 for kk, at in events if kk == k and at < first_done) >= 3


@pytest.mark.slow
def test_real_batched_model_stops_at_the_time_limit(batched):
    batched.load()
    started = time.monotonic()
    with pytest.raises(LLMError, match="longer than"):
        batched.invoke([("user", "Write a 400-word story about a lighthouse.")], timeout_s=1.5, max_tokens=500)
    assert time.monotonic() - started < 5
    assert "".join(stream_text(batched, [("user", "Name one colour.")], 60, max_tokens=6))  # still serves


def _free_port() -> int:
    """A port that nothing on 127.0.0.1 listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_llm_server_answers_the_projects_openai_backend(small_gguf):
    port = _free_port()
    env = {**os.environ, "TASTEBUD_DATA_DIR": str(small_gguf.parent.parent), "TASTEBUD_OPENAI_API_KEY": "k-test",
           "TASTEBUD_THREADS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "chatbot.doors.cli", "llm-server", "--model", "0.5b",
                             "--port", str(port), "--slots", "2"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stdout:  # the settings to use, then "ready"
            lines.append(line.strip())
            if line.strip() == "ready":
                break
        found = dict(line.split("=", 1) for line in lines if "=" in line)
        assert found["TASTEBUD_OPENAI_BASE_URL"] == f"http://127.0.0.1:{port}/v1"
        model = make_chat_model(Settings(llm="openai", openai_base_url=found["TASTEBUD_OPENAI_BASE_URL"],
                                         openai_model=found["TASTEBUD_OPENAI_MODEL"], openai_api_key="k-test"))
        data = complete_json(model, [("system", "Extract the city as JSON."), ("user", "A week in Oslo.")], CITY,
                             timeout_s=120, max_tokens=24)
        assert data == {"city_en": "Oslo"}
        assert "".join(stream_text(model, [("user", "Name two colours.")], 120, max_tokens=8)).strip()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_notes_answer_begins_with_what_its_schema_forces_and_ends_with_its_object():
    """What every note answer begins with is given, not written a token a step: `{"1":"` for the notes schema
    (any key, any language), nothing for schemas whose answers may begin otherwise; and an answer is over as soon
    as its JSON object closes (no step for the end-of-text token)."""
    from chatbot.llm.llamacpp_batch import _closed, json_lead
    from chatbot.turn.notes.stream import notes_schema

    assert json_lead(notes_schema(["1"], "en")) == '{"1":"'
    assert json_lead({"type": "object", "properties": {"标题": {"type": "string"}}, "required": ["标题"]}) == '{"标题":"'
    assert json_lead({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}) == ""
    assert json_lead({"type": "object", "properties": {"a": {"type": "string"}}}) == ""  # optional: may not come
    assert json_lead({"type": "array", "items": {"type": "string"}}) == "" and json_lead(None) == ""
    assert _closed('{"1":"Paddington lands in London {and} stays."}')
    assert not _closed('{"1":"Paddington lands in London {and}') and not _closed('{"1":"a"')
