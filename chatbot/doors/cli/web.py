"""`tastebud serve` and `bench serve`: the web app."""

from __future__ import annotations

import argparse
import sys

from chatbot.config import Settings
from chatbot.doors.cli.parser import BENCH_HELP, group, print_json


def add_commands(sub: argparse._SubParsersAction) -> None:
    """serve / bench serve."""
    p = sub.add_parser("serve", help="run the web app: chat UI at /, HTTP API at /api, widget at /widget.js")
    p.add_argument("--host", default=None, help="address to listen on (default: TASTEBUD_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: TASTEBUD_PORT, 7860)")
    p.set_defaults(handler=_cmd_serve)

    bench = group(sub, "bench", BENCH_HELP)
    p = bench.add_parser("serve", help="concurrent conversations over HTTP: turns side by side vs one at a time")
    p.add_argument("--sessions", type=int, default=32, help="concurrent conversations (default 32, at most 40)")
    p.add_argument("--deadline", type=float, default=1800.0, help="global time limit in seconds (default 1800)")
    p.add_argument("--no-baseline", action="store_true", help="skip the one-turn-at-a-time baseline")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(handler=_cmd_bench_serve)


def start_web(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Run the web app (chat UI at /, HTTP API at /api, widget at /widget.js) until interrupted."""
    from chatbot.doors.web.api import serve

    host, port = host or settings.host, port or settings.port
    print(f"tastebud is starting on http://{host}:{port} (UI at /, API docs at /docs, widget at /widget.js)",
          file=sys.stderr)
    serve(settings, host=host, port=port)
    return 0


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Start the web app and serve until interrupted."""
    return start_web(settings, args.host, args.port)


def _cmd_bench_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the concurrent-serving benchmark and print its table (or JSON)."""
    from chatbot.evaluation.bench_serve import format_table, run_serve_benchmark

    report = run_serve_benchmark(settings, n_sessions=args.sessions, deadline_s=args.deadline,
                                 baseline=not args.no_baseline, progress=not args.json)
    if args.json:
        print_json(report)
    else:
        from rich.console import Console

        console = Console()
        if not console.is_terminal:
            console = Console(width=200)  # piped: keep the wide table readable
        console.print(format_table(report))
        for run in report["runs"]:
            for line in run["cross_talk_violations"] + run["errors"]:
                console.print(f"[{run['mode']}] {line}", markup=False)
    return 0
