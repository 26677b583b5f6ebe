"""DialogueState: what the conversation has established so far, and its pure update from a TurnIntent.

Rules of the update (one turn at a time, never mutating):
- list slots (wishes, wanted/excluded genres, wanted/excluded people, languages, countries) accumulate; a genre
  or person newly wanted leaves the excluded list and vice versa ("no animation" after "animation please" drops
  it); a person the same message rules out is never wanted ("nothing by Woody Allen" names him);
- scalar slots (year and runtime bounds, age rating, place, weather, part of day, mood, occasion)
  are replaced by a newer value: a new bound on a slot replaces the old one, a bound that now contradicts the
  other side of its field drops that side, and bounds on other fields stay for the whole conversation;
- companions are replaced when the person names who is watching again;
- `reset` clears every slot and the shown lists but keeps what the person rejected or disliked
  (rejected items never come back) and what they liked (their taste); slots stated in the same message
  ("start over: something funny") apply to the fresh state;
- `intent.cleared` names slots the person lifted ("any length is fine" clears the runtime bounds, "forget the
  year" the year bounds, "any director" the people), before this turn's own values apply;
- shown items are remembered per turn by `record_shown`; `filters_for` excludes every shown, rejected,
  disliked and liked id and the "more like" seeds, so "more like the second one" never returns the second one;
- `context_after` is the context part of `update` alone (the turn's context step reads the situation from it
  before the update); `apply_feedback` is the like / dislike / seen update of the feedback buttons.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from chatbot.profile_schema import SIGNALS
from chatbot.turn.intent import CONTEXT_SCALARS, LIST_SLOTS, REMOVABLE_SLOTS, SCALAR_SLOTS
from retrieval.fields import grouped
from retrieval.types import AGE_RATINGS, Filters
from retrieval.errors import TastebudError

if TYPE_CHECKING:
    from chatbot.turn.intent import TurnIntent

__all__ = [
    "MAX_WISHES", "REMOVABLE_SLOTS", "SIGNALS", "ContextSlots", "DialogueState", "apply_feedback", "check_signal",
    "context_after", "filters_for", "record_shown", "remove_slot", "reset", "set_live_weather", "state_from_json",
    "state_to_json", "update",
]

MAX_WISHES = 4  # soft wishes kept (newest last); older ones fall off so the query stays focused


@dataclass(frozen=True)
class ContextSlots:
    """The person's situation as understood so far (all optional)."""

    place: str | None = None  # canonical English city name ("Seattle"), resolved by the gazetteer
    place_said: str | None = None  # the words the person used ("西雅图", "seattle")
    country_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    timezone: str | None = None
    unknown_place: str | None = None  # a place the person named that the gazetteer does not know
    weather: str | None = None  # clear, cloudy, rain, snow, storm, fog, hot, cold
    weather_source: str | None = None  # "stated" (the person said it) or "live" (a weather service)
    temperature_c: float | None = None
    part_of_day: str | None = None  # morning, afternoon, evening, late night
    companions: tuple[str, ...] = ()  # alone, partner, kids, family, friends, colleagues
    mood: str | None = None
    occasion: str | None = None


