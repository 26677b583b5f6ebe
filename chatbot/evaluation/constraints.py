"""The constraint test set (tests/understanding/constraints.yaml) through the real agent: each case's turns are said
in a new conversation, and the hard filters of the dialogue state after the last turn must equal the expected
ones exactly (lists as sets, an absent key unset); a case marked `notice` must also say so in the last reply.
Accuracy is reported per language and per topic (the middle of the case id: en-runtime-003 -> runtime).

    tastebud constraints-test tests/understanding/constraints.yaml [--llm NAME] [--understand-llm always] [--json]
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from retrieval.errors import TastebudError

if TYPE_CHECKING:
    from chatbot.turn.agent import Agent

COMPARED: tuple[str, ...] = ("runtime_min", "runtime_max", "year_min", "year_max", "max_age_rating", "genres_none",
                             "people_none", "people", "genres_any")
NOTICE_KEYS = {"contradiction": "bound_contradiction", "absurd": "bound_absurd"}  # notice -> its replies.yaml key


class _Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runtime_min: int | None = None
    runtime_max: int | None = None
    year_min: int | None = None
    year_max: int | None = None
    max_age_rating: str | None = None
    genres_none: list[str] = Field(default_factory=list)
    people_none: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    genres_any: list[str] = Field(default_factory=list)


class ConstraintCase(BaseModel):
    """One phrasing: the turns a person types and the filters expected after the last one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    lang: Literal["en", "zh"]
    turns: list[str] = Field(min_length=1)
    expect: _Expect
    notice: Literal["contradiction", "absurd"] | None = None

    @property
    def topic(self) -> str:
        """The case's topic, from its id ("en-runtime-003" -> "runtime")."""
        parts = self.id.split("-")
        return "-".join(parts[1:-1]) if len(parts) > 2 else self.id


class _CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    newest_year: int
    cases: list[ConstraintCase]


