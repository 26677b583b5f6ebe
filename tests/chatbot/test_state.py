"""DialogueState turn by turn: slots accumulate, refinements override, reset clears, rejected items never return."""

from __future__ import annotations

import json

import pytest

from chatbot.turn.intent import PlaceSlot, TurnIntent
from chatbot.turn.state import (
    DialogueState,
    apply_feedback,
    context_after,
    filters_for,
    record_shown,
    remove_slot,
    set_live_weather,
    state_from_json,
    state_to_json,
    update,
)
from retrieval.errors import TastebudError

SEATTLE = PlaceSlot(said="Seattle", name="Seattle", country_code="US", lat=47.6, lon=-122.3, timezone="America/Los_Angeles")
BEIJING = PlaceSlot(said="北京", name="Beijing", country_code="CN", lat=39.9, lon=116.4, timezone="Asia/Shanghai")


def turn(state: DialogueState, **slots) -> DialogueState:
    """Apply one intent built from keyword slots."""
    return update(state, TurnIntent(**slots))


def test_slots_accumulate_across_turns():
    """Genres, wishes, companions and context from earlier turns stay while new ones are added."""
    s = turn(DialogueState(), intent="recommend", wishes=["cozy heartwarming"], genres=["Comedy"], companions=["kids"],
             place=SEATTLE, weather="rain", part_of_day="evening")
    s = turn(s, intent="refine", genres_excluded=["Horror", "Thriller"], runtime_max=110)
    s = turn(s, intent="refine", genres=["Animation"], wishes=["talking animals"])
    assert s.genres == ("Comedy", "Animation")
    assert s.genres_excluded == ("Horror", "Thriller")
    assert s.wishes == ("cozy heartwarming", "talking animals")
    assert s.runtime_max == 110
    assert s.context.companions == ("kids",)
    assert (s.context.place, s.context.weather, s.context.weather_source) == ("Seattle", "rain", "stated")
    assert s.turn == 3 and s.last_intent == "refine"
    f = filters_for(s)
    assert f.genres_any == ("Comedy", "Animation") and f.genres_none == ("Horror", "Thriller") and f.runtime_max == 110


def test_refinements_override_and_negation_moves_a_genre():
    """A new runtime bound replaces the old; "no animation" after "animation please" removes it from wanted."""
    s = turn(DialogueState(), genres=["Animation", "Comedy"], runtime_max=120, year_min=2000)
    s = turn(s, intent="refine", runtime_max=95, genres_excluded=["Animation"])
    assert s.runtime_max == 95
    assert s.genres == ("Comedy",) and s.genres_excluded == ("Animation",)
    s = turn(s, intent="refine", genres=["Animation"])  # changed their mind again
    assert "Animation" in s.genres and "Animation" not in s.genres_excluded
    s = turn(s, intent="refine", year_max=1990)  # "older than 1990" contradicts year_min 2000: the newer word wins
    assert (s.year_min, s.year_max) == (None, 1990)


def test_companions_and_place_are_replaced_by_a_new_statement():
    """Naming who watches or where you are again replaces the old value; live weather for the old place goes."""
    s = turn(DialogueState(), companions=["kids"], place=SEATTLE)
    s = set_live_weather(s, "clear", 21.0)
    assert s.context.weather == "clear" and s.context.weather_source == "live"
    s = turn(s, intent="refine", companions=["partner"], place=BEIJING)
    assert s.context.companions == ("partner",)
    assert s.context.place == "Beijing" and s.context.timezone == "Asia/Shanghai"
    assert s.context.weather is None  # Seattle's live weather does not hold in Beijing


def test_stated_weather_wins_over_live():
    """Live weather never overwrites what the person said."""
    s = turn(DialogueState(), place=SEATTLE, weather="rain")
    assert set_live_weather(s, "clear", 25.0).context.weather == "rain"


def test_reset_clears_slots_but_rejected_items_never_come_back():
    """Start over clears every slot and the shown lists; disliked/rejected ids stay excluded."""
    s = turn(DialogueState(), genres=["Horror"], companions=["friends"], runtime_max=90, place=SEATTLE)
    s = record_shown(s, ["ml:1", "ml:2", "ml:3"])
    s = turn(s, intent="feedback", rejected_ids=["ml:2"], disliked_ids=["ml:3"], liked_ids=["ml:1"])
    assert {"ml:1", "ml:2", "ml:3"} <= filters_for(s).exclude_ids
    s = turn(s, intent="reset")
    assert s.genres == () and s.runtime_max is None and s.context.place is None and s.context.companions == ()
    assert s.shown == () and s.last_intent == "reset"
    assert s.liked_ids == ("ml:1",)  # taste is kept
    f = filters_for(s)
    assert {"ml:1", "ml:2", "ml:3"} <= f.exclude_ids  # liked ones are known to the person already
    assert f.genres_any == () and f.runtime_max is None


