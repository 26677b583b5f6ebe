"""The embedded model as a langchain chat model whose calls share decode steps: `_stream` submits to the process's
decoding scheduler for the model file (`scheduler.DecodeScheduler`, one thread owning one llama.cpp context of
several sequences) and streams the tokens back.

Every model object on the same file, threads and slots shares one scheduler: the understanding model
(`priority="understand"`: waits at most `slot_wait_s` for a slot, then `LLMBusy`) and the notes model
(`priority="notes"`: waits up to its time limit, never takes the slot kept for understanding).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from chatbot.llm.batch_engine import SEQ_CTX, EngineConfig, LlamaBatchEngine
from chatbot.llm.generation import BACKGROUND, URGENT, Generation, GenerationRequest
from chatbot.llm.local import LocalChatModel
from chatbot.llm.protocol import as_messages, to_role_dicts
from chatbot.llm.scheduler import DecodeScheduler
from retrieval.errors import LLMError

_SCHEDULERS: dict[tuple[str, int, int, int], DecodeScheduler] = {}  # (model file, threads, slots, seq_ctx)
_SCHEDULERS_LOCK = threading.Lock()
_PREFILL_TIMEOUT_S = 300.0  # warming a prompt prefix at start-up


def shared_scheduler(model_path: str, n_threads: int = 2, n_slots: int = 4, seq_ctx: int = SEQ_CTX,
                     max_queued: int = 32) -> DecodeScheduler:
    """The process's scheduler for this model file, threads and slots, started on first use (loading the model)."""
    key = (os.path.realpath(model_path), n_threads, n_slots, seq_ctx)
    with _SCHEDULERS_LOCK:
        scheduler = _SCHEDULERS.get(key)
        if scheduler is None:
            config = EngineConfig(model_path=model_path, n_threads=n_threads, n_slots=n_slots, seq_ctx=seq_ctx)
            scheduler = DecodeScheduler(lambda: LlamaBatchEngine(config), n_slots=n_slots, n_pinned=config.n_pinned,
                                        max_queued=max_queued, reserve=1 if n_slots > 1 else 0,
                                        name=Path(model_path).stem)
            _SCHEDULERS[key] = scheduler
        scheduler.max_queued = max_queued
    scheduler.start()
    return scheduler


class BatchedLlamaChatModel(LocalChatModel):
    """A GGUF model run in this process, its calls decoded together with everyone else's (JSON schema via grammar)."""

    model_path: str  # a verified GGUF file (see ensure_gguf)
    n_threads: int = 2  # CPU threads for llama_decode
    priority: Literal["understand", "notes"] = "understand"  # understanding calls go first and wait only briefly
    slot_wait_s: float = 1.5  # understanding: the longest wait for a free slot before LLMBusy
    n_slots: int = 4  # sequences decoded together (shared by every model on the same file)
    max_queued: int = 32  # calls allowed to wait for a slot; more get LLMBusy at once
    seq_ctx: int = SEQ_CTX  # tokens per sequence: prompt + answer

    @property
    def _llm_type(self) -> str:
        """Name of this backend."""
        return "tastebud-llama-cpp-batched"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What identifies this model in traces and caches."""
        return {"model_path": self.model_path, "n_threads": self.n_threads, "n_slots": self.n_slots,
                "priority": self.priority}

    def scheduler(self) -> DecodeScheduler:
        """The shared decoding scheduler of this model file."""
        return shared_scheduler(self.model_path, self.n_threads, self.n_slots, self.seq_ctx, self.max_queued)

    def load(self) -> float:
        """Load the model now (instead of at the first call); the seconds that loading took."""
        return self.scheduler().wait_ready()

    def prefill(self, messages: Any) -> float:
        """Read a prompt into a pinned sequence, so later calls sharing its prefix copy it instead; seconds."""
        started = time.perf_counter()
        scheduler = self.scheduler()
        scheduler.wait_ready()
        tokens = scheduler.engine.prompt_tokens(to_role_dicts(as_messages(messages)))
        gen = scheduler.submit(GenerationRequest(tuple(tokens), max_tokens=0, timeout_s=_PREFILL_TIMEOUT_S,
                                                 priority=BACKGROUND, prefill_only=True))
        for _ in gen.pieces():
            pass
        return time.perf_counter() - started

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Stream the answer token by token; LLMBusy when no slot comes in time, LLMError at the time limit."""
        opts = self._options(kwargs)
        scheduler = self.scheduler()
        scheduler.wait_ready()
        tokens = scheduler.engine.prompt_tokens(to_role_dicts(messages))
        urgent = self.priority == "understand"
        schema = opts["json_schema"]
        request = GenerationRequest(
            tuple(tokens), max_tokens=opts["max_tokens"], timeout_s=opts["timeout_s"],
            priority=URGENT if urgent else BACKGROUND, slot_wait_s=self.slot_wait_s if urgent else None,
            schema=schema, temperature=0.0 if schema is not None else opts["temperature"], seed=self.seed,
            stop=tuple(stop or ()),
        )
        gen = scheduler.submit(request)
        pieces = gen.pieces()
        try:
            for text in pieces:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
        except LLMError as exc:
            exc.usage = {"prompt_eval_tokens": gen.stats.prompt_eval_tokens, "output_tokens": gen.stats.output_tokens,
                         **(getattr(exc, "usage", None) or {})}
            raise
        finally:
            pieces.close()  # a caller that stopped reading frees its slot (or its place in the queue)
        yield self._last_chunk(gen)

    def _last_chunk(self, gen: Generation) -> ChatGenerationChunk:
        """The empty closing chunk: why the answer ended, its timings and tokens."""
        s = gen.stats
        n_prompt = len(gen.request.tokens)
        r = lambda v: None if v is None else round(v, 3)  # noqa: E731
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata={
                    "finish_reason": s.finish_reason,
                    "model_name": Path(self.model_path).name,
                    "elapsed_s": r(s.elapsed_s),
                    "first_token_s": r(s.first_token_s if s.first_token_s is not None else s.elapsed_s),
                    "queued_s": r(s.queued_s),
                    "prompt_eval_tokens": s.prompt_eval_tokens,  # read for this call (the rest was cached)
                    "prompt_cached_tokens": s.cached_tokens,
                    "gen_tokens": s.output_tokens,
                },
                usage_metadata={"input_tokens": n_prompt, "output_tokens": s.output_tokens,
                                "total_tokens": n_prompt + s.output_tokens},
            )
        )
