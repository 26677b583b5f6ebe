"""`tastebud eval notes`: the notes benchmark (chatbot/evaluation/notes_eval.py).

`eval` is the ranking section's command (offline evaluation of the interest model, `tastebud eval [--dataset]`);
this section gives it an optional first word: `tastebud eval notes` runs the notes benchmark instead, and every
other call of `tastebud eval` goes to the ranking section's handler as before.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chatbot.config import Settings
from chatbot.doors.cli.parser import print_json
from chatbot.evaluation.notes_eval import CATALOGS



def add_commands(sub: argparse._SubParsersAction) -> None:
    """`eval notes` on the existing `eval` command (registered after the ranking section)."""
    parser = sub.choices.get("eval")
    if parser is None:  # no ranking section: `eval` is the notes benchmark alone
        parser = sub.add_parser("eval", help="offline evaluation")
        parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    ranking_handler = parser.get_default("handler")
    parser.add_argument("what", nargs="?", choices=("notes",),
                        help="notes: the notes benchmark (the default is the interest model's evaluation)")
    parser.add_argument("--catalog", choices=CATALOGS, default="films",
                        help="eval notes: the catalog whose requests run, on that catalog's agent (default films)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="eval notes: score today's notes only (not the brief notes and the templates)")
    parser.add_argument("--limit", type=int, default=None, help="eval notes: only the first N conversations")
    parser.add_argument("--conversation", action="append", default=[], metavar="ID",
                        help="eval notes: only this conversation of the requests file (repeatable)")

    def handle(args: argparse.Namespace, settings: Settings) -> int:
        """The notes benchmark for `eval notes`, the ranking evaluation otherwise."""
        if args.what == "notes":
            return _cmd_eval_notes(args, settings)
        if ranking_handler is None:
            print("tastebud eval: say what to evaluate (notes)", file=sys.stderr)
            return 2
        return int(ranking_handler(args, settings) or 0)

    parser.set_defaults(handler=handle)


def _cmd_eval_notes(args: argparse.Namespace, settings: Settings) -> int:
    """Run the notes benchmark; the table (or JSON) on stdout, JSON + PNG in the data dir's reports folder."""
    from chatbot.evaluation.notes_eval import (
        format_notes_table,
        run_notes_eval,
        write_report,
    )

    report: dict[str, Any] = run_notes_eval(settings, catalog=args.catalog, baseline=not args.no_baseline,
                                            limit=args.limit, progress=not args.json, only=args.conversation)
    json_path, png_path = write_report(report, settings.shared_dir)
    if args.json:
        shown = {k: v for k, v in report.items() if k != "answers"}
        shown["report_files"] = {"json": str(json_path), "png": str(png_path)}
        print_json(shown)
    else:
        print(format_notes_table(report))
        print(f"\nevery note: {json_path}\nfigure: {png_path}")
    return 0
