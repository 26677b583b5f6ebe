"""The qualities lexicon (`qualities.yaml`): the qualities a note may claim about an item ("cozy", "scary", "a
comedy", "温馨") and the catalog facts that support or contradict each one.

Films use `qualities.yaml`; a schema catalog named N uses `qualities_N.yaml` shipped beside it, else a
`qualities.yaml` in the catalog's own folder, else `qualities_any.yaml`, where a quality holds only when the item's
own facts say it in words (`QualityLexicon.for_catalog`).

The note checker rejects a note that claims a quality its item's facts do not support, and `tastebud eval notes`
counts such claims with the same lexicon, so the two never disagree. The notes prompt lists, per item, the
qualities it may be called and the asked-for ones it may not.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatbot.llm.protocol import CHINESE_SCRIPT, lower_case_only
from chatbot.text.names import blank_names, fold_name
from chatbot.turn.notes.situation import unsaid_company, unsaid_weather
from retrieval.errors import DataFileError
from retrieval.schema import CatalogSchema
from retrieval.types import GENRES, Item

QUALITIES_FILE = "qualities.yaml"
ANY_CATALOG_FILE = "qualities_any.yaml"  # a catalog without a lexicon of its own: its facts must say the quality
_PACKAGE = "chatbot.turn.notes"
MIN_RATINGS = 30  # a mean rating counts ("acclaimed") only with at least this many ratings
_CONDITION_KEYS = frozenset({"genres", "genres_all", "age_ratings", "runtime_max", "runtime_min", "year_max",
                             "year_min", "awards", "plot", "rating_min", "text", "title", "facet", "lacks",
                             "number_max", "number_min"})
_CJK_START = re.compile(r"[\u3400-\u9fff]")
_FIELD_KEYS = frozenset({"facet", "lacks", "number_max", "number_min"})  # {field: ...} mappings


@dataclass(frozen=True)
class Claim:
    """A quality a note claims: which one, the words that claim it, and whether they deny it ("nothing scary")."""

    quality: str
    words: str
    negated: bool = False


@dataclass(frozen=True)
class Quality:
    """One entry of the lexicon: how notes say it, how the prompt names it, and the facts for and against it."""

    name: str
    patterns: Mapping[str, re.Pattern[str]]  # language -> one pattern of every way to say it
    say: Mapping[str, str]  # language -> the word the prompt uses
    supported_if: tuple[Mapping[str, Any], ...]
    contradicted_if: tuple[Mapping[str, Any], ...]
    in_prompt: bool = True  # listed in the prompt's "may call it" (genre words are not: the facts give genres)
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # language -> its forms that are plain words


def _compile(name: str, language: str, forms: Sequence[str], where: str = QUALITIES_FILE) -> re.Pattern[str]:
    """One pattern for every form of a quality; English forms match as whole words, and an optional hyphen
    ("heart-?warming") may be a space too (kept from "heartwarming", the 1.5B wrote "heart warming")."""
    if not forms:
        return re.compile(r"(?!x)x")  # matches nothing
    body = "|".join(f"(?:{f.replace('-?', '[- ]?')})" for f in forms)
    if language == "en":
        body = rf"(?<![\w-])(?:{body})(?![\w-])"
    try:
        return re.compile(body, re.IGNORECASE)
    except re.error as exc:
        raise DataFileError(f"{_path(where)}: quality {name!r} ({language}): {exc}") from exc


def plain_words(forms: Sequence[str]) -> tuple[str, ...]:
    """The forms that are plain words ("cozy", "heart-?warming" as heartwarming, heart-warming and heart warming,
    "温馨"), for the writer to steer the model away from; forms with any other pattern syntax are left to the
    checker."""
    out: list[str] = []
    for form in forms:
        if m := re.fullmatch(r"([a-z]+)(?:s\?|\(\?:([a-z|]+)\))", form):  # "thrillers?", "comed(?:y|ies)"
            out += [m[1] + end for end in (m[2].split("|") if m[2] else ("", "s"))]
        elif m := re.fullmatch(r"([a-z]+)\s+\(\?:[a-z| -]+\)", form):  # "comfort (?:watch|viewing)": its lead word
            out.append(m[1])
        elif m := re.fullmatch(r"([\u3400-\u9fff]{2,})\(\?!.*\)", form):  # "温暖(?!的?(?:家|被窝))": its word
            out.append(m[1])
        elif re.fullmatch(r"[a-z]+(?:-\??[a-z]+)*|[\u3400-\u9fff]+", form):
            out += [form.replace("-?", sep) for sep in ("", "-", " ")] if "-?" in form else [form]
        else:  # "humou?r", "for (?:the )?kids": each way it is spelled, in letters alone
            out += [w for w in spelled_out(form) if re.fullmatch(r"[a-z][a-z' -]*[a-z]", w)]
    return tuple(dict.fromkeys(out))


MAX_SPELLINGS = 16  # a form spelled more ways than this is left to the checker alone


def spelled_out(form: str) -> tuple[str, ...]:
    """Every way a form of letters, optional parts and alternatives is written ("for (?:the )?kids" as "for kids"
    and "for the kids"); () for a form with any other pattern syntax (a look-around, \\d, \\w*) or too many ways."""
    try:
        spelled, end = _spell(form, 0)
    except ValueError:
        return ()
    return tuple(dict.fromkeys(spelled)) if end == len(form) else ()


def _spell(form: str, i: int) -> tuple[list[str], int]:
    """The spellings of the alternatives from `form[i]` to the group's end (`|` between them), and where they end;
    ValueError for syntax other than letters, groups, `|`, `?` and a class of single characters, or too many."""
    spelled: list[str] = []
    while True:
        branch = [""]
        while i < len(form) and form[i] not in "|)":
            parts, i = _atom(form, i)
            if i < len(form) and form[i] == "?":  # optional (a lazy "??" spells the same)
                parts, i = ["", *parts], i + 2 if form[i + 1:i + 2] == "?" else i + 1
            if i < len(form) and form[i] in "*+{" or len(branch) * len(parts) > MAX_SPELLINGS:
                raise ValueError(form)
            branch = [a + b for a in branch for b in parts]
        spelled += branch
        if i >= len(form) or form[i] == ")":
            if len(spelled) > MAX_SPELLINGS:
                raise ValueError(form)
            return spelled, i
        i += 1  # past "|"


def _atom(form: str, i: int) -> tuple[list[str], int]:
    """The spellings of the one atom at `form[i]` (a character, an escaped sign, a group, a class), and its end."""
    char = form[i]
    if char == "(":
        body = i + 3 if form.startswith("(?:", i) else i + 1
        if form.startswith("(?", i) and body == i + 1:  # a look-around, a flag, a named group
            raise ValueError(form)
        parts, end = _spell(form, body)
        if end >= len(form):
            raise ValueError(form)
        return parts, end + 1
    if char == "[":
        end = form.find("]", i + 2)
        inside = form[i + 1:end]
        if end < 0 or inside.startswith("^") or "\\" in inside or re.search(r".-.", inside):
            raise ValueError(form)
        return list(dict.fromkeys(inside)), end + 1
    if char == "\\":
        if i + 1 >= len(form) or form[i + 1].isalnum():  # \d, \w, \b: no letters to spell
            raise ValueError(form)
        return [form[i + 1]], i + 2
    if char in ".^$*+?{}]":
        raise ValueError(form)
    return [char], i + 1


def _path(where: str) -> str:
    """A lexicon file as an error names it: a shipped one by its path in the project, another as given."""
    return where if "/" in where or "\\" in where else f"chatbot/turn/notes/{where}"


def _conditions(name: str, raw: Any, where: str = QUALITIES_FILE) -> tuple[Mapping[str, Any], ...]:
    """A validated list of conditions."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(c, dict) and c for c in raw):
        raise DataFileError(f"{_path(where)}: quality {name!r}: conditions must be a list of mappings")
    for cond in raw:
        unknown = set(cond) - _CONDITION_KEYS
        if unknown:
            raise DataFileError(f"{_path(where)}: quality {name!r}: unknown condition {sorted(unknown)[0]!r}")
        for key in _FIELD_KEYS & set(cond):
            if not isinstance(cond[key], dict) or not cond[key]:
                raise DataFileError(f"{_path(where)}: quality {name!r}: {key} must map fields to values")
            if key in ("facet", "lacks") and not all(isinstance(v, list) for v in cond[key].values()):
                raise DataFileError(f"{_path(where)}: quality {name!r}: {key} must map each field to a list")
            if key.startswith("number") and not all(isinstance(v, (int, float)) for v in cond[key].values()):
                raise DataFileError(f"{_path(where)}: quality {name!r}: {key} must map each field to a number")
    return tuple(raw)


