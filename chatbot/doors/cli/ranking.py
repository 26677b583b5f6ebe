"""`tastebud train`, `eval` and `bench rank`: the interest model."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from chatbot.config import Settings
from chatbot.doors.cli.parser import BENCH_HELP, group, print_json
from retrieval.errors import TastebudError


def add_commands(sub: argparse._SubParsersAction) -> None:
    """train / eval / bench rank."""
    p = sub.add_parser("train", help="train the interest model on the data dir's interactions (model/interest.pt)")
    p.add_argument("--epochs", type=int, default=None, help="upper bound on epochs (default: the config's)")
    p.add_argument("--time-limit", type=float, default=None, help="stop training after this many seconds")
    p.add_argument("--json", action="store_true", help="print the training report as JSON")
    p.set_defaults(handler=_cmd_train)
    p = sub.add_parser("eval", help="offline evaluation: the interest model against every baseline, one split")
    p.add_argument("--dataset", choices=("ml-latest-small", "ml-100k", "book-crossing"), default="ml-latest-small",
                   help="book-crossing: Book-Crossing's explicit ratings (5-core over likes, a seeded order as time)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--tradeoff", action="store_true",
                   help="also choose the blend weights on validation and plot accuracy vs diversity over MMR lambda")
    p.add_argument("--retrain", action="store_true", help="train a fresh interest model even if a matching one exists")
    p.add_argument("--time-limit", type=float, default=None, help="stop the interest model's training after this many s")
    p.set_defaults(handler=_cmd_eval)
    bench = group(sub, "bench", BENCH_HELP)
    p = bench.add_parser("rank", help="latency of scoring 200 candidates for one profile")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--runs", type=int, default=300, help="timed calls per scorer")
    p.set_defaults(handler=_cmd_bench_rank)


def _ranking_inputs(settings: Settings) -> tuple[list[Any], list[str], Any]:
    """Catalog items, their ids and vectors, aligned (see chatbot.build.ranking_inputs)."""
    from chatbot.build import ranking_inputs

    return ranking_inputs(settings)


def _batch_embedder(settings: Settings) -> Callable[[list[str]], Any]:
    """MiniLM as a batch text -> vectors function (see chatbot.build.batch_embedder)."""
    from chatbot.build import batch_embedder

    return batch_embedder(settings)


def _cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    """Train the interest model and save it in the data dir."""
    from dataclasses import asdict

    from ranking.config import InterestConfig
    from ranking.train import train_interest_model

    items, ids, vectors = _ranking_inputs(settings)
    config = InterestConfig(threads=settings.threads)
    if args.epochs:
        config.epochs = args.epochs
    if args.time_limit:
        config.time_limit_s = args.time_limit
    report = train_interest_model(settings.resolved_data_dir, ids, vectors, _batch_embedder(settings), items,
                                  config=config)
    if args.json:
        out = asdict(report)
        out["checkpoint"] = str(report.checkpoint)
        print_json(out)
    else:
        print(f"interest model saved to {report.checkpoint}: validation NDCG@10 {report.valid_ndcg10:.4f} "
              f"(best epoch {report.best_epoch} of {report.epochs_run}, {report.seconds:.0f} s, "
              f"{report.n_users} people, {report.n_items} items)")
    return 0


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate every model on one split; markdown (or JSON) on stdout, JSON + PNG in the data dir."""
    from ranking.datasets import load_dataset
    from ranking.evaluate import check_goals, evaluate, to_markdown

    data_dir = settings.resolved_data_dir
    embed = _batch_embedder(settings)
    interest = None
    inputs = None
    if args.dataset == "ml-latest-small" and (data_dir / "interactions.parquet").exists():
        try:
            inputs = _ranking_inputs(settings)
        except TastebudError as exc:
            print(f"note: the data dir is not ready ({exc}); evaluating on the packaged ml-latest-small instead",
                  file=sys.stderr)
    if inputs is not None:
        from ranking.data import leave_last_out, load_interactions

        items, ids, vectors = inputs
        interactions = load_interactions(data_dir)
        if not args.retrain:
            interest = _matching_interest_model(settings, ids, vectors, leave_last_out(interactions, ids))
    else:
        ds = load_dataset(args.dataset)
        items, interactions = list(ds.items), ds.interactions
        vectors = _cached_vectors(data_dir / "model" / f"vectors-{args.dataset}.npy", items, settings)
    from ranking.config import InterestConfig

    config = InterestConfig(threads=settings.threads)
    if args.time_limit:
        config.time_limit_s = args.time_limit
    report = evaluate(args.dataset, interactions, items, vectors, embed, out_dir=data_dir / "model",
                      interest=interest, tradeoff=args.tradeoff, progress=not args.json, config=config)
    if args.json:
        print_json(report.to_json())
    else:
        print(to_markdown(report))
        print()
        for line in check_goals(report):
            print(line)
        for fig in report.figures:
            print(f"figure: {fig}")
    return 0


