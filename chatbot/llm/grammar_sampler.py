"""Greedy sampling under a JSON-schema grammar, best token first (shared by the llama.cpp backend and its
batched context)."""

from __future__ import annotations

from typing import Any


class GreedyGrammarSampler:
    """Greedy sampling under a grammar that checks the model's best token first, and the whole vocabulary only
    when the grammar rejects it (what llama.cpp's own `common_sampler` does; llama-cpp-python applies the grammar
    to all ~152k tokens at every step, which cost ~28 ms a token here, more than generating it). Same tokens as
    the full chain (penalties off, grammar, greedy), as the best allowed token is the best token when allowed.
    """

    def __init__(self, vocab: Any, grammar: Any, n_vocab: int) -> None:
        """A grammar sampler for this vocabulary (grammar: a llama_cpp.LlamaGrammar)."""
        import ctypes

        import llama_cpp

        self._lib = llama_cpp
        self._byref = ctypes.byref
        self._n_vocab = n_vocab
        self._grammar = llama_cpp.llama_sampler_init_grammar(
            vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._grammar:
            raise ValueError("llama.cpp could not parse the answer's grammar")
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        self._all: Any = None  # every token's data, allocated at the first rejection

    def sample(self, ctx: Any, idx: int = -1, banned: Any = None) -> int:
        """The best token the grammar allows at output `idx` (never one of the `banned` token ids), accepted into
        the grammar's state."""
        import numpy as np

        lib = self._lib
        logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx.ctx, idx), shape=(self._n_vocab,))
        if banned is not None and len(banned):
            logits = logits.copy()
            logits[banned] = -np.inf
        token = int(np.argmax(logits))
        self._one[0].id, self._one[0].logit, self._one[0].p = token, float(logits[token]), 0.0
        self._one_array.size, self._one_array.selected = 1, -1
        lib.llama_sampler_apply(self._grammar, self._byref(self._one_array))
        if not np.isfinite(self._one[0].logit):  # rejected: constrain the whole vocabulary
            if self._all is None:
                self._all = np.zeros(self._n_vocab, dtype=[("id", np.intc), ("logit", np.single), ("p", np.single)])
            self._all["id"] = np.arange(self._n_vocab, dtype=np.intc)
            self._all["logit"] = logits
            self._all["p"] = 0.0
            array = lib.llama_token_data_array(
                data=self._all.ctypes.data_as(lib.llama_token_data_p), size=self._n_vocab, selected=-1, sorted=False
            )
            lib.llama_sampler_apply(self._grammar, self._byref(array))
            token = int(self._all["id"][int(np.argmax(self._all["logit"]))])
        lib.llama_sampler_accept(self._grammar, token)
        return token

    def allows(self, token: int) -> bool:
        """True when the grammar, in its present state, lets `token` come next."""
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 0.0, 0.0
        self._one_array.size, self._one_array.selected = 1, -1
        self._lib.llama_sampler_apply(self._grammar, self._byref(self._one_array))
        return bool(self._one[0].logit > float("-inf"))

    def accept(self, token: int) -> None:
        """Take a token the answer was given (not sampled) into the grammar's state; check `allows` first."""
        self._lib.llama_sampler_accept(self._grammar, token)

    def close(self) -> None:
        """Free the llama.cpp grammar sampler."""
        if self._grammar:
            self._lib.llama_sampler_free(self._grammar)
            self._grammar = None

    def __del__(self) -> None:
        """Free the sampler with the object."""
        self.close()
