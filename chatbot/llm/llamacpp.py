"""The llama.cpp backend: a GGUF model run in this process as a langchain chat model, streamed token by token,
its JSON answers constrained to the schema by a grammar (sampled best token first, see `GreedyGrammarSampler`).

A loaded model is kept once per process, model file and context `instance`; generation on it is serialised by a
lock, and llama.cpp reuses the KV cache of the prompt prefix it shares with the previous call, so keep system
prompts stable and put what changes at the end.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from chatbot.llm.grammar_sampler import GreedyGrammarSampler
from chatbot.llm.llamacpp_batch import PROMPT_RUN
from chatbot.llm.local import LocalChatModel
from chatbot.llm.protocol import as_messages, timeout_error, to_role_dicts
from retrieval.errors import LLMError, ModelUnavailable

N_CTX = 4096  # llama.cpp context window (tokens): prompt + answer


@dataclass
class _LoadedLlama:
    """One llama.cpp model in memory, with the lock that serialises generation on it."""

    llama: Any  # llama_cpp.Llama
    lock: threading.Lock
    load_s: float  # seconds the load took
    prompt_deadline: Any = None  # _PromptDeadline of this context
    batched: Any = None  # llamacpp_batch.BatchedContext over the same weights, made at the first `stream_many`


class _PromptDeadline:
    """Stops llama.cpp's prompt evaluation at a deadline (its abort callback): a long prompt on busy cores cannot
    outlast a call's time limit, as tokens, where the limit is otherwise checked, only come after it. Armed only
    until the first token, because llama.cpp calls it for every node of the graph."""

    def __init__(self, llama: Any) -> None:
        """An unarmed deadline for this Llama's context."""
        import llama_cpp

        self._lib = llama_cpp
        self._ctx = llama.ctx
        self.at = float("inf")
        self.armed = False
        self._callback = llama_cpp.ggml_abort_callback(lambda _data: time.monotonic() > self.at)

    def arm(self, at: float) -> None:
        """Abort evaluation once time.monotonic() passes `at`."""
        self.at = at
        self._lib.llama_set_abort_callback(self._ctx, self._callback, None)
        self.armed = True

    def disarm(self) -> None:
        """No deadline (and no callback per graph node)."""
        if self.armed:
            self._lib.llama_set_abort_callback(self._ctx, self._lib.ggml_abort_callback(), None)
            self.armed = False
        self.at = float("inf")


_PREFIX_CACHE_BYTES = 256 << 20  # RAM for saved prompt states (about 3 MB each for 0.5B, ~8 MB for 1.5B)
_LLAMAS: dict[tuple[str, int, int, str], _LoadedLlama] = {}  # one per (model file, n_ctx, threads, instance)
_LLAMAS_LOCK = threading.Lock()


