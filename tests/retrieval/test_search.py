"""Hybrid search and index builds: fast tests on a hand-made catalog, slow ones on the real demo catalog."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval.catalog import write_catalog
from retrieval.embeddings import FakeEmbedder, load_item_vectors
from retrieval.filters import item_matches, item_matches_where, parse_where
from retrieval.search import Searcher, build_index
from retrieval.store import ChromaCollection, ChromaStore, active_build
from retrieval.errors import FilterError, IndexUnavailable
from retrieval.types import Filters, Item
from tests.retrieval.chroma_server import CHROMA_BIN, running_chroma_server

GENRE_CYCLE = (("Comedy",), ("Drama", "Romance"), ("Action", "Thriller"), ("Horror",), ("Documentary",),
               ("Animation", "Children"), ("Sci-Fi", "Adventure"))
RATINGS = ("G", "PG", "PG-13", "R", None)


def make_catalog() -> list[Item]:
    """Four well-known films plus 56 generated ones with varied genres, years and ratings."""
    items = [
        Item(id="ml:1", title="Toy Story", year=1995, genres=("Animation", "Children", "Comedy"), age_rating="G",
             directors=("John Lasseter",), cast=("Tom Hanks", "Tim Allen"), n_ratings=247,
             plot="Toys come to life when their owner leaves the room."),
        Item(id="ml:2", title="Toy Story 2", year=1999, genres=("Animation", "Children", "Comedy"), age_rating="G",
             directors=("John Lasseter",), cast=("Tom Hanks",), n_ratings=120),
        Item(id="ml:3", title="Goodfellas", year=1990, genres=("Crime", "Drama"), age_rating="R",
             directors=("Martin Scorsese",), cast=("Robert De Niro", "Ray Liotta"), n_ratings=180,
             plot="A young man rises through the mob."),
        Item(id="ml:4", title="Casino", year=1995, genres=("Crime", "Drama"), age_rating="R",
             directors=("Martin Scorsese",), cast=("Robert De Niro", "Sharon Stone"), n_ratings=90),
    ]
    for n in range(56):
        items.append(Item(id=f"gen:{n}", title=f"Generated Picture {n}", year=1970 + n % 45,
                          genres=GENRE_CYCLE[n % len(GENRE_CYCLE)], age_rating=RATINGS[n % len(RATINGS)],
                          runtime_min=80 + n, directors=(f"Director {n % 9}",), n_ratings=n,
                          plot=f"Story number {n} about {'love' if n % 2 else 'war'} and {'space' if n % 3 else 'home'}."))
    return items


@pytest.fixture
def fake() -> FakeEmbedder:
    """A fresh counting fake embedder."""
    return FakeEmbedder()


@pytest.fixture
def built(data_dir: Path, fake: FakeEmbedder) -> Path:
    """A data dir with the hand-made catalog indexed by the fake embedder."""
    write_catalog(data_dir, make_catalog(), {"source": "test"})
    build_index(data_dir, embedder=fake, progress=False)
    return data_dir


def titles(hits: list) -> list[str]:
    """Titles of search hits."""
    return [c.item.title for c in hits]


def test_exact_title_comes_first(built: Path, fake: FakeEmbedder) -> None:
    hits = Searcher.open(built, embedder=fake).search("Toy Story", k=5)
    assert titles(hits)[:2] == ["Toy Story", "Toy Story 2"]
    assert hits[0].score > hits[1].score and hits[0].keyword_score and hits[0].dense_score is not None
    assert hits[0].popularity == pytest.approx(np.log1p(247))


def test_people_names_match_by_keyword(built: Path, fake: FakeEmbedder) -> None:
    hits = Searcher.open(built, embedder=fake).search("Scorsese", k=3)
    assert set(titles(hits)[:2]) == {"Goodfellas", "Casino"}


@pytest.mark.parametrize("prefilter", ["mask", "chroma"])
@pytest.mark.parametrize("where", [
    {"genres": {"$contains": "horror"}},
    {"title": {"$contains": "picture 1"}},  # not expressible in Chroma: exact check does all the work
    {"age_rating": {"$lte": "PG"}, "year": {"$gte": 1990}},
    {"$or": [{"people": {"$contains": "martin scorsese"}}, {"genres": {"$in": ["documentary"]}}]},
    {"age_rating": {"$ne": "R"}},
])
def test_filtered_search_is_exact_and_complete(built: Path, fake: FakeEmbedder, where: dict, prefilter: str) -> None:
    """Every result passes; and when k matching items exist, k come back (both pre-filter strategies)."""
    searcher = Searcher.open(built, embedder=fake)
    searcher.prefilter = prefilter
    expected = {i.id for i in searcher.items.values() if item_matches_where(i, where)}
    k = min(8, len(expected))
    hits = searcher.search("story about love", Filters(where=parse_where(where)), k=k)
    assert len(hits) == k
    assert {c.item.id for c in hits} <= expected


def test_filters_fields_apply_exactly(built: Path, fake: FakeEmbedder) -> None:
    searcher = Searcher.open(built, embedder=fake)
    filters = Filters(genres_none=("Comedy", "Horror"), max_age_rating="PG-13", year_min=1980, runtime_max=130,
                      exclude_ids=frozenset({"gen:15"}))
    hits = searcher.search("war and space", filters, k=50)
    everything = [i for i in searcher.items.values() if item_matches(i, filters)]
    assert len(hits) == len(everything) > 3
    assert all(item_matches(c.item, filters) for c in hits)


def test_empty_text_lists_matching_items_by_popularity(built: Path, fake: FakeEmbedder) -> None:
    searcher = Searcher.open(built, embedder=fake)
    before = list(fake.calls)
    hits = searcher.search("", Filters(where={"genres": {"$contains": "Animation"}}), k=3)
    assert titles(hits) == ["Toy Story", "Toy Story 2", "Generated Picture 54"]
    assert fake.calls == before  # listing needs no embedding


def test_empty_text_and_no_filter_asks_for_something(built: Path, fake: FakeEmbedder) -> None:
    with pytest.raises(FilterError, match="say what you are looking for"):
        Searcher.open(built, embedder=fake).search("   ", Filters(), k=5)


@pytest.mark.parametrize("k", [0, -1, 10_000])
def test_bad_k_is_refused(built: Path, fake: FakeEmbedder, k: int) -> None:
    with pytest.raises(FilterError, match="k must be"):
        Searcher.open(built, embedder=fake).search("toys", k=k)


def test_no_index_says_how_to_build_it(data_dir: Path, fake: FakeEmbedder) -> None:
    with pytest.raises(IndexUnavailable, match="tastebud index"):
        Searcher.open(data_dir, embedder=fake)


def test_index_built_with_another_embedder_is_refused(built: Path) -> None:
    with pytest.raises(IndexUnavailable, match="rebuild"):
        Searcher.open(built, embedder=FakeEmbedder(dim=32))


def test_open_embeds_nothing_and_vectors_are_exported(built: Path, fake: FakeEmbedder) -> None:
    before = list(fake.calls)
    searcher = Searcher.open(built, embedder=fake)
    assert fake.calls == before
    ids, vectors = load_item_vectors(built)
    assert ids == [i.id for i in make_catalog()] and vectors.shape == (60, fake.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert searcher.embed_query("Toy Story").shape == (fake.dim,) and fake.calls == before + [1]
    searcher.embed_query("Toy Story")
    assert fake.calls == before + [1]  # repeated queries come from the cache


def test_rebuild_embeds_only_the_changed_item(built: Path, fake: FakeEmbedder) -> None:
    report = build_index(built, embedder=fake, progress=False)
    assert report.skipped and fake.calls == [60]  # nothing changed: nothing embedded, nothing rebuilt
    items = make_catalog()
    items[2] = Item(**{**items[2].__dict__, "plot": "A completely new plot about a casino heist."})
    write_catalog(built, items, {"source": "test"})
    old = active_build(built)
    report = build_index(built, embedder=fake, progress=False)
    assert (report.n_items, report.n_embedded, fake.calls) == (60, 1, [60, 1])
    new = active_build(built)
    assert new.build_id != old.build_id and not old.path.exists()
    assert old.collection not in ChromaStore(built).names()
    assert "casino heist" in Searcher.open(built, embedder=fake).items["ml:3"].plot


def test_shared_cache_dir_embeds_a_catalog_once(tmp_path: Path, fake: FakeEmbedder) -> None:
    shared = tmp_path / "embed-cache"
    reports = []
    for name in ("one", "two"):
        write_catalog(tmp_path / name, make_catalog(), {"source": "test"})
        reports.append(build_index(tmp_path / name, embedder=fake, progress=False, cache_dir=shared))
    assert [r.n_embedded for r in reports] == [60, 0] and fake.calls == [60]
    assert titles(Searcher.open(tmp_path / "two", embedder=fake).search("Toy Story", k=1)) == ["Toy Story"]


def _change_catalog(data_dir: Path) -> None:
    """Change one item so the next build has work to do."""
    items = make_catalog()
    items[0] = Item(**{**items[0].__dict__, "title": "Toy Story (changed)"})
    write_catalog(data_dir, items, {"source": "test"})


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")])
def test_failed_build_leaves_previous_index_serving(built: Path, fake: FakeEmbedder,
                                                    monkeypatch: pytest.MonkeyPatch, failure: BaseException) -> None:
    old = active_build(built)
    _change_catalog(built)

    def broken_add(self: ChromaCollection, *args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(ChromaCollection, "add", broken_add)
    expected = KeyboardInterrupt if isinstance(failure, KeyboardInterrupt) else IndexUnavailable
    with pytest.raises(expected) as err:
        build_index(built, embedder=fake, progress=False)
    if expected is IndexUnavailable:
        assert "disk is full" in str(err.value) and "previous index" in str(err.value)
    assert active_build(built) == old
    assert [p.name for p in (built / "index" / "builds").iterdir()] == [old.build_id]
    assert ChromaStore(built).names() == [old.collection]
    assert titles(Searcher.open(built, embedder=fake).search("Toy Story", k=1)) == ["Toy Story"]


def test_unwritable_index_dir_is_reported_and_old_index_serves(built: Path, fake: FakeEmbedder,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    old = active_build(built)
    _change_catalog(built)
    if os.geteuid() != 0:  # a real read-only directory (root ignores permissions, so simulate it there)
        os.chmod(built / "index" / "builds", 0o500)
    else:
        def refuse(*args: object, **kwargs: object) -> None:
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(np, "save", refuse)
    try:
        with pytest.raises(IndexUnavailable, match="not writable"):
            build_index(built, embedder=fake, progress=False)
    finally:
        os.chmod(built / "index" / "builds", 0o700)
    assert active_build(built) == old
    assert titles(Searcher.open(built, embedder=fake).search("Toy Story", k=1)) == ["Toy Story"]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on 127.0.0.1 for this module."""
    if not CHROMA_BIN.exists():
        pytest.skip(f"{CHROMA_BIN} not found")
    with running_chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


