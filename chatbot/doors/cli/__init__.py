"""The `tastebud` command: a thin layer of argument parsing over the packages.

Each module of this package adds one section of commands (`add_commands`); `main` is the console script.
"""

from __future__ import annotations

import argparse
import sys

from chatbot.config import Settings, set_offline_environment
from chatbot.doors.cli import chat, data, dialogues, llm, notes, ranking, setup, web
from chatbot.doors.cli.parser import BENCH_HELP, DATA_HELP, group, reset_groups
from retrieval.errors import TastebudError

SECTIONS = (setup.add_commands, data.add_commands, ranking.add_commands, notes.add_commands, chat.add_commands,
            web.add_commands, dialogues.add_commands, llm.add_commands)  # notes after ranking: it adds to `eval`


def build_parser() -> argparse.ArgumentParser:
    """The whole argument parser; `bench` subcommands are registered under one `bench` parser."""
    reset_groups()
    parser = argparse.ArgumentParser(prog="tastebud", description="A conversational recommender.")
    sub = parser.add_subparsers(dest="command", required=True)
    group(sub, "data", DATA_HELP)
    group(sub, "bench", BENCH_HELP)
    for add in SECTIONS:
        add(sub)
    return parser


def settings_problem(exc: ValueError) -> str:
    """'TASTEBUD_N_ITEMS="abc": Input should be a valid integer' for each field a ValidationError names."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    return "; ".join(f'TASTEBUD_{"_".join(str(p) for p in e.get("loc", ())).upper()}={e.get("input")!r}: '
                     f'{e.get("msg", "not valid")}' for e in errors())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tastebud` console script."""
    set_offline_environment()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError: a TASTEBUD_* variable that does not parse
        print(f"tastebud: a setting is not valid, nothing was done: {settings_problem(exc)}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(args, settings) or 0)
    except TastebudError as exc:
        print(f"tastebud: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