def _words_hold(patterns: Sequence[str], text: str) -> bool:
    """True when any of the word patterns occurs in the text (whole words, any case)."""
    return any(re.search(p if _CJK_START.match(p) else rf"(?<![\w-])(?:{p})(?![\w-])", text, re.IGNORECASE)
               for p in patterns)  # Chinese words have no word boundaries


def _field(item: Item, name: str) -> Any:
    """An item's field by name: a schema attribute, else an `Item` field (None when unknown)."""
    own = dict(item.attributes)
    if name in own:
        return own[name]
    value = getattr(item, name, None)
    return None if value in ((), "") else value


def _values(item: Item, name: str) -> set[str] | None:
    """The folded values of a facet field (one or several); None when the item does not know the field."""
    value = _field(item, name)
    if value is None:
        return None
    values = value if isinstance(value, (list, tuple)) else [value]
    return {str(v).strip().lower() for v in values}


def _number(item: Item, name: str) -> float | None:
    """A number field of the item (None when unknown or not a number)."""
    value = _field(item, name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _facet_holds(fields: Mapping[str, Sequence[Any]], item: Item, lacks: bool = False) -> bool:
    """Every field holds any of its values (`lacks`: the field is known and holds none of them)."""
    for name, wanted in fields.items():
        have = _values(item, name)
        if have is None:
            return False
        hit = bool(have & {str(w).strip().lower() for w in wanted})
        if hit == lacks:
            return False
    return True


def _numbers_hold(fields: Mapping[str, float], item: Item, at_most: bool) -> bool:
    """Every number field is known and at most (or at least) its bound."""
    values = [(_number(item, name), bound) for name, bound in fields.items()]
    return all(v is not None and (v <= bound if at_most else v >= bound) for v, bound in values)


def _item_text(item: Item) -> str:
    """The item's own words: its attributes (facet values, text fields, numbers) and its plot."""
    parts = [str(value) for _, value in item.attributes]
    return " ".join([*parts, item.plot or ""])


def condition_holds(cond: Mapping[str, Any], item: Item) -> bool:
    """True when every key of the condition holds for the item (unknown facts never hold)."""
    genres = set(item.genres)
    checks = {
        "genres": lambda v: bool(genres & set(v)),
        "genres_all": lambda v: set(v) <= genres,
        "age_ratings": lambda v: item.age_rating in set(v),
        "runtime_max": lambda v: item.runtime_min is not None and item.runtime_min <= v,
        "runtime_min": lambda v: item.runtime_min is not None and item.runtime_min >= v,
        "year_max": lambda v: item.year is not None and item.year <= v,
        "year_min": lambda v: item.year is not None and item.year >= v,
        "awards": lambda v: bool(item.awards and re.search(v, item.awards)),
        "plot": lambda v: bool(item.plot and _words_hold(v, item.plot)),
        "rating_min": lambda v: item.mean_rating is not None and item.n_ratings >= MIN_RATINGS
        and item.mean_rating >= v,
        "text": lambda v: _words_hold(v, _item_text(item)),
        "title": lambda v: _words_hold(v, item.title),  # the catalog's own claim: "Quick Risotto", "Easy Flan"
        "facet": lambda v: _facet_holds(v, item),
        "lacks": lambda v: _facet_holds(v, item, lacks=True),
        "number_max": lambda v: _numbers_hold(v, item, at_most=True),
        "number_min": lambda v: _numbers_hold(v, item, at_most=False),
    }
    return all(checks[key](value) for key, value in cond.items())


class QualityLexicon:
    """The qualities a note may claim, with the facts that support or contradict each (from `qualities.yaml`)."""

    def __init__(self, qualities: Iterable[Quality], negation: Mapping[str, re.Pattern[str]]) -> None:
        """A lexicon of these qualities; `negation` per language matches text that ends in a denial ("not too")."""
        self.qualities = {q.name: q for q in qualities}
        self.negation = dict(negation)
        self._genre_words: set[str] | None = None  # every genre word, for reading compounds (built on first use)

    @classmethod
    def from_data(cls, raw: Any, where: str = QUALITIES_FILE) -> QualityLexicon:
        """Build from the parsed YAML of the file `where` (DataFileError names the file and what is wrong)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("qualities"), dict):
            raise DataFileError(f"{_path(where)}: expected `negation` and `qualities` mappings")
        qualities = []
        for name, entry in raw["qualities"].items():
            if not isinstance(entry, dict) or "supported_if" not in entry:
                raise DataFileError(f"{_path(where)}: quality {name!r} needs supported_if")
            patterns = {lang: _compile(name, lang, entry.get(lang) or [], where) for lang in ("en", "zh")}
            say = entry.get("say") or {"en": name, "zh": name}
            steer = entry.get("steer") or {}  # plain words of a pattern's claim ("就能" of "七十五分钟就能")
            if not isinstance(steer, dict) or not all(isinstance(v, list) for v in steer.values()):
                raise DataFileError(f"{_path(where)}: quality {name!r}: steer maps a language to a list of words")
            words = {lang: plain_words(entry.get(lang) or []) + tuple(map(str, steer.get(lang) or ()))
                     for lang in ("en", "zh")}
            qualities.append(Quality(name, patterns, say, _conditions(name, entry["supported_if"], where),
                                     _conditions(name, entry.get("contradicted_if"), where),
                                     bool(entry.get("prompt", True)), words))
        try:
            negation = {lang: re.compile(p, re.IGNORECASE) for lang, p in (raw.get("negation") or {}).items()}
        except re.error as exc:
            raise DataFileError(f"{_path(where)}: negation: {exc}") from exc
        return cls(qualities, negation)

    @classmethod
    @functools.lru_cache(maxsize=1)
    def load(cls) -> QualityLexicon:
        """The shipped lexicon (read once)."""
        from retrieval.datafile import load_data

        return cls.from_data(load_data(_PACKAGE, QUALITIES_FILE))

    @classmethod
    def served(cls) -> QualityLexicon:
        """The lexicon of the catalog this process serves (the checker, the templates and `eval notes` share it)."""
        from chatbot.turn.replies import catalog_folder, catalog_schema

        return cls.for_catalog(catalog_schema(), catalog_folder())

    @classmethod
    def for_catalog(cls, schema: CatalogSchema | None, folder: str | Path | None = None) -> QualityLexicon:
        """The lexicon of a catalog: films' for None, else `qualities_<name>.yaml`, the catalog folder's own
        `qualities.yaml`, or the generic one in which only an item's own words support a quality (read once)."""
        if schema is None or schema.name == "films":
            return cls.load()
        return _catalog_lexicon(schema.name, str(folder) if folder else "")

    def holds(self, name: str, item: Item) -> bool:
        """True when the item's facts support the quality and none contradicts it."""
        q = self.qualities[name]
        if any(condition_holds(c, item) for c in q.contradicted_if):
            return False
        return any(condition_holds(c, item) for c in q.supported_if)

    def claims(self, text: str, language: str = "en", names: Sequence[str] = ()) -> list[Claim]:
        """Every quality the text claims or denies, once each, with names and titles blanked out first; a compound of
        genre words ("comedy-drama-romance") read word by word; a number is no name ("just 490 minutes" is a claim)."""
        names = [n for n in names if not re.fullmatch(r"[\d.]+", n.strip())]
        text = _GENRE_COMPOUND.sub(self._split_compound, blank_names(text, names))
        found: dict[tuple[str, bool], Claim] = {}
        for lang in ("en", "zh"):  # a Chinese note may still say "cozy"; both word lists apply to every note
            negation = self.negation.get(lang)
            for q in self.qualities.values():
                for m in q.patterns[lang].finditer(text):
                    before = text[max(0, m.start() - 40) : m.start()]
                    negated = bool(negation and negation.search(before))
                    found.setdefault((q.name, negated), Claim(q.name, m.group(0), negated))
        return list(found.values())

    def _split_compound(self, m: re.Match[str]) -> str:
        """A hyphenated compound with its hyphens as spaces when every part is a genre word, else as it was."""
        if self._genre_words is None:
            self._genre_words = {w for name, q in self.qualities.items() if name.startswith("genre-")
                                 for w in q.words.get("en", ())} | _GENRE_PARTS
        parts = m.group(0).lower().split("-")
        return m.group(0).replace("-", " ") if all(p in self._genre_words for p in parts) else m.group(0)

    def unsupported(self, text: str, item: Item, language: str = "en", names: Sequence[str] = ()) -> list[Claim]:
        """The claims of a note that its item's facts do not bear out (a denial is wrong when the facts support
        the quality)."""
        return [c for c in self.claims(text, language, names) if self.holds(c.quality, item) == c.negated]

    def supported(self, item: Item) -> list[str]:
        """The prompt qualities the item's facts support, in lexicon order."""
        return [name for name, q in self.qualities.items() if q.in_prompt and self.holds(name, item)]

    def asked(self, texts: Iterable[str]) -> list[str]:
        """The qualities a person's wishes and situation ask for (claimed, not denied, in the reasons)."""
        out: list[str] = []
        for text in texts:
            for claim in self.claims(text, "en"):
                if not claim.negated and claim.quality not in out and self.qualities[claim.quality].in_prompt:
                    out.append(claim.quality)
        return out

    def unfit_words(self, item: Item, language: str) -> list[str]:
        """The plain words of every quality the item's facts do not support, in a language: what the notes model
        is kept from writing about this item (the checker still reads every note)."""
        unfit = [q for name, q in self.qualities.items() if not self.holds(name, item)]
        return [w for q in unfit for w in q.words.get(language, ())]

    def word(self, name: str, language: str) -> str:
        """How the prompt names a quality in a language."""
        say = self.qualities[name].say
        return say.get(language) or say.get("en") or name



# Praise of a plot ("剧情紧凑": a tight plot), which says its story is known (the checker's STORY reads it too).
PLOT_PRAISE_ZH = "剧情(?:跌宕|紧凑|曲折|精彩|感人|动人|扣人|引人|反转|惊险|刺激|紧张|巧妙|精巧|离奇|烧脑)"

# The words that begin a story, which the notes model is kept from writing for an item without a plot (with
# "rejected": a rewrite's hint echoed into the note, see the checker's INSTRUCTIONS).
STORY_WORDS = {"en": ("about", "follows", "following", "plays", "playing", "story", "tale", "tells", "voices",
                      "plot", "plots", "storyline", "narrative", "rejected"),
               "zh": ("讲述", "讲的是", "故事", "饰演", "扮演", "情节", *spelled_out(PLOT_PRAISE_ZH))}


_GENRE_COMPOUND = re.compile(r"\b[A-Za-z]+(?:-[A-Za-z]+)+\b")
_GENRE_PARTS = frozenset("romance romantic adventure action family comedy drama".split())  # with the lexicon's

# The prompt's own words, which the 1.5B copied into notes ("a sci-fi thriller that may call itself a thriller"): a
# note is kept from them (the checker's INSTRUCTIONS still reads every note).
PROMPT_WORDS = {"en": ("may call it", "may call", "may not call", "never call it", "picked because",
                       "build the note"),
                "zh": ("推荐语", "may call it", "picked because")}

# What a Chinese note would write a name or title with, translated: the dot of "汤姆·汉克斯" and the 《》 of a title,
# neither of which can be checked against the sheet (which spells both in Latin letters). The notes model is kept
# from every token holding one of them (`BatchedContext.ban_ids`).
ZH_NAME_MARKS = ("\u00b7", "\u30fb", "\u2022", "\u300a")
TIME_WORDS = {"en": ("minutes", "minute", "mins", "hours", "hour", "seconds", "secs"),
              "zh": ("分钟", "小时", "钟头", "秒钟")}  # how long it takes

def unwritable_words(item: Item, language: str, reasons: Sequence[str] = ()) -> list[str]:
    """The words a note about this item may not use: the qualities its facts do not support, weather neither its
    `reasons` nor its facts give, how long it takes when its sheet does not say and, without a plot on its sheet,
    the words that begin a story (the writer steers the model away from them; the checks stay); never a word of its
    own title or people, which the note must be able to write whole."""
    words = QualityLexicon.served().unfit_words(item, language)
    words += unsaid_weather(" ".join([item.plot or "", item.awards or "", *reasons]), language)
    words += unsaid_company(" ".join([*reasons, *item.genres, item.plot or ""]), language)  # a plot's "friends" stays
    if not (item.plot and item.plot.strip()):
        words += list(STORY_WORDS.get(language, ()))
        if language == "zh" and item.people:  # kept from 饰演, the 1.5B gave a role by "饰饰" (a dish's 装饰 stays)
            words.append("饰")
    words += list(PROMPT_WORDS.get(language, ()))
    words += asked_genres_not_had(item, reasons) if language == "en" else []
    if language == "zh":
        words += list(ZH_NAME_MARKS) + sheet_english(item, reasons)
    else:  # an English note writes no Chinese ("ready in 15-20分钟" once " minutes" was kept from it)
        words.append(CHINESE_SCRIPT)
    from chatbot.turn.notes.facts import item_minutes

    if item_minutes(item) is None:  # "ready in 15 minutes" of a recipe that gives no time
        words += list(TIME_WORDS.get(language, ()))
    def said(word: str, text: str, flags: int = 0) -> bool:
        return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags) is not None

    # "The Philadelphia Story" keeps its "Story", "Light of Day" its "Light": only "story" and "light" are kept from
    # the note; a word its people's names or its title write in lower case ("quick chicken curry") stays free
    free = " ".join([item.title, *item.people]) if language == "en" else " ".join([item.title, *item.people]).lower()
    people = " ".join(item.people).lower()
    return [w if not said(w, item.title, re.IGNORECASE) else lower_case_only(w) for w in words
            if not said(w, free) and not said(w, people)]


