"""Training the interest model: windows over each person's signed history, full softmax, early stopping.

`fit_interest_model` trains on a Split's training part and early-stops on validation NDCG@10 (full ranking,
history excluded), then `ranking.item_item.fit_item_item` solves the item-to-item layer. `train_interest_model`
is what `tastebud train` and `tastebud setup` call: it reads the data dir's interactions, trains, and writes
`model/interest.pt` with the catalog hash and config.
`InterestRecommender` wraps the model in the baselines' Recommender protocol for the evaluation.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ranking.data import (
    LIKED, NEUTRAL, History, Split, cold_history, item_popularity, leave_last_out, load_interactions, split_fingerprint,
)
from ranking.item_item import fit_item_item
from ranking.model import CHECKPOINT, _torch, build_interest_model, read_catalog_hash, save_checkpoint
from ranking.config import SIGN_CODES, InterestConfig
from ranking.validation import score_histories, validation_ndcg
from retrieval.types import Item
from retrieval.errors import ModelUnavailable

log = logging.getLogger(__name__)

EmbedTexts = Callable[[list[str]], np.ndarray]  # texts -> (N, 384) normalised vectors


@dataclass(frozen=True)
class TrainReport:
    """What a training run did."""

    checkpoint: Path | None
    best_epoch: int
    epochs_run: int
    valid_ndcg10: float
    seconds: float
    n_users: int
    n_items: int
    history: tuple[tuple[int, float, float], ...] = ()  # (epoch, mean loss, validation NDCG@10)
    dropped: dict[str, int] = field(default_factory=dict)
    item_item: dict[str, float] = field(default_factory=dict)  # the layer's chosen penalty, recency, blend weights


def describe_taste(titles: Sequence[str], genres: Sequence[str]) -> str:
    """A profile written as words only (no ids): favourite genres and a few liked titles, as one sentence."""
    parts = []
    if genres:
        g = list(genres)
        parts.append("I love " + (", ".join(g[:-1]) + " and " + g[-1] if len(g) > 1 else g[0]) + " movies")
    if titles:
        t = list(titles)
        liked = ", ".join(t[:-1]) + " and " + t[-1] if len(t) > 1 else t[0]
        parts.append(("like " if parts else "I liked ") + liked)
    return (", ".join(parts) + ".") if parts else ""


def taste_sentence(liked: Sequence[int], items: Sequence[Item], n_titles: int = 3, n_genres: int = 3) -> str:
    """The words-only profile of liked item indices (oldest first): top genres overall + the latest titles."""
    counts = Counter(g for i in liked for g in items[i].genres)
    genres = [g for g, _ in counts.most_common(n_genres)]
    titles = []
    for i in list(liked)[-n_titles:]:
        it = items[i]
        titles.append(f"{it.title} ({it.year})" if it.year else it.title)
    return describe_taste(titles, genres)


def _windows(seq: History, max_len: int, shift: int, n_items: int, neutral_weight: float):
    """Training windows over one history: (items, signs, targets, weights) arrays, targets one step ahead."""
    n = len(seq.items)
    if n == 0:
        return []
    ends = sorted({n, *range(n - shift, 0, -max_len)})
    weights_of = np.where(seq.signs == LIKED, 1.0, np.where(seq.signs == NEUTRAL, neutral_weight, 0.0))
    out = []
    for e in ends:
        s = max(0, e - max_len)
        items = seq.items[s:e]
        signs = seq.signs[s:e]
        tgt = np.full(len(items) + 1, n_items, dtype=np.int64)  # (m+1,) target after each prefix
        w = np.zeros(len(items) + 1, dtype=np.float32)
        upto = min(e + 1, n)
        tgt[: upto - s] = seq.items[s:upto]
        w[: upto - s] = weights_of[s:upto]
        if w.sum() > 0:
            out.append((items, signs, tgt, w))
    return out


def _text_examples(sequences: Sequence[History], items: Sequence[Item] | None, embed_texts: EmbedTexts | None,
                   per_user: int, rng: np.random.Generator, progress: bool):
    """Synthetic 'what I said' examples: (text vectors (M, C), targets (M,), owner (M,) sequence index)."""
    if embed_texts is None or items is None or per_user <= 0:
        return np.zeros((0, 384), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    texts, targets, owners = [], [], []
    for u, seq in enumerate(sequences):
        liked = seq.liked
        if len(liked) < 4:
            continue
        for j in rng.choice(np.arange(3, len(liked)), size=min(per_user, len(liked) - 3), replace=False):
            texts.append(taste_sentence(liked[:j], items))
            targets.append(int(liked[j]))
            owners.append(u)
    if not texts:
        return np.zeros((0, 384), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    vecs = np.asarray(embed_texts(texts), dtype=np.float32)
    return vecs, np.asarray(targets, np.int64), np.asarray(owners, np.int64)


def _collate(examples: list[tuple], n_items: int, content_dim: int):
    """Pad examples (items, signs, targets, weights, text or None) into model tensors."""
    torch = _torch()
    b = len(examples)
    length = max([len(e[0]) for e in examples] + [1])
    items = np.full((b, length), n_items, np.int64)  # (B, L)
    signs = np.zeros((b, length), np.int64)
    targets = np.full((b, length + 1), n_items, np.int64)  # (B, L+1)
    weights = np.zeros((b, length + 1), np.float32)
    text = np.zeros((b, content_dim), np.float32)
    has_text = np.zeros(b, bool)
    for r, (it, sg, tg, w, tv) in enumerate(examples):
        items[r, : len(it)] = it
        signs[r, : len(sg)] = [SIGN_CODES[int(s)] for s in sg]
        targets[r, : len(tg)] = tg
        weights[r, : len(w)] = w
        if tv is not None:
            text[r] = tv
            has_text[r] = True
    return tuple(torch.from_numpy(a) for a in (items, signs, text, has_text, targets, weights))


def _validation_profiles(split: Split, items: Sequence[Item] | None, embed_texts: EmbedTexts | None,
                         short: int, recent: bool = True) -> tuple[list[list[History]], list[np.ndarray]]:
    """The profiles the transformer early-stops on: full histories, short ones (latest, or first, 1..short likes) and,
    when texts can be embedded, words only; plus what each person's ranking excludes (their whole history).

    The transformer's own job beside the item-to-item layer is short and words-only profiles, so its
    stopping point weighs them as much as full histories.
    """
    hist = list(split.valid_histories)
    sets = [hist, [cold_history(h, 1 + u % short, recent=recent) for u, h in enumerate(hist)]]
    if embed_texts is not None and items is not None and hist:
        vecs = np.asarray(embed_texts([taste_sentence(h.liked, items) for h in hist]), dtype=np.float32)
        sets.append([History(np.zeros(0, np.int64), np.zeros(0, np.int8), v) for v in vecs])
    return sets, [h.items for h in hist]


@dataclass(frozen=True)
class _TrainingData:
    """What the transformer trains on: each person's training sequence and the synthetic 'what I said' examples."""

    sequences: list[History]
    text_vecs: np.ndarray  # (M, C) vectors of the synthetic texts
    text_targets: np.ndarray  # (M,) the liked item each text predicts
    owner_texts: dict[int, list[int]]  # sequence index -> rows of its texts


