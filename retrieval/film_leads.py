"""A film's facts read from the lead section of its Wikipedia article: title, year, director, stars and plot.

The lead opens with a sentence such as "Duck Soup is a 1933 American pre-Code musical comedy film directed by Leo
McCarey and starring the Marx Brothers": the year, the director and the stars are taken from that sentence only,
so a remake the lead mentions later ("a modern remake ... directed by John Guillermin") lends nothing. The plot is
the lead's sentences that tell the story ("The story concerns ...", "It tells the story of ...", "The film follows
..."); the rest of a lead (production, release, reception) is not a plot, so a lead without such a sentence gives
none. The text is Wikipedia's (CC BY-SA); `retrieval.classic_films` reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text import title_key

# "<subject> is a 1935 British ... film ...": the sentence that states the film's own year
# (also "is an experimental 1929 Soviet ... film", "is an Iranian 1994 film")
_OPENING = re.compile(r"^(?P<subject>.+?),?\s+(?:is|was)\s+an?\s+(?:[\w-]+\s+){0,2}?(?P<year>(?:18|19|20)\d\d)\s+"
                      r"(?P<kind>.*)$")
# what the subject is: the words after the year up to the first that is no longer a kind ("a 1927 American silent
# romantic drama directed by ..." -> "American silent romantic drama"); it must name a film, not a novel or a play
_KIND_END = re.compile(r",|(?<![\w-])(?:directed|written|produced|co-written|starring|by|that|which|about|based|from|"
                       r"made|released|shot|set|featuring|in|of|for|with|and\s+the)(?![\w-])")
_FILM_WORD = re.compile(r"\b(?:film|movie|picture|featurette|documentary|drama|comedy|cartoon|western|musical|"
                        r"thriller|serial|short|melodrama|noir|epic|satire)\b", re.IGNORECASE)
_FILM_NOUN = re.compile(r"\b(?:film|movie)\b", re.IGNORECASE)  # "a 1980 space opera film" is a film
_NOT_FILM_WORD = re.compile(r"\b(?:novel|novella|play|book|album|song|opera|series|television|game|poem)\b",
                            re.IGNORECASE)
# "directed by", "directed and co-written by", "directed, produced and written by", "directed by and starring"
_DIRECTED_BY = re.compile(r"\b(?:co-)?directed(?:,?\s+(?:and\s+)?(?:co-)?[a-z]+(?:ed|en|ten))*,?\s+by"
                          r"(?:,?\s+and\s+starring)?\s+")
# "a 1971 film by Werner Herzog", "... drama film, and the directorial debut of François Truffaut"
_FILM_BY = re.compile(r"\b(?:film|movie|documentary|featurette|picture)\s+by\s+|\bdirectorial\s+debut\s+of\s+")
_STARRING = re.compile(r"\bstarring\s+")
# a subject's clause that gives another title: "Aguirre, the Wrath of God, known in the UK as Aguirre, Wrath of God"
_ALIAS_CLAUSE = re.compile(r",\s+(?:also|originally|sometimes|often|more|commonly|known|titled|called|released|or|"
                           r"later)\b")
_ALIAS = re.compile(r"\b(?:(?:known|released|rendered|translated)\s+(?:simply\s+)?(?:in\s+the\s+\w+\s+)?as|called|"
                    r"titled|or\s+simply)\s+([^,]+)")
# what may stand before a name: "German director F. W. Murnau", "the British film making team of Michael Powell"
_ROLE = re.compile(r"^(?:the\s+)?(?:\S+\s+){0,3}?\S*(?:film-?\s?maker|director|comedian|animator|artist|team|duo)"
                   r"\s+(?:of\s+)?")
_STORY = re.compile(
    r"\btells?\s+the\s+(?:story|tale)\s+of\b"
    r"|\b(?:the|its)\s+(?:story|plot|narrative)\s+(?:concerns|follows|centers\s+on|centres\s+on|revolves\s+around"
    r"|is\s+about|tells\s+of)\b"
    r"|\b(?:the\s+film|the\s+movie|it)\s+(?:follows|concerns|is\s+about|centers\s+on|centres\s+on"
    r"|revolves\s+around)\b",
    re.IGNORECASE,
)
_NOT_A_SUBJECT = frozenset({"it", "this", "the film", "the movie", "this film"})
# name words that open no person's name: a company, a group, a pronoun
_NOT_NAMES = frozenset({"Bros", "Bros.", "Brothers", "Pictures", "Studios", "Productions", "Films", "Company",
                        "Corporation", "Entertainment", "The", "His", "Her", "Their", "It", "In", "With"})
# lower-case words inside a name ("Erich von Stroheim", "Vittorio De Sica" is capitalised anyway)
_PARTICLES = frozenset({"de", "da", "di", "del", "della", "van", "von", "der", "den", "du", "le", "la", "des",
                        "dos", "das", "ten", "ter", "bin", "y"})
# words before a full stop that end no sentence ("D. W. Griffith", "Robert Downey Jr. and")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "jr", "sr", "bros", "co", "inc", "ltd", "vs", "no", "mt",
                            "vol", "lit", "transl", "u.s", "u.k"})
# words that open a sentence, not a name: after them a full stop ends a sentence even behind an initial
_SENTENCE_OPENERS = frozenset({"The", "A", "An", "It", "In", "He", "She", "They", "This", "His", "Her", "Its", "On",
                               "At", "After", "When", "While", "Set", "Based", "Written", "Directed", "Filmed"})
# what may open a story sentence before the story itself: "Based on the novel by X, the film is about ..."
_PREAMBLE = re.compile(r"^(?:Based|Loosely|Written|Produced|Starring|Released|Developed|Considered|Generally|"
                       r"Characterized|Believed|Inspired|Filmed|Constructed|Eschewing|Directed)\b")
MAX_NAME_WORDS = 5  # longer runs of capitalised words are not one person's name
MAX_STARS = 3
MAX_PLOT_SENTENCES = 3


@dataclass(frozen=True)
class LeadFacts:
    """What one lead says of its film; `titles` are the names its opening gives the film (see `_titles`)."""

    titles: tuple[str, ...]
    year: int
    directors: tuple[str, ...]
    stars: tuple[str, ...]
    plot: str | None


def _without_brackets(text: str) -> str:
    """The text without its '(...)' and '[...]' groups (pronunciations, native titles, citation marks)."""
    out: list[str] = []
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return re.sub(r"\s+([,.;:])", r"\1", " ".join("".join(out).split()))


def sentences(paragraph: str) -> list[str]:
    """The sentences of a paragraph (brackets dropped); a full stop after an initial or an abbreviation ends none,
    unless the next word opens a sentence ("... Henry V. The story follows ...")."""
    text = re.sub(r"(?<=[a-z0-9\"”]\.)(?=[^\W\d_][a-z])", _lost_space, _without_brackets(paragraph))
    out: list[str] = []
    start = 0
    for stop in re.finditer(r"[.!?]\s+(?=[\"“‘']?[^\W_])", text):
        if _ends_sentence(text[start:stop.start()], stop.group(0)[0], text[stop.end():]):
            out.append(text[start:stop.start() + 1].strip())
            start = stop.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def _ends_sentence(before: str, mark: str, after: str) -> bool:
    """True when the mark between the two texts ends a sentence: the next word is capitalised (or a number), and
    a full stop does not close an initial ("D. W.", "J.D.") or an abbreviation unless a sentence opener follows."""
    following = after.lstrip("\"“‘'")
    if not (following[:1].isupper() or following[:1].isdigit()):
        return False
    last = (before.split()[-1:] or [""])[0].lower().lstrip("\"“(")
    if mark != "." or not (re.fullmatch(r"(?:[^\W\d_]\.)*[^\W\d_]", last) or last in _ABBREVIATIONS):
        return True
    return following.split(maxsplit=1)[0] in _SENTENCE_OPENERS


def _lost_space(match: re.Match[str]) -> str:
    """A space after a full stop that lost it ("in 1938.The film", "Luis Buñuel.Óscar"): only before a capital."""
    return " " if match.string[match.end()].isupper() else ""


def names_at(text: str, most: int) -> tuple[str, ...]:
    """Up to `most` people's names that open `text`: runs of capitalised words (initials and particles such as
    "von" inside) separated by commas or "and"; 'Leo McCarey and starring ...' -> ('Leo McCarey',)."""
    names: list[str] = []
    words: list[str] = []
    first = ""  # "Joel and Ethan Coen": a first name waiting for the surname of the next
    for token in _ROLE.sub("", text).split():
        word = token.rstrip(",;:")
        if word[:1].isupper() or (words and word in _PARTICLES):
            words.append(word)
            if word == token:
                continue
        elif not words and word == "and" and names:
            continue  # "Cary Grant, Katharine Hepburn, and James Stewart"
        elif not (words and word == "and"):
            break
        if len(words) == 1 and word == "and" and not first:
            first, words = words[0], []
            continue
        if not _add_name(names, words, first) or len(names) >= most:
            return tuple(names[:most])
        words, first = [], ""
    _add_name(names, words, first)
    return tuple(names[:most])


def _add_name(names: list[str], words: list[str], first: str = "") -> bool:
    """Append the words as one name when they look like a person's (2 to MAX_NAME_WORDS words, none a company's
    or a pronoun, no full stop inside a word), after `first` with their surname; False when they do not, which
    ends the list."""
    if not 2 <= len(words) <= MAX_NAME_WORDS or any(word in _NOT_NAMES or "." in word[:-1] and len(word) > 4
                                                    for word in words):
        return False
    if first:
        names.append(f"{first} {words[-1]}")
    names.append(" ".join(words))
    return True


def _opening(paragraph: str) -> re.Match[str] | None:
    """The `_OPENING` match of the paragraph's first sentence that states a film's year (not a novel's, a play's)."""
    for sentence in sentences(paragraph):
        match = _OPENING.match(sentence.rstrip("."))
        if match is None:
            continue
        kind = _KIND_END.split(match.group("kind"), maxsplit=1)[0]
        if _FILM_WORD.search(kind) and (_FILM_NOUN.search(kind) or not _NOT_FILM_WORD.search(kind)):
            return match
    return None


def _directors(opening: str) -> tuple[str, ...]:
    """The directors the opening sentence names: "directed by X (and Y)", else "a 1971 film by X"."""
    for pattern in (_DIRECTED_BY, _FILM_BY):
        found = pattern.search(opening)
        if found:
            return names_at(opening[found.end():], most=3)
    return ()


def _plot(paragraph: str) -> str | None:
    """The paragraph's sentences that tell the story (at most MAX_PLOT_SENTENCES), cleaned, or None."""
    story = [_story_part(sentence, found) for sentence in sentences(paragraph) if (found := _STORY.search(sentence))]
    return " ".join(story[:MAX_PLOT_SENTENCES]) or None