def _load_llama(model_path: str, n_ctx: int, n_threads: int, instance: str = "shared") -> _LoadedLlama:
    """The llama.cpp model for this file, loaded on first use and then shared by every caller in the process.

    Each `instance` name gets its own context (the weights are memory-mapped, so shared): one that serves a
    single prompt family (the notes) keeps that prompt's prefix in its own KV cache and needs no saved states;
    the "shared" one alternates prompts and keeps recent prompt states in a RAM cache.
    """
    key = (os.path.realpath(model_path), n_ctx, n_threads, instance)
    with _LLAMAS_LOCK:
        if key in _LLAMAS:
            return _LLAMAS[key]
        # llama.cpp's OpenMP threads wait at every barrier. Unbounded spinning made generation 10x slower on
        # shared cores (0.8 vs 8 tok/s, 0.5B, load 12 on 2 cores); fully passive waiting (OMP_WAIT_POLICY=PASSIVE)
        # cost 30 % on idle cores (1.5B: 20 vs 28 generated tok/s). A short bounded spin (GOMP_SPINCOUNT=20000)
        # gets the idle speed and stays close under load (7.0 vs 8.6 tok/s for passive with two busy processes
        # on the two cores). It is read when the OpenMP runtime loads: set before the first llama_cpp import.
        from chatbot.config import OMP_SPINCOUNT

        os.environ.setdefault("GOMP_SPINCOUNT", OMP_SPINCOUNT)
        try:
            Llama = _llama_class()
        except ImportError as exc:
            raise ModelUnavailable(
                "llama-cpp-python is not installed (pip install llama-cpp-python==0.3.36; it compiles for ~10 "
                "minutes). Or use another backend: TASTEBUD_LLM=transformers or TASTEBUD_LLM=openai"
            ) from exc
        if not Path(model_path).is_file():
            raise ModelUnavailable(f"model file {model_path} is missing; run `tastebud setup` to assemble it")
        started = time.perf_counter()
        try:
            llama = Llama(
                model_path=model_path,
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=0,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelUnavailable(f"llama.cpp could not load {model_path}: {exc}") from exc
        # Keep the model state of recent prompts in RAM (a few MB each): the agent alternates prompts (understand,
        # then notes), and a plain llama.cpp context only reuses the prefix of the very last one.
        if instance == "shared":  # saving a state copies ~300 MB of logits: only worth it where prompts alternate
            llama.set_cache(_lean_ram_cache(_PREFIX_CACHE_BYTES))
        loaded = _LoadedLlama(llama=llama, lock=threading.Lock(), load_s=time.perf_counter() - started,
                              prompt_deadline=_PromptDeadline(llama))
        _LLAMAS[key] = loaded
        return loaded


def _lean_ram_cache(capacity_bytes: int) -> Any:
    """llama-cpp-python's RAM prompt cache, keeping one row of each saved state's logits instead of up to 512.

    Without `logits_all` llama-cpp-python never writes those rows (sampling reads the context's own logits), yet
    each saved state copied them: ~300 MB a state that the cache's size did not count, 15+ GB over a test run.
    One row still broadcasts into the rows `load_state` fills."""
    from llama_cpp import LlamaRAMCache

    class _LeanRAMCache(LlamaRAMCache):
        """A RAM cache whose states keep one row of unused logits."""

        def __setitem__(self, key: Any, value: Any) -> None:
            """Save `value` with its logits cut to one row."""
            if getattr(value, "scores", None) is not None and len(value.scores) > 1:
                value.scores = value.scores[:1].copy()
            super().__setitem__(key, value)

    return _LeanRAMCache(capacity_bytes=capacity_bytes)


def release_all() -> int:
    """Free every loaded llama.cpp context (each waits for its call in flight); the next call loads again; how many."""
    with _LLAMAS_LOCK:
        loaded = list(_LLAMAS.values())
        _LLAMAS.clear()
    for each in loaded:
        with each.lock:
            if each.batched is not None:
                with each.batched.lock:
                    each.batched.close()
            each.llama.close()
    return len(loaded)


def _llama_class() -> type:
    """llama_cpp.Llama with fast greedy grammar sampling (see GreedyGrammarSampler); other sampling unchanged."""
    from llama_cpp import Llama

    class _Llama(Llama):
        """Llama whose greedy, penalty-free grammar sampling checks the best token first."""

        def _init_sampler(self, **kwargs: Any) -> Any:
            """The fast sampler for greedy JSON answers; llama-cpp-python's own chain for everything else."""
            plain = (
                kwargs.get("grammar") is not None
                and kwargs.get("temp") == 0.0
                and kwargs.get("repeat_penalty", 1.0) == 1.0
                and not kwargs.get("frequency_penalty")
                and not kwargs.get("presence_penalty")
                and kwargs.get("logits_processor") is None
                and not kwargs.get("mirostat_mode")
            )
            if plain:
                return GreedyGrammarSampler(self._model.vocab, kwargs["grammar"], self._n_vocab)
            return super()._init_sampler(**kwargs)

    return _Llama


def _with_usage(exc: LLMError, loaded: _LoadedLlama, perf_before: dict[str, float], n_out: int) -> LLMError:
    """The error with `usage`: the prompt tokens evaluated and tokens written before the call was stopped."""
    work = {k: v - perf_before[k] for k, v in _perf(loaded.llama).items()}
    exc.usage = {"prompt_eval_tokens": int(work["n_p_eval"]), "output_tokens": n_out,
                 "prompt_eval_s": round(work["t_p_eval_ms"] / 1000, 3)}
    return exc


def _perf(llama: Any) -> dict[str, float]:
    """llama.cpp's running counters of prompt and generation work on this model (tokens, milliseconds)."""
    import llama_cpp

    data = llama_cpp.llama_perf_context(llama.ctx)
    return {"n_p_eval": data.n_p_eval, "t_p_eval_ms": data.t_p_eval_ms, "n_eval": data.n_eval,
            "t_eval_ms": data.t_eval_ms}


class LlamaCppChatModel(LocalChatModel):
    """A GGUF model run in this process by llama.cpp, as a langchain chat model (JSON schema via grammar)."""

    model_path: str  # a verified GGUF file (see ensure_gguf)
    n_threads: int = 2  # CPU threads for prompt and generation
    n_ctx: int = N_CTX  # context window in tokens
    instance: str = "shared"  # which llama.cpp context: "shared", or a name of its own (e.g. "notes")
    parallel: int = 0  # answers `stream_many` writes at once (0: none; see llamacpp_batch)
    prompt_run: int = PROMPT_RUN  # prompt tokens read beside the answers being written, per step

    @property
    def _llm_type(self) -> str:
        """Name of this backend."""
        return "tastebud-llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What identifies this model in traces and caches."""
        return {"model_path": self.model_path, "n_threads": self.n_threads, "n_ctx": self.n_ctx, "instance": self.instance}

    def load(self) -> float:
        """Load the model now (instead of at the first call); returns the seconds that loading took."""
        return _load_llama(self.model_path, self.n_ctx, self.n_threads, self.instance).load_s

    def prefill(self, messages: Any) -> float:
        """Evaluate a prompt once and keep its state, so later calls sharing its prefix skip that work; seconds."""
        loaded = _load_llama(self.model_path, self.n_ctx, self.n_threads, self.instance)
        chat = to_role_dicts(as_messages(messages))
        started = time.perf_counter()
        if self.parallel:  # the batched context writes this model's answers: its prefix is the one to read
            batched = self._batched(loaded)
            batched.prefill(chat)
            batched.measure(chat)  # how fast it writes here, before the first turn asks for notes
            return time.perf_counter() - started
        with loaded.lock:
            try:
                loaded.llama.create_chat_completion(messages=chat, max_tokens=1, temperature=0.0, seed=self.seed)
            except (ValueError, RuntimeError) as exc:
                raise LLMError(f"the local language model failed: {exc}") from exc
        return time.perf_counter() - started


    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Stream the answer token by token; stops with LLMError when the time limit passes."""
        opts = self._options(kwargs)
        loaded = _load_llama(self.model_path, self.n_ctx, self.n_threads, self.instance)
        request = self._request(messages, stop, opts)
        with loaded.lock:
            perf_before = _perf(loaded.llama)
            started = time.monotonic()
            progress = _Progress(started=started, deadline=started + opts["timeout_s"], perf_before=perf_before)
            yield from _generate(loaded, request, opts["timeout_s"], progress, run_manager)
            n_context = int(loaded.llama.n_tokens)
            perf_after = _perf(loaded.llama)
        yield self._last_chunk(progress, perf_after, n_context)

    def stream_many(
        self,
        prompts: list[Any],
        schema: dict[str, Any] | None,
        max_tokens: int,
        timeout_s: float,
        usage: dict[str, Any] | None = None,
        avoid: Sequence[Sequence[str]] | None = None,
        distinct: Sequence[str] | None = None,
        blank: Sequence[Sequence[str]] = (),
        more: list[tuple[Any, Sequence[str], Sequence[str]]] | None = None,
    ) -> Iterator[tuple[int, str]]:
        """Answer several prompts at once by batched decoding (`parallel` at a time), each greedy and fitting
        `schema` and never starting a word of its `avoid` list, none continuing its words as another did where
        `distinct` is given (see `BatchedContext.generate`): (prompt index, text piece) as they come; `more`: a
        list the caller adds (prompt, avoid, blank) to while reading, written beside the rest as answers end, their
        indexes going on from the last prompt's; LLMError at the time limit or on failure."""
        loaded = _load_llama(self.model_path, self.n_ctx, self.n_threads, self.instance)
        batched = self._batched(loaded)
        chats = [to_role_dicts(as_messages(p)) for p in prompts]

        inbox = more if more is not None else []

        def added() -> list[tuple[Any, dict[str, Any] | None, Sequence[str], Sequence[str]]]:
            taken = [(to_role_dicts(as_messages(p)), schema, words, own) for p, words, own in inbox]
            del inbox[:len(taken)]
            return taken

        try:
            yield from batched.generate(chats, [schema] * len(chats), max_tokens, timeout_s, usage, avoid, distinct,
                                        blank, added if more is not None else None)
        except (ValueError, RuntimeError) as exc:
            raise LLMError(f"the local language model failed: {exc}") from exc

    def round_seconds(self, prompts: list[Any], max_tokens: int) -> float | None:
        """The seconds `stream_many` should take for these prompts on this machine; None when not known yet."""
        if not self.parallel:
            return None
        batched = self._batched(_load_llama(self.model_path, self.n_ctx, self.n_threads, self.instance))
        return batched.round_seconds([to_role_dicts(as_messages(p)) for p in prompts], max_tokens)

    def _batched(self, loaded: _LoadedLlama) -> Any:
        """The batched context of this model's instance, made once."""
        from chatbot.llm.llamacpp_batch import BatchedContext

        with loaded.lock:
            if loaded.batched is None:
                loaded.batched = BatchedContext(loaded.llama, max(self.parallel, 1), self.n_ctx, self.n_threads,
                                                self.prompt_run)
            return loaded.batched

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, opts: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of llama.cpp's streamed chat completion (a JSON schema becomes a grammar there)."""
        request: dict[str, Any] = {
            "messages": to_role_dicts(messages),
            "stream": True,
            "temperature": opts["temperature"],
            "max_tokens": opts["max_tokens"],
            "stop": list(stop or []),
            "seed": self.seed,
        }
        if opts["json_schema"] is not None:
            request["response_format"] = {"type": "json_object", "schema": opts["json_schema"]}
        return request

    def _last_chunk(self, progress: _Progress, perf_after: dict[str, float], n_context: int) -> ChatGenerationChunk:
        """The empty closing chunk: why the answer ended, its timings, tokens and llama.cpp's real work."""
        elapsed = time.monotonic() - progress.started
        work = {k: perf_after[k] - progress.perf_before[k] for k in perf_after}
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata={
                    "finish_reason": progress.finish_reason,
                    "model_name": Path(self.model_path).name,
                    "elapsed_s": round(elapsed, 3),
                    "first_token_s": round(progress.first_token_s or elapsed, 3),
                    # what llama.cpp really did: prompt tokens evaluated (the rest came from the prefix cache)
                    "prompt_eval_tokens": int(work["n_p_eval"]),
                    "prompt_eval_s": round(work["t_p_eval_ms"] / 1000, 3),
                    "gen_tokens": int(work["n_eval"]),
                    "gen_s": round(work["t_eval_ms"] / 1000, 3),
                },
                usage_metadata={
                    "input_tokens": max(n_context - progress.n_out, 0),
                    "output_tokens": progress.n_out,
                    "total_tokens": max(n_context, progress.n_out),
                },
            )
        )


