"""What a note is: the request for one, the checked result, the streamed events, and the limits per language."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from retrieval.types import Item

LANGUAGES = ("en", "zh")  # note languages; anything else is written in English
MAX_NOTE_CHARS = {"en": 280, "zh": 200}  # longest note the checker accepts (template notes run long)
LLM_NOTE_CHARS = {"en": 230, "zh": 110}  # longest LLM note (the schema's maxLength: a runaway note stops early)
MIN_NOTE_CHARS = {"en": 50, "zh": 18}  # shortest LLM note (the schema's minLength; ~9 words, ~18 characters)
MAX_SENTENCES = 2
MAX_REASONS = 3  # reasons put on a sheet


@dataclass(frozen=True)
class NoteStyle:
    """How the LLM writes a turn's notes: the prompts, the length bounds per language, the tokens a note may take,
    and whether each note gets a call of its own (its first words come after a prompt of one item, not of all, and
    the 1.5B cannot copy another item's plot or note into it: given five films in one call, it wrote the one
    plot it was shown into four notes)."""

    prompt: str = "notes"  # the films prompt (prompts/<name>.yaml)
    catalog_prompt: str = "notes_catalog"  # the prompt for a catalog described by a schema
    min_chars: tuple[tuple[str, int], ...] = tuple(MIN_NOTE_CHARS.items())
    max_chars: tuple[tuple[str, int], ...] = tuple(LLM_NOTE_CHARS.items())
    tokens: tuple[tuple[str, int], ...] = (("en", 62), ("zh", 96))  # generation budget per note and its key
    per_item: bool = True


# The notes before issue 15 (one call for all, at most 8-10 words each): `tastebud eval notes` scores them beside
# today's notes, in the same run.
BRIEF_STYLE = NoteStyle("notes_brief", "notes_catalog_brief", (("en", 25), ("zh", 10)), (("en", 200), ("zh", 90)),
                        (("en", 56), ("zh", 72)), per_item=False)


def note_language(language: str) -> str:
    """The note language used for a requested language code (en or zh)."""
    code = (language or "en").lower().split("-")[0]
    return code if code in LANGUAGES else "en"


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
    not_asked: int = 0  # notes templated at once: the LLM's speed here showed they would not fit in the budget
    planned_s: float | None = None  # the seconds the notes asked for should take at that speed (None: not known)


SENTENCE_END_EN = re.compile(r"(?<!\b[A-Z])(?<!\bMr)(?<!\bMrs)(?<!\bDr)(?<!\bSt)(?<!\bvs)(?<!\bJr)[.!?]+(?=\s|$)")
SENTENCE_END_ZH = re.compile(r"[。！？!?]+")


def trim_note(text: str, language: str) -> str:
    """The note cut to its first sentences when it is too long (cutting adds nothing untrue; the rest is checked)."""
    ends = SENTENCE_END_ZH if language == "zh" else SENTENCE_END_EN
    cuts = [m.end() for m in ends.finditer(text)]
    if len(cuts) <= MAX_SENTENCES and len(text) <= MAX_NOTE_CHARS[language]:
        return text
    for n in (MAX_SENTENCES, 1):
        if len(cuts) >= n and len(text[: cuts[n - 1]]) <= MAX_NOTE_CHARS[language]:
            return text[: cuts[n - 1]].strip()
    return text


_JSON_TAIL = re.compile(r"[\s\"\u201d']*[}\]][\s\"\u201d'}\]]*$")


def without_json_tail(text: str) -> str:
    """The note without its quotes and what is left of the JSON around it ("…适合全家观看。”}": the 1.5B closed the
    string with a curly quote, so the answer's own "}" ran into the note)."""
    return _JSON_TAIL.sub("", text.strip()).strip().strip('"').strip()


def sentence_drops(text: str, language: str) -> list[str]:
    """The note with one of its sentences taken out, each a candidate when only that sentence failed the checks (taking
    a sentence out adds nothing untrue; what is left is checked again); none for a note of one sentence."""
    ends = SENTENCE_END_ZH if language == "zh" else SENTENCE_END_EN
    cuts = [0] + [m.end() for m in ends.finditer(text)]
    if cuts[-1] < len(text.rstrip()):
        cuts.append(len(text))
    parts = [text[a:b].strip() for a, b in zip(cuts, cuts[1:], strict=False) if text[a:b].strip()]
    glue = "" if language == "zh" else " "
    return [glue.join(parts[:k] + parts[k + 1:]) for k in range(len(parts))] if len(parts) > 1 else []


_ZH_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]*")
_COLON = re.compile(r":\s+(?=[^.!?]*[.!?]*\s*$)")  # a colon in the note's last sentence
_ZH_LEANS_BACK = re.compile("但|不过|却|然而|可是|而且|并且|而|所以|因此|也")  # a clause answering the one before
_ZH_LEANS_ON = re.compile("虽然|虽|尽管|因为|但|不过|却|然而|可是|而且|并且|而|所以|因此|也")  # one of a pair


