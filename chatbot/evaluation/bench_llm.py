"""`tastebud bench llm`: time a chat model: its load, a short JSON extraction (cold, then with a warm prompt
prefix, then again after another prompt ran), and free generation speed in tokens per second; with `--streams`,
the embedded model's batched decoding (`benchmark_streams`): 1..N streams decoded together against the same
requests one at a time, in the same run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from chatbot.llm.calls import call_options, complete_json
from chatbot.llm.protocol import ChatModel, as_messages, text_of
from retrieval.errors import TastebudError

# The probe sentences: what each says, and the city and genre a right reading finds in it.
PROBE_SENTENCES: tuple[tuple[str, str, str], ...] = (
    ("I'm in Lisbon tonight and want a good horror film", "Lisbon", "Horror"),
    ("We are stuck in rainy Seattle, something funny please - a comedy", "Seattle", "Comedy"),
    ("Any space adventure sci-fi for tonight here in Berlin?", "Berlin", "Sci-Fi"),
)
# Free generation: one longer answer, timed from its first token.
GENERATION_MESSAGES = [("system", "You are a concise assistant."),
                       ("user", "Describe a rainy evening in a city in 120 words.")]


# The schema of the probe prompt (prompts/llm_probe.yaml): a city and a genre from one sentence.
def probe_schema() -> dict[str, Any]:
    """JSON schema of the probe answer: city_en (string) and genre (closed list + "none")."""
    from retrieval.types import GENRES

    return {
        "type": "object",
        "properties": {
            "city_en": {"type": "string", "maxLength": 40},
            "genre": {"type": "string", "enum": [*GENRES, "none"]},
        },
        "required": ["city_en", "genre"],
        "additionalProperties": False,
    }


def benchmark_llm(model: ChatModel, runs: int = 3, progress: bool = True) -> dict[str, Any]:
    """Time a model: load, a short JSON extraction (cold, then warm prefix), and free generation speed."""
    from prompts import load_prompt

    out: dict[str, Any] = {"backend": getattr(model, "_llm_type", type(model).__name__)}
    out.update(_time_load(model))
    prompt = load_prompt("llm_probe")
    out.update(_time_json_extraction(model, prompt, runs, progress))
    out.update(_time_generation(model))
    out.update(_time_json_after_other_prompt(model, prompt))
    return out


def _time_load(model: ChatModel) -> dict[str, Any]:
    """The first load's seconds and a second load call's (which reuses the loaded model); {} without `load`."""
    load = getattr(model, "load", None)
    if not callable(load):
        return {}
    out: dict[str, Any] = {}
    started = time.perf_counter()
    out["load_s"] = round(load(), 3)  # the first load in this process (0 wait if it was loaded before)
    out["first_load_call_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    load()
    out["second_load_call_s"] = round(time.perf_counter() - started, 4)  # reuses the loaded model
    return out


def _time_json_extraction(model: ChatModel, prompt: Any, runs: int, progress: bool) -> dict[str, Any]:
    """`runs` probe extractions: the first's seconds, the median of the rest, how many fields were right."""
    from tqdm import tqdm

    from retrieval.types import GENRES

    times: list[float] = []
    correct = 0
    answers = []
    for i in tqdm(range(runs), desc="json extraction", disable=not progress):
        text, city, genre = PROBE_SENTENCES[i % len(PROBE_SENTENCES)]
        messages = prompt.render(message=text, genres=list(GENRES))
        started = time.perf_counter()
        data = complete_json(model, messages, probe_schema(), timeout_s=120, max_tokens=64)
        times.append(time.perf_counter() - started)
        answers.append(data)
        correct += int(data.get("city_en") == city) + int(data.get("genre") == genre)
    return {
        "json_first_s": round(times[0], 3),
        "json_next_median_s": round(statistics.median(times[1:]), 3) if len(times) > 1 else None,
        "json_fields_correct": f"{correct}/{2 * runs}",
        "json_answers": answers,
    }


