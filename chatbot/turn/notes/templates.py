"""Text built by code alone, true by construction: template notes, `why` chips and the "tell me more" facts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatbot.turn.notes.facts import clean_reason, shorten
from chatbot.turn.notes.note import note_language
from chatbot.turn.replies import catalog_schema
from retrieval.fields import item_facts
from retrieval.schema import CatalogSchema
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

    schema = catalog_schema()
    if schema is not None:
        return catalog_note(item, schema, [clean_reason(r) for r in reasons if clean_reason(r)], note_language(language))
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

    schema = catalog_schema()
    if schema is not None:
        return catalog_note(item, schema, [], note_language(language), texts=True)
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


def catalog_note(item: Item, schema: CatalogSchema, reasons: list[str], language: str, texts: bool = False) -> str:
    """A schema catalog's item in one sentence from its facts (and its text fields when `texts`), with reasons."""
    zh = language == "zh"
    own = item_facts(item)
    kinds: list[str] = []
    for facet in schema.facets:
        values = own.get(facet.name) or []
        for value in values if isinstance(values, list) else [values]:
            words = facet.words_for(str(value))
            shown = (words.zh or [str(value)])[0] if zh else str(value).lower()
            if shown not in kinds:
                kinds.append(shown)
    parts: list[str] = kinds[:3]
    for role in schema.people:
        names = own.get(role.name) or []
        if names:
            parts.append(f"{role.role_zh or role.role_en}：{'、'.join(names[:2])}" if zh else
                         f"{role.role_en} {' and '.join(names[:2])}")
    for number in schema.numbers:
        value = own.get(number.name)
        if isinstance(value, (int, float)):
            parts.append(_number_words(number, value, zh))
    parts += kinds[3:]
    head = display_title(item.title)
    body = ("，".join(parts[:7]) + "。") if zh else (", ".join(parts[:7]) + ".") if parts else ""
    if not texts and body:  # a card's note: the title stands above it already
        sentence = body if zh else body[:1].upper() + body[1:]
    else:
        sentence = f"{head}：{body}" if zh else f"{head}: {body}" if body else f"{head}."
    if texts:
        for text in schema.texts:
            value = own.get(text.name)
            if value and text.show:
                shown = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
                sentence += f" {text.label_zh or text.name}：{shorten(shown, 300)}" if zh else \
                    f" {(text.label_en or text.name).capitalize()}: {shorten(shown, 300)}"
    if reasons:
        sentence += f"推荐理由：{'；'.join(reasons[:2])}。" if zh else f" Picked for you: {'; '.join(reasons[:2])}."
    return sentence


def _number_words(number: Any, value: float, zh: bool) -> str:
    """A number as a person says it: "20 minutes", "8 servings", "difficulty 2/5" (a scale shows its top)."""
    label, unit = (number.label_zh or number.name, number.unit.label_zh) if zh else \
        (number.label_en or number.name, number.unit.label_en)
    shown, top = f"{value:g}", number.range[1]
    if number.unit.name == "level" and top is not None:
        return f"{label}{shown}/{top:g}" if zh else f"{label} {shown}/{top:g}"
    if zh:
        return f"{label}{shown}{unit}"
    unit = unit[:-1] if value == 1 and unit.endswith("s") else unit  # 1 serving, 1 page
    return f"{shown} {unit}" if unit and label.startswith(unit) else f"{label} {shown} {unit}".rstrip()


def card_facts(item: Item) -> tuple[str, ...] | None:
    """A schema catalog's facts for an item's card ("soup", "20 minutes", "difficulty 1/5"); None for films."""
    schema = catalog_schema()
    if schema is None:
        return None
    own = item_facts(item)
    out = [_number_words(n, own[n.name], False) for n in schema.numbers if isinstance(own.get(n.name), (int, float))]
    for role in schema.people:
        out += [str(p) for p in (own.get(role.name) or [])[:2]]
    for facet in schema.facets:
        values = own.get(facet.name) or []
        out += [str(v) for v in (values if isinstance(values, list) else [values])[:2] if str(v) not in out]
    return tuple(out[:6])

