"""The OpenAI-compatible backend: any server that speaks the OpenAI chat API (vLLM, llama.cpp server, Ollama),
through langchain-openai (a lazy import); JSON answers are asked for with `response_format` json_schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retrieval.errors import ModelUnavailable, TastebudError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from chatbot.config import Settings


def make_openai_model(settings: Settings) -> BaseChatModel:
    """langchain-openai's chat model for the server that the settings name (TASTEBUD_OPENAI_*)."""
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


def is_openai_model(model: Any) -> bool:
    """True for langchain-openai's chat model (checked by type name, so langchain-openai stays a lazy import)."""
    return any(cls.__name__ == "BaseChatOpenAI" for cls in type(model).__mro__)


def openai_call_options(timeout_s: float | None, schema: dict | None, max_tokens: int | None) -> dict[str, Any]:
    """The per-call keyword options of langchain-openai: a time limit, a JSON schema answer, the longest answer."""
    opts: dict[str, Any] = {}
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
