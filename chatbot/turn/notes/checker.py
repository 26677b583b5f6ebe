"""Checking a note against its own item's sheet, and what can be wrong with one (`Problem`).

A note names no other catalog title, every year, decade, runtime, rating and person name in it is its own, it
tells no story (nor where or when it is set) when the sheet has no plot, it borrows no other item's reasons nor
invents who the person watches with or their weather, it says the person's weather as theirs and not the film's,
it writes no name in Chinese (nor, in Chinese, an English word), no count of Oscars but its sheet's
(`awards.py`), and its length and language are right. Each problem a rewrite is told about has its own general hint
(`retry_hints`): naming the film or person a draft got wrong only primes a small model to repeat it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.text.names import (POSSESSIVE, CatalogLexicon, blank_names, fold_name, name_words, own_title_spans,
                                title_key)
from chatbot.turn.notes.facts import fact_sheet, item_minutes, liked_titles, sheet_people, sheet_text
from chatbot.turn.notes.patterns import (
    CHARACTER,
    CLAIMS_SEEN,
    DIRECTED,
    STARRING,
    VOICED,
    INSTRUCTIONS,
    PERSON_WEATHER,
    SETTING,
    STORY,
    TRANSLIT,
    WEATHER,
    ZH_BOOK_TITLE,
    ZH_HAN_NAME,
    ZH_TRANSLIT_NAME,
    ZH_UNDOTTED_NAME,
    said_twice,
)
from chatbot.turn.notes.person_words import mood_of_item, unasked_claims
from chatbot.turn.notes.qualities import QualityLexicon
from chatbot.turn.notes.situation import COMPANY_KINDS
from chatbot.turn.notes.awards import wrong_oscar_counts
from chatbot.turn.notes.roles import kind_as_maker
from chatbot.turn.notes.note import (MAX_NOTE_CHARS, MAX_SENTENCES, MIN_NOTE_CHARS, SENTENCE_END_EN, SENTENCE_END_ZH,
                                     note_language)
from retrieval.text import CJK, display_title, has_cjk
from retrieval.types import Item

__all__ = ["PLOT_MARK", "TERMINAL", "Finding", "NoteChecker", "Problem", "shares_skeleton",
           "retry_hints"]


class Problem(enum.Enum):
    """What can be wrong with a draft note (the checker's findings and the writer's own)."""

    TOO_SHORT = "too short"
    TOO_LONG = "too long"
    CUT_OFF = "cut off mid-sentence"
    TOO_MANY_SENTENCES = "too many sentences"
    SAID_TWICE = "says the same thing twice"
    WRONG_LANGUAGE = "wrong language"
    MARKUP = "markup or a link"
    OTHER_TITLE = "names another title"
    YEAR = "a year not on the sheet"
    DECADE = "a decade not on the sheet"
    UNSUPPORTED = "claims a quality its facts do not support"
    OTHER_FOOD = "names a food its item does not have"
    RUNTIME = "a runtime not on the sheet"
    RATING = "a rating not on the sheet"
    CLAIMS_SEEN = "claims the person saw it"
    STORY = "tells a story without a plot"
    OTHER_PERSON = "names a person not on the sheet"
    CHINESE_NAME = "a name written in Chinese"
    BORROWED = "borrows another film's reason"
    COMPANY = "says who the person is with"
    WEATHER = "gives the person weather they did not give"
    WEATHER_IN_ITEM = "puts the person's weather into the item"
    WRONG_ROLE = "gives someone the wrong role"
    NOT_ASKED = "says the person asked for what they did not"
    MOOD_OF_ITEM = "says the person's mood of the item"
    INSTRUCTIONS = "repeats the instructions"
    REPEATED = "repeats another film's note"
    SAMEY = "reads like another film's note"
    VAGUE = "names nothing only its item has"
    LLM_FAILED = "the language model failed"
    OUT_OF_TIME = "out of time"
    NO_NOTE = "no note written"
    NOT_JSON = "the answer was not JSON"


# The hint a rewrite is given for each problem, in general terms; problems without one get no hint.
_TOO_LONG = "it was too long"
_HINTS: dict[Problem, str] = {
    Problem.OTHER_TITLE: "it named another {noun}",
    Problem.BORROWED: "it used reasons that belong to another {noun}",
    Problem.COMPANY: "it said who the person is with, which the reasons do not say",
    Problem.WEATHER: "it spoke of weather that none of its reasons gives",
    Problem.WEATHER_IN_ITEM: "it made the weather part of the {noun}; the weather is outside the person's window: "
                             "say the {noun} suits their day, never that the {noun} itself has that weather",
    Problem.YEAR: "it gave a year that is not on the sheet",
    Problem.DECADE: "it gave a decade that is not on the sheet",
    Problem.RUNTIME: "it gave a runtime that is not on the sheet",
    Problem.STORY: "it described a story, but the plot is not known",
    Problem.CLAIMS_SEEN: "it claimed the person already knows the {noun}",
    Problem.RATING: "it gave a rating that is not on the sheet",
    Problem.UNSUPPORTED: "it called it something its facts do not show; describe it only by its own facts",
    Problem.OTHER_FOOD: "it named an ingredient that is not in its list",
    Problem.OTHER_PERSON: "it named a person who is not on the sheet",
    Problem.CHINESE_NAME: "it wrote a name in Chinese instead of as on the sheet",
    Problem.WRONG_ROLE: "it gave someone the wrong role",
    Problem.NOT_ASKED: "it said the person asked for something they did not; say only what its reasons say they asked",
    Problem.MOOD_OF_ITEM: "it called the {noun} by the person's own mood; their mood is theirs, never the {noun}'s",
    Problem.TOO_LONG: _TOO_LONG,
    Problem.CUT_OFF: _TOO_LONG,
    Problem.TOO_MANY_SENTENCES: _TOO_LONG,
    Problem.SAID_TWICE: "it said the same thing twice",
    Problem.WRONG_LANGUAGE: "it was not all in the note's language: write every word in it, names aside",
    Problem.INSTRUCTIONS: "it repeated the instructions instead of speaking to the person",
    Problem.REPEATED: "it was the same note as another {noun}'s; say what is special about this {noun}",
    Problem.SAMEY: "it was the same note as another {noun}'s; say what is special about this {noun}",
    Problem.VAGUE: "it could have been about any {noun}; build it around what its line says to build it around",
}


@dataclass(frozen=True)
class Finding:
    """One problem of a draft, with its message in words a person understands (kept on the Note for logs)."""

    problem: Problem
    message: str
    words: tuple[str, ...] = ()  # the words it was turned down for, which its rewrite is kept from


def retry_hints(findings: Sequence[Finding], noun: str = "film") -> list[str]:
    """General hints for a retry from a rejected draft's problems (no names, no titles), each hint once; `noun` is
    what one item of the catalog is called ("dish")."""
    hints: list[str] = []
    for finding in findings:
        hint = _HINTS.get(finding.problem)
        hint = hint.replace("{noun}", noun) if hint is not None else None
        if hint is not None and hint not in hints:
            hints.append(hint)
    return hints


PLOT_MARK = "\x00plot:"  # marks another item's plot among `other_reasons` (its long words count as borrowed)

_YEAR = re.compile(r"(?<![\d.])(1[89]\d\d|20\d\d)(?![\d])")
_DECADE_FULL = re.compile(r"(?<!\d)(1[89]\d0|20\d0)\s*(?:['\u2019]?s\b|年代)")
_DECADE_SHORT = re.compile(
    r"(?<!their )(?<!his )(?<!her )(?<!your )(?<!my )(?<!our )(?<![\d\w'\u2019])['\u2019]?([1-9]0)\s*(?:s\b|年代)"
)
_MINUTES = re.compile(r"(?<![\d.])(\d{1,3})\s*-?\s*(?:minutes?\b|mins?\b|分钟)", re.IGNORECASE)
_SECONDS = re.compile(r"(?<![\d.])(\d{1,3})\s*-?\s*(?:seconds?\b|secs?\b|秒)", re.IGNORECASE)
_NOTE_OF = {"en": "an English note", "zh": "a Chinese note"}
_HOURS = re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d+)?)\s*-?\s*(?:hours?\b|hrs?\b|小时)", re.IGNORECASE)
_RATING = re.compile(
    r"(?<![\d.])(\d(?:\.\d+)?)\s*(?:/\s*(5|10)\b|out of (5|10)\b|stars?\b|分(?!钟))", re.IGNORECASE
)
# A capitalised name word: "Tom", "McGee", "DeVito", "O'Brien", "Jean-Pierre", or an initial "J."
_CAP_WORD = (r"(?:[A-Z][a-z\u00e0-\u00ff]+(?:[A-Z][a-z\u00e0-\u00ff]+)?(?:[-'\u2019][A-Za-z\u00e0-\u00ff]+)*"
             r"(?![A-Za-z\u00e0-\u00ff])|[A-Z]\.)")  # a name glued to Chinese ("Eric Leightonighton和") is one too
_CAP_RUN = re.compile(rf"{_CAP_WORD}(?:\s+{_CAP_WORD})+")
TERMINAL = ".!?\u2026)\"'\u3002\uff01\uff1f\uff09\u300d\u201d"  # characters a finished note ends with

# Words too general to show that a note borrowed another item's reason.
_GENERIC_WORDS = frozenset(
    "film films movie movies watch watching asked picked because like likes liked resembles similar tonight "
    "great perfect enjoy enjoyable choice story something want wants wish your with that this from have "
    "will would them they their into about good nice fun funny".split()
)

# Who someone watches with: the words that ground it (in the reasons or genres) and how a note may say it.
_COMPANY: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = tuple(
    (frozenset(ground), re.compile(said, re.IGNORECASE)) for ground, said, _ in COMPANY_KINDS)


def _content_words(text: str) -> set[str]:
    """Folded words of 4+ letters, plural 's' dropped, without the generic ones."""
    words = {
        w[:-1] if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 4 else w
        for w in re.findall(r"[a-z]{4,}", fold_name(text))
    }
    return words - _GENERIC_WORDS


class NoteChecker:
    """Checks one note against its own item's sheet: titles, years, runtimes, ratings, names, length, language."""

    def __init__(self, lexicon: CatalogLexicon, min_chars: dict[str, int] | None = None) -> None:
        """Check against this catalog's titles and people; `min_chars`: the shortest note per language."""
        self.lexicon = lexicon
        self.min_chars = min_chars or MIN_NOTE_CHARS

    def check(
        self, note: str, item: Item, language: str, reasons: Sequence[str] = (), other_reasons: Sequence[str] = ()
    ) -> list[str]:
        """Every problem of the note, in words a person understands (empty list: the note is fine)."""
        return [f.message for f in self.findings(note, item, language, reasons, other_reasons)]

    def findings(
        self, note: str, item: Item, language: str, reasons: Sequence[str] = (), other_reasons: Sequence[str] = ()
    ) -> list[Finding]:
        """Every problem of the note with its kind (empty list: the note is fine).

        `other_reasons` are the reasons of the other items of the same answer (and their plots, marked with
        PLOT_MARK): a note that borrows their distinctive words ("with your partner" when only another film
        was picked for that, another film's story) is wrong.
        """
        language = note_language(language)
        text = note.strip()
        grounded = " ".join([item.title, display_title(item.title), sheet_text(item), *reasons])
        found: list[Finding] = []
        found += self._check_shape(text.replace(display_title(item.title), "X"), language)  # "Live!" is no end
        found += self._check_titles(text, item, grounded)
        found += self._check_numbers(text, item, grounded)
        if m := CLAIMS_SEEN.search(text):
            found.append(Finding(Problem.CLAIMS_SEEN, f"claims the person already saw it ({m.group(0)!r})"))
        if m := INSTRUCTIONS.search(text):
            found.append(Finding(Problem.INSTRUCTIONS, f"repeats the instructions ({m.group(0)!r})"))
        if not (item.plot and item.plot.strip()) and (
                (m := STORY.search(text)) or (m := SETTING.search(text)) or (m := _cast_part(text, item))):
            found.append(Finding(Problem.STORY, f"tells a story ({m.group(0)!r}) but the sheet has no plot"))
        found += self._check_people(text, item, grounded, language)
        found += self._check_borrowed(text, item, grounded, other_reasons)
        found += self._check_company(text, item, grounded)
        names = [item.title, display_title(item.title), *sheet_people(item), *liked_titles(reasons)]
        found += self._check_weather(blank_names(text, names), grounded, sheet_text(item))  # not "Peter Stormare"
        found += self._check_roles(text, item)
        found += self._check_qualities(text, item, language, reasons)
        found += [Finding(Problem.NOT_ASKED, f"says you asked for {c.words!r}, which you did not")
                  for c in unasked_claims(text, language, reasons, names)]
        found += [Finding(Problem.MOOD_OF_ITEM, f"says your mood of it ({m!r})")
                  for m in mood_of_item(text, reasons, sheet_text(item), names)]
        return found

    @staticmethod
    def _check_qualities(text: str, item: Item, language: str, reasons: Sequence[str]) -> list[Finding]:
        """Every quality the note claims ("cozy", "not scary", "快手") must be borne out by the item's facts, and
        every food it names must be in its text; a note writes no word of another language but a name of its sheet
        or reasons ("适合你 asked的 romance", "ready in 15-20 минут")."""
        from chatbot.turn.notes.measures import foreign_foods, foreign_words, note_names

        claims = QualityLexicon.served().unsupported(text, item, language, note_names(item, liked_titles(reasons)))
        foreign = tuple(foreign_words(text, language, item, liked_titles(reasons)))
        wrong = foreign if language == "zh" else tuple(w for w in foreign if not CJK.search(w))  # CJK: _check_shape
        return [Finding(Problem.UNSUPPORTED, f"calls it {'not ' if c.negated else ''}{c.words!r}, which its facts "
                        "do not support") for c in claims] + [
            Finding(Problem.OTHER_FOOD, f"names {food!r}, which its own text does not have")
            for food in foreign_foods(text, item, language, reasons)] + [
            Finding(Problem.WRONG_LANGUAGE, f"words of another language in {_NOTE_OF[language]} ({', '.join(wrong)})",
                    wrong) for _ in wrong[:1]]

    @staticmethod
    def _check_roles(text: str, item: Item) -> list[Finding]:
        """Someone called the director must direct it; someone said to star must be in its cast; only an animated
        film has voices ("Robin Williams 配音" was written for Good Will Hunting)."""
        directors = {name_words(p) for p in item.directors}
        cast = {name_words(p) for p in item.cast}
        found = []
        if item.genres and "Animation" not in item.genres and (m := VOICED.search(text)):
            found.append(Finding(Problem.WRONG_ROLE, f"says someone voices it ({m.group(0)!r}), but it is not animated"))
        if kind := kind_as_maker(text):  # "由儿童导演": a genre read as its director
            found.append(Finding(Problem.WRONG_ROLE, f"says {kind} made it or is in it: that is its kind"))
        for role, patterns, holders in (("the director", DIRECTED, directors), ("in the cast", STARRING, cast)):
            for pattern in patterns:
                for m in pattern.finditer(text):
                    if POSSESSIVE.search(m.group(1)):
                        continue  # "with Ridley Scott's tension" states no role
                    name = name_words(m.group(1))
                    if not name or name in holders or any(name.endswith(h) or h.endswith(name) for h in holders):
                        continue
                    if name in directors | cast:  # a person of this film, in the wrong role
                        message = f"says {m.group(1).strip(' .')} is {role}, but the sheet says otherwise"
                        found.append(Finding(Problem.WRONG_ROLE, message))
        return found

    @staticmethod
    def _check_company(text: str, item: Item, grounded: str) -> list[Finding]:
        """Who the person is with ("your partner", "和孩子") must come from this item's reasons or genres."""
        own = _content_words(" ".join([grounded, *item.genres]))
        found = []
        for words, pattern in _COMPANY:
            m = pattern.search(text)
            if m and not own & words:
                message = f"says who you are with ({m.group(0)!r}), which none of its reasons says"
                found.append(Finding(Problem.COMPANY, message))
        return found

    @staticmethod
    def _check_weather(text: str, grounded: str, sheet: str) -> list[Finding]:
        """Weather ("a snowy afternoon", "雨夜") only where this item's reasons or facts give it, and the person's
        weather said as their time or what is outside, not of the film ("with rain as the backdrop"), unless its
        own facts give it (`sheet`)."""
        own, facts = fold_name(grounded), fold_name(sheet)
        person = [(m.start(), m.end()) for m in PERSON_WEATHER.finditer(text)]
        found = []
        for ground, pattern in WEATHER:
            for m in pattern.finditer(text):
                if not any(g in own for g in ground):
                    message = f"speaks of the weather ({m.group(0)!r}), which none of its reasons gives"
                    found.append(Finding(Problem.WEATHER, message))
                elif not any(s <= m.start() < e for s, e in person) and not any(g in facts for g in ground):
                    message = f"speaks of the person's weather as the film's ({m.group(0)!r})"
                    found.append(Finding(Problem.WEATHER_IN_ITEM, message))
                else:
                    continue
                break
        return found

    @staticmethod
    def _check_borrowed(text: str, item: Item, grounded: str, other_reasons: Sequence[str]) -> list[Finding]:
        """Distinctive words of another item's reasons that are nowhere on this item's sheet and name no quality its
        facts bear out."""
        if not other_reasons:
            return []
        lexicon = QualityLexicon.served()  # "romantic" of a romance is its own, whoever asked for it
        borne = [w for name, q in lexicon.qualities.items() if lexicon.holds(name, item) for ws in q.words.values()
                 for w in ws]
        own = _content_words(" ".join([grounded, *fact_sheet(item), *item.genres, *borne]))
        foreign = _content_words(" ".join(r for r in other_reasons if not r.startswith(PLOT_MARK)))
        plots = " ".join(r[len(PLOT_MARK) :] for r in other_reasons if r.startswith(PLOT_MARK))
        foreign = (foreign | {w for w in _content_words(plots) if len(w) >= 6}) - own
        used = sorted(_content_words(text) & foreign)
        return [Finding(Problem.BORROWED, f"borrows another film's reason ({', '.join(used)})")] if used else []

    def _check_shape(self, text: str, language: str) -> list[Finding]:
        """Length, sentence count and language."""
        found: list[Finding] = []
        n_cjk = len(CJK.findall(text))
        if len(text) < self.min_chars[language]:
            found.append(Finding(Problem.TOO_SHORT, f"too short ({len(text)} characters)"))
        if len(text) > MAX_NOTE_CHARS[language]:
            found.append(Finding(Problem.TOO_LONG, f"too long ({len(text)} chars, at most {MAX_NOTE_CHARS[language]})"))
        elif len(text) >= MAX_NOTE_CHARS[language] * 0.9 and text[-1:] not in TERMINAL:
            found.append(Finding(Problem.CUT_OFF, "cut off mid-sentence (too long)"))
        if language == "zh":
            if n_cjk < 6:
                found.append(Finding(Problem.WRONG_LANGUAGE, "not written in Chinese"))
            sentences = [s for s in SENTENCE_END_ZH.split(text) if s.strip()]
        else:
            if n_cjk:
                found.append(Finding(Problem.WRONG_LANGUAGE, "not written in English (contains Chinese characters)"))
            sentences = [s for s in SENTENCE_END_EN.split(text) if s.strip()]
        if len(sentences) > MAX_SENTENCES:
            found.append(Finding(Problem.TOO_MANY_SENTENCES, f"{len(sentences)} sentences, at most {MAX_SENTENCES}"))
        if "{" in text or "}" in text or "http" in text.lower():
            found.append(Finding(Problem.MARKUP, "contains markup or a link"))
        if again := said_twice(text, language):
            found.append(Finding(Problem.SAID_TWICE, f"says the same thing twice ({again!r})"))
        return found

    def _check_titles(self, text: str, item: Item, grounded: str) -> list[Finding]:
        """No catalog title other than the item's own (and titles its reasons or plot name)."""
        # titles its reasons, plot or awards name; not the shorter titles inside its own, which the note may use only
        # within its whole title ("Batman and Superman" for Batman v Superman names two other films, as a reader and
        # the dialogue tests' grounded check read it)
        own_key = title_key(item.title)
        others = grounded.replace(item.title, " ").replace(display_title(item.title), " ")
        allowed = self.lexicon.titles_named_in(others) | {own_key}
        own_spans = [(h.start, h.end) for h in self.lexicon.find_titles(text) if h.key == title_key(item.title)]
        own_spans += own_title_spans(text, item.title)
        people = [p.lower() for p in sheet_people(item)]
        found = []
        for hit in self.lexicon.find_titles(text):
            if hit.key in allowed:
                continue
            if any(s <= hit.start and hit.end <= e for s, e in own_spans):
                continue  # a shorter title inside the item's own, written whole ("Star Wars" in "Star Wars: Episode IV")
            if any(hit.key in fold_name(p) for p in people):
                continue  # a title that is also a name on the sheet
            span = name_words(text[hit.start : hit.end])
            if span and any(f" {span} " in f" {name_words(p)} " for p in people):
                continue  # a sheet person's possessive ("Brad Bird's") is not the film "The Birds"
            found.append(Finding(Problem.OTHER_TITLE, f"names another film: {hit.title!r}"))
        if has_cjk(text):
            own_keys = {title_key(item.title), fold_name(display_title(item.title))}
            for m in ZH_BOOK_TITLE.finditer(text):
                inner = m.group(1).strip()
                if title_key(inner) in allowed or fold_name(inner) in own_keys:
                    continue
                found.append(Finding(Problem.OTHER_TITLE, f"names a title that is not this item's: 《{inner}》"))
        return found

    def _check_numbers(self, text: str, item: Item, grounded: str) -> list[Finding]:
        """Years, decades, runtimes and ratings must be the item's own."""
        from chatbot.turn.notes.measures import arabic_times  # 二十五分钟 is checked as 25分钟

        return [
            *self._check_years(text, item, grounded),
            *self._check_runtime(arabic_times(text), item),
            *self._check_rating(text, item),
            *[Finding(Problem.UNSUPPORTED, said) for said in wrong_oscar_counts(text, item)],  # "获得5个奥斯卡奖"
        ]

    @staticmethod
    def _check_years(text: str, item: Item, grounded: str) -> list[Finding]:
        """Years and decades must be the item's own (or named in its plot or reasons: To Kill a Mockingbird, 1962,
        is set in the 1930s)."""
        found = []
        sheet_years = set(_YEAR.findall(grounded))
        for year in _YEAR.findall(_DECADE_FULL.sub(" ", text)):  # "the 1980s" is a decade, checked below
            if item.year is not None and int(year) == item.year or year in sheet_years:
                continue
            message = f"mentions the year {year}, which is not this film's ({item.year or 'unknown'})"
            found.append(Finding(Problem.YEAR, message))
        decades = [int(d) for d in _DECADE_FULL.findall(text)]
        decades += [(1900 if int(d) >= 20 else 2000) + int(d) for d in _DECADE_SHORT.findall(text)]
        told = {int(d) for d in _DECADE_FULL.findall(grounded)}  # its plot's own time ("In 1930s Alabama, ...")
        for decade in decades:
            if (item.year is None or item.year // 10 * 10 != decade) and decade not in told:
                message = f"places the film in the {decade}s, but it is from {item.year or 'an unknown year'}"
                found.append(Finding(Problem.DECADE, message))
        return found

    @staticmethod
    def _check_runtime(text: str, item: Item) -> list[Finding]:
        """Minutes and hours must match how long the item takes (a runtime, a recipe's time; hours within half
        an hour); seconds must be the sheet's own ("whisk for 30 seconds", never "a soup in 60-90 seconds")."""
        on_sheet, own = item_minutes(item), " ".join([sheet_text(item), *(str(v) for _, v in item.attributes)])
        truth = f"the sheet says {on_sheet} minutes" if on_sheet else "the sheet gives no time"
        said = [(m, "minutes") for m in _MINUTES.findall(text) if on_sheet is None or int(m) != on_sheet]
        said += [(h, "hours") for h in _HOURS.findall(text) if on_sheet is None or abs(float(h) * 60 - on_sheet) > 30]
        said += [(s, "seconds") for s in _SECONDS.findall(text) if not re.search(rf"(?<![\d.]){s}\s*-?\s*sec", own)]
        return [Finding(Problem.RUNTIME, f"says {n} {unit}, but {truth}") for n, unit in said]

    @staticmethod
    def _check_rating(text: str, item: Item) -> list[Finding]:
        """A rating must be the item's mean rating, on whatever scale the note uses."""
        found = []
        for value, scale_a, scale_b in _RATING.findall(text):
            scale = int(scale_a or scale_b or 5)
            if item.mean_rating is None or not item.n_ratings:
                found.append(Finding(Problem.RATING, f"gives a rating of {value}, but the sheet has none"))
            elif abs(float(value) - item.mean_rating * scale / 5) > 0.1 * scale / 5 + 1e-9:
                message = f"gives a rating of {value}/{scale}, but the mean rating is {item.mean_rating:.1f}/5"
                found.append(Finding(Problem.RATING, message))
        return found

    def _check_people(self, text: str, item: Item, grounded: str, language: str) -> list[Finding]:
        """Every person named must be one of the item's own people (or named in its plot or reasons)."""
        own = [name_words(p) for p in item.people]
        grounded_folded = name_words(grounded)
        title_folded = name_words(display_title(item.title))
        found = []
        for m in _CAP_RUN.finditer(text):
            words = [POSSESSIVE.sub("", w) for w in m.group(0).split()]  # "Lasseter's" -> "Lasseter"
            folded = [name_words(w) for w in words]
            covered = [False] * len(words)
            for size in (3, 2):  # mark the words that form one of this item's people, or grounded text
                for i in range(len(words) - size + 1):
                    name = " ".join(folded[i : i + size])
                    if any(name == p or (len(name) > 4 and name in p) for p in own) or (
                        f" {name} " in f" {grounded_folded} " or f" {name} " in f" {title_folded} "
                    ):
                        covered[i : i + size] = [True] * size
            for i in range(len(words) - 1):
                if covered[i] or covered[i + 1]:
                    continue
                pair = f"{folded[i]} {folded[i + 1]}"
                triple = f"{pair} {folded[i + 2]}" if i + 2 < len(words) else ""
                known = pair in self.lexicon.people or (triple and triple in self.lexicon.people)
                looks_like = folded[i] in self.lexicon.first_names and len(folded[i + 1]) >= 3
                if known or looks_like:
                    message = f"names {words[i]} {words[i + 1]}, who is not on this film's sheet"
                    found.append(Finding(Problem.OTHER_PERSON, message))
                    covered[i : i + 2] = [True, True]
        if language == "zh":
            from chatbot.turn.notes.measures import without_foods_zh  # 马苏里拉 (mozzarella) is no name

            bare = without_foods_zh(blank_names(text, sheet_people(item)))  # nor is a sheet name in Latin letters
            for m in (*ZH_TRANSLIT_NAME.finditer(bare), *ZH_UNDOTTED_NAME.finditer(bare),
                      *ZH_HAN_NAME.finditer(bare)):
                message = f"writes a name in Chinese ({m.group(0)}) that cannot be checked against the sheet"
                found.append(Finding(Problem.CHINESE_NAME, message))
                break
        return found


# "Donnie Dunagan is the charming, lovable bear" of Bambi: a part given to one of the cast, a story of its own (a
# sheet names the cast, never their parts); "is a delight for the family" gives none.
_PART = re.compile(rf"([A-Z][\w'-]+)\s+(?:is|as|plays|playing|voices|stars as)\s+(?:a|an|the|his|her)\s+"
                   rf"(?:(?!(?:for|with|to|from|and|or|of)\s)[\w-]+,?\s+){{0,3}}?{CHARACTER}\b")


def _cast_part(text: str, item: Item) -> re.Match[str] | None:
    """Where the note gives a person of the item a part in its story ("X is the lovable bear"), if it does."""
    people = {w for p in item.people for w in name_words(p).split()}
    return next((m for m in _PART.finditer(text) if name_words(m.group(1)) in people), None)


def shares_skeleton(text: str, item: Item, other: str, other_item: Item, language: str) -> list[str]:
    """The word 4-grams (Chinese: 6-character runs) two notes share once each one's title and names are taken out:
    the notes read alike ("Pete Docter's quirky comedy suits a party." / "Rob Reiner's quirky comedy suits a
    party."). The same measure as `tastebud eval notes`'s shared skeletons."""
    from chatbot.turn.notes.measures import note_names, shared_skeleton, skeleton_grams

    own = skeleton_grams(text, language, note_names(item))
    return shared_skeleton(own, [skeleton_grams(other, language, note_names(other_item))])