def _matching_interest_model(settings: Settings, ids: list[str], vectors: Any, split: Any) -> Any:
    """The data dir's interest model, when it was trained on exactly this split; else None (eval trains one)."""
    from ranking.data import split_fingerprint
    from ranking.model import CHECKPOINT, InterestScorer, load_checkpoint
    from ranking.train import InterestRecommender

    path = settings.resolved_data_dir / CHECKPOINT
    if not path.exists():
        return None
    ckpt = load_checkpoint(path)
    if ckpt.get("extra", {}).get("split") != split_fingerprint(split) or list(ckpt["item_ids"]) != list(ids):
        return None
    rec = InterestRecommender()
    rec.model = InterestScorer.from_checkpoint(ckpt, vectors, None).model
    return rec


def _cached_vectors(path: Any, items: list[Any], settings: Settings) -> Any:
    """Item content vectors for a benchmark data set, embedded once with MiniLM and cached in the data dir."""
    import hashlib

    import numpy as np

    from retrieval.embeddings import MiniLMEmbedder, item_text

    texts = [item_text(it) for it in items]
    key = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    path = path.with_name(f"{path.stem}-{key}.npy")
    if path.exists():
        return np.load(path)
    vectors = MiniLMEmbedder(threads=settings.threads).embed(texts, progress=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def _cmd_bench_rank(args: argparse.Namespace, settings: Settings) -> int:
    """Time scoring 200 candidates for one realistic profile, against baselines in the same run."""
    import numpy as np

    from ranking.benchmark import bench_rank
    from ranking.data import LIKED, leave_last_out, load_interactions
    from ranking.model import InterestScorer, Profile
    from retrieval.embeddings import MiniLMEmbedder

    import torch

    torch.set_num_threads(settings.threads)
    data_dir = settings.resolved_data_dir
    _items, ids, vectors = _ranking_inputs(settings)
    embedder = MiniLMEmbedder(threads=settings.threads)
    embedder.embed(["warm up"])  # load the model now, so the first-call figure measures embedding, not loading
    scorer = InterestScorer.load(data_dir, ids, vectors, lambda text: embedder.embed([text])[0])
    split = leave_last_out(load_interactions(data_dir), ids)
    rng = np.random.default_rng(0)
    longest = max(range(len(split.users)), key=lambda u: len(split.test_histories[u].items))
    hist = split.test_histories[longest]
    liked = tuple(ids[i] for i in hist.items[hist.signs == LIKED][-30:])
    disliked = tuple(ids[i] for i in hist.items[hist.signs == -1][-5:])
    profile = Profile(liked, disliked, "something funny and light for a rainy evening")
    candidates = [ids[i] for i in rng.choice(len(ids), size=min(200, len(ids)), replace=False)]
    out = bench_rank(scorer, profile, candidates, runs=args.runs)
    if args.json:
        print_json(out)
    else:
        print(f"profile: {len(liked)} liked, {len(disliked)} disliked, text {profile.text!r}; "
              f"{len(candidates)} candidates; torch threads {out['torch_threads']}")
        print(f"first call with a new text (embeds it): {out['first_call_with_new_text_ms']:.1f} ms")
        for t in out["timings"]:
            print(f"  {t['name']:<60} p50 {t['p50_ms']:7.3f} ms   p95 {t['p95_ms']:7.3f} ms   ({t['runs']} runs)")
        print(f"goal p95 <= 10 ms: {'met' if out['goal']['met'] else 'NOT met'}")
    return 0
