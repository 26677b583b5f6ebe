"""Offline evaluation: the interest model and every baseline on the same split, full ranking, three slices.

Protocol (the same for every model): chronological leave-last-out per person (ranking.data); positives are
ratings >= 4; the test item is each person's last positive; every model ranks ALL items (no sampled
negatives) with the person's own history removed from the ranking. Slices:
- `all`  — the whole history before the test item (including the validation positive);
- `cold` — only the person's first k liked items, k = 1 + (person's index mod 5), so k cycles through 1..5
           (a new person who named a handful of films); the history is still excluded from the ranking;
- `cold-recent` — the same k, but the person's k *latest* liked items (a new person naming films they liked
           lately: what the chat sees); reported beside `cold`, which stays the headline cold figure;
- `text` — no item ids at all: a sentence with the person's top-3 genres and the titles of their 3 latest
           liked films ("I love Drama, Comedy and Romance movies, like A (1995), B (1996) and C (1997)."),
           embedded with MiniLM. Id-only models fall back to popularity there.
Metrics: HR@10, NDCG@10, Recall@20 (one held-out item: the share found in the top 20), MRR (full ranking),
catalog coverage of the top-10 lists, intra-list diversity and novelty of the top-10 lists.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ranking.baselines import Recommender, make_baseline
from ranking.data import History, Split, cold_history, item_popularity, leave_last_out
from ranking.metrics import (
    catalog_coverage, hit_rate, intra_list_diversity, mask_excluded, mrr, ndcg, novelty, target_ranks, top_k,
)
from ranking.rerank import Weights, blend, mmr_order
from ranking.train import EmbedTexts, InterestRecommender, taste_sentence
from retrieval.types import Item

log = logging.getLogger(__name__)

PROTOCOL = ("chronological leave-last-out (last positive = test, the one before = validation; positive = rating >= 4); "
            "full ranking over all items, each person's history excluded; slices: all = full history, "
            "cold = first k in 1..5 liked items (k = 1 + index mod 5), cold-recent = latest k, text = top genres + 3 latest liked titles "
            "as one sentence, no ids")
SLICES = ("all", "cold", "cold-recent", "text")
BASELINE_ORDER = ("popularity", "item-knn", "ease", "als", "sasrec-ce", "content")
RANKING_BASELINES = ("popularity", "item-knn", "ease", "als", "sasrec-ce")  # what the interest model must beat


@dataclass(frozen=True)
class EvalRow:
    """One model on one slice."""

    model: str
    slice: str
    hr10: float
    ndcg10: float
    recall20: float
    mrr: float
    coverage: float
    diversity: float
    novelty: float
    n_users: int

    def to_json(self) -> dict[str, Any]:
        """The row in the `--json` schema."""
        return {"model": self.model, "slice": self.slice, "hr@10": round(self.hr10, 5),
                "ndcg@10": round(self.ndcg10, 5), "recall@20": round(self.recall20, 5), "mrr": round(self.mrr, 5),
                "coverage": round(self.coverage, 5), "diversity": round(self.diversity, 5),
                "novelty": round(self.novelty, 4), "n_users": self.n_users}


@dataclass(frozen=True)
class EvalReport:
    """Everything one evaluation run measured."""

    dataset: str
    protocol: str
    rows: tuple[EvalRow, ...]
    n_users: int
    n_items: int
    figures: tuple[Path, ...] = ()
    train: dict[str, Any] = field(default_factory=dict)
    tradeoff: tuple[dict[str, float], ...] = ()
    chosen_weights: dict[str, float] = field(default_factory=dict)
    fit_seconds: dict[str, float] = field(default_factory=dict)  # wall-clock seconds each model took to fit
    baselines: dict[str, Any] = field(default_factory=dict)  # what baselines chose on validation (SASRec-CE grid)

    def to_json(self) -> dict[str, Any]:
        """The `tastebud eval --json` object."""
        out: dict[str, Any] = {"dataset": self.dataset, "protocol": self.protocol,
                               "results": [r.to_json() for r in self.rows],
                               "n_users": self.n_users, "n_items": self.n_items,
                               "figures": [str(p) for p in self.figures], "interest_training": self.train,
                               "fit_seconds": self.fit_seconds, "baseline_choices": self.baselines,
                               "goals": check_goals(self)}
        if self.tradeoff:
            out["tradeoff"] = list(self.tradeoff)
            out["chosen_weights"] = self.chosen_weights
        return out

    def value(self, model: str, slice_: str, metric: str = "ndcg10") -> float:
        """One figure, e.g. report.value("interest", "all")."""
        for r in self.rows:
            if r.model == model and r.slice == slice_:
                return float(getattr(r, metric))
        raise KeyError((model, slice_))


@dataclass(frozen=True)
class Slice:
    """Profiles to score, the held-out item per profile, and what to exclude from each ranking."""

    name: str
    histories: tuple[History, ...]
    targets: np.ndarray
    exclude: tuple[np.ndarray, ...]


def text_profiles(histories: Sequence[History], items: Sequence[Item]) -> list[str]:
    """The words-only profile sentence for each history."""
    return [taste_sentence(h.liked, items) for h in histories]


def build_slices(split: Split, items: Sequence[Item], embed_texts: EmbedTexts | None,
                 which: str = "test") -> dict[str, Slice]:
    """The all / cold / text slices on the test (or validation) targets."""
    hist = split.test_histories if which == "test" else split.valid_histories
    targets = split.test_targets if which == "test" else split.valid_targets
    exclude = tuple(h.items for h in hist)
    slices = {"all": Slice("all", tuple(hist), targets, exclude)}
    slices["cold"] = Slice("cold", tuple(cold_history(h, 1 + u % 5) for u, h in enumerate(hist)), targets, exclude)
    slices["cold-recent"] = Slice("cold-recent", tuple(cold_history(h, 1 + u % 5, recent=True)
                                                       for u, h in enumerate(hist)), targets, exclude)
    if embed_texts is not None:
        vecs = np.asarray(embed_texts(text_profiles(hist, items)), dtype=np.float32)
        text_h = tuple(History(np.zeros(0, np.int64), np.zeros(0, np.int8), v) for v in vecs)
        slices["text"] = Slice("text", text_h, targets, exclude)
    return slices


def measure(name: str, slice_: Slice, scores: np.ndarray, item_vectors: np.ndarray, popularity: np.ndarray,
            n_train_users: int) -> EvalRow:
    """All metrics of one model's scores on one slice."""
    masked = mask_excluded(scores, slice_.exclude)
    ranks = target_ranks(masked, slice_.targets)
    top = top_k(masked, 20)  # (B, 20)
    return EvalRow(
        model=name, slice=slice_.name, hr10=hit_rate(ranks, 10), ndcg10=ndcg(ranks, 10),
        recall20=hit_rate(ranks, 20), mrr=mrr(ranks), coverage=catalog_coverage(top[:, :10], masked.shape[1]),
        diversity=intra_list_diversity(top[:, :10], item_vectors),
        novelty=novelty(top[:, :10], popularity, n_train_users), n_users=len(ranks),
    )


