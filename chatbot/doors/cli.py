"""The `tastebud` command: a thin layer of argument parsing over the packages."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from chatbot.config import Settings, set_offline_environment
from retrieval.types import TastebudError

Handler = Callable[[argparse.Namespace, Settings], int]


def _print_json(obj: Any) -> None:
    """Print an object as JSON on stdout."""
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


_GROUPS: dict[str, argparse._SubParsersAction] = {}


def group(sub: argparse._SubParsersAction, name: str, help_text: str) -> argparse._SubParsersAction:
    """A command group such as `bench` or `data`, shared by every section that adds to it."""
    if name not in _GROUPS:
        parser = sub.add_parser(name, help=help_text)
        _GROUPS[name] = parser.add_subparsers(dest=f"{name}_command", required=True)
    return _GROUPS[name]


# ---------------------------------------------------------------- section: setup / start (owner: lead)
def _add_setup(sub: argparse._SubParsersAction) -> None:
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
    """Build what is missing, then start the main job."""
    from chatbot.build import build_all, start_main_job

    build_all(settings)
    return start_main_job(settings)


# ---------------------------------------------------------------- section: catalog data (owner: retrieval-data)
def _add_catalog_data(sub: argparse._SubParsersAction) -> None:
    """data build / data import."""
    data = group(sub, "data", "build the demo catalog or import your own")
    p = data.add_parser("build", help="build the demo movie catalog and ratings from the packaged data")
    p.add_argument("--force", action="store_true", help="rebuild even when the catalog is up to date")
    p.set_defaults(handler=_cmd_data_build)
    p = data.add_parser("import", help="replace the catalog with your own file (CSV, JSONL or Parquet)")
    p.add_argument("file", help="the catalog file: columns id and title, every other item field optional")
    p.add_argument("--no-index", action="store_true", help="do not rebuild the search index afterwards")
    p.add_argument("--max-problems", type=int, default=50, help="how many row problems to list")
    p.set_defaults(handler=_cmd_data_import)


def _cmd_data_build(args: argparse.Namespace, settings: Settings) -> int:
    """Build (or confirm up to date) the demo catalog and interactions."""
    from retrieval.sources import build_demo_catalog

    report = build_demo_catalog(settings.resolved_data_dir, force=args.force, progress=True)
    print(report)
    if report.match_methods and not report.skipped:
        methods = ", ".join(f"{k} {v:,}" for k, v in sorted(report.match_methods.items(), key=lambda kv: -kv[1]))
        print(f"title matches by method: {methods}")
    return 0


def _cmd_data_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a catalog file: report bad rows, write the good ones, rebuild the index."""
    from pathlib import Path

    from retrieval.catalog import import_catalog_file, write_catalog

    path = Path(args.file).expanduser()
    report = import_catalog_file(path)
    for line in report.summary_lines(max_problems=args.max_problems):
        print(line)
    if not report.items:
        print("nothing was imported; the previous catalog is unchanged", file=sys.stderr)
        return 2
    data_dir = settings.resolved_data_dir
    write_catalog(data_dir, report.items, {"source": f"import:{path.name}"})
    print(f"catalog of {len(report.items):,} items written to {data_dir}")
    _drop_stale_interactions(data_dir, {item.id for item in report.items})
    if args.no_index:
        print("search index not rebuilt (--no-index): run `tastebud index` before searching")
        return 0
    from retrieval.search import build_index

    try:
        index_report = build_index(data_dir, chroma_url=settings.chroma_url, embedder=None, progress=True)
    except TastebudError as exc:
        print(f"the catalog was imported, but the search index was not rebuilt: {exc}", file=sys.stderr)
        print("the previous index keeps serving; run `tastebud index` to try again", file=sys.stderr)
        return 2
    print(index_report)
    return 0


def _drop_stale_interactions(data_dir: Any, item_ids: set[str]) -> None:
    """Remove interactions.parquet when it rates items the new catalog lacks (`tastebud data build` restores it)."""
    import pandas as pd

    path = data_dir / "interactions.parquet"
    if not path.is_file():
        return
    rated = set(pd.read_parquet(path, columns=["item"])["item"].unique())
    if rated <= item_ids:
        return
    path.unlink()
    print(f"removed {path.name}: its ratings are for items not in this catalog "
          "(the interest model is skipped; `tastebud data build` restores the demo)")


