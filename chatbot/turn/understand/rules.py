"""Code's own reading of a message: word lists, numbers, places, weather, titles and references, no LLM."""

from __future__ import annotations

import re

from chatbot.turn.state import DialogueState
from chatbot.turn.understand.clauses import NEGATION_REACH, names_genre, read_clauses
from chatbot.turn.understand.film_origins import FilmOrigins
from chatbot.turn.understand.lexicon import Lexicon
from chatbot.turn.understand.message import HARD_BREAK, WORD, detect_language, normalise_message, original_case
from chatbot.turn.understand.bounds import constraint_reader
from chatbot.turn.understand.reading import GazetteerLike, Reading, add_new
from chatbot.turn.understand.refinements import apply_constraints, apply_effect
from chatbot.turn.understand.spans import Span, blank_out, claim_spans, spans_of, uncovered_words
from chatbot.turn.understand.titles import FamilyNameRule, PeopleIndex, TitleIndex
from retrieval.text import has_cjk
from retrieval.types import Item

_ARTICLE_ONLY = re.compile(r"\s*(?:the|that|this)?\s*")
_QUOTED = re.compile(r'"([^"]{2,80})"|\u300a([^\u300b]{1,60})\u300b|\u300c([^\u300d]{1,60})\u300d|\u201c([^\u201d]{2,80})\u201d')
_TITLE_CUES = {"more_like", "liked", "disliked", "rejected", "ask_about"}  # cues a title may follow
_TITLE_MAX_WORDS = 8  # words after a cue tried as a title, longest first


class RuleReader:
    """Reads a message with the word lists, the number patterns, the gazetteer and the catalog's titles."""

    def __init__(self, lexicon: Lexicon, titles: TitleIndex, gazetteer: GazetteerLike | None,
                 items: dict[str, Item], newest_year: int) -> None:
        self.lexicon = lexicon
        self.titles = titles
        self.gazetteer = gazetteer
        self.items = items
        self.newest_year = newest_year
        self.constraints = constraint_reader()
        spec = self.constraints.grammar.data.fields["people"]
        rule = spec.family_name
        family = None if rule is None else FamilyNameRule(
            tuple(" ".join(w.lower().split()) for w in rule.before), frozenset(w.lower() for w in rule.after),
            frozenset(w.lower() for w in rule.common), rule.min_films, rule.lowercase_min_films,
            tuple(" ".join(w.lower().split()) for w in rule.place_before))
        self.people = PeopleIndex(items.values(), spec.aliases, family)  # names in messages, and the LLM's names
        self.origins = FilmOrigins(items.values())  # "a film from Brazil", "anything in Hungarian", 来自日本的

    def read(self, message: str, state: DialogueState) -> Reading:
        """Code's own reading of a message: word lists, numbers, places, weather, titles, references."""
        text = normalise_message(message)
        reading = Reading(text=text, language=detect_language(message), original=original_case(message, text))
        phrase_spans = self.lexicon.matcher.find(text)
        fixed = claim_spans(self._find_titles(text, phrase_spans, reading))
        reading.constraints = self.constraints.read(text, self.newest_year)
        people = [Span(a, b, (("person", name),)) for a, b, name in self.people.find_in(text, reading.original)]
        origins = self.origins.find(text)
        extra = reading.constraints.spans + people + self._context_spans(message, text, reading, origins)
        fixed = fixed + claim_spans(extra, taken=fixed)
        spans = sorted(fixed + claim_spans(phrase_spans + origins, taken=fixed), key=lambda s: s.start)
        reading.spans = spans
        shown = [self.items[i] for i in state.last_shown if i in self.items]
        for name, effect in read_clauses(text, spans, reading, self.lexicon):
            apply_effect(name, effect, reading, state, shown, self.newest_year)
        _companions_in_ages(reading, phrase_spans)
        apply_constraints(reading, [s for s in fixed if "title" in s.kinds()])
        _settle_genres(reading)
        reading.people = [p for p in reading.people if p not in reading.people_none]
        reading.leftover = self.leftover(text, spans)
        if reading.injection:
            reading.notes.append("the message tried to change my instructions; I ignored that part")
        return reading

    def leftover(self, text: str, spans: list[Span], start: int = 0) -> list[str]:
        """Words no span and no filler list explains (English words, or runs of Chinese characters) from `start` on."""
        return uncovered_words(text, spans, self.lexicon.filler_en, self.lexicon.filler_zh, start)

    def fallback_wish(self, reading: Reading) -> str:
        """The message's describing words (genres, qualities, free words; not negated ones, names or numbers)."""
        keep = {"genre", "quality", "mood"}
        drop = [s for s in reading.spans if not s.kinds() & keep] + reading.negated_spans + _negated_words(reading)
        rest = blank_out(reading.text, drop)
        words = [w for w in WORD.findall(rest) if w not in self.lexicon.filler_en and not w.isdigit()]
        return " ".join(words[:16])

    # -- titles
    def _find_titles(self, text: str, spans: list[Span], reading: Reading) -> list[Span]:
        """Titles in quotes, or right after "more like"/"I loved"/"tell me about": matched against the catalog."""
        found = self._quoted_titles(text, reading)
        for span in spans:
            cue = span.payload("cue")
            if cue in _TITLE_CUES:
                hit = self._title_after(span, text, spans, reading)
                if hit is not None:
                    found.append(hit)
                    reading.titles.setdefault(hit.payload("title"), cue)
        return found

    def _quoted_titles(self, text: str, reading: Reading) -> list[Span]:
        """Catalog titles written in quotes or title brackets ("Amelie", 《千与千寻》)."""
        found: list[Span] = []
        for m in _QUOTED.finditer(text):
            inner = next(g for g in m.groups() if g is not None)
            item_id = self.titles.match(inner)
            if item_id:
                found.append(Span(m.start(), m.end(), (("title", item_id),)))
                reading.titles.setdefault(item_id, "mentioned")
        return found

    def _title_after(self, cue: Span, text: str, spans: list[Span], reading: Reading) -> Span | None:
        """The longest run of words after a cue (within its clause) that names a catalog title, or None."""
        region_end = HARD_BREAK.search(text, cue.end)
        end = region_end.start() if region_end else len(text)
        following = [s for s in spans if cue.end <= s.start < end]
        if following and following[0].kinds() & {"ordinal", "pronoun", "ref_noun"} and _ARTICLE_ONLY.fullmatch(
            text[cue.end:following[0].start]
        ):
            return None  # "more like the second one": a reference, not a title
        words = list(WORD.finditer(text, cue.end, end))[:_TITLE_MAX_WORDS]
        for n in range(len(words), 0, -1):
            start, stop = words[0].start(), words[n - 1].end()
            candidate = text[start:stop]
            if all(w.group(0) in self.lexicon.filler_en for w in words[:n]):
                return None
            item_id = self.titles.match(candidate, fuzzy=n >= 2 or len(candidate) >= 6)
            if item_id and self._plain_words(text, spans, start, stop) and not reading.original[start:start + 1].isupper():
                item_id = None  # "more like a heist": lexicon words in lower case are not the film "Heist"
            if item_id:
                return Span(start, stop, (("title", item_id),))
        return None

    def _plain_words(self, text: str, spans: list[Span], start: int, stop: int) -> bool:
        """True when lexicon phrases (genres, moods, ...) and filler explain every word between start and stop."""
        inside = [s for s in spans if s.start >= start and s.end <= stop]
        if not inside:
            return False
        return not self.leftover(text[:stop], inside, start)

    # -- the situation
    def _context_spans(self, message: str, text: str, reading: Reading, origins: list[Span]) -> list[Span]:
        """Place, stated weather and stated time via chatbot.turn.context.words; spans cover the words they used.
        A place inside a film's country ("Hong Kong action movies", "a film from Jordan") is not where they are."""
        from chatbot.turn.context import words as context

        out: list[Span] = []
        if self.gazetteer is not None:
            mention = self.gazetteer.find_in_message(message)
            place = spans_of(text, [mention.text], "place") if mention is not None else []
            if place and not any(p.start < o.end and o.start < p.end for p in place for o in origins):
                reading.place_mention = mention
                out += place
        weather = context.find_stated_weather(message)
        if weather is not None:
            reading.weather = weather.condition
        part = context.find_part_of_day(message)
        if part is not None:
            reading.part_of_day = part
        lex = context.load_lexicon()
        for _, pattern in list(lex.weather_en) + list(lex.part_en):
            out += [Span(m.start(), m.end(), (("context", "said"),)) for m in pattern.finditer(text)]
        if has_cjk(text):
            for _, phrases in list(lex.weather_zh) + list(lex.part_zh):
                out += spans_of(text, phrases, "context")
        return out


