"""What a note may say of the person: what it says they asked for must be something they asked for, and their own
state ("two grumpy teenagers", "累了一周") stays theirs, never the item's ("a grumpy comedy", "一部无聊的电影").

Both were written by the notes model: "a war comedy for a war movie you asked for" to someone who asked for a
comedy, "Grease … a grumpy, funny comedy" to someone with grumpy teenagers. The note checker reads both
(`unasked_claims`, `mood_of_item`) and `tastebud eval notes` counts them with the same functions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatbot.text.names import blank_names
from chatbot.turn.notes.qualities import Claim, QualityLexicon

__all__ = ["asked_phrases", "asking_words", "mood_of_item", "person_states", "unasked_claims",
           "without_person_states"]

# "… that you asked for", "as you wanted", "just what you were after", "exactly the kind you requested": the words
# before it (back to the clause's start) and after "for"/"about" are what the note says the person asked for.
_ASKED_EN = re.compile(
    r"(?<!\bif )(?<!\bwhether )\byou(?:'ve|\u2019ve| have| had)?\s+(?:(?:just|specifically)\s+)?(?:asked|wanted|requested|were after|"
    r"were looking|(?:were |are )?hoping|hoped|wished|mentioned|were craving|craved|ordered|had in mind)\b"
    r"(?P<tail>\s+(?:for|about)\b)?", re.IGNORECASE)
# "你想要的…", "正是你要的…", "符合你想看的…", "您提到的…" ("你喜欢的" is a liked film, not a wish)
_ASKED_ZH = re.compile(r"(?<!如果)(?<!要是)(?<!假如)(?<!若是)(?:你|您)(?:最)?(?:想要|要求|想看|想找|想吃|想读|提到|点名要|说想|要(?!是))"
                       r"(?:的)?")  # "如果你想看恐怖片" and "你要是喜欢" say no wish was made
_CLAUSE_EN = re.compile(r"[.,:;!?\u2014\u2013()\"]|\s(?:for|with|in|from|by|to|on)\s")  # "a comedy for [a war movie]"
_CLAUSE_ZH = re.compile(r"[，。；：！？,.;:!?()（）]")
_BEFORE_WORDS = 8
_AFTER_WORDS = 6
_ZH_CHARS = 14

# How a person says their own state; said of an item ("a grumpy comedy") it is theirs pasted onto the item. Words
# that are also qualities an item can have ("sad", "romantic") are the qualities lexicon's to check.
_STATES_EN = (r"grumpy|grouchy|cranky|crabby|grumbly|irritable|tired|exhausted|sleepy|drowsy|weary|worn[- ]out|"
              r"burn(?:ed|t)[- ]out|bored|stressed(?:[- ]out)?|anxious|lonely|homesick|hungover|heartbroken|"
              r"restless|frazzled|jet[- ]?lagged|sulky|fed[- ]up|under the weather|down in the dumps")
_STATES_ZH = r"无聊|心累|很累|好累|累了|疲惫|疲倦|烦躁|郁闷|孤独|孤单|焦虑|失恋|心烦"
# What stands for the item in a note: its kind, a genre, the catalog's nouns.
_ITEM_NOUNS_EN = (r"films?|movies?|flicks?|comed(?:y|ies)|dramas?|thrillers?|stor(?:y|ies)|tales?|picks?|"
                  r"classics?|romances?|adventures?|musicals?|cartoons?|documentar(?:y|ies)|westerns?|myster(?:y|ies)|"
                  r"horrors?|romps?|satires?|fables?|epics?|capers?|dish(?:es)?|recipes?|meals?|soups?|stews?|"
                  r"desserts?|snacks?|books?|novels?|reads?|courses?|outfits?|one")
_ITEM_NOUNS_ZH = r"电影|影片|片子|片|喜剧|剧情|故事|作品|动画|菜|汤|甜点|书|小说|课"
# Words between the state and the noun that make it the person's again ("grumpy kids and a story", "无聊的时候看的片").
_PERSON_EN = (r"teen\w*|kids?|children|child|evenings?|nights?|days?|weeks?|mornings?|afternoons?|weekends?|you|"
              r"yourself|folks|people|family|friends?|crowd|moods?|parents?|partners?|selves|self|for|with|to|who|"
              r"that|than|when|after|on|in|while|so")
_GAP_ZH = r"[^，。；！？,.时候你您晚夜周天]{0,3}?"


def asked_phrases(text: str, language: str) -> list[str]:
    """The phrases a note says the person asked for ("the tense, after-dark kind of film", "浪漫电影")."""
    if language == "zh":
        out = []
        for m in _ASKED_ZH.finditer(text):
            after = _CLAUSE_ZH.split(text[m.end():], maxsplit=1)[0][:_ZH_CHARS]
            before = _CLAUSE_ZH.split(text[: m.start()])[-1][-_ZH_CHARS:] if not after.strip() else ""
            out.append(after or before)
        return [p for p in out if p.strip()]
    out = []
    for m in _ASKED_EN.finditer(text):
        before = _CLAUSE_EN.split(text[: m.start()])[-1].split()[-_BEFORE_WORDS:]
        rest = text[m.end():].lstrip(" :")  # "just what you asked for: a scary film"
        said_after = m.group("tail") or text[m.end():].lstrip().startswith(":")
        after = _CLAUSE_EN.split(rest, maxsplit=1)[0].split()[:_AFTER_WORDS] if said_after else []
        out.append(" ".join(before + after))
    return [p for p in out if p.strip()]


# How a note says the person asked for something (`_ASKED_EN`, `_ASKED_ZH`), as the writer can keep a note from it.
_ASKING = {"en": ("asked", "requested", "wanted"),
           "zh": ("你想要", "你要求", "你想看", "您想要", "你要的")}


def asking_words(reasons: Sequence[str], language: str) -> list[str]:
    """The words that say the person asked for something, when their reasons ask for no genre and no wish (they
    named a film they liked, or a person): "an action-packed thriller you asked for" to someone who said "I liked
    The Matrix, something similar" can only claim a wish they never made (two templates of a films eval)."""
    from chatbot.turn.notes.facts import clean_reason, reason_value

    kinds = (("reason_genres", "genres"), ("reason_wish", "wish"))
    asks = any(reason_value(key, name, lang, clean_reason(r)) for r in reasons for key, name in kinds
               for lang in ("en", "zh"))
    return [] if asks else list(_ASKING.get(language, ()))


