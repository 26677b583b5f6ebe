"""Grounded, honest notes per recommended item: one LLM call writes them all, code checks every note.

The flow for one turn (`Copywriter.write_notes_stream`):
1. each item becomes one compact fact line for the prompt (`prompt_facts`: year, genres, director, lead actor,
   plot where known, ~30 tokens) plus the reasons it fits (short English strings from the caller;
   reasons every item shares are said once);
2. ONE LLM call writes every note as schema-constrained compact JSON `{"1":"note","2":...}` (numbered keys anchor
   each note to its film; with a plain list the 1.5B model moved notes between films; title keys cost ~5
   generated tokens a note; without spaces `","` and `":"` are one token each), parsed while it streams, so each note's text arrives as `NoteDelta`s for its
   card. `batch=False` makes one call per item instead;
3. every finished note is checked by `NoteChecker` against the item's full sheet (`fact_sheet`): it names no
   other catalog title, every year, decade, runtime, rating and person name in it is its own, it tells no story
   when the sheet has no plot, it borrows no other item's reasons nor invents who the person watches with, its
   length and language are right, and it does not repeat another item's note word for word. A note that reads
   like another note of the turn with only the title and names changed is true but samey: a soft failure;
4. every failed note is written once more, all in ONE small call (told what was wrong in general terms), only
   when the time left covers that call at this turn's speed; samey notes ride along in that call when it is made
   anyway and are otherwise shown as written. A note that fails twice, or any note when the LLM is down or the
   notes step's time budget (`budget_s`, setting TASTEBUD_NOTES_BUDGET_S) runs out, becomes a template note
   built from the sheet (`prompts/note_fallback.yaml`), which is true by construction.
Each item ends with one `NoteDone` carrying the final `Note` (text, `why` chips, where it came from), and
`Copywriter.last_stats` holds what the step cost (`NotesStats`: calls, tokens, retries, templates).

`describe_item` answers "tell me more about the second one" from the catalog facts
(`prompts/describe.yaml`), optionally with one LLM sentence checked the same way.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from retrieval.types import Item, LLMError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "CatalogLexicon",
    "Copywriter",
    "Note",
    "NoteChecker",
    "NoteDelta",
    "NoteDone",
    "NoteRequest",
    "NotesStats",
    "describe_item",
    "fact_sheet",
    "prompt_facts",
    "template_note",
    "why_chips",
]

LANGUAGES = ("en", "zh")  # note languages; anything else is written in English
MAX_NOTE_CHARS = {"en": 280, "zh": 200}  # longest note the checker accepts (template notes run long)
LLM_NOTE_CHARS = {"en": 200, "zh": 90}  # longest LLM note (the schema's maxLength: a runaway note stops early)
MIN_NOTE_CHARS = {"en": 25, "zh": 10}
MAX_SENTENCES = 2
PLOT_CHARS = 220  # plot text on the checker's sheet
PROMPT_PLOT_CHARS = 100  # plot text in the prompt (prompt tokens cost ~15 ms each on 2 cores)
PROMPT_CAST = 1  # cast members in the prompt (the lead; the checker's sheet keeps 3)
MAX_REASONS = 3  # reasons put on a sheet
NO_PLOT = "plot: not known (say nothing about the story)"  # the 1.5B model invents stories unless told
MAX_CHIPS = 3  # `why` chips per card
CHIP_CHARS = 32  # longest chip
TOKENS_PER_NOTE = {"en": 56, "zh": 72}  # generation budget per note and its key (Chinese costs more tokens)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[0-9A-Za-z\u00c0-\u024f]+(?:['\u2019][0-9A-Za-z\u00c0-\u024f]+)*")
_ARTICLES = frozenset({"the", "a", "an"})
_YEAR = re.compile(r"(?<![\d.])(1[89]\d\d|20\d\d)(?![\d])")
_DECADE_FULL = re.compile(r"(?<!\d)(1[89]\d0|20\d0)\s*(?:'?s\b|年代)")
_DECADE_SHORT = re.compile(
    r"(?<!their )(?<!his )(?<!her )(?<!your )(?<!my )(?<!our )(?<![\d\w'\u2019])['\u2019]?([1-9]0)\s*(?:s\b|年代)"
)
_MINUTES = re.compile(r"(?<![\d.])(\d{2,3})\s*-?\s*(?:minutes?\b|mins?\b|分钟)", re.IGNORECASE)
_HOURS = re.compile(r"(?<![\d.])(\d(?:\.\d+)?)\s*-?\s*(?:hours?\b|hrs?\b|小时)", re.IGNORECASE)
_RATING = re.compile(
    r"(?<![\d.])(\d(?:\.\d+)?)\s*(?:/\s*(5|10)\b|out of (5|10)\b|stars?\b|分(?!钟))", re.IGNORECASE
)
# A claim that the person already saw or liked this film (the notes are for films they have not seen).
_CLAIMS_SEEN = re.compile(
    r"(?<!if )(?<!If )\byou(?:'ve| have)? (?:already )?(?:enjoyed|loved|seen|watched)\b(?! it before)|你(?:看过|喜欢过)",
)
# Phrases that tell a story; allowed only when the sheet has a plot.
_STORY = re.compile(
    r"\b(?:about (?:a|an|the|two|three|four|young|his|her|their|how|what|when)\b|follows\b|tells the story|"
    r"story of|the story\b|whose (?:life|quest|journey)|must (?:find|save|stop|escape))|讲述|讲的是|故事讲",
    re.IGNORECASE,
)
# A capitalised name word: "Tom", "McGee", "DeVito", "O'Brien", "Jean-Pierre", or an initial "J."
_CAP_WORD = r"(?:[A-Z][a-z\u00e0-\u00ff]+(?:[A-Z][a-z\u00e0-\u00ff]+)?(?:[-'\u2019][A-Za-z\u00e0-\u00ff]+)*\b|[A-Z]\.)"
_CAP_RUN = re.compile(rf"{_CAP_WORD}(?:\s+{_CAP_WORD})+")
_ZH_TRANSLIT_NAME = re.compile(r"[\u4e00-\u9fff]{1,5}[\u00b7\u30fb\u2022][\u4e00-\u9fff]{1,5}")
_ZH_BOOK_TITLE = re.compile(r"《([^》]{1,60})》")
_SENTENCE_END_EN = re.compile(r"(?<!\b[A-Z])(?<!\bMr)(?<!\bMrs)(?<!\bDr)(?<!\bSt)(?<!\bvs)(?<!\bJr)[.!?]+(?=\s|$)")
_TERMINAL = ".!?\u2026)\"'\u3002\uff01\uff1f\uff09\u300d\u201d"  # characters a finished note ends with
_SENTENCE_END_ZH = re.compile(r"[。！？!?]+")


# ------------------------------------------------------------------------------------------------ value types
@dataclass(frozen=True)
class NoteRequest:
    """One recommended item to write a note for, with the reasons it was picked (short English strings)."""

    item: Item
    reasons: tuple[str, ...] = ()  # e.g. "you asked for: space adventure", "rainy evening -> cozy", "like Alien"


@dataclass(frozen=True)
class Note:
    """The final, checked note of one item."""

    item_id: str
    text: str
    why: tuple[str, ...]  # short chips for the card, derived by code from the reasons
    source: str  # "llm" (first draft passed), "llm-retry" (second draft passed) or "template"
    problems: tuple[str, ...] = ()  # why earlier drafts were rejected, for logs and tests


@dataclass(frozen=True)
class NoteDelta:
    """A piece of a note's text as the LLM writes it; `position` is the item's index in the request list."""

    position: int
    text_delta: str


@dataclass(frozen=True)
class NoteDone:
    """The checked final note of the item at `position`; replaces whatever deltas showed before."""

    position: int
    note: Note


NoteEvent = NoteDelta | NoteDone


# ------------------------------------------------------------------------------------------------ normalising
def _fold(text: str) -> str:
    """Lowercase ASCII-folded text (accents dropped), apostrophes removed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("'", "").replace("\u2019", "").lower()


