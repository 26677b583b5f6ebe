"""What is mended in a Chinese note before it is checked: a title it translated, names it transliterated (written as
on the sheet; a made-up one's role taken out), and a category it left in English ("一部 Sci-Fi 冒险片": 科幻)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from chatbot.turn.notes.zh_names import with_sheet_names, without_unknown_names
from chatbot.turn.replies import catalog_schema
from retrieval.schema import CatalogSchema
from retrieval.schema_file import packaged_schema
from retrieval.text import CJK
from retrieval.types import Item

_LEADING_ZH_TITLE = re.compile(r"^\s*《[^》A-Za-z]{1,30}》")


def mended_zh(text: str, item: Item, names: Sequence[str] = ()) -> str:
    """The Chinese note with every mend of this module made (the checker then judges what it says); `names`: other
    names it may write as they are (a liked film's title: "War Horse")."""
    text = with_chinese_values(without_translated_title(text), item, _served_schema(), names)
    return without_unknown_names(with_sheet_names(text, item), item)


def _served_schema() -> CatalogSchema:
    """The schema of the catalog this process serves: the one set, else the demo films' (`_films_schema`)."""
    return catalog_schema() or _films_schema()


@lru_cache(maxsize=1)
def _films_schema() -> CatalogSchema:
    """The demo film catalog's schema, read once."""
    return packaged_schema("films")


def without_translated_title(text: str) -> str:
    """A Chinese note that opens with a title in Chinese (the 1.5B translates the item's own title: 《笔记本》 for
    The Notebook, unverifiable) opens with "this film" / "this dish" instead; the card shows the real title."""
    schema = catalog_schema()
    this = f"这{schema.noun.measure_zh}{schema.noun.zh}" if schema and schema.noun.zh else "这部电影"
    return _LEADING_ZH_TITLE.sub(this, text, count=1)


def with_chinese_values(text: str, item: Item, schema: CatalogSchema | None, names: Sequence[str] = ()) -> str:
    """The Chinese note with a category value it wrote in English (a genre, a course: "Sci-Fi", "science
    fiction", "dessert") in the schema's Chinese word for it; a word of the item's own title or people, or of
    `names`, stays."""
    if schema is None or not re.search("[A-Za-z]", text):
        return text
    own = " ".join([item.title, *item.people]).lower()

    def mend(m: re.Match[str], chinese: str, spans: list[tuple[int, int]]) -> str:
        if re.search(rf"(?<![a-z]){re.escape(m.group('word').lower())}(?![a-z])", own) or any(
                start <= m.start("word") < end for start, end in spans):
            return m.group(0)  # "Romance" (1999), "Big", a liked "War Horse": a title, not a genre
        return _spaced(m, chinese)

    for pattern, chinese in _english_values(schema):
        spans = [m.span() for n in names if n.strip() for m in re.finditer(re.escape(n.strip()), text, re.I)]
        text = pattern.sub(lambda m, zh=chinese, at=spans: mend(m, zh, at), text)  # where the names are now
    return text


def category_words_zh() -> frozenset[str]:
    """The Chinese words of every category value of the catalog served (its genres, courses, kinds)."""
    return _category_words(_served_schema())


@lru_cache(maxsize=8)
def _category_words(schema: CatalogSchema) -> frozenset[str]:
    """The Chinese words of a schema's facet values."""
    return frozenset(w for facet in schema.facets for _, words in facet.synonyms for w in words.zh)


def _spaced(match: re.Match[str], chinese: str) -> str:
    """The Chinese word, with a space kept only on a side where the note goes on in Latin letters."""
    text, start, end = match.string, match.start(), match.end()
    before = " " if start > 0 and not CJK.match(text[start - 1]) and text[start - 1].isalnum() else ""
    after = " " if end < len(text) and not CJK.match(text[end]) and text[end].isalnum() else ""
    return f"{before}{chinese}{after}"


@lru_cache(maxsize=8)
def _english_values(schema: CatalogSchema) -> tuple[tuple[re.Pattern[str], str], ...]:
    """(a pattern of one value's English words, longest first; its Chinese word) for every facet value the schema
    gives Chinese words for."""
    out: list[tuple[re.Pattern[str], str]] = []
    for facet in schema.facets:
        for value, words in facet.synonyms:
            chinese = next((w for w in words.zh if CJK.search(w) and len(w) >= 2), next(
                (w for w in words.zh if CJK.search(w)), None))
            if chinese is None:
                continue
            english = sorted({value, *words.en}, key=len, reverse=True)
            spelled = "|".join(r"[\s-]?".join(map(re.escape, re.split(r"[\s-]+", w))) for w in english if w.strip())
            out.append((re.compile(rf"\s*(?<![A-Za-z])(?P<word>{spelled})(?![A-Za-z])\s*", re.IGNORECASE), chinese))
    return tuple(out)
