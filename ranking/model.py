"""The interest model: a person is what they liked, disliked and said; items are ids plus their content vectors.

`InterestModel` has two parts whose scores add up:
1. a small causal transformer (SASRec-style) over a person's signed history, trained by gradient descent. Every sequence
starts with one *prefix* token that carries what the person said (their text's MiniLM vector, projected), or a
learned "said nothing" vector. Each history token is the item's representation plus a sign embedding
(liked / neutral / disliked) plus a position embedding. The hidden state at the last token is the person's
interest vector; an item's score is its dot product with the item representation plus a per-item bias.
Item representation = a learned id embedding + a projection of the item's frozen MiniLM vector, so items with
few ratings still land near items like them.
2. a linear item-to-item layer (sparse N x K weights) solved in closed form on the same training interactions, as
EASE does (ridge regression of each watched item on the others, zero diagonal), but read with *recency*: the
person's latest events weigh most (exp(-age / tau)), liked events fully, watched-but-not-liked events half. Its
ridge penalty and tau, the weight of the transformer's log-probabilities beside it and the weight of a
log-popularity prior (separately for long histories, for profiles of at most five items and for words-only
profiles) are chosen on the validation split after training.
A profile with words but no liked film (words only, or words and rejected films) reads the `text_link_k` films
whose content vectors are nearest its words as a soft history for the item-to-item layer, with its own
transformer and prior weights (chosen on words-only validation profiles; with the shipped checkpoint the
transformer's weight there is 0, so rejections then act only through being excluded from answers).
No per-user parameters: one model serves
MovieLens users, a new person known only by the films they named and the words they typed, and live feedback
within a session.

`InterestScorer` is the entry point the agent uses: `InterestScorer.load(...)`, then `score(profile, ids)`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.types import ModelUnavailable

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

CHECKPOINT = Path("model") / "interest.pt"  # relative to the data dir
SIGN_CODES = {1: 0, 0: 1, -1: 2}  # History sign -> sign-embedding row (liked, neutral, disliked)


@dataclass
class InterestConfig:
    """Hyper-parameters of the interest model and its training (nanoGPT-style: one comment per field)."""

    n_items: int = 0  # size of the item vocabulary (item index space of the catalog / dataset)
    content_dim: int = 384  # size of the frozen content vectors (MiniLM)
    dim: int = 64  # hidden size D of tokens, person vectors and item representations
    layers: int = 2  # transformer blocks
    heads: int = 2  # attention heads per block
    max_len: int = 50  # most recent history events read (older ones are dropped)
    dropout: float = 0.3  # dropout in embeddings and blocks
    ff_mult: int = 2  # feed-forward width as a multiple of dim
    # --- training
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 0.1  # AdamW weight decay
    batch_size: int = 128  # sequences per step
    negatives: int = 0  # 0 = full softmax over every item (best for full ranking); >0 = that many uniform negatives
    threads: int = 2  # torch CPU threads while training
    time_limit_s: float = 540.0  # training stops after this many seconds (keeps `tastebud setup` bounded)
    epochs: int = 30  # upper bound on passes over the training sequences
    patience: int = 4  # stop after this many validations without a better NDCG@10
    eval_every: int = 1  # validate every this many epochs
    neutral_weight: float = 0.0  # loss weight of predicting a next item that was watched but not liked
    text_examples_per_user: int = 1  # synthetic "what I said" texts per training user (real MiniLM vectors)
    text_prefix_share: float = 0.3  # share of training windows that start with the person's text
    seed: int = 7  # every random choice in training
    # --- the item-to-item layer (closed form, fitted after the transformer; chosen on validation)
    ii_top_k: int = 256  # weights kept per item row (largest magnitude); 0 = no item-to-item layer
    ii_l2_grid: tuple[float, ...] = (300.0, 1000.0)  # ridge penalties tried
    ii_tau_grid: tuple[float, ...] = (5.0, 10.0, 20.0)  # recency half-lives (in events) tried
    ii_liked_weight: float = 1.0  # input weight of a liked event
    ii_neutral_weight: float = 0.5  # input weight of a watched-but-not-liked event
    ii_disliked_weight: float = 0.0  # input weight of a disliked event (the transformer reads the sign)
    ii_l2: float = 0.0  # chosen ridge penalty (0 until fitted)
    ii_tau: float = 10.0  # chosen recency scale in events
    mix_grid: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)  # transformer weights tried (words-only profiles also try 0)
    mix: float = 1.0  # weight of the transformer's log-probabilities beside the item-to-item scores
    mix_short: float = 1.0  # the same weight for profiles of at most `short_profile` items
    short_profile: int = 5  # profiles this short use mix_short (a new person who named a few films)
    pop_grid: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0, 3.0)  # popularity-prior weights tried
    pop_weight: float = 0.0  # weight of log(1 + training likes) for long histories
    pop_weight_short: float = 0.0  # the same for profiles of at most `short_profile` items
    pop_weight_text: float = 0.0  # the same for profiles with words but no liked film
    # --- words-only profiles: the films nearest the person's words feed the item-to-item layer
    text_link_k_grid: tuple[int, ...] = (5, 10, 20)  # how many nearest films (content cosine) are tried
    text_link_k: int = 0  # chosen number of films linked to a words-only profile; 0 = none (not fitted)
    text_link_temp_grid: tuple[float, ...] = (0.02, 0.05, 1.0)  # temperatures tried: weight exp((cos - best) / t)
    text_link_temp: float = 0.05  # chosen temperature (small = the nearest film dominates)
    mix_text: float = 1.0  # transformer weight for words-only profiles


@dataclass(frozen=True)
class Profile:
    """One person as the agent knows them: liked and disliked item ids (oldest first) and what they said."""

    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class InterestScores:
    """Scores for the requested candidates, with what was ignored and whether the popularity fallback was used."""

    scores: np.ndarray  # (C,) aligned with the candidate ids
    unknown_profile_ids: tuple[str, ...] = ()  # profile items the model does not know (ignored)
    unknown_candidate_ids: tuple[str, ...] = ()  # candidates the model does not know (scored lowest)
    fallback: str | None = None  # why the model was not used, when it was not
    notes: tuple[str, ...] = field(default_factory=tuple)


def _torch():
    """Import torch lazily with a helpful error."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a hard dependency
        raise ModelUnavailable("torch is not installed; run `pip install torch==2.13.0`") from exc
    return torch


