"""SASRec-CE: the sequential baseline, trained with full cross-entropy and chosen on validation.

A causal transformer over each person's liked items (oldest first), trained to predict the next liked item
with a softmax over the catalog (Klenitskiy & Vasilev, RecSys 2023, "Turning Dross Into Gold Loss: is BERT4Rec
really better than SASRec?"). Every window of each person's training likes is a training sequence, with a
random shift per epoch. Early stopping on validation NDCG@10 (full ranking, history excluded), and the hidden
size, window length and dropout are chosen on validation from `SASREC_GRID`, as EASE picks its penalty.
The softmax runs over every item liked at least once in training (`softmax_pool="liked"`, the default: an
item no one liked can never be a target, so full cross-entropy only pushes it down; it scores lowest here),
or over the whole catalog (`softmax_pool="catalog"`).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ranking.data import LIKED, History, Split, item_popularity
from ranking.metrics import mask_excluded, ndcg, target_ranks

log = logging.getLogger(__name__)

TIE_BREAK = 1e-6  # weight of normalised popularity added to the scores (the same as ranking.baselines)
SASREC_GRID = (  # (hidden size, max length, dropout) tried, one knob at a time around the first; best validation kept
    (64, 50, 0.2), (128, 50, 0.2), (64, 200, 0.2), (64, 50, 0.5),
)


@dataclass(frozen=True)
class SASRecRun:
    """One configuration's training: its knobs, best epoch, validation NDCG@10 and seconds."""

    dim: int
    max_len: int
    dropout: float
    best_epoch: int
    epochs_run: int
    valid_ndcg10: float
    seconds: float


@dataclass
class SASRecReport:
    """The whole grid: every run and the chosen one."""

    runs: list[SASRecRun] = field(default_factory=list)
    chosen: int = -1  # index into runs
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the evaluation report."""
        best = self.runs[self.chosen] if self.runs else None
        return {"seconds": round(self.seconds, 1), "chosen": None if best is None else {
            "dim": best.dim, "max_len": best.max_len, "dropout": best.dropout, "best_epoch": best.best_epoch,
            "valid_ndcg@10": round(best.valid_ndcg10, 5)},
            "grid": [{"dim": r.dim, "max_len": r.max_len, "dropout": r.dropout, "best_epoch": r.best_epoch,
                      "epochs_run": r.epochs_run, "valid_ndcg@10": round(r.valid_ndcg10, 5),
                      "seconds": round(r.seconds, 1)} for r in self.runs]}


def _torch():
    """torch and the module file, imported on first use with a helpful error."""
    try:
        import torch

        from ranking import sasrec_network
    except ImportError as exc:  # pragma: no cover - torch is a hard dependency
        from retrieval.errors import ModelUnavailable

        raise ModelUnavailable("torch is not installed; run `pip install torch==2.13.0`") from exc
    return torch, sasrec_network


def liked_sequences(split: Split) -> list[np.ndarray]:
    """Each training person's liked item indices, oldest first (people with fewer than two likes left out)."""
    pos = split.train[split.train["sign"] == LIKED]
    out = [rows["item"].to_numpy(np.int64) for _, rows in pos.groupby("user", sort=True)]
    return [s for s in out if len(s) >= 2]


def training_windows(sequences: Sequence[np.ndarray], max_len: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Windows of at most max_len + 1 likes that cut each sequence at a random offset, so every like after
    the first is a target exactly once per epoch (a window's first like is only read)."""
    out = []
    for seq in sequences:
        n = len(seq)
        offset = int(rng.integers(1, max_len + 1))
        cuts = sorted({0, *range(offset, n - 1, max_len), n - 1})
        for a, b in zip(cuts[:-1], cuts[1:]):
            out.append(seq[a: b + 1])
    return out


def pad_rows(rows: Sequence[np.ndarray], pad: int) -> np.ndarray:
    """(B, L) int64 rows padded on the right with `pad`."""
    length = max([len(r) for r in rows] + [1])
    out = np.full((len(rows), length), pad, np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def score_liked(model: Any, liked: Sequence[np.ndarray], batch: int = 256) -> np.ndarray:
    """(B, N) scores of every item after each liked sequence (latest max_len kept); empty ones score 0."""
    torch, _ = _torch()
    cfg = model.config
    out = np.zeros((len(liked), cfg.n_items), np.float32)
    rows = [r for r, s in enumerate(liked) if len(s)]
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(rows), batch):
            part = rows[s: s + batch]
            seqs = [np.asarray(liked[r], np.int64)[-cfg.max_len:] for r in part]
            items = torch.from_numpy(pad_rows(seqs, cfg.n_items))
            lengths = torch.tensor([len(q) for q in seqs])
            out[part] = model.score_all(items, lengths).numpy()
    return out


def _valid_ndcg(model: Any, split: Split, floor: np.ndarray | None) -> float:
    """Validation NDCG@10 with each person's history excluded (items outside the softmax pool score lowest)."""
    scores = score_liked(model, [h.liked for h in split.valid_histories])
    if floor is not None:
        scores[:, floor] = -1e4
    scores = mask_excluded(scores, [h.items for h in split.valid_histories])
    return ndcg(target_ranks(scores, split.valid_targets), 10)


def _train_epoch(model: Any, opt: Any, sequences: Sequence[np.ndarray], pool: Any, rng: np.random.Generator) -> float:
    """One pass over shuffled training windows; the mean loss."""
    torch, _ = _torch()
    cfg = model.config
    windows = training_windows(sequences, cfg.max_len, rng)
    # batches of windows of similar length (little padding), visited in a random order
    by_length = np.lexsort((rng.random(len(windows)), [len(w) for w in windows]))
    batches = [by_length[s: s + cfg.batch_size] for s in range(0, len(windows), cfg.batch_size)]
    model.train()
    losses = []
    for b in rng.permutation(len(batches)):
        chunk = pad_rows([windows[i] for i in batches[b]], cfg.n_items)  # (B, L+1)
        items = torch.from_numpy(chunk[:, :-1].copy())  # (B, L)
        targets = torch.from_numpy(chunk[:, 1:].copy())  # (B, L), padding = no target
        loss = model.loss(items, targets, pool)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses)) if losses else 0.0


