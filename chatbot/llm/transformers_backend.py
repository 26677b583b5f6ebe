"""The transformers backend: the same GGUF run through transformers (dequantised to bfloat16), for machines where
llama.cpp cannot be built; 5-7x slower. JSON is asked for in words, then extracted from the text and validated."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from chatbot.llm.local import LocalChatModel
from chatbot.llm.protocol import timeout_error, to_role_dicts
from retrieval.errors import LLMError, ModelUnavailable


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


class TransformersChatModel(LocalChatModel):
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
        from transformers import TextIteratorStreamer

        opts = self._options(kwargs)
        loaded = _load_transformers(self.gguf_path, self.n_threads)
        inputs = loaded.tokenizer.apply_chat_template(
            _chat_asking_json(messages, opts["json_schema"]),
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        cancel = threading.Event()
        deadline = time.monotonic() + opts["timeout_s"]
        streamer = TextIteratorStreamer(
            loaded.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=opts["timeout_s"] + 5
        )
        gen_kwargs = _generation_kwargs(inputs, opts, streamer, _stopping_criteria(cancel, deadline),
                                        loaded.tokenizer.eos_token_id)
        failure: list[BaseException] = []
        with loaded.lock:
            worker = threading.Thread(target=_generate_in_worker, args=(loaded.model, gen_kwargs, streamer, failure),
                                      name="tastebud-transformers-generate", daemon=True)
            worker.start()
            try:
                n_out = yield from _relay(streamer, stop, deadline, opts["timeout_s"], run_manager)
            finally:
                cancel.set()
                worker.join(timeout=opts["timeout_s"] + 10)
        if failure:
            raise LLMError(f"the local language model failed: {failure[0]}") from failure[0]
        if time.monotonic() > deadline:
            raise timeout_error(opts["timeout_s"], n_out)


def _chat_asking_json(messages: list[BaseMessage], json_schema: dict[str, Any] | None) -> list[dict[str, str]]:
    """The messages as role dicts; with a schema, the system prompt also asks for JSON that fits it."""
    chat = to_role_dicts(messages)
    if json_schema is not None:
        instruction = _JSON_INSTRUCTION + json.dumps(json_schema, ensure_ascii=False)
        if chat and chat[0]["role"] == "system":
            chat[0] = {"role": "system", "content": chat[0]["content"] + "\n" + instruction}
        else:
            chat.insert(0, {"role": "system", "content": instruction})
    return chat


def _stopping_criteria(cancel: threading.Event, deadline: float) -> Any:
    """A transformers StoppingCriteriaList that stops when the caller left (cancel set) or the deadline passed."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Stop(StoppingCriteria):
        """Stop when the caller left or the time limit passed."""

        def __call__(self, input_ids, scores, **_: Any):  # -> (B,) bool
            """One flag per sequence in the batch."""
            flag = cancel.is_set() or time.monotonic() > deadline
            return torch.full((input_ids.shape[0],), flag, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_Stop()])


def _generation_kwargs(inputs: Any, opts: dict[str, Any], streamer: Any, stopping: Any, pad_token_id: Any) -> dict:
    """The keyword arguments of `model.generate`: sampled at the temperature, or greedy at 0."""
    gen_kwargs: dict[str, Any] = dict(
        **inputs,
        max_new_tokens=opts["max_tokens"],
        streamer=streamer,
        stopping_criteria=stopping,
        pad_token_id=pad_token_id,
    )
    if opts["temperature"] > 0:
        gen_kwargs.update(do_sample=True, temperature=opts["temperature"])
    else:
        gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return gen_kwargs


def _generate_in_worker(model: Any, gen_kwargs: dict[str, Any], streamer: Any, failure: list[BaseException]) -> None:
    """Generate in the worker thread, keeping any failure for the caller (and ending the stream)."""
    import torch

    try:
        with torch.inference_mode():
            model.generate(**gen_kwargs)
    except (RuntimeError, ValueError, IndexError) as exc:
        failure.append(exc)
        streamer.end()


def _relay(
    streamer: Any,
    stop: list[str] | None,
    deadline: float,
    timeout_s: float,
    run_manager: CallbackManagerForLLMRun | None,
) -> Generator[ChatGenerationChunk, None, int]:
    """The streamer's text as chunks until a stop string or the end; LLMError past the deadline; returns the count."""
    n_out = 0
    text_so_far = ""
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
            raise timeout_error(timeout_s, n_out)
    return n_out
