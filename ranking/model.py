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
person's latest events weigh most (exp(-age / tau); tau 0 reads every event alike, for data whose order means
nothing), liked events fully, watched-but-not-liked events half. Its
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
The torch module itself is `ranking.network.InterestModel`, imported only when a model is built; its
hyper-parameters are `ranking.config.InterestConfig`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ranking.config import SIGN_CODES, InterestConfig
from retrieval.errors import ModelUnavailable

log = logging.getLogger(__name__)

CHECKPOINT = Path("model") / "interest.pt"  # relative to the data dir


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


def _interest_model_class() -> type:
    """The torch module class (`ranking.network`), imported on first use: importing this module stays torch-free."""
    _torch()  # a missing torch says how to install it
    from ranking.network import InterestModel

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
        w = (np.exp(-age / cfg.ii_tau) if cfg.ii_tau > 0 else np.ones(n)) * sign_w  # (L,) tau 0: order ignored
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

    def _reads_dislikes(self, n: int) -> bool:
        """Whether n disliked events alone move any score: the transformer (which reads the sign) weighs more
        than 0 for a profile that long, or the item-to-item layer reads dislikes; else every score is equal."""
        cfg = self.config
        return (cfg.mix_short if n <= cfg.short_profile else cfg.mix) > 0 or cfg.ii_disliked_weight != 0

    def score_detailed(self, profile: Profile, candidate_ids: Sequence[str]) -> InterestScores:
        """Scores for `candidate_ids` plus what was ignored; a profile with nothing to read falls back to popularity."""
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
        if not known_liked and text_vec is None and not (known_disliked and self._reads_dislikes(len(known_disliked))):
            notes.append("only dislikes, which the chosen weights do not read: ranked by popularity within the "
                         "candidates" if known_disliked else "empty profile: ranked by popularity within the candidates")
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