def _companions_in_ages(reading: Reading, phrase_spans: list[Span]) -> None:
    """An age that is no bound can still say who is watching: "my 7 year old", "my six-year-old daughter" hold the
    kids' lexicon words ("year old") inside a number span the constraint reader set aside."""
    ages = [s for s in reading.constraints.spans if s.payload("number") == "not a bound"] if reading.constraints else []
    for span in phrase_spans:
        if "companion" in span.kinds() and any(a.start < span.end and span.start < a.end for a in ages):
            add_new(reading.companions, [span.payload("companion")])


def _settle_genres(reading: Reading) -> None:
    """A genre both wanted and ruled out in one message: asked for by its own name ("a horror, but not a slasher",
    "horror, nothing gory") it stays wanted and the side word rules nothing out; otherwise the exclusion wins."""
    kept = [g for g in reading.genres if g in reading.genres_excluded and g in reading.genres_by_name
            and not _excluded_by_name(reading, g)]
    reading.genres_excluded = [g for g in reading.genres_excluded if g not in kept]
    reading.genres = [g for g in reading.genres if g not in reading.genres_excluded]
    if kept:
        reading.notes.append(f"you asked for {', '.join(kept)} by name, so the words against some of it rule "
                             "none of it out")


def _excluded_by_name(reading: Reading, genre: str) -> bool:
    """True when a negated span names the genre itself ("no horror"; any Chinese genre word: 不要恐怖)."""
    words = [reading.text[s.start:s.end] for s in reading.negated_spans if genre in (s.payload("genre") or ())]
    return any(has_cjk(w) or names_genre(w, genre) for w in words)


def _negated_words(reading: Reading) -> list[Span]:
    """The words a negation reaches in its clause ("not a *downer*", "no *tearjerkers*"): never a wish to search for."""
    out = []
    for span in reading.spans:
        if "negation" in span.kinds():
            stop = HARD_BREAK.search(reading.text, span.end)
            words = list(WORD.finditer(reading.text, span.end, stop.start() if stop else len(reading.text)))
            if words:
                out.append(Span(span.end, words[:NEGATION_REACH + 1][-1].end(), ()))
    return out