def test_reset_with_new_slots_in_the_same_message():
    """"Start over: something funny" clears the old slots and keeps the new one."""
    s = turn(DialogueState(), genres=["Horror"], runtime_max=90)
    s = turn(s, intent="reset", genres=["Comedy"])
    assert s.genres == ("Comedy",) and s.runtime_max is None


def test_more_like_the_second_one_excludes_the_reference_itself():
    """The item a "more like" refers to becomes the seed and is never recommended back."""
    s = record_shown(turn(DialogueState(), genres=["Sci-Fi"]), ["ml:10", "ml:20", "ml:30"])
    s = turn(s, intent="more_like", references=[2], referenced_ids=["ml:20"])
    assert s.seed_ids == ("ml:20",) and s.focus_id == "ml:20"
    assert {"ml:10", "ml:20", "ml:30"} <= filters_for(s).exclude_ids
    # a title named by the person (never shown) is excluded too when it is the seed
    s = turn(s, intent="more_like", mentioned_ids=["ml:99"])
    assert s.seed_ids == ("ml:99",) and "ml:99" in filters_for(s).exclude_ids


def test_shown_items_are_remembered_per_turn():
    """record_shown keeps one ordered tuple per answering turn; last_shown is the newest."""
    s = record_shown(DialogueState(), ["a", "b"])
    s = record_shown(s, ["c", "d", "e"])
    assert s.shown == (("a", "b"), ("c", "d", "e")) and s.last_shown == ("c", "d", "e")
    assert record_shown(s, []) is s


def test_remove_slot_for_the_ui_buttons():
    """Dropping "kids", one genre, or the whole runtime bound; an unknown slot is a clear error."""
    s = turn(DialogueState(), companions=["kids", "partner"], genres=["Comedy", "Drama"], runtime_min=80, runtime_max=100,
             place=SEATTLE, weather="rain")
    assert remove_slot(s, "companions", "kids").context.companions == ("partner",)
    assert remove_slot(s, "genres", "Drama").genres == ("Comedy",)
    cleared = remove_slot(s, "runtime")
    assert (cleared.runtime_min, cleared.runtime_max) == (None, None)
    no_place = remove_slot(s, "place")
    assert no_place.context.place is None and no_place.context.weather == "rain"  # stated weather stays
    with pytest.raises(TastebudError, match="unknown slot 'colour'"):
        remove_slot(s, "colour", "red")


def test_cleared_slots_in_an_intent():
    """"Any length is fine" lifts the runtime bounds."""
    s = turn(DialogueState(), runtime_max=90)
    assert turn(s, intent="refine", cleared=["runtime"]).runtime_max is None


def test_language_follows_the_latest_message():
    """The reply language is the language of the latest message; "other" (an emoji) keeps the previous one."""
    s = turn(DialogueState(), language="zh")
    assert s.language == "zh"
    assert turn(s, language="en").language == "en"
    assert turn(s, language="other").language == "zh"


def test_json_round_trip():
    """to_dict -> JSON -> from_dict gives back the same state, for saving sessions."""
    s = turn(DialogueState(), intent="recommend", wishes=["cozy"], genres=["Comedy"], genres_excluded=["Horror"],
             companions=["kids"], place=BEIJING, weather="rain", part_of_day="evening", mood="tired",
             occasion="date night", year_min=1990, max_age_rating="PG", language="zh")
    s = record_shown(s, ["ml:1", "ml:2"])
    s = turn(s, intent="feedback", liked_ids=["ml:1"], rejected_ids=["ml:2"], references=[1], referenced_ids=["ml:1"])
    again = DialogueState.from_dict(json.loads(json.dumps(s.to_dict(), ensure_ascii=False)))
    assert again == s
    assert again.context.place == "Beijing" and again.shown == (("ml:1", "ml:2"),)


def test_from_dict_rejects_unknown_fields():
    """A session file with fields this version does not know is a clear error, not a silent loss."""
    data = DialogueState().to_dict()
    data["favourite_colour"] = "red"
    with pytest.raises(TastebudError, match="favourite_colour"):
        DialogueState.from_dict(data)


def test_update_is_pure():
    """update never changes the state it was given."""
    s = turn(DialogueState(), genres=["Comedy"])
    before = s.to_dict()
    turn(s, genres_excluded=["Comedy"], runtime_max=80)
    assert s.to_dict() == before


@pytest.mark.parametrize("slots", [
    {"intent": "refine", "companions": ["partner"], "mood": "happy"},
    {"intent": "reset", "wishes": ["something funny"]},
    {"intent": "reset", "place": BEIJING},
    {"intent": "refine", "cleared": ["place", "companions"], "weather": "snow"},
    {"intent": "refine", "unknown_place": "Atlantis"},
])
def test_context_after_is_the_context_update_holds(slots):
    """The context step reads the same context slots the update then keeps (reset and lifted slots included)."""
    s = turn(DialogueState(), intent="recommend", place=SEATTLE, weather="rain", companions=["kids"], mood="sad")
    s = set_live_weather(remove_slot(s, "weather"), "clear", 20.0)
    intent = TurnIntent(**slots)
    assert context_after(s, intent) == update(s, intent).context


