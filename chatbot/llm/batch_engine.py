"""The llama.cpp side of batched generation: one model and ONE context holding several sequences, driven through
llama-cpp-python's low-level API (`llama_batch_init` with a sequence id per token, `llama_decode`,
`llama_get_logits_ith`, `llama_memory_seq_rm` / `llama_memory_seq_cp`).

Only the scheduler's thread (`scheduler.DecodeScheduler`) calls `decode`, the sequence operations and the token
choosers; `prompt_tokens` and `piece` only read the vocabulary and may run in any thread. Sequences do not share
cells (llama.cpp's default, non-unified KV cache: each one attends over its own tokens only); a prompt prefix held by
one sequence is copied into another whole (`copy_prefix`: llama.cpp copies only full streams between sequences).
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from retrieval.errors import LLMError, ModelUnavailable

SEQ_CTX = 2048  # tokens one sequence holds (prompt + answer): the understand prompt is ~380 + the message, notes ~600

_BACKEND_LOCK = threading.Lock()
_BACKEND_READY = False


@dataclass(frozen=True)
class EngineConfig:
    """How the context is built: the model file, threads, and how many sequences of what length it holds."""

    model_path: str  # a verified GGUF file
    n_threads: int = 2  # CPU threads for every llama_decode call
    n_slots: int = 4  # sequences that generate together (one token each per decode step)
    n_pinned: int = 3  # more sequences that only keep warmed prompt prefixes (system prompts) to copy from
    seq_ctx: int = SEQ_CTX  # tokens per sequence
    max_batch: int = 512  # tokens one llama_decode call may take

    @property
    def n_seq(self) -> int:
        """All sequences of the context: generating slots first, then the pinned prefixes."""
        return self.n_slots + self.n_pinned


@dataclass(frozen=True)
class BatchEntry:
    """One token of a decode batch: which token, at which position of which sequence, and whether its logits count."""

    token: int
    pos: int
    seq: int
    logits: bool


def _init_backend() -> Any:
    """llama_cpp, imported after the OpenMP spin setting, with llama.cpp's backend started once and its log quiet."""
    global _BACKEND_READY
    from chatbot.config import OMP_SPINCOUNT

    os.environ.setdefault("GOMP_SPINCOUNT", OMP_SPINCOUNT)  # read when OpenMP loads; see llamacpp._load_llama
    try:
        import llama_cpp
        from llama_cpp._logger import set_verbose
    except ImportError as exc:
        raise ModelUnavailable(
            "llama-cpp-python is not installed (pip install llama-cpp-python==0.3.36; it compiles for ~10 minutes). "
            "Or use another backend: TASTEBUD_LLM=transformers or TASTEBUD_LLM=openai"
        ) from exc
    with _BACKEND_LOCK:
        if not _BACKEND_READY:
            set_verbose(False)
            llama_cpp.llama_backend_init()
            _BACKEND_READY = True
    return llama_cpp


@lru_cache(maxsize=64)
def _grammar_for(schema_json: str) -> Any:
    """llama.cpp's grammar for a JSON schema (given as canonical JSON text), built once per schema."""
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


