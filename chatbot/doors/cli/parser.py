"""What every command section shares: the handler type, command groups (`bench`, `data`), JSON output and
the `--llm` override."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from chatbot.config import Settings

Handler = Callable[[argparse.Namespace, Settings], int]

BENCH_HELP = "benchmarks that print figures against a baseline"
DATA_HELP = "build the demo catalog or import your own"

_GROUPS: dict[str, argparse._SubParsersAction] = {}


def reset_groups() -> None:
    """Forget the command groups of an earlier parser (each `build_parser` starts afresh)."""
    _GROUPS.clear()


def group(sub: argparse._SubParsersAction, name: str, help_text: str) -> argparse._SubParsersAction:
    """A command group such as `bench` or `data`, shared by every section that adds to it."""
    if name not in _GROUPS:
        parser = sub.add_parser(name, help=help_text)
        _GROUPS[name] = parser.add_subparsers(dest=f"{name}_command", required=True)
    return _GROUPS[name]


def print_json(obj: Any) -> None:
    """Print an object as JSON on stdout."""
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def with_llm(settings: Settings, name: str | None) -> Settings:
    """Settings with another LLM backend, when one is named."""
    return settings.model_copy(update={"llm": name}) if name else settings
