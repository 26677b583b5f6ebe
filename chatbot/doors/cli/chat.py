"""`tastebud ask`, `chat` and `bench turn`: conversations with the agent."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chatbot.config import Settings
from chatbot.doors.cli.parser import BENCH_HELP, group, print_json, with_llm


def add_commands(sub: argparse._SubParsersAction) -> None:
    """chat / ask / bench turn."""
    p = sub.add_parser("ask", help="one turn of conversation; --session continues an earlier one")
    p.add_argument("message", help="what you would like (any language; English and Chinese understood)")
    p.add_argument("--session", default=None, metavar="ID", help="continue this conversation")
    p.add_argument("--profile", default=None, metavar="ID", help="your profile id (likes carry across sessions)")
    p.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    p.add_argument("--llm", default=None, metavar="NAME", help="LLM backend for this turn (default TASTEBUD_LLM)")
    p.set_defaults(handler=_cmd_ask)

    p = sub.add_parser("chat", help="chat in the terminal (streaming); /like N, /dislike N, /new, /quit")
    p.add_argument("--session", default=None, metavar="ID", help="continue this conversation")
    p.add_argument("--llm", default=None, metavar="NAME", help="LLM backend (default TASTEBUD_LLM)")
    p.set_defaults(handler=_cmd_chat)

    bench = group(sub, "bench", BENCH_HELP)
    p = bench.add_parser("turn", help="time to first card and to the whole reply over scripted turns")
    p.add_argument("--turns", type=int, default=20, help="scripted turns (default 20)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--llm", default=None, metavar="NAME", help="LLM backend (default TASTEBUD_LLM)")
    p.add_argument("--sequential-notes", action="store_true",
                   help="also run the turns with the notes written one call after another (not batched)")
    p.set_defaults(handler=_cmd_bench_turn)


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """One turn; prints the reply (or the whole answer as JSON) and the session id to continue with."""
    from chatbot.turn.agent import Agent

    agent = Agent.from_settings(with_llm(settings, args.llm))
    problem = agent.prepare()
    if problem:
        print(f"note: {problem}", file=sys.stderr)
    done: dict[str, Any] = {}
    for event in agent.respond(args.session, args.message, args.profile):
        if event.kind == "done":
            done = event.data
        elif event.kind == "error":
            print(event.data["message"], file=sys.stderr)
    if args.json:
        print_json(done)
    else:
        print(done.get("reply", ""))
        print(f"\n(session {done.get('session_id')}: continue with --session {done.get('session_id')})",
              file=sys.stderr)
    return 0


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """A terminal chat over Agent.respond, streaming cards then notes."""
    from chatbot.doors.terminal import run_terminal_chat

    return run_terminal_chat(with_llm(settings, args.llm), args.session)


def _cmd_bench_turn(args: argparse.Namespace, settings: Settings) -> int:
    """Time scripted turns on the configured LLM against a no-LLM baseline in the same run."""
    from chatbot.evaluation.bench_turn import format_turn_table, run_turn_benchmark

    report = run_turn_benchmark(with_llm(settings, args.llm), n_turns=args.turns, progress=not args.json,
                                sequential_notes=args.sequential_notes)
    if args.json:
        print_json(report)
    else:
        print(format_turn_table(report))
    return 0