@dataclass(frozen=True)
class DialogueState:
    """Accumulated slots of one conversation; a new value comes only from `update` and friends."""

    wishes: tuple[str, ...] = ()  # English soft wishes, the retrieval query text
    hints: tuple[str, ...] = ()  # what the LLM guessed and the person did not say: search words, never a reason
    genres: tuple[str, ...] = ()  # wanted (any of), MovieLens genre names
    genres_excluded: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    people_none: tuple[str, ...] = ()  # people ruled out ("nothing by Woody Allen")
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    max_age_rating: str | None = None
    languages: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    languages_none: tuple[str, ...] = ()  # film languages ruled out
    countries_none: tuple[str, ...] = ()  # film countries ruled out ("nothing American")
    # a schema catalog's own fields: facet values wanted and ruled out, bounds on its numbers
    facets_any: tuple[tuple[str, str], ...] = ()
    facets_none: tuple[tuple[str, str], ...] = ()
    bounds: tuple[tuple[str, str, float], ...] = ()  # (field, "min" | "max", value); one per field and side
    context: ContextSlots = field(default_factory=ContextSlots)
    seed_ids: tuple[str, ...] = ()  # items the person wants "more like" (mentioned or referenced)
    focus_id: str | None = None  # the item talked about last ("tell me more about it", "I've seen it")
    liked_ids: tuple[str, ...] = ()
    disliked_ids: tuple[str, ...] = ()
    rejected_ids: tuple[str, ...] = ()  # never shown again (disliked, seen, "not that one")
    shown: tuple[tuple[str, ...], ...] = ()  # item ids shown, one ordered tuple per answering turn
    language: str = "en"  # language of the person's latest message: en, zh, other
    turn: int = 0
    last_intent: str | None = None

    @property
    def last_shown(self) -> tuple[str, ...]:
        """The ids of the most recent list shown to the person (empty before the first answer)."""
        return self.shown[-1] if self.shown else ()

    @property
    def all_shown(self) -> frozenset[str]:
        """Every id shown so far in this conversation."""
        return frozenset(i for turn in self.shown for i in turn)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists instead of tuples)."""
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DialogueState:
        """Rebuild from `to_dict` output; unknown keys are an error (a session file from elsewhere)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise TastebudError(f"saved dialogue state has unknown fields: {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name == "context":
                ctx_known = {g.name for g in fields(ContextSlots)}
                bad = set(value or {}) - ctx_known
                if bad:
                    raise TastebudError(f"saved dialogue context has unknown fields: {', '.join(sorted(bad))}")
                ctx = dict(value or {})
                ctx["companions"] = tuple(ctx.get("companions") or ())
                value = ContextSlots(**ctx)
            elif f.name in ("shown", "facets_any", "facets_none", "bounds"):
                value = tuple(tuple(t) for t in value or ())
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)


def _jsonable(obj: Any) -> Any:
    """Tuples to lists, recursively."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _merge(old: tuple[str, ...], new: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Old values then new ones, without duplicates, order kept."""
    out = list(old)
    for value in new:
        if value not in out:
            out.append(value)
    return tuple(out)


def _without(values: tuple[str, ...], drop: list[str] | tuple[str, ...] | frozenset[str]) -> tuple[str, ...]:
    """The values not in `drop`."""
    return tuple(v for v in values if v not in drop)


def reset(state: DialogueState) -> DialogueState:
    """A fresh start that keeps only the person's taste (liked) and what must never come back."""
    return DialogueState(
        liked_ids=state.liked_ids,
        disliked_ids=state.disliked_ids,
        rejected_ids=state.rejected_ids,
        language=state.language,
        turn=state.turn,
        last_intent=state.last_intent,
    )


def _cleared(state: DialogueState, intent: TurnIntent) -> DialogueState:
    """The state this turn's intent starts from: fresh on `reset`, minus the slots the person lifted."""
    base = reset(state) if intent.intent == "reset" else state
    for name in intent.cleared:
        base = remove_slot(base, name)
    return base


def context_after(state: DialogueState, intent: TurnIntent) -> ContextSlots:
    """The context slots after this turn's intent (what `update` will hold): the situation the turn is in."""
    return _update_context(_cleared(state, intent).context, intent)


def update(state: DialogueState, intent: TurnIntent) -> DialogueState:
    """The state after this turn's intent: accumulate lists, override scalars, reset on request."""
    language = intent.language if intent.language != "other" or not state.turn else state.language
    new = replace(_cleared(state, intent), turn=state.turn + 1, last_intent=intent.intent, language=language)
    return replace(
        new,
        **_people_slots(new, intent),
        **_origin_slots(new, intent),
        context=_update_context(new.context, intent),
        **_wanted_slots(new, intent),
        **_bound_slots(new, intent),
        **_taste_slots(new, intent),
        **_talked_about(new, intent),
        **_catalog_slots(new, intent),
    )