def test_server_mode_builds_and_searches(data_dir: Path, fake: FakeEmbedder, chroma_server: str) -> None:
    write_catalog(data_dir, make_catalog(), {"source": "test"})
    report = build_index(data_dir, chroma_url=chroma_server, embedder=fake, progress=False)
    assert report.location == chroma_server and not (data_dir / "index" / "chroma").exists()
    pointer = json.loads((data_dir / "index" / "active.json").read_text())
    assert pointer["chroma_url"] == chroma_server
    searcher = Searcher.open(data_dir, chroma_url=chroma_server, embedder=fake)
    assert titles(searcher.search("Toy Story", k=1)) == ["Toy Story"]
    hits = searcher.search("mob", Filters(people=("Martin Scorsese",)), k=5)
    assert set(titles(hits)) == {"Goodfellas", "Casino"}


# ---------------------------------------------------------------- the real demo catalog (slow)
@pytest.fixture(scope="module")
def demo_searcher(demo_data_dir: Path, embedder) -> Searcher:
    """The searcher over the real demo catalog and MiniLM."""
    return Searcher.open(demo_data_dir, embedder=embedder)


@pytest.mark.slow
def test_animated_films_for_small_children(demo_searcher: Searcher) -> None:
    hits = demo_searcher.search("animated film for small children", k=10)
    kids = [c for c in hits if {"Animation", "Children"} & set(c.item.genres)]
    assert len(hits) == 10 and len(kids) >= 8, titles(hits)