_TITLE_SUFFIX_ARTICLE = re.compile(r",\s*(the|a|an|les|la|le|el|il|der|die|das)\s*$", re.IGNORECASE)
_PAREN = re.compile(r"\([^)]*\)")
_TRAILING_PAREN = re.compile(r"\s*\([^()]*\)\s*$")


def display_title(title: str) -> str:
    """A catalog title as people write it: "Matrix, The (1999)" -> "The Matrix"."""
    main = title.strip()
    while (stripped := _TRAILING_PAREN.sub("", main)) != main and stripped:  # "(1999)", "(Amélie, Le)"
        main = stripped
    m = _TITLE_SUFFIX_ARTICLE.search(main)
    if m:
        main = f"{m.group(1)} {main[: m.start()].strip()}"
    return re.sub(r"\s+", " ", main).strip() or title.strip()


def title_key(title: str) -> str:
    """The matching key of a title: folded words without punctuation or a leading article."""
    words = [w for w in _LATIN_WORD.findall(_fold(display_title(title)))]
    while words and words[0] in _ARTICLES and len(words) > 1:
        words = words[1:]
    return " ".join(words)


_POSSESSIVE = re.compile(r"['\u2019]s\b")


def _name_words(text: str) -> str:
    """Folded words of a text with possessives dropped, for comparing names ("Arthur's" -> "arthur")."""
    return " ".join(_LATIN_WORD.findall(_fold(_POSSESSIVE.sub("", text))))


def _segments(text: str) -> list[list[tuple[str, int, int]]]:
    """Runs of Latin words (folded word, start, end) not interrupted by CJK text."""
    out: list[list[tuple[str, int, int]]] = []
    current: list[tuple[str, int, int]] = []
    last_end = 0
    for m in _LATIN_WORD.finditer(text):
        if current and _CJK.search(text[last_end : m.start()]):
            out.append(current)
            current = []
        current.append((_fold(m.group(0)), m.start(), m.end()))
        last_end = m.end()
    if current:
        out.append(current)
    return out


def _at_sentence_start(text: str, pos: int) -> bool:
    """True when pos starts the text or follows a sentence end."""
    before = text[:pos].rstrip()
    return not before or before[-1] in ".!?:;\"'(\u3002\uff01\uff1f\uff1a"


# ------------------------------------------------------------------------------------------------ the catalog's names
@dataclass(frozen=True)
class TitleHit:
    """A catalog title found in a text."""

    key: str  # title_key of the catalog title
    title: str  # the catalog title as people write it
    start: int
    end: int


class CatalogLexicon:
    """Every catalog title and person name, for finding them in a note (built once per catalog)."""

    def __init__(self, titles: Iterable[str], people: Iterable[str] = ()) -> None:
        """Index titles (keys of >= 2 words or >= 5 characters, not pure numbers) and people names."""
        self.titles: dict[str, str] = {}
        for title in titles:
            key = title_key(title)
            if not key or key.replace(" ", "").isdigit():
                continue
            if " " in key or len(key) >= 5:
                self.titles.setdefault(key, display_title(title))
        self.max_title_words = max((k.count(" ") + 1 for k in self.titles), default=1)
        self.people: set[str] = set()
        self.first_names: set[str] = set()
        for name in people:
            words = _LATIN_WORD.findall(_fold(name))
            if len(words) >= 2:
                self.people.add(" ".join(words))
                if len(words[0]) >= 3:
                    self.first_names.add(words[0])

    @classmethod
    def from_items(cls, items: Iterable[Item]) -> CatalogLexicon:
        """The lexicon of a catalog (titles and directors, cast, writers)."""
        items = list(items)
        return cls((it.title for it in items), (p for it in items for p in it.people))

    def find_titles(self, text: str) -> list[TitleHit]:
        """Catalog titles named in text, as a person would write them (case rules avoid common-word hits)."""
        hits: list[TitleHit] = []
        for seg in _segments(text):
            words = [w for w, _, _ in seg]
            i = 0
            while i < len(seg):
                step = 1
                if words[i] not in _ARTICLES:
                    for n in range(min(self.max_title_words, len(seg) - i), 0, -1):
                        key = " ".join(words[i : i + n])
                        if key not in self.titles:
                            continue
                        start, end = seg[i][1], seg[i + n - 1][2]
                        if self._written_as_title(text, start, end, n):
                            hits.append(TitleHit(key, self.titles[key], start, end))
                            step = n
                            break
                i += step
        return hits

    @staticmethod
    def _written_as_title(text: str, start: int, end: int, n_words: int) -> bool:
        """A long title counts however it is written; up to 3 words only when capitalised like a title."""
        if n_words >= 4:
            return True
        span = text[start:end]
        words = _LATIN_WORD.findall(span)
        if _CJK.search(text[max(0, start - 1) : end + 1]):
            return True  # Latin words inside Chinese text are names or titles
        significant = [w for w in words if len(w) >= 4 or w is words[0]]
        if not all(w[:1].isupper() or w[:1].isdigit() for w in significant):
            return False
        if n_words == 1 and _at_sentence_start(text, start):
            return False  # "Speed matters" at a sentence start is not the film Speed
        return True

    def is_person(self, name: str) -> bool:
        """True when name (any case) is a person of the catalog."""
        return " ".join(_LATIN_WORD.findall(_fold(name))) in self.people


