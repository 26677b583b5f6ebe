"""A small synthetic world with real structure, for fast ranking tests: two tastes, items liked in order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrieval.embeddings import FakeEmbedder
from retrieval.types import Item

N_ITEMS = 40  # items 0-19 are comedies, 20-39 are horror films


def _world_items() -> list[Item]:
    """Forty items: twenty comedies and twenty horror films with distinct titles."""
    out = []
    for i in range(N_ITEMS):
        genre = "Comedy" if i < 20 else "Horror"
        word = "funny laugh" if i < 20 else "scary blood"
        out.append(Item(id=f"it:{i}", title=f"{genre} {word} film {i}", year=1990 + i % 20, genres=(genre,)))
    return out


def _world_interactions(n_users: int = 120, seed: int = 3) -> pd.DataFrame:
    """Each person likes one genre and walks through it in item order (a sequential pattern), dislikes the other."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        base = 0 if u % 2 == 0 else 20
        other = 20 - base
        start = int(rng.integers(0, 8))
        length = int(rng.integers(6, 12))
        t = 1_000_000 + u * 10_000
        for step, i in enumerate(range(start, start + length)):
            rows.append((f"u:{u}", f"it:{base + i}", float(rng.choice([4.0, 4.5, 5.0])), t + step * 60))
        for j in rng.choice(np.arange(other, other + 20), size=2 if u % 3 == 0 else 0, replace=False):
            rows.append((f"u:{u}", f"it:{j}", 1.0, t - 500 + int(j)))
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


@pytest.fixture(scope="session")
def world_items() -> list[Item]:
    """The synthetic items."""
    return _world_items()


@pytest.fixture(scope="session")
def world_interactions() -> pd.DataFrame:
    """The synthetic interactions (user, item, rating, timestamp)."""
    return _world_interactions()


@pytest.fixture(scope="session")
def fake_embedder() -> FakeEmbedder:
    """Hashing embedder: shared words give similar vectors."""
    return FakeEmbedder(dim=32)


@pytest.fixture(scope="session")
def world_vectors(world_items, fake_embedder) -> np.ndarray:
    """(40, 32) content vectors of the synthetic items from the hashing embedder."""
    return fake_embedder.embed([f"{it.title}. Genres: {', '.join(it.genres)}." for it in world_items])
