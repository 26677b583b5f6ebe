"""`tastebud bench llm`: time a chat model: its load, a short JSON extraction (cold, then with a warm prompt
prefix, then again after another prompt ran), and free generation speed in tokens per second."""

from __future__ import annotations

import statistics
import time
from typing import Any

from chatbot.llm.calls import call_options, complete_json
from chatbot.llm.protocol import ChatModel, as_messages, text_of

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
