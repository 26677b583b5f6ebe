"""The constraints of a catalog described by a schema, read from the person's own words, in English and Chinese.

Three readers over the schema (`retrieval.schema`), each kept as data:
- numbers in the schema's units ("under 45 minutes", "less than 300 pages", 不超过半小时, "written before 1900"):
  the constraint grammar of constraints.yaml (comparators, negations, ranges, number words) compiled over the
  schema's number fields instead of the film's (`catalog_grammar`);
- facet values and their synonyms ("vegetarian", "soup", 素食, "no nuts", "nut-free", 不要辣): a value is wanted,
  or ruled out when a negation of catalog_words.yaml stands before it in its clause with only gap words between,
  a free-suffix follows it, or it follows a ruled-out value joined only by list words ("no nuts, dairy or eggs");
- level words of a number ("quick" = at most 30 minutes, "nothing hard" = below hard): a number the message
  states on the same field wins over a level word.
A word that names values of several facets ("soup": the category and the course) counts for the facet that most
items have a value of. The film catalog keeps its own reader (rules.py); this one serves every other catalog.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from functools import lru_cache
from typing import Any, Literal

from chatbot.turn.understand.bounds import ConstraintReader
from chatbot.turn.understand.grammar import FieldSpec, Grammar, compile_grammar, load_grammar, words_alt
from chatbot.turn.understand.numbers import lead_patterns
from chatbot.turn.context import ContextRule, load_context_rules
from chatbot.turn.intent import TurnIntent
from chatbot.turn.replies import say
from prompts import load_data
from retrieval.fields import FILM_KINDS, field_kinds
from retrieval.schema import CatalogSchema, NumberField
from retrieval.schema_file import PACKAGED, SCHEMAS_PACKAGE, schema_for
from retrieval.text import has_cjk
from retrieval.types import Item

WORDS_FILE = "catalog_words.yaml"
CONTEXT_RULES_FILE = "context_rules.yaml"  # a catalog's own rules: beside its catalog, or <schema>.context_rules.yaml
Side = Literal["min", "max"]


@dataclass(frozen=True)
class CatalogReading:
    """What a message says about a schema catalog's own fields."""

    any_of: tuple[tuple[str, str], ...] = ()  # (facet, value) wanted
    none_of: tuple[tuple[str, str], ...] = ()  # (facet, value) ruled out
    bounds: tuple[tuple[str, str, float], ...] = ()  # (number field, "min" | "max", value in the field's unit)
    cleared: tuple[str, ...] = ()  # fields lifted ("any time is fine")
    notes: tuple[str, ...] = ()  # what was read, in words, for the "what I understood" panel
    notices: tuple[str, ...] = ()  # bounds said but not applied (contradictory or absurd)
    ruled_out_words: tuple[str, ...] = ()  # the words of what was ruled out (kept out of the search text)
    matched: tuple[str, ...] = ()  # every phrase and bound read (their words need no LLM)
    goes_with: tuple[str, ...] = ()  # what an asked-for sauce is for ("for dumplings"): search words, not filters


@dataclass(frozen=True)
class _Target:
    """What a phrase names: a facet value, or a level of a number (its stretch of the range)."""

    field: str
    value: str = ""
    low: float | None = None
    high: float | None = None
    step: float = 1.0  # a number's smallest step: "nothing hard" (hard = 4 and up) is 3 at most

    @property
    def is_level(self) -> bool:
        """True for a level word of a number field."""
        return not self.value


@lru_cache(maxsize=1)
def _words() -> dict[str, Any]:
    """catalog_words.yaml."""
    return load_data("chatbot.turn.understand", WORDS_FILE)


