"""What code measures in a note, the same for the note checker and for `tastebud eval notes`: its length (words;
Chinese: characters), words of the wrong language, the facts of its own item it names (specificity), and its
skeleton (word 4-grams once names and titles are removed) to compare with the other notes of one answer."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from chatbot.text.names import LATIN_WORD, POSSESSIVE, blank_names, fold_name, name_words
from chatbot.turn.notes.qualities import QualityLexicon, unwritable_words
from retrieval.schema import CatalogSchema
from retrieval.text import CJK, display_title
from retrieval.types import AGE_RATINGS, Item

if TYPE_CHECKING:
    from chatbot.turn.understand.quantities import NumberWords

NOTE_LENGTH = {"en": (15, 30), "zh": (25, 60)}  # words (Chinese: characters) a note should have
SKELETON_N = {"en": 4, "zh": 6}  # a shared skeleton: a word 4-gram (Chinese: 6 characters, about four words)
PLOT_WORD_CHARS = 5  # plot words this long or longer count as a plot element
_AWARD_WORDS = re.compile(r"\bOscars?\b|\bAcademy Awards?\b|奥斯卡|获奖|提名", re.IGNORECASE)
# Plot words too general to show that a note tells this item's story.
_GENERIC = frozenset(
    "about after again against along their there these those where which while would could should story young "
    "other first world years life lives family friends friend people finds begins becomes until before being "
    "three between during under little great together himself herself themselves comes takes makes gets gives "
    "named known local small whose story".split()
)
# Words of an ingredient line that name no food of this dish alone: units, cuts, and what every kitchen has.
_KITCHEN_WORDS = frozenset(
    "salt pepper water sugar flour butter oil olive vegetable canola cooking spray ice taste cup cups teaspoon "
    "teaspoons tablespoon tablespoons tsp tbsp ounce ounces pound pounds gram grams kilogram litre liter litres "
    "liters quart pint pinch dash package packages can cans jar large small medium whole fresh freshly dried ground "
    "chopped sliced minced diced grated finely coarsely crushed peeled optional plus more about into pieces piece "
    "sprig sprigs bunch handful clove cloves stick sticks inch inches room temperature warm cold boiling divided "
    "packed softened melted beaten cubed halved thinly roughly prepared bottled skim reduced fat free figures "
    "black white brown granulated powdered baking soda powder extract purpose with that this from your into until "
    "over then them they have will more some each when what also just very well make made dish recipe serve "
    "served serving minute minutes hour hours time cook cooked needed used use".split()
)
_CJK_OR_LATIN = re.compile(rf"{CJK.pattern}|{LATIN_WORD.pattern}")


def note_length(text: str, language: str) -> int:
    """Words of an English note; characters of a Chinese one, where a number counts as one and a Latin word as half
    its letters, about what its transliteration takes ("Steven Spielberg": 8, as 斯蒂芬·斯皮尔伯格)."""
    if language == "zh":
        return sum(1 if CJK.fullmatch(w) or w.isdigit() else (len(w) + 1) // 2 for w in _CJK_OR_LATIN.findall(text))
    return len(re.findall(r"[^\W_]+(?:['\u2019-][^\W_]+)*", text))


def long_enough(text: str, language: str) -> bool:
    """True when the note is at least as long as a note should be (NOTE_LENGTH's lower bound)."""
    return note_length(text, language) >= NOTE_LENGTH[language][0]


def length_in_range(text: str, language: str) -> bool:
    """True when the note's length is within the range for its language."""
    low, high = NOTE_LENGTH[language]
    return low <= note_length(text, language) <= high


_NAMED_IN_PLOT = re.compile(r"(?<![.!?:]\s)(?<!^)(?<![A-Za-z])([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)")


def allowed_latin(item: Item, extra: Iterable[str] = ()) -> set[str]:
    """Latin words a Chinese note may hold: its item's people and titles, age ratings, names in `extra`, and the
    names its plot gives inside a sentence (its characters and places: "Cole Sear", "Kirk", "Enterprise")."""
    names = [*item.people, item.title, display_title(item.title), *(str(v) for _, v in item.attributes), *extra]
    names += _NAMED_IN_PLOT.findall((item.plot or "").strip())
    words = {w for n in names for w in name_words(n).split()}
    return words | {r.lower() for r in AGE_RATINGS} | {"pg", "nc", "13", "17"}


# letters of neither note language (Greek, Cyrillic, Hebrew, Arabic, Indic, Thai, kana, Hangul): "15-20 минут"
OTHER_SCRIPT = re.compile(r"[\u0370-\u03ff\u0400-\u052f\u0590-\u06ff\u0900-\u0dff\u0e00-\u0e7f\u3040-\u30ff"
                          r"\u1100-\u11ff\uac00-\ud7af]+")


_ZH_TIME = re.compile(r"(?P<n>[零〇一二两三四五六七八九十百]+|\d+)?(?P<ge>个)?(?P<half>半)?(?:个)?(?P<unit>小时|钟头|分钟)")


@functools.lru_cache(maxsize=1)
def number_words() -> NumberWords:
    """The constraint grammar's number words (English and Chinese, and their values): `NumberWords`."""
    from chatbot.turn.understand.grammar import load_grammar
    from chatbot.turn.understand.quantities import NumberWords

    return NumberWords(load_grammar())


def arabic_times(text: str) -> str:
    """Durations in Chinese numerals as digits, so they are checked like "25分钟": 二十五分钟 -> 25分钟,
    两个小时 -> 2小时, 一个半小时 -> 1.5小时, 半小时 -> 30分钟."""
    def digits(m: re.Match[str]) -> str:
        number = m.group("n")
        value = number_words().zh_value(number) if number else 0.0
        if value is None or (not number and not m.group("half")):
            return m.group(0)
        if m.group("half"):
            if m.group("unit") == "分钟":
                return m.group(0)  # "十分半钟" is no way to say a time
            return f"{value + 0.5:g}小时" if number else "30分钟"
        return f"{value:g}{'分钟' if m.group('unit') == '分钟' else '小时'}"
    return _ZH_TIME.sub(digits, text)


def foreign_words(text: str, language: str, item: Item, extra_names: Iterable[str] = ()) -> list[str]:
    """Words of the wrong language: English words in a Chinese note (names and titles aside), Chinese in English,
    and in either words of another script that no name of its sheet or reasons has."""
    names = " ".join([item.title, *item.people, *extra_names])
    other = [w for w in OTHER_SCRIPT.findall(text) if w not in names]
    if language != "zh":
        return CJK.findall(text) + other
    allowed = allowed_latin(item, extra_names)
    out = other
    for word in LATIN_WORD.findall(POSSESSIVE.sub("", text)):
        if word.isdigit() or fold_name(word) in allowed:
            continue
        out.append(word)
    return out


AWARD_NAMES = ("Academy Awards", "Academy Award", "Oscars", "Oscar", "奥斯卡")  # names, not a note's own words


def note_names(item: Item, extra: Iterable[str] = ()) -> list[str]:
    """The names a skeleton and a claim ignore: the item's title, people, names its reasons carry, award names."""
    return [item.title, display_title(item.title), *item.people, *(str(v) for _, v in item.attributes), *extra,
            *AWARD_NAMES]


def skeleton_grams(text: str, language: str, names: Iterable[str] = ()) -> set[tuple[str, ...]]:
    """The note's word 4-grams (Chinese: 6-character runs, digits kept) once names and titles are taken out."""
    bare = blank_names(text, names)
    if language == "zh":
        chars = "".join(re.findall(rf"{CJK.pattern}|\d", re.sub(r"[A-Za-z\u00c0-\u024f']+", "", bare)))
        n = SKELETON_N["zh"]
        return {tuple(chars[i : i + n]) for i in range(len(chars) - n + 1)}
    words = re.findall(r"[a-z0-9]+", fold_name(POSSESSIVE.sub("", bare)))
    n = SKELETON_N["en"]
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def shared_skeleton(grams: set[tuple[str, ...]], others: Iterable[set[tuple[str, ...]]]) -> list[str]:
    """The n-grams this note shares with any of the other notes, as text."""
    shared = set().union(*[grams & other for other in others]) if grams else set()
    return sorted(("" if len(g[0]) == 1 and CJK.match(g[0]) else " ").join(g) for g in shared)


def _person_named(text: str, person: str) -> bool:
    """True when the note names the person (the whole name, or the surname of a name of two words or more)."""
    folded = f" {name_words(text)} "
    full = name_words(person)
    if full and f" {full} " in folded:
        return True
    parts = full.split()
    return len(parts) >= 2 and len(parts[-1]) >= 4 and f" {parts[-1]} " in folded


def plot_words(plot: str | None) -> set[str]:
    """The telling words of a plot (folded, 5+ letters, not generic)."""
    words = re.findall(r"[a-z]+", fold_name(plot or ""))
    return {w for w in words if len(w) >= PLOT_WORD_CHARS and w not in _GENERIC}


@functools.lru_cache(maxsize=1)
def _glossary() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """`glossary_zh.yaml`: English word of a catalog's text (stem: "lentil", "molasse") -> the ways a Chinese note
    writes it; and the words that are other words too in English."""
    from retrieval.datafile import load_data
    from retrieval.errors import DataFileError

    data = load_data("chatbot.turn.notes", "glossary_zh.yaml") or {}
    words, loose = data.get("words"), data.get("loose_en") or []
    if not isinstance(words, dict) or not all(isinstance(v, list) and v for v in words.values()):
        raise DataFileError("chatbot/turn/notes/glossary_zh.yaml: 'words' must map each word to a list of forms")
    return ({str(k).rstrip("s"): tuple(str(v) for v in forms) for k, forms in words.items()},
            frozenset(str(w).rstrip("s") for w in loose))


def glossary_zh() -> dict[str, tuple[str, ...]]:
    """English word of a catalog's text (stem) -> the ways a Chinese note writes it (`glossary_zh.yaml`)."""
    return _glossary()[0]


@functools.cache
def _long_forms_zh() -> re.Pattern[str]:
    """The glossary's Chinese forms of three or more characters, longest first, as one pattern."""
    forms = sorted({f for forms in glossary_zh().values() for f in forms if len(f) >= 3}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, forms)))


