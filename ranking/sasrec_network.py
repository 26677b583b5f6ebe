"""The SASRec-CE torch module: a causal transformer over a person's liked items, scored against every item.

SASRec (Kang & McAuley 2018) as Klenitskiy & Vasilev (RecSys 2023) train it: the output at each position is
scored against every item through the (tied) item embeddings and trained with full cross-entropy on the next
liked item. Contract (as `InterestModel`): `forward` gives hidden states, `loss` the training loss,
`score_all` the scores of every item after each sequence's last real item. Sequences are padded on the right
with `n_items`; the causal mask keeps every position from seeing later ones, so padding is never attended to.
This module imports torch at the top; `ranking.sasrec` imports it only when a model is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class SASRecConfig:
    """Hyper-parameters of SASRec-CE and its training (one comment per field)."""

    n_items: int = 0  # size of the item vocabulary; index n_items is padding
    dim: int = 64  # hidden size D of item embeddings and hidden states
    max_len: int = 200  # latest liked items read (training windows and scoring)
    layers: int = 2  # transformer blocks
    heads: int = 1  # attention heads per block
    dropout: float = 0.2  # dropout on embeddings, attention and feed-forward
    lr: float = 2e-3  # AdamW learning rate
    weight_decay: float = 0.0  # AdamW weight decay
    batch_size: int = 32  # windows per step (small: an epoch of MovieLens is only ~1,500 windows)
    epochs: int = 200  # upper bound on passes over the training windows
    patience: int = 5  # stop after this many epochs without a better validation NDCG@10
    time_limit_s: float = 1200.0  # the whole grid's training budget in seconds, shared evenly by what is left
    threads: int = 2  # torch CPU threads while training
    seed: int = 7  # initialisation, window shifts and batch order


class SASRecModel(nn.Module):
    """Item embedding + position embedding -> causal pre-norm transformer -> dot product with item embeddings."""

    def __init__(self, cfg: SASRecConfig) -> None:
        super().__init__()
        self.config = cfg
        n, d = cfg.n_items, cfg.dim
        self.item = nn.Embedding(n + 1, d, padding_idx=n)  # (N+1, D), row n = padding
        nn.init.normal_(self.item.weight, std=0.02)
        with torch.no_grad():
            self.item.weight[n].zero_()
        self.position = nn.Embedding(cfg.max_len, d)  # (L, D)
        self.drop = nn.Dropout(cfg.dropout)
        block = nn.TransformerEncoderLayer(
            d_model=d, nhead=cfg.heads, dim_feedforward=d, dropout=cfg.dropout,
            activation="gelu", batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(block, num_layers=cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, L, D) for item rows (B, L) padded on the right with n_items; position t sees 0..t."""
        b, length = items.shape
        pos = torch.arange(length, device=items.device)  # (L,)
        x = self.item(items) * (self.config.dim ** 0.5) + self.position(pos).unsqueeze(0)  # (B, L, D)
        x = self.drop(x)
        causal = torch.nn.Transformer.generate_square_subsequent_mask(length, device=items.device)  # (L, L)
        h = self.encoder(x, mask=causal, is_causal=True)  # (B, L, D)
        return self.norm(h)

    def logits(self, hidden: torch.Tensor, pool: torch.Tensor | None = None) -> torch.Tensor:
        """Scores (..., N) of every item, or (..., P) of the items in `pool` (P,), for hidden states (..., D)."""
        weight = self.item.weight[:-1] if pool is None else self.item.weight[pool]  # (N or P, D)
        return hidden @ weight.T

    def loss(self, items: torch.Tensor, targets: torch.Tensor, pool: torch.Tensor | None = None) -> torch.Tensor:
        """Mean cross-entropy of the next liked item: items and targets (B, L), n_items in targets = no target.

        Without `pool` the softmax runs over every item; with `pool` (P,) over those items only (the targets must
        be in it), which is how the training skips items that were never liked in training."""
        hidden = self.forward(items)  # (B, L, D)
        keep = targets < self.config.n_items  # (B, L)
        h = hidden[keep]  # (T, D)
        tgt = targets[keep]  # (T,)
        if pool is not None:
            lookup = torch.full((self.config.n_items,), -1, dtype=torch.long, device=items.device)  # (N,)
            lookup[pool] = torch.arange(len(pool), device=items.device)
            tgt = lookup[tgt]
        return nn.functional.cross_entropy(self.logits(h, pool), tgt)

    def score_all(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Scores of every item (B, N) after each row's last real item; lengths (B,) >= 1 real items per row."""
        hidden = self.forward(items)  # (B, L, D)
        last = hidden[torch.arange(items.shape[0], device=items.device), lengths - 1]  # (B, D)
        return self.logits(last)  # (B, N)