def _catalog_slots(new: DialogueState, intent: TurnIntent) -> dict[str, Any]:
    """A schema catalog's facets and bounds: a value newly wanted leaves the ruled-out list and vice versa; a
    new bound replaces the old one on its side, and drops the other side when they now contradict."""
    wanted, ruled_out = set(map(tuple, intent.facets_any)), set(map(tuple, intent.facets_none))
    any_of = _merge(tuple(v for v in new.facets_any if v not in ruled_out), [tuple(v) for v in intent.facets_any])
    none_of = _merge(tuple(v for v in new.facets_none if v not in wanted), [tuple(v) for v in intent.facets_none])
    bounds = {(f, side): value for f, side, value in new.bounds if f not in intent.cleared_fields}
    for f, side, value in intent.bounds:
        bounds[(f, side)] = value
        other = "max" if side == "min" else "min"
        low, high = (value, bounds.get((f, other))) if side == "min" else (bounds.get((f, other)), value)
        if low is not None and high is not None and low > high:
            bounds.pop((f, other))
    return {"facets_any": tuple(v for v in any_of if v not in none_of), "facets_none": none_of,
            "bounds": tuple((f, side, v) for (f, side), v in bounds.items())}


def _wanted_slots(new: DialogueState, intent: TurnIntent) -> dict[str, Any]:
    """Wishes and hints (kept, newest last) and genres: a newly wanted genre leaves the excluded list, a newly
    excluded one the wanted list."""
    excluded = _merge(_without(new.genres_excluded, intent.genres), intent.genres_excluded)
    wanted = _merge(_without(new.genres, intent.genres_excluded), intent.genres)
    wanted = _without(wanted, intent.genres_excluded)
    wishes = _merge(new.wishes, [w for w in intent.wishes if w.strip()])[-MAX_WISHES:]
    hints = _merge(_without(new.hints, wishes), [h for h in intent.hints if h.strip() and h not in wishes])
    return {"wishes": wishes, "hints": hints[-MAX_WISHES:], "genres": wanted, "genres_excluded": excluded}


def _people_slots(new: DialogueState, intent: TurnIntent) -> dict[str, Any]:
    """Wanted and ruled-out people: a person newly wanted leaves the ruled-out list and vice versa."""
    wanted, ruled_out = _wanted_or_not(new.people, new.people_none, intent.people, intent.people_none)
    return {"people": wanted, "people_none": ruled_out}


def _origin_slots(new: DialogueState, intent: TurnIntent) -> dict[str, Any]:
    """Film languages and countries, wanted and ruled out, the same way as people."""
    languages, languages_none = _wanted_or_not(new.languages, new.languages_none, intent.languages,
                                               intent.languages_none)
    countries, countries_none = _wanted_or_not(new.countries, new.countries_none, intent.countries,
                                               intent.countries_none)
    return {"languages": languages, "languages_none": languages_none, "countries": countries,
            "countries_none": countries_none}


