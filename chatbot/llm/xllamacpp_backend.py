"""The batched llama.cpp backend (`TASTEBUD_LLM_RUNTIME=xllamacpp`): the same GGUF run in this process by
xllamacpp, llama.cpp's own server loop, which decodes up to `slots` sequences in one batch (continuous batching),
so several people's calls make progress at once instead of queueing behind one lock.

One server is kept per process and configuration (`shared_server`); its calls are JSON dicts in and out that
release the GIL, so every thread may call it. A call streams through a callback, which runs on a worker thread
here and hands the chunks to the caller through a queue; the caller's deadline holds even while the prompt is
still being evaluated, and a truthy return from the callback cancels the generation in the server.
xllamacpp always also opens llama-server's OpenAI-compatible HTTP API: on a free port of 127.0.0.1 with a random
API key for in-process use, or on a fixed port for `tastebud llm-server` (`open_server`).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from chatbot.llm.llamacpp import N_CTX
from chatbot.llm.local import LocalChatModel
from chatbot.llm.protocol import as_messages, timeout_error, to_role_dicts
from retrieval.errors import LLMError, ModelUnavailable

PACKAGE = "xllamacpp==2026.10.11549"  # the exact pin: a thin wrapper of llama.cpp's server internals
_PROMPT_CACHE_MIB = 256  # RAM for saved prompt states, restored into whichever slot serves a similar prompt


@dataclass(frozen=True)
class ServerConfig:
    """How one xllamacpp server is built (also what identifies it in the process-wide cache)."""

    model_path: str  # a verified GGUF file (see ensure_gguf)
    slots: int = 4  # sequences decoded together in one batch (llama.cpp's n_parallel)
    n_ctx_per_slot: int = N_CTX  # each slot's context window in tokens: prompt + answer
    n_threads: int = 2  # CPU threads for prompt and generation
    n_batch: int = 2048  # llama.cpp's logical batch: the most tokens one decode call is handed
    n_ubatch: int = 512  # its physical batch: tokens computed together
    host: str = "127.0.0.1"  # where the HTTP API listens
    port: int = 0  # 0 = a free port (in-process use); a fixed one for `tastebud llm-server`
    api_key: str = ""  # the key HTTP clients must send; "" = a random one (only this process calls)
    http_threads: int = 1  # threads of the HTTP API (more for a server that clients call)
    alias: str = ""  # the model name the HTTP API reports and answers to; "" = the file's stem


@dataclass
class RunningServer:
    """One loaded xllamacpp server: the handle, how it was built, and its HTTP API's address and key."""

    server: Any  # xllamacpp.Server
    config: ServerConfig
    load_s: float  # seconds the load took
    base_url: str  # e.g. http://127.0.0.1:39785 (the OpenAI API is under /v1)
    api_key: str
    model_name: str


_SERVERS: dict[ServerConfig, RunningServer] = {}
_SERVERS_LOCK = threading.Lock()


def _import_xllamacpp() -> Any:
    """The xllamacpp module, or ModelUnavailable naming the package (and Debian's libgomp1, which it links)."""
    from chatbot.config import OMP_SPINCOUNT

    os.environ.setdefault("GOMP_SPINCOUNT", OMP_SPINCOUNT)  # read when the OpenMP runtime loads (see llamacpp)
    try:
        import xllamacpp
    except ImportError as exc:  # also a missing libgomp.so.1 ("cannot open shared object file")
        raise ModelUnavailable(
            f"the batched LLM runtime needs {PACKAGE} (pip install {PACKAGE}; a prebuilt CPU wheel that links "
            f"Debian's libgomp1: apt-get install libgomp1), or TASTEBUD_LLM_RUNTIME=llama-cpp: {exc}"
        ) from exc
    return xllamacpp


def server_params(xlc: Any, config: ServerConfig, api_key: str) -> Any:
    """xllamacpp's CommonParams for this configuration: bounded context, threads and RAM, quiet, no web UI."""
    params = xlc.CommonParams()
    params.model.path = config.model_path
    params.n_parallel = config.slots
    params.n_ctx = config.slots * config.n_ctx_per_slot  # the total KV size, split evenly over the slots
    params.n_batch = config.n_batch
    params.n_ubatch = config.n_ubatch
    params.cont_batching = True
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.n_threads = config.n_threads
        cpu.poll = 0  # no busy-waiting between steps: the cores are shared with the rest of the app
    params.n_threads_http = config.http_threads
    params.hostnames = [config.host]
    params.port = config.port
    params.api_keys = [api_key]
    params.ui = False
    params.cache_ram_mib = _PROMPT_CACHE_MIB
    params.verbosity = 0
    params.fit_params = False  # the sizes above are meant as given
    params.warmup = False
    params.model_alias = [config.alias or Path(config.model_path).stem]
    return params