def _number_spec(number: NumberField, base: Grammar) -> FieldSpec | None:
    """One number field of the schema as a field of the constraint grammar (None when people have no words for it)."""
    slots = {"min": f"{number.name}:min", "max": f"{number.name}:max"}
    names = {"en": [w for w in (number.label_en, number.name.replace("_", " ")) if w], "zh": [number.label_zh] if number.label_zh else []}
    low, high = number.range
    plausible = {"min": low, "max": high} if low is not None and high is not None else None
    if number.unit.name == "year":
        year = base.data.fields.get("year")
        return year.model_copy(update={"slots": slots, "clear": [number.name]}) if year else None
    units = [{"factor": s.factor, "en": list(s.en), "zh": list(s.zh), "part": s.part}
             for s in number.unit.spellings if s.en or s.zh]
    if not units:
        return None
    return FieldSpec.model_validate({"kind": "quantity", "slots": slots, "plausible": plausible, "units": units,
                                     "names": names, "clear": [number.name], "whole": number.unit.integer,
                                     "alone": number.unit.alone})


@lru_cache(maxsize=8)
def catalog_grammar(schema: CatalogSchema) -> Grammar:
    """The constraint grammar over a schema's number fields, its nouns as gap words (a suitability scale named
    age_rating is the film reader's; other scales are not read from words yet)."""
    base = load_grammar()
    fields: dict[str, FieldSpec] = {}
    for number in schema.numbers:
        spec = _number_spec(number, base)
        if spec is not None:
            fields[number.name] = spec
    noun = schema.noun
    gaps = base.data.gaps.model_copy(update={
        "en": base.data.gaps.en + [noun.en, noun.en_plural, noun.verb_en, noun.verb_en_past, "takes", "ready", "ready in"],
        "zh": base.data.gaps.zh + [noun.zh, noun.verb_zh]})
    return compile_grammar(base.data.model_copy(update={"fields": fields, "gaps": gaps}))


