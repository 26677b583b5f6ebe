"""`tastebud eval notes`: the notes of real answers, scored by code, beside the brief notes and the templates.

A fixed set of conversations per catalog (`notes_requests.yaml` for films, `notes_requests_recipes.yaml` for
recipes; English and Chinese, with and without liked items, companions, weather, time, refinements) runs through
the real agent (`harness.open_agent` over the data dir, on the catalog asked for). A recording copywriter keeps
what each answer asked the notes step for, so the baselines write notes for exactly the same items and reasons:
the brief writer (`brief_copywriter`, the 8-word notes before issue 15) and the template notes
(`templates.template_note`, what the writer falls back to; no LLM). Every note is scored with the code the note
checker uses (`chatbot.turn.notes.measures`, `qualities`): its length (words; Chinese: characters), whether it
names a fact of its own item (specificity), the qualities it claims that its facts do not support (and an Oscar
count not its sheet's), words of the
wrong language, whether the LLM wrote it; every answer, whether two of its notes share a skeleton (a word 4-gram
once names and titles are removed); and the time from the message to the first words of the first note and to
the last note (the baselines: the agent's time to its cards plus their own notes step, on the same requests).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatbot.config import Settings
from retrieval.errors import TastebudError

REQUESTS_FILES = {"films": "notes_requests.yaml", "recipes": "notes_requests_recipes.yaml"}  # catalog -> requests
CATALOGS = tuple(REQUESTS_FILES)
SYSTEMS = ("notes", "brief", "templates")  # the notes scored: today's writer, the brief baseline, templates
GOALS = {"unsupported": 0, "min_notes": 200, "specific": 0.90, "shared_skeleton": 0.05, "llm_written": 0.95,
         "first_words_p50_s": 2.5, "last_note_p50_s": 10.0}


@dataclass(frozen=True)
class Conversation:
    """One scripted conversation: its id and its messages (every turn that answers with cards is scored)."""

    id: str
    turns: tuple[str, ...]


@dataclass
class AnswerRecord:
    """The notes of one answer by one system, with its timings (seconds from the message)."""

    conversation: str
    turn: int
    language: str
    system: str
    items: list[Any]  # Item
    reasons: list[tuple[str, ...]]
    notes: list[str]
    sources: list[str]
    first_words_s: float | None = None
    last_note_s: float | None = None
    problems: list[tuple[str, ...]] = field(default_factory=list)  # why earlier drafts were rejected, per note
    scores: list[dict[str, Any]] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)


def load_conversations(catalog: str = "films") -> list[Conversation]:
    """The fixed requests of a catalog (films or recipes)."""
    from prompts import load_data

    if catalog not in REQUESTS_FILES:
        raise TastebudError(f"`tastebud eval notes --catalog {catalog}`: there are notes requests for "
                            f"{', '.join(CATALOGS)} only (chatbot/evaluation/notes_requests*.yaml)")
    name = REQUESTS_FILES[catalog]
    raw = load_data("chatbot.evaluation", name)
    if not isinstance(raw, dict) or raw.get("catalog") != catalog or not isinstance(raw.get("requests"), list):
        raise TastebudError(f"chatbot/evaluation/{name}: expected `catalog: {catalog}` and a `requests` list")
    return [Conversation(str(r["id"]), tuple(r["turns"])) for r in raw["requests"]]


class RecordingCopywriter:
    """The agent's copywriter, passed through, keeping what each notes step was asked and what it gave."""

    def __init__(self, inner: Any) -> None:
        """Wrap the agent's copywriter."""
        self.__dict__["inner"] = inner
        self.asked: list[tuple[list[Any], str]] = []  # (NoteRequests, language) of each notes step
        self.notes: list[dict[int, Any]] = []  # position -> final Note, per notes step

    def __getattr__(self, name: str) -> Any:
        """Everything else is the wrapped copywriter's."""
        return getattr(self.__dict__["inner"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        """Parts the agent sets (its LLM gate) go to the wrapped copywriter; the record stays here."""
        if name in ("asked", "notes"):
            self.__dict__[name] = value
        else:
            setattr(self.__dict__["inner"], name, value)

    def write_notes_stream(self, requests: Sequence[Any], language: str = "en") -> Iterator[Any]:
        """The wrapped notes step, recorded."""
        from chatbot.turn.notes.note import NoteDone

        self.asked.append((list(requests), language))
        finals: dict[int, Any] = {}
        self.notes.append(finals)
        for event in self.inner.write_notes_stream(requests, language):
            if isinstance(event, NoteDone):
                finals[event.position] = event.note
            yield event


def _agent_turn(agent: Any, session: str | None, message: str) -> tuple[dict[str, Any], dict[str, float]]:
    """Run one turn through `Agent.respond`: the done event's data and when cards, first words and last note came."""
    from chatbot.turn.events import NoteDelta, NoteFinal

    started = time.monotonic()
    times: dict[str, float] = {}
    done: dict[str, Any] = {}
    for event in agent.respond(session, message):
        now = round(time.monotonic() - started, 3)
        if event.kind == "items":
            times.setdefault("cards", now)
        elif isinstance(event.payload, NoteDelta):
            times.setdefault("first_words", now)
        elif isinstance(event.payload, NoteFinal):
            times.setdefault("first_final", now)
            times["last_note"] = now
        elif event.kind == "done":
            done = event.data
    times["reply"] = round(time.monotonic() - started, 3)
    return done, times


def _baseline_notes(writer: Any, requests: list[Any], language: str, cards_s: float
                    ) -> tuple[list[Any], float | None, float | None]:
    """A baseline writer's notes for the same requests, timed from the message (cards time + its own step)."""
    from chatbot.turn.notes.note import NoteDelta, NoteDone

    started = time.monotonic()
    first = last = None
    finals: dict[int, Any] = {}
    for event in writer.write_notes_stream(requests, language):
        now = time.monotonic() - started
        if isinstance(event, NoteDelta) and first is None:
            first = now
        elif isinstance(event, NoteDone):
            finals[event.position] = event.note
            first = now if first is None else first
            last = now
    notes = [finals[i] for i in range(len(requests))]
    return notes, None if first is None else round(cards_s + first, 3), None if last is None else round(cards_s + last, 3)


BRIEF_BUDGET_S = 8.0  # the notes step's budget before issue 15


def brief_copywriter(copywriter: Any, models: dict[str, Any] | None = None) -> Any:
    """The notes before issue 15 (BRIEF_STYLE: one call, 8-10 words, 8 s budget) over the same model and catalog
    (or `models` per language): the baseline `tastebud eval notes` scores in the same run."""
    from chatbot.turn.notes.note import BRIEF_STYLE
    from chatbot.turn.notes.writer import Copywriter

    models = models or {}
    brief = Copywriter(models.get("en", copywriter.llm), copywriter.lexicon, timeout_s=copywriter.timeout_s,
                       retry=copywriter.retry, batch=True, budget_s=BRIEF_BUDGET_S, style=BRIEF_STYLE,
                       by_language=models)
    brief.gate = copywriter.gate
    return brief


def brief_writer(copywriter: Any, settings: Settings) -> Any:
    """The baseline: the brief (8-word) notes over the agent's notes model, in llama.cpp contexts of their own (on
    the agent's notes contexts each brief call would push out the notes prompt's pre-read prefix)."""
    from chatbot.llm import make_notes_model

    if copywriter.llm is None or not copywriter.by_language:  # no LLM, or an injected model (tests)
        return brief_copywriter(copywriter)
    models = {lang: make_notes_model(settings, copywriter.llm, lang, purpose="brief") for lang in ("en", "zh")}
    return brief_copywriter(copywriter, models)


def catalog_settings(settings: Settings, catalog: str) -> Settings:
    """The settings with the catalog to serve changed (a copy; the same settings when it is already that one)."""
    return settings if settings.catalog == catalog else settings.model_copy(update={"catalog": catalog})


def run_notes_eval(settings: Settings, catalog: str = "films", baseline: bool = True, limit: int | None = None,
                   progress: bool = True, only: Sequence[str] = ()) -> dict[str, Any]:
    """Run the fixed requests (`only`: these conversation ids) through the real agent and score the notes of every
    system; the report dict."""
    from tqdm import tqdm

    from chatbot.evaluation.harness import derive_agent, open_agent

    conversations = [c for c in load_conversations(catalog) if not only or c.id in only][:limit]
    settings = catalog_settings(settings, catalog)
    base = open_agent(settings)
    recorder = RecordingCopywriter(base.copywriter)
    agent = derive_agent(base, copywriter=recorder)
    brief = brief_writer(base.copywriter, settings) if baseline else None
    skipped: dict[str, str] = {}
    started = time.monotonic()
    warm_s = round(agent.warm_up(), 3) if hasattr(agent, "warm_up") else None
    records: list[AnswerRecord] = []
    turns = answered = 0
    for conv in tqdm(conversations, desc=f"notes eval ({catalog})", disable=not progress):
        session = None
        for n, message in enumerate(conv.turns):
            steps = len(recorder.asked)
            done, times = _agent_turn(agent, session, message)
            session = done.get("session_id", session)
            turns += 1
            if len(recorder.asked) == steps or not done.get("items"):
                continue  # no cards, no notes (a question, nothing found, an error)
            answered += 1
            requests, language = recorder.asked[-1]
            if len(recorder.notes[-1]) < len(requests):  # the notes step ended early (an error said to the person)
                skipped[f"{conv.id} turn {n}"] = "the notes step ended before every card had its note"
                continue
            records += _answer_records(conv.id, n, requests, language, recorder.notes[-1], times, brief, baseline)
    report = score_records(records, scoring_lexicon())  # the agent has set the catalog this process serves
    report.update(catalog=catalog, conversations=len(conversations), turns=turns, answers_with_cards=answered,
                  baseline=baseline, skipped=skipped, warm_up_s=warm_s, run_s=round(time.monotonic() - started, 1),
                  settings=_settings_shown(settings))
    return report


def _answer_records(conv: str, turn: int, requests: list[Any], language: str, finals: dict[int, Any],
                    times: dict[str, float], brief: Any | None, baseline: bool) -> list[AnswerRecord]:
    """The records of one answer: today's notes, and (with baselines) the brief notes and the templates."""
    from chatbot.turn.notes.note import note_language

    lang = note_language(language)
    items = [r.item for r in requests]
    reasons = [tuple(r.reasons) for r in requests]
    notes = [finals[i] for i in range(len(requests))]
    out = [AnswerRecord(conv, turn, lang, "notes", items, reasons, [x.text for x in notes], [x.source for x in notes],
                        times.get("first_words", times.get("first_final")), times.get("last_note"),
                        [x.problems for x in notes])]
    cards = times.get("cards", 0.0)
    if brief is not None:
        old, first, last = _baseline_notes(brief, requests, lang, cards)
        out.append(AnswerRecord(conv, turn, lang, "brief", items, reasons, [x.text for x in old],
                                [x.source for x in old], first, last, [x.problems for x in old]))
    if baseline:
        texts, seconds = _template_notes(requests, lang)
        out.append(AnswerRecord(conv, turn, lang, "templates", items, reasons, texts, ["template"] * len(items),
                                round(cards + seconds, 3), round(cards + seconds, 3)))
    return out


def _template_notes(requests: list[Any], language: str) -> tuple[list[str], float]:
    """The template notes of an answer, as the writer falls back to them (`template_note`, the sheet's reasons),
    and the seconds they took."""
    from chatbot.turn.notes.note import MAX_REASONS
    from chatbot.turn.notes.templates import template_note

    started = time.monotonic()
    texts: list[str] = []
    for k, r in enumerate(requests):
        written = list(zip(texts, [q.item for q in requests]))
        texts.append(template_note(r.item, tuple(r.reasons)[:MAX_REASONS], language, k, written))
    return texts, time.monotonic() - started


def scoring_lexicon() -> Any:
    """The quality lexicon of the catalog this process serves (the one the note checker uses)."""
    from chatbot.turn.notes.qualities import QualityLexicon

    return QualityLexicon.served()


def reason_names(reasons: Sequence[str]) -> list[str]:
    """The names the reasons carry (the liked titles, in English or Chinese reasons), as the checker reads them."""
    from chatbot.turn.notes.facts import liked_titles

    return liked_titles(reasons)


def score_answer(record: AnswerRecord, lexicon: Any | None = None) -> AnswerRecord:
    """Score every note of an answer, and the answer's shared skeletons (in place; returns it)."""
    from chatbot.llm.distinct import words_said_twice
    from chatbot.turn.notes.awards import wrong_oscar_counts
    from chatbot.turn.notes.facts import sheet_text
    from chatbot.turn.notes.person_words import mood_of_item, unasked_claims
    from chatbot.turn.notes.measures import (could_be_specific, foreign_foods, foreign_words, length_in_range,
                                             note_length, note_names, shared_skeleton, skeleton_grams, specific_facts)

    lexicon = lexicon or scoring_lexicon()
    lang = record.language
    grams = []
    record.scores = []
    for item, reasons, text in zip(record.items, record.reasons, record.notes):
        extra = reason_names(reasons)
        names = note_names(item, extra)
        grams.append(skeleton_grams(text, lang, names))
        record.scores.append({
            "length": note_length(text, lang),
            "in_range": length_in_range(text, lang),
            "specific": specific_facts(text, item, record.items, lang, lexicon),
            "sheet_has_facts": could_be_specific(item),
            "unsupported": [f"{'not ' if c.negated else ''}{c.quality} ({c.words})"
                            for c in lexicon.unsupported(text, item, lang, names)]
            + [f"food not in it ({food})" for food in foreign_foods(text, item, lang, reasons)]
            + [f"not asked ({c.words})" for c in unasked_claims(text, lang, reasons, names, lexicon)]
            + [f"their mood ({m})" for m in mood_of_item(text, reasons, sheet_text(item), names, lexicon)]
            + [f"Oscar count ({said})" for said in wrong_oscar_counts(text, item)],  # "获得5个奥斯卡奖" of a 7
            "foreign_words": foreign_words(text, lang, item, extra),
            "repeats": words_said_twice(text, names),  # "a cozy, funny, cozy story for a cozy heart"
        })
    record.shared = sorted({g for k, own in enumerate(grams)
                            for g in shared_skeleton(own, [o for j, o in enumerate(grams) if j != k])})
    return record


def _p(values: list[float], q: float) -> float | None:
    """The q-quantile of the values (None when empty)."""
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, round(q * (len(values) - 1)))], 3)


