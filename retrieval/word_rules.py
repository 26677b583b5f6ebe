"""Word rules: facets derived from a catalog's own text, kept as data (e.g. retrieval/schemas/recipe_rules.yaml).

Three kinds (the YAML file's header says the same for the people who edit it):
- `tags`: every value whose words occur in one text field ("contains: nuts" when an ingredient names a nut);
- `absence`: a value holds when none of some values of another facet does ("vegetarian" = no meat, fish, seafood);
- `first`: ordered rules, each with word conditions on fields and value conditions on facets; the first that
  holds gives the value ("warm" for a soup, "cold" for a salad).
Words match whole, case-insensitively, with an optional plural "s"/"es"; `unless` phrases are blanked out first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from retrieval.datafile import load_data
from retrieval.errors import CatalogError, DataFileError

_CJK = re.compile(r"[\u3400-\u9fff]")
_TOKEN = re.compile(r"[\w]+")


def tokens(text: str) -> list[str]:
    """Lower-case words of a text ("Nut-free" -> nut, free); how both rules and texts are read."""
    return _TOKEN.findall(text.lower())


@lru_cache(maxsize=4096)
def _cached_tokens(text: str) -> tuple[str, ...]:
    """`tokens`, remembered: every rule reads the same few texts of a record."""
    return tuple(tokens(text))


@lru_cache(maxsize=65536)
def _bases(token: str) -> tuple[str, ...]:
    """A word and the words it may be the plural of: peaches -> peaches, peache, peach."""
    out = [token]
    if token.endswith("s") and len(token) > 2:
        out.append(token[:-1])
        if token.endswith("es") and len(token) > 3:
            out.append(token[:-2])
    return tuple(out)


def _phrase_at(words: list[str], phrase: tuple[str, ...], i: int) -> bool:
    """True when the phrase starts at word i (`*` = any word; the last word may be plural)."""
    if i + len(phrase) > len(words):
        return False
    for j, part in enumerate(phrase):
        word = words[i + j]
        if part != "*" and part != word and not ((j == len(phrase) - 1 or j == 0) and part in _bases(word)):
            return False
    return True


@dataclass(frozen=True)
class WordSet:
    """Words to look for and phrases to blank out first; `found(text)` says whether a word is there.

    Matching is by words, not by one large regex: a text's words are looked up in a set of phrases (and the
    unless phrases by their first word), so a rule with hundreds of words costs about what one with ten does.
    """

    phrases: frozenset[tuple[str, ...]] = frozenset()
    longest: int = 0
    unless: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)  # first word -> phrases
    cjk: tuple[str, ...] = ()  # Chinese words: matched as substrings
    cjk_unless: tuple[str, ...] = ()

    @classmethod
    def of(cls, words: list[str] | tuple[str, ...], unless: list[str] | tuple[str, ...] = ()) -> WordSet:
        """Index the words (as word tuples) and the unless phrases (by first word)."""
        plain = [str(w) for w in words if str(w).strip() and not _CJK.search(str(w))]
        phrases = frozenset(tuple(tokens(w)) for w in plain if tokens(w))
        index: dict[str, list[tuple[str, ...]]] = {}
        for text in (str(w) for w in unless if str(w).strip() and not _CJK.search(str(w))):
            phrase = tuple(t for part in text.lower().split() for t in (["*"] if part == "*" else tokens(part)))
            if phrase:
                index.setdefault(phrase[0], []).append(phrase)
        return cls(phrases, max((len(p) for p in phrases), default=0), {k: tuple(v) for k, v in index.items()},
                   tuple(str(w) for w in words if _CJK.search(str(w))),
                   tuple(str(w) for w in unless if _CJK.search(str(w))))

    def _blank_unless(self, words: list[str]) -> None:
        """Blank out (in place) every word covered by an unless phrase."""
        for i, word in enumerate(words):
            if not word:
                continue
            starts = {p for base in _bases(word) for p in self.unless.get(base, ())}
            for phrase in starts | set(self.unless.get("*", ())):
                if _phrase_at(words, phrase, i):
                    words[i:i + len(phrase)] = [""] * len(phrase)
                    break

    def found(self, text: str) -> bool:
        """True when one of the words occurs in the text once the unless phrases are blanked out."""
        if not text:
            return False
        if self.cjk:
            rest = text
            for word in self.cjk_unless:
                rest = rest.replace(word, " ")
            if any(word in rest for word in self.cjk):
                return True
        if not self.phrases:
            return False
        words = list(_cached_tokens(text))
        if self.unless:
            self._blank_unless(words)
        singles, firsts = self._firsts
        for i, word in enumerate(words):
            if not word:
                continue
            if any(base in singles for base in _bases(word)):
                return True
            if word not in firsts:
                continue
            for n in range(2, min(self.longest, len(words) - i) + 1):
                head = tuple(words[i:i + n - 1])
                if any(head + (base,) in self.phrases for base in _bases(words[i + n - 1])):
                    return True
        return False

    @cached_property
    def _firsts(self) -> tuple[frozenset[str], frozenset[str]]:
        """The one-word phrases, and the first words of the longer ones (to skip most positions at once)."""
        return (frozenset(p[0] for p in self.phrases if len(p) == 1),
                frozenset(p[0] for p in self.phrases if len(p) > 1))


@dataclass(frozen=True)
class FirstRule:
    """One ordered rule: its value (None = no value) when every condition holds."""

    value: str | None
    match: tuple[tuple[str, WordSet], ...] = ()  # field -> words, one of which must occur
    exclude: tuple[tuple[str, WordSet], ...] = ()  # field -> words, none of which may occur
    is_: tuple[tuple[str, frozenset[str]], ...] = ()  # facet -> values, one of which it must have

    def holds(self, texts: dict[str, str], values: dict[str, Any]) -> bool:
        """True when every condition holds for one record."""
        for name, allowed in self.is_:
            have = values.get(name)
            have = set(have) if isinstance(have, (list, tuple, set, frozenset)) else {have}
            if not have & allowed:
                return False
        if any(not words.found(texts.get(name, "")) for name, words in self.match):
            return False
        return not any(words.found(texts.get(name, "")) for name, words in self.exclude)


@dataclass(frozen=True)
class DerivedFacet:
    """One facet derived by word rules."""

    name: str
    kind: str  # tags | absence | first
    source: tuple[str, ...] = ()  # tags: the fields whose text is read ("ingredients", or [title, ingredients])
    title_values: frozenset[str] = frozenset()  # tags: the values read in the title as well (its `title` source)
    title_unless: WordSet | None = None  # tags: a title with one of these words is not read ("Tofu Bacon (Vegan)")
    tags: tuple[tuple[str, WordSet], ...] = ()  # tags: value -> words
    of: str = ""  # absence: the facet whose values are looked at
    absent: tuple[tuple[str, frozenset[str]], ...] = ()  # absence: value -> values that must all be missing
    rules: tuple[FirstRule, ...] = ()  # first: in order

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Every value this facet can take, in the file's order."""
        if self.kind == "tags":
            return tuple(v for v, _ in self.tags)
        if self.kind == "absence":
            return tuple(v for v, _ in self.absent)
        return tuple(dict.fromkeys(r.value for r in self.rules if r.value))

    def derive(self, texts: dict[str, str], values: dict[str, Any]) -> tuple[str, ...] | str | None:
        """This facet's value(s) for one record (texts by field; values of the facets derived before it)."""
        if self.kind == "tags":
            text = "\n".join(texts.get(name, "") for name in self.source)
            title = texts.get("title", "")
            if self.title_unless is not None and self.title_unless.found(title):
                title = ""
            return tuple(v for v, words in self.tags if words.found(text) or v in self.title_values and words.found(title))
        if self.kind == "absence":
            have = set(values.get(self.of) or ())
            return tuple(v for v, banned in self.absent if not have & banned)
        return next((r.value for r in self.rules if r.holds(texts, values)), None)


