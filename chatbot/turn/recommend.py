"""Retrieve and rank: the hard filters and exclusions, the query text, the ranking blend and the reasons an item fits.

Hard constraints are code: the person's slots and the context rules become one stricter filter set, and every
item the person already knows (shown, rejected, liked, disliked or seen in an earlier visit) is excluded before
retrieval and again after ranking. The soft wishes become the retrieval text. The reasons are chips in the
person's language (`replies.yaml`), which the notes writer receives already written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np

from chatbot.turn.notes.person_words import without_person_states
from chatbot.turn.replies import catalog_schema, say
from chatbot.turn.state import DialogueState, filters_for
from retrieval.fields import grouped
from retrieval.types import AGE_RATINGS, Candidate, Filters, Item

if TYPE_CHECKING:
    from chatbot.config import Settings
    from chatbot.storage.protocol import Store
    from chatbot.turn.context import RuleOutcome
    from ranking.model import InterestScorer
    from retrieval.search import Searcher

log = logging.getLogger(__name__)

RankingMode = Literal["full", "retrieval", "popularity"]
QUERY_CHARS = 1000  # the retrieval text is cut here
SIMILAR_LIKED = 0.5  # cosine at which a liked film is named as a reason ("like X, which you liked")


@dataclass(frozen=True)
class SavedTaste:
    """What the saved profile knows of the person, read once a turn: liked, disliked and seen ids."""

    liked: tuple[str, ...]
    disliked: tuple[str, ...]
    seen: tuple[str, ...]

    @classmethod
    def read(cls, profiles: Store, profile_id: str, new_profile: bool = False) -> SavedTaste:
        """The saved profile's liked, disliked and seen ids (nothing for a profile its first turn will create)."""
        if new_profile:
            return cls((), (), ())
        return cls(tuple(profiles.liked(profile_id)), tuple(profiles.disliked(profile_id)),
                   tuple(profiles.seen(profile_id)))


@dataclass(frozen=True)
class Found:
    """What retrieval found: the saved taste, the hard filters, the query text and the candidates, best first."""

    taste: SavedTaste
    filters: Filters
    query: str
    candidates: list[Candidate]
    toward: tuple[str, bool] | None = None  # (item field, highest first): a let-go bound's way, the list's order


@dataclass(frozen=True)
class Ranked:
    """The items to show, in order, with the reasons each fits and a notice key when ranking fell back."""

    items: tuple[Item, ...]
    reasons: Mapping[str, tuple[str, ...]]  # item id -> reason chips, in the person's language
    notice: str | None = None  # a replies.yaml key ("no_interest_model") to tell the person


def merge_filters(base: Filters, extra: Filters) -> Filters:
    """The stricter combination of two filter sets (context rules on top of the person's slots)."""
    def stricter_rating(a: str | None, b: str | None) -> str | None:
        ranks = [r for r in (a, b) if r in AGE_RATINGS]
        return min(ranks, key=AGE_RATINGS.index) if ranks else None

    def tighter(a: int | None, b: int | None, pick: Callable[..., int]) -> int | None:
        vals = [v for v in (a, b) if v is not None]
        return pick(vals) if vals else None

    wanted = tuple(g for g in base.genres_any if g not in extra.genres_none)
    return replace(
        base,
        genres_any=wanted,
        genres_none=tuple(dict.fromkeys(base.genres_none + extra.genres_none)),
        people_none=tuple(dict.fromkeys(base.people_none + extra.people_none)),
        max_age_rating=stricter_rating(base.max_age_rating, extra.max_age_rating),
        runtime_max=tighter(base.runtime_max, extra.runtime_max, min),
        runtime_min=tighter(base.runtime_min, extra.runtime_min, max),
        exclude_ids=base.exclude_ids | extra.exclude_ids,
        ranges=base.ranges + extra.ranges,  # every range holds (the tightest wins)
        any_of=base.any_of + extra.any_of,
        none_of=base.none_of + _unless_asked(extra.none_of, base.any_of),
    )


