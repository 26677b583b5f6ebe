"""`tastebud bench search`: vector-store latency with and without filters against brute-force numpy, in one run.

Measured on the real catalog (its active index) and on synthetic catalogs (random unit vectors near stored ones,
random metadata) in a temporary Chroma collection. Query embedding is timed on its own and excluded from the
store figures; the same query vectors go to Chroma and to numpy, so the ratio compares like with like.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from retrieval.embeddings import MiniLMEmbedder, item_text
from retrieval.filters import chroma_metadata, compile_filters
from retrieval.search import Searcher, exact_dense, filtered_dense
from retrieval.store import ChromaStore
from retrieval.types import AGE_RATINGS, GENRES, Filters
from retrieval.errors import IndexUnavailable

TOP_N = 50  # results per query (what the agent asks retrieval for is in this range)
MAX_SECONDS_PER_MEASURE = 60.0  # every timing loop stops after this many seconds, whatever n_queries says
TARGET_P95_MS_REAL = 10.0
TARGET_P95_MS_SYNTHETIC = 20.0
QUERIES = (
    "animated film for small children", "mob crime drama by Martin Scorsese", "Toy Story",
    "a funny romantic comedy for a date night", "scary horror movie with ghosts", "space adventure with aliens",
    "feel-good sports movie", "courtroom drama", "heist thriller with a clever twist", "musical with great songs",
    "war film about World War II", "western with cowboys and outlaws", "documentary about nature",
    "superhero action blockbuster", "coming of age story about friendship", "detective mystery in London",
    "Tom Hanks", "sad movie that makes you cry", "martial arts fight movie", "time travel science fiction",
)


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50 / p95 / mean of timings given in seconds, in milliseconds."""
    if not samples_s:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan"), "n": 0}
    ms = np.array(samples_s) * 1000.0
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "mean_ms": round(float(ms.mean()), 3), "n": int(len(ms))}


def time_calls(fn: Callable[[int], Any], n: int, warmup: int = 3) -> list[float]:
    """Call fn(i) for i in range(n) (after a short warm-up), bounded in time; return per-call seconds."""
    for i in range(min(warmup, n)):
        fn(i)
    out: list[float] = []
    deadline = time.perf_counter() + MAX_SECONDS_PER_MEASURE
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    return out


def _recall(found: list[list[str]], exact: list[list[str]]) -> float:
    """Mean share of the exact top-n that a strategy found."""
    shares = [len(set(f) & set(e)) / len(e) for f, e in zip(found, exact) if e]
    return round(float(statistics.fmean(shares)), 4) if shares else float("nan")


Strategy = Callable[[np.ndarray], list[str]]


def _measure(strategies: dict[str, Strategy], exact: Strategy, queries: np.ndarray, n_queries: int,
             share_passing: float) -> dict[str, Any]:
    """Latency (p50/p95) and recall@50 against the exact answer for each strategy on the same query vectors."""
    k = min(len(queries), 30)
    truth = [exact(queries[i]) for i in range(k)]
    out: dict[str, Any] = {"share_passing": round(share_passing, 4)}
    for name, fn in {**strategies, "numpy": exact}.items():
        timings = time_calls(lambda i: fn(queries[i % len(queries)]), n_queries)
        out[name] = {**percentiles(timings), "recall_at_50": _recall([fn(queries[i]) for i in range(k)], truth)}
    numpy_p50 = out["numpy"]["p50_ms"]
    out["tastebud_over_numpy_p50"] = round(out["tastebud"]["p50_ms"] / numpy_p50, 3) if numpy_p50 else None
    return out


def _strategies(store: Any, vectors: np.ndarray, ids: list[str], pos: dict[str, int],
                chroma: dict | None, mask_fn: Callable[[], np.ndarray | None]) -> tuple[dict[str, Strategy], Strategy]:
    """The strategies compared for one filter: tastebud's (mask + HNSW or exact scan), Chroma's where, numpy."""
    def tastebud(v: np.ndarray) -> list[str]:
        return [ids[p] for p, _ in filtered_dense(store, vectors, pos, v, mask_fn(), TOP_N)]

    def chroma_where(v: np.ndarray) -> list[str]:
        return [i for i, _ in store.query(v, TOP_N, chroma)]

    fixed_mask = mask_fn()

    def brute(v: np.ndarray) -> list[str]:
        return [ids[p] for p, _ in exact_dense(vectors, v, fixed_mask, TOP_N)]

    strategies: dict[str, Strategy] = {"tastebud": tastebud}
    if chroma is not None:
        strategies["chroma_where"] = chroma_where
    return strategies, brute


