"""Fact sheets: what a note may say about an item (the checker's full sheet, the prompt's compact line) and
its reasons cleaned for showing."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import replace

from chatbot.turn.replies import catalog_schema, say
from retrieval.fields import attribute_facts
from retrieval.types import Item

PLOT_CHARS = 220  # plot text on the checker's sheet
PROMPT_PLOT_CHARS = 130  # plot text in the prompt (prompt tokens cost ~15 ms each on 2 cores)
PROMPT_CAST = 1  # cast members in the prompt (the lead; the checker's sheet keeps 3)
NO_PLOT = "plot: not known (say nothing about the story)"  # the 1.5B model invents stories unless told
PLOT_FOCUS = "what happens in its plot"  # the focus of the one note of an answer that tells its item's story

_PAREN = re.compile(r"\([^)]*\)")
_WON = re.compile(r"\bWon \d+ Oscars?\b|\bWon the Oscar for Best \w+")  # "Won 2 Oscars.", "Won the Oscar for Best Actress: …"


def fact_sheet(item: Item) -> list[str]:
    """The checkable facts of an item as short "label: value" lines (what the LLM may use)."""
    facts: list[str] = []
    if item.year:
        facts.append(f"year: {item.year}")
    if item.genres:
        facts.append("genres: " + ", ".join(g for g in item.genres if g != "IMAX"))
    if item.directors:
        facts.append("director: " + ", ".join(item.directors[:2]))
    if item.cast:
        facts.append("cast: " + ", ".join(item.cast[:3]))
    if item.runtime_min:
        facts.append(f"runtime: {item.runtime_min} minutes")
    if item.age_rating:
        facts.append(f"rated: {item.age_rating}")
    if item.mean_rating is not None and item.n_ratings:
        facts.append(f"mean rating: {item.mean_rating:.1f}/5 from {item.n_ratings} ratings")
    if item.plot and item.plot.strip():
        plot = item.plot.strip()
        if len(plot) > PLOT_CHARS:
            plot = plot[:PLOT_CHARS].rsplit(" ", 1)[0] + "..."
        facts.append(f"plot: {plot}")
    elif catalog_schema() is None:
        facts.append(NO_PLOT)
    return facts + attribute_facts(item, catalog_schema(), PLOT_CHARS)


def prompt_facts(item: Item, common_genres: frozenset[str] = frozenset()) -> list[str]:
    """The facts the LLM sees, compact (one line per film, ~30 tokens): year, genres, director, lead, plot if known.

    Every prompt token costs ~15 ms on 2 idle cores (68 tok/s measured): the runtime (the card shows it), "plot
    unknown" (the system prompt says what a missing plot means) and all but the lead actor are left out."""
    facts: list[str] = []
    if item.year:
        facts.append(str(item.year))
    genres = [g for g in item.genres if g != "IMAX"]
    # genres every film of the turn shares go last: five notes from five identical genre lists came out alike
    genres = [g for g in genres if g not in common_genres] + [g for g in genres if g in common_genres]
    if genres:
        facts.append(", ".join(genres[:3]))
    if item.directors:
        facts.append("director " + " & ".join(item.directors[:2]))
    if item.cast:
        facts.append("cast " + ", ".join(item.cast[:PROMPT_CAST]))
    plot = (item.plot or "").strip()
    if plot:
        facts.append("plot: " + plot_line(plot, PROMPT_PLOT_CHARS))
    if item.awards and (won := _WON.search(item.awards)):
        facts.append(won.group(0).rstrip(".").lower())  # "won 1 oscar": something only this film has
    return facts + [in_hours(f.rstrip(".")) for f in attribute_facts(item, catalog_schema(), PROMPT_PLOT_CHARS)]


_LONG_MINUTES = re.compile(r"(.+): (\d+) minutes")


def in_hours(fact: str) -> str:
    """A fact of two hours or more said in hours, to the half hour ("time: 740 minutes" -> "time: about 12.5
    hours"): notes wrote "a warm stew in 740 minutes"; the checker allows hours within half an hour."""
    m = _LONG_MINUTES.fullmatch(fact)
    if m is None or int(m.group(2)) < 120:
        return fact
    minutes = int(m.group(2))
    halves = int(minutes / 30 + 0.5)
    hours = f"{halves // 2}" + (".5" if halves % 2 else "")
    return f"{m.group(1)}: {'' if halves * 30 == minutes else 'about '}{hours} hours"


def sheet_text(item: Item) -> str:
    """The item's own words a note may repeat: its plot and awards ("won 5 Oscars" names no film "Oscar"); a schema
    catalog's shown texts too (a recipe's "cream of mushroom soup" names no other recipe)."""
    schema, own = catalog_schema(), dict(item.attributes)
    texts = [own.get(f.name) or "" for f in (schema.texts if schema else ()) if f.show]
    lines = [str(x) for t in texts for x in (t if isinstance(t, (list, tuple)) else [t])]
    return " ".join([item.plot or "", item.awards or "", *lines]).strip()


def item_minutes(item: Item) -> int | None:
    """How long the item takes, in minutes: a film's runtime, or a schema catalog's first field in minutes or
    hours (a recipe's time); None when the sheet has none."""
    if item.runtime_min:
        return item.runtime_min
    schema = catalog_schema()
    own = dict(item.attributes)
    for number in schema.numbers if schema else ():
        value = own.get(number.name)
        if isinstance(value, (int, float)) and value > 0 and number.unit.name in ("minutes", "hours"):
            return round(value * (60 if number.unit.name == "hours" else 1))
    return None