@dataclass
class _EarlyStop:
    """Early stopping on validation NDCG@10: the best score so far, its epoch and weights, and the history."""

    best: float = -1.0
    best_epoch: int = 0
    best_state: dict[str, Any] | None = None
    bad: int = 0  # validations in a row without a better score
    epochs_run: int = 0
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (epoch, mean loss, validation NDCG@10)


def _training_data(split: Split, items: Sequence[Item] | None, embed_texts: EmbedTexts | None, cfg: InterestConfig,
                   rng: np.random.Generator, progress: bool) -> _TrainingData:
    """The training sequences of the split and the synthetic text examples of their people."""
    from ranking.data import train_sequences

    sequences = train_sequences(split)
    text_vecs, text_targets, text_owner = _text_examples(
        sequences, items, embed_texts, cfg.text_examples_per_user, rng, progress)
    owner_texts: dict[int, list[int]] = {}
    for m, u in enumerate(text_owner):
        owner_texts.setdefault(int(u), []).append(m)
    return _TrainingData(sequences, text_vecs, text_targets, owner_texts)


def _epoch_examples(data: _TrainingData, cfg: InterestConfig, rng: np.random.Generator) -> list[tuple]:
    """One epoch's examples: randomly shifted windows (some with their person's text as prefix), then text alone."""
    examples: list[tuple] = []
    for u, seq in enumerate(data.sequences):
        shift = int(rng.integers(0, cfg.max_len))
        for win in _windows(seq, cfg.max_len, shift, cfg.n_items, cfg.neutral_weight):
            tv = None
            if data.owner_texts.get(u) and rng.random() < cfg.text_prefix_share:
                tv = data.text_vecs[int(rng.choice(data.owner_texts[u]))]
            examples.append((*win, tv))
    for m in range(len(data.text_targets)):  # text-only examples: the prefix alone predicts a liked item
        examples.append((np.zeros(0, np.int64), np.zeros(0, np.int8), np.array([data.text_targets[m]]),
                         np.array([1.0], np.float32), data.text_vecs[m]))
    return examples