def open_server(config: ServerConfig) -> RunningServer:
    """Load the model and start a server of its own (not shared); it stops when the handle is dropped."""
    xlc = _import_xllamacpp()
    if not Path(config.model_path).is_file():
        raise ModelUnavailable(f"model file {config.model_path} is missing; run `tastebud setup` to assemble it")
    api_key = config.api_key or secrets.token_urlsafe(24)
    started = time.perf_counter()
    try:
        server = xlc.Server(server_params(xlc, config, api_key))
    except (RuntimeError, ValueError) as exc:
        where = f"{config.host}:{config.port}" if config.port else config.host
        raise ModelUnavailable(f"xllamacpp could not load {config.model_path} or listen on {where}: {exc}") from exc
    return RunningServer(server=server, config=config, load_s=time.perf_counter() - started,
                         base_url=server.listening_address, api_key=api_key,
                         model_name=config.alias or Path(config.model_path).stem)


def shared_server(config: ServerConfig) -> RunningServer:
    """The server for this configuration, loaded on first use and then shared by every caller in the process."""
    with _SERVERS_LOCK:
        if config not in _SERVERS:
            if not _SERVERS:
                atexit.register(stop_shared_servers)
            _SERVERS[config] = open_server(config)
        return _SERVERS[config]


def stop_shared_servers() -> None:
    """Stop every shared server while the interpreter is still whole (its threads crashed at a later teardown)."""
    with _SERVERS_LOCK:
        running = list(_SERVERS.values())
        _SERVERS.clear()
    for handle in running:
        del handle.server  # xllamacpp stops the loop and joins its thread when the Server is dropped
    running.clear()


def health(base_url: str, timeout_s: float = 2.0) -> bool:
    """True when the HTTP API at `base_url` answers /health with status ok (it needs no key)."""
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=timeout_s) as response:  # noqa: S310 (127.0.0.1)
            return json.loads(response.read()).get("status") == "ok"
    except (OSError, ValueError):
        return False


def chat_request(messages: list[BaseMessage], stop: list[str] | None, opts: dict[str, Any], seed: int):
    """The OpenAI-style request dict of one streamed call (a JSON schema becomes llama.cpp's constrained output)."""
    request: dict[str, Any] = {
        "messages": to_role_dicts(messages),
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": opts["temperature"],
        "max_tokens": opts["max_tokens"],
        "seed": seed,
        "cache_prompt": True,
        # llama.cpp's own limit on generation time (it stops at a line end after it); the caller's deadline is
        # enforced here in any case (StreamedCall.pieces)
        "t_max_predict_ms": int(opts["timeout_s"] * 1000),
    }
    if stop:
        request["stop"] = list(stop)
    if opts["json_schema"] is not None:
        request["response_format"] = {"type": "json_schema",
                                      "json_schema": {"name": "answer", "schema": opts["json_schema"], "strict": True}}
    return request


def server_error(error: Any) -> LLMError:
    """The LLMError for an error the server answered ({"error": {"message", "type", ...}} or a plain string)."""
    if not isinstance(error, dict):
        return LLMError(f"the local language model (xllamacpp) failed: {error}")
    if error.get("type") == "exceed_context_size_error":
        return LLMError(
            f"the prompt is too long for the local language model ({error.get('n_prompt_tokens')} tokens, "
            f"{error.get('n_ctx')} per call); try a shorter message"
        )
    return LLMError(f"the local language model (xllamacpp) refused the call: {error.get('message') or error}")


_END = object()  # put on a call's queue when the server returns


@dataclass
class StreamedCall:
    """One streamed call on a worker thread: the server's chunks arrive on `chunks`; `cancel` stops it there."""

    run: Callable[[dict[str, Any], Callable[[dict], bool]], Any]  # server.handle_chat_completions
    request: dict[str, Any]
    chunks: queue.Queue = field(default_factory=queue.Queue)  # chunk dicts, then an exception or _END
    cancel: threading.Event = field(default_factory=threading.Event)

    def start(self) -> StreamedCall:
        """Send the request on a daemon thread (the server call blocks, without the GIL, until the answer ends)."""
        threading.Thread(target=self._work, name="xllamacpp-call", daemon=True).start()
        return self

    def _work(self) -> None:
        """Run the call; every chunk goes on the queue, then how it ended."""
        def on_chunk(chunk: dict) -> bool:
            """Queue one chunk; True (stop the generation) once the caller has cancelled."""
            if not self.cancel.is_set():
                self.chunks.put(chunk)
            return self.cancel.is_set()

        try:
            self.run(self.request, on_chunk)
        except (RuntimeError, ValueError) as exc:  # a bad request (schema, messages) or a failure in llama.cpp
            self.chunks.put(LLMError(f"the local language model (xllamacpp) failed: {exc}"))
        finally:
            self.chunks.put(_END)

    def pieces(self, deadline: float, timeout_s: float) -> Iterator[dict[str, Any]]:
        """The chunk dicts as they come; LLMError on a server error or at the deadline (and the call cancelled)."""
        n_text = 0
        try:
            while True:
                try:
                    item = self.chunks.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    raise timeout_error(timeout_s, n_text) from None
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                if "error" in item:
                    raise server_error(item["error"])
                n_text += any((c.get("delta") or {}).get("content") for c in item.get("choices") or [])
                yield item
        finally:
            self.cancel.set()  # a no-op after the end; otherwise the generation stops at its next token