def without_foods_zh(text: str) -> str:
    """A Chinese text with the foods the glossary writes in three or more characters blanked ("马苏里拉")."""
    return _long_forms_zh().sub(" ", text)


def _food(word: str) -> str | None:
    """The glossary's key for a stemmed word ("tomatoe" -> "tomato"), or None."""
    table = glossary_zh()
    return word if word in table else word[:-1] if word.endswith("e") and word[:-1] in table else None


def _named_in_chinese(word: str, text: str) -> bool:
    """True when a Chinese note writes this English word of its item's text ("lentil": "红扁豆")."""
    key = _food(word)
    return key is not None and any(f in text for f in glossary_zh()[key])


def _text_words(item: Item) -> set[str]:
    """The stemmed words of every text value of a schema item (its ingredients, steps, category...)."""
    values = [v for _, value in item.attributes for v in (value if isinstance(value, (list, tuple)) else [value])]
    return {w.rstrip("s") for v in values for w in re.findall(r"[a-z]+", fold_name(str(v)))}


_NOT_IN = re.compile(r"(?:\b(?:no|without|free of|not|skip|instead of|minus|swap(?:ped)? for)\s+(?:\w+\s+){0,2}$)|"
                     r"(?:不含|没有|无|不放|不加|免|不用|代替)[^，。；]{0,3}$", re.IGNORECASE)