def test_feedback_moves_an_item_between_liked_disliked_and_rejected():
    """A like can be taken back by a dislike; a dislike or a seen item is never shown again."""
    s = DialogueState(liked_ids=("a",), rejected_ids=("r",))
    liked = apply_feedback(s, "b", "like")
    assert (liked.liked_ids, liked.disliked_ids, liked.rejected_ids) == (("a", "b"), (), ("r",))
    disliked = apply_feedback(liked, "b", "dislike")
    assert (disliked.liked_ids, disliked.disliked_ids, disliked.rejected_ids) == (("a",), ("b",), ("r", "b"))
    seen = apply_feedback(disliked, "a", "seen")
    assert (seen.liked_ids, seen.disliked_ids, seen.rejected_ids) == ((), ("b",), ("r", "b", "a"))
    assert s == DialogueState(liked_ids=("a",), rejected_ids=("r",)), "the update is pure"
    with pytest.raises(TastebudError, match="signal must be one of like, dislike, seen"):
        apply_feedback(s, "b", "love")


def test_state_json_round_trip():
    """What the profile store keeps reads back as the same state; nothing saved yet reads as a fresh state."""
    s = record_shown(turn(DialogueState(), intent="recommend", genres=["Comedy"], place=SEATTLE), ["x", "y"])
    assert state_from_json(state_to_json(s)) == s
    assert state_from_json(None) == DialogueState() and state_from_json("") == DialogueState()


def test_a_new_bound_replaces_the_old_one_and_other_fields_stay():
    """A new bound on a slot replaces the old one; the other side of a field stays unless it now contradicts it;
    bounds on other fields stay for the whole conversation."""
    s = turn(DialogueState(), genres=["Thriller"], runtime_max=120, year_min=1990, year_max=1999, max_age_rating="PG-13")
    s = turn(s, intent="refine", runtime_max=100)
    assert (s.runtime_max, s.year_min, s.year_max, s.max_age_rating) == (100, 1990, 1999, "PG-13")
    s = turn(s, intent="refine", year_min=1995)  # "after 1994": the decade's end stays
    assert (s.year_min, s.year_max) == (1995, 1999)
    s = turn(s, intent="refine", year_min=2005)  # contradicts the old upper bound: that one goes
    assert (s.year_min, s.year_max, s.runtime_max) == (2005, None, 100)


@pytest.mark.parametrize(("cleared", "gone", "kept"), [
    (["runtime"], ("runtime_min", "runtime_max"), ("year_min", "people")),  # "any length", 时长无所谓
    (["year"], ("year_min", "year_max"), ("runtime_max", "people_none")),  # "forget the year", 年份不限
    (["people", "people_none"], ("people", "people_none"), ("runtime_max", "year_max")),  # "any director"
])
def test_lifting_a_field_removes_only_that_field(cleared, gone, kept):
    """Words that lift one field clear its bounds and nothing else."""
    s = turn(DialogueState(), runtime_min=90, runtime_max=120, year_min=1980, year_max=1989,
             people=["Steven Spielberg"], people_none=["Woody Allen"])
    s = turn(s, intent="refine", cleared=cleared)
    assert all(getattr(s, name) in (None, ()) for name in gone)
    assert all(getattr(s, name) not in (None, ()) for name in kept)


def test_people_ruled_out_and_wanted():
    """A person ruled out is a hard filter; wanting them again lifts it; a person the same message rules out is
    never wanted (a name found in "nothing by Woody Allen" is no wish for him)."""
    s = turn(DialogueState(), people=["Woody Allen"], people_none=["Woody Allen"])
    assert s.people == () and s.people_none == ("Woody Allen",)
    assert filters_for(s).people_none == ("Woody Allen",)
    s = turn(s, intent="refine", people=["Woody Allen"])
    assert s.people == ("Woody Allen",) and s.people_none == ()
    s = turn(s, intent="refine", people_none=["Woody Allen", "Adam Sandler"])
    assert s.people == () and set(s.people_none) == {"Woody Allen", "Adam Sandler"}
    assert state_from_json(state_to_json(s)) == s


def test_a_like_given_while_a_turn_ran_survives_the_turns_save():
    from chatbot.turn.state import with_feedback_since

    before = apply_feedback(DialogueState(shown=(("ml:1", "ml:2", "ml:3"),)), "ml:1", "like")
    # meanwhile (another tab, another worker) the person liked ml:2, disliked ml:3 and took back nothing
    stored = apply_feedback(apply_feedback(before, "ml:2", "like"), "ml:3", "dislike")
    answered = record_shown(before, ["ml:4"])  # what the turn computed from `before`
    saved = with_feedback_since(answered, before, stored)
    assert saved.liked_ids == ("ml:1", "ml:2") and saved.disliked_ids == ("ml:3",)
    assert "ml:3" in saved.rejected_ids and "ml:4" in saved.all_shown  # the turn's own change stays too
    assert with_feedback_since(answered, before, before) == answered  # nothing happened meanwhile: unchanged