@dataclass
class CallProgress:
    """Where one streamed call stands: its start, what it wrote, and what the server reported at the end."""

    started: float  # time.monotonic() when the call was sent
    n_out: int = 0  # text pieces (tokens) written so far
    first_token_s: float | None = None  # seconds to the first piece
    finish_reason: str | None = None  # the server's reason for the end ("stop", "length")
    usage: dict[str, Any] = field(default_factory=dict)  # OpenAI usage of the last chunk
    timings: dict[str, Any] = field(default_factory=dict)  # llama.cpp's timings of the last chunk


class XLlamaCppChatModel(LocalChatModel):
    """A GGUF model run in this process by xllamacpp, decoding several calls in one batch, as a langchain chat
    model (per-call options as in `LocalChatModel`: json_schema, timeout_s, max_tokens, temperature)."""

    model_path: str  # a verified GGUF file (see ensure_gguf)
    n_threads: int = 2  # CPU threads for prompt and generation
    slots: int = 4  # calls decoded together
    n_ctx: int = N_CTX  # each slot's context window in tokens
    n_batch: int = 2048  # llama.cpp's logical batch
    n_ubatch: int = 512  # llama.cpp's physical batch
    instance: str = "shared"  # accepted for the factory's sake: every call shares the one batched server

    @property
    def _llm_type(self) -> str:
        """Name of this backend."""
        return "tastebud-xllamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What identifies this model in traces and caches."""
        return {"model_path": self.model_path, "n_threads": self.n_threads, "slots": self.slots, "n_ctx": self.n_ctx}

    def server_config(self) -> ServerConfig:
        """The configuration of the shared server this model calls."""
        return ServerConfig(model_path=os.path.realpath(self.model_path), slots=self.slots, n_ctx_per_slot=self.n_ctx,
                            n_threads=self.n_threads, n_batch=self.n_batch, n_ubatch=self.n_ubatch)

    def load(self) -> float:
        """Load the model now (instead of at the first call); returns the seconds that loading took."""
        return shared_server(self.server_config()).load_s

    def prefill(self, messages: Any) -> float:
        """Evaluate a prompt once so that later calls sharing its prefix reuse it (llama.cpp's prompt cache)."""
        started = time.perf_counter()
        for _ in self._stream(as_messages(messages), max_tokens=1, temperature=0.0):
            pass
        return time.perf_counter() - started

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Stream the answer token by token; LLMError (with `usage`) when the time limit passes or the call fails."""
        opts = self._options(kwargs)
        running = shared_server(self.server_config())
        request = chat_request(messages, stop, opts, self.seed)
        progress = CallProgress(started=time.monotonic())
        call = StreamedCall(run=running.server.handle_chat_completions, request=request).start()
        try:
            for piece in call.pieces(progress.started + opts["timeout_s"], opts["timeout_s"]):
                text = _read_chunk(piece, progress)
                if text:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
        except LLMError as exc:  # say what was done before it stopped (stream_text passes it on)
            exc.usage = {"output_tokens": progress.n_out}
            raise
        finally:
            call.cancel.set()  # the caller stopped reading, failed or finished: free the slot at the next token
        if progress.finish_reason is None:
            raise LLMError("the local language model (xllamacpp) ended the answer without a finish reason")
        yield last_chunk(progress, running.model_name)


def _read_chunk(piece: dict[str, Any], progress: CallProgress) -> str:
    """The text of one streamed chunk; its finish reason, usage and timings noted in `progress`."""
    text = ""
    for choice in piece.get("choices") or []:
        text += (choice.get("delta") or {}).get("content") or ""
        progress.finish_reason = choice.get("finish_reason") or progress.finish_reason
    progress.usage = piece.get("usage") or progress.usage
    progress.timings = piece.get("timings") or progress.timings
    if text:
        progress.n_out += 1
        if progress.first_token_s is None:
            progress.first_token_s = time.monotonic() - progress.started
    return text


def last_chunk(progress: CallProgress, model_name: str) -> ChatGenerationChunk:
    """The empty closing chunk: why the answer ended, its timings, tokens and llama.cpp's own work (the metadata
    shape of the llama-cpp-python backend)."""
    elapsed = time.monotonic() - progress.started
    usage, timings = progress.usage, progress.timings
    n_in = int(usage.get("prompt_tokens", 0))
    n_out = int(usage.get("completion_tokens", progress.n_out))
    return ChatGenerationChunk(
        message=AIMessageChunk(
            content="",
            response_metadata={
                "finish_reason": progress.finish_reason,
                "model_name": model_name,
                "elapsed_s": round(elapsed, 3),
                "first_token_s": round(progress.first_token_s or elapsed, 3),
                # what llama.cpp really did: prompt tokens evaluated (the rest came from the prompt cache)
                "prompt_eval_tokens": int(timings.get("prompt_n", n_in)),
                "prompt_eval_s": round(float(timings.get("prompt_ms", 0.0)) / 1000, 3),
                "gen_tokens": int(timings.get("predicted_n", n_out)),
                "gen_s": round(float(timings.get("predicted_ms", 0.0)) / 1000, 3),
            },
            usage_metadata={"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out},
        )
    )
