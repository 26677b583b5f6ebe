"""What the agent says in words, per language: `say(key, language, **values)` over `chatbot/turn/replies.yaml`.

Replies, notices and reason chips all come from the one data file, read through `prompts.load_data`; every
language has every key (checked at load time). Values are filled in with Jinja, strictly: a missing one is an error.
A process serves one catalog: `use_catalog(schema)` (the agent calls it) makes the phrases of its `catalog`
section speak of that catalog's items (a dish is cooked, a book read); films keep the phrases above it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from prompts import load_data
from retrieval.errors import DataFileError
from retrieval.schema import CatalogSchema

REPLIES_FILE = "replies.yaml"


@functools.lru_cache(maxsize=1)
def _replies() -> dict[str, dict[str, Any]]:
    """The reply phrases per language, compiled; every language has every key."""
    from jinja2 import Environment, StrictUndefined

    raw = load_data("chatbot.turn", REPLIES_FILE)
    if not isinstance(raw, dict) or not isinstance(raw.get("en"), dict):
        raise DataFileError(f"chatbot/turn/{REPLIES_FILE}: expected a mapping of languages with an `en` table")
    env = Environment(undefined=StrictUndefined, autoescape=False)
    catalog = raw.pop("catalog", {}) or {}
    keys = set(raw["en"])
    for lang, table in raw.items():
        if set(table) != keys:
            raise DataFileError(f"chatbot/turn/{REPLIES_FILE}: language {lang!r} lacks {sorted(keys - set(table))}")
    for lang, table in catalog.items():
        if lang not in raw or set(table) - keys:
            raise DataFileError(f"chatbot/turn/{REPLIES_FILE}: catalog phrases for {lang!r} name unknown keys")
    out = {lang: {k: env.from_string(v) for k, v in table.items()} for lang, table in raw.items()}
    out.update({f"catalog:{lang}": {k: env.from_string(v) for k, v in t.items()} for lang, t in catalog.items()})
    return out


_CATALOG: dict[str, Any] = {}  # the words of the catalog this process serves (empty: films)


def use_catalog(schema: CatalogSchema | None, folder: Path | None = None) -> None:
    """Speak of this catalog's items from now on (None or the film schema: films); `folder` is its data dir."""
    _CATALOG.clear()
    if schema is not None and schema.name != "films":
        _CATALOG.update(schema=schema, folder=folder)


def catalog_schema() -> CatalogSchema | None:
    """The schema of the catalog this process serves, when it is not the film catalog."""
    return _CATALOG.get("schema")


def catalog_folder() -> Path | None:
    """The data dir of the schema catalog this process serves (where its own data files may lie)."""
    return _CATALOG.get("folder")


def say(key: str, language: str, **values: Any) -> str:
    """A reply phrase in the person's language (English for languages without a table)."""
    tables = _replies()
    schema = catalog_schema()
    if schema is not None:
        own = tables.get(f"catalog:{language}") or ({} if language in tables else tables["catalog:en"])
        if key in own:
            return own[key].render(**(_noun_words(schema, language) | values))
    table = tables.get(language) or tables["en"]
    return table[key].render(**values)


def _noun_words(schema: CatalogSchema, language: str) -> dict[str, str]:
    """The catalog's nouns, verbs and change suggestions, for its phrases."""
    n = schema.noun
    return {"noun": n.en, "nouns": n.en_plural, "verb": n.verb_en, "noun_zh": n.zh, "measure": n.measure_zh,
            "verb_zh": n.verb_zh, "suggestions": _suggestions(schema, language),
            "example": page_examples(language)[0]}


FILM_EXAMPLES = ("Something funny for a rainy evening in Seattle with the kids", "A tense crime thriller, not too long",
                 "下雨天和女朋友在北京看什么电影？", "Classic romance from before 1960")


def page_examples(language: str = "en") -> tuple[str, ...]:
    """Requests to try, for the page: the film ones, or made from a schema catalog's own words."""
    schema = catalog_schema()
    if schema is None:
        return FILM_EXAMPLES
    levels = [level for number in schema.numbers for level in number.levels]
    values = [(f, v) for f in schema.facets for v in f.vocabulary[:2] if f.words_for(v).en or not f.multi]
    multi = next((f for f in schema.facets if f.multi and f.vocabulary), None)
    first = levels[0].words.en[0] if levels and levels[0].words.en else ""
    kind = (values[0][1] if values else schema.noun.en).lower()
    out = [f"something {first} for a rainy evening".replace("  ", " "), f"a {kind} {schema.noun.en}"]
    if multi is not None:
        out.append(f"no {(multi.words_for(multi.vocabulary[0]).en or [multi.vocabulary[0]])[0]}, please")
    zh_level = levels[0].words.zh[0] if levels and levels[0].words.zh else ""
    out.append(f"下雨天想{schema.noun.verb_zh}点{zh_level}的{schema.noun.zh}")
    examples = tuple(e.strip().capitalize() for e in out)
    return examples if language != "zh" else (examples[-1],) + examples[:-1]


def _suggestions(schema: CatalogSchema, language: str) -> str:
    """What a person might change, from the schema: its numbers' level words and "no <value>" of a list facet."""
    zh = language == "zh"
    out = [(level.words.zh if zh else level.words.en)[0] for number in schema.numbers for level in number.levels[:1]
           if (level.words.zh if zh else level.words.en)]
    multi = next((f for f in schema.facets if f.multi and f.vocabulary), None)
    if multi is not None:
        value = multi.vocabulary[0]
        words = multi.words_for(value)
        out.append(f"不要{(words.zh or [value])[0]}" if zh else f"no {(words.en or [value])[0]}")
    return ("、" if zh else ", ").join(out[:3]) or ("换个种类" if zh else "another kind")