def _share(count: int, total: int) -> float | None:
    """count / total to three places (None when there is nothing to count)."""
    return round(count / total, 3) if total else None


def summarize(records: list[AnswerRecord]) -> dict[str, Any]:
    """The figures of one system over its answers."""
    scores = [s for r in records for s in r.scores]
    sources = [x for r in records for x in r.sources]
    n = len(scores)
    nameable = [s for s in scores if s.get("sheet_has_facts", True)]  # a person, plot, award or schema field
    by_lang = {}
    for lang in ("en", "zh"):
        lengths = [s["length"] for r in records if r.language == lang for s in r.scores]
        by_lang[lang] = {"notes": len(lengths), "median_length": statistics.median(lengths) if lengths else None,
                         "unit": "characters" if lang == "zh" else "words"}
    first = [r.first_words_s for r in records if r.first_words_s is not None]
    last = [r.last_note_s for r in records if r.last_note_s is not None]
    return {
        "answers": len(records), "notes": n,
        "unsupported_claims": sum(len(s["unsupported"]) for s in scores),
        "notes_with_unsupported": sum(bool(s["unsupported"]) for s in scores),
        "specific": _share(sum(bool(s["specific"]) for s in scores), n),
        "sheet_has_facts": _share(len(nameable), n),
        "specific_where_sheet_has_facts": _share(sum(bool(s["specific"]) for s in nameable), len(nameable)),
        "in_length_range": _share(sum(s["in_range"] for s in scores), n),
        "shared_skeleton_answers": _share(sum(bool(r.shared) for r in records), len(records)),
        "wrong_language_notes": sum(bool(s["foreign_words"]) for s in scores),
        "repeating_a_word": _share(sum(bool(s.get("repeats")) for s in scores), n),
        "llm_written": _share(sum(x != "template" for x in sources), len(sources)),
        "by_language": by_lang,
        "first_words_s": {"p50": _p(first, 0.5), "p95": _p(first, 0.95)},
        "last_note_s": {"p50": _p(last, 0.5), "p95": _p(last, 0.95)},
    }