def unasked_claims(text: str, language: str, reasons: Sequence[str], names: Sequence[str] = (),
                   lexicon: QualityLexicon | None = None) -> list[Claim]:
    """The qualities a note says the person asked for ("a war movie you asked for") when none of that phrase's
    qualities is one their reasons ask for, themselves or through a kin quality ("a comedy you asked for" to someone
    who asked for "funny"; "a dark crime thriller you asked for" to someone who asked for a crime film)."""
    lexicon = lexicon or QualityLexicon.served()
    asked = _asked(lexicon, reasons)
    found: list[Claim] = []
    for phrase in asked_phrases(text, language):
        claimed = [c for c in lexicon.claims(phrase, language, names) if not c.negated]
        if claimed and not any(c.quality in asked for c in claimed):
            found += [c for c in claimed if c not in found]
    return found


def _grounds(lexicon: QualityLexicon, name: str) -> set[str]:
    """The facts that support a quality, one genre or one other condition at a time."""
    out: set[str] = set()
    for cond in lexicon.qualities[name].supported_if:
        out |= {f"genre:{g}" for key in ("genres", "genres_all") for g in cond.get(key, ())}
        out |= {repr(sorted((k, str(v)) for k, v in cond.items() if k not in ("genres", "genres_all")))} - {"[]"}
    return out


def _asked(lexicon: QualityLexicon, reasons: Sequence[str]) -> set[str]:
    """The qualities the reasons ask for, and their kin: those a shared fact supports (someone who asked for
    "funny" asked for a comedy: both hold of a Comedy; "War as you asked" asks for a war film), read from the
    lexicon so that every catalog's own qualities have theirs."""
    from chatbot.turn.notes.facts import clean_reason, reason_value

    names = {c.quality for r in reasons for c in lexicon.claims(r, "en") if not c.negated}
    genres = (reason_value("reason_genres", "genres", lang, clean_reason(r)) for r in reasons for lang in ("en", "zh"))
    held = {f"genre:{g.strip()}" for said in genres if said for g in re.split(r"[,、，]", said)}
    held |= set().union(*(_grounds(lexicon, n) for n in names)) if names else set()
    return names | {n for n in lexicon.qualities if _grounds(lexicon, n) & held}


def mood_of_item(text: str, reasons: Sequence[str], sheet: str, names: Sequence[str] = (),
                 lexicon: QualityLexicon | None = None) -> list[str]:
    """The person's own state, said in their reasons ("you asked for: something for two grumpy teenagers"), written
    as the item's ("a grumpy, funny comedy", "无聊的电影"), unless the item's own facts (`sheet`) say it; `names`
    (its title, the liked titles: "like Grumpy Old Men, which you liked") are no one's mood."""
    text = blank_names(text, names)
    found: list[str] = []
    for word in person_states(reasons, sheet, names, lexicon):
        spelled = re.escape(word).replace(r"\ ", r"[\s-]").replace(r"\-", r"[\s-]")
        of_item = re.compile(
            rf"\b{spelled}\b(?:[\s,]+(?:and\s+)?(?!(?:{_PERSON_EN})\b)[\w-]+){{0,2}}?[\s,]+(?:{_ITEM_NOUNS_EN})\b"
            if word.isascii() else rf"{spelled}(?:的)?{_GAP_ZH}(?:{_ITEM_NOUNS_ZH})", re.IGNORECASE)
        if hit := of_item.search(text):
            found.append(hit.group(0))
    return found


def person_states(reasons: Sequence[str], sheet: str = "", names: Sequence[str] = (),
                  lexicon: QualityLexicon | None = None) -> list[str]:
    """The person-state words of the reasons ("grumpy" of "you asked for: grumpy comedy") that are no quality an
    item can have and not on the item's own sheet: what the notes model is kept from writing (`unwritable`)."""
    lexicon = lexicon or QualityLexicon.served()
    quality_words = {w.lower() for q in lexicon.qualities.values() for ws in q.words.values() for w in ws}
    theirs = blank_names(" ".join(reasons), names).lower()
    said = dict.fromkeys(m.group(0) for m in re.finditer(rf"\b(?:{_STATES_EN})\b|{_STATES_ZH}", theirs))
    return [w for w in said if w not in quality_words and w not in sheet.lower()]


def without_person_states(wish: str) -> str:
    """A wish without the person's own state words: "grumpy comedy" (read from "two grumpy teenagers") is a comedy
    to the notes, which otherwise called every film of the answer grumpy and were turned down for it."""
    kept = re.sub(rf"\b(?:{_STATES_EN})\b|{_STATES_ZH}", " ", wish, flags=re.IGNORECASE)
    kept = re.sub(r"\s+", " ", kept).strip(" ,;")
    return kept or wish
