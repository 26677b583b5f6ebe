"""`tastebud llm` and `bench llm`: the language model on its own."""

from __future__ import annotations

import argparse
import sys

from chatbot.config import Settings
from chatbot.doors.cli.parser import BENCH_HELP, group, print_json, with_llm


def add_commands(sub: argparse._SubParsersAction) -> None:
    """bench llm / llm ask."""
    bench = group(sub, "bench", BENCH_HELP)
    p = bench.add_parser("llm", help="time the LLM: load, a short JSON extraction (cold, warm), generation tok/s")
    p.add_argument("--llm", default=None, metavar="NAME", help="backend to time (default TASTEBUD_LLM)")
    p.add_argument("--runs", type=int, default=3, help="JSON extractions to time (default 3)")
    p.set_defaults(handler=_cmd_bench_llm)
    p = sub.add_parser("llm", help="send one message to the configured LLM and stream its answer")
    p.add_argument("message", help="the message")
    p.add_argument("--llm", default=None, metavar="NAME", help="backend (default TASTEBUD_LLM)")
    p.add_argument("--system", default="You are a concise assistant.", help="system prompt")
    p.set_defaults(handler=_cmd_llm_ask)


def _cmd_bench_llm(args: argparse.Namespace, settings: Settings) -> int:
    """Print the LLM timings as JSON."""
    from chatbot.evaluation.bench_llm import benchmark_llm
    from chatbot.llm import make_chat_model

    settings = with_llm(settings, args.llm)
    report = benchmark_llm(make_chat_model(settings), runs=max(args.runs, 1), progress=True)
    print_json({"llm": settings.llm, "threads": settings.threads, **report})
    return 0


def _cmd_llm_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Stream one answer to stdout."""
    from chatbot.llm import make_chat_model, stream_text

    settings = with_llm(settings, args.llm)
    model = make_chat_model(settings)
    for piece in stream_text(model, [("system", args.system), ("user", args.message)], settings.llm_timeout_s):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0
