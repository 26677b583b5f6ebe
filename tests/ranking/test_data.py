"""Interactions: validation of bad rows and the chronological leave-last-out split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ranking.data import DISLIKED, LIKED, NEUTRAL, clean_interactions, leave_last_out, load_interactions
from retrieval.errors import CatalogError


def _frame(rows):
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


def test_split_holds_out_the_last_two_positives_in_time_order():
    df = _frame([
        ("a", "m3", 5.0, 30), ("a", "m1", 4.0, 10), ("a", "m2", 1.0, 20), ("a", "m4", 4.5, 40),
        ("a", "m5", 3.0, 45), ("a", "m6", 4.0, 50), ("a", "m7", 5.0, 60),
        ("b", "m1", 5.0, 1), ("b", "m2", 4.0, 2),  # only two positives: trains, not evaluated
    ])
    split = leave_last_out(df)
    ids = list(split.item_ids)
    assert split.users == ("a",)
    assert ids[split.test_targets[0]] == "m7"
    assert ids[split.valid_targets[0]] == "m6"
    # the validation history is everything before m6, in time order, with signs
    valid = split.valid_histories[0]
    assert [ids[i] for i in valid.items] == ["m1", "m2", "m3", "m4", "m5"]
    assert valid.signs.tolist() == [LIKED, DISLIKED, LIKED, LIKED, NEUTRAL]
    # the test history adds the validation positive
    assert [ids[i] for i in split.test_histories[0].items][-1] == "m6"
    # training rows: user a before m6, plus all of b
    assert len(split.train) == 5 + 2
    assert split.dropped["users_with_fewer_than_3_positives"] == 1


def test_rows_after_the_test_positive_are_dropped_and_unknown_items_counted():
    df = _frame([("a", "m1", 4, 1), ("a", "m2", 4, 2), ("a", "m3", 4, 3), ("a", "m4", 2, 4), ("a", "zz", 5, 0)])
    split = leave_last_out(df, item_ids=["m1", "m2", "m3", "m4"])
    assert split.dropped["rows_after_test_positive"] == 1
    assert split.dropped["unknown_item_rows"] == 1
    assert split.item_ids[split.test_targets[0]] == "m3"


def test_nan_and_infinite_ratings_are_rejected_and_reported():
    df = _frame([("a", "m1", 4.0, 1), ("a", "m2", float("nan"), 2), ("a", "m3", float("inf"), 3),
                 ("a", "m4", 7.0, 4), ("", "m5", 4.0, 5)])
    clean = clean_interactions(df)
    assert len(clean.frame) == 1
    reasons = {(p.row, p.field) for p in clean.problems}
    assert reasons == {(1, "rating"), (2, "rating"), (3, "rating"), (4, "user")}
    assert "NaN" in clean.problems[0].reason


def test_load_interactions_reports_problems_and_missing_file(data_dir):
    with pytest.raises(CatalogError, match="tastebud data build"):
        load_interactions(data_dir)
    _frame([("a", "m1", 4.0, 1), ("a", "m2", np.nan, 2)]).to_parquet(data_dir / "interactions.parquet")
    df = load_interactions(data_dir)
    assert len(df) == 1 and len(df.attrs["problems"]) == 1
    pd.DataFrame({"user": ["a"]}).to_parquet(data_dir / "interactions.parquet")
    with pytest.raises(CatalogError, match="lacks the column"):
        load_interactions(data_dir)
