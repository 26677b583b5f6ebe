"""The item-to-item layer's side information: what items share (an author, a publisher) helps where co-reads are few."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ranking.config import InterestConfig
from ranking.data import leave_last_out
from ranking.item_item import shared_values, side_gram
from ranking.metrics import mask_excluded, ndcg, target_ranks
from ranking.train import fit_interest_model
from ranking.validation import score_histories
from retrieval.types import Item

AUTHORS, BOOKS_EACH, READERS = 80, 5, 240
CFG = InterestConfig(dim=16, layers=1, heads=1, max_len=8, epochs=2, patience=2, batch_size=64, dropout=0.0,
                     text_examples_per_user=0, threads=1, ii_l2_grid=(10.0, 30.0), ii_tau_grid=(0.0,))


def test_shared_values_are_people_kinds_and_short_attributes_without_case():
    item = Item(id="b:1", title="It", writers=("Stephen King",), genres=("Horror",), countries=("United States",),
                attributes=(("publisher", "SCRIBNER "), ("image_url", "http://x/y.jpg"), ("blurb", "w " * 60),
                            ("series", ["Dark Tower", ""]), ("pages", 1138)))
    other = Item(id="b:2", title="Misery", writers=("STEPHEN  KING",), attributes=(("publisher", "Scribner"),))
    values = shared_values(item)
    assert {"person:stephen king", "genre:horror", "country:united states", "publisher:scribner",
            "series:dark tower"} <= set(values)
    assert not [v for v in values if "http" in v or "w w w" in v or v.startswith("pages")]
    assert set(shared_values(other)) <= set(values)  # the same author and publisher, however they are written
    gram = side_gram([item, other, Item(id="b:3", title="Alone")], np.arange(3))
    assert gram[0, 1] > 0 and gram[1, 2] == 0 and gram[0, 2] == 0
    assert side_gram([Item(id="a", title="A"), Item(id="b", title="B")], np.arange(2)) is None  # nothing shared


@pytest.fixture(scope="module")
def readers():
    """Readers who each like four books by two authors, in a random order: few co-reads per pair of books."""
    rng = np.random.default_rng(3)
    items = [Item(id=f"b:{a}-{k}", title=f"Book {k} of author {a}", writers=(f"Author {a}",))
             for a in range(AUTHORS) for k in range(BOOKS_EACH)]
    rows = []
    for r in range(READERS):
        authors = rng.choice(AUTHORS, size=2, replace=False)
        books = rng.choice([a * BOOKS_EACH + k for a in authors for k in range(BOOKS_EACH)], size=4, replace=False)
        rows += [(f"u{r}", items[b].id, 5.0, t) for t, b in enumerate(books)]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    split = leave_last_out(frame, [it.id for it in items])
    vectors = np.random.default_rng(0).normal(size=(len(items), 8)).astype(np.float32)
    return items, split, vectors


def _test_ndcg(model, split) -> float:
    scores = mask_excluded(score_histories(model, list(split.test_histories)), [h.items for h in split.test_histories])
    return ndcg(target_ranks(scores, split.test_targets), 10)


def test_books_by_the_same_author_are_found_when_co_reads_are_few(readers):
    items, split, vectors = readers
    with_side, report = fit_interest_model(split, vectors, items, None, CFG, progress=False)
    without, plain = fit_interest_model(split, vectors, items, None,
                                        InterestConfig(**{**CFG.__dict__, "ii_side_grid": ()}), progress=False)
    assert report.item_item["ii_side"] in CFG.ii_side_grid  # chosen on validation, not left at 0
    assert plain.item_item["ii_side"] == 0.0
    assert report.valid_ndcg10 > 1.2 * plain.valid_ndcg10
    assert _test_ndcg(with_side, split) > 1.2 * _test_ndcg(without, split)  # and it holds on the held-out likes


def test_without_item_metadata_the_layer_is_what_it_was(readers):
    items, split, vectors = readers
    _, report = fit_interest_model(split, vectors, None, None, CFG, progress=False)
    assert report.item_item["ii_side"] == 0.0