@dataclass(frozen=True)
class CaseOutcome:
    """What one case got: the compared filters, whether the notice was said, and every difference."""

    case: ConstraintCase
    got: dict[str, Any]
    reply: str
    problems: tuple[str, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        """True when every compared filter and the notice are as expected."""
        return not self.problems


@dataclass
class ConstraintReport:
    """Every case's outcome, with accuracy per language and per topic."""

    outcomes: list[CaseOutcome] = field(default_factory=list)

    def accuracy(self, lang: str | None = None, topic: str | None = None) -> float:
        """Share of cases passed (optionally of one language or topic)."""
        picked = [o for o in self.outcomes if (lang is None or o.case.lang == lang)
                  and (topic is None or o.case.topic == topic)]
        return sum(o.passed for o in picked) / len(picked) if picked else 1.0

    def to_dict(self) -> dict[str, Any]:
        """The figures and every failure, JSON-ready."""
        by: dict[str, dict[str, list[bool]]] = {"language": defaultdict(list), "topic": defaultdict(list)}
        for o in self.outcomes:
            by["language"][o.case.lang].append(o.passed)
            by["topic"][f"{o.case.lang}-{o.case.topic}"].append(o.passed)
        table = {k: {name: {"cases": len(v), "passed": sum(v), "accuracy": round(sum(v) / len(v), 4)}
                     for name, v in sorted(groups.items())} for k, groups in by.items()}
        return {"cases": len(self.outcomes), "passed": sum(o.passed for o in self.outcomes),
                "accuracy": round(self.accuracy(), 4), "by_language": table["language"], "by_topic": table["topic"],
                "seconds_per_case": round(sum(o.seconds for o in self.outcomes) / max(1, len(self.outcomes)), 3),
                "failures": [{"id": o.case.id, "turns": o.case.turns, "problems": list(o.problems), "got": o.got}
                             for o in self.outcomes if not o.passed]}

    def lines(self) -> list[str]:
        """The figures and the failures, for people."""
        d = self.to_dict()
        out = [f"constraints: {d['passed']}/{d['cases']} read exactly ({d['accuracy']:.1%})"]
        out += [f"  {lang}: {v['passed']}/{v['cases']} ({v['accuracy']:.1%})" for lang, v in d["by_language"].items()]
        out += [f"    {t}: {v['passed']}/{v['cases']}" for t, v in d["by_topic"].items()]
        for f in d["failures"]:
            out.append(f"FAIL {f['id']}: {' / '.join(f['turns'])}")
            out += [f"    - {p}" for p in f["problems"]]
        return out


def load_cases(path: Path | str) -> tuple[int, list[ConstraintCase]]:
    """The newest catalog year the cases assume and the cases (TastebudError names a malformed file)."""
    from prompts import load_data

    try:
        data = _CaseFile.model_validate(load_data("tests", Path(path).name, path))
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"])
        raise TastebudError(f"{path}: malformed at {at}: {first['msg']}") from exc
    return data.newest_year, data.cases


def state_filters(agent: Agent, session_id: str) -> dict[str, Any]:
    """The compared hard filters of a conversation's state (not the context rules', not the excluded items)."""
    from chatbot.turn.recommend import describe_filters
    from chatbot.turn.state import filters_for

    shown = describe_filters(filters_for(agent.load_state(session_id)))
    return {k: v for k, v in shown.items() if k in COMPARED}


def compare(case: ConstraintCase, got: dict[str, Any], reply: str) -> list[str]:
    """Every way the filters (and the reply, for a notice) differ from what the case expects."""
    problems = []
    want = case.expect.model_dump()
    for key in COMPARED:
        expected, have = want.get(key), got.get(key)
        if isinstance(expected, list):
            if set(expected) != set(have or []):
                problems.append(f"{key}: got {sorted(have or [])}, expected {sorted(expected)}")
        elif expected != have:
            problems.append(f"{key}: got {have!r}, expected {expected!r}")
    if case.notice and not _says_notice(reply, case.notice, case.lang):
        problems.append(f"the reply does not say the {case.notice} notice: {reply[:160]!r}")
    return problems


def _says_notice(reply: str, notice: str, lang: str) -> bool:
    """True when the reply holds the fixed words of the notice's replies.yaml phrase (in either language)."""
    from chatbot.turn.replies import say

    for language in (lang, "en"):
        marker = "\x00"
        text = say(NOTICE_KEYS[notice], language, first=marker, second=marker, words=marker)
        pieces = [p.strip(" \"「」") for p in text.split(marker)]
        longest = max(pieces, key=len)
        if longest and longest in reply:
            return True
    return False


def run_case(agent: Agent, case: ConstraintCase) -> CaseOutcome:
    """One case through `Agent.respond` in a new conversation."""
    started = time.monotonic()
    session_id = agent.new_session()
    reply = ""
    for turn in case.turns:
        for event in agent.respond(session_id, turn):
            if event.kind == "done":
                reply = str(event.data.get("reply", ""))
    got = state_filters(agent, session_id)
    return CaseOutcome(case, got, reply, tuple(compare(case, got, reply)), time.monotonic() - started)


def run_cases(agent: Agent, cases: list[ConstraintCase], progress: bool = False) -> ConstraintReport:
    """Every case through the agent."""
    from tqdm import tqdm

    report = ConstraintReport()
    for case in tqdm(cases, desc="constraints", disable=not progress):
        report.outcomes.append(run_case(agent, case))
    return report


def open_constraint_agent(settings: Any, understand_llm: str = "never", **options: Any) -> Agent:
    """The real agent for the test set: understanding by rules alone ("never": no LLM is loaded) or with the LLM
    ("always"), template notes (the notes never change a filter), relevance-only ranking (no interest model needed)."""
    from chatbot.evaluation.harness import open_agent

    update: dict[str, Any] = {"understand_llm": understand_llm}
    if understand_llm == "never" and "llm" not in options:
        update["llm"] = "fake"
    settings = settings.model_copy(update=update)
    options.setdefault("write_notes", False)
    options.setdefault("ranking", "retrieval")
    return open_agent(settings, **options)


def newest_year_mismatch(agent: Agent, newest_year: int) -> str | None:
    """A warning when the catalog's newest year is not the one the cases assume ("the last N years")."""
    have = agent.understander.newest_year
    return None if have == newest_year else (
        f"the cases assume the newest catalog year {newest_year}, this catalog's is {have}")

