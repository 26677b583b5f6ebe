"""`tastebud data build|import`, `index`, `search` and `bench search`: the catalog and its search index."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chatbot.config import Settings
from chatbot.doors.cli.parser import BENCH_HELP, DATA_HELP, group, print_json
from retrieval.errors import TastebudError


def add_commands(sub: argparse._SubParsersAction) -> None:
    """data build / data import / index / search / bench search."""
    _add_catalog_data(sub)
    _add_search(sub)


# ---------------------------------------------------------------- catalog data
def _add_catalog_data(sub: argparse._SubParsersAction) -> None:
    """data build / data import."""
    data = group(sub, "data", DATA_HELP)
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

    from retrieval.catalog_import import import_catalog_file
    from retrieval.catalog import write_catalog

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


# ---------------------------------------------------------------- search
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

    bench = group(sub, "bench", BENCH_HELP)
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
        print_json([{"id": c.item.id, "title": c.item.title, "year": c.item.year, "genres": list(c.item.genres),
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
        print_json(result)
    else:
        from rich.console import Console

        Console().print(format_table(result))
    return 0