class CatalogReader:
    """Reads a message's constraints on one schema catalog's own fields (facets, numbers, levels)."""

    def __init__(self, schema: CatalogSchema, coverage: dict[str, int] | None = None,
                 context_rules: tuple[ContextRule, ...] = (), total: int = 0) -> None:
        self.schema = schema
        self.coverage, self.total = coverage or {}, total  # items that give each field, of all items
        self.context_rules = context_rules  # the catalog's own situation -> filters and wishes
        self.bounds = ConstraintReader(catalog_grammar(schema))
        self.targets = _targets(schema, coverage or {})
        words = _words()
        en_phrases = [p for p in self.targets if not has_cjk(p)]
        zh_phrases = [p for p in self.targets if has_cjk(p)]
        self._phrases = re.compile(rf"(?<![a-z0-9]){words_alt(en_phrases, True)}(?![a-z0-9])"
                                   rf"|{words_alt(zh_phrases, False)}")
        self._neg = {lang: re.compile(_ending(words["negations"][lang], words["gaps"][lang] + _noun_words(schema, lang),
                                               lang, tuple(words["list_or"][lang]))) for lang in ("en", "zh")}
        self._joined = {lang: re.compile(rf"^(?:\s|{words_alt(words['joiners'][lang], lang == 'en')}"
                                         rf"|{words_alt(words['negations'][lang], lang == 'en')})*$")
                        for lang in ("en", "zh")}
        self._situation = {lang: re.compile(_ending(words["situation_before"][lang], words["gaps"][lang], lang))
                           for lang in ("en", "zh")}
        self._free_after = {lang: re.compile(rf"^\s*{words_alt(words['free_suffix'][lang], lang == 'en')}"
                                             + ("(?![a-z])" if lang == "en" else "")) for lang in ("en", "zh")}
        # words that name nothing to look for (`meaningful`): filler, the schema's noun and verb, negations, gaps
        self._idle_en = set(words["filler"]["en"]) | {
            w for phrase in words["negations"]["en"] + words["gaps"]["en"] + _noun_words(schema, "en")
            for w in re.findall(r"[a-z]+", phrase)}
        self._idle_zh = sorted(set(words["filler"]["zh"]) | set(_noun_words(schema, "zh")) | {schema.noun.measure_zh}
                               | set(words["negations"]["zh"]) | set(words["gaps"]["zh"]), key=len, reverse=True)
        self._free_before = re.compile(rf"{words_alt(words['free_prefix']['zh'], False)}$")
        self._break = re.compile("|".join(re.escape(b) for lang in ("en", "zh") for b in words["breaks"][lang]))
        # a currency or other symbol before its number ("€50") is read as the number and the unit's word
        symbols = [(sym, (sp.en or sp.zh)[0]) for n in schema.numbers for sp in n.unit.spellings for sym in sp.symbols
                   if sp.en or sp.zh]
        self._symbols = [(re.compile(rf"{re.escape(sym.lower())}\s*(\d+(?:[.,]\d+)?)"), word) for sym, word in symbols]
        self._leads = lead_patterns(schema, self.bounds.finder.numbers.en)

    def read(self, message: str, today: date | None = None) -> CatalogReading:
        """Facet values wanted and ruled out, number bounds and level words in a message."""
        text = message.lower()
        for rx, word in self._symbols:
            text = rx.sub(lambda m, w=word: f"{m.group(1)} {w}", text)
        led: list[str] = []  # "serves 6" is read as "6 servings"; its own words are read too
        for rx, word in self._leads:
            led += [m.group(0) for m in rx.finditer(text)]
            text = rx.sub(lambda m, w=word: _led(m, w), text)
        newest = (today or date.today()).year
        reading = self.bounds.read(text, newest)
        bounds: dict[tuple[str, str], float] = {}
        for slot, bound in reading.bounds.items():
            field, side = slot.split(":")
            bounds[(field, side)] = float(bound.value)
        stated = {field for field, _ in bounds}
        any_of, none_of, notes, ruled_out = [], [], [], []
        mentions = self._mentions(text)
        for target, phrase, negated in mentions:
            if target.is_level:
                if target.field not in stated:
                    for side, value in _level_bounds(target, negated):
                        bounds[(target.field, side)] = value
                        notes.append(f"{'not ' if negated else ''}{phrase} → {target.field} {_SIDE[side]} {value:g}")
            elif negated:
                none_of.append((target.field, target.value))
                ruled_out.append(phrase)
                notes.append(f"no {phrase} → {target.field} ≠ {target.value}")
            else:
                any_of.append((target.field, target.value))
                notes.append(f"{phrase} → {target.field} = {target.value}")
        none_set = set(none_of)
        any_of = [a for a in any_of if a not in none_set]
        any_of, goes_with = self._goes_with(any_of, mentions, notes, text)
        notes += [f"{b.words} → {b.field} {_SIDE[b.slot.split(':')[1]]} {b.value}" for b in reading.bounds.values()]
        notices = [f"“{a.words}” and “{b.words}” contradict each other: neither is applied"
                   for a, b in reading.contradictions] + [f"“{b.words}” is out of range: not applied" for b in reading.absurd]
        notices += self._unknown_passes(reading, "zh" if has_cjk(message) else "en")
        cleared = tuple(dict.fromkeys(s.split(":")[0] for s in reading.cleared))
        matched = (tuple(phrase for _, phrase, _ in mentions) + tuple(b.words for b in reading.bounds.values())
                   + tuple(led))
        return CatalogReading(tuple(dict.fromkeys(any_of)), tuple(dict.fromkeys(none_of)),
                              tuple((f, s, v) for (f, s), v in bounds.items()), cleared, tuple(notes), tuple(notices),
                              tuple(ruled_out), matched, tuple(goes_with))

    def _goes_with(self, any_of: list[tuple[str, str]], mentions: list[tuple[_Target, str, bool]],
                   notes: list[str], text: str) -> tuple[list[tuple[str, str]], list[str]]:
        """With a value asked for that goes with a dish (`asked_only`: a sauce), the other kinds named are what it
        goes with, not what it is: "a dipping sauce for dumplings", 饺子蘸酱, "a pasta sauce" search for those words
        instead of wanting a sauce that is a dumpling (there is none); one listed beside it is asked for too ("a
        soup and a dipping sauce")."""
        side = {(f.name, v) for f in self.schema.facets for v in f.asked_only}
        if not side & set(any_of):
            return any_of, []
        kinds = {f.name for f in self.schema.facets if not f.multi}  # what an item is, not what it has
        listed = {(t.field, t.value) for t, phrase, _ in mentions if _listed_rx(phrase).search(text)}
        moved = [(f, v) for f, v in any_of if f in kinds and (f, v) not in side and (f, v) not in listed]
        said = [(phrase, target) for target, phrase, negated in mentions
                if not negated and (target.field, target.value) in moved]
        words = [phrase for phrase, _ in said]
        gone = {f"{phrase} → {t.field} = {t.value}" for phrase, t in said}
        notes[:] = [n for n in notes if n not in gone] + [f"{w} → what it goes with (searched, not required)"
                                                           for w in words]
        return [a for a in any_of if a not in moved], list(dict.fromkeys(words))

    def _unknown_passes(self, reading: Any, lang: str) -> list[str]:
        """What a bound on a number most items do not give means: only those that give a value outside it go."""
        out = []
        for number in self.schema.numbers:
            bound = next((b for b in reading.bounds.values() if b.field == number.name), None)
            known = self.coverage.get(number.name, 0)
            if bound is None or not number.unknown_passes or not self.total or known >= self.total:
                continue
            label = number.label_zh if lang == "zh" and number.label_zh else number.label_en
            out.append(say("unknown_passes", lang, known=f"{known:,}", total=f"{self.total:,}", label=label,
                           words=bound.words))
        return out

    def kinds(self, limit: int = 150) -> tuple[str, ...]:
        """The facet values the LLM may name (a closed list; large open facets left out)."""
        values = [v for f in self.schema.facets if 0 < len(f.vocabulary) <= 60 for v in f.vocabulary]
        return tuple(dict.fromkeys(values))[:limit]

    def value_of(self, kind: str) -> tuple[str, str] | None:
        """The (facet, value) a kind names, as the reader would read its word."""
        target = self.targets.get(_norm(kind))
        return (target.field, target.value) if target is not None and not target.is_level else None

    def unexplained(self, message: str, leftover: list[str], reading: CatalogReading) -> list[str]:
        """The leftover words of the film reader that this reader did not explain either (not inside a phrase it
        read: "gluten-free", the 甜 of 做甜点); of a run of Chinese characters, the pieces left."""
        said = {m.lower() for m in reading.matched}
        said_words = {w for m in said for w in re.findall(r"[a-z0-9]+", m)} | {
            w for phrase in _words()["free_suffix"]["en"] for w in re.findall(r"[a-z]+", phrase)}
        text = message.lower()
        for phrase in sorted((p for p in said if has_cjk(p)), key=len, reverse=True):
            text = text.replace(phrase, " " * len(phrase))  # the characters a read phrase covers
        out: list[str] = []
        for word in leftover:
            if has_cjk(word):
                out += _uncovered(text, message.lower(), word.lower())
            elif not all(part in said_words for part in re.findall(r"[a-z0-9]+", word.lower())):
                out.append(word)
        return out

    def meaningful(self, leftover: list[str]) -> list[str]:
        """The leftover words that may name something to look for: not the item's noun, measure word or verb, nor a
        word that names nothing in any catalog ("eat", 做, 吃, a negation); these need the LLM."""
        out = []
        for word in leftover:
            rest = word.lower()
            if has_cjk(rest):
                for phrase in self._idle_zh:
                    rest = rest.replace(phrase, " ")
                if rest.strip():
                    out.append(word)
            elif not all(part in self._idle_en for part in re.findall(r"[a-z0-9]+", rest)):
                out.append(word)
        return out

    def _mentions(self, text: str) -> list[tuple[_Target, str, bool]]:
        """Every facet value and level word named, in order, with whether it is ruled out."""
        out: list[tuple[_Target, str, bool]] = []
        clause_start, previous_end, previous_negated, previous_field = 0, 0, False, ""
        for m in self._phrases.finditer(text):
            phrase = m.group(0)
            breaks = [b.end() for b in self._break.finditer(text, previous_end, m.start())
                      if not re.search(r"(?:anything|everything|nothing|all)\s*$", text[:b.start()])]  # "anything but"
            if breaks:
                clause_start, previous_negated = breaks[-1], False
            lang = "zh" if has_cjk(phrase) else "en"
            before = text[max(clause_start, previous_end):m.start()]
            target = self.targets[phrase if phrase in self.targets else _norm(phrase)]
            # with no list word between, only a value of the same field is ruled out too: "不辣的汤" is a soup
            # that is not spicy, "no nuts, dairy or eggs" three things
            carried = (previous_negated and previous_end > clause_start and bool(self._joined[lang].match(before))
                       and (bool(before.strip()) or target.field == previous_field))
            negated = (bool(self._neg[lang].search(before)) or carried or bool(self._free_after[lang].match(text[m.end():]))
                       or (lang == "zh" and bool(self._free_before.search(before))))
            if not negated and self._situation[lang].search(before) and not (lang == "zh" and before.endswith("的")):
                continue  # "it's cold", 好冷: the weather; after 的 a value names the thing (能做好的主菜)
            out.append((target, phrase, negated))
            previous_end, previous_negated, previous_field = m.end(), negated or _negative_phrase(phrase), target.field
        return out


