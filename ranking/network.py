"""The interest model's torch module: a causal transformer over a signed history plus an item-to-item layer.

This module imports torch at the top; `ranking.model` imports it only when a model is built, so importing
`ranking.model` stays cheap. See `ranking.model` for what the model is and how it is used.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ranking.config import SIGN_CODES, InterestConfig


class InterestModel(nn.Module):
    """Causal transformer over [prefix, item_1, ..., item_L]; see the `ranking.model` docstring."""

    def __init__(self, cfg: InterestConfig, vectors: np.ndarray) -> None:
        super().__init__()
        self.config = cfg
        n, d = cfg.n_items, cfg.dim
        vec = torch.as_tensor(np.asarray(vectors, dtype=np.float32))  # (N, C)
        if vec.shape != (n, cfg.content_dim):
            raise ValueError(f"item vectors have shape {tuple(vec.shape)}, expected {(n, cfg.content_dim)}")
        self.register_buffer("content", vec, persistent=False)  # (N, C) frozen MiniLM vectors
        self.register_buffer("content_unit", nn.functional.normalize(vec, dim=-1), persistent=False)  # (N, C)
        self.item_id = nn.Embedding(n + 1, d, padding_idx=n)  # row n = padding
        nn.init.normal_(self.item_id.weight, std=0.02)
        with torch.no_grad():
            self.item_id.weight[n].zero_()
        self.content_proj = nn.Linear(cfg.content_dim, d)
        self.item_bias = nn.Parameter(torch.zeros(n))  # (N,)
        self.sign = nn.Embedding(3, d)
        self.position = nn.Embedding(cfg.max_len + 1, d)
        # small like the item rows: at torch's default N(0, 1) the sign and position rows (norm ~8) drowned the
        # item tokens (~0.3); the transformer could hardly see which items a history held and early-stopped at epoch 1
        nn.init.normal_(self.sign.weight, std=0.02)
        nn.init.normal_(self.position.weight, std=0.02)
        self.text_proj = nn.Sequential(nn.Linear(cfg.content_dim, d), nn.GELU(), nn.Linear(d, d))
        self.no_text = nn.Parameter(torch.zeros(d))
        self.drop = nn.Dropout(cfg.dropout)
        block = nn.TransformerEncoderLayer(
            d_model=d, nhead=cfg.heads, dim_feedforward=cfg.ff_mult * d, dropout=cfg.dropout,
            activation="gelu", batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(block, num_layers=cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        # item-to-item layer: row j holds the K largest weights of item j -> item ii_index[j, k]
        self.register_buffer("ii_index", torch.zeros(n, 0, dtype=torch.int32))  # (N, K)
        self.register_buffer("ii_value", torch.zeros(n, 0))  # (N, K)
        self.register_buffer("log_pop", torch.zeros(n))  # (N,) log(1 + training likes): the popularity prior

    def set_item_item(self, index: torch.Tensor, value: torch.Tensor, log_pop: torch.Tensor | None = None) -> None:
        """Install item-to-item weights: index (N, K) int item rows, value (N, K) float; optional prior (N,)."""
        if log_pop is not None:
            self.log_pop = log_pop.to(torch.float32).contiguous()
        self.ii_index = index.to(torch.int32).contiguous()
        self.ii_value = value.to(torch.float32).contiguous()

    def item_item(self, items: torch.Tensor, signs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Recency-weighted item-to-item scores (B, N) for items/signs (B, L) with `lengths` real tokens."""
        cfg = self.config
        b, length = items.shape
        out = torch.zeros(b, cfg.n_items, device=items.device)
        if self.ii_index.shape[1] == 0 or length == 0:
            return out
        pos = torch.arange(length, device=items.device).unsqueeze(0)  # (1, L)
        age = (lengths.unsqueeze(1) - 1 - pos).clamp(min=0).float()  # (B, L) 0 = latest event
        real = pos < lengths.unsqueeze(1)  # (B, L)
        sign_w = torch.tensor([cfg.ii_liked_weight, cfg.ii_neutral_weight, cfg.ii_disliked_weight],
                              device=items.device)[signs]  # (B, L) via SIGN_CODES rows
        recency = torch.exp(-age / cfg.ii_tau) if cfg.ii_tau > 0 else torch.ones_like(age)  # tau 0: order ignored
        w = recency * sign_w * real  # (B, L)
        safe = items.clamp(max=cfg.n_items - 1)
        idx = self.ii_index[safe].long()  # (B, L, K)
        val = self.ii_value[safe] * w.unsqueeze(-1)  # (B, L, K)
        return out.scatter_add_(1, idx.reshape(b, -1), val.reshape(b, -1))  # (B, N)

    def liked_counts(self, signs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Liked events per row (B,) among the `lengths` real tokens of sign rows (B, L)."""
        real = torch.arange(signs.shape[1], device=signs.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
        return ((signs == SIGN_CODES[1]) & real).sum(dim=1)

    def text_links(self, text: torch.Tensor, has_text: torch.Tensor, lengths: torch.Tensor,
                   signs: torch.Tensor | None = None) -> torch.Tensor:
        """Item-to-item scores (B, N) from the films nearest the text (B, C) of each profile that has words but
        no liked film (only words, or words and rejections); other rows are zero. The nearest `text_link_k`
        films by content cosine act as a soft history, weighted exp((cosine - best cosine) / text_link_temp), so
        the nearest film weighs 1; ties go to the lower item index (as in the numpy scorer)."""
        cfg = self.config
        b = text.shape[0]
        out = torch.zeros(b, cfg.n_items, device=text.device)
        no_likes = lengths == 0 if signs is None else self.liked_counts(signs, lengths) == 0  # (B,)
        rows = torch.nonzero(no_likes & has_text).flatten()  # (R,)
        if cfg.text_link_k <= 0 or self.ii_index.shape[1] == 0 or len(rows) == 0:
            return out
        t = torch.nn.functional.normalize(text[rows], dim=-1)  # (R, C)
        cos = t @ self.content_unit.T  # (R, N)
        near, top = torch.sort(cos, dim=1, descending=True, stable=True)  # ties: lower index first
        near, top = near[:, : cfg.text_link_k], top[:, : cfg.text_link_k]  # (R, K)
        w = torch.exp((near - near[:, :1]) / max(cfg.text_link_temp, 1e-6))  # (R, K) nearest film = 1
        idx = self.ii_index[top].long()  # (R, K, K2)
        val = self.ii_value[top] * w.unsqueeze(-1)  # (R, K, K2)
        linked = torch.zeros(len(rows), cfg.n_items, device=text.device)
        out[rows] = linked.scatter_add_(1, idx.reshape(len(rows), -1), val.reshape(len(rows), -1))
        return out

    def blend(self, logits: torch.Tensor, items: torch.Tensor, signs: torch.Tensor,
              lengths: torch.Tensor, text: torch.Tensor | None = None,
              has_text: torch.Tensor | None = None) -> torch.Tensor:
        """Final scores (B, N): item-to-item scores (from the history, or for words-only profiles from the
        films nearest the words) + mix * transformer log-probabilities (logits (B, N)) + pop * prior."""
        if self.ii_index.shape[1] == 0:
            return logits
        cfg = self.config
        short = lengths <= cfg.short_profile
        words = self.liked_counts(signs, lengths) == 0  # (B,) no liked film: words (and rejections) only
        if has_text is not None:  # words and maybe rejections; a row with nothing at all keeps mix 1, no prior
            words = words & has_text
        else:
            words = words & (lengths == 0)
        mix = torch.where(short, cfg.mix_short, cfg.mix)  # (B,)
        mix = torch.where(words, cfg.mix_text, mix).unsqueeze(1)  # (B, 1)
        pop = torch.where(short, cfg.pop_weight_short, cfg.pop_weight)
        pop = torch.where(words, cfg.pop_weight_text, pop).unsqueeze(1)  # (B, 1)
        ii = self.item_item(items, signs, lengths)
        if text is not None and has_text is not None:
            ii = ii + self.text_links(text, has_text, lengths, signs)
        return ii + mix * torch.log_softmax(logits, dim=-1) + pop * self.log_pop

    def item_repr(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Item representations: id embedding + projected content vector; all items when idx is None."""
        if idx is None:
            return self.item_id.weight[:-1] + self.content_proj(self.content)  # (N, D)
        safe = idx.clamp(max=self.config.n_items - 1)
        rep = self.item_id(idx) + self.content_proj(self.content[safe])  # (..., D)
        return rep * (idx < self.config.n_items).unsqueeze(-1)  # padding -> 0

    def forward(self, items: torch.Tensor, signs: torch.Tensor, text: torch.Tensor,
                has_text: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, L+1, D) for items (B, L) (padded with n_items at the right end), sign rows
        (B, L), text vectors (B, C) and has_text (B,) bool; position 0 is the prefix token."""
        b, length = items.shape
        prefix = torch.where(has_text.unsqueeze(-1), self.text_proj(text), self.no_text.expand(b, -1))  # (B, D)
        tokens = self.item_repr(items) + self.sign(signs)  # (B, L, D)
        x = torch.cat([prefix.unsqueeze(1), tokens], dim=1)  # (B, L+1, D)
        pos = torch.arange(length + 1, device=items.device)  # (L+1,)
        x = self.drop(x + self.position(pos).unsqueeze(0))
        causal = torch.nn.Transformer.generate_square_subsequent_mask(length + 1, device=items.device)
        h = self.encoder(x, mask=causal, is_causal=True)  # (B, L+1, D)
        return self.norm(h)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every item (..., N) for hidden states (..., D)."""
        return hidden @ self.item_repr().T + self.item_bias  # (..., N)

    def loss(self, items: torch.Tensor, signs: torch.Tensor, text: torch.Tensor, has_text: torch.Tensor,
             targets: torch.Tensor, weights: torch.Tensor, negatives: torch.Tensor | None = None) -> torch.Tensor:
        """Weighted next-item softmax loss: targets (B, L+1) item index per position (n_items = none), weights
        (B, L+1) float (0 = no target). With `negatives` (S,) item indices the softmax runs over the batch's
        targets plus those items (sampled softmax); without, over every item (full softmax)."""
        hidden = self.forward(items, signs, text, has_text)  # (B, L+1, D)
        keep = weights > 0  # (B, L+1)
        h = hidden[keep]  # (T, D)
        tgt = targets[keep]  # (T,)
        w = weights[keep]  # (T,)
        if negatives is None:
            logits = self.logits(h)  # (T, N)
            labels = tgt
        else:
            pool, labels = torch.unique(torch.cat([tgt, negatives]), return_inverse=True)  # (P,), (T+S,)
            labels = labels[: tgt.shape[0]]  # (T,) position of each target in the pool
            logits = h @ self.item_repr(pool).T + self.item_bias[pool]  # (T, P)
        ce = torch.nn.functional.cross_entropy(logits, labels, reduction="none")  # (T,)
        return (ce * w).sum() / w.sum().clamp(min=1e-9)

    def score_all(self, items: torch.Tensor, signs: torch.Tensor, text: torch.Tensor,
                  has_text: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Scores of every item (B, N): the transformer's scores from the hidden state after each sequence's
        last real token, blended with the item-to-item layer; lengths (B,) = real items per row (0 = prefix only)."""
        return self.blend(self.transformer_scores(items, signs, text, has_text, lengths), items, signs, lengths,
                          text, has_text)

    def transformer_scores(self, items: torch.Tensor, signs: torch.Tensor, text: torch.Tensor,
                           has_text: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The transformer part alone: logits of every item (B, N) after each row's last real token."""
        hidden = self.forward(items, signs, text, has_text)  # (B, L+1, D)
        last = hidden[torch.arange(items.shape[0], device=items.device), lengths]  # (B, D)
        return self.logits(last)  # (B, N)