def _train_one_epoch(model: Any, opt: Any, examples: list[tuple], rng: np.random.Generator, epoch: int,
                     progress: bool) -> list[float]:
    """Gradient steps over the examples in a random order; the loss of each step."""
    torch = _torch()
    from tqdm.auto import tqdm

    cfg = model.config
    order = rng.permutation(len(examples))
    losses = []
    steps = tqdm(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch}", unit="step", leave=False,
                 disable=not progress)
    for s in steps:
        batch = _collate([examples[i] for i in order[s: s + cfg.batch_size]], cfg.n_items, cfg.content_dim)
        neg = None
        if 0 < cfg.negatives < cfg.n_items:
            neg = torch.from_numpy(rng.integers(0, cfg.n_items, size=cfg.negatives))
        loss = model.loss(*batch, negatives=neg)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def _train_epochs(model: Any, data: _TrainingData, split: Split, valid_sets: list[list[History]],
                  exclude: list[np.ndarray], rng: np.random.Generator, start: float, progress: bool) -> _EarlyStop:
    """Train epoch by epoch until patience or the time limit runs out; the model ends with its best weights."""
    torch = _torch()
    from tqdm.auto import tqdm

    cfg = model.config
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    run = _EarlyStop()
    bar = tqdm(range(1, cfg.epochs + 1), desc="training interest model", unit="epoch", disable=not progress)
    for epoch in bar:
        run.epochs_run = epoch
        model.train()
        losses = _train_one_epoch(model, opt, _epoch_examples(data, cfg, rng), rng, epoch, progress)
        score = float("nan")
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            score = float(np.mean([validation_ndcg(model, h, split.valid_targets, exclude) for h in valid_sets]))
            if score > run.best:
                run.best, run.best_epoch, run.bad = score, epoch, 0
                run.best_state = copy.deepcopy(model.state_dict())
            else:
                run.bad += 1
        run.history.append((epoch, float(np.mean(losses)) if losses else 0.0, score))
        bar.set_postfix(loss=f"{run.history[-1][1]:.3f}", ndcg10=f"{score:.4f}",
                        best=f"{run.best:.4f}@{run.best_epoch}")
        if run.bad >= cfg.patience:
            break
        if time.monotonic() - start > cfg.time_limit_s:
            log.warning("training stopped at its time limit (%.0f s) after epoch %d", cfg.time_limit_s, epoch)
            break
    bar.close()
    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    return run