def _unless_asked(ruled_out: tuple[tuple[str, tuple[str, ...]], ...], asked: tuple[tuple[str, tuple[str, ...]], ...]
                  ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A context rule's exclusions minus the values the person asked for ("a warm soup" on a hot day stays warm)."""
    wanted = {(f, v) for f, values in asked for v in values}
    kept = ((f, tuple(v for v in values if (f, v) not in wanted)) for f, values in ruled_out)
    return tuple((f, values) for f, values in kept if values)


def describe_filters(f: Filters) -> dict[str, Any]:
    """The hard filters as a plain dict (only the ones that are set)."""
    out: dict[str, Any] = {}
    for name in ("genres_any", "genres_none", "languages", "countries", "people", "people_none"):
        if getattr(f, name):
            out[name] = list(getattr(f, name))
    for name in ("year_min", "year_max", "runtime_min", "runtime_max", "max_age_rating"):
        if getattr(f, name) is not None:
            out[name] = getattr(f, name)
    for field, low, high in f.ranges:  # several ranges on one field: the tightest is what holds
        if low is not None:
            out[f"{field}_min"] = max(low, out.get(f"{field}_min", low))
        if high is not None:
            out[f"{field}_max"] = min(high, out.get(f"{field}_max", high))
    for key, groups in (("{}", f.any_of), ("{}_none", f.none_of)):
        for field, values in groups:
            shown = out.setdefault(key.format(field), [])
            shown.extend(v for v in values if v not in shown)
    if f.exclude_ids:
        out["excluded_items"] = len(f.exclude_ids)
    return out


def turn_filters(state: DialogueState, rules: RuleOutcome | None) -> Filters:
    """The person's slots, made stricter by the context rules when there are any."""
    filters = filters_for(state)
    return merge_filters(filters, rules.filters) if rules is not None else filters


def unasked_filters(state: DialogueState, items: Mapping[str, Item]) -> Filters:
    """The values a schema catalog shows only when asked for (`asked_only`: a sauce is no dish), ruled out unless
    the person asked for one: by name ("a dipping sauce"), or by a value that mostly such items have ("a
    marinade" is a category of sauces)."""
    schema = catalog_schema()
    out = []
    for facet in schema.facets if schema is not None else ():
        only = set(facet.asked_only)
        if not only or any(f == facet.name and v in only for f, v in state.facets_any):
            continue
        kinds = {f.name for f in schema.facets if not f.multi}  # what an item is, not what it has ("contains fish")
        wanted = [(f, v) for f, v in state.facets_any if f != facet.name and f in kinds]
        if any(_mostly(items, f, v, facet.name, only) for f, v in wanted):
            continue
        out += [(facet.name, v) for v in facet.asked_only]
    return Filters(none_of=grouped(out))


def _mostly(items: Mapping[str, Item], field: str, value: str, facet: str, only: set[str]) -> bool:
    """True when at least half the items with this value have one of `only` as their `facet`."""
    having = [a for a in (dict(i.attributes) for i in items.values()) if _has(a.get(field), value)]
    return bool(having) and 2 * sum(_has(a.get(facet), o) for a in having for o in only) >= len(having)


def _has(cell: Any, value: str) -> bool:
    """True when a facet cell (one value or a list) holds the value."""
    return value in cell if isinstance(cell, (list, tuple)) else cell == value


def search_filters(state: DialogueState, rules: RuleOutcome, taste: SavedTaste) -> Filters:
    """The filters to retrieve with: films the saved profile liked, disliked or has seen never come back."""
    filters = turn_filters(state, rules)
    seen_before = set(taste.liked) | set(taste.disliked) | set(taste.seen)
    return replace(filters, exclude_ids=filters.exclude_ids | frozenset(seen_before))


def no_match_constraints(filters: Filters) -> str:
    """The hard filters in words for a "nothing matches" reply (excluded items left out)."""
    return ", ".join(f"{k}={v}" for k, v in describe_filters(filters).items() if k != "excluded_items")


def has_request(state: DialogueState, rules: RuleOutcome) -> bool:
    """True when there is enough to search on (a wish, a genre, a person, a seed film, a filter or context)."""
    ctx = state.context
    return bool(
        state.wishes or state.hints or state.genres or state.people or state.seed_ids or state.liked_ids
        or state.languages or state.countries or state.year_min or state.year_max
        or state.runtime_max or state.max_age_rating or state.genres_excluded or state.people_none
        or ctx.companions or ctx.mood or ctx.occasion or rules.wishes or rules.leanings
        or state.facets_any or state.facets_none or state.bounds
    )


def taste_ids(state: DialogueState, taste: SavedTaste) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Liked and disliked ids: this session's and the saved profile's (the session wins)."""
    disliked = tuple(dict.fromkeys(taste.disliked + state.disliked_ids))
    liked = tuple(i for i in dict.fromkeys(taste.liked + state.liked_ids + state.seed_ids) if i not in disliked)
    return liked, disliked


@dataclass(frozen=True)
class Recommender:
    """Retrieval and the ranking blend over one searcher, interest model and ranking mode."""

    searcher: Searcher
    scorer: InterestScorer | None
    settings: Settings
    ranking: RankingMode
    positions: Mapping[str, int]  # item id -> row in searcher.vectors

    def query_text(self, state: DialogueState, rules: RuleOutcome) -> str:
        """The soft wishes as retrieval text: the person's wishes (the LLM's guessed kinds when there is none),
        genres, people, seed films and context words."""
        parts: list[str] = list(state.wishes or state.hints)  # the LLM's guesses only when the person said no wish
        parts += list(state.genres)
        parts += [value for _, value in state.facets_any]  # a schema catalog's kinds asked for ("soup", "vegetarian")
        parts += list(state.people)
        for seed in state.seed_ids[-2:]:
            item = self.searcher.items.get(seed)
            if item is not None:
                parts.append(f"{' '.join(item.genres)} {item.plot or ''} {' '.join(item.directors)}".strip())
        parts += list(rules.wishes) + list(rules.leanings)
        text = " ".join(p for p in parts if p).strip()
        return text[:QUERY_CHARS]

    def retrieve(self, state: DialogueState, rules: RuleOutcome, taste: SavedTaste) -> Found:
        """The candidates that pass every hard filter, best first; films the saved profile knows never come back."""
        filters = search_filters(state, rules, taste)  # what a "nothing matches" reply names: not the unasked
        query = self.query_text(state, rules)
        strict = merge_filters(filters, unasked_filters(state, self.searcher.items))
        return Found(taste, filters, query, self.searcher.search(query, strict, k=self.settings.n_candidates))

    def rank(self, found: Found, state: DialogueState, rules: RuleOutcome, language: str) -> Ranked:
        """Blend relevance, interest and popularity, diversify with MMR, keep N; plus the reasons per item."""
        from ranking.rerank import rerank

        liked, disliked = taste_ids(state, found.taste)
        ids = [c.item.id for c in found.candidates]
        interest, personal, notice = self._interest(liked, disliked, found.query, ids)
        vectors = self.searcher.vectors[[self.positions[i] for i in ids]]
        lam = self.settings.mmr_lambda if self.ranking == "full" else 1.0
        ranked = rerank(found.candidates, interest, vectors, weights=self._weights(), mmr_lambda=lam,
                        n=self.settings.n_items, exclude_ids=found.filters.exclude_ids,
                        discovery=self._discovery_places(),
                        discovery_interest=personal)
        items = with_said(tuple(r.item for r in ranked), found, self.searcher.kinds.unknown_passes)
        if found.toward is not None:  # "shorter" than anything that fits: the shortest first (relaxation.py)
            name, highest = found.toward
            items = tuple(sorted(items, key=lambda it: getattr(it, name), reverse=highest))
        reasons = {it.id: self.reasons(it, state, rules, liked, language) for it in items}
        return Ranked(items, reasons, notice if not state.shown else None)  # said once a conversation

    def _interest(self, liked: tuple[str, ...], disliked: tuple[str, ...], query: str, ids: list[str]
                  ) -> tuple[Any, bool, str | None]:
        """The interest model's scores for the candidates (None outside "full" and until it has read a film the person
        liked), whether it read one, and a notice when the model is missing."""
        if self.ranking != "full":
            return None, False, None
        if self.scorer is None:
            return None, False, "no_interest_model"
        if not liked:  # a new person: the words and the popularity prior rank (see below)
            return None, False, None
        from ranking.model import Profile

        # the person's words reach the interest model beside the films they liked: with none, its words-only pathway
        # stood the films whose descriptions are nearest the words in for a history, which helps when the words name
        # films (those are seeds, liked, here) but not for a chat's clues ("a film noir from the 1990s"), whose
        # look-alike films' co-watched neighbours cost 8 points of Hit@5 in `tastebud simulate` (cold, 50 users)
        result = self.scorer.score_detailed(Profile(liked=liked, disliked=disliked, text=query), ids)
        for note in result.notes:
            log.info("interest scorer: %s", note)
        if all(i in result.unknown_profile_ids for i in liked):
            return None, False, None
        # the model joins the blend once it has read a film the person liked: before, it knows nothing of what they
        # want, and what it made of their dislikes alone pushed down the films most like those turned down, which in
        # a chat are often the kind asked for (`tastebud simulate`, cold, 50 validation users: Hit@5 0.88 -> 0.94 on
        # held-out targets, 0.84 -> 0.88 on balanced ones); the words and the popularity prior rank until then
        return result.scores, result.fallback is None, None

    def _discovery_places(self) -> int:
        """How many places leave the popularity prior out ("full" only; the first place always follows the blend)."""
        if self.ranking != "full":
            return 0
        return max(0, min(self.settings.discovery_slots, self.settings.n_items - 1))

    def _weights(self) -> Any:
        """The blend weights of this ranking mode (the settings' blend for "full")."""
        from ranking.rerank import Weights

        if self.ranking == "retrieval":
            return Weights(relevance=1.0, interest=0.0, popularity=0.0)
        if self.ranking == "popularity":
            return Weights(relevance=0.0, interest=0.0, popularity=1.0)
        return Weights(relevance=self.settings.w_relevance, interest=self.settings.w_interest,
                       popularity=self.settings.w_popularity)

    def reasons(self, item: Item, state: DialogueState, rules: RuleOutcome, liked: tuple[str, ...],
                language: str) -> tuple[str, ...]:
        """Short reasons an item fits: matched genres and wishes, context rules, a liked film it resembles."""
        reasons: list[str] = []
        matched = [g for g in item.genres if g in state.genres]
        if matched:
            reasons.append(say("reason_genres", language, genres=", ".join(matched)))
        if state.people:
            people = list(dict.fromkeys(p for p in item.people if p in state.people))  # a director who wrote it
            if people:
                reasons.append(say("reason_people", language, people=", ".join(people[:2])))
        if state.wishes:
            reasons.append(say("reason_wish", language, wish=without_person_states(state.wishes[-1])))
        for fired in rules.fired[:2]:
            reasons.append(own_situation(fired, state))
        similar = self.most_similar_liked(item, liked)
        if similar is not None:
            reasons.append(say("reason_liked", language, title=similar.title))
        return tuple(reasons)

    def most_similar_liked(self, item: Item, liked: tuple[str, ...]) -> Item | None:
        """The liked film closest to this item by content (cosine ≥ 0.5), if any."""
        pos = [self.positions[i] for i in liked[-20:] if i in self.positions]
        if not pos or item.id not in self.positions:
            return None
        sims = self.searcher.vectors[pos] @ self.searcher.vectors[self.positions[item.id]]
        best = int(np.argmax(sims))
        return self.searcher.items[self.searcher.ids[pos[best]]] if sims[best] >= SIMILAR_LIKED else None


SAID_PLACES = 2  # of the five: the best matches that say they fit a bound most items do not speak to


def with_said(items: tuple[Item, ...], found: Found, open_fields: frozenset[str]) -> tuple[Item, ...]:
    """Where a bound lets items that do not give the number pass (three in four recipes say nothing of servings),
    the last places go to the best matches that give a number inside it, unless `SAID_PLACES` shown already do:
    "dinner for eight" shows two dishes that say they feed eight or more, after the best picks that do not say."""
    bounded = [f for f, low, high in found.filters.ranges if f in open_fields and (low, high) != (None, None)]
    if not bounded or not items:
        return items

    def says(item: Item) -> bool:
        """True when the item gives every bounded number (the filters already checked the values)."""
        return all(dict(item.attributes).get(f) is not None for f in bounded)

    shown = {i.id for i in items}
    missing = SAID_PLACES - sum(says(i) for i in items)
    extra = [c.item for c in found.candidates if says(c.item) and c.item.id not in shown][:max(0, missing)]
    if not extra:
        return items
    keep = list(items)
    places = [i for i, it in enumerate(keep) if not says(it)][-len(extra):]  # the last shown that do not say
    for place, item in zip(places, extra):  # the best of them in the first of those places
        keep[place] = item
    return tuple(keep)


def own_situation(rule: str, state: DialogueState) -> str:
    """A context rule's name said of this person: "rain, snow, storm or cold → cozy" for someone in the rain is
    "rain → cozy" (notes built on the whole list called a rainy evening "rainy, snowy, stormy or cold")."""
    left, arrow, right = rule.partition("→")
    parts = [p.strip() for p in re.split(r",|\bor\b", left) if p.strip()]
    ctx = state.context
    own = [v for v in (ctx.weather, ctx.occasion, ctx.mood, ctx.part_of_day, *ctx.companions) if v and v in parts]
    return f"{own[0]} → {right.strip()}" if arrow and own and len(parts) > 1 else rule