# ------------------------------------------------------------------------------------------------ fact sheets
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
    else:
        facts.append(NO_PLOT)
    return facts


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
        facts.append("plot: " + _shorten(plot, PROMPT_PLOT_CHARS))
    return facts


def _sheet_people(item: Item) -> list[str]:
    """The people on an item's sheet (what a note may name)."""
    return list(item.directors[:2]) + list(item.cast[:3]) + list(item.writers)


def _shorten(text: str, limit: int) -> str:
    """Text cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "\u2026"


def _clean_reason(reason: str) -> str:
    """A reason without its parenthesised detail or final period: "kids → family-friendly (PG at most)" -> ...."""
    text = re.sub(r"\s+", " ", _PAREN.sub("", str(reason)))
    return re.sub(r"\s+([,;:.])", r"\1", text).strip().rstrip(".").strip()


def why_chips(reasons: Sequence[str], limit: int = MAX_CHIPS) -> tuple[str, ...]:
    """Short chips for a card from the reasons: trimmed, deduplicated, at most `limit`."""
    chips: list[str] = []
    seen: set[str] = set()
    for reason in reasons:
        text = _shorten(_clean_reason(reason), CHIP_CHARS)
        key = text.lower()
        if text and key not in seen:
            seen.add(key)
            chips.append(text)
        if len(chips) >= limit:
            break
    return tuple(chips)


def _language(language: str) -> str:
    """The note language used for a requested language code (en or zh)."""
    code = (language or "en").lower().split("-")[0]
    return code if code in LANGUAGES else "en"


def template_note(item: Item, reasons: Sequence[str], language: str) -> str:
    """A note built only from the sheet and the reasons (prompts/note_fallback.yaml); always true."""
    from prompts import load_prompt

    return load_prompt("note_fallback").render(
        language=_language(language),
        title=display_title(item.title),
        year=item.year,
        genres=list(item.genres),
        directors=list(item.directors),
        cast=list(item.cast),
        runtime_min=item.runtime_min,
        reasons=[_clean_reason(r) for r in reasons if _clean_reason(r)],
    ).user


def describe_item(item: Item, language: str = "en") -> str:
    """What the catalog knows about one item, written out from its facts (prompts/describe.yaml)."""
    from prompts import load_prompt

    return load_prompt("describe").render(
        language=_language(language),
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


_PLOT_MARK = "\x00plot:"  # marks another item's plot among `other_reasons` (its long words count as borrowed)

# Words too general to show that a note borrowed another item's reason.
_GENERIC_WORDS = frozenset(
    "film films movie movies watch watching asked picked because like likes liked resembles similar tonight "
    "great perfect enjoy enjoyable choice story something want wants wish your with that this from have "
    "will would them they their into about good nice fun funny".split()
)


# A person's role as a note may state it; group 1 is one name (the last one before a Chinese role word).
_NAME = r"((?:[A-Z][\w'\u2019.-]*)(?:[ -](?:[A-Z][\w'\u2019.-]*|de|van|von|da|di|le|la)){0,3})"
_DIRECTED = (
    re.compile(rf"(?:directed by|director|helmed by|from) {_NAME}"),
    re.compile(rf"{_NAME} ?(?:执导|导演的|导演)"),
    re.compile(rf"(?:导演|执导)[：:，, ]? ?{_NAME}"),
)
_STARRING = (
    re.compile(rf"(?:starring|stars|with) {_NAME}"),
    re.compile(rf"{_NAME} ?(?:主演|领衔)"),
    re.compile(rf"(?:主演)[：:，, ]? ?{_NAME}"),
)
# Who someone watches with: the words that ground it (in the reasons or genres) and how a note may say it.
_COMPANY: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = tuple(
    (frozenset(ground.split()), re.compile(said, re.IGNORECASE))
    for ground, said in (
        ("partner couple date romantic romance girlfriend boyfriend wife husband",
         r"\b(?:your|a) (?:partner|date|girlfriend|boyfriend|wife|husband|significant other|loved one)\b|"
         r"伴侣|另一半|恋人|情侣|女朋友|男朋友|对象"),
        ("family kid kids children child",
         r"\b(?:your|the) (?:family|kids|children|little ones)\b|家人|全家|孩子|小朋友|一家人"),
        ("friend friends group", r"\b(?:your|with) friends\b|朋友"),
        ("colleague colleagues coworker coworkers work", r"\b(?:your )?(?:colleagues|coworkers)\b|同事"),
    )
)


def _content_words(text: str) -> set[str]:
    """Folded words of 4+ letters, plural 's' dropped, without the generic ones."""
    words = {
        w[:-1] if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 4 else w
        for w in re.findall(r"[a-z]{4,}", _fold(text))
    }
    return words - _GENERIC_WORDS


# ------------------------------------------------------------------------------------------------ the checks
class NoteChecker:
    """Checks one note against its own item's sheet: titles, years, runtimes, ratings, names, length, language."""

    def __init__(self, lexicon: CatalogLexicon) -> None:
        """Check against this catalog's titles and people."""
        self.lexicon = lexicon

    def check(
        self, note: str, item: Item, language: str, reasons: Sequence[str] = (), other_reasons: Sequence[str] = ()
    ) -> list[str]:
        """Every problem of the note, in words a person understands (empty list: the note is fine).

        `other_reasons` are the reasons of the other items of the same answer (and their plots, marked with
        _PLOT_MARK): a note that borrows their distinctive words ("with your partner" when only another film
        was picked for that, another film's story) is wrong.
        """
        language = _language(language)
        text = note.strip()
        grounded = " ".join([item.title, display_title(item.title), item.plot or "", item.awards or "", *reasons])
        problems: list[str] = []
        problems += self._check_shape(text.replace(display_title(item.title), "X"), language)  # "Live!" is no end
        problems += self._check_titles(text, item, grounded)
        problems += self._check_numbers(text, item, grounded)
        if m := _CLAIMS_SEEN.search(text):
            problems.append(f"claims the person already saw it ({m.group(0)!r})")
        if not (item.plot and item.plot.strip()) and (m := _STORY.search(text)):
            problems.append(f"tells a story ({m.group(0)!r}) but the sheet has no plot")
        problems += self._check_people(text, item, grounded, language)
        problems += self._check_borrowed(text, item, grounded, other_reasons)
        problems += self._check_company(text, item, grounded)
        problems += self._check_roles(text, item)
        return problems

    @staticmethod
    def _check_roles(text: str, item: Item) -> list[str]:
        """Someone called the director must direct it; someone said to star must be in its cast."""
        directors = {_name_words(p) for p in item.directors}
        cast = {_name_words(p) for p in item.cast}
        problems = []
        for role, patterns, holders in (("the director", _DIRECTED, directors), ("in the cast", _STARRING, cast)):
            for pattern in patterns:
                for m in pattern.finditer(text):
                    if _POSSESSIVE.search(m.group(1)):
                        continue  # "with Ridley Scott's tension" states no role
                    name = _name_words(m.group(1))
                    if not name or name in holders or any(name.endswith(h) or h.endswith(name) for h in holders):
                        continue
                    if name in directors | cast:  # a person of this film, in the wrong role
                        problems.append(f"says {m.group(1).strip(' .')} is {role}, but the sheet says otherwise")
        return problems

    @staticmethod
    def _check_company(text: str, item: Item, grounded: str) -> list[str]:
        """Who the person watches with ("your partner", "和孩子") must come from this item's reasons or genres."""
        own = _content_words(" ".join([grounded, *item.genres]))
        problems = []
        for words, pattern in _COMPANY:
            m = pattern.search(text)
            if m and not own & words:
                problems.append(f"says who you watch with ({m.group(0)!r}), which none of its reasons says")
        return problems

    @staticmethod
    def _check_borrowed(text: str, item: Item, grounded: str, other_reasons: Sequence[str]) -> list[str]:
        """Distinctive words of another item's reasons that are nowhere on this item's sheet."""
        if not other_reasons:
            return []
        own = _content_words(" ".join([grounded, *fact_sheet(item), *item.genres]))
        foreign = _content_words(" ".join(r for r in other_reasons if not r.startswith(_PLOT_MARK)))
        plots = " ".join(r[len(_PLOT_MARK) :] for r in other_reasons if r.startswith(_PLOT_MARK))
        foreign = (foreign | {w for w in _content_words(plots) if len(w) >= 6}) - own
        used = sorted(_content_words(text) & foreign)
        return [f"borrows another film's reason ({', '.join(used)})"] if used else []

    def _check_shape(self, text: str, language: str) -> list[str]:
        """Length, sentence count and language."""
        problems: list[str] = []
        n_cjk = len(_CJK.findall(text))
        if len(text) < MIN_NOTE_CHARS[language]:
            problems.append(f"too short ({len(text)} characters)")
        if len(text) > MAX_NOTE_CHARS[language]:
            problems.append(f"too long ({len(text)} characters, at most {MAX_NOTE_CHARS[language]})")
        elif len(text) >= MAX_NOTE_CHARS[language] * 0.9 and text[-1:] not in _TERMINAL:
            problems.append("cut off mid-sentence (too long)")
        if language == "zh":
            if n_cjk < 6:
                problems.append("not written in Chinese")
            sentences = [s for s in _SENTENCE_END_ZH.split(text) if s.strip()]
        else:
            if n_cjk:
                problems.append("not written in English (contains Chinese characters)")
            sentences = [s for s in _SENTENCE_END_EN.split(text) if s.strip()]
        if len(sentences) > MAX_SENTENCES:
            problems.append(f"{len(sentences)} sentences, at most {MAX_SENTENCES}")
        if "{" in text or "}" in text or "http" in text.lower():
            problems.append("contains markup or a link")
        return problems

    def _check_titles(self, text: str, item: Item, grounded: str) -> list[str]:
        """No catalog title other than the item's own (and titles its reasons or plot name)."""
        own = self.lexicon.find_titles(grounded)
        own_key = title_key(item.title)
        allowed = {h.key for h in own} | {own_key}
        own_spans = [(h.start, h.end) for h in self.lexicon.find_titles(text) if h.key == title_key(item.title)]
        people = [p.lower() for p in _sheet_people(item)]
        problems = []
        for hit in self.lexicon.find_titles(text):
            if hit.key in allowed:
                continue
            if any(s <= hit.start and hit.end <= e for s, e in own_spans) or f" {hit.key} " in f" {own_key} ":
                continue  # a shorter title inside the item's own ("Star Wars" in "Star Wars: Episode IV")
            if any(hit.key in _fold(p) for p in people):
                continue  # a title that is also a name on the sheet
            span = _name_words(text[hit.start : hit.end])
            if span and any(f" {span} " in f" {_name_words(p)} " for p in people):
                continue  # a sheet person's possessive ("Brad Bird's") is not the film "The Birds"
            problems.append(f"names another film: {hit.title!r}")
        if _CJK.search(text):
            own_keys = {title_key(item.title), _fold(display_title(item.title))}
            for m in _ZH_BOOK_TITLE.finditer(text):
                inner = m.group(1).strip()
                if title_key(inner) in allowed or _fold(inner) in own_keys:
                    continue
                problems.append(f"names a title that is not this item's: 《{inner}》")
        return problems

    def _check_numbers(self, text: str, item: Item, grounded: str) -> list[str]:
        """Years, decades, runtimes and ratings must be the item's own."""
        problems = []
        sheet_years = set(_YEAR.findall(grounded))
        for year in _YEAR.findall(text):
            if item.year is not None and int(year) == item.year or year in sheet_years:
                continue
            problems.append(f"mentions the year {year}, which is not this film's ({item.year or 'unknown'})")
        decades = [int(d) for d in _DECADE_FULL.findall(text)]
        decades += [(1900 if int(d) >= 20 else 2000) + int(d) for d in _DECADE_SHORT.findall(text)]
        for decade in decades:
            if item.year is None or item.year // 10 * 10 != decade:
                problems.append(f"places the film in the {decade}s, but it is from {item.year or 'an unknown year'}")
        for minutes in _MINUTES.findall(text):
            if item.runtime_min is None or int(minutes) != item.runtime_min:
                problems.append(f"says {minutes} minutes, but the runtime is {item.runtime_min or 'unknown'}")
        for hours in _HOURS.findall(text):
            if item.runtime_min is None or abs(float(hours) * 60 - item.runtime_min) > 30:
                problems.append(f"says {hours} hours, but the runtime is {item.runtime_min or 'unknown'} minutes")
        for value, scale_a, scale_b in _RATING.findall(text):
            scale = int(scale_a or scale_b or 5)
            if item.mean_rating is None or not item.n_ratings:
                problems.append(f"gives a rating of {value}, but the sheet has none")
            elif abs(float(value) - item.mean_rating * scale / 5) > 0.1 * scale / 5 + 1e-9:
                problems.append(f"gives a rating of {value}/{scale}, but the mean rating is {item.mean_rating:.1f}/5")
        return problems

    def _check_people(self, text: str, item: Item, grounded: str, language: str) -> list[str]:
        """Every person named must be one of the item's own people (or named in its plot or reasons)."""
        own = [_name_words(p) for p in item.people]
        grounded_folded = _name_words(grounded)
        title_folded = _name_words(display_title(item.title))
        problems = []
        for m in _CAP_RUN.finditer(text):
            words = [_POSSESSIVE.sub("", w) for w in m.group(0).split()]  # "Lasseter's" -> "Lasseter"
            folded = [_name_words(w) for w in words]
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
                    problems.append(f"names {words[i]} {words[i + 1]}, who is not on this film's sheet")
                    covered[i : i + 2] = [True, True]
        if language == "zh":
            for m in _ZH_TRANSLIT_NAME.finditer(text):
                problems.append(f"writes a name in Chinese ({m.group(0)}) that cannot be checked against the sheet")
        return problems