def _wanted_or_not(wanted: tuple[str, ...], ruled_out: tuple[str, ...], new_wanted: list[str],
                   new_ruled_out: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A list slot and its ruled-out twin after a turn: a value newly wanted leaves the ruled-out list and vice
    versa; said both ways in one turn, ruled out wins."""
    kept = _without(_merge(_without(wanted, new_ruled_out), new_wanted), new_ruled_out)
    return kept, _merge(_without(ruled_out, kept), new_ruled_out)


def _bound_slots(new: DialogueState, intent: TurnIntent) -> dict[str, Any]:
    """The scalar slots this intent sets; a bound that now contradicts the other side is dropped."""
    scalars: dict[str, Any] = {}
    for name in ("year_min", "year_max", "runtime_min", "runtime_max", "max_age_rating"):
        value = getattr(intent, name)
        if value is not None:
            scalars[name] = value
    # a newer "older than 1990" beats year_min 2000
    for lo, hi in (("year_min", "year_max"), ("runtime_min", "runtime_max")):
        lo_v = scalars.get(lo, getattr(new, lo))
        hi_v = scalars.get(hi, getattr(new, hi))
        if lo_v is not None and hi_v is not None and lo_v > hi_v:
            if lo in scalars:
                scalars[hi] = None
            else:
                scalars[lo] = None
    return scalars


def _taste_slots(new: DialogueState, intent: TurnIntent) -> dict[str, Any]:
    """Liked, disliked and rejected ids after what the person said about items this turn."""
    liked = _merge(_without(new.liked_ids, intent.disliked_ids), intent.liked_ids)
    disliked = _merge(_without(new.disliked_ids, intent.liked_ids), intent.disliked_ids)
    rejected = _merge(new.rejected_ids, list(intent.disliked_ids) + list(intent.rejected_ids))
    rejected = _without(rejected, intent.liked_ids)
    return {"liked_ids": liked, "disliked_ids": disliked, "rejected_ids": rejected}


def _talked_about(new: DialogueState, intent: TurnIntent) -> dict[str, Any]:
    """The "more like" seeds and the item in focus after the items this turn named or pointed at."""
    seeds = new.seed_ids
    if intent.intent == "more_like" and (intent.referenced_ids or intent.mentioned_ids):
        seeds = tuple(intent.referenced_ids) + tuple(i for i in intent.mentioned_ids if i not in intent.referenced_ids)
    elif intent.mentioned_ids and intent.intent == "recommend":
        seeds = tuple(intent.mentioned_ids)
    talked_about = list(intent.referenced_ids) + list(intent.mentioned_ids)
    focus = talked_about[0] if len(talked_about) == 1 else new.focus_id
    return {"seed_ids": seeds, "focus_id": focus}


def _update_context(ctx: ContextSlots, intent: TurnIntent) -> ContextSlots:
    """Context slots after this turn: a newly stated value replaces the old one."""
    changes: dict[str, Any] = {}
    if intent.place is not None:
        p = intent.place
        changes.update(
            place=p.name, place_said=p.said, country_code=p.country_code, lat=p.lat, lon=p.lon,
            timezone=p.timezone, unknown_place=None,
        )
        if ctx.place != p.name and ctx.weather_source == "live":
            changes.update(weather=None, weather_source=None, temperature_c=None)  # live weather was for elsewhere
    elif intent.unknown_place:
        changes.update(
            place=None, place_said=None, country_code=None, lat=None, lon=None, timezone=None,
            unknown_place=intent.unknown_place,
        )
        if ctx.weather_source == "live":
            changes.update(weather=None, weather_source=None, temperature_c=None)
    if intent.weather is not None:
        changes.update(weather=intent.weather, weather_source="stated", temperature_c=None)
    if intent.part_of_day is not None:
        changes["part_of_day"] = intent.part_of_day
    if intent.companions:
        changes["companions"] = tuple(intent.companions)
    if intent.mood is not None:
        changes["mood"] = intent.mood
    if intent.occasion is not None:
        changes["occasion"] = intent.occasion
    return replace(ctx, **changes) if changes else ctx


def set_live_weather(state: DialogueState, condition: str, temperature_c: float | None) -> DialogueState:
    """Record weather from a live service, unless the person stated the weather (what they say wins)."""
    if state.context.weather_source == "stated":
        return state
    ctx = replace(state.context, weather=condition, weather_source="live", temperature_c=temperature_c)
    return replace(state, context=ctx)


def record_shown(state: DialogueState, ids: list[str] | tuple[str, ...]) -> DialogueState:
    """Remember the ordered list of item ids shown in this turn (references like "the second one" use it)."""
    if not ids:
        return state
    return replace(state, shown=state.shown + (tuple(ids),))


def remove_slot(state: DialogueState, name: str, value: str | None = None) -> DialogueState:
    """Drop one value of a slot (the UI's "drop kids" button), or clear it when `value` is None."""
    if name in LIST_SLOTS:
        current = getattr(state, name)
        hints = () if name == "wishes" and value is None else state.hints  # clearing the wishes clears the guesses
        return replace(state, hints=hints, **{name: () if value is None else _without(current, [value])})
    if name in SCALAR_SLOTS:
        return replace(state, **{name: None})
    if name == "year":
        return replace(state, year_min=None, year_max=None)
    if name == "runtime":
        return replace(state, runtime_min=None, runtime_max=None)
    if name == "companions":
        current = state.context.companions
        return replace(state, context=replace(state.context, companions=() if value is None else _without(current, [value])))
    if name == "place":
        ctx = replace(state.context, place=None, place_said=None, country_code=None, lat=None, lon=None,
                      timezone=None, unknown_place=None)
        if ctx.weather_source == "live":
            ctx = replace(ctx, weather=None, weather_source=None, temperature_c=None)
        return replace(state, context=ctx)
    if name == "weather":
        return replace(state, context=replace(state.context, weather=None, weather_source=None, temperature_c=None))
    if name in CONTEXT_SCALARS:
        return replace(state, context=replace(state.context, **{name: None}))
    raise TastebudError(f"unknown slot {name!r}; slots that can be removed: {', '.join(REMOVABLE_SLOTS)}")


def filters_for(state: DialogueState) -> Filters:
    """The hard filters for a new recommendation: every slot constraint, minus every id already known to the person.

    Excluded: everything shown in this conversation, rejected, disliked, liked (they know it already) and the
    "more like" seeds (so "more like the second one" never answers with the second one).
    """
    known = (*state.rejected_ids, *state.disliked_ids, *state.liked_ids, *state.seed_ids)
    exclude = state.all_shown | frozenset(known)
    age = state.max_age_rating if state.max_age_rating in AGE_RATINGS else None
    return Filters(
        genres_any=state.genres,
        genres_none=state.genres_excluded,
        year_min=state.year_min,
        year_max=state.year_max,
        runtime_min=state.runtime_min,
        runtime_max=state.runtime_max,
        max_age_rating=age,
        languages=state.languages,
        countries=state.countries,
        people=state.people,
        people_none=state.people_none,
        ranges=_ranges(state.bounds),
        any_of=grouped(state.facets_any),
        none_of=grouped([*state.facets_none, *(("languages", v) for v in state.languages_none),
                         *(("countries", v) for v in state.countries_none)]),
        exclude_ids=exclude,
    )



def _ranges(bounds: tuple[tuple[str, str, float], ...]) -> tuple[tuple[str, float | None, float | None], ...]:
    """(field, side, value) bounds as (field, low, high) ranges."""
    out: dict[str, list[float | None]] = {}
    for f, side, value in bounds:
        out.setdefault(f, [None, None])[0 if side == "min" else 1] = value
    return tuple((f, low, high) for f, (low, high) in out.items())


def check_signal(signal: str) -> None:
    """A feedback signal must be like, dislike or seen (TastebudError otherwise)."""
    if signal not in SIGNALS:
        raise TastebudError(f"signal must be one of {', '.join(SIGNALS)}, not {signal!r}")


def apply_feedback(state: DialogueState, item_id: str, signal: str) -> DialogueState:
    """The state after like / dislike / seen on an item: a dislike or a seen item never comes back."""
    check_signal(signal)
    liked = tuple(i for i in state.liked_ids if i != item_id)
    disliked = tuple(i for i in state.disliked_ids if i != item_id)
    rejected = state.rejected_ids
    if signal == "like":
        liked += (item_id,)
    elif signal == "dislike":
        disliked += (item_id,)
        rejected = tuple(dict.fromkeys(rejected + (item_id,)))
    else:
        rejected = tuple(dict.fromkeys(rejected + (item_id,)))
    return replace(state, liked_ids=liked, disliked_ids=disliked, rejected_ids=rejected)


def state_to_json(state: DialogueState) -> str:
    """The state as JSON text for the profile store."""
    return json.dumps(state.to_dict(), ensure_ascii=False)


def state_from_json(raw: str | None) -> DialogueState:
    """A saved state (an empty one when nothing was saved yet)."""
    if not raw:
        return DialogueState()
    return DialogueState.from_dict(json.loads(raw))


def with_feedback_since(state: DialogueState, before: DialogueState, stored: DialogueState) -> DialogueState:
    """A turn's new state plus the likes, dislikes and "seen" given while it ran (a button, maybe on another
    worker): what the stored state gained since the turn read it `before`, so saving the turn loses none."""
    for item_id in stored.liked_ids:
        if item_id not in before.liked_ids:
            state = apply_feedback(state, item_id, "like")
    for item_id in stored.disliked_ids:
        if item_id not in before.disliked_ids:
            state = apply_feedback(state, item_id, "dislike")
    for item_id in stored.rejected_ids:
        if item_id not in before.rejected_ids and item_id not in stored.disliked_ids:
            state = apply_feedback(state, item_id, "seen")
    return state
