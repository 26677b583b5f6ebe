"""Text built by code alone, true by construction: template notes, `why` chips and the "tell me more" facts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from chatbot.turn.notes.facts import clean_reason, reason_value, shorten
from chatbot.turn.notes.measures import (NOTE_LENGTH, foods_zh, note_length, note_names, shared_skeleton,
                                         skeleton_grams)
from chatbot.turn.notes.note import note_language
from chatbot.turn.notes.qualities import QualityLexicon
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


def template_note(
    item: Item, reasons: Sequence[str], language: str, shape: int = 0, written: Sequence[tuple[str, Item]] = (),
) -> str:
    """A note built only from the item's facts (prompts/note_fallback.yaml): a sentence, true, claiming no quality;
    `shape` (the card's place) picks one of its sentence shapes, and where the note would share a skeleton with a
    note of the answer already `written` (with its item), another shape or fewer facts, so that one answer's notes
    do not read alike."""
    language = note_language(language)
    schema = catalog_schema()
    variants = [v for k in range(3 if written else 1) for v in (
        _catalog_variants(item, schema, list(reasons), language, (shape + k) % 3) if schema is not None
        else _film_variants(item, reasons, language, (shape + k) % 3))]
    return _pick(variants, item, language, [skeleton_grams(t, language, note_names(o)) for t, o in written])


def _film_variants(item: Item, reasons: Sequence[str], language: str, shape: int) -> list[dict[str, Any]]:
    """A film's template values in one sentence shape, with and without its plot, lead and runtime."""
    cut = _first_sentence(item.plot)
    base = _film_values(item, reasons, language) | {"shape": shape}
    words = note_length(_render(base | {"plot": None}), language)
    plots = [_cut_words(cut, NOTE_LENGTH["en"][1] - words - extra) for extra in (0, 4)] if cut and language == "en" \
        else []
    casts = [base["cast"], list(item.cast[:2])] if language == "en" else [base["cast"], base["cast"][:1]]
    variants = [base | {"plot": p, "runtime": r, "cast": c} for p in (*plots, None) for c in casts for r in (False, True)]
    return variants + [v | {"cast": [], "year": None} for v in variants[:2]]  # fewer facts: read less alike


def _film_values(item: Item, reasons: Sequence[str], language: str) -> dict[str, Any]:
    """The template's variables for a film (reasons turned into facts: a liked film, asked-for people)."""
    liked, people = _read_reasons(reasons, item)
    lead = [p for p in item.cast[:2] if p not in people]
    directors = list(item.directors[:1])
    return dict(language=language, kind="film", title=display_title(item.title), year=item.year,
                genres=[g for g in item.genres if g != "IMAX"], directors=directors,
                cast=lead if language == "zh" else lead[:1], runtime_min=item.runtime_min, runtime=False,
                plot=None, liked=liked, asked_people=[p for p in people if p not in directors],  # named once
                **(_NO_CATALOG | {"rating": item.age_rating}))


_NO_CATALOG: dict[str, Any] = dict(noun="", noun_zh="", measure="", kinds=[], makers=[], text_label="", parts=[],
                                   counts=[], rating=None, numbers=[], snippet=None, foods_zh=[])


def _render(values: Mapping[str, Any]) -> str:
    """The fallback template rendered with these values."""
    from prompts import load_prompt

    return re.sub(r"\s+", " ", load_prompt("note_fallback").render(**values).user).strip()


def _pick(
    variants: Sequence[Mapping[str, Any]], item: Item, language: str, others: Sequence[set[tuple[str, ...]]] = (),
) -> str:
    """The first variant that claims nothing unsupported, shares no skeleton with the `others` (word 4-grams of
    the answer's other notes) and is of the right length, as near as it can."""
    lexicon = QualityLexicon.served()
    names = note_names(item, [str(v.get("liked") or "") for v in variants])
    notes = list(dict.fromkeys(_render(v) for v in variants))
    true = [n for n in notes if not lexicon.unsupported(n, item, language, names)] or notes[-1:]
    low, high = NOTE_LENGTH[language]

    def cost(note: str) -> tuple[int, int]:
        """Shared skeletons first, then words out of range."""
        shared = len(shared_skeleton(skeleton_grams(note, language, names), others)) if others else 0
        return shared, max(low - note_length(note, language), note_length(note, language) - high, 0)

    return min(true, key=cost)


def _read_reasons(reasons: Sequence[str], item: Item) -> tuple[str | None, list[str]]:
    """From the ranking's reasons, what a note can say as fact: the title of a liked item this one resembles and
    the item's own people the person asked for. Wishes and rules are left out: they could claim a quality."""
    liked, people = None, []
    for reason in reasons:
        text = clean_reason(reason)
        for language in ("en", "zh"):
            found = reason_value("reason_liked", "title", language, text)
            liked = liked or found
            named = reason_value("reason_people", "people", language, text)
            people += [p for p in re.split(r",\s*|、", named or "") if p in item.people]
    return liked, list(dict.fromkeys(people))  # a director who wrote it too is named once


def _first_sentence(text: str | None) -> str | None:
    """The first sentence of a text, its first letter lower-cased unless it starts a name."""
    text = re.sub(r"\s+", " ", text or "").strip()
    if not text:
        return None
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)[0].rstrip(".!? ")
    return first[:1].lower() + first[1:] if re.match(r"(?:A|An|The|In|On|When|After|As)\b", first) else first