def _trim(text: str, language: str) -> str:
    """The note cut to its first sentences when it is too long (cutting adds nothing untrue; the rest is checked)."""
    ends = _SENTENCE_END_ZH if language == "zh" else _SENTENCE_END_EN
    cuts = [m.end() for m in ends.finditer(text)]
    if len(cuts) <= MAX_SENTENCES and len(text) <= MAX_NOTE_CHARS[language]:
        return text
    for n in (MAX_SENTENCES, 1):
        if len(cuts) >= n and len(text[: cuts[n - 1]]) <= MAX_NOTE_CHARS[language]:
            return text[: cuts[n - 1]].strip()
    return text


def _cut_to_sentence(text: str, language: str) -> str:
    """The text up to its last finished sentence (unchanged when no sentence ends in it)."""
    ends = _SENTENCE_END_ZH if language == "zh" else _SENTENCE_END_EN
    cuts = [m.end() for m in ends.finditer(text)]
    return text[: cuts[-1]].strip() if cuts else text


def _skeleton(text: str, item: Item) -> str:
    """A note's words without its film's title and people: two notes alike but for those say nothing of either
    film ("Pete Docter's quirky comedy suits a party." / "Rob Reiner's quirky comedy suits a party.")."""
    folded = _fold(_POSSESSIVE.sub("", text))
    out = folded
    names = {w for name in (display_title(item.title), *item.people) for w in _name_words(name).split()}
    for word in names - _ARTICLES:
        out = re.sub(rf"(?<![0-9a-z]){re.escape(word)}(?![0-9a-z])", " ", out)
    out = re.sub(r"[\W_]+", " ", out).strip()  # punctuation and spacing do not make two notes differ
    return out or folded


