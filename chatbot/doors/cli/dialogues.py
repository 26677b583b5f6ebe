"""`tastebud dialogue-test`, `constraints-test` and `simulate`: scripted conversations, the constraint phrasings and
simulated users."""

from __future__ import annotations

import argparse
from typing import Any

from chatbot.config import Settings
from chatbot.doors.cli.parser import print_json, with_llm
from retrieval.errors import TastebudError


def add_commands(sub: argparse._SubParsersAction) -> None:
    """dialogue-test / simulate."""
    p = sub.add_parser("dialogue-test", help="run scripted conversations (YAML) through the agent and check each turn")
    p.add_argument("paths", nargs="+", metavar="PATH", help="dialogue scripts, or folders of *.yaml scripts")
    p.add_argument("--json", action="store_true", help="print one JSON object with every dialogue's result")
    p.add_argument("--llm", default=None, metavar="NAME",
                   help="LLM backend for this run (embedded, embedded-small, openai, ...; default TASTEBUD_LLM)")
    p.set_defaults(handler=_cmd_dialogue_test)

    p = sub.add_parser("constraints-test", help="the constraint phrasings (YAML) through the agent: accuracy per language")
    p.add_argument("path", metavar="FILE", help="the phrasings, e.g. tests/understanding/constraints.yaml")
    p.add_argument("--understand-llm", choices=("never", "always", "auto"), default="never",
                   help="understanding by rules alone (never, the default) or with the LLM in the loop (always)")
    p.add_argument("--llm", default=None, metavar="NAME", help="LLM backend for this run (default TASTEBUD_LLM)")
    p.add_argument("--json", action="store_true", help="print the figures and every failure as one JSON object")
    p.set_defaults(handler=_cmd_constraints_test)

    p = sub.add_parser("simulate", help="simulated users: Hit@5 within T turns, full system vs baselines")
    p.add_argument("--users", type=int, default=50, help="simulated users from the test split (default 50)")
    p.add_argument("--turns", type=int, default=5, help="turns per conversation (default 5)")
    p.add_argument("--mode", choices=("cold", "warm", "both"), default="both", help="start cold, warm or both")
    p.add_argument("--targets", choices=("held-out", "balanced", "both"), default="both",
                   help="users in a random order (held-out), as many per popularity band (balanced), or both")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--no-notes", action="store_true", help="skip the LLM-written notes (they never change a hit)")
    p.add_argument("--llm", default=None, metavar="NAME", help="LLM backend for this run (default TASTEBUD_LLM)")
    p.add_argument("--tune", action="store_true",
                   help="choose the ranking blend (w_relevance, w_interest, w_popularity, mmr_lambda) on validation "
                        "users instead: prints every blend tried and the best")
    p.set_defaults(handler=_cmd_simulate)


def _cmd_dialogue_test(args: argparse.Namespace, settings: Settings) -> int:
    """Run dialogue scripts; print each turn with pass/fail and reasons; non-zero exit on any failure."""
    from chatbot.evaluation.dialogues.runner import DialogueOutcome, DialogueRunner
    from chatbot.evaluation.dialogues.script import find_scripts
    from chatbot.evaluation.harness import open_agent

    settings = with_llm(settings, args.llm)
    by_catalog = _scripts_by_catalog(find_scripts(args.paths), settings.catalog)  # a missing path fails first
    outcomes = []
    for catalog, scripts in by_catalog.items():
        here = settings.model_copy(update={"catalog": catalog})
        try:
            agent = open_agent(here)
        except TastebudError as exc:  # that catalog is not built here: its scripts fail, the others still run
            missing = f"the {catalog} catalog could not be opened ({exc}); TASTEBUD_CATALOG={catalog} tastebud " \
                      "start builds a demo, `tastebud data import` fills your own"
            failed = [DialogueOutcome(name=p.stem, path=str(p), error=missing) for p in scripts]
            outcomes += failed
            if not args.json:
                print("\n".join(line for o in failed for line in o.lines()), flush=True)
            continue
        runner = DialogueRunner.from_agent(agent, here.resolved_data_dir)
        for outcome in runner.run_paths(scripts):
            outcomes.append(outcome)
            if not args.json:
                print("\n".join(outcome.lines()), flush=True)
    from chatbot.evaluation.dialogues.runner import RunReport

    report = RunReport(tuple(outcomes))
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"\n{report.passed} passed, {report.failed} failed")
    return 0 if report.failed == 0 else 1