def sheet_people(item: Item) -> list[str]:
    """The people on an item's sheet (what a note may name): a schema catalog's people by role too."""
    schema = catalog_schema()
    own = dict(item.attributes)
    extra = [str(p) for f in (schema.people if schema else ()) for p in (own.get(f.name) or [])]
    return list(item.directors[:2]) + list(item.cast[:3]) + list(item.writers) + extra


def shorten(text: str, limit: int) -> str:
    """Text cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "\u2026"


def plot_line(plot: str, limit: int) -> str:
    """A plot as the prompt gives it: its first sentence when that fits in `limit` characters, else cut at its last
    clause (or word) that does, with no ellipsis (the 1.5B copied "… in each…:" into a note)."""
    text = re.sub(r"\s+", " ", plot).strip()
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)[0]
    if len(first) <= limit:
        return first
    head = first[:limit]
    cut = max(head.rfind(", "), head.rfind("; "), head.rfind(" - "), head.rfind(" – "))
    line = head[:cut] if cut > limit // 2 else head.rsplit(" ", 1)[0]
    dash = max(line.rfind(" - "), line.rfind(" – "))
    line = line[:dash] if dash > limit // 2 and len(line) - dash < 20 else line  # "... events - in each case"
    return line.rstrip(",;:- –")


def clean_reason(reason: str) -> str:
    """A reason without its parenthesised detail or final period: "kids → family-friendly (PG at most)" -> ...."""
    text = re.sub(r"\s+", " ", _PAREN.sub("", str(reason)))
    return re.sub(r"\s+([,;:.])", r"\1", text).strip().rstrip(".").strip()


def told_item(item: Item, focus: str) -> Item:
    """The item as its note's prompt tells it: its plot only when the note is built around it, else none (and the
    note is kept from telling a story): with TMDB's overviews most films have one, ~30 prompt tokens a note at
    ~0.2 s a step of five notes, and every note but one is built around a person or an award anyway."""
    return item if focus == PLOT_FOCUS or not item.plot else replace(item, plot=None)


def note_focus(item: Item, used: set[str], language: str = "en", others: Sequence[Item] = ()) -> str:
    """What one note is built around, a fact only its item has, taking kinds the answer's notes have not used yet
    first (the plot, the lead, the director, an award, a schema catalog's text): notes told nothing of this all
    took one shape ("X's Title is a cozy, heartwarming adventure film that's perfect for rainy days").

    An item whose sheet has none of these (a fifth of the films recommended: Wikidata's table stops at 1940-2014)
    is built around a genre the answer's other items (`others`) lack, where it has one: what sets it apart here.

    In Chinese a note is built around its plot only when nothing else is known: the sheet's plot is English, and a
    Chinese note retelling it names nothing a reader (or the check for specific notes) can find on the sheet, and
    the 1.5B got such retellings wrong (Grease's Danny became "a green-skinned dog")."""
    choices: list[tuple[str, str]] = []
    if (item.plot or "").strip():
        choices.append(("plot", PLOT_FOCUS))
    if item.cast:
        choices.append(("lead", f"its lead, {item.cast[0]}"))
    if item.directors:
        choices.append(("director", f"its director, {item.directors[0]}"))
    if item.awards and _WON.search(item.awards):
        choices.append(("award", "its Oscar"))
    schema = catalog_schema()
    for text in schema.texts if schema else ():
        if text.show and dict(item.attributes).get(text.name):
            choices.append((text.name, f"its {text.label_en or text.name}"))
    if language == "zh" and len(choices) > 1:  # retold from English, a plot came out wrong ("绿皮狗丹尼" of Grease)
        choices = [choice for choice in choices if choice[0] != "plot"]
    if not choices:
        taken = {g for other in others if other.id != item.id for g in other.genres}
        own = [g for g in item.genres if g not in taken and g != "IMAX"]
        return f"its genre {own[0]}" if own else ""
    kind, focus = next(((k, f) for k, f in choices if k not in used), choices[len(used) % len(choices)])
    used.add(kind)
    return focus


@functools.lru_cache(maxsize=16)
def _reason_pattern(key: str, variable: str, language: str) -> re.Pattern[str]:
    """A pattern that reads one kind of reason back (from the reply phrase that wrote it)."""
    marker = "\x00"
    phrase = clean_reason(say(key, language, **{variable: marker}))
    return re.compile(re.escape(phrase).replace(re.escape(marker), "(.+?)") + "$")


def reason_value(key: str, variable: str, language: str, text: str) -> str | None:
    """The value a reason of this kind carries ("Up" from "like Up, which you liked"), or None."""
    m = _reason_pattern(key, variable, language).match(text)
    return m.group(1).strip() if m else None


def liked_titles(reasons: Sequence[str]) -> list[str]:
    """The titles of liked items the reasons name ("like Up, which you liked", "和你喜欢的 Up 相似"): names a note
    may say, never a quality it claims."""
    found = (reason_value("reason_liked", "title", lang, clean_reason(r)) for r in reasons for lang in ("en", "zh"))
    return list(dict.fromkeys(t for t in found if t))


def deal(values: list[str], k: int) -> list[str]:
    """The k-th of the values, taken in turn (a list of one; empty when there are none or it is "")."""
    return [values[k % len(values)]] if values and values[k % len(values)] else []