def asked_genres_not_had(item: Item, reasons: Sequence[str]) -> list[str]:
    """The genres the person asked for that this item does not have ("comedy or action" asked, a comedy picked: its
    note wrote "a fun, comedy or action film"), lower case: what its note may not call it."""
    asked = " ".join(reasons).lower()
    return [g.lower() for g in GENRES if g != "IMAX" and g not in item.genres
            and re.search(rf"(?<![\w-]){re.escape(g.lower())}(?![\w-])", asked)]


def sheet_english(item: Item, reasons: Sequence[str] = ()) -> list[str]:
    """The English words a Chinese note would copy from its item's sheet and reasons ("适合你想要的 cozy", "获得 2 项
    Oscar", "ensemble喜剧"): genres, awards and facts, and the plot's and reasons' words that are not names
    (capitalised: "Liked Toy Story" keeps its title)."""
    named = " ".join([*item.genres, item.awards or "", *(str(v) for _, v in item.attributes)])
    told = " ".join([item.plot or "", *reasons])
    found = re.findall(r"[A-Za-z]{3,}", named) + re.findall(r"(?<![A-Za-z])[a-z]{3,}", told)
    spared = {w.lower() for w in re.findall(r"[A-Z][A-Za-z]+", " ".join(reasons))}  # "The" of "Liked The Matrix"
    return sorted({w.lower() for w in found} - spared)


@functools.lru_cache(maxsize=16)
def _catalog_lexicon(name: str, folder: str) -> QualityLexicon:
    """The lexicon of the schema catalog `name` (see `QualityLexicon.for_catalog`), read once per name and folder."""
    from retrieval.datafile import load_data

    own = f"qualities_{name}.yaml"
    if re.fullmatch(r"[A-Za-z0-9_-]+", name) and resources.files(_PACKAGE).joinpath(own).is_file():
        return QualityLexicon.from_data(load_data(_PACKAGE, own), own)
    local = Path(folder) / QUALITIES_FILE if folder else None
    if local is not None and local.is_file():
        return QualityLexicon.from_data(load_data(_PACKAGE, QUALITIES_FILE, local), str(local))
    return QualityLexicon.from_data(load_data(_PACKAGE, ANY_CATALOG_FILE), ANY_CATALOG_FILE)