# ------------------------------------------------------------------------------------------------ streaming JSON
class _NotesStreamParser:
    """Reads `{"1. Title": "note", "2. Title": "note"}` as it streams; reports each note's text as it arrives.

    A note's position is its label's index when the label is known (any key order works), else its order.
    """

    def __init__(self, labels: Sequence[str]) -> None:
        """Start before the object; labels are the keys in item order."""
        self.index = {label: k for k, label in enumerate(labels)}
        self.state = "before"  # before -> key_next -> in_key -> value_next -> in_value -> key_next ... -> after
        self.position = -1
        self.n_values = 0
        self.key: list[str] = []
        self.current: list[str] = []
        self.escape = ""  # a pending escape sequence ("\\", "\\u12")

    def feed(self, chunk: str) -> list[tuple[str, int, str]]:
        """Events for this chunk: ("delta", position, text) and ("end", position, full text)."""
        events: list[tuple[str, int, str]] = []
        delta: list[str] = []
        for ch in chunk:
            if self.state in ("in_key", "in_value"):
                if self.escape:
                    self.escape += ch
                    decoded = self._decode_escape()
                    if decoded is None:
                        continue
                    self.escape = ""
                    self._add(decoded, delta)
                elif ch == "\\":
                    self.escape = ch
                elif ch == '"':
                    if self.state == "in_key":
                        self.state = "value_next"
                    else:
                        if delta:
                            events.append(("delta", self.position, "".join(delta)))
                            delta.clear()
                        events.append(("end", self.position, "".join(self.current)))
                        self.state = "key_next"
                else:
                    self._add(ch, delta)
            elif self.state == "before":
                if ch == "{":
                    self.state = "key_next"
            elif self.state == "key_next":
                if ch == '"':
                    self.state, self.key = "in_key", []
                elif ch == "}":
                    self.state = "after"
            elif self.state == "value_next":
                if ch == '"':
                    label = "".join(self.key)
                    self.position = self.index.get(label, self.n_values)
                    self.n_values += 1
                    self.state, self.current = "in_value", []
        if delta and self.state == "in_value":
            events.append(("delta", self.position, "".join(delta)))
        return events

    def _add(self, text: str, delta: list[str]) -> None:
        """Add decoded text to the key or the note being read."""
        if self.state == "in_key":
            self.key.append(text)
        else:
            self.current.append(text)
            delta.append(text)

    def _decode_escape(self) -> str | None:
        """The character of a complete escape sequence, or None while it is incomplete."""
        seq = self.escape
        if seq[1] == "u":
            if len(seq) < 6:
                return None
            try:
                return chr(int(seq[2:6], 16))
            except ValueError:
                return ""
        return {"n": " ", "t": " ", "r": "", "b": "", "f": "", "/": "/", '"': '"', "\\": "\\"}.get(seq[1], seq[1])