def _cut_words(text: str, budget: int) -> str | None:
    """The text cut to at most `budget` words, at a comma when one is near, else with an ellipsis; None when tiny."""
    words = text.split()
    if budget < 5:
        return None
    if len(words) <= budget:
        return text + "."
    cut = " ".join(words[:budget])
    at = cut.rfind(",")
    return cut[:at] + "." if at > len(cut) // 2 else cut.rstrip(",;:") + "\u2026"


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
    """A schema catalog's item as a note a person would write (its kind, main parts, time), true by construction;
    with `texts`, every fact and its text fields ("tell me more")."""
    if texts:
        return _catalog_description(item, schema, language)
    return _pick(_catalog_variants(item, schema, reasons, language, 0), item, language)


def _catalog_variants(
    item: Item, schema: CatalogSchema, reasons: list[str], language: str, shape: int,
) -> list[dict[str, Any]]:
    """A catalog item's template values in one sentence shape, with more or fewer of its parts, numbers and
    counts."""
    zh = language == "zh"
    own = item_facts(item)
    liked, _ = _read_reasons(reasons, item)
    kinds, dropped = _kind_words(own, schema, zh)
    listed = next((f for f in schema.texts if f.show and f.multi and own.get(f.name)), None)
    parts = main_parts(own.get(listed.name) or []) if listed else []
    foods = foods_zh(main_parts(own.get(listed.name) or [], 6)) if listed and zh else []  # what 鸡汤 is made of
    text = next((f for f in schema.texts if f.show and not f.multi and own.get(f.name)), None)
    base = dict(_NO_CATALOG, language=language, kind="catalog", shape=shape, title=display_title(item.title),
                year=None, genres=[], directors=[], cast=[], runtime_min=None, runtime=False, plot=None, liked=liked,
                asked_people=[], noun_zh=schema.noun.zh, measure=schema.noun.measure_zh,
                kinds=kinds, noun="" if dropped else schema.noun.en,
                makers=[str(p) for f in schema.people for p in (own.get(f.name) or [])][:2],
                text_label=(listed.label_zh or listed.name) if listed and zh else (listed.name if listed else ""),
                numbers=[_number_phrase(n, own[n.name], zh) for n in schema.numbers
                         if isinstance(own.get(n.name), (int, float))][:3])
    snippet = _first_sentence(str(own[text.name])) if text and not zh else None
    counts = [((f.label_zh or f.name) if zh else (f.label_en or f.name), len(own[f.name])) for f in schema.texts
              if f.multi and isinstance(own.get(f.name), list)]
    variants = [base | {"parts": [] if zh else parts[:k], "counts": counts if c else [], "foods_zh": foods[:k],
                        "snippet": _cut_words(snippet, 12) if snippet and k else None}
                for c in ((True, False) if zh else (False, True)) for k in (3, 2, 0)]
    variants += [v | {"kinds": [], "noun": schema.noun.en} for v in variants]
    return variants + [v | {"numbers": v["numbers"][:1]} for v in variants if len(v["numbers"]) > 1]