def score_records(records: list[AnswerRecord], lexicon: Any | None = None) -> dict[str, Any]:
    """Score every answer; the report: figures per system, goals for today's notes, every note."""
    lexicon = lexicon or scoring_lexicon()
    for record in records:
        score_answer(record, lexicon)
    systems = {s: summarize([r for r in records if r.system == s]) for s in SYSTEMS
               if any(r.system == s for r in records)}
    answers = [{"conversation": r.conversation, "turn": r.turn, "language": r.language, "system": r.system,
                "first_words_s": r.first_words_s, "last_note_s": r.last_note_s, "shared": r.shared,
                "notes": [{"title": i.title, "text": t, "source": src, **sc, "problems": list(pr)}
                          for i, t, src, sc, pr in zip(r.items, r.notes, r.sources, r.scores,
                                                        r.problems or [()] * len(r.notes))]}
               for r in records]
    return {"systems": systems, "goals": check_goals(systems.get("notes", {})), "answers": answers}


def check_goals(figures: dict[str, Any]) -> dict[str, Any]:
    """Each goal of issue 15 for today's notes: the figure, the goal, met or not."""
    from chatbot.turn.notes.measures import NOTE_LENGTH

    if not figures:
        return {}
    medians = {lang: v["median_length"] for lang, v in figures["by_language"].items()}
    in_range = all(m is None or NOTE_LENGTH[lang][0] <= m <= NOTE_LENGTH[lang][1] for lang, m in medians.items())
    first, last = figures["first_words_s"]["p50"], figures["last_note_s"]["p50"]
    rows = {
        "unsupported_claims": (f"{figures['unsupported_claims']} in {figures['notes']} notes",
                               f"0 in >= {GOALS['min_notes']}",
                               figures["unsupported_claims"] == 0 and figures["notes"] >= GOALS["min_notes"]),
        "specific": (figures["specific"], GOALS["specific"], (figures["specific"] or 0) >= GOALS["specific"]),
        "shared_skeleton_answers": (figures["shared_skeleton_answers"], GOALS["shared_skeleton"],
                                    (figures["shared_skeleton_answers"] or 0) <= GOALS["shared_skeleton"]),
        "median_length_in_range": (medians, {k: list(v) for k, v in NOTE_LENGTH.items()}, in_range),
        "llm_written": (figures["llm_written"], GOALS["llm_written"],
                        (figures["llm_written"] or 0) >= GOALS["llm_written"]),
        "first_words_p50_s": (first, GOALS["first_words_p50_s"], first is not None
                              and first <= GOALS["first_words_p50_s"]),
        "last_note_p50_s": (last, GOALS["last_note_p50_s"], last is not None and last <= GOALS["last_note_p50_s"]),
    }
    return {k: {"value": v, "goal": g, "met": bool(m)} for k, (v, g, m) in rows.items()}


