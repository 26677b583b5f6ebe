"""A person of the film in the wrong role, put right by the sheet: "Kevin Costner 执导" of The Untouchables is
"Brian De Palma 执导" (its one director), "starring Robert Wise" of The Sound of Music names its lead instead.

The 1.5B swapped roles in 3–4 of 255 notes a run (`tastebud eval notes`), and each became a template after its
rewrite swapped them again. The sheet decides who holds the role; the note keeps its own words around the name.
A name said more than once, or beside a second role ("执导并主演", "directs and stars"), is left for the checker.
"""

from __future__ import annotations

import re

from chatbot.text.names import POSSESSIVE, name_words
from chatbot.turn.notes.patterns import DIRECTED, STARRING
from chatbot.turn.notes.zh_mend import category_words_zh
from retrieval.types import Item

__all__ = ["kind_as_maker", "with_right_roles"]

# The words that state the role outright ("from Kevin Costner" or "with Robert Wise" may say something else).
_SAYS_ROLE = re.compile(r"directed by|director|helmed by|执导|导演|starring|stars|主演|领衔", re.IGNORECASE)
_BOTH_ROLES = re.compile(r"并主演|兼主演|自导自演|又导又演|and (?:also )?stars|and directs|也是导演|亦是导演", re.IGNORECASE)


# "这部由儿童导演的音乐剧" of a Children's film with no director on its sheet: its kind read as who made it.
_MADE_BY_ZH = re.compile(r"由([\u4e00-\u9fff]{1,4}?)(?:联合)?(?:执导|导演|编导|主演|出演|配音)")


def kind_as_maker(text: str) -> str | None:
    """A category word of the catalog (a genre: 儿童, 喜剧) that the Chinese note says directed or stars in it."""
    m = _MADE_BY_ZH.search(text)
    return m.group(1) if m and m.group(1) in category_words_zh() else None


def with_right_roles(text: str, item: Item) -> str:
    """The note with a person of this film named in a role the sheet gives someone else replaced by the sheet's
    holder of that role: the one director, or the first of the cast the note does not name yet."""
    if _BOTH_ROLES.search(text):
        return text
    for patterns, holders, others in ((DIRECTED, item.directors, item.cast), (STARRING, item.cast, item.directors)):
        holder_keys = {name_words(h) for h in holders}
        other_keys = {name_words(o) for o in others} - holder_keys
        for pattern in patterns:
            for m in list(pattern.finditer(text)):
                said = m.group(1).strip(" .")
                key = name_words(said)
                if POSSESSIVE.search(m.group(1)) or key in holder_keys or key not in other_keys or not _SAYS_ROLE.search(
                        m.group(0)):
                    continue
                if text.count(said) != 1 or (patterns is DIRECTED and len(holders) != 1):
                    continue
                free = [h for h in holders if name_words(h) not in name_words(text)]
                if not free:
                    continue
                start = m.start(1) + m.group(1).index(said)
                text = text[:start] + free[0] + text[start + len(said):]
                break
    return text