# ---------------------------------------------------------------- section: search (owner: retrieval-search)
def _add_search(sub: argparse._SubParsersAction) -> None:
    """index / search / bench search."""
    p = sub.add_parser("index", help="build or refresh the search index (embeds only items that changed)")
    p.add_argument("--force", action="store_true", help="rebuild even when the index is current")
    p.set_defaults(handler=_cmd_index)

    p = sub.add_parser("search", help="find catalog items by meaning and keywords, with exact filters")
    p.add_argument("text", nargs="?", default="", help="what you are looking for (may be empty with --where)")
    p.add_argument("--where", default=None, metavar="JSON",
                   help='exact filter, e.g. \'{"genres": {"$in": ["Comedy"]}, "year": {"$gte": 2000}}\'')
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    p.set_defaults(handler=_cmd_search)

    bench = group(sub, "bench", "benchmarks that print figures against a baseline")
    p = bench.add_parser("search", help="search latency (real catalog + synthetic 100k) vs brute-force numpy")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--million", action="store_true", help="also run the synthetic catalog at 1,000,000 items")
    p.add_argument("--queries", type=int, default=100, help="queries per measurement (default 100)")
    p.add_argument("--size", type=int, default=100_000, help="synthetic catalog size (default 100,000)")
    p.set_defaults(handler=_cmd_bench_search)


def _cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    """Build or refresh the search index of the data dir."""
    from retrieval.embeddings import MiniLMEmbedder
    from retrieval.search import build_index

    report = build_index(settings.resolved_data_dir, chroma_url=settings.chroma_url,
                         embedder=MiniLMEmbedder(threads=settings.threads), progress=True, force=args.force)
    print(report)
    return 0