def _own_foods(item: Item, reasons: Sequence[str]) -> tuple[set[str], set[str]]:
    """The glossary's foods a schema item's text or reasons have (a food sharing a form with one of them too:
    chili is chilli, 辣椒), and all their Chinese forms."""
    table = glossary_zh()
    own = {k for w in _text_words(item) | {w.rstrip("s") for r in reasons for w in re.findall(r"[a-z]+", r.lower())}
           if (k := _food(w))}
    own_forms = {f for k in own for f in table[k]}
    own |= {k for k, forms in table.items() if own_forms & set(forms)}
    return own, {f for k in own for f in table[k]}


def foods_zh(parts: Sequence[str], limit: int = 3) -> list[str]:
    """The Chinese names of a recipe's main parts the glossary knows, in order, at most `limit`: what a Chinese
    template can name. A part is named only when its last word is its one food ("spinach", "kidney beans": 豆);
    "chickpea flour" is no 面粉 (wheat flour) and "beef broth" no 牛肉, so those are left out."""
    table, out = glossary_zh(), []
    for part in parts:
        words = re.findall(r"[a-z]+", fold_name(str(part)))
        keys = [_food(w.rstrip("s")) for w in words]
        if keys and keys[-1] and sum(k is not None for k in keys) == 1 and table[keys[-1]][0] not in out:
            out.append(table[keys[-1]][0])
    return out[:limit]


