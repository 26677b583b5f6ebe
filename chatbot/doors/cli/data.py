"""`tastebud data build|import`, `index`, `search` and `bench search`: the catalog and its search index."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chatbot.config import Settings
from chatbot.doors.cli.parser import BENCH_HELP, DATA_HELP, group, print_json
from retrieval.errors import TastebudError
from retrieval.fields import item_facts


def add_commands(sub: argparse._SubParsersAction) -> None:
    """data build / data import / index / search / bench search."""
    _add_catalog_data(sub)
    _add_search(sub)


# ---------------------------------------------------------------- catalog data
def _add_catalog_data(sub: argparse._SubParsersAction) -> None:
    """data build / data import."""
    data = group(sub, "data", DATA_HELP)
    p = data.add_parser("build", help="build a demo catalog from the packaged data: films (and their ratings) or "
                        "recipes")
    p.add_argument("--catalog", default=None, choices=("films", "recipes"), help="films | recipes (default: TASTEBUD_CATALOG, else films); "
                   "recipes go to <data dir>/recipes")
    p.add_argument("--force", action="store_true", help="rebuild even when the catalog is up to date")
    p.set_defaults(handler=_cmd_data_build)
    p = data.add_parser("import", help="replace the catalog with your own file (CSV, JSONL or Parquet)")
    p.add_argument("file", help="the catalog file (CSV, JSONL or Parquet); its columns are read as the schema says")
    p.add_argument("--schema", default=None, metavar="S.yaml",
                   help="what each column means (see retrieval/schemas/films.yaml); without it a file of film columns "
                   "(id, title, year, genres ...) is read as films and any other file gets a schema guessed from its "
                   "columns, written beside the catalog as catalog.schema.yaml for you to edit and import again")
    p.add_argument("--interactions", default=None, metavar="FILE",
                   help="who liked, bought, rated or viewed which item (CSV, JSONL, Parquet: user and item columns, "
                   "a rating or event column, a timestamp); `tastebud train` then learns this catalog's taste")
    p.add_argument("--no-index", action="store_true", help="do not rebuild the search index afterwards")
    p.add_argument("--max-problems", type=int, default=50, help="how many row problems to list")
    p.set_defaults(handler=_cmd_data_import)


def _cmd_data_build(args: argparse.Namespace, settings: Settings) -> int:
    """Build (or confirm up to date) a demo catalog (and the films' interactions)."""
    from chatbot.build import build_demo

    if args.catalog:
        settings = settings.model_copy(update={"catalog": args.catalog})
    report = build_demo(settings, force=args.force)
    print(report)
    if getattr(report, "match_methods", None) and not report.skipped:
        methods = ", ".join(f"{k} {v:,}" for k, v in sorted(report.match_methods.items(), key=lambda kv: -kv[1]))
        print(f"title matches by method: {methods}")
    return 0


def _cmd_data_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a catalog file: report bad rows, write the good ones, rebuild the index."""
    from pathlib import Path

    from retrieval.catalog import write_catalog
    from retrieval.catalog_import import import_catalog_file
    from retrieval.schema_file import load_schema

    path = Path(args.file).expanduser()
    schema = load_schema(Path(args.schema).expanduser()) if args.schema else None
    report = import_catalog_file(path, schema)
    for line in report.summary_lines(max_problems=args.max_problems):
        print(line)
    if not report.items:
        print("nothing was imported; the previous catalog is unchanged", file=sys.stderr)
        return 2
    data_dir = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    meta = {"source": f"import:{path.name}", "schema": report.schema.name if report.schema else "films"}
    write_catalog(data_dir, report.items, meta)
    print(f"catalog of {len(report.items):,} items written to {data_dir}")
    _write_or_drop_schema(data_dir, report)
    if args.interactions:
        _import_interactions(Path(args.interactions).expanduser(), data_dir, report)
    else:
        _drop_stale_interactions(data_dir, {item.id for item in report.items})
    if args.no_index:
        print("search index not rebuilt (--no-index): run `tastebud index` before searching")
        return 0
    from retrieval.search import build_index

    try:
        index_report = build_index(data_dir, chroma_url=settings.chroma_url, embedder=None, progress=True,
                                   force=True)  # the schema may have changed what is embedded (cached vectors stay)
    except TastebudError as exc:
        print(f"the catalog was imported, but the search index was not rebuilt: {exc}", file=sys.stderr)
        print("the previous index keeps serving; run `tastebud index` to try again", file=sys.stderr)
        return 2
    print(index_report)
    return 0


def _write_or_drop_schema(data_dir: Any, report: Any) -> None:
    """Write the schema the rows were read with beside the catalog (and show it), or remove a stale one."""
    from retrieval.schema import SCHEMA_FILE
    from retrieval.schema_file import describe_schema, write_schema

    if report.schema is None:
        stale = data_dir / SCHEMA_FILE
        if stale.exists():
            stale.unlink()
            print(f"removed {SCHEMA_FILE}: this catalog has the film columns")
        return
    target = write_schema(report.schema, data_dir)
    print(("guessed from the columns: " if report.inferred else "") + describe_schema(report.schema, target))


def _import_interactions(path: Any, data_dir: Any, report: Any) -> None:
    """Read the interactions file against the new catalog and write them (TastebudError says why not)."""
    from retrieval.interactions_import import import_interactions, write_interactions

    spec = report.schema.interactions if report.schema is not None else None
    table, imported = import_interactions(path, {item.id for item in report.items}, spec)
    for line in imported.lines():
        print(line)
    print(f"interactions written to {write_interactions(data_dir, table)}; run `tastebud train` to learn this "
          "catalog's taste")


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

    searcher = Searcher.open(settings.resolved_data_dir, chroma_url=settings.chroma_url,
                             embedder=MiniLMEmbedder(threads=settings.threads))
    where = parse_where(args.where, searcher.kinds) if args.where else None  # the catalog's own fields
    hits = searcher.search(args.text, Filters(where=where), k=args.k)
    kinds = searcher.kinds  # a schema catalog's own facts (none: the film columns)
    shown = [n for n in kinds.names()[2:] if n not in kinds.texts and n != "people"] if kinds.attributes else []
    if args.json:
        print_json([_hit_json(c, shown) for c in hits])
        return 0
    from rich.console import Console
    from rich.table import Table

    columns = ("year", "genres", "rated", "min") if not shown else tuple(shown[:5])
    table = Table(title=f"{len(hits)} results" + (f" for {args.text!r}" if args.text else ""))
    for name in ("#", "title", *columns, "score"):
        table.add_column(name, justify="right" if name in ("#", "year", "min", "score") else "left")
    for n, c in enumerate(hits, 1):
        it = c.item
        cells = [str(it.year or "?"), ", ".join(it.genres), it.age_rating or "?", str(it.runtime_min or "?")] \
            if not shown else [_cell(item_facts(it).get(name)) for name in columns]
        table.add_row(str(n), it.title, *cells, f"{c.score:.4f}")
    Console().print(table)
    if not hits:
        print("nothing matches; loosen the filters or rephrase", file=sys.stderr)
    return 0


def _hit_json(c: Any, shown: list[str]) -> dict[str, Any]:
    """One search hit as JSON: the film fields, or a schema catalog's own fields."""
    it = c.item
    out: dict[str, Any] = {"id": it.id, "title": it.title}
    if shown:
        out.update({name: item_facts(it).get(name) for name in shown})
    else:
        out.update(year=it.year, genres=list(it.genres), age_rating=it.age_rating, runtime_min=it.runtime_min,
                   directors=list(it.directors), n_ratings=it.n_ratings)
    return out | {"score": round(c.score, 6), "dense_score": c.dense_score, "keyword_score": c.keyword_score}


def _cell(value: Any) -> str:
    """A table cell: lists joined, missing as '?'."""
    if value is None or value == []:
        return "?"
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


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