@functools.cache
def _interest_model_class() -> type:
    """Define the torch module class on first use, so importing this module does not import torch."""
    torch = _torch()
    nn = torch.nn

    class InterestModel(nn.Module):
        """Causal transformer over [prefix, item_1, ..., item_L]; see the module docstring."""

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
            w = torch.exp(-age / max(cfg.ii_tau, 1e-6)) * sign_w * real  # (B, L)
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

    return InterestModel


def build_interest_model(config: InterestConfig, item_vectors: np.ndarray) -> Any:
    """A fresh `InterestModel` for `config`, holding the frozen item content vectors (N, content_dim)."""
    return _interest_model_class()(config, item_vectors)


def __getattr__(name: str) -> Any:
    """`ranking.model.InterestModel` is built lazily (torch is imported on first access)."""
    if name == "InterestModel":
        return _interest_model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def batch_histories(histories: Sequence[Any], n_items: int, max_len: int, content_dim: int):
    """Tensors (items, signs, text, has_text, lengths) for `score_all` from Histories (latest max_len kept)."""
    torch = _torch()
    b = len(histories)
    longest = max([min(len(h.items), max_len) for h in histories] + [1])
    items = np.full((b, longest), n_items, dtype=np.int64)  # (B, L) padded right
    signs = np.zeros((b, longest), dtype=np.int64)
    text = np.zeros((b, content_dim), dtype=np.float32)
    has_text = np.zeros(b, dtype=bool)
    lengths = np.zeros(b, dtype=np.int64)
    for r, h in enumerate(histories):
        it = np.asarray(h.items, dtype=np.int64)[-max_len:]
        sg = np.asarray(h.signs, dtype=np.int64)[-max_len:]
        items[r, : len(it)] = it
        signs[r, : len(sg)] = [SIGN_CODES[int(s)] for s in sg]
        lengths[r] = len(it)
        if h.text_vector is not None:
            text[r] = h.text_vector
            has_text[r] = True
    return (torch.from_numpy(items), torch.from_numpy(signs), torch.from_numpy(text),
            torch.from_numpy(has_text), torch.from_numpy(lengths))


