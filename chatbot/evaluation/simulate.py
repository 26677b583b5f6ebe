"""Simulated users: Hit@5 within T turns for the full system and two baselines, cold and warm start.

Protocol (after InteRecAgent's user simulator, made deterministic and templated so runs repeat):
- Users are the interest model's *test* split (ranking.data.leave_last_out over the catalog): each person's
  last liked film (rating >= 4) is the target; the model never trained on it (it trained on what came before
  each person's validation film).
- The simulator opens with a vague wish carrying a mood drawn from the target's genres, then reveals one attribute
  of the target per turn, from the most general to the most specific: its most distinctive genre, its decade, its
  country or language (when not American / English), a second genre, and last a director or an actor (a name
  nearly gives the film away: every system finds it then, so it comes last).
  It never names the target. After an answer without the target it dislikes every film shown (the same
  `Agent.feedback` call as the UI's thumbs-down), so they are excluded and count against their kind.
- A hit is the target among the five items of an answer; the user stops at the hit. Hit@5 within T turns and the
  average turn of the hit (a miss counts T + 1).
- `cold`: a new profile; `warm`: the profile is first seeded with the person's liked films before the target
  (their history in the test split), as `like` feedback.
- Targets: `held-out` (seeded random users: on ml-latest-small 77 % of targets are in the most-rated fifth of the
  catalog) or `balanced` (as many from each fifth, `POPULARITY_BANDS`: popularity alone cannot win by design).
- Per clue kind (`clue_table`): whether each turn's candidates held the target (else retrieval lost it) and
  whether it was shown (else the ranking lost it).
- Systems (the agent's ranking mode; everything else is the same code path, `Agent.respond`):
  `full` (relevance + interest model + popularity, MMR), `retrieval` (relevance only), `popularity`
  (the retrieved candidates ordered by popularity).
- Cost: the LLM reads only the message text, and the simulator's messages depend only on the target, so the
  LLM's answers are cached by exact prompt (langchain's in-memory LLM cache): each distinct message is read by the
  model once and every system and mode gets the same reading. Code-side understanding (which depends on the
  conversation state) still runs per system. Notes are written by the LLM unless --no-notes (then by template);
  notes never change which items are shown.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from chatbot.evaluation.harness import derive_agent, open_agent
from chatbot.evaluation.history import load_split
from retrieval.types import Item
from retrieval.errors import TastebudError

if TYPE_CHECKING:
    from chatbot.turn.agent import Agent
    from chatbot.config import Settings

log = logging.getLogger(__name__)

SYSTEMS: tuple[str, ...] = ("full", "retrieval", "popularity")
MODES: tuple[str, ...] = ("cold", "warm")
TARGETS: tuple[str, ...] = ("held-out", "balanced")
# The balanced targets' bands: fifths of the catalog by popularity rank, the most rated first (ml-latest-small's
# 666 test targets fall 514 / 86 / 35 / 16 / 15 into them).
POPULARITY_BANDS = 5
CLUE_KINDS: tuple[str, ...] = ("wish", "genre", "decade", "place", "second genre", "person", "again")
HIT_K = 5
PROTOCOL = (
    "Simulated users (deterministic templates, after InteRecAgent's simulator): for N users of the interest "
    "model's test split (chronological leave-last-out; never trained on), the target is the held-out last liked "
    "film. Turn 1 is a vague wish with a mood from the target's genres; each later turn reveals one attribute "
    "from general to specific (rarest genre, decade, country or language, second genre, then director or actor); "
    "the target is never named; every shown "
    "non-target is disliked. Hit = target among the 5 items shown; Hit@5 within T turns; avg_turn counts a miss "
    "as T + 1. cold = new profile; warm = profile seeded with the user's liked films before the target. "
    "All systems go through Agent.respond with the embedded LLM; identical messages are read by the LLM once "
    "(cached) and shared across systems and modes."
)

# A mood a person might say for a genre (the simulator's vague wishes).
MOODS: dict[str, str] = {
    "Action": "exciting", "Adventure": "adventurous", "Animation": "animated", "Children": "family-friendly",
    "Comedy": "funny", "Crime": "gritty", "Documentary": "true and real", "Drama": "moving", "Fantasy": "magical",
    "Film-Noir": "dark and moody", "Horror": "scary", "IMAX": "spectacular", "Musical": "full of songs",
    "Mystery": "mysterious", "Romance": "romantic", "Sci-Fi": "futuristic", "Thriller": "suspenseful",
    "War": "about war", "Western": "set in the old West",
}
# How a person names a genre.
GENRE_WORDS: dict[str, str] = {
    "Action": "an action movie", "Adventure": "an adventure film", "Animation": "an animated film",
    "Children": "a children's film", "Comedy": "a comedy", "Crime": "a crime film", "Documentary": "a documentary",
    "Drama": "a drama", "Fantasy": "a fantasy film", "Film-Noir": "a film noir", "Horror": "a horror film",
    "IMAX": "an IMAX film", "Musical": "a musical", "Mystery": "a mystery", "Romance": "a romance",
    "Sci-Fi": "a sci-fi film", "Thriller": "a thriller", "War": "a war film", "Western": "a western",
}


# ---------------------------------------------------------------------------------------------- users
@dataclass(frozen=True)
class SimUser:
    """One simulated person: their held-out target film and the films they liked before it."""

    user: str
    target: Item
    history: tuple[str, ...]


def pick_users(data_dir: Path, catalog: dict[str, Item], n: int, seed: int = 0, part: str = "test",
               targets: str = "held-out") -> list[SimUser]:
    """N users in a fixed random order (seeded), each with a target present in the catalog: their held-out test
    film (`part="test"`), or their validation film with the history before it (`part="valid"`, for tuning);
    `targets="balanced"` takes as many users from each popularity band as the others (`POPULARITY_BANDS`)."""
    if part not in ("test", "valid"):
        raise TastebudError(f"the users come from the test or the validation part, not {part!r}")
    if targets not in TARGETS:
        raise TastebudError(f"targets must be {' or '.join(TARGETS)}, not {targets!r}")
    split = load_split(data_dir, list(catalog))
    if not split.users:
        raise TastebudError("no test users: the interactions have nobody with three or more liked films")
    target_rows = split.test_targets if part == "test" else split.valid_targets
    histories = split.test_histories if part == "test" else split.valid_histories
    order = np.random.default_rng(seed).permutation(len(split.users))
    candidates: list[SimUser] = []
    for u in order:
        target = catalog.get(split.item_ids[int(target_rows[u])])
        if target is not None:
            candidates.append(SimUser(split.users[u], target, tuple(split.item_ids[i] for i in histories[u].liked)))
    return candidates[:n] if targets == "held-out" else _balanced(candidates, catalog, n)


def popularity_band(rank: int, n_items: int) -> int:
    """The balanced mode's band (0 = the most rated fifth of the catalog) of a catalog popularity rank."""
    return min(rank * POPULARITY_BANDS // max(n_items, 1), POPULARITY_BANDS - 1)


def _balanced(candidates: Sequence[SimUser], catalog: dict[str, Item], n: int) -> list[SimUser]:
    """N of the candidates (kept in their order), as many from each popularity band as from the others; a band
    short of people leaves its places to the next people of the order."""
    ranked = sorted(catalog.values(), key=lambda it: (-it.n_ratings, it.id))
    rank = {it.id: r for r, it in enumerate(ranked)}
    bands = POPULARITY_BANDS
    quota = [n // bands + (1 if b < n % bands else 0) for b in range(bands)]
    chosen: list[SimUser] = []
    for sim in candidates:
        band = popularity_band(rank[sim.target.id], len(ranked))
        if quota[band] > 0:
            quota[band] -= 1
            chosen.append(sim)
    chosen += [sim for sim in candidates if sim not in chosen][: n - len(chosen)]
    return [sim for sim in candidates if sim in chosen]


# ---------------------------------------------------------------------------------------------- the simulator
def _decade(year: int) -> str:
    """'the 1990s'."""
    return f"the {year // 10 * 10}s"


def reveal_clues(target: Item, genre_counts: Counter[str], turns: int) -> list[tuple[str, str]]:
    """The simulator's (clue kind, message) for a target, one per turn: a vague wish with a mood, then one attribute
    per turn from the most general to the most specific: genre, decade, country or language, a second genre, and
    last a director or actor (a name nearly gives the film away, so it is the final clue)."""
    genres = sorted(target.genres, key=lambda g: (genre_counts.get(g, 0), g))  # rarest first
    common = max(target.genres, key=lambda g: (genre_counts.get(g, 0), g)) if target.genres else None
    mood = MOODS.get(common or "", "good")
    clues = [("wish", f"I want to watch a movie tonight, something {mood}.")]
    if genres:
        clues.append(("genre", f"I'd like {GENRE_WORDS.get(genres[0], genres[0].lower() + ' film')}."))
    if target.year:
        clues.append(("decade", f"Preferably one from {_decade(target.year)}."))
    if target.countries and target.countries[0] != "United States":
        clues.append(("place", f"A film from {target.countries[0]}."))
    elif target.languages and target.languages[0] != "English":
        clues.append(("place", f"A film in {target.languages[0]}."))
    if len(genres) > 1:
        clues.append(("second genre", f"It could also be {GENRE_WORDS.get(genres[1], genres[1].lower() + ' film')}."))
    if target.directors:
        clues.append(("person", f"Maybe something directed by {target.directors[0]}."))
    elif target.cast:
        clues.append(("person", f"Maybe something with {target.cast[0]}."))
    while len(clues) < turns:
        clues.append(("again", "Something else, please."))
    return clues[:turns]


def reveal_messages(target: Item, genre_counts: Counter[str], turns: int) -> list[str]:
    """The simulator's messages for a target, one per turn (`reveal_clues` without the kinds)."""
    return [message for _, message in reveal_clues(target, genre_counts, turns)]


@dataclass(frozen=True)
class Episode:
    """One simulated conversation: the turn of the hit (None for a miss), what each turn said, the kind of clue
    each turn added and whether the target was among that turn's candidates (None: not traced)."""

    user: str
    target: str
    hit_turn: int | None
    messages: tuple[str, ...]
    clues: tuple[str, ...] = ()
    retrieved: tuple[bool | None, ...] = ()
    shown: tuple[tuple[str, ...], ...] = ()  # the ids each turn showed


def trace_candidates(agent: Any) -> list[frozenset[str]]:
    """The ids of each turn's candidates, appended as the agent answers (empty for an agent without `_retrieve`)."""
    found_per_turn: list[frozenset[str]] = []
    step = getattr(agent, "_retrieve", None)
    if step is None:
        return found_per_turn

    def retrieve(*args: Any, **kwargs: Any) -> Any:
        """The agent's own retrieval step, its candidates noted."""
        result = step(*args, **kwargs)  # (found, relaxed): what passed the filters, or what a let-go bound found
        found, relaxed = result
        shown_from = relaxed.found if relaxed is not None else found
        found_per_turn.append(frozenset(c.item.id for c in shown_from.candidates))
        return result

    agent._retrieve = retrieve
    return found_per_turn


def run_episode(agent: Agent, sim: SimUser, messages: list[str], profile_id: str | None,
                kinds: Sequence[str] = (), found: list[frozenset[str]] | None = None) -> Episode:
    """Talk to the agent until the target is shown or the turns run out; dislike every shown non-target
    (`kinds`: each message's clue kind; `found`: the list `trace_candidates` fills)."""
    session: str | None = None
    said: list[str] = []
    retrieved: list[bool | None] = []
    shown: list[tuple[str, ...]] = []
    for turn, message in enumerate(messages, 1):
        said.append(message)
        done: dict[str, Any] | None = None
        before = len(found) if found is not None else 0
        for event in agent.respond(session, message, profile_id=profile_id):
            if event.kind == "done":
                done = event.data
        if done is None:
            raise TastebudError(f"the agent gave no answer to {message!r}")
        retrieved.append(sim.target.id in found[-1] if found is not None and len(found) > before else None)
        session = done["session_id"]
        ids = [c["id"] for c in done.get("items") or []][:HIT_K]
        shown.append(tuple(ids))
        if sim.target.id in ids:
            return Episode(sim.user, sim.target.id, turn, tuple(said), tuple(kinds[:turn]), tuple(retrieved),
                           tuple(shown))
        for item_id in ids:
            agent.feedback(session, item_id, "dislike")
    return Episode(sim.user, sim.target.id, None, tuple(said), tuple(kinds[: len(said)]), tuple(retrieved),
                   tuple(shown))


def run_mode(agent: Agent, store_dir: Path, users: Sequence[SimUser], scripts: dict[str, list[tuple[str, str]]],
             mode: str, bar: Any, **parts: Any) -> list[Episode]:
    """Every user's episode with a copy of `agent` (its `parts` swapped) on a fresh profile store in `store_dir`;
    in warm mode each profile is first seeded with the user's liked films."""
    from chatbot.profiles import ProfileStore
    from chatbot.turn.context import OfflineWeatherProvider

    store = ProfileStore.open(store_dir)
    try:
        runner = derive_agent(agent, profiles=store, weather=OfflineWeatherProvider(), **parts)
        found = trace_candidates(runner)
        eps = []
        for sim in users:
            profile_id = None
            if mode == "warm":
                profile_id = store.new_profile()
                for item_id in sim.history:
                    store.add_feedback(profile_id, None, item_id, "like")
            clues = scripts[sim.user]
            eps.append(run_episode(runner, sim, [m for _, m in clues], profile_id, [k for k, _ in clues], found))
            bar.update(1)
        return eps
    finally:
        store.close()


def summarise(episodes: Sequence[Episode], turns: int) -> dict[str, Any]:
    """Hit@5 within T turns, hit rate by turn (cumulative) and the average turn of the hit (miss = T + 1)."""
    n = len(episodes)
    hits = [e.hit_turn for e in episodes]
    by_turn = [sum(1 for h in hits if h is not None and h <= t) / n if n else 0.0 for t in range(1, turns + 1)]
    avg = float(np.mean([h if h is not None else turns + 1 for h in hits])) if n else float(turns + 1)
    return {"users": n, "hit@5": round(by_turn[-1] if by_turn else 0.0, 4),
            "hit@5_by_turn": [round(x, 4) for x in by_turn], "avg_turn": round(avg, 3)}


def clue_table(episodes: Sequence[Episode]) -> dict[str, dict[str, float | int]]:
    """Per clue kind, over the turns that added it: how many, the share whose candidates held the target
    (`retrieved`, over the traced turns) and the share that showed it (`shown`: the hit at that clue)."""
    out: dict[str, dict[str, float | int]] = {}
    for kind in CLUE_KINDS:
        turns = [(t, e) for e in episodes for t, k in enumerate(e.clues) if k == kind]
        if not turns:
            continue
        traced = [e.retrieved[t] for t, e in turns if t < len(e.retrieved) and e.retrieved[t] is not None]
        shown = sum(1 for t, e in turns if e.hit_turn == t + 1)
        out[kind] = {"turns": len(turns), "shown": round(shown / len(turns), 4),
                     "retrieved": round(sum(traced) / len(traced), 4) if traced else None}
    return out


# ---------------------------------------------------------------------------------------------- the whole run
def cached_chat_model(settings: Settings) -> Any:
    """The configured chat model with an in-memory answer cache: an identical prompt is computed once."""
    from langchain_core.caches import InMemoryCache

    from chatbot.llm import make_chat_model

    model = make_chat_model(settings)
    model.cache = InMemoryCache()
    return model


def simulate(settings: Settings, n_users: int = 50, turns: int = 5, modes: Iterable[str] = MODES,
             systems: Iterable[str] = SYSTEMS, notes: bool = True, progress: bool = True,
             agent: Agent | None = None, seed: int = 0, targets: Iterable[str] = TARGETS) -> dict[str, Any]:
    """Run every (targets, system, mode) over the same users; returns the report (protocol, results, plot path,
    timing)."""
    from tqdm import tqdm

    modes, systems, populations = tuple(modes), tuple(systems), tuple(targets)
    for t in populations:
        if t not in TARGETS:
            raise TastebudError(f"targets must be {' or '.join(TARGETS)}, not {t!r}")
    for m in modes:
        if m not in MODES:
            raise TastebudError(f"mode must be cold, warm or both, not {m!r}")
    for s in systems:
        if s not in SYSTEMS:
            raise TastebudError(f"system must be one of {', '.join(SYSTEMS)}, not {s!r}")
    if n_users < 1 or turns < 1:
        raise TastebudError("--users and --turns must be at least 1")
    started = time.monotonic()
    data_dir = settings.resolved_data_dir
    if agent is None:
        agent = open_agent(settings, llm=cached_chat_model(settings), write_notes=notes)
    if "full" in systems and agent.scorer is None:
        raise TastebudError("the full system needs the interest model: run `tastebud train` first")
    cast = {t: _users_and_scripts(agent, data_dir, n_users, turns, seed, "test", t) for t in populations}
    results: list[dict[str, Any]] = []
    episodes: list[dict[str, Any]] = []
    bar = tqdm(total=sum(len(u) for u, _ in cast.values()) * len(systems) * len(modes),
               desc="simulated conversations", unit="conv", disable=not progress)
    with tempfile.TemporaryDirectory(prefix="tastebud-simulate-") as tmp:
        for population, (users, scripts) in cast.items():
            for mode in modes:
                for system in systems:
                    bar.set_postfix(targets=population, system=system, mode=mode)
                    eps = run_mode(agent, Path(tmp) / f"{population}-{system}-{mode}", users, scripts, mode, bar,
                                   ranking=system, write_notes=notes)
                    results.append({"system": system, "mode": mode, "targets": population, **summarise(eps, turns),
                                    "by_clue": clue_table(eps)})
                    episodes += [{"targets": population, "system": system, "mode": mode, **asdict(e)} for e in eps]
    bar.close()
    plot = plot_hits(results, data_dir / "simulate_hits.png", turns)
    detail = data_dir / "simulate_episodes.json"
    detail.write_text(json.dumps(episodes, ensure_ascii=False))
    scripts_out = [{"targets": t, "user": u.user, "target": u.target.id, "messages": [m for _, m in scripts[u.user]]}
                   for t, (users, scripts) in cast.items() for u in users]
    return {"protocol": PROTOCOL, "turns": turns, "seed": seed, "notes": notes, "results": results,
            "plot": str(plot), "episodes": str(detail), "seconds": round(time.monotonic() - started, 1),
            "examples": [{"user": s["user"], "target": agent.items[s["target"]].title, "messages": s["messages"]}
                         for s in scripts_out[:3]],
            "scripts": scripts_out}


# Blends tried by `tastebud simulate --tune`: (relevance, interest, popularity) weights, then MMR lambdas.
TUNE_WEIGHTS: tuple[tuple[float, float, float], ...] = (
    (0.45, 0.45, 0.10), (0.3, 0.5, 0.2), (0.2, 0.5, 0.3), (0.1, 0.6, 0.3), (0.0, 0.7, 0.3),
    (0.3, 0.3, 0.4), (0.2, 0.3, 0.5), (0.5, 0.2, 0.3), (0.1, 0.3, 0.6),
)
TUNE_LAMBDAS: tuple[float, ...] = (0.7, 0.85, 1.0)


def tune_blend(settings: Settings, n_users: int = 50, turns: int = 5, progress: bool = True,
               agent: Agent | None = None, seed: int = 1,
               weights: Sequence[tuple[float, float, float]] = TUNE_WEIGHTS,
               lambdas: Sequence[float] = TUNE_LAMBDAS) -> dict[str, Any]:
    """Choose the full system's blend weights and MMR lambda on *validation* users (never the test users).

    Each person's target is their validation film and the warm profile is what they liked before it, so the
    choice never sees the test films the simulate report is measured on. Every weight triple is tried at the
    current lambda, then the best triple at every lambda; the score is the mean Hit@5 of cold and warm mode
    (ties: the lower mean average turn)."""
    from tqdm import tqdm

    if n_users < 1 or turns < 1:
        raise TastebudError("--users and --turns must be at least 1")
    started = time.monotonic()
    if agent is None:
        agent = open_agent(settings, llm=cached_chat_model(settings), write_notes=False)
    if agent.scorer is None:
        raise TastebudError("tuning the blend needs the interest model: run `tastebud train` first")
    users, scripts = _users_and_scripts(agent, settings.resolved_data_dir, n_users, turns, seed, "valid")
    n_points = len(weights) + sum(1 for lam in lambdas if abs(lam - float(settings.mmr_lambda)) > 1e-9)
    bar = tqdm(total=n_points * len(users) * len(MODES), desc="tuning the blend on validation users", unit="conv",
               disable=not progress)
    rows: list[dict[str, Any]] = []

    def trial(w: tuple[float, float, float], lam: float) -> dict[str, Any]:
        """One blend tried (its row kept), the best Hit@5 so far on the bar."""
        rows.append(_blend_trial(agent, settings, users, scripts, turns, bar, w, lam))
        bar.set_postfix(best=f"{max(r['hit@5'] for r in rows):.3f}")
        return rows[-1]

    current = float(settings.mmr_lambda)
    best = max((trial(tuple(w), current) for w in weights), key=_blend_key)
    for lam in lambdas:
        if abs(lam - current) > 1e-9:
            row = trial((best["relevance"], best["interest"], best["popularity"]), float(lam))
            best = max(best, row, key=_blend_key)
    bar.close()
    return {"protocol": "blend chosen on validation users (target = validation film), mean Hit@5 of cold and warm",
            "users": len(users), "targets": [u.target.id for u in users], "turns": turns, "seed": seed,
            "trials": rows, "best": best,
            "seconds": round(time.monotonic() - started, 1)}


def _users_and_scripts(agent: Any, data_dir: Path, n_users: int, turns: int, seed: int, part: str,
                       targets: str = "held-out") -> tuple[list[SimUser], dict[str, list[tuple[str, str]]]]:
    """The simulated users of a run (test or validation part) and each one's (clue kind, message) per turn."""
    catalog: dict[str, Item] = dict(agent.items)
    users = pick_users(data_dir, catalog, n_users, seed=seed, part=part, targets=targets)
    genre_counts = Counter(g for it in catalog.values() for g in it.genres)
    return users, {u.user: reveal_clues(u.target, genre_counts, turns) for u in users}


def _blend_trial(agent: Agent, settings: Settings, users: Sequence[SimUser], scripts: dict[str, list[tuple[str, str]]],
                 turns: int, bar: Any, w: tuple[float, float, float], lam: float) -> dict[str, Any]:
    """Mean Hit@5 over cold and warm mode for one blend (relevance, interest, popularity weights, MMR lambda)."""
    tuned = settings.model_copy(update={"w_relevance": w[0], "w_interest": w[1], "w_popularity": w[2],
                                        "mmr_lambda": lam})
    by_mode = {}
    with tempfile.TemporaryDirectory(prefix="tastebud-tune-") as tmp:
        for mode in MODES:
            eps = run_mode(agent, Path(tmp) / mode, users, scripts, mode, bar, ranking="full",
                           write_notes=False, settings=tuned)
            by_mode[mode] = summarise(eps, turns)
    return {"relevance": w[0], "interest": w[1], "popularity": w[2], "mmr_lambda": lam,
            "hit@5": round(float(np.mean([r["hit@5"] for r in by_mode.values()])), 4),
            "avg_turn": round(float(np.mean([r["avg_turn"] for r in by_mode.values()])), 3),
            "cold_hit@5": by_mode["cold"]["hit@5"], "warm_hit@5": by_mode["warm"]["hit@5"]}


def _blend_key(r: dict[str, Any]) -> tuple[float, float]:
    """Higher Hit@5 first, then the earlier hit."""
    return (r["hit@5"], -r["avg_turn"])


def plot_hits(results: list[dict[str, Any]], path: Path, turns: int) -> Path:
    """A PNG of the cumulative hit rate per turn, one line per (system, mode), one panel per target population."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    populations = list(dict.fromkeys(r.get("targets", "held-out") for r in results)) or ["held-out"]
    fig, axes = plt.subplots(1, len(populations), figsize=(7 * len(populations), 4.5), squeeze=False)
    x = list(range(1, turns + 1))
    for ax, population in zip(axes[0], populations):
        rows = [r for r in results if r.get("targets", "held-out") == population]
        for r in rows:
            style = "-" if r["mode"] == "cold" else "--"
            ax.plot(x, r["hit@5_by_turn"], style, marker="o", label=f"{r['system']} ({r['mode']})")
        ax.set_xlabel("turn")
        ax.set_ylabel("Hit@5 by this turn")
        ax.set_ylim(0, 1)
        ax.set_xticks(x)
        ax.set_title(f"{population} targets: shown within the first t turns ({rows[0]['users']} users)"
                     if rows else "Simulated users")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def markdown_table(report: dict[str, Any]) -> str:
    """The results as a markdown table, then each clue kind's share of turns shown / retrieved."""
    turns = report["turns"]
    head = ["system", "mode", "users", f"Hit@5 ≤ {turns} turns", "avg turn", "targets"]
    head += [f"t{t}" for t in range(1, turns + 1)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["results"]:
        row = [r["system"], r["mode"], str(r["users"]), f"{r['hit@5']:.3f}", f"{r['avg_turn']:.2f}",
               r.get("targets", "held-out")]
        row += [f"{x:.2f}" for x in r["hit@5_by_turn"]]
        lines.append("| " + " | ".join(row) + " |")
    kinds = [k for k in CLUE_KINDS if any(k in (r.get("by_clue") or {}) for r in report["results"])]
    if kinds:
        lines += ["", "Per clue kind, the share of its turns that showed the target / held it among the candidates:",
                  "", "| system | mode | targets | " + " | ".join(kinds) + " |", "|" + "---|" * (3 + len(kinds))]
        for r in report["results"]:
            cells = []
            for k in kinds:
                c = (r.get("by_clue") or {}).get(k)
                got = "–" if c is None or c["retrieved"] is None else f"{c['retrieved']:.2f}"
                cells.append("–" if c is None else f"{c['shown']:.2f} / {got} ({c['turns']})")
            lines.append("| " + " | ".join([r["system"], r["mode"], r.get("targets", "held-out"), *cells]) + " |")
    return "\n".join(lines)
