"""The evaluation: every model on one split, the JSON schema, the PNGs; and a real small training run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ranking.evaluate import BASELINE_ORDER, check_goals, evaluate, to_markdown
from ranking.config import InterestConfig
from ranking.train import InterestRecommender

TINY = InterestConfig(dim=32, layers=1, heads=1, max_len=12, epochs=10, patience=10, batch_size=32,
                      negatives=0, text_examples_per_user=1, lr=1e-2, dropout=0.0, threads=1)


def test_eval_json_schema_table_and_figures(tmp_path, world_interactions, world_items, world_vectors,
                                            fake_embedder):
    interest = InterestRecommender(world_items, fake_embedder.embed, TINY, progress=False)
    report = evaluate("synthetic", world_interactions, world_items, world_vectors, fake_embedder.embed,
                      out_dir=tmp_path, interest=interest, tradeoff=True, progress=False)
    out = json.loads(json.dumps(report.to_json()))
    assert out["dataset"] == "synthetic" and "leave-last-out" in out["protocol"]
    models = {r["model"] for r in out["results"]}
    assert models == {"interest", *BASELINE_ORDER}
    assert {r["slice"] for r in out["results"]} == {"all", "cold", "cold-recent", "text"}
    for row in out["results"]:
        for key in ("hr@10", "ndcg@10", "recall@20", "mrr", "coverage"):
            assert isinstance(row[key], float) and 0.0 <= row[key] <= 1.0, (row, key)
        assert row["recall@20"] >= row["hr@10"]  # one held-out item: recall@20 is HR@20
    # the written artefacts
    assert json.loads((tmp_path / "eval-synthetic.json").read_text())["results"] == out["results"]
    for png in ("eval-synthetic.png", "tradeoff-synthetic.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the tradeoff: lambda = 1 keeps the blend's order; lower lambda gives more diverse lists
    curve = {t["mmr_lambda"]: t for t in out["tradeoff"]}
    assert curve[0.0]["diversity"] >= curve[1.0]["diversity"]
    assert set(out["chosen_weights"]) >= {"w_relevance", "w_interest", "w_popularity"}
    # id-only models have nothing to go on in the text slice: they equal popularity there
    assert report.value("ease", "text") == pytest.approx(report.value("popularity", "text"))
    # the interest model learns this world's order: far above popularity
    assert report.value("interest", "all") > 2 * report.value("popularity", "all")
    table = to_markdown(report)
    assert table.count("| interest |") == 4 and "NDCG@10" in table
    assert any(line.startswith(("PASS", "FAIL")) for line in check_goals(report))


@pytest.mark.slow
def test_real_training_on_a_movielens_subset_beats_popularity(embedder):
    """A small real run: 250 people, the 1,200 most-rated films, real MiniLM vectors, a short training."""
    from ranking.datasets import load_ml_latest_small
    from retrieval.embeddings import item_text

    ds = load_ml_latest_small()
    df = ds.interactions
    users = sorted(df["user"].unique())[:250]
    df = df[df["user"].isin(users)]
    top = df["item"].value_counts().index[:1200]
    df = df[df["item"].isin(top)]
    items = [it for it in ds.items if it.id in set(top)]
    vectors = embedder.embed([item_text(it) for it in items])
    cfg = InterestConfig(dim=48, layers=1, heads=2, max_len=30, epochs=8, patience=3, text_examples_per_user=1,
                         negatives=0)
    interest = InterestRecommender(items, embedder.embed, cfg, progress=False)
    report = evaluate("ml-subset", df, items, vectors, embedder.embed, interest=interest,
                      models=("interest", "popularity"), progress=False)
    assert report.value("interest", "all") > report.value("popularity", "all")
    assert report.value("interest", "text") > 0.0
    assert np.isfinite([r.ndcg10 for r in report.rows]).all()