def _time_generation(model: ChatModel) -> dict[str, Any]:
    """Free generation speed: one longer answer, timed from the first token."""
    opts = call_options(model, 300, None, 160)
    started = time.perf_counter()
    first = None
    n_pieces = 0
    usage = None
    for chunk in model.stream(as_messages(GENERATION_MESSAGES), **opts):
        if text_of(chunk.content):
            n_pieces += 1
            if first is None:
                first = time.perf_counter()
        usage = getattr(chunk, "usage_metadata", None) or usage
    end = time.perf_counter()
    n_tokens = (usage or {}).get("output_tokens", n_pieces)
    return {
        "gen_tokens": n_tokens,
        "gen_first_token_s": round((first or end) - started, 3),
        "gen_tok_per_s": round((n_tokens - 1) / (end - first), 1) if first and n_tokens > 1 and end > first else None,
    }


def _time_json_after_other_prompt(model: ChatModel, prompt: Any) -> dict[str, Any]:
    """The agent alternates prompts (understand, notes): time the JSON prompt again after another prompt ran."""
    from retrieval.types import GENRES

    text, city, genre = PROBE_SENTENCES[0]
    started = time.perf_counter()
    data = complete_json(model, prompt.render(message=text, genres=list(GENRES)), probe_schema(), 120, max_tokens=64)
    return {
        "json_after_other_prompt_s": round(time.perf_counter() - started, 3),
        "json_after_other_prompt_correct": data == {"city_en": city, "genre": genre},
    }


# ---------------------------------------------------------------------------------------------- several streams
# One shared system prompt (its prefix is read once and copied) and distinct requests that each ask for a long
# answer, so every stream writes `max_tokens` tokens.
STREAM_SYSTEM = "You are a film critic who writes vivid, concrete prose."
STREAM_TOPICS = ("a rainy evening in Lisbon", "a heist film set in Tokyo", "a road trip across Iceland",
                 "a silent comedy from the 1920s", "a space station drama", "a detective story in Cairo",
                 "a musical about bakers in Vienna", "a western filmed in the Andes", "a ghost story in Kyoto",
                 "a courtroom drama in Toronto", "a surfing documentary in Peru", "a chess thriller in Oslo")


def stream_requests(n: int) -> list[list[tuple[str, str]]]:
    """`n` distinct chat prompts sharing one system prompt, each asking for a long answer."""
    return [[("system", STREAM_SYSTEM), ("user", f"Describe {STREAM_TOPICS[i % len(STREAM_TOPICS)]} in 150 words.")]
            for i in range(n)]


def _percentiles(values: list[float]) -> dict[str, float | None]:
    """p50 and p95 (nearest rank) of a list of seconds, rounded."""
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]  # noqa: E731
    return {"p50": round(at(0.5), 3), "p95": round(at(0.95), 3)}