def clause_drops(text: str, language: str) -> list[str]:
    """A Chinese note with one clause of a sentence taken out ("斯蒂芬妮. 斯皮尔伯格执导的二战史诗片，主角莱昂纳多. 达尼森，
    获得5个奥斯卡奖。" without the lead it made up), each a candidate like `sentence_drops`'s: a Chinese clause stands
    on its own (its subject is the film). In English only what follows the last colon goes, where what is left is a
    sentence with a verb ("Kurt Russell stars in a sci-fi horror film: a tense thriller you asked for.")."""
    if language != "zh":
        colon = list(_COLON.finditer(text))
        head = text[: colon[-1].start()].rstrip(" ,;") if colon else ""
        return [head + "."] if colon and _FINITE_EN.search(_last_sentence_en(head)) else []
    sentences = _ZH_SENTENCE.findall(text)
    out = []
    for s, sentence in enumerate(sentences):
        body = sentence.rstrip("。！？!? ")
        clauses = [c.strip() for c in re.split("[，；]", body)]
        if len(clauses) < 2 or not all(clauses):
            continue
        end = sentence[len(body):].strip() or "。"
        for k in range(len(clauses)):
            if _ZH_LEANS_ON.match(clauses[k]) or k + 1 < len(clauses) and _ZH_LEANS_BACK.match(clauses[k + 1]):
                continue  # "虽然…，但…": a clause leaning on the one before, or the one a "but" answers
            kept = "，".join(clauses[:k] + clauses[k + 1:]) + end
            out.append("".join(sentences[:s]) + kept + "".join(sentences[s + 1:]))
    return out


def _last_sentence_en(text: str) -> str:
    """The last sentence of an English text."""
    cuts = [m.end() for m in SENTENCE_END_EN.finditer(text)]
    return text[cuts[-1]:] if cuts else text


def cut_to_sentence(text: str, language: str) -> str:
    """The text up to its last finished sentence (unchanged when no sentence ends in it)."""
    ends = SENTENCE_END_ZH if language == "zh" else SENTENCE_END_EN
    cuts = [m.end() for m in ends.finditer(text)]
    return text[: cuts[-1]].strip() if cuts else text


_CLAUSE_BREAK = {"en": re.compile(r",\s+|;\s+|\s+[—–-]\s+"), "zh": re.compile(r"[，；]")}
# a finite verb: what makes a clause a sentence ("Made with X, Y and Z" is none; "the cake is rich" is one)
_FINITE_EN = re.compile(r"\b(?:is|are|was|were|makes|make|brings?|gives?|offers?|turns?|comes?|combines?|pairs?|has|"
                        r"have|takes?|serves?|needs?|uses?|blends?|adds?|fills?|tastes?|feels?|warms?|keeps?|lets?|"
                        r"cooks?|bakes?|wraps?|tops?|meets?|stars?|plays?|follows?|directs?|voices?|tells?)\b",
                        re.IGNORECASE)


def cut_to_clause(text: str, language: str, long_enough: Callable[[str], bool]) -> str:
    """A note the length limit stopped inside its one sentence, ended at its last clause break instead ("..., Mexican
    Chocolate Cake is a rich birthday treat, perfect for" -> "... a rich birthday treat."): what is kept was
    written as it stands and is checked again; unchanged when no break leaves a sentence long enough (in English,
    one with a verb of its own)."""
    for m in reversed(list(_CLAUSE_BREAK[language].finditer(text))):
        head = text[: m.start()].rstrip(" ,;，；")
        if not long_enough(head):
            break
        if language == "zh" or _FINITE_EN.search(head):
            return head + ("。" if language == "zh" else ".")
    return text