def _scripts_by_catalog(paths: list[Any], default: str) -> dict[str, list[Any]]:
    """Scripts grouped by the catalog they talk to (a broken script goes with `default`, and is reported there)."""
    from chatbot.evaluation.dialogues.script import ScriptError, load_script

    out: dict[str, list[Any]] = {}
    for path in paths:
        try:
            catalog = load_script(path).catalog
        except ScriptError:
            catalog = default
        out.setdefault(catalog, []).append(path)
    return out


def _cmd_constraints_test(args: argparse.Namespace, settings: Settings) -> int:
    """Run the constraint phrasings; print the accuracy per language and topic; non-zero exit on any failure."""
    from chatbot.evaluation.constraints import load_cases, newest_year_mismatch, open_constraint_agent, run_cases

    settings = with_llm(settings, args.llm)
    newest_year, cases = load_cases(args.path)  # a bad file fails before the models load
    agent = open_constraint_agent(settings, args.understand_llm)
    warning = newest_year_mismatch(agent, newest_year)
    report = run_cases(agent, cases, progress=not args.json)
    if args.json:
        print_json({**report.to_dict(), "understand_llm": args.understand_llm, "warning": warning})
    else:
        print("\n".join(report.lines() + ([f"warning: {warning}"] if warning else [])))
    return 0 if all(o.passed for o in report.outcomes) else 1


def _cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    """Run the simulated-user evaluation and print the table (or JSON)."""
    from chatbot.evaluation.simulate import MODES, TARGETS, markdown_table, simulate

    settings = with_llm(settings, args.llm)
    modes = MODES if args.mode == "both" else (args.mode,)
    if args.tune:
        from chatbot.evaluation.simulate import tune_blend

        tuned = tune_blend(settings, n_users=args.users, turns=args.turns, progress=not args.json)
        if args.json:
            print_json(tuned)
        else:
            print(tuned["protocol"])
            print("\n| relevance | interest | popularity | mmr λ | Hit@5 (mean) | cold | warm | avg turn |")
            print("|---|---|---|---|---|---|---|---|")
            for r in tuned["trials"]:
                print(f"| {r['relevance']} | {r['interest']} | {r['popularity']} | {r['mmr_lambda']} | {r['hit@5']:.3f} "
                      f"| {r['cold_hit@5']:.3f} | {r['warm_hit@5']:.3f} | {r['avg_turn']:.2f} |")
            b = tuned["best"]
            print(f"\nbest: TASTEBUD_W_RELEVANCE={b['relevance']} TASTEBUD_W_INTEREST={b['interest']} "
                  f"TASTEBUD_W_POPULARITY={b['popularity']} TASTEBUD_MMR_LAMBDA={b['mmr_lambda']}   "
                  f"({tuned['users']} validation users, {tuned['seconds']:.0f} s)")
        return 0
    targets = TARGETS if args.targets == "both" else (args.targets,)
    report = simulate(settings, n_users=args.users, turns=args.turns, modes=modes, notes=not args.no_notes,
                      progress=True, targets=targets)
    if args.json:
        print_json({"protocol": report["protocol"], "results": report["results"], "plot": report["plot"],
                    "episodes": report["episodes"], "seconds": report["seconds"]})
    else:
        print(report["protocol"])
        print()
        print(markdown_table(report))
        print(f"\nplot: {report['plot']}   every conversation: {report['episodes']}   ({report['seconds']:.0f} s)")
    return 0