def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Search the catalog and print a table or JSON."""
    from retrieval.embeddings import MiniLMEmbedder
    from retrieval.filters import parse_where
    from retrieval.search import Searcher
    from retrieval.types import Filters

    where = parse_where(args.where) if args.where else None
    searcher = Searcher.open(settings.resolved_data_dir, chroma_url=settings.chroma_url,
                             embedder=MiniLMEmbedder(threads=settings.threads))
    hits = searcher.search(args.text, Filters(where=where), k=args.k)
    if args.json:
        _print_json([{"id": c.item.id, "title": c.item.title, "year": c.item.year, "genres": list(c.item.genres),
                      "age_rating": c.item.age_rating, "runtime_min": c.item.runtime_min,
                      "directors": list(c.item.directors), "n_ratings": c.item.n_ratings,
                      "score": round(c.score, 6), "dense_score": c.dense_score, "keyword_score": c.keyword_score}
                     for c in hits])
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(hits)} results" + (f" for {args.text!r}" if args.text else ""))
    for name in ("#", "title", "year", "genres", "rated", "min", "score"):
        table.add_column(name, justify="right" if name in ("#", "year", "min", "score") else "left")
    for n, c in enumerate(hits, 1):
        it = c.item
        table.add_row(str(n), it.title, str(it.year or "?"), ", ".join(it.genres), it.age_rating or "?",
                      str(it.runtime_min or "?"), f"{c.score:.4f}")
    Console().print(table)
    if not hits:
        print("nothing matches; loosen the filters or rephrase", file=sys.stderr)
    return 0


def _cmd_bench_search(args: argparse.Namespace, settings: Settings) -> int:
    """Run the search benchmark and print its table (or JSON)."""
    from retrieval.benchmark import format_table, run_search_benchmark

    sizes = (args.size,) + ((1_000_000,) if args.million and args.size != 1_000_000 else ())
    result = run_search_benchmark(settings.resolved_data_dir, threads=settings.threads, n_queries=args.queries,
                                  chroma_url=settings.chroma_url, synthetic_sizes=sizes)
    if args.json:
        _print_json(result)
    else:
        from rich.console import Console

        Console().print(format_table(result))
    return 0


# ---------------------------------------------------------------- section: ranking (owner: ranking)
def _add_ranking(sub: argparse._SubParsersAction) -> None:
    """train / eval / bench rank."""
    p = sub.add_parser("train", help="train the interest model on the data dir's interactions (model/interest.pt)")
    p.add_argument("--epochs", type=int, default=None, help="upper bound on epochs (default: the config's)")
    p.add_argument("--time-limit", type=float, default=None, help="stop training after this many seconds")
    p.add_argument("--json", action="store_true", help="print the training report as JSON")
    p.set_defaults(handler=_cmd_train)
    p = sub.add_parser("eval", help="offline evaluation: the interest model against every baseline, one split")
    p.add_argument("--dataset", choices=("ml-latest-small", "ml-100k"), default="ml-latest-small")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--tradeoff", action="store_true",
                   help="also choose the blend weights on validation and plot accuracy vs diversity over MMR lambda")
    p.add_argument("--retrain", action="store_true", help="train a fresh interest model even if a matching one exists")
    p.add_argument("--time-limit", type=float, default=None, help="stop the interest model's training after this many s")
    p.set_defaults(handler=_cmd_eval)
    p = group(sub, "bench", "").add_parser("rank", help="latency of scoring 200 candidates for one profile")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--runs", type=int, default=300, help="timed calls per scorer")
    p.set_defaults(handler=_cmd_bench_rank)


def _ranking_inputs(settings: Settings) -> tuple[list[Any], list[str], Any]:
    """Catalog items, their ids and vectors, aligned (see chatbot.build.ranking_inputs)."""
    from chatbot.build import ranking_inputs

    return ranking_inputs(settings)


def _batch_embedder(settings: Settings) -> Callable[[list[str]], Any]:
    """MiniLM as a batch text -> vectors function (see chatbot.build.batch_embedder)."""
    from chatbot.build import batch_embedder

    return batch_embedder(settings)


def _cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    """Train the interest model and save it in the data dir."""
    from dataclasses import asdict

    from ranking.model import InterestConfig
    from ranking.train import train_interest_model

    items, ids, vectors = _ranking_inputs(settings)
    config = InterestConfig(threads=settings.threads)
    if args.epochs:
        config.epochs = args.epochs
    if args.time_limit:
        config.time_limit_s = args.time_limit
    report = train_interest_model(settings.resolved_data_dir, ids, vectors, _batch_embedder(settings), items,
                                  config=config)
    if args.json:
        out = asdict(report)
        out["checkpoint"] = str(report.checkpoint)
        _print_json(out)
    else:
        print(f"interest model saved to {report.checkpoint}: validation NDCG@10 {report.valid_ndcg10:.4f} "
              f"(best epoch {report.best_epoch} of {report.epochs_run}, {report.seconds:.0f} s, "
              f"{report.n_users} people, {report.n_items} items)")
    return 0


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate every model on one split; markdown (or JSON) on stdout, JSON + PNG in the data dir."""
    from ranking.datasets import load_dataset
    from ranking.evaluate import check_goals, evaluate, to_markdown

    data_dir = settings.resolved_data_dir
    embed = _batch_embedder(settings)
    interest = None
    inputs = None
    if args.dataset == "ml-latest-small" and (data_dir / "interactions.parquet").exists():
        try:
            inputs = _ranking_inputs(settings)
        except TastebudError as exc:
            print(f"note: the data dir is not ready ({exc}); evaluating on the packaged ml-latest-small instead",
                  file=sys.stderr)
    if inputs is not None:
        from ranking.data import leave_last_out, load_interactions

        items, ids, vectors = inputs
        interactions = load_interactions(data_dir)
        if not args.retrain:
            interest = _matching_interest_model(settings, ids, vectors, leave_last_out(interactions, ids))
    else:
        ds = load_dataset(args.dataset)
        items, interactions = list(ds.items), ds.interactions
        vectors = _cached_vectors(data_dir / "model" / f"vectors-{args.dataset}.npy", items, settings)
    from ranking.model import InterestConfig

    config = InterestConfig(threads=settings.threads)
    if args.time_limit:
        config.time_limit_s = args.time_limit
    report = evaluate(args.dataset, interactions, items, vectors, embed, out_dir=data_dir / "model",
                      interest=interest, tradeoff=args.tradeoff, progress=not args.json, config=config)
    if args.json:
        _print_json(report.to_json())
    else:
        print(to_markdown(report))
        print()
        for line in check_goals(report):
            print(line)
        for fig in report.figures:
            print(f"figure: {fig}")
    return 0


