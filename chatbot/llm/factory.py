"""The factory: the chat model that the settings name (`TASTEBUD_LLM`), the notes model (`TASTEBUD_NOTES_LLM`),
and warming a model up before the first turn."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chatbot.llm import niced
from chatbot.llm.fake import FakeChatModel
from chatbot.llm.llamacpp import LlamaCppChatModel
from chatbot.llm.openai_compatible import make_openai_model
from chatbot.llm.transformers_backend import TransformersChatModel
from chatbot.llm.weights import ensure_gguf
from chatbot.llm.xllamacpp_backend import XLlamaCppChatModel
from retrieval.errors import TastebudError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from chatbot.config import Settings

# Valid values of `TASTEBUD_LLM`.
BACKENDS: tuple[str, ...] = ("embedded", "embedded-small", "transformers", "transformers-small", "openai", "fake")
# Valid values of `TASTEBUD_LLM_RUNTIME`: what runs the embedded models.
RUNTIMES: tuple[str, ...] = ("llama-cpp", "xllamacpp")
# TASTEBUD_NOTES_LLM=auto: the notes backend for a main backend, where measurement chose another one. None so far:
# on the bench turns the 0.5B's first drafts passed the note checks ~55% of the time in English (the 1.5B's ~88%),
# it copied the prompt's example into notes and wrote the same note for several films, so its retries ate the
# time its speed saved; the 1.5B writes the notes, in a llama.cpp context of its own.
NOTES_AUTO: dict[str, str] = {}


def make_chat_model(settings: Settings, instance: str = "shared") -> BaseChatModel:
    """The chat model that `settings.llm` names (embedded, embedded-small, transformers, openai or fake).

    `instance`: for the embedded models, which llama.cpp context serves it (see `llamacpp._load_llama`).
    """
    name = (settings.llm or "").strip().lower()
    if name in ("embedded", "embedded-small"):
        path = ensure_gguf(settings.shared_dir, "0.5b" if name == "embedded-small" else "1.5b")
        if embedded_runtime(settings) == "xllamacpp":  # one batched server for every instance
            return XLlamaCppChatModel(model_path=str(path), n_threads=settings.threads, slots=settings.llm_slots,
                                      timeout_s=settings.llm_timeout_s, instance=instance)
        return LlamaCppChatModel(model_path=str(path), n_threads=settings.threads, timeout_s=settings.llm_timeout_s,
                                 instance=instance)
    if name in ("transformers", "transformers-small"):
        path = ensure_gguf(settings.shared_dir, "0.5b" if name == "transformers-small" else "1.5b")
        return TransformersChatModel(gguf_path=str(path), n_threads=settings.threads, timeout_s=settings.llm_timeout_s)
    if name == "openai":
        return make_openai_model(settings)
    if name == "fake":
        return FakeChatModel()
    raise TastebudError(f"unknown LLM backend TASTEBUD_LLM={settings.llm!r}; valid names: {', '.join(BACKENDS)}")


def embedded_runtime(settings: Settings) -> str:
    """The runtime of the embedded models that `settings.llm_runtime` names (llama-cpp or xllamacpp)."""
    runtime = (settings.llm_runtime or "").strip().lower()
    if runtime not in RUNTIMES:
        raise TastebudError(
            f"unknown LLM runtime TASTEBUD_LLM_RUNTIME={settings.llm_runtime!r}; valid: {', '.join(RUNTIMES)}"
        )
    return runtime


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


def make_notes_model(settings: Settings, main: BaseChatModel | None = None, language: str = "en",
                     purpose: str = "notes") -> BaseChatModel:
    """The chat model that writes the notes; on llama-cpp-python an embedded one gets a context of its own per note
    language and `purpose` (the notes prompt's fixed prefix is in the note language: one context re-read it, ~4 s,
    at every switch; xllamacpp serves every instance from one server)."""
    name = notes_backend(settings)
    if name in ("embedded", "embedded-small"):
        instance = purpose if language == "en" else f"{purpose}-{language}"
        model = make_chat_model(settings.model_copy(update={"llm": name}), instance=instance)
        if isinstance(model, LlamaCppChatModel) and purpose == "notes" and settings.notes_parallel > 1:
            model.parallel = settings.notes_parallel  # a prompt per note, all written at once
            model.prompt_run = settings.notes_prompt_run
        return model
    if name == (settings.llm or "").strip().lower() and main is not None:
        return main
    return make_chat_model(settings.model_copy(update={"llm": name}))


def warm_up(model: Any, prompts: Sequence[Any]) -> float:
    """Load the model and pre-evaluate stable prompt prefixes (system prompts), where the backend can; seconds."""
    started = time.perf_counter()
    load = getattr(model, "load", None)
    if callable(load):
        niced.run(load)  # the runtime's own threads (xllamacpp's server) start at the LLM's lower CPU priority
    prefill = getattr(model, "prefill", None)
    if callable(prefill):
        for messages in prompts:
            niced.run(lambda: prefill(messages))  # noqa: B023 (run at once)
    return time.perf_counter() - started
