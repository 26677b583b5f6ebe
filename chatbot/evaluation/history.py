"""MovieLens histories for evaluation: the interest model's leave-last-out split and a user's liked films.

The dialogue runner seeds warm-start profiles from it and the simulator picks its users from it; both import it
from here, so neither imports the other.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from retrieval.errors import TastebudError

if TYPE_CHECKING:
    from ranking.data import Split


@functools.lru_cache(maxsize=2)
def _split(data_dir: str, item_ids: tuple[str, ...]) -> Split:
    """The chronological leave-last-out split over this catalog (cached per data dir and catalog)."""
    from ranking.data import leave_last_out, load_interactions

    return leave_last_out(load_interactions(Path(data_dir)), item_ids)


def load_split(data_dir: Path, item_ids: Sequence[str]) -> Split:
    """The same split the interest model was trained and evaluated on."""
    return _split(str(Path(data_dir).resolve()), tuple(item_ids))


def history_likes(data_dir: Path, item_ids: Sequence[str], user: str) -> list[str]:
    """A MovieLens user's liked films (rating >= 4) before their held-out test film, oldest first."""
    split = load_split(data_dir, item_ids)
    if user in split.users:
        history = split.test_histories[split.users.index(user)]
        return [split.item_ids[i] for i in history.liked]
    from ranking.data import POSITIVE_MIN

    train = split.train[(split.train["user"] == user) & (split.train["rating"] >= POSITIVE_MIN)]
    if train.empty:
        raise TastebudError(f"no MovieLens user {user!r} with liked films in the interactions")
    return [split.item_ids[i] for i in train["item"].tolist()]