def remember_texts(embed_texts: EmbedTexts) -> EmbedTexts:
    """Wrap a batch embedder so each distinct text is embedded once per evaluation run."""
    memo: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        """Vectors for texts, embedding only the ones not seen before."""
        todo = list(dict.fromkeys(t for t in texts if t not in memo))
        if todo:
            for t, v in zip(todo, np.asarray(embed_texts(todo), dtype=np.float32)):
                memo[t] = v
        return np.stack([memo[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    return embed


def evaluate(dataset: str, interactions: Any, items: Sequence[Item], item_vectors: np.ndarray,
             embed_texts: EmbedTexts | None, out_dir: Path | None = None,
             models: Sequence[str] = ("interest", *BASELINE_ORDER), interest: Recommender | None = None,
             tradeoff: bool = False, progress: bool = True, config: Any = None) -> EvalReport:
    """Fit every model on one split of `interactions`, score the slices, write JSON + PNGs into `out_dir`."""
    from tqdm.auto import tqdm

    item_ids = [it.id for it in items]
    vectors = np.asarray(item_vectors, dtype=np.float32)
    embed_texts = remember_texts(embed_texts) if embed_texts is not None else None
    split = leave_last_out(interactions, item_ids)
    slices = build_slices(split, items, embed_texts)
    pop = item_popularity(split)
    n_train_users = int(split.train["user"].nunique())
    rows: list[EvalRow] = []
    train_info: dict[str, Any] = {}
    fitted: dict[str, Recommender] = {}
    seconds: dict[str, float] = {}
    choices: dict[str, Any] = {}
    bar = tqdm(list(models), desc=f"evaluating on {dataset}", unit="model", disable=not progress)
    for name in bar:
        bar.set_postfix(model=name)
        started = time.monotonic()
        if name == "interest":
            rec = interest or InterestRecommender(items, embed_texts, config, progress=progress)
            if getattr(rec, "model", None) is None:
                rec.fit(split, vectors)
            report = getattr(rec, "report", None)
            if report is not None:
                train_info = {"best_epoch": report.best_epoch, "epochs_run": report.epochs_run,
                              "valid_ndcg@10": round(report.valid_ndcg10, 5), "seconds": round(report.seconds, 1),
                              "item_item": {k: (round(float(v), 5) if np.isfinite(v) else None)
                                            for k, v in (report.item_item or {}).items()}}
        else:
            rec = make_baseline(name)
            if hasattr(rec, "threads") and config is not None:  # trained baselines get the interest model's threads
                rec.threads = config.threads
            rec.fit(split, vectors)
            if hasattr(rec, "report"):
                choices[name] = rec.report.to_json()
        seconds[name] = round(time.monotonic() - started, 1)
        fitted[name] = rec
        for sl in slices.values():
            rows.append(measure(name, sl, rec.score(sl.histories), vectors, pop, n_train_users))
    figures: list[Path] = []
    trade: list[dict[str, float]] = []
    chosen: dict[str, float] = {}
    if tradeoff and "interest" in fitted and embed_texts is not None:
        chosen, trade = blend_tradeoff(split, items, vectors, fitted["interest"], pop, embed_texts)
    report = EvalReport(dataset, PROTOCOL, tuple(rows), len(split.users), split.n_items, (), train_info,
                        tuple(trade), chosen, seconds, choices)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        figures.append(plot_report(report, out_dir / f"eval-{dataset}.png"))
        if trade:
            figures.append(plot_tradeoff(trade, out_dir / f"tradeoff-{dataset}.png", dataset))
        report = dataclasses.replace(report, figures=tuple(figures))
        (out_dir / f"eval-{dataset}.json").write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
    return report


# ------------------------------------------------------------------ blend weights and the accuracy/diversity tradeoff
WEIGHT_GRID = tuple(
    Weights(r, i, round(1.0 - r - i, 2)) for r in (0.0, 0.15, 0.3, 0.45, 0.6) for i in (0.25, 0.4, 0.55, 0.7, 0.85, 1.0)
    if r + i <= 1.0 + 1e-9
)
LAMBDAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _simulated_pipeline(histories: Sequence[History], targets: np.ndarray, items: Sequence[Item],
                        vectors: np.ndarray, interest: Recommender, pop: np.ndarray,
                        embed_texts: EmbedTexts, n_candidates: int = 200):
    """For each person: query = their taste sentence; candidates = top-n by query relevance (history removed);
    returns per-person (candidate indices, relevance, interest, popularity, target position or -1)."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    queries = np.asarray(embed_texts(text_profiles(histories, items)), dtype=np.float32)  # (B, D)
    relevance = mask_excluded(queries @ unit.T, [h.items for h in histories])  # (B, N)
    cand = top_k(relevance, n_candidates)  # (B, C)
    inter = interest.score(histories)  # (B, N)
    out = []
    for b in range(len(histories)):
        c = cand[b]
        hit = np.flatnonzero(c == targets[b])
        out.append((c, relevance[b, c], inter[b, c], np.log1p(pop[c]), int(hit[0]) if len(hit) else -1))
    return out


def _list_metrics(sim: list, weights: Weights, lam: float, vectors: np.ndarray, n: int = 10) -> tuple[float, float]:
    """NDCG@n and intra-list diversity of the blended + MMR lists."""
    gains, lists = [], []
    for c, rel, inter, popv, target_pos in sim:
        score, _ = blend(rel, inter, popv, weights)
        order = mmr_order(score, vectors[c], lam, n)
        lists.append(c[order])
        if target_pos in order:
            gains.append(1.0 / np.log2(order.index(target_pos) + 2.0))
        else:
            gains.append(0.0)
    return float(np.mean(gains)), intra_list_diversity(np.array(lists), vectors)


def blend_tradeoff(split: Split, items: Sequence[Item], vectors: np.ndarray, interest: Recommender,
                   pop: np.ndarray, embed_texts: EmbedTexts) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Choose blend weights on validation (lambda = 1), then sweep MMR lambda on test: accuracy vs diversity."""
    valid = _simulated_pipeline(split.valid_histories, split.valid_targets, items, vectors, interest, pop, embed_texts)
    best_w, best_v = Weights(), -1.0
    for w in WEIGHT_GRID:
        v, _ = _list_metrics(valid, w, 1.0, vectors)
        if v > best_v:
            best_w, best_v = w, v
    test = _simulated_pipeline(split.test_histories, split.test_targets, items, vectors, interest, pop, embed_texts)
    curve = []
    for lam in LAMBDAS:
        acc, div = _list_metrics(test, best_w, lam, vectors)
        curve.append({"mmr_lambda": lam, "ndcg@10": round(acc, 5), "diversity": round(div, 5)})
    chosen = {"w_relevance": best_w.relevance, "w_interest": best_w.interest, "w_popularity": best_w.popularity,
              "valid_ndcg@10": round(best_v, 5)}
    return chosen, curve


# ------------------------------------------------------------------ output
def to_markdown(report: EvalReport) -> str:
    """The results as a markdown table (one row per model and slice)."""
    lines = [f"### {report.dataset}: {report.n_users} people, {report.n_items} items", "",
             f"Protocol: {report.protocol}", "",
             "| model | slice | HR@10 | NDCG@10 | Recall@20 | MRR | coverage | diversity | novelty |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for sl in SLICES:
        for r in report.rows:
            if r.slice == sl:
                lines.append(f"| {r.model} | {r.slice} | {r.hr10:.4f} | {r.ndcg10:.4f} | {r.recall20:.4f} | "
                             f"{r.mrr:.4f} | {r.coverage:.3f} | {r.diversity:.3f} | {r.novelty:.2f} |")
    if report.fit_seconds:
        lines += ["", "Fit time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in report.fit_seconds.items())]
    chosen = report.baselines.get("sasrec-ce", {}).get("chosen")
    if chosen:
        lines.append("SASRec-CE chosen on validation: " + ", ".join(f"{k} {v}" for k, v in chosen.items()))
    if report.tradeoff:
        lines += ["", "Blend weights chosen on validation: " + ", ".join(
            f"{k}={v}" for k, v in report.chosen_weights.items()), "",
            "| MMR lambda | NDCG@10 | diversity |", "|---:|---:|---:|"]
        lines += [f"| {t['mmr_lambda']:.1f} | {t['ndcg@10']:.4f} | {t['diversity']:.3f} |" for t in report.tradeoff]
    return "\n".join(lines)


def plot_report(report: EvalReport, path: Path) -> Path:
    """Bar chart of NDCG@10 per model, grouped by slice (PNG, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r.model for r in report.rows))
    slices = [s for s in SLICES if any(r.slice == s for r in report.rows)]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(slices))
    for m, model in enumerate(models):
        vals = [next((r.ndcg10 for r in report.rows if r.model == model and r.slice == s), 0.0) for s in slices]
        ax.bar(x + m * width - 0.4 + width / 2, vals, width, label=model)
    ax.set_xticks(x, slices)
    ax.set_ylabel("NDCG@10 (full ranking)")
    ax.set_title(f"{report.dataset}: leave-last-out, {report.n_users} people, {report.n_items} items")
    ax.legend(fontsize=8, ncols=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_tradeoff(curve: Sequence[dict[str, float]], path: Path, dataset: str) -> Path:
    """Accuracy (NDCG@10) against intra-list diversity over MMR lambda (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    xs = [c["diversity"] for c in curve]
    ys = [c["ndcg@10"] for c in curve]
    ax.plot(xs, ys, marker="o")
    for c in curve:
        ax.annotate(f"λ={c['mmr_lambda']:.1f}", (c["diversity"], c["ndcg@10"]), fontsize=7,
                    textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("intra-list diversity @10 (1 - mean cosine)")
    ax.set_ylabel("NDCG@10 after blend + MMR")
    ax.set_title(f"{dataset}: accuracy vs diversity (simulated retrieval, 200 candidates)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _best_baseline(report: EvalReport, slice_: str) -> tuple[str, float]:
    """The strongest of RANKING_BASELINES on one slice (NDCG@10): (name, value)."""
    base = {m: report.value(m, slice_) for m in RANKING_BASELINES if any(r.model == m for r in report.rows)}
    name = max(base, key=base.get)
    return name, base[name]


def check_goals(report: EvalReport) -> list[str]:
    """The must-show comparisons as sentences with PASS/FAIL (for the CLI and the README)."""
    out = []
    try:
        for sl in ("all", "cold-recent"):
            if any(r.slice == sl for r in report.rows):
                best_name, best = _best_baseline(report, sl)
                ratio = report.value("interest", sl) / max(best, 1e-12)
                out.append(f"{'PASS' if ratio >= 1.10 else 'FAIL'} {sl}: interest / best baseline ({best_name}) = "
                           f"{ratio:.3f} (goal 1.10)")
        if any(r.slice == "cold" for r in report.rows):
            r = report.value("interest", "cold") / max(report.value("popularity", "cold"), 1e-12)
            out.append(f"{'PASS' if r >= 1.2 else 'FAIL'} cold: interest / popularity = {r:.3f} (retired goal 1.2)")
        if any(r.slice == "text" for r in report.rows):
            r = report.value("interest", "text") / max(report.value("popularity", "text"), 1e-12)
            out.append(f"{'PASS' if r > 1.0 else 'FAIL'} text: interest / popularity = {r:.3f}")
    except (KeyError, ValueError):
        pass
    return out