def bench_real_catalog(data_dir: Path, threads: int, n_queries: int, chroma_url: str | None) -> dict[str, Any]:
    """Latency on the data dir's real index; query embedding and item embedding throughput timed separately."""
    embedder = MiniLMEmbedder(threads=threads)
    searcher = Searcher.open(data_dir, chroma_url=chroma_url, embedder=embedder)
    items = [searcher.items[i] for i in searcher.ids]
    embedder.embed(["warm up"])
    texts = [QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}") for i in range(n_queries)]
    embed_t = time_calls(lambda i: embedder.embed([texts[i % len(texts)]]), min(n_queries, 40))
    queries = embedder.embed(list(QUERIES))
    sample = [item_text(it) for it in items[:256]]
    t0 = time.perf_counter()
    embedder.embed(sample)
    throughput = len(sample) / (time.perf_counter() - t0)

    filters = {"no filter": Filters(), "year >= 2000": Filters(year_min=2000),
               "comedy, 1990-1999, max PG-13": Filters(genres_any=("Comedy",), year_min=1990, year_max=1999,
                                                       max_age_rating="PG-13")}
    pos = {i: n for n, i in enumerate(searcher.ids)}
    figures: dict[str, Any] = {}
    for name, f in filters.items():
        cf = compile_filters(f)
        # the mask is recomputed on every call (no cache), so its cost is inside the tastebud figure
        mask_fn = (lambda cf=cf: searcher.columns.evaluate(cf.where) if cf.where is not None else None)
        mask = mask_fn()
        strategies, brute = _strategies(searcher.store, searcher.vectors, searcher.ids, pos, cf.chroma, mask_fn)
        figures[name] = _measure(strategies, brute, queries, n_queries,
                                 float(mask.mean()) if mask is not None else 1.0)
    for text in QUERIES:  # warm the query cache so hybrid timings exclude embedding
        searcher.embed_query(text)
    hybrid = {name: percentiles(time_calls(lambda i: searcher.search(QUERIES[i % len(QUERIES)], f, k=10),
                                           n_queries)) for name, f in filters.items()}

    with tempfile.TemporaryDirectory(prefix="tastebud-bench-") as tmp:
        fresh = ChromaStore(Path(tmp), None)
        t0 = time.perf_counter()
        col = fresh.create("bench-real")
        col.add(searcher.ids, searcher.vectors, [chroma_metadata(it) for it in items])
        store_build_s = time.perf_counter() - t0
        fresh.drop("bench-real")
    return {"n_items": len(items), "query_embedding": percentiles(embed_t),
            "embedding_items_per_s": round(throughput, 1), "store_build_s": round(store_build_s, 2),
            "store_search": figures, "hybrid_search_k10": hybrid}


