"""`tastebud setup` and `start`: build what is missing in the data dir, then (start) run the web app."""

from __future__ import annotations

import argparse

from chatbot.config import Settings
from chatbot.doors.cli.web import start_web


def add_commands(sub: argparse._SubParsersAction) -> None:
    """`tastebud setup` builds whatever is missing; `tastebud start` runs the main job."""
    p = sub.add_parser("setup", help="build whatever is missing in the data dir (catalog, index, model)")
    p.set_defaults(handler=_cmd_setup)
    p = sub.add_parser("start", help="the main job: build what is missing, then run the app")
    p.set_defaults(handler=_cmd_start)


def _cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    """Build every missing artefact, each step idempotent."""
    from chatbot.build import build_all

    build_all(settings)
    return 0


def _cmd_start(args: argparse.Namespace, settings: Settings) -> int:
    """Build what is missing, then start the main job: the web app (chat UI at /, HTTP API at /api, widget)."""
    from chatbot.build import build_all

    build_all(settings)
    return start_web(settings)
