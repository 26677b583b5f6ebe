"""A relative bound let go when nothing fits: "shorter" than every film that fits the rest brings the shortest of them.

"Something shorter" after a list whose shortest film ran 76 minutes sets "at most 75 minutes" (understand/
refinements.py). When no film fits that and everything else, the person still wants the shortest films that fit
everything else, told honestly that none is shorter. So, once, the retrieval runs again with every bound this turn
set relative to the list shown last (`TurnIntent.relative`) put back as it was before the turn, and the films
nearest the asked way are shown, nearest first. Code decides this, not the LLM; a bound the person said in numbers
("under 90 minutes", 90分钟以内) is never relative and never let go, and the bound let go is not saved as asked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from chatbot.turn.recommend import Found, Recommender, describe_filters, turn_filters
from chatbot.turn.replies import say
from chatbot.turn.state import DialogueState

if TYPE_CHECKING:
    from chatbot.turn.context import RuleOutcome
    from chatbot.turn.events import Understood
    from chatbot.turn.intent import TurnIntent

# a relative slot -> (the item field it bounds, highest first, the replies.yaml key, the step from the bound to the
# value it went past: "at most 75 minutes" is "shorter than 76 minutes")
WAYS: dict[str, tuple[str, bool, str, int]] = {
    "runtime_max": ("runtime_min", False, "relaxed_shorter", 1),
    "runtime_min": ("runtime_min", True, "relaxed_longer", -1),
    "year_max": ("year", False, "relaxed_older", 1),
    "year_min": ("year", True, "relaxed_newer", -1),
}


@dataclass(frozen=True)
class Relaxed:
    """The answer's ground once a relative bound is let go: the state to save, what was found, what to say."""

    state: DialogueState  # this turn's state with the let-go bounds as they were before the turn
    found: Found  # the candidates nearest the asked way (at most n), with the way to order them
    said: str  # the line above the list, in the person's language: nothing is shorter; these are the shortest
    slots: tuple[str, ...]  # the bounds let go ("runtime_max")

    def panel(self, understood: Understood, rules: RuleOutcome) -> Understood:
        """The "what I understood" panel with the filters the list was found with and the line said about it."""
        return replace(understood, filters=describe_filters(turn_filters(self.state, rules)),
                       notes=understood.notes + (self.said.rstrip(":："),))


def relaxable(intent: TurnIntent, state: DialogueState) -> tuple[str, ...]:
    """The bounds this turn set relative to the last list and the state still holds (none said in numbers)."""
    return tuple(s for s in WAYS if s in intent.relative and getattr(intent, s) is not None
                 and getattr(state, s) == getattr(intent, s))


def relax(recommender: Recommender, found: Found, state: DialogueState, before: DialogueState, intent: TurnIntent,
          rules: RuleOutcome, language: str) -> Relaxed | None:
    """When nothing fits: the items nearest the asked way with this turn's relative bounds let go (back to what they
    were before the turn; items already shown stay out), or None when there is no such bound or still nothing fits."""
    slots = relaxable(intent, state)
    if not slots:
        return None
    eased = replace(state, **{s: getattr(before, s) for s in slots})
    again = recommender.retrieve(eased, rules, found.taste)
    name, highest, _, _ = WAYS[slots[0]]
    known = [c for c in again.candidates if getattr(c.item, name) is not None]
    if not known:
        return None
    nearest = sorted(known, key=lambda c: getattr(c.item, name), reverse=highest)[:recommender.settings.n_items]
    said = " ".join(say(WAYS[s][2], language, bound=getattr(intent, s) + WAYS[s][3]) for s in slots)
    return Relaxed(eased, replace(again, candidates=nearest, toward=(name, highest)), said, slots)