_SIDE = {"min": "≥", "max": "≤"}


def _listed_rx(phrase: str) -> re.Pattern[str]:
    """A phrase in a list: "a soup and a sauce", "sauce or soup", 汤和蘸酱."""
    p = re.escape(phrase)
    return re.compile(rf"(?:\b(?:and|or|plus)\s+(?:an?\s+|some\s+)?|[和或、])(?:\w+\s+)?{p}"
                      rf"|{p}\w*\s*(?:\b(?:and|or)\b|[和或、])")


def _led(m: re.Match[str], unit: str) -> str:
    """"serves 6" -> "6 servings"; "dinner for 6" -> "dinner for 6 servings" (the meal word is still read)."""
    if m.group("n") is not None:
        return f"{m.group('n')} {unit}"
    return f"{m.group(0)} {unit}"


def _level_bounds(target: _Target, negated: bool) -> list[tuple[str, float]]:
    """A level word's bounds; ruled out, the other side of it ("nothing hard": below hard's lowest value)."""
    if not negated:
        return [(side, v) for side, v in (("min", target.low), ("max", target.high)) if v is not None]
    if target.low is not None:
        return [("max", target.low - target.step)]
    return [("min", target.high + target.step)] if target.high is not None else []


def _negative_phrase(phrase: str) -> bool:
    """A synonym that is itself a negation ("no meat" for vegetarian): the list after it is ruled out."""
    return bool(re.match(r"(?:no|non|without|不|无)\b", phrase))