def synthetic_catalog(n: int, dim: int = 384, seed: int = 7) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """n unit vectors with text-embedding-like structure (low rank + noise) and random metadata columns."""
    rng = np.random.default_rng(seed)
    rank = 48  # sentence embeddings live near a low-dimensional subspace; pure noise would be unrealistically hard
    basis = rng.standard_normal((rank, dim), dtype=np.float32)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # in blocks, to bound peak memory at 1M
        m = min(100_000, n - start)
        block = rng.standard_normal((m, rank), dtype=np.float32) @ basis
        block += 0.5 * np.sqrt(rank) * rng.standard_normal((m, dim), dtype=np.float32)  # noise: half the signal
        vectors[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    cols = {
        "year": rng.integers(1920, 2025, n),
        "runtime_min": rng.integers(70, 200, n),
        "age": rng.integers(0, len(AGE_RATINGS), n),
        "genres": np.zeros(n, dtype=np.int64),
    }
    for _ in range(2):
        cols["genres"] |= 1 << rng.integers(0, len(GENRES), n)
    return [f"syn:{i}" for i in range(n)], vectors, cols


def _synthetic_metadata(cols: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    """Chroma metadata of synthetic item i, in the same shape as real items'."""
    bits = int(cols["genres"][i])
    return {"year": int(cols["year"][i]), "runtime_min": int(cols["runtime_min"][i]),
            "age_rating": AGE_RATINGS[int(cols["age"][i])].lower(),
            "genres": [g.lower() for n, g in enumerate(GENRES) if bits >> n & 1]}


def bench_synthetic(n: int, n_queries: int, progress: bool = True) -> dict[str, Any]:
    """Build a temporary Chroma collection of n synthetic items and time searches with and without filters."""
    ids, vectors, cols = synthetic_catalog(n)
    rng = np.random.default_rng(11)
    anchors = rng.integers(0, n, max(n_queries, 30))
    noisy = vectors[anchors] + 0.02 * rng.standard_normal((len(anchors), vectors.shape[1]), dtype=np.float32)
    queries = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)  # near, not on, stored vectors
    comedy = 1 << GENRES.index("Comedy")
    cases = {
        "no filter": (None, None),
        "year >= 2000": ({"year": {"$gte": 2000}}, cols["year"] >= 2000),
        "comedy, 1990-1999": ({"$and": [{"genres": {"$contains": "comedy"}}, {"year": {"$gte": 1990}},
                                        {"year": {"$lte": 1999}}]},
                              ((cols["genres"] & comedy) > 0) & (cols["year"] >= 1990) & (cols["year"] <= 1999)),
    }
    pos = {i: p for p, i in enumerate(ids)}
    with tempfile.TemporaryDirectory(prefix="tastebud-bench-") as tmp:
        store = ChromaStore(Path(tmp), None)
        t0 = time.perf_counter()
        col = store.create(f"bench-synthetic-{n}")
        col.add(ids, vectors, [_synthetic_metadata(cols, i) for i in range(n)], progress=progress)
        build_s = time.perf_counter() - t0
        figures: dict[str, Any] = {}
        for name, (chroma, mask) in cases.items():
            # synthetic columns are plain numpy: the mask costs what ColumnIndex's does, one comparison per field
            strategies, brute = _strategies(col, vectors, ids, pos, chroma, lambda mask=mask: mask)
            figures[name] = _measure(strategies, brute, queries, n_queries,
                                     float(mask.mean()) if mask is not None else 1.0)
        store.drop(col.name)
    return {"n_items": n, "store_build_s": round(build_s, 2), "store_search": figures}


def run_search_benchmark(data_dir: Path, threads: int = 2, million: bool = False, n_queries: int = 100,
                         chroma_url: str | None = None, synthetic_sizes: tuple[int, ...] | None = None,
                         progress: bool = True) -> dict[str, Any]:
    """Every figure of `tastebud bench search` as one JSON-ready dict."""
    sizes = synthetic_sizes if synthetic_sizes is not None else ((100_000, 1_000_000) if million else (100_000,))
    result: dict[str, Any] = {"top_n": TOP_N, "n_queries": n_queries,
                              "targets_p95_ms": {"real": TARGET_P95_MS_REAL, "synthetic": TARGET_P95_MS_SYNTHETIC}}
    try:
        result["real"] = bench_real_catalog(Path(data_dir), threads, n_queries, chroma_url)
    except IndexUnavailable as exc:
        result["real"] = {"skipped": str(exc)}
    result["synthetic"] = [bench_synthetic(n, n_queries, progress=progress) for n in sizes]
    return result


def format_table(result: dict[str, Any]) -> Any:
    """A rich Table of the benchmark figures."""
    from rich.table import Table

    table = Table(title=f"dense search latency in ms, top {result['top_n']} (query embedding excluded)")
    for name in ("catalog", "filter", "pass %", "tastebud p50", "p95", "recall", "chroma-where p50", "p95 ",
                 "recall ", "numpy p50", "p95  ", "tastebud/numpy", "target p95"):
        table.add_column(name, justify="left" if name in ("catalog", "filter") else "right")
    rows: list[tuple[str, dict[str, Any], float]] = []
    real = result.get("real", {})
    if "store_search" in real:
        rows.append((f"real ({real['n_items']:,})", real["store_search"], result["targets_p95_ms"]["real"]))
    for syn in result.get("synthetic", []):
        rows.append((f"synthetic ({syn['n_items']:,})", syn["store_search"], result["targets_p95_ms"]["synthetic"]))
    for label, cases, target in rows:
        for case, fig in cases.items():
            tb, cw, npy = fig["tastebud"], fig.get("chroma_where"), fig["numpy"]
            verdict = f"{target:g} " + ("ok" if tb["p95_ms"] <= target else "MISSED")
            table.add_row(label, case, f"{100 * fig['share_passing']:.1f}", f"{tb['p50_ms']:.2f}",
                          f"{tb['p95_ms']:.2f}", f"{tb['recall_at_50']:.3f}",
                          f"{cw['p50_ms']:.2f}" if cw else "-", f"{cw['p95_ms']:.2f}" if cw else "-",
                          f"{cw['recall_at_50']:.3f}" if cw else "-", f"{npy['p50_ms']:.2f}", f"{npy['p95_ms']:.2f}",
                          f"{fig['tastebud_over_numpy_p50']:.2f}", verdict)
    if "store_search" in real:
        emb = real["query_embedding"]
        table.caption = (f"query embedding p50 {emb['p50_ms']:.1f} ms / p95 {emb['p95_ms']:.1f} ms; "
                         f"item embedding {real['embedding_items_per_s']:.1f} items/s; "
                         f"store build: real {real['store_build_s']:.1f} s"
                         + "".join(f", {s['n_items']:,} synthetic {s['store_build_s']:.1f} s"
                                   for s in result.get("synthetic", []))
                         + "; full hybrid search (k=10) p95: "
                         + ", ".join(f"{c} {v['p95_ms']:.1f} ms" for c, v in real["hybrid_search_k10"].items()))
    elif "skipped" in real:
        table.caption = f"real catalog skipped: {real['skipped']}"
    return table
