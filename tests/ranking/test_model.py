"""InterestModel contract and shapes; InterestScorer on zero / one / long profiles and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ranking.data import item_popularity, leave_last_out
from ranking.model import CHECKPOINT, InterestScorer, Profile, batch_histories, build_interest_model, save_checkpoint
from ranking.config import InterestConfig
from ranking.train import fit_interest_model
from retrieval.errors import ModelUnavailable

CFG = InterestConfig(dim=32, layers=1, heads=1, max_len=12, epochs=12, patience=12, batch_size=32,
                     negatives=0, text_examples_per_user=2, lr=1e-2, dropout=0.0, threads=1)


def test_forward_loss_score_all_shapes(world_vectors):
    cfg = InterestConfig(n_items=40, content_dim=world_vectors.shape[1], dim=16, layers=1, heads=2, max_len=8)
    model = build_interest_model(cfg, world_vectors)
    items = torch.tensor([[1, 2, 3, 40], [5, 40, 40, 40]])  # (B=2, L=4), 40 = padding
    signs = torch.zeros_like(items)
    text = torch.zeros(2, world_vectors.shape[1])
    has_text = torch.tensor([False, True])
    hidden = model(items, signs, text, has_text)
    assert hidden.shape == (2, 5, 16)  # (B, L+1, D): position 0 is the prefix
    targets = torch.tensor([[1, 2, 3, 40, 40], [5, 40, 40, 40, 40]])
    weights = (targets < 40).float()
    loss = model.loss(items, signs, text, has_text, targets, weights)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert model.item_id.weight.grad is not None
    sampled = model.loss(items, signs, text, has_text, targets, weights, negatives=torch.tensor([0, 7, 9]))
    assert torch.isfinite(sampled)
    scores = model.score_all(items, signs, text, has_text, torch.tensor([3, 1]))
    assert scores.shape == (2, 40)
    # the padding after a row's last item does not change its scores (causal: nothing looks ahead)
    model.eval()
    short = model.score_all(items[1:, :1], signs[1:, :1], text[1:], has_text[1:], torch.tensor([1]))
    full = model.score_all(items[1:], signs[1:], text[1:], has_text[1:], torch.tensor([1]))
    torch.testing.assert_close(short, full, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def trained(world_interactions, world_items, world_vectors, fake_embedder, tmp_path_factory):
    """A tiny trained model saved in a data dir with a catalog hash, and its scorer."""
    ids = [it.id for it in world_items]
    split = leave_last_out(world_interactions, ids)
    model, report = fit_interest_model(split, world_vectors, world_items, fake_embedder.embed, CFG, progress=False)
    d = tmp_path_factory.mktemp("ranking-data")
    (d / "catalog.meta.json").write_text(json.dumps({"hash": "catalog-v1", "n_items": len(ids)}))
    save_checkpoint(d / CHECKPOINT, model, ids, item_popularity(split), "catalog-v1")
    embed_one = lambda text: fake_embedder.embed([text])[0]  # noqa: E731
    return d, ids, InterestScorer.load(d, ids, world_vectors, embed_one), report


def test_training_learns_the_sequence(trained):
    _, _, _, report = trained
    assert report.valid_ndcg10 > 0.5  # the synthetic world is very predictable
    assert report.history[0][1] > report.history[-1][1]  # loss went down


def test_the_transformer_alone_learns_which_films_a_history_holds(world_interactions, world_items, world_vectors):
    # the shipped training knobs (learning rate, weight decay, dropout, batch size), only smaller: with the sign
    # and position rows at torch's default N(0, 1) init the item tokens drowned in them and this reached 0.32
    cfg = InterestConfig(dim=32, layers=1, heads=1, max_len=12, epochs=20, patience=20, text_examples_per_user=0,
                         threads=1, ii_top_k=0)
    split = leave_last_out(world_interactions, [it.id for it in world_items])
    _, report = fit_interest_model(split, world_vectors, world_items, None, cfg, progress=False)
    assert report.valid_ndcg10 > 0.8  # each person's next film in their walk ranks at or near the top


def test_scorer_one_liked_item_prefers_the_same_taste(trained):
    _, ids, scorer, _ = trained
    cands = ids  # everything
    scores = scorer.score(Profile(liked=("it:4",)), cands)
    assert scores.shape == (40,)
    assert scores[:20].mean() > scores[20:].mean()  # comedies over horror
    assert int(np.argmax(np.delete(scores, 4))) < 20


def test_scorer_text_only_profile_uses_the_words(trained):
    _, ids, scorer, _ = trained
    funny = scorer.score(Profile(text="I love Comedy movies, like Comedy funny laugh film 3"), ids)
    scary = scorer.score(Profile(text="I love Horror movies, like Horror scary blood film 23"), ids)
    assert funny[:20].mean() - funny[20:].mean() > scary[:20].mean() - scary[20:].mean()


def test_scorer_long_history_and_dislikes(trained):
    _, ids, scorer, _ = trained
    long_profile = Profile(liked=tuple(f"it:{i}" for i in range(20, 40)) * 3, disliked=("it:1", "it:2"))
    scores = scorer.score(long_profile, ids)  # 60 liked > max_len: only the latest are read
    assert np.isfinite(scores).all()
    assert scores[20:].mean() > scores[:20].mean()


def test_unknown_ids_are_ignored_and_reported(trained):
    _, ids, scorer, _ = trained
    result = scorer.score_detailed(Profile(liked=("it:4", "nope:1")), ["it:5", "ghost:9", "it:30"])
    assert result.unknown_profile_ids == ("nope:1",)
    assert result.unknown_candidate_ids == ("ghost:9",)
    assert result.scores[1] == -np.inf and np.isfinite(result.scores[[0, 2]]).all()
    assert any("nope:1" in n for n in result.notes)


def test_empty_profile_falls_back_to_popularity_and_says_so(trained):
    _, ids, scorer, _ = trained
    result = scorer.score_detailed(Profile(), ids)
    assert result.fallback == "popularity"
    assert "popularity" in result.notes[0]
    order = np.argsort(-result.scores)
    assert scorer.popularity[order[0]] == scorer.popularity.max()


def test_only_dislikes_the_weights_cannot_read_rank_by_popularity_not_all_equal(trained, monkeypatch):
    _, ids, scorer, _ = trained
    turned_down = Profile(disliked=("it:3", "it:4"))  # a new person who said no to two answers, nothing else
    monkeypatch.setattr(scorer.config, "mix_short", 0.0)  # validation gave the transformer no weight
    result = scorer.score_detailed(turned_down, ids)
    assert result.fallback == "popularity" and "dislikes" in result.notes[0]
    assert len(set(np.round(result.scores, 6))) > 1  # an order, not every candidate tied
    monkeypatch.setattr(scorer.config, "mix_short", 0.1)  # a transformer that reads the dislikes is used
    assert scorer.score_detailed(turned_down, ids).fallback is None


def test_checkpoint_from_another_catalog_is_refused_with_advice(trained, world_vectors):
    d, ids, _, _ = trained
    (d / "catalog.meta.json").write_text(json.dumps({"hash": "catalog-v2"}))
    try:
        with pytest.raises(ModelUnavailable, match="another version of the catalog.*tastebud train"):
            InterestScorer.load(d, ids, world_vectors, None)
    finally:
        (d / "catalog.meta.json").write_text(json.dumps({"hash": "catalog-v1"}))
    with pytest.raises(ModelUnavailable, match="retrain"):
        InterestScorer.load(d, ids[:-1], world_vectors[:-1], None)


def test_missing_checkpoint_says_to_train(data_dir, world_vectors):
    with pytest.raises(ModelUnavailable, match="tastebud train"):
        InterestScorer.load(data_dir, ["a"], world_vectors[:1], None)


def test_batch_histories_keeps_the_latest_events():
    from ranking.data import History

    h = History(np.arange(30), np.ones(30, np.int8))
    items, signs, text, has_text, lengths = batch_histories([h], 100, 10, 8)
    assert items.shape == (1, 10) and items[0, -1] == 29 and int(lengths[0]) == 10
    assert not bool(has_text[0])


def test_item_item_layer_reads_recency_and_signs(world_vectors):
    cfg = InterestConfig(n_items=40, content_dim=world_vectors.shape[1], dim=16, layers=1, heads=2, max_len=8,
                         ii_tau=1.0, ii_neutral_weight=0.5, ii_disliked_weight=0.0)
    model = build_interest_model(cfg, world_vectors)
    index = torch.zeros(40, 1, dtype=torch.long)
    value = torch.zeros(40, 1)
    index[3, 0], value[3, 0] = 10, 2.0  # item 3 -> item 10 with weight 2
    index[4, 0], value[4, 0] = 11, 1.0  # item 4 -> item 11 with weight 1
    model.set_item_item(index, value)
    items = torch.tensor([[3, 4, 40]])  # 3 then 4 (the latest), then padding
    liked = torch.zeros_like(items)  # sign row 0 = liked
    out = model.item_item(items, liked, torch.tensor([2]))[0]
    assert out[10].item() == pytest.approx(2.0 * np.exp(-1.0))  # one event old: exp(-1 / tau)
    assert out[11].item() == pytest.approx(1.0)  # the latest event counts fully
    neutral_then_disliked = torch.tensor([[1, 2, 1]])  # rows: neutral, disliked
    out = model.item_item(items, neutral_then_disliked, torch.tensor([2]))[0]
    assert out[10].item() == pytest.approx(0.5 * 2.0 * np.exp(-1.0)) and out[11].item() == 0.0
    cfg.ii_tau = 0.0  # data whose order means nothing (Book-Crossing): every event weighs alike
    out = model.item_item(items, liked, torch.tensor([2]))[0]
    assert out[10].item() == pytest.approx(2.0) and out[11].item() == pytest.approx(1.0)


def test_words_only_profile_reaches_the_neighbours_of_the_films_its_words_describe(world_vectors):
    cfg = InterestConfig(n_items=40, content_dim=world_vectors.shape[1], dim=16, layers=1, heads=2, max_len=8,
                         text_link_k=1, text_link_temp=0.05)
    model = build_interest_model(cfg, world_vectors)
    index = torch.zeros(40, 1, dtype=torch.long)
    value = torch.zeros(40, 1)
    index[3, 0], value[3, 0] = 10, 2.0  # people who watched item 3 also watch item 10
    model.set_item_item(index, value)
    text = torch.from_numpy(np.stack([world_vectors[3], world_vectors[3]])).float()  # words that describe item 3
    has_text = torch.tensor([True, True])
    out = model.text_links(text, has_text, torch.tensor([0, 2]))
    assert out[0, 10].item() == pytest.approx(2.0) and float(out[0].abs().sum()) == pytest.approx(2.0)
    assert float(out[1].abs().sum()) == 0.0  # a profile with items reads its items, not linked films
    liked, disliked = torch.tensor([[0, 0]]), torch.tensor([[2, 2]])  # sign rows: 0 = liked, 2 = disliked
    rejected_only = model.text_links(text[1:], has_text[1:], torch.tensor([2]), disliked)
    assert rejected_only[0, 10].item() == pytest.approx(2.0)  # words and rejections only: the words still lead
    assert float(model.text_links(text[1:], has_text[1:], torch.tensor([2]), liked).abs().sum()) == 0.0
    cfg.text_link_k = 0
    assert float(model.text_links(text, has_text, torch.tensor([0, 2])).abs().sum()) == 0.0  # switched off


def test_scorer_matches_the_model_for_words_with_linked_films(trained):
    _, ids, scorer, _ = trained
    from ranking.data import History
    old = (scorer.config.text_link_k, scorer.config.text_link_temp, scorer.config.mix_text)
    scorer.config.text_link_k, scorer.config.text_link_temp, scorer.config.mix_text = 3, 0.05, 0.1  # no tie at 3
    try:
        for disliked in ((), ("it:30", "it:31")):  # words only; words and two rejected films
            profile = Profile(text="I love Horror movies, like Horror scary blood film 23", disliked=disliked)
            fast = scorer.score(profile, ids)
            items = np.array([scorer.index[i] for i in disliked], np.int64)
            h = History(items, np.full(len(items), -1, np.int8), scorer.text_vector(profile.text))
            batch = batch_histories([h], scorer.config.n_items, scorer.config.max_len, scorer.config.content_dim)
            with torch.inference_mode():
                full = scorer.model.score_all(*batch)[0].numpy()
                linked = scorer.model.text_links(*batch[2:], batch[1])[0].numpy()
            assert np.abs(linked).sum() > 0  # the linked films did change the scores
            np.testing.assert_allclose(fast, full, rtol=1e-4, atol=1e-4)
            scorer.config.text_link_k = 0
            unlinked = scorer.score(profile, ids)
            scorer.config.text_link_k = 3
            assert np.abs(fast - unlinked).max() > 1e-3  # the scorer itself reads the linked films
    finally:
        scorer.config.text_link_k, scorer.config.text_link_temp, scorer.config.mix_text = old


def test_trained_model_has_an_item_item_layer_chosen_on_validation(trained):
    _, ids, scorer, report = trained
    assert scorer.model.ii_index.shape[1] > 0 and float(scorer.model.ii_value.abs().sum()) > 0  # saved and loaded
    assert report.item_item["ii_l2"] in CFG.ii_l2_grid and report.item_item["ii_tau"] in CFG.ii_tau_grid
    assert report.item_item["mix"] in CFG.mix_grid and report.valid_ndcg10 == report.item_item["valid_ndcg10"]
    # words-only profiles: linking films to the words is kept only when it beat the transformer alone on validation
    assert report.item_item["text_link_k"] in (0, *CFG.text_link_k_grid)
    assert scorer.config.text_link_k == report.item_item["text_link_k"]  # the choice is saved in the checkpoint


@pytest.mark.parametrize("tau", [None, 0.0])  # the tau chosen on validation, and order ignored
def test_scorer_matches_the_model_on_every_profile_kind(trained, tau, monkeypatch):
    _, ids, scorer, _ = trained
    from ranking.data import History
    if tau is not None:
        monkeypatch.setattr(scorer.config, "ii_tau", tau)
    for profile in (Profile(text="funny laugh"), Profile(liked=("it:3",)), Profile(liked=tuple(f"it:{i}" for i in range(2, 12)),
                                                                                      disliked=("it:30",))):
        fast = scorer.score(profile, ids)
        items = [scorer.index[i] for i in (*profile.disliked, *profile.liked)]
        signs = [-1] * len(profile.disliked) + [1] * len(profile.liked)
        h = History(np.array(items, np.int64), np.array(signs, np.int8), scorer.text_vector(profile.text))
        batch = batch_histories([h], scorer.config.n_items, scorer.config.max_len, scorer.config.content_dim)
        with torch.inference_mode():
            full = scorer.model.score_all(*batch)[0].numpy()
        np.testing.assert_allclose(fast, full, rtol=1e-4, atol=1e-4)