def _settings_shown(settings: Settings) -> dict[str, Any]:
    """The settings that shape the figures."""
    from chatbot.llm import notes_backend

    return {"catalog": settings.catalog, "llm": settings.llm, "notes_llm": notes_backend(settings),
            "llm_runtime": settings.llm_runtime, "llm_slots": settings.llm_slots, "threads": settings.threads,
            "notes_budget_s": settings.notes_budget_s, "notes_retry": settings.notes_retry}


def _cell(value: Any, percent: bool = False) -> str:
    """A table cell: a share as a percentage, a missing figure as a dash."""
    if value is None:
        return "–"
    return f"{value:.0%}" if percent else str(value)


_ROWS = (
    ("answers / notes", lambda f: f"{f['answers']} / {f['notes']}"),
    ("unsupported claims (notes)", lambda f: f"{f['unsupported_claims']} ({f['notes_with_unsupported']})"),
    ("specific", lambda f: _cell(f["specific"], True)),
    ("specific, items whose sheet names something (share)",
     lambda f: f"{_cell(f['specific_where_sheet_has_facts'], True)} ({_cell(f['sheet_has_facts'], True)})"),
    ("answers with a shared skeleton", lambda f: _cell(f["shared_skeleton_answers"], True)),
    ("median length en (words)", lambda f: _cell(f["by_language"]["en"]["median_length"])),
    ("median length zh (characters)", lambda f: _cell(f["by_language"]["zh"]["median_length"])),
    ("in length range", lambda f: _cell(f["in_length_range"], True)),
    ("wrong-language notes", lambda f: str(f["wrong_language_notes"])),
    ("notes saying a word twice", lambda f: _cell(f.get("repeating_a_word"), True)),
    ("LLM-written", lambda f: _cell(f["llm_written"], True)),
    ("first note words p50 / p95 (s)",
     lambda f: f"{_cell(f['first_words_s']['p50'])} / {_cell(f['first_words_s']['p95'])}"),
    ("last note p50 / p95 (s)", lambda f: f"{_cell(f['last_note_s']['p50'])} / {_cell(f['last_note_s']['p95'])}"),
)