@pytest.mark.slow
def test_scorsese_mob_dramas_lead(demo_searcher: Searcher) -> None:
    hits = demo_searcher.search("mob crime drama by Martin Scorsese", k=5)
    by_him = ["Martin Scorsese" in c.item.directors for c in hits]
    assert by_him[0] and by_him[1] and sum(by_him) >= 3, titles(hits)


@pytest.mark.slow
def test_empty_text_with_where_returns_50_matching_items(demo_searcher: Searcher) -> None:
    where = parse_where({"age_rating": {"$in": ["G", "PG"]}, "year": {"$gte": 2000}})
    hits = demo_searcher.search("", Filters(where=where), k=50)
    assert len(hits) == 50
    assert all(item_matches_where(c.item, where) for c in hits)
    assert all(c.item.age_rating in ("G", "PG") and c.item.year >= 2000 for c in hits)
    counts = [c.item.n_ratings for c in hits]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.slow
def test_toy_story_finds_toy_story_first(demo_searcher: Searcher) -> None:
    hits = demo_searcher.search("Toy Story", k=5)
    assert hits[0].item.title == "Toy Story" and hits[0].item.year == 1995, titles(hits)
    assert {"Toy Story 2", "Toy Story 3"} <= set(titles(hits))


@pytest.mark.slow
def test_real_filtered_search_returns_k_exact_results(demo_searcher: Searcher) -> None:
    filters = Filters(genres_any=("Comedy",), genres_none=("Romance",), max_age_rating="PG", year_min=1990)
    hits = demo_searcher.search("a funny movie for the whole family", filters, k=20)
    assert len(hits) == 20 and all(item_matches(c.item, filters) for c in hits)


