"""The constraint test set (tests/understanding/constraints.yaml, written apart from the code) through the real agent
on the real demo catalog: by rules alone in the fast suite (>= 98 % per language), with the real embedded LLM in
the loop in the slow suite (100 % on the whole set by command; no bound, exclusion or person the LLM proposes
without its span)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.config import Settings
from chatbot.evaluation.constraints import load_cases, open_constraint_agent, run_cases

CASES_FILE = Path(__file__).parent / "constraints.yaml"
RULES_MIN = 0.98  # share of phrasings read exactly by rules alone, per language
# With the LLM in the loop: 100 % (the whole set, 423 phrasings, measured on idle cores on 2026-11-30 after the
# last misreading it showed, a Chinese message taking the model's extra cast, was fixed); the suite runs a sample
# on every CI run and allows at most one miss per language there (the same model can sample differently on
# another CPU), printing every miss.
LLM_MISSES = 1


# The LLM reads every turn of a case in 3-8 s on 2 cores, ~11 s on a slow one (148 cases ran past 20 minutes on CI;
# every eighth, 73 cases, took over 14 min of a session-31 CI run): the slow suite runs the first case of each of the
# 24 topics (both languages), every 32nd and all bad input, 39 cases; `tastebud constraints-test
# tests/understanding/constraints.yaml --understand-llm always` runs all of them.
LLM_EVERY = 32


def _run(agent, artifacts_dir: Path, name: str, every: int = 1) -> dict:
    """Run every case (or every `every`-th of each topic, and all bad input); save the figures, return them."""
    newest_year, cases = load_cases(CASES_FILE)
    assert agent.understander.newest_year == newest_year, "the cases assume another catalog"
    seen: dict[str, int] = {}  # cases so far per topic ("en-runtime"), so every topic is sampled
    sample = []
    for case in cases:
        topic = case.id.rsplit("-", 1)[0]
        seen[topic] = seen.get(topic, -1) + 1
        if seen[topic] % every == 0 or case.notice:
            sample.append(case)
    report = run_cases(agent, sample)
    figures = report.to_dict()
    (artifacts_dir / name).write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    print("\n".join(report.lines()[:40]))
    return figures


def test_the_phrasings_file_is_large_and_well_formed():
    """At least 300 phrasings in both languages, with unique ids, first turns and follow-ups, and bad input."""
    _, cases = load_cases(CASES_FILE)
    assert len(cases) >= 300 and len({c.id for c in cases}) == len(cases)
    assert {c.lang for c in cases} == {"en", "zh"}
    assert any(len(c.turns) > 1 for c in cases) and any(c.notice for c in cases)


def test_constraints_by_rules_alone(demo_data_dir, artifacts_dir):
    """Rules alone read >= 98 % of the phrasings exactly, in each language."""
    agent = open_constraint_agent(Settings(data_dir=demo_data_dir, chroma_url=None), "never")
    figures = _run(agent, artifacts_dir, "constraints_rules.json")
    for lang, row in figures["by_language"].items():
        assert row["accuracy"] >= RULES_MIN, (lang, row, [f["id"] for f in figures["failures"]])


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_constraints_with_the_llm_in_the_loop(demo_data_dir, artifacts_dir):
    """With the real embedded LLM reading every turn, every phrasing is still read exactly: whatever the model
    proposes without support in the message is dropped, and the reader wins where both read a field."""
    settings = Settings(data_dir=demo_data_dir, llm="embedded", chroma_url=None, llm_timeout_s=300)
    agent = open_constraint_agent(settings, "always")
    figures = _run(agent, artifacts_dir, "constraints_llm.json", every=LLM_EVERY)
    for lang, row in figures["by_language"].items():
        assert row["passed"] >= row["cases"] - LLM_MISSES, (lang, row, [f["id"] for f in figures["failures"]])


# ------------------------------------------------------------------------------------------ the reader alone
def read(message: str) -> dict:
    """The bounds and lifted fields the constraint reader finds in a message (newest catalog year 2016)."""
    from chatbot.turn.understand.bounds import constraint_reader
    from chatbot.turn.understand.message import normalise_message

    found = constraint_reader().read(normalise_message(message), 2016)
    out: dict = {slot: b.value for slot, b in found.bounds.items()}
    if found.cleared:
        out["cleared"] = sorted(found.cleared)
    if found.contradictions:
        out["contradiction"] = True
    if found.absurd:
        out["absurd"] = True
    return out


@pytest.mark.parametrize(("message", "expected"), [
    # comparators before and after, digits and words, units converted
    ("under two hours", {"runtime_max": 120}),
    ("no more than an hour and a half", {"runtime_max": 90}),
    ("not more than 2 hours", {"runtime_max": 120}),
    ("it shouldn't be longer than 100 mins", {"runtime_max": 100}),
    ("nothing that runs over ninety minutes", {"runtime_max": 90}),
    ("something I can finish in 90 minutes", {"runtime_max": 90}),  # how long it takes: that long at most
    ("两小时就能看完的电影", {"runtime_max": 120}),
    ("not under 90 minutes", {"runtime_min": 90}),
    ("at least two and a half hours", {"runtime_min": 150}),
    ("1.5 hours or less", {"runtime_max": 90}),
    ("2h tops", {"runtime_max": 120}),
    ("1h30 max", {"runtime_max": 90}),
    ("an hour and 20 minutes at most", {"runtime_max": 80}),
    ("half an hour or more", {"runtime_min": 30}),
    ("a hundred and twenty minutes or under", {"runtime_max": 120}),
    ("90+ minutes", {"runtime_min": 90}),
    ("between 90 and 120 minutes", {"runtime_min": 90, "runtime_max": 120}),
    ("from 90 minutes to 2 hours", {"runtime_min": 90, "runtime_max": 120}),
    ("around two hours", {"runtime_max": 135}),
    # years: strict comparators step over the year, negations flip and toggle
    ("before 1960", {"year_max": 1959}),
    ("pre-1995", {"year_max": 1994}),
    ("after 2000", {"year_min": 2001}),
    ("since 2010", {"year_min": 2010}),
    ("not before 1990", {"year_min": 1990}),
    ("nothing made before 1995", {"year_min": 1995}),
    ("no later than 2005", {"year_max": 2005}),
    ("no older than 1995", {"year_min": 1995}),
    ("nothing newer than 2005", {"year_max": 2005}),
    ("made in or after 1960", {"year_min": 1960}),
    ("2000 or later", {"year_min": 2000}),
    ("made after '85", {"year_min": 1986}),
    ("between 1990 and 2000", {"year_min": 1990, "year_max": 2000}),
    ("from the 80s", {"year_min": 1980, "year_max": 1989}),
    ("the late sixties", {"year_min": 1966, "year_max": 1969}),
    ("the 80s and 90s", {"year_min": 1980, "year_max": 1999}),
    ("before the 90s", {"year_max": 1989}),
    ("in the last ten years", {"year_min": 2006}),
    ("not from the last 10 years", {"year_max": 2005}),
    ("this century", {"year_min": 2000}),
    # the scale
    ("not rated R", {"max_age_rating": "PG-13"}),
    ("no R-rated stuff", {"max_age_rating": "PG-13"}),
    ("PG-13 or below", {"max_age_rating": "PG-13"}),
    ("nothing above PG", {"max_age_rating": "PG"}),
    ("under R", {"max_age_rating": "PG-13"}),
    # Chinese
    ("两个小时以内", {"runtime_max": 120}),
    ("不超过九十分钟", {"runtime_max": 90}),
    ("不要超过两个小时", {"runtime_max": 120}),
    ("至少一个半小时", {"runtime_min": 90}),
    ("一小时二十分钟以内", {"runtime_max": 80}),
    ("一个半到两个小时", {"runtime_min": 90, "runtime_max": 120}),
    ("2000年以后", {"year_min": 2000}),
    ("1990年以前", {"year_max": 1989}),
    ("两千年以后", {"year_min": 2000}),
    ("不要2000年以前的", {"year_min": 2000}),
    ("近十年的", {"year_min": 2006}),
    ("八九十年代的", {"year_min": 1980, "year_max": 1999}),
    ("九十年代末", {"year_min": 1996, "year_max": 1999}),
    ("1990到2000年之间", {"year_min": 1990, "year_max": 2000}),
    ("不要R级", {"max_age_rating": "PG-13"}),
    ("PG-13以下", {"max_age_rating": "PG-13"}),
    # lifting a field
    ("any length is fine", {"cleared": ["runtime"]}),
    ("forget the year", {"cleared": ["year"]}),
    ("any director", {"cleared": ["people", "people_none"]}),
    ("时长无所谓", {"cleared": ["runtime"]}),
    ("不限年份", {"cleared": ["year"]}),
    # bad input: said, not applied
    ("after 2000 but before 1990", {"contradiction": True}),
    ("longer than 3 hours and under 90 minutes", {"contradiction": True}),
    ("under 3 minutes", {"absurd": True}),
    ("from the year 3000", {"absurd": True}),
    ("1800年以前", {"absurd": True}),
])
def test_the_reader_reads_every_form(message, expected):
    """Each form of a bound, in either language, wherever it stands."""
    assert read(message) == expected, message


@pytest.mark.parametrize("message", [
    "I'm 30 years old", "my 2 kids are asleep", "a 2-hour drive away", "born in 1985", "top 10 picks",
    "I'm in my 30s", "my flat is number 1990", "我今年30岁", "两个孩子终于睡了", "十年前我看过",
    "if it's over two hours he falls asleep", "超过一个半小时就会睡着",
])
def test_numbers_that_are_no_bounds(message):
    """Ages, counts, distances, birth years and conditions are no constraints."""
    assert read(message) == {}, message


def test_bounds_anywhere_in_a_long_message_and_several_at_once():
    """The reader reads the whole message: a bound at the very end, several fields in one message."""
    long = ("my parents are visiting and we have been arguing for an hour about what to watch; dad wants a crime "
            "film, mum wants something light, and nobody wants to stay up late, so, classics only, before 1960")
    assert read(long) == {"year_max": 1959}
    assert read("a thriller from the 90s under two hours, not rated R") == {
        "year_min": 1990, "year_max": 1999, "runtime_max": 120, "max_age_rating": "PG-13"}


def test_the_reader_is_fast():
    """Reading bounds takes well under a millisecond or two per message (it runs on every turn)."""
    import time

    _, cases = load_cases(CASES_FILE)
    messages = [t for c in cases for t in c.turns]
    read(messages[0])
    started = time.perf_counter()
    for m in messages:
        read(m)
    per_message_ms = (time.perf_counter() - started) / len(messages) * 1000
    print(f"constraint reader: {per_message_ms:.2f} ms per message over {len(messages)} messages")
    assert per_message_ms < 5, per_message_ms