def format_notes_table(report: dict[str, Any]) -> str:
    """The figures per system as a markdown table, then the goals and any system skipped."""
    systems = list(report["systems"])
    lines = [f"notes eval, catalog {report.get('catalog', 'films')}", "",
             "| | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for label, cell in _ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(report["systems"][s]) for s in systems) + " |")
    lines.append("")
    for name, goal in report.get("goals", {}).items():
        lines.append(f"{'met   ' if goal['met'] else 'MISSED'} {name}: {goal['value']} (goal {goal['goal']})")
    for system, why in (report.get("skipped") or {}).items():
        lines.append(f"skipped {system}: {why}")
    return "\n".join(lines)


def write_report(report: dict[str, Any], data_dir: Path) -> tuple[Path, Path]:
    """The report as JSON and a PNG of the figures per system, in the data dir's reports folder."""
    import json

    out = Path(data_dir) / "reports"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"notes-eval-{report.get('catalog', 'films')}"
    path = out / f"{stem}.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return path, plot_notes_report(report, out / f"{stem}.png")


def plot_notes_report(report: dict[str, Any], path: Path) -> Path:
    """Bars per system: the share-type figures on the left, the timings on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(report["systems"])
    figs = report["systems"]
    shares = [("specific", "specific"), ("shared skeleton", "shared_skeleton_answers"), ("in length range",
              "in_length_range"), ("a word twice", "repeating_a_word"), ("LLM-written", "llm_written")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / max(len(systems), 1)
    for k, system in enumerate(systems):
        left.bar([i + k * width for i in range(len(shares))], [figs[system][key] or 0 for _, key in shares], width,
                 label=system)
        times = [figs[system]["first_words_s"]["p50"] or 0, figs[system]["last_note_s"]["p50"] or 0]
        right.bar([i + k * width for i in range(2)], times, width, label=system)
    middle = width * (len(systems) - 1) / 2
    left.set_xticks([i + middle for i in range(len(shares))], [label for label, _ in shares])
    left.set_ylim(0, 1.05)
    left.set_title(f"notes ({report.get('catalog', 'films')}); unsupported claims: " + ", ".join(
        f"{s} {figs[s]['unsupported_claims']}" for s in systems))
    right.set_xticks([middle, 1 + middle], ["first note words p50 (s)", "last note p50 (s)"])
    right.axhline(GOALS["first_words_p50_s"], color="grey", linestyle=":", linewidth=1)
    right.axhline(GOALS["last_note_p50_s"], color="grey", linestyle="--", linewidth=1)
    right.set_title("time from the message (goals dotted / dashed)")
    if systems:
        left.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
