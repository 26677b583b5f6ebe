"""Shared fixtures: a private data dir per test, and one session-wide real data dir for slow tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatbot.config import Settings, set_offline_environment
# a throwaway PostgreSQL cluster on 127.0.0.1 (session-scoped) and a database of each test's own
from tests.postgres import postgres_cluster, postgres_url  # noqa: F401

set_offline_environment()

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
EMBED_CACHE = Path(os.environ.get("TASTEBUD_TEST_EMBED_CACHE", Path.home() / ".cache" / "tastebud" / "embeddings"))


def embed_cache(catalog: str) -> Path:
    """The shared embedding cache of one catalog: a cache keeps only the vectors of its last build, so one shared by
    the films, the recipes and the books held only the last of them and every other build embedded again."""
    return EMBED_CACHE / catalog


@pytest.fixture(scope="module", autouse=True)
def _free_llama_contexts():
    """Each test module frees the llama.cpp contexts it loaded: kept for the whole run they grew past 15 GB."""
    yield
    import gc

    from chatbot.llm import llamacpp

    llamacpp.release_all()
    gc.collect()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data dir of this test's own."""
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """Settings pointing at this test's own data dir, with the scripted fake LLM."""
    return Settings(data_dir=data_dir, llm="fake", chroma_url=None)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and reports for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def embedder():
    """The real packaged MiniLM embedder, loaded once per session."""
    from retrieval.embeddings import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """The real demo catalog, interactions and search index, built once per session (minutes)."""
    from retrieval.search import build_index
    from retrieval.sources import build_demo_catalog

    d = tmp_path_factory.mktemp("demo-data")
    build_demo_catalog(d)
    # item vectors are cached by content hash outside the test's dir, so later runs on this machine skip embedding
    build_index(d, chroma_url=None, embedder=embedder, cache_dir=embed_cache("films"))
    return d


# The session's interest model trains briefly and tries one setting of each closed-form choice: the tests that use
# it check what it does in a conversation, not how good it is (tests/ranking and `tastebud eval` do); the default
# run (up to 9 min of epochs, then twelve item-to-item fits) took ~12 min of a CI run on a slow machine.
TEST_TRAINING = dict(time_limit_s=90.0, epochs=6, ii_l2_grid=(300.0,), ii_tau_grid=(10.0,), ii_side_grid=(10.0,),
                     text_link_k_grid=(10,), text_link_temp_grid=(0.05,))


@pytest.fixture(scope="session")
def trained_demo_dir(demo_data_dir: Path, embedder) -> Path:
    """The session's demo data dir with the interest model trained in it (once, briefly: `TEST_TRAINING`)."""
    from ranking.config import InterestConfig
    from ranking.model import CHECKPOINT
    from ranking.train import train_interest_model
    from retrieval.catalog import load_catalog
    from retrieval.embeddings import load_item_vectors

    if not (demo_data_dir / CHECKPOINT).exists():
        ids, vectors = load_item_vectors(demo_data_dir)
        by_id = {it.id: it for it in load_catalog(demo_data_dir)}
        train_interest_model(demo_data_dir, ids, vectors, lambda texts: embedder.embed(texts),
                             items=[by_id[i] for i in ids], config=InterestConfig(**TEST_TRAINING), progress=False)
    return demo_data_dir


@pytest.fixture(scope="session")
def recipes_root(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """A data dir whose `recipes` catalog is the real Cookbook demo, indexed (TASTEBUD_CATALOG=recipes)."""
    from retrieval.recipes import build_recipes_catalog
    from retrieval.search import build_index

    root = tmp_path_factory.mktemp("recipes-root")
    build_recipes_catalog(root / "recipes")
    build_index(root / "recipes", chroma_url=None, embedder=embedder, cache_dir=embed_cache("recipes"), progress=False)
    return root


@pytest.fixture(scope="session")
def books_root(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """A data dir whose `books` catalog is the 12-book CSV imported with no schema (guessed), indexed."""
    from retrieval.catalog import write_catalog
    from retrieval.catalog_import import import_catalog_file
    from retrieval.schema_file import write_schema
    from retrieval.search import build_index

    root = tmp_path_factory.mktemp("books-root")
    report = import_catalog_file(Path(__file__).parent / "dialogues" / "data" / "books.csv")
    write_catalog(root / "books", report.items, {"source": "import:books.csv"})
    write_schema(report.schema, root / "books")
    build_index(root / "books", chroma_url=None, embedder=embedder, cache_dir=embed_cache("books"), progress=False)
    return root
