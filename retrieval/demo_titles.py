"""MovieLens titles for the demo catalog's join: display form, alternate titles and the join's matching keys.

MovieLens writes "City of Lost Children, The (Cité des enfants perdus, La)"; the join reads it as the display
title "The City of Lost Children" with the alternate "La Cité des enfants perdus", and matches titles by
`retrieval.text.title_key` with the wider set of leading articles below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text import title_key

# Articles that MovieLens moves to the end ("Usual Suspects, The") and that matching ignores.
ARTICLES = (
    "the", "a", "an", "la", "le", "les", "l'", "il", "lo", "gli", "i", "der", "die", "das", "den", "det",
    "el", "los", "las", "un", "une", "una", "uno", "ein", "eine", "o", "os", "as", "de", "het", "en",
)
ARTICLE_WORDS = frozenset(a.rstrip("'") for a in ARTICLES)  # the same, as words a key drops
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+?),\s+(?P<article>" + "|".join(re.escape(a) for a in ARTICLES) + r")(?P<rest>:.*)?$",
    re.IGNORECASE,
)
_AKA = re.compile(r"^\s*a\.?k\.?a\.?\s+", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedTitle:
    """A MovieLens title split into its display form and its alternate titles."""

    display: str  # "The City of Lost Children"
    alternates: tuple[str, ...] = ()  # ("La Cité des enfants perdus",)


def move_article_front(title: str) -> str:
    """'Usual Suspects, The' -> 'The Usual Suspects'; 'Cité des enfants perdus, La' -> 'La Cité des enfants perdus'."""
    match = _TRAILING_ARTICLE.match(title.strip())
    if not match:
        return title.strip()
    article = match.group("article")
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match.group('body').strip()}{match.group('rest') or ''}"


def _split_trailing_parens(text: str) -> tuple[str, list[str]]:
    """Peel balanced '(...)' groups off the end of a title: ('Léon: The Professional', ['a.k.a. ...', 'Léon'])."""
    groups: list[str] = []
    text = text.strip()
    while text.endswith(")"):
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            if text[i] == ")":
                depth += 1
            elif text[i] == "(":
                depth -= 1
                if depth == 0:
                    break
        else:
            break
        head = text[:i].strip()
        if not head:  # a title that starts with a bracket, such as "(500) Days of Summer"
            break
        groups.insert(0, text[i + 1 : -1].strip())
        text = head
    return text, groups


def parse_movielens_title(raw: str) -> ParsedTitle:
    """Display title and alternates from a MovieLens title such as 'City of Lost Children, The (Cité ..., La)'."""
    text = re.sub(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$", "", " ".join(str(raw).split()))  # a trailing (1995)
    main, groups = _split_trailing_parens(text)
    alternates: list[str] = []
    for group in groups:
        if re.fullmatch(r"\d{4}", group):
            continue
        alt = move_article_front(_AKA.sub("", group))
        if alt and alt not in alternates:
            alternates.append(alt)
    return ParsedTitle(display=move_article_front(main), alternates=tuple(alternates))


def join_key(title: str) -> str:
    """The join's matching key: `retrieval.text.title_key` dropping any leading article of ARTICLES; "Vol." is
    "Volume" (MovieLens's "Kill Bill: Vol. 1" is Wikidata's "Kill Bill: Volume 1")."""
    return re.sub(r"\bvol\b", "volume", title_key(title, articles=ARTICLE_WORDS))


def title_variants(parsed: ParsedTitle) -> list[str]:
    """Keys of a MovieLens title's display form and alternates, most trusted first."""
    keys: list[str] = []
    for title in (parsed.display, *parsed.alternates):
        key = join_key(title)
        if key and key not in keys:
            keys.append(key)
    return keys


_POSSESSOR = re.compile(r"^(?:[A-Z][\w.\-]*\s+){0,3}[A-Z][\w.\-]*['’]s?\s+(?=\S)")


def weak_variants(title: str) -> list[str]:
    """Looser keys of one title, trusted only with the exact year.

    Without the subtitle ("Il Postino: The Postman" -> "Il Postino"), the subtitle alone
    ("Wallace & Gromit: The Wrong Trousers" -> "The Wrong Trousers"), without a possessor
    ("William Shakespeare's Romeo + Juliet" -> "Romeo + Juliet") or a dangling "or"
    ("Dr. Strangelove or: How I Learned ..." -> "Dr. Strangelove").
    """
    out: list[str] = []
    candidates = []
    head, sep, tail = title.partition(":")
    if sep:
        candidates += [re.sub(r"\s+or$", "", head.strip(), flags=re.IGNORECASE), tail]
    possessor = _POSSESSOR.match(title)
    if possessor:  # "Jupiter's Wife" -> "Wife" would be too loose: keep a two-word possessor or remainder
        rest = title[possessor.end():]
        if len(possessor.group(0).split()) >= 2 or len(join_key(rest).split()) >= 2:
            candidates.append(rest)
    for candidate in candidates:
        key = join_key(candidate)
        if key and key != join_key(title) and key not in out:
            out.append(key)
    return out
