"""Answers written side by side that must not read alike: what an answer may not write next because another answer
of the same batch already wrote it after the same words.

Five notes of one answer, written at once from five similar prompts, came out in one shape ("<name> directs a
family-friendly adventure film: the kind of film you asked for."), which no prompt wording stopped. While they are
written, each answer's last three words (Chinese: its last five characters) are looked up in the others; where
another answer continued them, that continuation is what this one may not write next. So no two answers share a run
of four words (six characters): the "shared skeleton" measure of `tastebud eval notes`. Numbers and the items' own
names (titles, people, facts, passed as `blank`) are left out on both sides, as whole phrases, by the function that
measure blanks them with (`chatbot.text.names.name_spans`): "The War" is blanked, the "war" of "a war film" is read.
Chinese notes are read by their characters alone, their own names blanked first, as names in Latin letters are blanked
there too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from chatbot.text.names import name_spans

SAME_WORDS = 3  # an answer may not continue three words as another did (no shared word 4-gram)
SAME_CHARS = 5  # Chinese: five characters (no shared run of six)
_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f']+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_PUNCT = " ，、；：。！？,;:.!?·（）()“”\"'—-"


@functools.lru_cache(maxsize=512)
def _unnamed(text: str, blank: frozenset[str]) -> str:
    """The text with its `blank` names (phrases) turned to spaces of their length, so spans stay the text's."""
    for start, end in name_spans(text, blank) if blank else ():
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def _words(text: str, blank: frozenset[str] = frozenset()) -> list[tuple[str, int, int]]:
    """The lower-case words of a text with their spans, numbers and `blank` names (the items' titles, people and
    facts: "soup", "The War") left out, as the measure reads them: "in 20 minutes, perfect" and "in 45 minutes,
    perfect" read alike, and so do "a Sci-Fi comedy" and "a sci-fi adventure"."""
    return [(m.group(0).lower(), m.start(), m.end()) for m in _WORD.finditer(_unnamed(text, blank))
            if not m.group(0).isdigit()]


def _cjk_continuations(chars: str, others: Sequence[str], others_blank: Sequence[frozenset[str]]) -> list[str]:
    """Chinese: for each run of the last 1-5 characters another text has, the characters it went on with up to a
    shared run of six (with any punctuation between them as written): a token that begins with them would complete
    the run in one step ("观看" after "适合全家"), so the token-by-token check of the last five alone is not enough."""
    out: list[str] = []
    for other, blank in zip(others, others_blank):
        spots = [(m.start(), m.group(0)) for m in _CJK.finditer(_unnamed(other, blank))]  # "奥斯卡" is a name
        run = "".join(ch for _, ch in spots)
        for k in range(min(SAME_CHARS, len(chars)), 0, -1):
            tail, need = chars[-k:], SAME_CHARS + 1 - k
            for i in (i for i in range(len(run) - k - need + 1) if run.startswith(tail, i)):
                after, start, end = spots[i + k - 1][0] + 1, spots[i + k][0], spots[i + k + need - 1][0] + 1
                out += [other[start:end], other[after:end], " " + other[start:end]]  # "，由"; " 相似" after a name
    return list(dict.fromkeys(out))


def echo_continuations(text: str, others: Sequence[str], blank: Iterable[str] = (),
                       others_blank: Sequence[Iterable[str]] | None = None) -> list[str]:
    """What `text` may not write next: each way another text went on after the words `text` ends with (" friendly",
    "-friendly"; Chinese: what would complete a shared run of six characters, "看" or "观看"); empty when `text` is
    mid-word or no other text has its last words. `blank`: names read as blanks, whole phrases (each item's own
    title, people and facts: "a delicious dessert that's" and "a delicious cobbler that's" read alike); `others_blank`:
    each other text's own (default `blank`), as the measure blanks each note's own names only ("good" of "As Good as
    It Gets" is a word of another film's note)."""
    if not text or not others:
        return []
    blank = frozenset(blank)
    theirs = [frozenset(b) for b in others_blank or ()][: len(others)]
    theirs += [blank] * (len(others) - len(theirs))
    if _CJK.search(text):  # a Chinese note: "是一部动画，" and "和你喜欢的 The Matrix " go on from their characters
        return _cjk_continuations("".join(_CJK.findall(_unnamed(text, blank))), others, theirs)
    words_end = text.rstrip(_PUNCT)
    if text[-1] == "'" or not words_end:
        return []  # "that'" is still being written: wait for its end
    out: list[str] = []
    own = [w for w, _, _ in _words(words_end, blank)]
    tail = own[-SAME_WORDS:]
    if len(tail) < SAME_WORDS:  # a name, number or blank word last is passed over as the measure does
        return []
    after_gap = words_end != text  # "in 20 minutes," then " perfect": the next word, however it was led in
    for other, other_blank in zip(others, theirs):
        spans = _words(other, other_blank)
        words = [w for w, _, _ in spans]
        for i in range(len(words) - SAME_WORDS):
            if words[i : i + SAME_WORDS] == tail:
                nxt, start, _ = spans[i + SAME_WORDS]
                sep = other[spans[i + SAME_WORDS - 1][2] : start]
                leads = ("", " ") if after_gap else (" ", "-")
                out += [f"{s}{w}" for w in (nxt, nxt.capitalize()) for s in leads]  # "crime Drama" too
                out += [sep + nxt] if sep.strip(" ") and not after_gap and not _WORD.search(sep) else []
    return list(dict.fromkeys(out))


# A word said twice in one short note is padding ("a cozy, funny, cozy story for a cozy heart", "适合你想要的浪漫感觉"
# after "浪漫喜剧"; 45 of 216 English and 25 of 79 Chinese notes of the films eval, session 37): a note may say each
# word once. English: words of four letters or more, but these (a note may say "film" twice); Chinese: each two
# characters neither of which is one of these (a note may say "一部" or "你想要" twice).
_FREE_WORDS = frozenset("film films movie movies story with that this from about into your yours their them they what "
                        "when where which while will would also more most than then there these those have been "
                        "were just like only over very some such each both even much".split())
_FREE_CHARS = frozenset("的了是和与在也很更为把被让对给从以及而并或就都又还着过这那你我他她它们个一部片会要想看得地之其所有")
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")


def _said(text: str, blank: frozenset[str]) -> list[str]:
    """Every word of a note that a note may say only once, in order, each time it is said (its own names left out;
    an English word still being written is not yet said)."""
    if _CJK.search(text):
        runs = _HAN_RUN.findall(_unnamed(text, blank))
        return [run[i:i + 2] for run in runs for i in range(len(run) - 1)
                if run[i] not in _FREE_CHARS and run[i + 1] not in _FREE_CHARS]
    words = _words(text, blank)
    if words and words[-1][2] == len(text):
        words = words[:-1]  # "thrill" may be the start of "thrilling"
    return [w for w, _, _ in words if len(w) >= 4 and w not in _FREE_WORDS and w.isalpha()]


def said_words(text: str, blank: Iterable[str] = ()) -> list[str]:
    """The words a note being written has said and may not say again (English words, Chinese pairs of characters)."""
    return list(dict.fromkeys(_said(text, frozenset(blank))))


def words_said_twice(text: str, blank: Iterable[str] = ()) -> list[str]:
    """The words a note says more than once (what `said_words` keeps a note from), for `tastebud eval notes` (the
    checker's `patterns.said_twice` finds a four-word run said twice, a repeated thought)."""
    said = _said(text, frozenset(blank))
    return sorted({w for w in said if said.count(w) > 1})