def _kind_words(own: Mapping[str, Any], schema: CatalogSchema, zh: bool) -> tuple[list[str], bool]:
    """The item's one-valued facet values as a person says them ("beef main", "牛肉主菜"), repeats left out, and
    whether the last is a noun itself ("a drink", not "a drink dish")."""
    out: list[str] = []
    nouns: list[bool] = []
    binary: list[str] = []  # a two-valued facet ("warm", "cold") reads as a kind only when nothing else does
    for facet in (f for f in schema.facets if not f.multi):
        value = own.get(facet.name)
        if not isinstance(value, str) or not value:
            continue
        words = facet.words_for(value)
        shown = next((w for w in words.zh if len(w) >= 2), words.zh[0] if words.zh else "") if zh else value.lower()
        if 0 < len(facet.vocabulary) <= 3:
            kind = words.zh[0] + schema.noun.zh if zh and words.zh else shown
            if kind:  # a facet with no Chinese words says nothing in a Chinese note ("X是一道，…")
                binary.append(kind)
        elif shown and not any(shown in o or o in shown for o in out):
            out.append(shown)
            nouns.append(zh or bool({f"{value.lower()}s", f"{value.lower()}es"} & {w.lower() for w in words.en}))
    if out:
        return out, nouns[len(out) - 1] if len(out) <= 2 else nouns[1]
    return binary[:1], zh and bool(binary)


def main_parts(lines: Sequence[Any], limit: int = 3) -> list[str]:
    """The main ingredients of a recipe's lines ("1 cup freshly grated Parmesan cheese" -> "Parmesan cheese"),
    leaving out what every kitchen has (salt, water, oil ...)."""
    out: list[str] = []
    staples: list[str] = []  # salt, water ...: named only when the dish has too few other parts
    for line in lines:
        text = re.sub(r"\([^)]*\)", " ", str(line)).split(",")[0]
        if re.search(r"\bto taste\b|\boptional\b", text, re.I):
            continue
        words = [w for w in re.findall(r"[A-Za-z\u00c0-\u024f'-]+", text)
                 if not set(w.lower().split("-")) <= _MEASURES]
        name = " ".join(words[-3:]).strip("-' ")
        if name and name.lower() not in (o.lower() for o in out + staples):
            (staples if name.lower().split()[-1] in _STAPLES else out).append(name)
    return (out + staples)[:limit]


_MEASURES = frozenset(
    "cup cups teaspoon teaspoons tablespoon tablespoons tsp tbsp ounce ounces oz pound pounds lb lbs g kg ml l "
    "gram grams litre liter package packages can cans jar jars large small medium whole fresh freshly grated "
    "chopped sliced minced diced finely coarsely coarsely-chopped finely-chopped crushed peeled bottled prepared "
    "condensed skim a an of the or and for about pinch dash sprig sprigs bunch handful clove cloves stick sticks "
    "inch inches piece pieces wide packed softened melted beaten cubed halved thinly roughly dried ground to "
    "juiced zested cooked uncooked drained rinsed plus more divided pint pints quart quarts drop drops live "
    "chilled frozen canned few".split())
_STAPLES = frozenset("salt pepper water sugar flour butter oil olive vegetable canola ice black white".split())


def _number_phrase(number: Any, value: float, zh: bool) -> str:
    """A number in a note: "ready in 20 minutes", "taking about 8 hours", "serving 4"; Chinese as on a card."""
    if zh:
        if number.unit.name == "minutes" and value >= 90:
            return f"{number.label_zh or ''}约{round(value / 60)}小时"
        return _number_words(number, value, True)
    if number.unit.name == "minutes":
        return f"ready in {value:g} minutes" if value < 90 else f"taking about {round(value / 60)} hours"
    if number.unit.name == "servings":
        return f"serving {value:g}"
    return _number_words(number, value, False)


def _catalog_description(item: Item, schema: CatalogSchema, language: str) -> str:
    """A schema catalog's item with every fact and its shown text fields ("tell me more")."""
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
    sentence = f"{head}：{body}" if zh else f"{head}: {body}" if body else f"{head}."
    for text in schema.texts:
        value = own.get(text.name)
        if value and text.show:
            shown = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
            sentence += f" {text.label_zh or text.name}：{shorten(shown, 300)}" if zh else \
                f" {(text.label_en or text.name).capitalize()}: {shorten(shown, 300)}"
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