class LlamaBatchEngine:
    """A GGUF model and one llama.cpp context of `n_seq` sequences, decoded together in batches."""

    def __init__(self, config: EngineConfig) -> None:
        """Load the model and build the context (ModelUnavailable when the file or the package is missing)."""
        lib = _init_backend()
        if not Path(config.model_path).is_file():
            raise ModelUnavailable(f"model file {config.model_path} is missing; run `tastebud setup` to assemble it")
        from llama_cpp._utils import suppress_stdout_stderr

        self._lib = lib
        self.config = config
        params = lib.llama_model_default_params()
        params.n_gpu_layers = 0
        cparams = lib.llama_context_default_params()
        cparams.n_ctx = config.seq_ctx * config.n_seq
        cparams.n_seq_max = config.n_seq
        cparams.n_batch = cparams.n_ubatch = config.max_batch
        cparams.n_threads = cparams.n_threads_batch = config.n_threads
        with suppress_stdout_stderr(disable=False):  # llama.cpp's load chatter (as llama_cpp.Llama does)
            self._model = lib.llama_model_load_from_file(config.model_path.encode("utf-8"), params)
            self._ctx = lib.llama_init_from_model(self._model, cparams) if self._model else None
        if not self._model:
            raise ModelUnavailable(f"llama.cpp could not load {config.model_path}")
        if not self._ctx:
            lib.llama_model_free(self._model)
            raise ModelUnavailable(f"llama.cpp could not make a context of {config.n_seq} sequences")
        self._mem = lib.llama_get_memory(self._ctx)
        self.vocab = lib.llama_model_get_vocab(self._model)
        self.n_vocab = lib.llama_vocab_n_tokens(self.vocab)
        self.seq_ctx = lib.llama_n_ctx_seq(self._ctx)
        self._batch = lib.llama_batch_init(config.max_batch, 0, config.n_seq)
        self._formatter = self._chat_formatter()

    # ------------------------------------------------------------------ text <-> tokens (any thread)
    def _chat_formatter(self) -> Any:
        """The model's own chat template (GGUF metadata), rendered as llama-cpp-python's Llama renders it."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._lib.llama_model_chat_template(self._model, None)
        if not template:
            raise ModelUnavailable(f"{self.config.model_path} carries no chat template")
        eos, bos = self._lib.llama_vocab_eos(self.vocab), self._lib.llama_vocab_bos(self.vocab)
        return Jinja2ChatFormatter(template=template.decode("utf-8"), eos_token=self._token_text(eos),
                                   bos_token=self._token_text(bos))

    def _token_text(self, token: int) -> str:
        """A special token's text ("" for none)."""
        if token < 0:
            return ""
        return (self._lib.llama_vocab_get_text(self.vocab, token) or b"").decode("utf-8", errors="replace")

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The tokens of a chat (role/content dicts) rendered by the chat template, ready for the answer."""
        text = self._formatter(messages=list(messages)).prompt.encode("utf-8")
        room = len(text) + 16
        tokens = (self._lib.llama_token * room)()
        n = self._lib.llama_tokenize(self.vocab, text, len(text), tokens, room, False, True)
        if n < 0:
            raise LLMError("the prompt could not be tokenized")
        return list(tokens[:n])

    def piece(self, token: int) -> bytes:
        """The bytes a token writes (special tokens write nothing)."""
        buf = ctypes.create_string_buffer(64)
        n = self._lib.llama_token_to_piece(self.vocab, token, buf, 64, 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._lib.llama_token_to_piece(self.vocab, token, buf, -n, 0, False)
        return buf.raw[:n]

    def is_end(self, token: int) -> bool:
        """True for an end-of-generation token (<|im_end|>, <|endoftext|>)."""
        return bool(self._lib.llama_vocab_is_eog(self.vocab, token))

    # ------------------------------------------------------------------ the context (scheduler thread only)
    def decode(self, entries: Sequence[BatchEntry]) -> None:
        """One llama_decode of these tokens (several sequences at once); LLMError when llama.cpp refuses it."""
        if not 0 < len(entries) <= self.config.max_batch:
            raise LLMError(f"a decode batch must hold 1 to {self.config.max_batch} tokens, not {len(entries)}")
        batch = self._batch
        for i, e in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = e.token, e.pos, 1
            batch.seq_id[i][0] = e.seq
            batch.logits[i] = 1 if e.logits else 0
        batch.n_tokens = len(entries)
        status = self._lib.llama_decode(self._ctx, batch)
        if status != 0:
            raise LLMError(f"the local language model failed (llama_decode returned {status})")

    def context_pointer(self) -> Any:
        """The raw llama_context, for a token chooser reading the logits of the last decode."""
        return self._ctx

    def keep_prefix(self, seq: int, n: int) -> None:
        """Drop everything of sequence `seq` from position `n` on (n=0: the whole sequence)."""
        self._lib.llama_memory_seq_rm(self._mem, seq, n, -1)

    def copy_prefix(self, src: int, dst: int, n: int) -> None:
        """Make sequence `dst` hold the first `n` tokens of `src` (a whole copy, then trimmed)."""
        self._lib.llama_memory_seq_rm(self._mem, dst, -1, -1)
        self._lib.llama_memory_seq_cp(self._mem, src, dst, -1, -1)
        self._lib.llama_memory_seq_rm(self._mem, dst, n, -1)

    def chooser(self, schema: dict[str, Any] | None, temperature: float, seed: int) -> Any:
        """How the next token of one sequence is chosen: greedy under the schema's grammar (JSON answers are always
        greedy), greedy, or sampled at `temperature`."""
        from chatbot.llm.token_choice import GreedyChoice, SampledChoice

        if schema is not None:
            from chatbot.llm.llamacpp import _GreedyGrammarSampler

            grammar = _grammar_for(json.dumps(schema, sort_keys=True))
            return _GreedyGrammarSampler(self.vocab, grammar, self.n_vocab)
        if temperature <= 0:
            return GreedyChoice(self.n_vocab)
        return SampledChoice(self.n_vocab, temperature, seed)

    def close(self) -> None:
        """Free the batch, the context and the model."""
        if self._ctx:
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._lib.llama_model_free(self._model)
            self._ctx = None
