"""Text built by code alone, true by construction: template notes, `why` chips and the "tell me more" facts."""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.turn.notes.facts import clean_reason, shorten
from chatbot.turn.notes.note import note_language
from retrieval.text import display_title
from retrieval.types import Item

MAX_CHIPS = 3  # `why` chips per card
CHIP_CHARS = 32  # longest chip


def why_chips(reasons: Sequence[str], limit: int = MAX_CHIPS) -> tuple[str, ...]:
    """Short chips for a card from the reasons: trimmed, deduplicated, at most `limit`."""
    chips: list[str] = []
    seen: set[str] = set()
    for reason in reasons:
        text = shorten(clean_reason(reason), CHIP_CHARS)
        key = text.lower()
        if text and key not in seen:
            seen.add(key)
            chips.append(text)
        if len(chips) >= limit:
            break
    return tuple(chips)


def template_note(item: Item, reasons: Sequence[str], language: str) -> str:
    """A note built only from the sheet and the reasons (prompts/note_fallback.yaml); always true."""
    from prompts import load_prompt

    return load_prompt("note_fallback").render(
        language=note_language(language),
        title=display_title(item.title),
        year=item.year,
        genres=list(item.genres),
        directors=list(item.directors),
        cast=list(item.cast),
        runtime_min=item.runtime_min,
        reasons=[clean_reason(r) for r in reasons if clean_reason(r)],
    ).user


def describe_item(item: Item, language: str = "en") -> str:
    """What the catalog knows about one item, written out from its facts (prompts/describe.yaml)."""
    from prompts import load_prompt

    return load_prompt("describe").render(
        language=note_language(language),
        title=display_title(item.title),
        year=item.year,
        genres=[g for g in item.genres if g != "IMAX"],
        directors=list(item.directors),
        cast=list(item.cast),
        writers=list(item.writers),
        runtime_min=item.runtime_min,
        age_rating=item.age_rating,
        plot=(item.plot or "").strip() or None,
        mean_rating=item.mean_rating if item.n_ratings else None,
        n_ratings=item.n_ratings,
        languages=list(item.languages),
        countries=list(item.countries),
        awards=item.awards,
    ).user
