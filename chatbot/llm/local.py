"""What the in-process models (llama.cpp, transformers) share: call options, `_generate` from `_stream`, and
structured output."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, message_chunk_to_message
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from chatbot.llm.json_reply import parse_json_reply, validate_json
from chatbot.llm.protocol import text_of
from retrieval.errors import LLMError


class LocalChatModel(BaseChatModel):
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
                    return schema.model_validate(parse_json_reply(text_of(message.content)))
                except ValidationError as exc:
                    raise LLMError(f"the language model's JSON does not fit {schema.__name__}: {exc}") from exc

        elif isinstance(schema, dict):
            json_schema = schema

            def finish(message: BaseMessage) -> Any:
                """Parse and validate the reply against the JSON schema."""
                data = parse_json_reply(text_of(message.content))
                validate_json(data, json_schema)
                return data

        else:
            raise TypeError("schema must be a JSON schema dict or a pydantic model class")
        return self.bind(**{"json_schema": json_schema, "temperature": 0.0, **kwargs}) | RunnableLambda(finish)