def unwritable_foods(item: Item, language: str, reasons: Sequence[str] = ()) -> list[str]:
    """The foods a note about a schema item may not name, in the note's language (every food of the glossary its
    text and reasons lack), for the writer to steer the model away from; never a form inside one of its own
    ("豆" of its own "土豆")."""
    if not item.attributes:
        return []
    table, loose = _glossary()
    own, own_forms = _own_foods(item, reasons)
    if language == "zh":
        return sorted({f for k, forms in table.items() if k not in own for f in forms
                       if not any(f in mine for mine in own_forms)})
    return sorted(k for k in table if k not in own and k not in loose)


def unwritable(item: Item, language: str, reasons: Sequence[str] = ()) -> list[str]:
    """Every word the writer keeps a note about the item from: `unwritable_words`, the foods it does not have, the
    person's own state words (their mood is never the item's), and "you asked for" where they asked for nothing."""
    from chatbot.turn.notes.facts import sheet_text
    from chatbot.turn.notes.person_words import asking_words, person_states

    return (unwritable_words(item, language, reasons) + unwritable_foods(item, language, reasons)
            + person_states(reasons, sheet_text(item)) + asking_words(reasons, language))


def foreign_foods(text: str, item: Item, language: str, reasons: Sequence[str] = ()) -> list[str]:
    """The foods a note about a schema item names that neither its text nor its reasons have ("椰奶鸡肉汤" of a
    kadhi made with chickpea flour and yogurt); a food said to be absent ("without nuts", "不含花生") is fine."""
    if not item.attributes:
        return []
    table, loose = _glossary()
    own, own_forms = _own_foods(item, reasons)
    if language == "zh":  # a form inside one of its own foods' is theirs ("鸡蛋白" is egg white, "鱼肉" fish)
        taken = {i for f in own_forms for m in re.finditer(re.escape(f), text) for i in range(m.start(), m.end())}
        return [k for k, forms in table.items() if k not in own for f in forms for m in re.finditer(re.escape(f), text)
                if not taken & set(range(m.start(), m.end())) and not _NOT_IN.search(text[:m.start()])][:1]
    found = []
    for m in re.finditer(r"[A-Za-z]+", text):
        key = _food(m.group(0).lower().rstrip("s"))
        if key and key not in own and key not in loose and not _NOT_IN.search(text[:m.start()]):
            found.append(key)
    return found