def _word_map(data: Any, where: str) -> tuple[tuple[str, WordSet], ...]:
    """field -> WordSet from a {field: [words]} mapping."""
    if not isinstance(data, dict):
        raise CatalogError(f"{where}: expected a mapping of field -> words")
    return tuple((str(k), WordSet.of(list(v or ()))) for k, v in data.items())


def _facet(name: str, spec: dict[str, Any], where: str) -> DerivedFacet:
    """One derived facet from its YAML mapping."""
    kind = spec.get("kind")
    here = f"{where}, field facets.{name}"
    if kind == "tags":
        tags = tuple((str(v), WordSet.of(r.get("words") or (), r.get("unless") or ()))
                     for v, r in (spec.get("values") or {}).items())
        source, unless = spec.get("source") or (), spec.get("title_unless")
        return DerivedFacet(name, kind, source=tuple(map(str, [source] if isinstance(source, str) else source)),
                            tags=tags, title_values=frozenset(map(str, spec.get("title_values") or ())),
                            title_unless=WordSet.of(list(unless)) if unless else None)
    if kind == "absence":
        absent = tuple((str(v), frozenset(map(str, banned or ()))) for v, banned in (spec.get("values") or {}).items())
        return DerivedFacet(name, kind, of=str(spec.get("of") or ""), absent=absent)
    if kind == "first":
        rules = []
        for i, rule in enumerate(spec.get("rules") or ()):
            if not isinstance(rule, dict) or "value" not in rule:
                raise CatalogError(f"{here}.rules.{i}: each rule needs a `value` (null for none)")
            is_ = tuple((str(k), frozenset(map(str, v or ()))) for k, v in (rule.get("is") or {}).items())
            rules.append(FirstRule(rule["value"], _word_map(rule.get("match") or {}, f"{here}.rules.{i}.match"),
                                   _word_map(rule.get("exclude") or {}, f"{here}.rules.{i}.exclude"), is_))
        return DerivedFacet(name, kind, rules=tuple(rules))
    raise CatalogError(f"{here}.kind: {kind!r} is not one of tags, absence, first")


@dataclass(frozen=True)
class WordRules:
    """Every derived facet of a catalog, in the order they are computed, plus the file's other sections."""

    facets: tuple[DerivedFacet, ...]
    extra: tuple[tuple[str, Any], ...] = ()  # other top-level sections (e.g. category aliases), as read

    def section(self, name: str) -> Any:
        """Another top-level section of the rules file (None when absent)."""
        return dict(self.extra).get(name)

    def derive(self, texts: dict[str, str], values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Every derived facet's value for one record; `values` holds facets already known (e.g. category)."""
        known = dict(values or {})
        out: dict[str, Any] = {}
        for facet in self.facets:
            out[facet.name] = known[facet.name] = facet.derive(texts, known)
        return out


def load_word_rules(package: str, name: str, path: Path | None = None) -> WordRules:
    """Read a word-rules YAML file (CatalogError naming the file and the field on a problem)."""
    where = str(path) if path else name
    try:
        data = load_data(package, name, path=path)
    except DataFileError as exc:
        raise CatalogError(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("facets"), dict):
        raise CatalogError(f"{where}: a word-rules file needs a `facets:` mapping")
    facets = tuple(_facet(str(k), v or {}, where) for k, v in data["facets"].items())
    extra = tuple((k, v) for k, v in data.items() if k != "facets")
    return WordRules(facets, extra)
