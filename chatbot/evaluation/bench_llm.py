"""`tastebud bench llm`: time a chat model: its load, a short JSON extraction (cold, then with a warm prompt
prefix, then again after another prompt ran), and free generation speed in tokens per second.

`tastebud bench llm --streams 1,2,4,8` (`benchmark_streams`): batched generation. For each width W, W note calls
at once (the real notes prompt, ~48 generated tokens each, greedy JSON) through the batched runtime, against the
same calls one at a time on the same runtime (and, optionally, on llama-cpp-python): generated tokens per second
of the whole group, each call's time to its first token and to its end."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from chatbot.llm.calls import call_options, complete_json, stream_text
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


# ------------------------------------------------------------------------------------ batched generation (streams)
# The films of the batched benchmark's note calls, as the notes prompt takes them (prompts/notes.yaml): a title,
# its fact line and why it was picked. Call k writes notes for films k, k+5 and k+9 (mod 16): every call differs.
BENCH_FILMS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Up", ("2009", "Adventure, Animation, Comedy", "director Pete Docter"), "rainy evening -> cozy"),
    ("Heat", ("1995", "Action, Crime, Thriller", "director Michael Mann", "cast Al Pacino, Robert De Niro"),
     "you asked for: a tense crime film"),
    ("Amelie", ("2001", "Comedy, Romance", "director Jean-Pierre Jeunet", "cast Audrey Tautou"), "date night"),
    ("Alien", ("1979", "Horror, Sci-Fi", "director Ridley Scott", "cast Sigourney Weaver"), "you asked for: scary"),
    ("Toy Story", ("1995", "Animation, Children, Comedy", "director John Lasseter"), "watching with kids"),
    ("Fargo", ("1996", "Comedy, Crime, Drama", "directors Joel Coen, Ethan Coen"), "snowy day -> wintry"),
    ("Casablanca", ("1942", "Drama, Romance", "director Michael Curtiz", "cast Humphrey Bogart, Ingrid Bergman"),
     "you like classics"),
    ("The Matrix", ("1999", "Action, Sci-Fi, Thriller", "directors Lana Wachowski, Lilly Wachowski"),
     "you liked Inception"),
    ("Spirited Away", ("2001", "Adventure, Animation, Fantasy", "director Hayao Miyazaki"), "rainy evening -> cozy"),
    ("Jaws", ("1975", "Action, Horror", "director Steven Spielberg", "cast Roy Scheider"), "hot day -> summer"),
    ("Groundhog Day", ("1993", "Comedy, Fantasy, Romance", "director Harold Ramis", "cast Bill Murray"),
     "you asked for: something funny"),
    ("Se7en", ("1995", "Crime, Mystery, Thriller", "director David Fincher", "cast Brad Pitt, Morgan Freeman"),
     "you asked for: a dark mystery"),
    ("Paddington 2", ("2017", "Adventure, Comedy, Children", "director Paul King"), "watching with kids"),
    ("Arrival", ("2016", "Drama, Sci-Fi", "director Denis Villeneuve", "cast Amy Adams"), "you liked Interstellar"),
    ("Chinatown", ("1974", "Crime, Film-Noir, Mystery", "director Roman Polanski", "cast Jack Nicholson"),
     "you like classics"),
    ("Mad Max: Fury Road", ("2015", "Action, Adventure, Sci-Fi", "director George Miller"), "late night -> intense"),
)
FILMS_PER_CALL = 3


def note_calls(n: int) -> list[Any]:
    """`n` note-writing calls of the real notes prompt (3 films each, no two alike): rendered messages."""
    from prompts import load_prompt

    prompt = load_prompt("notes")
    calls = []
    for k in range(n):
        picks = [BENCH_FILMS[(k + step) % len(BENCH_FILMS)] for step in (0, 5, 9)[:FILMS_PER_CALL]]
        evening = [f"evening {k // len(BENCH_FILMS) + 1}"] if k >= len(BENCH_FILMS) else []
        sheets = [{"n": i + 1, "label": str(i + 1), "title": title, "facts": list(facts), "reasons": [why, *evening],
                   "focus": "", "may": [], "never": [], "avoid": []}
                  for i, (title, facts, why) in enumerate(picks)]
        calls.append(prompt.render(sheets=sheets, language="en"))
    return calls


def note_schema(n_notes: int = FILMS_PER_CALL) -> dict[str, Any]:
    """The answer of a note call: one short string per film, keyed "1".."n" (as the turn's notes schema)."""
    keys = [str(i + 1) for i in range(n_notes)]
    return {"type": "object", "properties": {k: {"type": "string", "maxLength": 120} for k in keys},
            "required": keys, "additionalProperties": False}


@dataclass(frozen=True)
class CallTiming:
    """One timed note call: seconds from its group's start (one at a time: from its own start), tokens written."""

    first_token_s: float
    done_s: float
    tokens: int  # generated tokens, as the backend counts them


def _timed_call(model: ChatModel, messages: Any, max_tokens: int, t0: float) -> CallTiming:
    """One note call, streamed, timed from `t0`."""
    usage: dict[str, Any] = {}
    first = None
    for _ in stream_text(model, messages, 600, schema=note_schema(), max_tokens=max_tokens, usage=usage):
        if first is None:
            first = time.perf_counter() - t0
    done = time.perf_counter() - t0
    return CallTiming(first_token_s=first or done, done_s=done, tokens=int(usage.get("output_tokens", 0)))


def run_group(model: ChatModel, calls: Sequence[Any], max_tokens: int, at_once: bool, tick: Any = None):
    """The calls all at once (one thread each) or one after another; the group's figures (see `group_figures`)."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    timings: list[CallTiming] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    if at_once:
        with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="bench-stream") as pool:
            futures = [pool.submit(_timed_call, model, messages, max_tokens, started) for messages in calls]
            for future in as_completed(futures):
                timings.append(future.result())
                if tick:
                    tick()
    else:
        for messages in calls:
            timings.append(_timed_call(model, messages, max_tokens, time.perf_counter()))
            if tick:
                tick()
    return group_figures(timings, time.perf_counter() - started, time.process_time() - cpu_started)


def group_figures(timings: Sequence[CallTiming], wall_s: float, cpu_s: float | None = None) -> dict[str, Any]:
    """Tokens per second of the whole group (all tokens over its wall time), per CPU second of this process (every
    thread: fairer than wall time on shared cores), and p50/p95 of the calls' latencies."""
    import numpy as np

    tokens = sum(t.tokens for t in timings)
    first = np.array([t.first_token_s for t in timings])
    done = np.array([t.done_s for t in timings])
    return {
        "calls": len(timings),
        "tokens": tokens,
        "wall_s": round(wall_s, 2),
        "tok_per_s": round(tokens / wall_s, 2) if wall_s > 0 else None,
        "cpu_s": None if cpu_s is None else round(cpu_s, 1),
        "tok_per_cpu_s": round(tokens / cpu_s, 2) if cpu_s else None,
        "first_token_p50_s": round(float(np.percentile(first, 50)), 2),
        "first_token_p95_s": round(float(np.percentile(first, 95)), 2),
        "done_p50_s": round(float(np.percentile(done, 50)), 2),
        "done_p95_s": round(float(np.percentile(done, 95)), 2),
    }


def benchmark_streams(model: ChatModel, widths: Sequence[int], max_tokens: int = 48,
                      baseline: ChatModel | None = None, progress: bool = True) -> dict[str, Any]:
    """Batched generation on `model`: for each width W, W calls one at a time and right after W other calls at
    once (close in time, so the load of shared cores weighs on both alike); optionally two calls one at a time on
    `baseline` (llama-cpp-python). Every call is a different note call."""
    from tqdm import tqdm

    widths = sorted(set(widths))
    n_warm, n_base = max(widths), (2 if baseline is not None else 0)
    n_calls = n_warm + sum(widths) + sum(w for w in widths if w > 1) + n_base
    calls = iter(note_calls(n_calls + 1))
    out: dict[str, Any] = {"backend": getattr(model, "_llm_type", type(model).__name__),
                           "slots": getattr(model, "slots", None), "threads": getattr(model, "n_threads", None),
                           "max_tokens": max_tokens, "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    out.update(_time_load(model))
    bar = tqdm(total=n_calls, desc="note calls", disable=not progress)
    tick = partial(bar.update, 1)
    started = time.perf_counter()  # every slot evaluates the notes prompt's fixed prefix once, as in service
    run_group(model, [next(calls) for _ in range(n_warm)], 1, at_once=True, tick=tick)
    out["warmup_s"] = round(time.perf_counter() - started, 2)
    runs = []
    for width in widths:
        alone = run_group(model, [next(calls) for _ in range(width)], max_tokens, False, tick)
        runs.append({"run": "one at a time", "runtime": out["backend"], "streams": 1, **alone})
        if width > 1:
            together = run_group(model, [next(calls) for _ in range(width)], max_tokens, True, tick)
            runs.append({"run": "at once", "runtime": out["backend"], "streams": width, **together,
                         "x_one_at_a_time": _ratio(together, alone, "tok_per_s"),
                         "x_one_at_a_time_cpu": _ratio(together, alone, "tok_per_cpu_s")})
    if baseline is not None:
        run_group(baseline, [next(calls)], 1, at_once=False)  # load, and keep the prompt's prefix
        runs.append({"run": "one at a time", "runtime": getattr(baseline, "_llm_type", "baseline"), "streams": 1,
                     **run_group(baseline, [next(calls) for _ in range(n_base)], max_tokens, False, tick)})
    bar.close()
    out["runs"] = runs
    at_4 = next((r for r in runs if r["run"] == "at once" and r["streams"] == 4), {})
    out["x_at_4_streams"], out["x_at_4_streams_cpu"] = at_4.get("x_one_at_a_time"), at_4.get("x_one_at_a_time_cpu")
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return out


def _ratio(together: dict[str, Any], alone: dict[str, Any], key: str) -> float | None:
    """together[key] / alone[key], rounded; None where either is missing."""
    return round(together[key] / alone[key], 2) if together.get(key) and alone.get(key) else None


def format_streams_table(report: dict[str, Any]) -> Any:
    """The batched-generation benchmark as a rich Table."""
    from rich.table import Table

    table = Table(title=f"bench llm --streams: note calls of <= {report['max_tokens']} tokens, {report['slots']} "
                        f"slots, {report['threads']} threads, load average {report['loadavg_before'][0]} -> "
                        f"{report['loadavg_after'][0]}")
    columns = [("run", "run"), ("runtime", "runtime"), ("streams", "streams"), ("calls", "calls"),
               ("tokens", "tokens"), ("wall s", "wall_s"), ("tok/s", "tok_per_s"), ("x one", "x_one_at_a_time"),
               ("CPU s", "cpu_s"), ("tok/CPU s", "tok_per_cpu_s"), ("x one (CPU)", "x_one_at_a_time_cpu"),
               ("1st token p50 s", "first_token_p50_s"), ("1st token p95 s", "first_token_p95_s"),
               ("done p50 s", "done_p50_s"), ("done p95 s", "done_p95_s")]
    for title, _ in columns:
        table.add_column(title, justify="left" if title in ("run", "runtime") else "right")
    for run in report["runs"]:
        table.add_row(*["-" if run.get(key) is None else str(run.get(key)) for _, key in columns])
    return table
