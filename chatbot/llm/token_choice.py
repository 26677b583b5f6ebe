"""Choosing one sequence's next token from the logits of a batched decode: greedy, or sampled at a temperature.
(Greedy under a JSON grammar is `llamacpp._GreedyGrammarSampler`, which has the same `sample(ctx, idx)`.)"""

from __future__ import annotations

from typing import Any


def logits_at(ctx: Any, idx: int, n_vocab: int) -> Any:
    """The logits of batch output `idx` of the last decode, as a numpy view (n_vocab,)."""
    import llama_cpp
    import numpy as np

    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, idx), shape=(n_vocab,))


class GreedyChoice:
    """The most likely token."""

    def __init__(self, n_vocab: int) -> None:
        """A greedy chooser over a vocabulary of `n_vocab` tokens."""
        self._n_vocab = n_vocab

    def sample(self, ctx: Any, idx: int) -> int:
        """The argmax of output `idx`."""
        import numpy as np

        return int(np.argmax(logits_at(getattr(ctx, "ctx", ctx), idx, self._n_vocab)))

    def close(self) -> None:
        """Nothing to free."""


class SampledChoice:
    """A token drawn at a temperature from the top 40 (top-p 0.95, min-p 0.05: llama-cpp-python's defaults),
    with a seeded generator of its own, so a call repeats whatever else runs in the batch."""

    TOP_K = 40
    TOP_P = 0.95
    MIN_P = 0.05

    def __init__(self, n_vocab: int, temperature: float, seed: int) -> None:
        """A sampler at `temperature` (> 0), seeded."""
        import numpy as np

        self._n_vocab = n_vocab
        self._temperature = temperature
        self._rng = np.random.default_rng(seed)

    def sample(self, ctx: Any, idx: int) -> int:
        """One draw from output `idx`."""
        import numpy as np

        logits = logits_at(getattr(ctx, "ctx", ctx), idx, self._n_vocab)
        top = np.argpartition(logits, -self.TOP_K)[-self.TOP_K:]  # (K,)
        top = top[np.argsort(logits[top])[::-1]]
        scaled = (logits[top] - logits[top[0]]) / self._temperature
        p = np.exp(scaled)
        p /= p.sum()
        keep = (p >= self.MIN_P * p[0]) & (np.cumsum(p) - p < self.TOP_P)
        p = p[keep] / p[keep].sum()
        return int(top[keep][self._rng.choice(len(p), p=p)])

    def close(self) -> None:
        """Nothing to free."""
