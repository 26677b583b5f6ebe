"""`tastebud bench rank`: latency of scoring one profile's candidates, against baselines in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ranking.model import InterestScorer, Profile


@dataclass(frozen=True)
class Timing:
    """Latency figures of one scorer, in milliseconds."""

    name: str
    p50_ms: float
    p95_ms: float
    mean_ms: float
    runs: int

    def to_json(self) -> dict[str, float | int | str]:
        """Plain dict for `--json`."""
        return {"name": self.name, "p50_ms": round(self.p50_ms, 3), "p95_ms": round(self.p95_ms, 3),
                "mean_ms": round(self.mean_ms, 3), "runs": self.runs}


def time_calls(name: str, call: Callable[[], object], runs: int, warmup: int = 5,
               time_limit_s: float = 60.0) -> Timing:
    """Run `call` `warmup` times untimed, then up to `runs` times (bounded by `time_limit_s`); percentiles in ms."""
    for _ in range(warmup):
        call()
    samples = []
    deadline = time.monotonic() + time_limit_s
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000.0)
        if time.monotonic() > deadline:
            break
    arr = np.asarray(samples)
    return Timing(name, float(np.percentile(arr, 50)), float(np.percentile(arr, 95)), float(arr.mean()), len(arr))


def bench_rank(scorer: InterestScorer, profile: Profile, candidate_ids: Sequence[str], runs: int = 300) -> dict:
    """Time `scorer.score` on the candidates vs full-catalog scoring and a popularity lookup; also the first
    call with an uncached text (which includes embedding the text)."""
    import torch

    from ranking.data import DISLIKED, LIKED, History
    from ranking.model import batch_histories

    out: dict = {"n_candidates": len(candidate_ids), "profile": {"liked": len(profile.liked),
                 "disliked": len(profile.disliked), "text": profile.text}, "torch_threads": torch.get_num_threads()}
    t0 = time.perf_counter()
    scorer.score(Profile(profile.liked, profile.disliked, profile.text + " (uncached)"), candidate_ids)
    out["first_call_with_new_text_ms"] = round((time.perf_counter() - t0) * 1000.0, 2)
    timings = [time_calls("interest: 200 candidates", lambda: scorer.score(profile, candidate_ids), runs)]

    idx = [scorer.index[i] for i in (*profile.disliked, *profile.liked) if i in scorer.index]
    signs = [DISLIKED] * sum(i in scorer.index for i in profile.disliked) + \
            [LIKED] * sum(i in scorer.index for i in profile.liked)
    hist = History(np.asarray(idx, np.int64), np.asarray(signs, np.int8), scorer.text_vector(profile.text))
    cfg = scorer.config

    def full_catalog() -> np.ndarray:
        """Score every item of the catalog for the same profile (the baseline figure)."""
        with torch.inference_mode():
            tensors = batch_histories([hist], cfg.n_items, cfg.max_len, cfg.content_dim)
            return scorer.model.score_all(*tensors).numpy()

    timings.append(time_calls(f"interest: score_all over the full catalog ({cfg.n_items} items)", full_catalog, runs))
    cand = np.asarray([scorer.index.get(c, 0) for c in candidate_ids])
    timings.append(time_calls("popularity lookup: 200 candidates", lambda: np.log1p(scorer.popularity[cand]), runs))
    out["timings"] = [t.to_json() for t in timings]
    out["goal"] = {"p95_ms_max": 10.0, "met": timings[0].p95_ms <= 10.0}
    return out