def fit_interest_model(split: Split, item_vectors: np.ndarray, items: Sequence[Item] | None = None,
                       embed_texts: EmbedTexts | None = None, config: InterestConfig | None = None,
                       progress: bool = True) -> tuple[Any, TrainReport]:
    """Train on `split.train`, early-stop on validation NDCG@10; returns the best model and a report."""
    torch = _torch()
    start = time.monotonic()
    cfg = copy.deepcopy(config) if config else InterestConfig()
    cfg.n_items = split.n_items
    cfg.content_dim = int(np.asarray(item_vectors).shape[1])
    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, cfg.threads))
    rng = np.random.default_rng(cfg.seed)
    model = build_interest_model(cfg, item_vectors)
    data = _training_data(split, items, embed_texts, cfg, rng, progress)
    valid_sets, exclude = _validation_profiles(split, items, embed_texts, cfg.short_profile, cfg.short_recent)
    run = _train_epochs(model, data, split, valid_sets, exclude, rng, start, progress)
    model.eval()
    best = run.best
    item_item: dict[str, float] = {}
    if cfg.ii_top_k > 0:
        item_item = fit_item_item(model, split, progress=progress, short_sets=valid_sets[1],
                                  text_sets=valid_sets[2] if len(valid_sets) > 2 else (), items=items)
        best = item_item["valid_ndcg10"]
    torch.set_num_threads(threads)
    report = TrainReport(None, run.best_epoch, run.epochs_run, best, time.monotonic() - start, len(split.users),
                         split.n_items, tuple(run.history), dict(split.dropped), item_item)
    return model, report


def train_interest_model(data_dir: Path, item_ids: Sequence[str], item_vectors: np.ndarray,
                         embed_texts: EmbedTexts | None, items: Sequence[Item] | None = None,
                         config: InterestConfig | None = None, progress: bool = True) -> TrainReport:
    """`tastebud train`: fit on the data dir's interactions (catalog order = item_ids) and save model/interest.pt.

    `items` (aligned with item_ids) supply titles/genres for the synthetic text profiles; without them (or
    without `embed_texts`) the text pathway is not trained.
    """
    item_ids = list(item_ids)
    vectors = np.asarray(item_vectors, dtype=np.float32)
    if vectors.shape[0] != len(item_ids):
        raise ModelUnavailable(f"{len(item_ids)} item ids but {vectors.shape[0]} item vectors; rebuild the index")
    df = load_interactions(Path(data_dir))
    split = leave_last_out(df, item_ids)
    if len(split.users) < 2:
        raise ModelUnavailable("too few people with three or more liked items to train the interest model")
    model, report = fit_interest_model(split, vectors, items, embed_texts, config, progress)
    path = Path(data_dir) / CHECKPOINT
    save_checkpoint(path, model, item_ids, item_popularity(split), read_catalog_hash(Path(data_dir)),
                    extra={"split": split_fingerprint(split), "valid_ndcg10": report.valid_ndcg10, "best_epoch": report.best_epoch,
                           "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return TrainReport(path, *list(asdict(report).values())[1:])


class InterestRecommender:
    """The interest model behind the baselines' Recommender protocol (for the evaluation)."""

    name = "interest"

    def __init__(self, items: Sequence[Item] | None = None, embed_texts: EmbedTexts | None = None,
                 config: InterestConfig | None = None, progress: bool = True) -> None:
        self.items = items  # item metadata aligned with the split's item index (for text profiles)
        self.embed_texts = embed_texts  # batch text embedder, MiniLM in production
        self.config = config
        self.progress = progress
        self.report: TrainReport | None = None

    def fit(self, split: Split, item_vectors: np.ndarray) -> None:
        """Train on the split (early stopping on its validation part)."""
        self.model, self.report = fit_interest_model(split, item_vectors, self.items, self.embed_texts,
                                                     self.config, self.progress)

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """(B, N) scores from the trained model."""
        return score_histories(self.model, list(histories))
