"""Text keys shared by every package: one folding, one CJK test, one title key, one display title.

Everything that compares titles or names (the search index, the demo catalog's join, understanding, the note
checker, the dialogue runner) uses these, so a title is matched the same way everywhere.
"""

from __future__ import annotations

import re
import unicodedata

# Han ideographs (CJK Unified, Extension A, Compatibility): what "Chinese text" means in tastebud.
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Leading words a title key drops ("The Matrix" -> "matrix"); the demo catalog's join passes a wider set.
ENGLISH_ARTICLES = frozenset({"the", "a", "an"})
_TITLE_SUFFIX_ARTICLE = re.compile(r",\s*(the|a|an|les|la|le|el|il|der|die|das)\s*$", re.IGNORECASE)
_TRAILING_PAREN = re.compile(r"\s*\([^()]*\)\s*$")


def is_cjk_char(ch: str) -> bool:
    """True for one Han character."""
    return bool(CJK.match(ch))


def has_cjk(text: str) -> bool:
    """True when the text holds any Han character."""
    return CJK.search(text or "") is not None


def fold(text: str) -> str:
    """Lower case without accents ("Amélie" -> "amelie"); other characters kept."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


_VULGAR_FRACTION = re.compile(r"(?<=\d)([\u00bc-\u00be\u2150-\u215e])")


def title_key(title: str, articles: frozenset[str] = ENGLISH_ARTICLES) -> str:
    """A matching key: no accents, case, punctuation or leading article; '&' is 'and'; CJK kept."""
    text = fold(_VULGAR_FRACTION.sub(r" \1", title))  # "33⅓" is "33 1/3", not "331/3"
    text = text.replace("&", " and ").replace("æ", "ae").replace("ø", "o").replace("ß", "ss")
    text = re.sub(r"(?<=\w)['’`](?=\w)", "", text)  # "bug's" -> "bugs"
    text = re.sub(r"\b(l|d)['’]", r"\1 ", text)
    words = re.sub(r"[^\w]+", " ", text).replace("_", " ").split()
    if len(words) > 1 and words[0] in articles:
        words = words[1:]
    return " ".join(words)


def display_title(title: str) -> str:
    """A catalog title as people write it: "Matrix, The (1999)" -> "The Matrix"."""
    main = title.strip()
    while (stripped := _TRAILING_PAREN.sub("", main)) != main and stripped:  # "(1999)", "(Amélie, Le)"
        main = stripped
    m = _TITLE_SUFFIX_ARTICLE.search(main)
    if m:
        main = f"{m.group(1)} {main[: m.start()].strip()}"
    return re.sub(r"\s+", " ", main).strip() or title.strip()