@dataclass
class _Progress:
    """Where one streamed call stands: its start and deadline, the work counters before it, what it wrote."""

    started: float  # time.monotonic() when generation began (the lock held)
    deadline: float  # time.monotonic() after which the call stops
    perf_before: dict[str, float]  # _perf() before the call
    n_out: int = 0  # text pieces (tokens) written so far
    first_token_s: float | None = None  # seconds to the first piece
    finish_reason: str | None = None  # llama.cpp's reason for the end ("stop", "length")


def _generate(
    loaded: _LoadedLlama,
    request: dict[str, Any],
    timeout_s: float,
    progress: _Progress,
    run_manager: CallbackManagerForLLMRun | None,
) -> Iterator[ChatGenerationChunk]:
    """The answer's text chunks from llama.cpp (the lock held); LLMError with `usage` at the time limit or a failure.

    The prompt deadline is armed until the first piece comes, so a prompt too long to evaluate in time stops too.
    """
    pieces = None
    loaded.prompt_deadline.arm(progress.deadline)
    try:
        pieces = loaded.llama.create_chat_completion(**request)
        for piece in pieces:
            loaded.prompt_deadline.disarm()
            choice = piece["choices"][0]
            text = choice.get("delta", {}).get("content") or ""
            progress.finish_reason = choice.get("finish_reason") or progress.finish_reason
            if text:
                progress.n_out += 1
                if progress.first_token_s is None:
                    progress.first_token_s = time.monotonic() - progress.started
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
            if time.monotonic() > progress.deadline:
                raise timeout_error(timeout_s, progress.n_out)
    except (ValueError, RuntimeError) as exc:  # llama.cpp: prompt longer than the context, decode failure
        if time.monotonic() > progress.deadline:  # the prompt deadline aborted the evaluation
            timed_out = timeout_error(timeout_s, progress.n_out)
            raise _with_usage(timed_out, loaded, progress.perf_before, progress.n_out) from exc
        raise LLMError(f"the local language model failed: {exc}") from exc
    except LLMError as exc:  # the time limit: say what was done before it (stream_text passes it on)
        raise _with_usage(exc, loaded, progress.perf_before, progress.n_out)
    finally:
        loaded.prompt_deadline.disarm()
        if pieces is not None and hasattr(pieces, "close"):
            pieces.close()
