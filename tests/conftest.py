"""Shared fixtures: a private data dir per test, and one session-wide real data dir for slow tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatbot.config import Settings, set_offline_environment

set_offline_environment()

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
EMBED_CACHE = Path(os.environ.get("TASTEBUD_TEST_EMBED_CACHE", Path.home() / ".cache" / "tastebud" / "embeddings"))


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
    build_index(d, chroma_url=None, embedder=embedder, cache_dir=EMBED_CACHE)
    return d
