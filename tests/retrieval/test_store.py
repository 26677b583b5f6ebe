"""The real Chroma store, embedded and as a server on 127.0.0.1: one contract test run on both backends."""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval.filters import chroma_metadata, chroma_where, parse_where
from retrieval.store import ChromaStore, IndexBuild, active_build, storage_error, write_active
from retrieval.errors import IndexUnavailable
from retrieval.types import Item
from tests.retrieval.chroma_server import CHROMA_BIN, free_port, running_chroma_server

ITEMS = [
    Item(id="ml:1", title="Toy Story", year=1995, genres=("Animation", "Children"), age_rating="G",
         directors=("John Lasseter",)),
    Item(id="ml:2", title="Goodfellas", year=1990, genres=("Crime", "Drama"), age_rating="R",
         directors=("Martin Scorsese",)),
    Item(id="ml:3", title="Casino", year=1995, genres=("Crime", "Drama"), directors=("Martin Scorsese",)),
    Item(id="ml:4", title="Unknown Reel"),
]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on 127.0.0.1 for this module."""
    if not CHROMA_BIN.exists():
        pytest.skip(f"{CHROMA_BIN} not found")
    with running_chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, data_dir: Path) -> ChromaStore:
    """The same ChromaStore contract on each backend."""
    if request.param == "server":
        return ChromaStore(data_dir, request.getfixturevalue("chroma_server"))
    return ChromaStore(data_dir, None)


def _vectors() -> np.ndarray:
    """Four unit vectors with a known nearest-neighbour order."""
    rng = np.random.default_rng(3)
    v = rng.standard_normal((4, 16)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_store_contract(store: ChromaStore, request: pytest.FixtureRequest) -> None:
    """Add, nearest neighbour with cosine similarity, metadata pre-filters on arrays, reopen, drop."""
    name = f"items-test-{request.node.callspec.id}-{int(time.time() * 1000) % 10**8}"
    vectors = _vectors()
    col = store.create(name)
    col.add([i.id for i in ITEMS], vectors, [chroma_metadata(i) for i in ITEMS])
    assert col.count() == 4

    hits = store.open(name).query(vectors[1], 4)
    assert hits[0][0] == "ml:2" and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    exact = vectors @ vectors[1]
    assert [i for i, _ in hits] == [ITEMS[j].id for j in np.argsort(-exact)]
    assert [round(s, 4) for _, s in hits] == [round(float(s), 4) for s in sorted(exact, reverse=True)]

    scorsese = chroma_where(parse_where({"people": {"$contains": "Martin Scorsese"}}))
    assert sorted(i for i, _ in col.query(vectors[0], 4, scorsese)) == ["ml:2", "ml:3"]
    not_crime = chroma_where(parse_where({"genres": {"$nin": ["crime"]}}))
    assert sorted(i for i, _ in col.query(vectors[0], 4, not_crime)) == ["ml:1", "ml:4"]  # missing genres kept
    not_r = chroma_where(parse_where({"age_rating": {"$ne": "R"}}))
    assert sorted(i for i, _ in col.query(vectors[0], 4, not_r)) == ["ml:1", "ml:3", "ml:4"]  # null passes $ne
    family = chroma_where(parse_where({"age_rating": {"$lte": "PG"}, "year": {"$gte": 1995}}))
    assert [i for i, _ in col.query(vectors[0], 4, family)] == ["ml:1"]

    store.drop(name)
    with pytest.raises(IndexUnavailable, match="tastebud index"):
        store.open(name)


def test_unreachable_server_is_a_clear_error(data_dir: Path) -> None:
    store = ChromaStore(data_dir, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(IndexUnavailable, match="cannot reach the Chroma server"):
        store.create("items-x")


def test_active_pointer_round_trip_and_missing_index(data_dir: Path) -> None:
    with pytest.raises(IndexUnavailable, match="run `tastebud index`"):
        active_build(data_dir)
    (data_dir / "index" / "builds" / "b1").mkdir(parents=True)
    build = IndexBuild(build_id="b1", collection="items-b1", catalog_hash="abc", embedder="fake", dim=8,
                       n_items=3, chroma_url=None, path=data_dir / "index" / "builds" / "b1")
    write_active(data_dir, build)
    assert active_build(data_dir) == build
    (data_dir / "index" / "active.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(IndexUnavailable, match="unreadable"):
        active_build(data_dir)


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "disk is full"), (errno.EACCES, "not writable"),
                                              (errno.EROFS, "not writable")])
def test_storage_errors_are_explained(code: int, words: str) -> None:
    err = storage_error("write the search index", Path("/somewhere"), OSError(code, "x"))
    assert words in str(err) and "previous index" in str(err) and "/somewhere" in str(err)