def fit_sasrec(split: Split, cfg: Any, pool: np.ndarray | None, progress: bool = False) -> tuple[Any, SASRecRun]:
    """Train one configuration, early-stopping on validation NDCG@10; the model holds its best weights."""
    torch, net = _torch()
    start = time.monotonic()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = net.SASRecModel(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sequences = liked_sequences(split)
    pool_t = torch.from_numpy(pool) if pool is not None else None
    floor = None if pool is None else np.setdiff1d(np.arange(cfg.n_items), pool)
    best, best_epoch, best_state, bad, epoch = -1.0, 0, None, 0, 0
    for epoch in range(1, cfg.epochs + 1):
        loss = _train_epoch(model, opt, sequences, pool_t, rng)
        value = _valid_ndcg(model, split, floor)
        if progress:
            log.info("sasrec-ce d=%d L=%d p=%.1f epoch %d loss %.3f valid NDCG@10 %.4f", cfg.dim, cfg.max_len,
                     cfg.dropout, epoch, loss, value)
        if value > best:
            best, best_epoch, bad, best_state = value, epoch, 0, copy.deepcopy(model.state_dict())
        else:
            bad += 1
        if bad >= cfg.patience or time.monotonic() - start > cfg.time_limit_s:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, SASRecRun(cfg.dim, cfg.max_len, cfg.dropout, best_epoch, epoch, best, time.monotonic() - start)


class SASRecCE:
    """SASRec trained with cross-entropy, behind the baselines' Recommender protocol; knobs chosen on validation."""

    name = "sasrec-ce"

    def __init__(self, config: Any = None, grid: Sequence[tuple[int, int, float]] = SASREC_GRID,
                 softmax_pool: str = "liked", progress: bool = False) -> None:
        self.config = config  # base SASRecConfig (None = defaults); the grid overrides dim, max_len, dropout
        self.grid = tuple(grid)  # (hidden size, max length, dropout) tried
        self.softmax_pool = softmax_pool  # "liked": items liked in training; "catalog": every item
        self.progress = progress
        self.threads: int | None = None  # torch threads while training; None = the config's
        self.report = SASRecReport()

    def fit(self, split: Split, item_vectors: np.ndarray) -> None:
        """Train every grid configuration and keep the one with the best validation NDCG@10."""
        torch, net = _torch()
        start = time.monotonic()
        base = copy.deepcopy(self.config) if self.config is not None else net.SASRecConfig()
        base.n_items = split.n_items
        base.threads = self.threads or base.threads
        pop = item_popularity(split)
        self._pop = (pop / max(pop.max(), 1.0)).astype(np.float32)  # (N,)
        liked = np.flatnonzero(pop > 0)
        self._pool = liked if self.softmax_pool == "liked" and len(liked) else None
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, base.threads))
        self.model, best = None, -1.0
        try:
            for k, (dim, max_len, dropout) in enumerate(self.grid):
                share = (base.time_limit_s - (time.monotonic() - start)) / (len(self.grid) - k)
                cfg = replace(base, dim=dim, max_len=max_len, dropout=dropout, time_limit_s=max(share, 1.0))
                model, run = fit_sasrec(split, cfg, self._pool, self.progress)
                self.report.runs.append(run)
                if run.valid_ndcg10 > best:
                    best, self.model, self.report.chosen = run.valid_ndcg10, model, len(self.report.runs) - 1
        finally:
            torch.set_num_threads(threads)
        self.report.seconds = time.monotonic() - start

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """(B, N) scores after each history's liked items; items outside the softmax pool and empty
        histories fall to popularity order."""
        scores = score_liked(self.model, [h.liked for h in histories])
        if self._pool is not None:
            outside = np.ones(scores.shape[1], bool)
            outside[self._pool] = False
            scores[:, outside] = scores.min() - 1.0 if scores.size else 0.0
        return scores + TIE_BREAK * self._pop[None, :]