def _schema_facts(text: str, item: Item, others: Sequence[Item], schema: CatalogSchema, language: str = "en"
                  ) -> list[str]:
    """The facts of a schema catalog's item a note names: a word of its own text fields (an ingredient; in a
    Chinese note, as the glossary writes it), a number with its unit ("25 minutes", "25 分钟"), a value of a
    one-valued facet the other items lack, a person."""
    own = dict(item.attributes)
    found = [f"person: {p}" for f in schema.people for p in (own.get(f.name) or []) if _person_named(text, str(p))]
    note_words = {w.rstrip("s") for w in re.findall(r"[a-z]+", fold_name(blank_names(text, [item.title])))}
    for field in (f for f in schema.texts if f.show):
        lines = own.get(field.name) or []
        words = {w.rstrip("s") for line in (lines if isinstance(lines, list) else [lines])
                 for w in re.findall(r"[a-z]+", fold_name(re.sub(r"\([^)]*\)", " ", str(line))))
                 if len(w) >= 4 and w not in _KITCHEN_WORDS}
        words -= {k.rstrip("s") for k in _KITCHEN_WORDS}
        named = (words & note_words) | ({w for w in words if _named_in_chinese(w, text)} if language == "zh" else set())
        found += [f"{field.name}: {w}" for w in sorted(named)]
    for number in schema.numbers:
        value = own.get(number.name)
        if isinstance(value, (int, float)) and _number_named(text, value, number.unit.name,
                                                             (number.unit.label_en, number.unit.label_zh)):
            found.append(f"{number.name}: {value:g}")
    for facet in (f for f in schema.facets if not f.multi):
        value = own.get(facet.name)
        if not value or any(dict(o.attributes).get(facet.name) == value for o in others if o.id != item.id):
            continue
        words = facet.words_for(str(value))
        forms = [str(value), *words.en, *words.zh]
        if any(re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])" if f.isascii() else re.escape(f), text, re.I)
               for f in forms if f):
            found.append(f"{facet.name}: {value}")
    return found


def _number_named(text: str, value: float, unit: str, labels: Sequence[str]) -> bool:
    """True when the note gives the number with its unit ("25 minutes", "25 分钟"; minutes also in hours)."""
    units = [re.escape(u) for u in labels if u] + ([r"mins?", "分"] if unit == "minutes" else [])
    if units and re.search(rf"(?<![\d.]){value:g}\s*-?\s*(?:{'|'.join(units)})", text, re.I):
        return True
    if unit == "minutes" and value >= 60:
        for m in re.finditer(r"(\d+(?:\.\d+)?)\s*-?\s*(?:hours?|hrs?|小时)", text, re.I):
            if abs(float(m.group(1)) * 60 - value) <= 30:
                return True
    return False


def specific_facts(text: str, item: Item, others: Sequence[Item] = (), language: str = "en",
                   qualities: QualityLexicon | None = None, schema: CatalogSchema | None = None) -> list[str]:
    """The facts of its own item a note names: a person, a plot element, an award, a genre the other items of the
    answer lack; for a schema catalog (`schema`, else the served one) an ingredient, its time, its category.
    Empty: the note could be about any item."""
    if schema is None and item.attributes:
        from chatbot.turn.replies import catalog_schema

        schema = catalog_schema()
    if schema is not None and schema.name != "films":
        return _schema_facts(text, item, others, schema, language)
    found = [f"person: {p}" for p in dict.fromkeys(item.people) if _person_named(text, p)]
    note_words = set(re.findall(r"[a-z]+", fold_name(blank_names(text, note_names(item)))))
    found += [f"plot: {w}" for w in sorted(plot_words(item.plot) & note_words)]
    if item.awards and _AWARD_WORDS.search(text):
        found.append("award")
    lexicon = qualities or QualityLexicon.load()
    other_genres = {g for o in others if o.id != item.id for g in o.genres}
    for claim in lexicon.claims(text, language, note_names(item)):
        genre = claim.quality.removeprefix("genre-")
        if claim.quality.startswith("genre-") and not claim.negated and lexicon.holds(claim.quality, item):
            own = [g for g in item.genres if g.lower().replace("-", "") == genre.replace("-", "")
                   or (genre == "noir" and g == "Film-Noir")]
            if own and not set(own) & other_genres:
                found.append(f"genre: {own[0]}")
    return found


def could_be_specific(item: Item) -> bool:
    """True when the item's sheet gives a note something of its own to name (a person, a plot, an award, a schema
    catalog's text or number)."""
    return bool(item.people or (item.plot or "").strip() or item.awards or item.attributes)