def _targets(schema: CatalogSchema, coverage: dict[str, int]) -> dict[str, _Target]:
    """Phrase -> what it names: facet values and their synonyms (the best-covered facet wins a shared word) and
    the level words of every number."""
    table: dict[str, _Target] = {}
    facets = sorted(schema.facets, key=lambda f: -coverage.get(f.name, 0))
    for facet in facets:
        if len(facet.vocabulary) > 200:  # a large open list (titles, places) is matched by search, not by words
            continue
        for value in facet.vocabulary:
            words = facet.words_for(value)
            for phrase in (value, *words.en, *words.zh):
                for form in _forms(_norm(phrase)):
                    table.setdefault(form, _Target(facet.name, value))
    for number in schema.numbers:
        step = 1.0 if number.unit.integer else 0.0
        for level in number.levels:
            for phrase in (*level.words.en, *level.words.zh):
                table.setdefault(_norm(phrase), _Target(number.name, "", level.min, level.max, step))
    return {p: t for p, t in table.items() if p}


def _forms(phrase: str) -> tuple[str, ...]:
    """A phrase and its English singular or plural ("classics" -> "classic", "mystery" -> "mysteries")."""
    if has_cjk(phrase) or not phrase.isascii() or len(phrase) < 4 or not phrase[-1].isalpha():
        return (phrase,)
    if phrase.endswith("ies"):
        return phrase, phrase[:-3] + "y"
    if phrase.endswith("s"):
        return phrase, phrase[:-1]
    return phrase, phrase[:-1] + "ies" if phrase.endswith("y") else phrase + "s"


def _uncovered(covered: str, text: str, word: str) -> list[str]:
    """The pieces of each occurrence of `word` in `text` that `covered` (text with read phrases blanked) still has."""
    pieces: list[str] = []
    for m in re.finditer(re.escape(word), text):
        pieces += covered[m.start():m.end()].split()
    return pieces if word in text else [word]