def items_fingerprint(item_ids: Sequence[str]) -> str:
    """sha256 of the item id list, in order: the model's vocabulary."""
    return hashlib.sha256("\n".join(item_ids).encode("utf-8")).hexdigest()


def read_catalog_hash(data_dir: Path) -> str | None:
    """The catalog hash recorded in `catalog.meta.json` (or computed from catalog.jsonl); None without a catalog."""
    data_dir = Path(data_dir)
    meta = data_dir / "catalog.meta.json"
    if meta.exists():
        try:
            value = json.loads(meta.read_text(encoding="utf-8")).get("hash")
        except (OSError, ValueError):
            value = None
        if value:
            return str(value)
    catalog = data_dir / "catalog.jsonl"
    if catalog.exists():
        return hashlib.sha256(catalog.read_bytes()).hexdigest()
    return None


def save_checkpoint(path: Path, model: Any, item_ids: Sequence[str], popularity: np.ndarray,
                    catalog_hash: str | None, extra: dict[str, Any] | None = None) -> None:
    """Write the model, its config, vocabulary fingerprint and catalog hash atomically."""
    torch = _torch()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": 1,
        "config": asdict(model.config),
        "state_dict": model.state_dict(),
        "item_ids": list(item_ids),
        "items_hash": items_fingerprint(item_ids),
        "catalog_hash": catalog_hash,
        "popularity": torch.as_tensor(np.asarray(popularity, dtype=np.float32)),
        "extra": json.loads(json.dumps(extra or {})),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`; ModelUnavailable when missing or unreadable."""
    torch = _torch()
    path = Path(path)
    if not path.exists():
        raise ModelUnavailable(f"no interest model at {path}; run `tastebud train` first")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ModelUnavailable(f"the interest model at {path} cannot be read ({exc}); run `tastebud train`") from exc


class InterestScorer:
    """Scores candidates for one profile with the trained interest model (the agent's entry point)."""

    def __init__(self, model: Any, item_ids: Sequence[str], popularity: np.ndarray,
                 embed_text: Callable[[str], np.ndarray] | None, text_cache_size: int = 256) -> None:
        torch = _torch()
        self.model = model.eval()
        self.config: InterestConfig = model.config
        self.item_ids = tuple(item_ids)
        self.index = {item: i for i, item in enumerate(self.item_ids)}
        self.popularity = np.asarray(popularity, dtype=np.float32)  # (N,) training positives per item
        self._embed_text = embed_text
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._text_cache_size = text_cache_size
        with torch.no_grad():
            self._item_repr = model.item_repr().detach().clone()  # (N, D) precomputed once
            self._item_bias = model.item_bias.detach().clone()  # (N,)
        self._item_repr_np = self._item_repr.numpy()  # (N, D)
        self._item_bias_np = self._item_bias.numpy()  # (N,)
        self._ii_index_np = model.ii_index.numpy().astype(np.int64)  # (N, K)
        self._ii_value_np = model.ii_value.numpy()  # (N, K)
        self._log_pop_np = model.log_pop.numpy()  # (N,)
        self._content_np = model.content_unit.numpy()  # (N, C) unit content vectors, shared with the model

    def _blend_one(self, logits: np.ndarray, items: np.ndarray, sign_rows: np.ndarray,
                   text_vec: np.ndarray | None = None) -> np.ndarray:
        """`InterestModel.blend` for one profile in numpy (N,): item-to-item + mix * log-probs + pop * prior."""
        cfg = self.config
        n = len(items)
        age = np.arange(n - 1, -1, -1, dtype=np.float64)  # (L,) 0 = latest event
        sign_w = np.array([cfg.ii_liked_weight, cfg.ii_neutral_weight, cfg.ii_disliked_weight])[sign_rows]
        w = np.exp(-age / max(cfg.ii_tau, 1e-6)) * sign_w  # (L,)
        ii = np.bincount(self._ii_index_np[items].ravel(), weights=(self._ii_value_np[items] * w[:, None]).ravel(),
                         minlength=cfg.n_items) if n else np.zeros(cfg.n_items)  # (N,)
        words = not np.any(sign_rows == SIGN_CODES[1]) and text_vec is not None  # words (+ rejections), as in blend
        if words and text_vec is not None and cfg.text_link_k > 0:  # the films nearest the words
            cos = self._content_np @ (text_vec / max(float(np.linalg.norm(text_vec)), 1e-12))  # (N,)
            k = min(cfg.text_link_k, cfg.n_items)
            near = np.argsort(-cos, kind="stable")[:k]  # (K,) ties: lower index first, as in the torch model
            wn = np.exp((cos[near] - cos[near].max()) / max(cfg.text_link_temp, 1e-6))  # (K,)
            ii = ii + np.bincount(self._ii_index_np[near].ravel(), weights=(self._ii_value_np[near] * wn[:, None]).ravel(),
                                  minlength=cfg.n_items)
        top = logits.max()
        log_probs = logits - top - np.log(np.exp(logits - top).sum())  # (N,)
        if words:
            mix, pop = cfg.mix_text, cfg.pop_weight_text
        elif n <= cfg.short_profile:
            mix, pop = cfg.mix_short, cfg.pop_weight_short
        else:
            mix, pop = cfg.mix, cfg.pop_weight
        return (ii + mix * log_probs + pop * self._log_pop_np).astype(np.float32)

    @classmethod
    def load(cls, data_dir: Path, item_ids: Sequence[str], item_vectors: np.ndarray,
             embed_text: Callable[[str], np.ndarray] | None) -> InterestScorer:
        """Load `model/interest.pt` from the data dir; ModelUnavailable when missing or trained for another catalog."""
        ckpt = load_checkpoint(Path(data_dir) / CHECKPOINT)
        current = read_catalog_hash(Path(data_dir))
        if ckpt.get("catalog_hash") and current and ckpt["catalog_hash"] != current:
            raise ModelUnavailable(
                "the interest model was trained on another version of the catalog "
                f"(model {ckpt['catalog_hash'][:12]}, catalog {current[:12]}); retrain it with `tastebud train`"
            )
        if ckpt.get("items_hash") != items_fingerprint(list(item_ids)):
            raise ModelUnavailable(
                f"the interest model knows {len(ckpt.get('item_ids', []))} items but the catalog has "
                f"{len(item_ids)} different ones; retrain it with `tastebud train`"
            )
        return cls.from_checkpoint(ckpt, item_vectors, embed_text)

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any], item_vectors: np.ndarray,
                        embed_text: Callable[[str], np.ndarray] | None) -> InterestScorer:
        """A scorer from an already-read checkpoint dict (used by load and by the evaluation)."""
        raw = dict(ckpt["config"])
        for key, value in raw.items():  # tuples come back from the checkpoint as lists
            if isinstance(value, list):
                raw[key] = tuple(value)
        config = InterestConfig(**raw)
        model = build_interest_model(config, item_vectors)
        state = ckpt["state_dict"]
        if "ii_index" in state:
            model.set_item_item(state["ii_index"], state["ii_value"])
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelUnavailable(f"the interest model checkpoint does not fit this version of tastebud ({exc}); "
                                   "retrain it with `tastebud train`") from exc
        return cls(model, ckpt["item_ids"], ckpt["popularity"].numpy(), embed_text)

    def text_vector(self, text: str) -> np.ndarray | None:
        """The MiniLM vector of `text` (cached); None for blank text or without an embedder."""
        text = " ".join(text.split())
        if not text or self._embed_text is None:
            return None
        hit = self._text_cache.get(text)
        if hit is None:
            hit = np.asarray(self._embed_text(text), dtype=np.float32).reshape(-1)
            self._text_cache[text] = hit
            if len(self._text_cache) > self._text_cache_size:
                self._text_cache.popitem(last=False)
        else:
            self._text_cache.move_to_end(text)
        return hit

    def score_detailed(self, profile: Profile, candidate_ids: Sequence[str]) -> InterestScores:
        """Scores for `candidate_ids` plus what was ignored; an empty profile falls back to popularity."""
        from ranking.data import DISLIKED, LIKED, History

        torch = _torch()
        known_liked = [self.index[i] for i in profile.liked if i in self.index]
        known_disliked = [self.index[i] for i in profile.disliked if i in self.index]
        unknown = tuple(i for i in (*profile.liked, *profile.disliked) if i not in self.index)
        cand = np.array([self.index.get(c, -1) for c in candidate_ids], dtype=np.int64)  # (C,)
        unknown_cand = tuple(c for c, i in zip(candidate_ids, cand) if i < 0)
        notes = []
        if unknown:
            notes.append(f"ignored {len(unknown)} item(s) the model does not know: {', '.join(unknown[:5])}")
        text_vec = self.text_vector(profile.text)
        safe = np.where(cand >= 0, cand, 0)
        if not known_liked and not known_disliked and text_vec is None:
            notes.append("empty profile: ranked by popularity within the candidates")
            scores = np.log1p(self.popularity[safe]).astype(np.float32)
            scores[cand < 0] = -np.inf
            return InterestScores(scores, unknown, unknown_cand, "popularity", tuple(notes))
        # disliked first, liked last: the model reads the latest events last, and the liked ones matter most
        items = np.array(known_disliked + known_liked, dtype=np.int64)
        signs = np.array([DISLIKED] * len(known_disliked) + [LIKED] * len(known_liked), dtype=np.int8)
        batch = batch_histories([History(items, signs, text_vec)], self.config.n_items,
                                self.config.max_len, self.config.content_dim)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one profile is tiny work: a thread pool only adds waiting on busy cores
        try:
            with torch.inference_mode():
                hidden = self.model.forward(*batch[:4])  # (1, L+1, D)
                person = hidden[0, int(batch[4][0])].numpy()  # (D,)
                if self._ii_index_np.shape[1] == 0:
                    scores = (self._item_repr_np[safe] @ person + self._item_bias_np[safe]).astype(np.float32)
                else:
                    n = int(batch[4][0])
                    scores = self._blend_one(self._item_repr_np @ person + self._item_bias_np,
                                             batch[0][0, :n].numpy(), batch[1][0, :n].numpy(), text_vec)[safe]  # (C,)
        finally:
            torch.set_num_threads(threads)
        scores = np.asarray(scores, dtype=np.float32).copy()
        scores[cand < 0] = -np.inf
        return InterestScores(scores, unknown, unknown_cand, None, tuple(notes))

    def score(self, profile: Profile, candidate_ids: Sequence[str]) -> np.ndarray:
        """(C,) interest scores for the candidates (higher = more likely liked); see `score_detailed`."""
        result = self.score_detailed(profile, candidate_ids)
        for note in result.notes:
            log.info("interest scorer: %s", note)
        return result.scores
