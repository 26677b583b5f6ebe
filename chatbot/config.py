"""Settings: one typed object (env prefix TASTEBUD_), built once at the entry point and passed down."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


OMP_SPINCOUNT = "20000"  # libgomp's spin before sleeping at a barrier: short, bounded


def set_offline_environment() -> None:
    """Keep every library off the network: no hub downloads, no telemetry."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # OpenMP threads spin briefly, then sleep, while they wait (see chatbot.llm.models._load_llama for the figures)
    os.environ.setdefault("GOMP_SPINCOUNT", OMP_SPINCOUNT)


class Settings(BaseSettings):
    """Everything configurable, with its default; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="TASTEBUD_", extra="ignore")

    data_dir: Path = Field(Path("var"), description="where the catalog, index, model and profiles live")
    catalog: str = Field("films", pattern=r"^[a-z][a-z0-9_-]{0,39}$",
                         description="which catalog to serve: films (the demo, in the data dir itself) | recipes (the "
                         "Wikibooks Cookbook demo) | any name of your own (`tastebud data import` fills it); every "
                         "catalog but films lives in <data dir>/<name> with its own index, model and profiles")
    chroma_url: str | None = Field(None, description="a Chroma server (http://host:port); unset = embedded store")
    threads: int = Field(2, description="CPU threads for torch, the embedder and llama.cpp")

    # profiles, sessions, turns and feedback (chatbot/storage): SQLite in the data dir unless a database URL is set
    database_url: SecretStr | None = Field(None, description="postgresql://user:password@host:port/db keeps profiles, "
                                           "sessions, turns and feedback in PostgreSQL, shared by several app workers; "
                                           "unset = SQLite (profiles.sqlite) in the data dir. Never shown unredacted")
    database_pool_size: int = Field(10, ge=1, description="PostgreSQL connections one worker may hold at once")
    database_timeout_s: float = Field(5.0, gt=0, description="PostgreSQL: limit on connecting, on waiting for a pooled "
                                      "connection and on waiting for a row lock; past it the call fails in words")

    # LLM
    llm: str = Field("embedded", description="embedded | embedded-small | transformers | transformers-small | openai | fake")
    llm_timeout_s: float = Field(60.0, description="one LLM call's time limit")
    llm_runtime: str = Field("llama-cpp", description="the embedded LLM's runtime: llama-cpp (llama-cpp-python) | "
                             "xllamacpp (batched: several calls decode together)")
    llm_slots: int = Field(4, ge=1, description="xllamacpp: calls decoded together in one batch (each slot gets a "
                           "context of its own)")
    understand_llm: str = Field("lean", description="when understanding asks the LLM: lean (only when code's "
                                "reading of the words is incomplete) | auto (every new request) | always | never")
    openai_base_url: str | None = Field(None, description="OpenAI-compatible server base URL")
    openai_model: str = Field("default", description="model name on that server")
    openai_api_key: str = Field("not-needed", description="API key for that server")

    # notes (the "write" step; see chatbot/turn/notes/writer.py)
    notes_llm: str = Field("auto", description="LLM that writes the notes: auto (the measured choice for TASTEBUD_LLM; "
                           "today the same model) | same | a backend name, e.g. embedded-small (faster, fails the note "
                           "checks more often)")
    notes_budget_s: float = Field(30.0, description="time budget of the notes step: notes not written and checked by "
                                  "then get the template note (always true), so a reply never waits longer; a failed "
                                  "note is rewritten only when the time left covers it")
    notes_parallel: int = Field(5, ge=1, le=16, description="notes the embedded notes model writes at once, a prompt "
                                "each, by batched decoding in one llama.cpp context (1: one after another)")
    notes_prompt_run: int = Field(128, ge=1, le=256, description="prompt tokens the batched notes model reads beside "
                                  "the notes being written, per step, once the first words are out (more: the later "
                                  "notes start sooner, that step is slower; llamacpp_batch.PROMPT_RUN)")
    notes_retry: bool = Field(True, description="rewrite the notes that failed the checks, all in one call, when the "
                              "time left covers it")

    # ranking blend: chosen by `tastebud simulate --tune` on validation users (their validation film as the target,
    # never the test films); see README "Figures"
    w_relevance: float = Field(0.1, description="weight of query relevance in the final score")
    w_interest: float = Field(0.6, description="weight of the interest model score")
    w_popularity: float = Field(0.3, description="weight of the popularity prior")
    mmr_lambda: float = Field(0.7, description="MMR: 1 = relevance only, 0 = diversity only")
    n_items: int = Field(5, description="items per answer")
    discovery_slots: int = Field(2, ge=0, description="of the items per answer, how many leave the blend's "
                                 "popularity prior out: the best matches to the words (and to the person once the "
                                 "interest model has read a film they liked), however little known (0: all follow "
                                 "the blend; the first item always does)")
    n_candidates: int = Field(200, description="retrieval candidates handed to ranking")

    # context
    weather_url: str = Field("https://api.open-meteo.com/v1/forecast", description="Open-Meteo forecast endpoint")
    weather_timeout_s: float = Field(2.0, description="weather request time limit")

    # web
    host: str = Field("127.0.0.1", description="server host")
    port: int = Field(7860, description="server port")
    allowed_origins: str = Field("", description="comma-separated host-page origins allowed to embed the widget")
    max_message_chars: int = Field(4000, description="longer messages are truncated and the person is told")
    rate_limit: str = Field("30/minute", description="per-client request rate, one bucket per client shared by every door "
                            "(API, stream, widget, UI)")
    max_body_bytes: int = Field(65536, description="larger request bodies are refused with 413")
    max_waiting: int = Field(64, description="turns allowed to wait for their turn; more get 503")
    max_wait_s: float = Field(600.0, description="a queued turn gives up after this long")
    turns_at_once: int = Field(8, ge=1, description="conversation turns answered side by side (their cards come from "
                               "code in milliseconds; their LLM calls share the LLM gate); 1 = one whole turn at a "
                               "time, LLM included (the behaviour before batching, kept as the benchmark's baseline)")
    llm_wait_s: float = Field(1.0, ge=0, description="how long understanding waits for an LLM busy with other people's "
                              "calls before it answers from the words alone (and says so); notes wait within their "
                              "budget, then get their template")

    trusted_proxies: str = Field("", description="comma-separated addresses or networks of reverse proxies in front "
                                 "of tastebud; only requests from them have X-Forwarded-For read (its last hop, the "
                                 "one the proxy added) for the per-client limit; empty = the connection's address")

    @property
    def resolved_data_dir(self) -> Path:
        """The catalog's own data dir as an absolute path: the data dir for films, <data dir>/<catalog> otherwise."""
        root = self.shared_dir
        return root if self.catalog == "films" else root / self.catalog

    @property
    def shared_dir(self) -> Path:
        """The data dir itself, absolute: what every catalog shares (the embedded LLM's weights)."""
        return self.data_dir.expanduser().resolve()
