"""The interest model's hyper-parameters (one typed dataclass) and the sign codes its inputs use."""

from __future__ import annotations

from dataclasses import dataclass

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
    batch_size: int = 32  # sequences per step (small: an epoch of MovieLens is only ~2,500 windows)
    negatives: int = 0  # 0 = full softmax over every item (best for full ranking); >0 = that many uniform negatives
    threads: int = 2  # torch CPU threads while training
    time_limit_s: float = 540.0  # training stops after this many seconds (keeps `tastebud setup` bounded)
    epochs: int = 30  # upper bound on passes over the training sequences
    patience: int = 5  # stop after this many validations without a better NDCG@10
    eval_every: int = 1  # validate every this many epochs
    neutral_weight: float = 0.0  # loss weight of predicting a next item that was watched but not liked
    text_examples_per_user: int = 1  # synthetic "what I said" texts per training user (real MiniLM vectors)
    text_prefix_share: float = 0.3  # share of training windows that start with the person's text
    seed: int = 7  # every random choice in training
    # --- the item-to-item layer (closed form, fitted after the transformer; chosen on validation)
    ii_top_k: int = 256  # weights kept per item row (largest magnitude); 0 = no item-to-item layer
    ii_l2_grid: tuple[float, ...] = (100.0, 300.0, 1000.0)  # ridge penalties tried
    ii_side_grid: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)  # side-information weights tried at the chosen penalty
    ii_side: float = 0.0  # chosen weight of what items share (authors, directors, publishers, genres); 0 = none
    ii_tau_grid: tuple[float, ...] = (5.0, 10.0, 20.0, 0.0)  # recency scales (in events) tried; 0 = order ignored
    ii_liked_weight: float = 1.0  # input weight of a liked event
    ii_neutral_weight: float = 0.5  # input weight of a watched-but-not-liked event
    ii_disliked_weight: float = 0.0  # input weight of a disliked event (the transformer reads the sign)
    ii_l2: float = 0.0  # chosen ridge penalty (0 until fitted)
    ii_tau: float = 10.0  # chosen recency scale in events
    mix_grid: tuple[float, ...] = (0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)  # transformer weights tried (0: layer alone)
    mix: float = 1.0  # weight of the transformer's log-probabilities beside the item-to-item scores
    mix_short: float = 1.0  # the same weight for profiles of at most `short_profile` items
    short_profile: int = 5  # profiles this short use mix_short (a new person who named a few films)
    short_recent: bool = True  # short validation profiles are each person's latest k likes (what a chat sees), not the first k
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