def _labels(titles: Sequence[str]) -> list[str]:
    """The JSON keys of the notes: "1", "2", ..., one per item, as numbered in the prompt (a key is generated
    token by token like any text: "1. Toy Story" cost ~5 more tokens a note than "1")."""
    return [str(k) for k in range(1, len(titles) + 1)]


def _notes_schema(labels: Sequence[str], language: str) -> dict[str, Any]:
    """JSON schema of the answer: one bounded note string under each item's label, in order."""
    # minLength: with compact JSON the model once closed every note after one character
    note = {"type": "string", "minLength": MIN_NOTE_CHARS[language], "maxLength": LLM_NOTE_CHARS[language]}
    return {
        "type": "object",
        "properties": {label: note for label in labels},
        "required": list(labels),
        "additionalProperties": False,
    }


def _stream_json_text(
    model: BaseChatModel, messages: Any, schema: dict, timeout_s: float, max_tokens: int, usage: dict | None = None
):
    """The raw text of a schema-constrained answer, piece by piece (LLMError on failure or timeout)."""
    from chatbot.llm.models import stream_text

    yield from stream_text(model, messages, timeout_s, schema=schema, max_tokens=max_tokens, usage=usage)


# A rejected draft's problems, told to the retry in general terms: naming the film or person it got wrong
# only primes a small model to repeat it.
_HINTS = (
    ("names another film", "it named another film"),
    ("names a title", "it named another film"),
    ("borrows", "it used reasons that belong to another film"),
    ("says who you watch with", "it said who the person watches with, which the reasons do not say"),
    ("mentions the year", "it gave a year that is not on the sheet"),
    ("places the film", "it gave a decade that is not on the sheet"),
    ("says ", "it gave a runtime that is not on the sheet"),
    ("tells a story", "it described a story, but the plot is not known"),
    ("claims the person", "it claimed the person already saw the film"),
    ("gives a rating", "it gave a rating that is not on the sheet"),
    ("names ", "it named a person who is not on the sheet"),
    ("writes a name", "it wrote a name in Chinese instead of as on the sheet"),
    ("says ", "it gave someone the wrong role"),
    ("too long", "it was too long"),
    ("cut off", "it was too long"),
    ("sentences", "it was too long"),
    ("not written in", "it was in the wrong language"),
    ("repeats", "it was the same note as another film's; say what is special about this film"),
)
_SAMEY = "repeats another film's note with only the title and names changed"
_LLM_FAILED = "the language model failed"
_OUT_OF_TIME = "out of time for the notes"


def _retry_hints(problems: Sequence[str]) -> list[str]:
    """General hints for a retry from a rejected draft's problems (no names, no titles)."""
    hints: list[str] = []
    for problem in problems:
        for prefix, hint in _HINTS:
            if problem.startswith(prefix) and hint not in hints:
                hints.append(hint)
                break
    return hints


# ------------------------------------------------------------------------------------------------ the copywriter
@dataclass
class _Draft:
    """Working state of one item's note during a turn."""

    request: NoteRequest
    text: str = ""
    done: bool = False
    problems: list[str] = field(default_factory=list)
    samey: Note | None = None  # a draft that passed every honesty check but reads like another film's note:
    # shown when no better one comes (a rewrite is tried only while time allows; samey beats a template)


@dataclass(frozen=True)
class NotesStats:
    """What the notes step of one turn cost and gave (for `tastebud bench turn` and logs)."""

    notes: int = 0  # items that got a note
    llm_calls: int = 0  # LLM calls made (the batch call plus retries)
    retries: int = 0  # rewrite calls (one call rewrites every failed note of the turn)
    prompt_tokens: int = 0  # prompt tokens of all calls (cached prefix included)
    prompt_eval_tokens: int = 0  # prompt tokens the model really evaluated (the rest came from its prefix cache)
    output_tokens: int = 0  # tokens generated
    llm_s: float = 0.0  # seconds spent in LLM calls
    seconds: float = 0.0  # seconds of the whole notes step
    first_pass: int = 0  # notes whose first draft passed the checks
    retry_pass: int = 0  # notes whose retry passed
    templates: int = 0  # notes that fell back to the template
    checks_failed: int = 0  # drafts rejected by the code checks
    out_of_time: bool = False  # the time budget ran out before every note was written


@dataclass
class _Tally:
    """Running counts of one notes step (becomes NotesStats)."""

    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    prompt_eval_tokens: int = 0
    output_tokens: int = 0
    llm_s: float = 0.0
    checks_failed: int = 0
    out_of_time: bool = False

    def add_call(self, usage: dict[str, Any], seconds: float, pieces: int) -> None:
        """Count one LLM call from what the backend reported (a call stopped early reports nothing: its streamed
        pieces, one token each on the local backends, count as its output)."""
        self.calls += 1
        self.llm_s += seconds
        evaluated = int(usage.get("prompt_eval_tokens", usage.get("input_tokens")) or 0)
        self.prompt_tokens += max(int(usage.get("input_tokens") or 0), evaluated)  # a stopped call: what it read
        self.prompt_eval_tokens += evaluated
        self.output_tokens += int(usage.get("output_tokens") or pieces)