@pytest.mark.slow
def test_real_item_vectors_for_ranking(demo_data_dir: Path, demo_searcher: Searcher) -> None:
    ids, vectors = load_item_vectors(demo_data_dir)
    assert ids == demo_searcher.ids and vectors.shape == (len(ids), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("where", [
    {"age_rating": {"$lte": "PG-13"}, "genres": {"$nin": ["Horror", "Thriller"]}},
    {"$or": [{"people": {"$contains": "tom hanks"}}, {"runtime_min": {"$lt": 80}}]},
    {"languages": {"$in": ["French", "Italian"]}, "year": {"$ne": 1999}},
    {"title": {"$contains": "story"}, "mean_rating": {"$gte": 3.5}},
])
def test_fast_mask_agrees_with_exact_check_on_the_real_catalog(demo_searcher: Searcher, where: dict) -> None:
    canonical = parse_where(where)
    mask = demo_searcher.columns.mask(canonical)
    exact = [item_matches_where(demo_searcher.items[i], canonical) for i in demo_searcher.ids]
    assert mask.tolist() == exact and sum(exact) > 0


def test_in_memory_searcher_matches_the_chroma_one(built: Path, fake: FakeEmbedder) -> None:
    """The in-memory searcher other tests use gives the same answers as the real index."""
    memory = Searcher.in_memory(make_catalog(), fake)
    real = Searcher.open(built, embedder=fake)
    for text, filters in (("Toy Story", Filters()), ("story about war", Filters(max_age_rating="PG")),
                          ("Scorsese", Filters(year_min=1991))):
        assert titles(memory.search(text, filters, k=5)) == titles(real.search(text, filters, k=5))