def _noun_words(schema: CatalogSchema, lang: str) -> list[str]:
    """The schema's item nouns and verbs (gap words: "no dishes with nuts")."""
    n = schema.noun
    return [n.en, n.en_plural, n.verb_en] if lang == "en" else [n.zh, n.verb_zh]


def _ending(negations: list[str], gaps: list[str], lang: str, joiners: tuple[str, ...] = ()) -> str:
    """A negation, then only gap words, at the end of the text before a mention; with `joiners`, also other
    things listed before it ("no mushrooms or nuts", 不要蘑菇和坚果: the nuts are ruled out too)."""
    if lang == "en":
        gap = rf"(?:[\s,]+{words_alt(gaps, True)})*"
        listed = rf"(?:[\s,]+[a-z'-]+(?:\s+[a-z'-]+)?[\s,]+{words_alt(list(joiners), True)}{gap})*" if joiners else ""
        return rf"(?<![a-z0-9']){words_alt(negations, True)}{gap}{listed}[\s,-]*$"
    gap = rf"(?:\s*{words_alt(gaps, False)})*"
    listed = rf"(?:[\u4e00-\u9fff]{{1,4}}{words_alt(list(joiners), False)}{gap})*" if joiners else ""
    return rf"{words_alt(negations, False)}{gap}{listed}\s*$"


def _norm(phrase: str) -> str:
    """A phrase as a table key: lower case, single spaces."""
    return " ".join(str(phrase).lower().split())



# the film reader's slots; on another catalog the catalog reader reads its own facets and numbers instead
_FILM_SLOTS = ("genres", "genres_excluded", "year_min", "year_max", "runtime_min", "runtime_max", "languages",
               "countries")


def apply_catalog_reading(intent: TurnIntent, reading: CatalogReading, schema: CatalogSchema,
                          llm: dict[str, Any] | None = None, reader: CatalogReader | None = None,
                          moods: dict[str, list[str]] | None = None,
                          echo_kinds: frozenset[str] = frozenset()) -> TurnIntent:
    """The intent for a schema catalog: the film reader's slots are dropped (said in the notes), what the catalog
    reader found is added, and the LLM's kinds (its own prompt's `want` / `not_want`) are checked: a kind it
    rules out stands only where the reader read it ruled out, a kind it wants that the words did not name is a
    hint for the search. `moods`: the film moods the word lists made of the person's words, with the plain wishes
    they are on any other catalog ("not too heavy" is "uplifting" of a film and "light" of a dish). `echo_kinds`: the
    prompt example's kinds, which the LLM's want becomes no hint of (a small model echoes its example)."""
    update: dict[str, Any] = {}
    dropped: list[str] = []
    for slot in _FILM_SLOTS:
        if getattr(intent, slot) not in (None, [], ()):
            update[slot] = [] if isinstance(getattr(intent, slot), list) else None
            dropped.append(slot)
    if intent.max_age_rating and not (schema.suitability and schema.suitability.field == "age_rating"):
        update["max_age_rating"] = None
        dropped.append("max_age_rating")
    notes = list(intent.notes) + list(reading.notes)
    if dropped:
        notes.append(f"read as a {schema.noun.en}, not a film: {', '.join(dropped)} left out")
    notices = list(reading.notices) + _lacking(intent, reading, schema)  # the film reader's are about films
    hints = list(intent.hints)
    if llm and reader is not None:
        _merge_kinds(llm, reading, reader, hints, notes, intent.language, echo_kinds)
    wishes = [plain for wish in intent.wishes for plain in ((moods or {}).get(wish, [wish]))]
    wishes += [w for w in reading.goes_with if w not in wishes]
    update.update(wishes=_without_words(list(dict.fromkeys(wishes)), reading.ruled_out_words),
                  hints=_without_words(hints, reading.ruled_out_words),
                  facets_any=list(reading.any_of), facets_none=list(reading.none_of), bounds=list(reading.bounds),
                  cleared_fields=list(reading.cleared), notes=notes, notices=notices)
    if intent.intent == "chitchat" and (reading.any_of or reading.none_of or reading.bounds):
        update["intent"] = "recommend"  # "vegetarian, no nuts" is a request on this catalog
    return intent.model_copy(update=update)