def _story_part(sentence: str, story: re.Match[str]) -> str:
    """The part of a story sentence (`story`: where it starts telling) that tells the story: without the opening's
    "X is a 1990 film directed by Y that" ("It tells the story of ...") or a preamble clause ("Based on the novel by
    X, the film is about ...")."""
    head = sentence[:story.start()]
    if _OPENING.match(sentence):
        rest = sentence[story.start():]
        return f"It {rest}" if rest[:4].lower() == "tell" else rest[:1].upper() + rest[1:]
    if _PREAMBLE.match(head):  # the last comma that a subject follows ("..., portrayed by X, and tells" is none)
        for comma in reversed([m.end() for m in re.finditer(r",\s+", head)]):
            rest = sentence[comma:]
            if rest[:1].isupper() or re.match(r"(?:the|it|its)\b", rest):
                return rest[:1].upper() + rest[1:]
    return sentence


def read_lead(text: str, page: str = "") -> LeadFacts | None:
    """The film facts of a Wikipedia lead (of the article titled `page`), or None when its first paragraph states
    no film of a year (an article on a character, a person or a thing)."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    opening = _opening(paragraphs[0]) if paragraphs else None
    if opening is None:
        return None
    subject = opening.group("subject").strip(" \"“”")
    if subject.lower() in _NOT_A_SUBJECT:
        return None
    sentence = opening.group(0)
    starring = _STARRING.search(sentence)
    stars = names_at(sentence[starring.end():], most=MAX_STARS) if starring else ()
    return LeadFacts(titles=_titles(subject, page, paragraphs[0]), year=int(opening.group("year")),
                     directors=_directors(sentence), stars=stars, plot=_plot(paragraphs[0]))


def _titles(subject: str, page: str, paragraph: str) -> tuple[str, ...]:
    """The film's titles: the opening's subject ("Journey to Italy, also known as Voyage to Italy" gives both), and
    the article's own title where the paragraph names it (often inside the brackets the sentences drop)."""
    titles = [subject[:match.start()] for match in _ALIAS_CLAUSE.finditer(subject)] or [subject]
    titles += [match.group(1).strip() for match in _ALIAS.finditer(subject)]
    page = re.sub(r"\s*\([^()]*\)$", "", page).strip()  # "The General (1926 film)"
    if page and f" {title_key(page)} " in f" {title_key(paragraph)} ":
        titles.append(page)
    return tuple(dict.fromkeys(title for title in titles if title))