def _run_streams(scheduler: Any, prompts: list[list[int]], max_tokens: int) -> dict[str, Any]:
    """Submit every prompt at once and read each in its own thread: texts, tokens, wall and per-stream times."""
    import threading

    from chatbot.llm.generation import URGENT, GenerationRequest

    texts: list[str] = [""] * len(prompts)
    stats: list[Any] = [None] * len(prompts)
    errors: list[str] = []

    def read(i: int, gen: Any) -> None:
        """Read one stream to its end."""
        try:
            texts[i] = "".join(gen.pieces())
        except TastebudError as exc:
            errors.append(str(exc))
        stats[i] = gen.stats

    started = time.perf_counter()
    gens = [scheduler.submit(GenerationRequest(tuple(p), max_tokens=max_tokens, timeout_s=900, priority=URGENT))
            for p in prompts]
    readers = [threading.Thread(target=read, args=(i, g), daemon=True) for i, g in enumerate(gens)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(960)
    wall = time.perf_counter() - started
    tokens = sum(s.output_tokens for s in stats if s is not None)
    return {"texts": texts, "tokens": tokens, "wall_s": wall, "errors": errors,
            "first_token_s": [s.first_token_s for s in stats if s is not None and s.first_token_s is not None],
            "stream_s": [s.elapsed_s for s in stats if s is not None and s.elapsed_s is not None]}


def _one_at_a_time(scheduler: Any, prompts: list[list[int]], max_tokens: int) -> dict[str, Any]:
    """The same prompts one after another (each alone in the batch): texts, tokens, seconds of each."""
    runs = [_run_streams(scheduler, [p], max_tokens) for p in prompts]
    return {"texts": [r["texts"][0] for r in runs], "tokens": [r["tokens"] for r in runs],
            "seconds": [r["wall_s"] for r in runs], "first_token_s": [t for r in runs for t in r["first_token_s"]],
            "errors": [e for r in runs for e in r["errors"]]}


def benchmark_streams(model_path: str, widths: Sequence[int] = (1, 2, 4, 8), n_threads: int = 2,
                      max_tokens: int = 64, progress: bool = True) -> dict[str, Any]:
    """Aggregate generated tokens/s and per-stream latency with 1..N streams decoded together in one llama.cpp
    batch, against the same requests one at a time, in the same run (one-at-a-time measured before and after, and
    averaged, as the load of shared cores drifts)."""
    import os

    from tqdm import tqdm

    from chatbot.llm.batch_engine import EngineConfig, LlamaBatchEngine
    from chatbot.llm.protocol import to_role_dicts
    from chatbot.llm.scheduler import DecodeScheduler

    widths = sorted({int(w) for w in widths if int(w) >= 1})
    if not widths:
        raise ValueError("--streams needs at least one width >= 1, e.g. 1,2,4,8")
    n = max(widths)
    config = EngineConfig(model_path=model_path, n_threads=n_threads, n_slots=n, n_pinned=0)
    scheduler = DecodeScheduler(lambda: LlamaBatchEngine(config), n_slots=n, n_pinned=0, reserve=0,
                                max_queued=2 * n, prefill_chunk=512, name="bench-llm")
    try:
        load_s = scheduler.wait_ready()
        prompts = [scheduler.engine.prompt_tokens(to_role_dicts(as_messages(m))) for m in stream_requests(n)]
        _run_streams(scheduler, prompts[:1], 8)  # warm-up: the first decode allocates buffers
        bar = tqdm(total=2 + len(widths), desc="bench llm streams", disable=not progress)
        before = _one_at_a_time(scheduler, prompts, max_tokens)
        bar.update(1)
        rows = []
        for w in widths:
            rows.append(_run_streams(scheduler, prompts[:w], max_tokens) | {"streams": w})
            bar.update(1)
        after = _one_at_a_time(scheduler, prompts, max_tokens)
        bar.update(1)
        bar.close()
    finally:
        scheduler.close()
    return _streams_report(model_path, n_threads, max_tokens, load_s, before, after, rows) | {
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()]}


def _streams_report(model_path: str, n_threads: int, max_tokens: int, load_s: float, before: dict[str, Any],
                    after: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures: one-at-a-time speed (mean of before and after), and per width its speed, ratio and latency."""
    from pathlib import Path

    one_rate = [sum(r["tokens"]) / sum(r["seconds"]) for r in (before, after)]
    base = statistics.mean(one_rate)
    per_prompt_s = [statistics.mean(pair) for pair in zip(before["seconds"], after["seconds"])]
    widths = []
    for row in rows:
        w = row["streams"]
        same = sum(1 for i, text in enumerate(row["texts"]) if text == before["texts"][i])
        rate = row["tokens"] / row["wall_s"]
        widths.append({
            "streams": w, "aggregate_tok_s": round(rate, 2), "vs_one_at_a_time": round(rate / base, 2),
            "wall_s": round(row["wall_s"], 2), "one_at_a_time_wall_s": round(sum(per_prompt_s[:w]), 2),
            "first_token_s": _percentiles(row["first_token_s"]), "stream_s": _percentiles(row["stream_s"]),
            "tokens": row["tokens"], "same_text_as_one_at_a_time": f"{same}/{w}", "errors": row["errors"][:3],
        })
    return {
        "model": Path(model_path).name, "threads": n_threads, "max_tokens_per_stream": max_tokens,
        "load_s": round(load_s, 2),
        "one_at_a_time": {"tok_s_before": round(one_rate[0], 2), "tok_s_after": round(one_rate[1], 2),
                          "tok_s": round(base, 2), "stream_s": _percentiles(per_prompt_s),
                          "first_token_s": _percentiles(before["first_token_s"] + after["first_token_s"]),
                          "errors": (before["errors"] + after["errors"])[:3]},
        "widths": widths,
    }