def catalog_reader(data_dir: Path, items: list[Item]) -> CatalogReader | None:
    """The reader of the data dir's schema catalog, None for the film catalog (its reader is rules.py)."""
    schema = schema_for(data_dir)
    if field_kinds(schema) == FILM_KINDS:
        return None
    coverage = Counter(name for item in items for name, value in item.attributes if value not in (None, "", []))
    rules_file = Path(data_dir) / CONTEXT_RULES_FILE
    if not rules_file.is_file() and schema.name in PACKAGED:
        rules_file = Path(str(resources.files(SCHEMAS_PACKAGE).joinpath(f"{schema.name}.{CONTEXT_RULES_FILE}")))
    rules = load_context_rules(str(rules_file), films=False) if rules_file.is_file() else ()
    return CatalogReader(schema, dict(coverage), rules, len(items))


_EMPTY_WISH = {"no", "not", "without", "free", "and", "or", "nor", "any", "please", "with", "不要", "不", "没有", "无"}


def _without_words(wishes: list[str], words: tuple[str, ...]) -> list[str]:
    """The search wishes with the words of ruled-out values taken out ("vegetarian nuts" -> "vegetarian")."""
    if not words:
        return list(wishes)
    rx = re.compile("|".join(rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])" if not has_cjk(w) else re.escape(w)
                             for w in sorted(words, key=len, reverse=True)), re.IGNORECASE)
    dangling = re.compile(r"^(?:(?:no|not|without|and|or|nor|with)\b[\s,]*)+|(?:[\s,]*\b(?:no|not|without|and|or|"
                          r"nor|with))+$", re.IGNORECASE)
    out = []
    for wish in wishes:
        left = dangling.sub("", " ".join(rx.sub(" ", wish).split()).strip(" ,-")).strip(" ,-")
        if left and set(left.lower().split()) - _EMPTY_WISH:
            out.append(left)
    return out


def _merge_kinds(llm: dict[str, Any], reading: CatalogReading, reader: CatalogReader, hints: list[str],
                 notes: list[str], language: str, echo_kinds: frozenset[str] = frozenset()) -> None:
    """The LLM's kinds: wanted ones the words did not name become hints (search words, never "you asked for"),
    but not the prompt example's own; ruled-out ones the words do not rule out are dropped and said."""
    lang = language if language == "zh" else "en"
    for kind in llm.get("want") or []:
        value = reader.value_of(str(kind))
        if value is not None and value not in reading.any_of + reading.none_of and kind not in echo_kinds:
            hints.append(str(kind).lower())
            notes.append(f"read as a hint, not a rule: {kind}")
    for kind in llm.get("not_want") or []:
        value = reader.value_of(str(kind))
        if value is not None and value not in reading.none_of:
            notes.append(say("llm_unsupported", lang, what=("no " if lang == "en" else "不要") + str(kind)))


def _lacking(intent: TurnIntent, reading: CatalogReading, schema: CatalogSchema) -> list[str]:
    """Said when the person asks for a kind (a genre word) that no value of the catalog's facets is: "no horror
    among the books here (its genres: Mystery, Classics, ...)"."""
    named = {value.lower() for _, value in reading.any_of + reading.none_of}
    known = {v.lower() for f in schema.facets for v in f.vocabulary}
    facet = next((f for f in schema.facets if f.vocabulary and not f.derived), None) or \
        next((f for f in schema.facets if f.vocabulary), None)
    out = []
    for genre in intent.genres:
        if genre.lower() in named or genre.lower() in known or facet is None:
            continue
        shown = ", ".join(facet.vocabulary[:6]) + (" …" if len(facet.vocabulary) > 6 else "")
        out.append(say("no_such_value", intent.language if intent.language == "zh" else "en",
                       value=genre.lower(), label=facet.label_en or facet.name, values=shown))
    return out