def _matching_interest_model(settings: Settings, ids: list[str], vectors: Any, split: Any) -> Any:
    """The data dir's interest model, when it was trained on exactly this split; else None (eval trains one)."""
    from ranking.data import split_fingerprint
    from ranking.model import CHECKPOINT, InterestScorer, load_checkpoint
    from ranking.train import InterestRecommender

    path = settings.resolved_data_dir / CHECKPOINT
    if not path.exists():
        return None
    ckpt = load_checkpoint(path)
    if ckpt.get("extra", {}).get("split") != split_fingerprint(split) or list(ckpt["item_ids"]) != list(ids):
        return None
    rec = InterestRecommender()
    rec.model = InterestScorer.from_checkpoint(ckpt, vectors, None).model
    return rec


def _cached_vectors(path: Any, items: list[Any], settings: Settings) -> Any:
    """Item content vectors for a benchmark data set, embedded once with MiniLM and cached in the data dir."""
    import hashlib

    import numpy as np

    from retrieval.embeddings import MiniLMEmbedder, item_text

    texts = [item_text(it) for it in items]
    key = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    path = path.with_name(f"{path.stem}-{key}.npy")
    if path.exists():
        return np.load(path)
    vectors = MiniLMEmbedder(threads=settings.threads).embed(texts, progress=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def _cmd_bench_rank(args: argparse.Namespace, settings: Settings) -> int:
    """Time scoring 200 candidates for one realistic profile, against baselines in the same run."""
    import numpy as np

    from ranking.benchmark import bench_rank
    from ranking.data import LIKED, leave_last_out, load_interactions
    from ranking.model import InterestScorer, Profile
    from retrieval.embeddings import MiniLMEmbedder

    import torch

    torch.set_num_threads(settings.threads)
    data_dir = settings.resolved_data_dir
    _items, ids, vectors = _ranking_inputs(settings)
    embedder = MiniLMEmbedder(threads=settings.threads)
    embedder.embed(["warm up"])  # load the model now, so the first-call figure measures embedding, not loading
    scorer = InterestScorer.load(data_dir, ids, vectors, lambda text: embedder.embed([text])[0])
    split = leave_last_out(load_interactions(data_dir), ids)
    rng = np.random.default_rng(0)
    longest = max(range(len(split.users)), key=lambda u: len(split.test_histories[u].items))
    hist = split.test_histories[longest]
    liked = tuple(ids[i] for i in hist.items[hist.signs == LIKED][-30:])
    disliked = tuple(ids[i] for i in hist.items[hist.signs == -1][-5:])
    profile = Profile(liked, disliked, "something funny and light for a rainy evening")
    candidates = [ids[i] for i in rng.choice(len(ids), size=min(200, len(ids)), replace=False)]
    out = bench_rank(scorer, profile, candidates, runs=args.runs)
    if args.json:
        _print_json(out)
    else:
        print(f"profile: {len(liked)} liked, {len(disliked)} disliked, text {profile.text!r}; "
              f"{len(candidates)} candidates; torch threads {out['torch_threads']}")
        print(f"first call with a new text (embeds it): {out['first_call_with_new_text_ms']:.1f} ms")
        for t in out["timings"]:
            print(f"  {t['name']:<60} p50 {t['p50_ms']:7.3f} ms   p95 {t['p95_ms']:7.3f} ms   ({t['runs']} runs)")
        print(f"goal p95 <= 10 ms: {'met' if out['goal']['met'] else 'NOT met'}")
    return 0


# ---------------------------------------------------------------- section: agent (owner: agent)
def _add_agent(sub: argparse._SubParsersAction) -> None:
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

    bench = group(sub, "bench", "benchmarks that print figures against a baseline")
    p = bench.add_parser("turn", help="time to first card and to the whole reply over scripted turns")
    p.add_argument("--turns", type=int, default=20, help="scripted turns (default 20)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--llm", default=None, metavar="NAME", help="LLM backend (default TASTEBUD_LLM)")
    p.set_defaults(handler=_cmd_bench_turn)


def _with_llm(settings: Settings, name: str | None) -> Settings:
    """Settings with another LLM backend, when one is named."""
    return settings.model_copy(update={"llm": name}) if name else settings


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """One turn; prints the reply (or the whole answer as JSON) and the session id to continue with."""
    from chatbot.turn.agent import Agent

    agent = Agent.from_settings(_with_llm(settings, args.llm))
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
        _print_json(done)
    else:
        print(done.get("reply", ""))
        print(f"\n(session {done.get('session_id')}: continue with --session {done.get('session_id')})",
              file=sys.stderr)
    return 0


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """A terminal chat over Agent.respond, streaming cards then notes."""
    from chatbot.doors.terminal import run_terminal_chat

    return run_terminal_chat(_with_llm(settings, args.llm), args.session)


def _cmd_bench_turn(args: argparse.Namespace, settings: Settings) -> int:
    """Time scripted turns on the configured LLM against a no-LLM baseline in the same run."""
    from chatbot.evaluation.bench_turn import format_turn_table, run_turn_benchmark

    report = run_turn_benchmark(_with_llm(settings, args.llm), n_turns=args.turns, progress=not args.json)
    if args.json:
        _print_json(report)
    else:
        print(format_turn_table(report))
    return 0


# ---------------------------------------------------------------- section: web (owner: web)
def _add_web(sub: argparse._SubParsersAction) -> None:
    """serve / bench serve."""
    p = sub.add_parser("serve", help="run the web app: chat UI at /, HTTP API at /api, widget at /widget.js")
    p.add_argument("--host", default=None, help="address to listen on (default: TASTEBUD_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: TASTEBUD_PORT, 7860)")
    p.set_defaults(handler=_cmd_serve)

    bench = group(sub, "bench", "benchmarks that print figures against a baseline")
    p = bench.add_parser("serve", help="concurrent conversations over HTTP vs the same turns run sequentially")
    p.add_argument("--sessions", type=int, default=32, help="concurrent conversations (default 32, at most 40)")
    p.add_argument("--deadline", type=float, default=1800.0, help="global time limit in seconds (default 1800)")
    p.add_argument("--no-baseline", action="store_true", help="skip the sequential in-process baseline")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(handler=_cmd_bench_serve)


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Start the web app and serve until interrupted."""
    from chatbot.doors.web.api import serve

    host, port = args.host or settings.host, args.port or settings.port
    print(f"tastebud is starting on http://{host}:{port} (UI at /, API docs at /docs, widget at /widget.js)",
          file=sys.stderr)
    serve(settings, host=host, port=port)
    return 0


def _cmd_bench_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the concurrent-serving benchmark and print its table (or JSON)."""
    from chatbot.evaluation.bench_serve import format_table, run_serve_benchmark

    report = run_serve_benchmark(settings, n_sessions=args.sessions, deadline_s=args.deadline,
                                 baseline=not args.no_baseline, progress=not args.json)
    if args.json:
        _print_json(report)
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


# ---------------------------------------------------------------- section: dialogues (owner: dialogues)
def _add_dialogues(sub: argparse._SubParsersAction) -> None:
    """dialogue-test / simulate."""
    p = sub.add_parser("dialogue-test", help="run scripted conversations (YAML) through the agent and check each turn")
    p.add_argument("paths", nargs="+", metavar="PATH", help="dialogue scripts, or folders of *.yaml scripts")
    p.add_argument("--json", action="store_true", help="print one JSON object with every dialogue's result")
    p.add_argument("--llm", default=None, metavar="NAME",
                   help="LLM backend for this run (embedded, embedded-small, openai, ...; default TASTEBUD_LLM)")
    p.set_defaults(handler=_cmd_dialogue_test)

    p = sub.add_parser("simulate", help="simulated users: Hit@5 within T turns, full system vs baselines")
    p.add_argument("--users", type=int, default=50, help="simulated users from the test split (default 50)")
    p.add_argument("--turns", type=int, default=5, help="turns per conversation (default 5)")
    p.add_argument("--mode", choices=("cold", "warm", "both"), default="both", help="start cold, warm or both")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--no-notes", action="store_true", help="skip the LLM-written notes (they never change a hit)")
    p.add_argument("--llm", default=None, metavar="NAME", help="LLM backend for this run (default TASTEBUD_LLM)")
    p.add_argument("--tune", action="store_true",
                   help="choose the ranking blend (w_relevance, w_interest, w_popularity, mmr_lambda) on validation "
                        "users instead: prints every blend tried and the best")
    p.set_defaults(handler=_cmd_simulate)


def _cmd_dialogue_test(args: argparse.Namespace, settings: Settings) -> int:
    """Run dialogue scripts; print each turn with pass/fail and reasons; non-zero exit on any failure."""
    from chatbot.evaluation.dialogues.runner import DialogueRunner, find_scripts, open_agent

    if args.llm:
        settings = settings.model_copy(update={"llm": args.llm})
    find_scripts(args.paths)  # a missing path fails before the models load
    runner = DialogueRunner.from_agent(open_agent(settings), settings.resolved_data_dir)
    outcomes = []
    for outcome in runner.run_paths(args.paths):
        outcomes.append(outcome)
        if not args.json:
            print("\n".join(outcome.lines()), flush=True)
    from chatbot.evaluation.dialogues.runner import RunReport

    report = RunReport(tuple(outcomes))
    if args.json:
        _print_json(report.to_dict())
    else:
        print(f"\n{report.passed} passed, {report.failed} failed")
    return 0 if report.failed == 0 else 1


def _cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    """Run the simulated-user evaluation and print the table (or JSON)."""
    from chatbot.evaluation.simulate import MODES, markdown_table, simulate

    if args.llm:
        settings = settings.model_copy(update={"llm": args.llm})
    modes = MODES if args.mode == "both" else (args.mode,)
    if args.tune:
        from chatbot.evaluation.simulate import tune_blend

        tuned = tune_blend(settings, n_users=args.users, turns=args.turns, progress=not args.json)
        if args.json:
            _print_json(tuned)
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
    report = simulate(settings, n_users=args.users, turns=args.turns, modes=modes, notes=not args.no_notes,
                      progress=True)
    if args.json:
        _print_json({"protocol": report["protocol"], "results": report["results"], "plot": report["plot"],
                     "seconds": report["seconds"]})
    else:
        print(report["protocol"])
        print()
        print(markdown_table(report))
        print(f"\nplot: {report['plot']}   ({report['seconds']:.0f} s)")
    return 0


# ---------------------------------------------------------------- section: llm (owner: llm)
def _add_llm(sub: argparse._SubParsersAction) -> None:
    """bench llm / llm ask."""
    bench = group(sub, "bench", "benchmarks that print figures against a baseline")
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
    from chatbot.llm.models import benchmark_llm, make_chat_model

    if args.llm:
        settings = settings.model_copy(update={"llm": args.llm})
    report = benchmark_llm(make_chat_model(settings), runs=max(args.runs, 1), progress=True)
    _print_json({"llm": settings.llm, "threads": settings.threads, **report})
    return 0


def _cmd_llm_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Stream one answer to stdout."""
    from chatbot.llm.models import make_chat_model, stream_text

    if args.llm:
        settings = settings.model_copy(update={"llm": args.llm})
    model = make_chat_model(settings)
    for piece in stream_text(model, [("system", args.system), ("user", args.message)], settings.llm_timeout_s):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


# ---------------------------------------------------------------- main
SECTIONS = (_add_setup, _add_catalog_data, _add_search, _add_ranking, _add_agent, _add_web, _add_dialogues, _add_llm)


def build_parser() -> argparse.ArgumentParser:
    """The whole argument parser; `bench` subcommands are registered under one `bench` parser."""
    _GROUPS.clear()
    parser = argparse.ArgumentParser(prog="tastebud", description="A conversational recommender.")
    sub = parser.add_subparsers(dest="command", required=True)
    group(sub, "data", "build the demo catalog or import your own")
    group(sub, "bench", "benchmarks that print figures against a baseline")
    for add in SECTIONS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tastebud` console script."""
    set_offline_environment()
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        return int(args.handler(args, settings) or 0)
    except TastebudError as exc:
        print(f"tastebud: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
