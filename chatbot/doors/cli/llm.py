"""`tastebud llm`, `bench llm` and `llm-server`: the language model on its own."""

from __future__ import annotations

import argparse
import sys

from chatbot.config import Settings
from chatbot.doors.cli.parser import BENCH_HELP, group, print_json, with_llm
from retrieval.errors import TastebudError


def add_commands(sub: argparse._SubParsersAction) -> None:
    """bench llm / llm ask / llm-server."""
    bench = group(sub, "bench", BENCH_HELP)
    p = bench.add_parser("llm", help="time the LLM: load, a short JSON extraction (cold, warm), generation tok/s; "
                                     "with --streams, batched generation (several calls at once)")
    p.add_argument("--llm", default=None, metavar="NAME", help="backend to time (default TASTEBUD_LLM)")
    p.add_argument("--runs", type=int, default=3, help="JSON extractions to time (default 3)")
    p.add_argument("--streams", default=None, metavar="W,W,...",
                   help="batched generation instead: for each width W, W note calls at once through xllamacpp, "
                        "right after W other calls one at a time (e.g. 1,2,4,8)")
    p.add_argument("--max-tokens", type=int, default=48, help="--streams: tokens each call may write (default 48)")
    p.add_argument("--slots", type=int, default=None, help="--streams: calls decoded together (default: the widest)")
    p.add_argument("--no-llama-cpp", action="store_true", help="--streams: skip llama-cpp-python's one stream")
    p.add_argument("--json", action="store_true", help="--streams: print the figures as one JSON object")
    p.set_defaults(handler=_cmd_bench_llm)
    p = sub.add_parser("llm", help="send one message to the configured LLM and stream its answer")
    p.add_argument("message", help="the message")
    p.add_argument("--llm", default=None, metavar="NAME", help="backend (default TASTEBUD_LLM)")
    p.add_argument("--system", default="You are a concise assistant.", help="system prompt")
    p.set_defaults(handler=_cmd_llm_ask)
    p = sub.add_parser("llm-server", help="serve the embedded model over the OpenAI API (xllamacpp, batched), "
                                          "for TASTEBUD_LLM=openai in several workers")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8088, help="port (default 8088)")
    p.add_argument("--model", choices=("1.5b", "0.5b"), default="1.5b", help="which model (default 1.5b)")
    p.add_argument("--slots", type=int, default=None, help="calls decoded together (default TASTEBUD_LLM_SLOTS)")
    p.add_argument("--api-key", default=None, help="the key clients must send (default TASTEBUD_OPENAI_API_KEY)")
    p.set_defaults(handler=_cmd_llm_server)


def _cmd_bench_llm(args: argparse.Namespace, settings: Settings) -> int:
    """Print the LLM timings as JSON (or the batched-generation table)."""
    from chatbot.evaluation.bench_llm import benchmark_llm
    from chatbot.llm import make_chat_model

    settings = with_llm(settings, args.llm)
    if args.streams:
        return _bench_streams(args, settings)
    report = benchmark_llm(make_chat_model(settings), runs=max(args.runs, 1), progress=True)
    print_json({"llm": settings.llm, "threads": settings.threads, **report})
    return 0


def _bench_streams(args: argparse.Namespace, settings: Settings) -> int:
    """`bench llm --streams`: batched generation through xllamacpp against one call at a time."""
    from chatbot.evaluation.bench_llm import benchmark_streams, format_streams_table
    from chatbot.llm import make_chat_model

    try:
        widths = sorted({int(w) for w in args.streams.split(",") if w.strip()})
    except ValueError as exc:
        raise TastebudError(f"--streams takes widths like 1,2,4,8, not {args.streams!r}") from exc
    if not widths or min(widths) < 1 or max(widths) > 32:
        raise TastebudError("--streams takes widths from 1 to 32, e.g. 1,2,4,8")
    if (settings.llm or "").strip().lower() not in ("embedded", "embedded-small"):
        raise TastebudError("bench llm --streams times the embedded models: --llm embedded or embedded-small")
    batched = settings.model_copy(update={"llm_runtime": "xllamacpp", "llm_slots": args.slots or max(widths)})
    baseline = None if args.no_llama_cpp else make_chat_model(settings.model_copy(update={"llm_runtime": "llama-cpp"}))
    report = benchmark_streams(make_chat_model(batched), widths, max_tokens=max(args.max_tokens, 1),
                               baseline=baseline, progress=True)
    if args.json:
        print_json({"llm": settings.llm, **report})
    else:
        from rich.console import Console

        console = Console() if sys.stdout.isatty() else Console(width=200)
        console.print(format_streams_table(report))
        console.print(f"at 4 streams against the same work one call at a time: tokens/s x{report['x_at_4_streams']}, "
                      f"tokens per CPU second x{report['x_at_4_streams_cpu']}")
    return 0


def _cmd_llm_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Stream one answer to stdout."""
    from chatbot.llm import make_chat_model, stream_text

    settings = with_llm(settings, args.llm)
    model = make_chat_model(settings)
    for piece in stream_text(model, [("system", args.system), ("user", args.message)], settings.llm_timeout_s):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def _cmd_llm_server(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the embedded model over the OpenAI API until SIGTERM or SIGINT; prints the settings to use."""
    import signal
    import threading

    from chatbot.llm import ensure_gguf
    from chatbot.llm.xllamacpp_backend import ServerConfig, health, open_server

    path = ensure_gguf(settings.shared_dir, args.model)
    slots = args.slots or settings.llm_slots
    config = ServerConfig(model_path=str(path), slots=slots, n_threads=settings.threads, host=args.host,
                          port=args.port, api_key=args.api_key or settings.openai_api_key, http_threads=slots + 2,
                          alias=f"qwen2.5-coder-{args.model}-instruct")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    running = open_server(config)
    if not health(running.base_url, timeout_s=10):
        raise TastebudError(f"the LLM server at {running.base_url} did not answer /health")
    print(f"TASTEBUD_LLM=openai\nTASTEBUD_OPENAI_BASE_URL={running.base_url}/v1\n"
          f"TASTEBUD_OPENAI_MODEL={running.model_name}", flush=True)
    print(f"{slots} slots, loaded in {running.load_s:.1f} s; GET {running.base_url}/health answers ok; clients send "
          f"the API key given by --api-key (default: TASTEBUD_OPENAI_API_KEY); stop with SIGTERM or Ctrl-C",
          file=sys.stderr, flush=True)
    print("ready", flush=True)
    stop.wait()
    print("llm-server: stopping", file=sys.stderr, flush=True)
    del running  # the server stops with its last reference (its port closes)
    return 0
