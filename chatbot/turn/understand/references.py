"""Which catalog items a message points at: positions in the last list ("the second one"), "it" / "that one",
and titles; split by what the person said about them (liked, disliked, seen)."""

from __future__ import annotations

from dataclasses import dataclass, field

from chatbot.turn.state import DialogueState
from chatbot.turn.understand.reading import Reading

ITEM_CUES = frozenset({"more_like", "ask_about", "liked", "disliked", "rejected"})


@dataclass
class PointedItems:
    """The items one message points at, by role."""

    references: list[int] = field(default_factory=list)  # 1-based positions in the last list
    referenced_ids: list[str] = field(default_factory=list)
    rejected_ids: list[str] = field(default_factory=list)
    mentioned_ids: list[str] = field(default_factory=list)
    liked_ids: list[str] = field(default_factory=list)
    disliked_ids: list[str] = field(default_factory=list)


def pronoun_target(state: DialogueState) -> str | None:
    """What "it"/"that one" points at: the item talked about last, or the only item shown."""
    if state.focus_id:
        return state.focus_id
    if len(state.last_shown) == 1:
        return state.last_shown[0]
    return None


def unresolved_item_cue(reading: Reading, state: DialogueState) -> bool:
    """True when the message asks about / wants more like an item that code could not pin down."""
    item_cues = reading.cues & ITEM_CUES
    if not item_cues or reading.references or reading.rejected_refs or reading.titles:
        return False
    if reading.points_at_focus:
        return pronoun_target(state) is None
    return bool(item_cues & {"more_like", "ask_about"})  # "something like a heist movie": the LLM reads it


def point_at_items(reading: Reading, state: DialogueState, title_kinds: dict[str, str],
                   notes: list[str]) -> PointedItems:
    """Resolve positions, pronouns and titles into item ids; notes say what could not be resolved."""
    items = PointedItems()
    last = state.last_shown
    negated_refs = _positions(reading, last, items, notes)
    items.rejected_ids += negated_refs
    item_cues = reading.cues & ITEM_CUES
    if item_cues and not items.referenced_ids and not title_kinds and not negated_refs and reading.points_at_focus:
        target = pronoun_target(state)
        if target is not None:
            items.referenced_ids.append(target)
            if target in last:
                items.references.append(last.index(target) + 1)
    items.mentioned_ids = list(title_kinds)
    _sort_by_feeling(reading, title_kinds, negated_refs, items)
    return items


def _positions(reading: Reading, last: tuple[str, ...], items: PointedItems, notes: list[str]) -> list[str]:
    """Positions in the last list into ids (-1 is the last one); the ids of negated positions ("not the second")."""
    for pos in reading.references:
        position = len(last) if pos == -1 else pos
        if 1 <= position <= len(last):
            items.references.append(position)
            items.referenced_ids.append(last[position - 1])
        else:
            notes.append(
                "there is no list to refer to yet" if not last else f"there is no item {position} in the last list"
            )
    negated_refs = []
    for pos in reading.rejected_refs:
        position = len(last) if pos == -1 else pos
        if 1 <= position <= len(last):
            negated_refs.append(last[position - 1])
    return negated_refs


def _sort_by_feeling(reading: Reading, title_kinds: dict[str, str], negated_refs: list[str],
                     items: PointedItems) -> None:
    """Titles and pointed-at items into liked, disliked and rejected, by the cue they came with."""
    for item_id, kind in title_kinds.items():
        if kind == "liked":
            items.liked_ids.append(item_id)
        elif kind == "disliked":
            items.disliked_ids.append(item_id)
        elif kind == "rejected":
            items.rejected_ids.append(item_id)
    cues = reading.cues
    if "liked" in cues and "disliked" not in cues:
        mentioned = [t for t, k in title_kinds.items() if k == "mentioned"]
        items.liked_ids += [i for i in items.referenced_ids + mentioned if i not in items.liked_ids]
    if "disliked" in cues and "liked" not in cues:
        items.disliked_ids += [i for i in items.referenced_ids + negated_refs if i not in items.disliked_ids]
    if "rejected" in cues:
        items.rejected_ids += [i for i in items.referenced_ids if i not in items.rejected_ids]