class Copywriter:
    """Writes the notes of a turn with one LLM call, checks them, rewrites the failed ones in one more call while
    time allows, then templates.

    `budget_s` bounds the whole notes step: when it runs out, the call in progress is stopped, notes already
    written and checked are kept, and every other item gets its template note at once. The failed notes are
    rewritten only when the time left is enough for all of them at the speed the model showed in this turn.
    """

    def __init__(
        self,
        llm: BaseChatModel | None,
        lexicon: CatalogLexicon,
        timeout_s: float = 60.0,
        retry: bool = True,
        batch: bool = True,
        budget_s: float | None = None,
    ) -> None:
        """llm=None: template notes only. timeout_s bounds all LLM calls of a turn; batch: one call for all notes;
        budget_s: the notes step's time budget (None: timeout_s)."""
        self.batch = batch
        self.llm = llm
        self.lexicon = lexicon
        self.checker = NoteChecker(lexicon)
        self.timeout_s = timeout_s
        self.retry = retry
        self.budget_s = budget_s
        self.last_stats = NotesStats()  # the latest notes step's figures

    @classmethod
    def from_items(
        cls,
        llm: BaseChatModel | None,
        items: Iterable[Item],
        timeout_s: float = 60.0,
        batch: bool = True,
        budget_s: float | None = None,
        retry: bool = True,
    ) -> Copywriter:
        """A copywriter checking against this catalog."""
        return cls(llm, CatalogLexicon.from_items(items), timeout_s=timeout_s, batch=batch, budget_s=budget_s,
                   retry=retry)

    def write_notes(self, requests: Sequence[NoteRequest], language: str = "en") -> list[Note]:
        """The final notes, in request order (the non-streaming form of `write_notes_stream`)."""
        notes: dict[int, Note] = {}
        for event in self.write_notes_stream(requests, language):
            if isinstance(event, NoteDone):
                notes[event.position] = event.note
        return [notes[i] for i in range(len(requests))]

    def write_notes_stream(self, requests: Sequence[NoteRequest], language: str = "en") -> Iterator[NoteEvent]:
        """NoteDeltas while the LLM writes, then one NoteDone per item (the checked final note)."""
        language = _language(language)
        requests = [r if isinstance(r, NoteRequest) else NoteRequest(*r) for r in requests]
        if not requests:
            return
        started = time.monotonic()
        limit = self.timeout_s if self.budget_s is None else min(self.timeout_s, self.budget_s)
        deadline = started + limit
        drafts = [_Draft(r) for r in requests]
        finished: dict[int, Note] = {}
        tally = _Tally()
        try:
            if self.llm is not None:
                everyone = list(range(len(drafts)))
                groups = [everyone] if self.batch else [[i] for i in everyone]
                per_note_s = 0.0  # seconds one note took in this turn's calls (the retry estimate)
                for group in groups:
                    if deadline - time.monotonic() < 1.0 or self._llm_failed(drafts):
                        break  # out of time, or the model is down: the rest get template notes at once
                    call_started = time.monotonic()
                    for event in self._draft_round(drafts, group, language, deadline, stream=True, retry=False,
                                                   tally=tally):
                        yield event
                        if isinstance(event, NoteDone):
                            finished[event.position] = event.note
                    per_note_s = max(per_note_s, (time.monotonic() - call_started) / len(group))
                # Write every failed note once more, all in ONE small call (a call per note paid the prompt and
                # the answer's framing each time), when the time left covers it at this turn's speed; otherwise
                # the failed notes get their templates now rather than make the person wait.
                # Samey notes (true, but like another film's) ride along only when a call is made anyway.
                failed = [i for i in everyone if i not in finished and drafts[i].samey is None]
                samey = [i for i in everyone if i not in finished and drafts[i].samey is not None]
                if failed and deadline - time.monotonic() >= per_note_s * (len(failed) + len(samey) + 0.5):
                    failed = sorted(failed + samey)
                if failed and self.retry and not self._llm_failed(drafts) and not tally.out_of_time:
                    if deadline - time.monotonic() < max(2.0, per_note_s * (len(failed) + 0.5)):
                        for i in failed:
                            drafts[i].problems.append(f"{_OUT_OF_TIME}: no time left to write it again")
                        tally.out_of_time = True
                    else:
                        for event in self._draft_round(drafts, failed, language, deadline, stream=False,
                                                       retry=True, tally=tally):
                            yield event
                            if isinstance(event, NoteDone):
                                finished[event.position] = event.note
            for i, draft in enumerate(drafts):
                if i not in finished:
                    finished[i] = draft.samey or self._template(draft, language)
                    yield NoteDone(i, finished[i])
        finally:
            sources = [n.source for n in finished.values()]
            self.last_stats = NotesStats(
                notes=len(finished), llm_calls=tally.calls, retries=tally.retries,
                prompt_tokens=tally.prompt_tokens, prompt_eval_tokens=tally.prompt_eval_tokens,
                output_tokens=tally.output_tokens, llm_s=round(tally.llm_s, 3),
                seconds=round(time.monotonic() - started, 3), first_pass=sources.count("llm"),
                retry_pass=sources.count("llm-retry"), templates=sources.count("template"),
                checks_failed=tally.checks_failed, out_of_time=tally.out_of_time,
            )

    @staticmethod
    def _llm_failed(drafts: list[_Draft]) -> bool:
        """True when an LLM call of this turn failed outright (error or time limit), not just a bad note."""
        return any(p.startswith(_LLM_FAILED) for d in drafts for p in d.problems)

    def _draft_round(
        self,
        drafts: list[_Draft],
        positions: list[int],
        language: str,
        deadline: float,
        stream: bool,
        retry: bool,
        tally: _Tally | None = None,
    ) -> Iterator[NoteEvent]:
        """One LLM call for the notes at `positions`; NoteDone for each one that passes the checks."""
        from prompts import load_prompt

        tally = tally if tally is not None else _Tally()
        labels = _labels([display_title(drafts[i].request.item.title) for i in positions])
        reasons = [list(dict.fromkeys(_clean_reason(r) for r in drafts[i].request.reasons[:MAX_REASONS]))
                   for i in positions]
        # Reasons every film shares are said once, not once per film (they were ~25 tokens a film).
        shared = [r for r in reasons[0] if all(r in own for own in reasons[1:])] if len(positions) > 1 else []
        genre_sets = [set(drafts[i].request.item.genres) for i in positions]
        common = frozenset(set.intersection(*genre_sets)) if len(genre_sets) > 1 else frozenset()
        sheets = [
            {
                "n": k + 1,
                "label": labels[k],
                "title": display_title(drafts[i].request.item.title),
                "facts": prompt_facts(drafts[i].request.item, common),
                "reasons": [r for r in reasons[k] if r not in shared],
                "avoid": _retry_hints(drafts[i].problems),  # why the last draft was rejected, in general terms
            }
            for k, i in enumerate(positions)
        ]
        messages = load_prompt("notes").render(sheets=sheets, shared_reasons=shared, language=language)
        schema = _notes_schema(labels, language)
        max_tokens = 8 + TOKENS_PER_NOTE[language] * len(positions)
        timeout = max(deadline - time.monotonic(), 1.0)
        parser = _NotesStreamParser(labels)
        raw: list[str] = []
        ended: set[int] = set()
        usage: dict[str, Any] = {}
        call_started = time.monotonic()
        if retry:
            tally.retries += 1
        pieces = _stream_json_text(self.llm, messages, schema, timeout, max_tokens, usage)
        try:
            for piece in pieces:
                raw.append(piece)
                for kind, k, text in parser.feed(piece):
                    if k >= len(positions) or k in ended:
                        continue
                    i = positions[k]
                    if kind == "delta":
                        if stream:
                            yield NoteDelta(i, text)
                        continue
                    ended.add(k)
                    others = [r for j, d in enumerate(drafts) if j != i for r in d.request.reasons]
                    others += [_PLOT_MARK + d.request.item.plot for j, d in enumerate(drafts) if j != i and d.request.item.plot]
                    written = [(d.text, d.request.item) for j, d in enumerate(drafts) if j != i and d.done]
                    outcome = self._accept(drafts[i], text, language, retry, others, written)
                    if outcome is not None:
                        yield NoteDone(i, outcome)
                    else:
                        tally.checks_failed += 1
                if time.monotonic() > deadline + 0.25 and len(ended) < len(positions):
                    # The budget is spent (a local backend stops itself at the deadline and says what the call
                    # had done; this is for the others): stop the call, keep the notes that passed.
                    tally.out_of_time = True
                    for k, i in enumerate(positions):
                        if k not in ended:
                            drafts[i].problems.append(f"{_OUT_OF_TIME}: the time budget ran out while writing it")
                    return
        except LLMError as exc:
            spent = time.monotonic() >= deadline - 0.05  # the backend's own time limit is the budget's end
            tally.out_of_time = tally.out_of_time or spent
            for k, i in enumerate(positions):
                if k not in ended:
                    why = f"{_OUT_OF_TIME}: the time budget ran out while writing it" if spent else f"{_LLM_FAILED}: {exc}"
                    drafts[i].problems.append(why)
            return
        finally:
            pieces.close()  # stops generation now (and frees the model) when the loop was left early
            tally.add_call(usage, time.monotonic() - call_started, len(raw))
        # The stream ended: notes the parser never saw finish (garbage, missing notes) count as failed.
        try:
            shape_ok = isinstance(json.loads("".join(raw)), dict)
        except json.JSONDecodeError:
            shape_ok = False
        for k, i in enumerate(positions):
            if k not in ended:
                why = "no note was written for it" if shape_ok else "the answer was not the expected JSON"
                drafts[i].problems.append(why)
                tally.checks_failed += 1

    def _accept(
        self,
        draft: _Draft,
        text: str,
        language: str,
        retry: bool,
        others: Sequence[str],
        written: Sequence[tuple[str, Item]] = (),
    ) -> Note | None:
        """The Note when the draft text passes the checks; else None, with the problems recorded.

        `written`: the notes already accepted for the other items of this answer, with their items (a copy, or the
        same note with only the title and names changed, says nothing of its own film).
        """
        text = _trim(re.sub(r"\s+", " ", text).strip().strip('"').strip(), language)
        if len(text) >= LLM_NOTE_CHARS[language] * 0.95 and text[-1:] not in _TERMINAL:
            text = _cut_to_sentence(text, language)  # stopped by the schema's length limit mid-sentence
        problems = self.checker.check(text, draft.request.item, language, draft.request.reasons, others)
        if len(text) >= LLM_NOTE_CHARS[language] * 0.95 and text[-1:] not in _TERMINAL:
            problems.append("cut off mid-sentence (too long)")
        if any(_fold(text) == _fold(other) for other, _ in written):
            problems.append("repeats another film's note word for word")
        note = Note(
            item_id=draft.request.item.id,
            text=text,
            why=why_chips(draft.request.reasons),
            source="llm-retry" if retry else "llm",
            problems=tuple(draft.problems),
        )
        if problems:
            draft.problems.extend(problems)
            return None
        if any(_skeleton(text, draft.request.item) == _skeleton(other, item) for other, item in written):
            # True but samey: rewritten while time allows, else shown as it is (a soft check, never a template)
            draft.problems.append(_SAMEY)
            draft.samey = replace(note, problems=tuple(draft.problems))
            return None
        draft.text, draft.done = text, True
        return note

    def _template(self, draft: _Draft, language: str) -> Note:
        """The template note of a draft that never passed."""
        item, reasons = draft.request.item, draft.request.reasons
        return Note(
            item_id=item.id,
            text=template_note(item, reasons[:MAX_REASONS], language),
            why=why_chips(reasons),
            source="template",
            problems=tuple(draft.problems),
        )


    def describe_item(self, item: Item, language: str = "en", with_llm: bool = False) -> str:
        """The item's catalog facts written out, plus (with_llm) one checked LLM sentence about it."""
        text = describe_item(item, language)
        if not with_llm or self.llm is None:
            return text
        language = _language(language)
        drafts = [_Draft(NoteRequest(item, ()))]
        sentence = None
        deadline = time.monotonic() + self.timeout_s
        for event in self._draft_round(drafts, [0], language, deadline, stream=False, retry=False):
            if isinstance(event, NoteDone):
                sentence = event.note.text
        return f"{sentence}\n\n{text}" if sentence else text
