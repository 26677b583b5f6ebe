"""Every scripted conversation in tests/dialogues/*.yaml, one test per file; run once fast, and some again slow:

- fast (every run): the real agent over the real demo catalog and index, with the scripted fake LLM unused —
  rules-only understanding (`understand_llm="never"`), template notes (`write_notes=False`) and relevance-only
  ranking (no trained interest model) — so a broken turn shows in the fast suite;
- slow (`SLOW_SCRIPTS`, one script of each kind): the real demo catalog and index, the trained interest model and
  the embedded LLM understanding each turn, loaded once for the whole session (template notes: the scripts check no
  note's words).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chatbot.config import Settings
from chatbot.evaluation.dialogues.script import Dialogue, UserTurn, find_scripts, load_script
from chatbot.evaluation.dialogues.runner import DialogueRunner

SCRIPTS = find_scripts([Path(__file__).parent / "dialogues"])

# Checks the fast run leaves out, by (script, check, line): each needs the real LLM or the trained model.
_NONE_SHORTER = ("rules-only retrieval ranking on the TMDB catalog: turn 1's shortest pick is An Extremely Goofy Movie "
                 "(76 min) and no G/PG film without animation is shorter, so turn 2 lets \"shorter\" go and shows the "
                 "shortest that fit the rest (77-81 min), saying none is shorter; the LLM run keeps this check")
FAST_SKIPS: dict[tuple[str, str, int], str] = {("01-rainy-night-with-kids", "than_previous", 15): _NONE_SHORTER}
# Scripts the embedded LLM still gets wrong (they pass by rules alone, in the fast run): known defects, each open in
# the tracker; they run and report, and turn into passes without failing the suite.
SLOW_KNOWN: dict[str, str] = {}
# The scripts the embedded LLM also runs (every script runs in the fast run, by rules): one of each kind a person
# brings (weather and children, a named director, a negation, a rejection, "more like", Chinese, a vague wish, a
# prompt injection, a film liked in an earlier visit, several bounds in English and Chinese, recipes, books, a
# country). All 53 with the LLM took ~33 min of a CI run on a slow machine, at ~37 s a script.
SLOW_SCRIPTS = ("01-rainy-night-with-kids", "14-people-director", "17-negation-nothing-violent",
                "18-rejection-not-those", "19-reference-more-like", "22-chinese-kids-rain", "24-vague",
                "25-prompt-injection", "26-unknown-place", "29-warm-start", "31-chinese-vague-then-genre",
                "39-en-many-constraints-in-the-middle", "44-zh-crime-before-1990-at-least-two-hours",
                "48-recipes-cold-rain-kids-then-vegetarian", "49-recipes-zh-quick-soup-no-spice",
                "50-books-imported-pages-and-author", "53-zh-a-film-from-france-then-not-american")
SLOW = [p for p in SCRIPTS if p.stem in SLOW_SCRIPTS]


@pytest.fixture(scope="session")
def dialogue_runner(trained_demo_dir: Path) -> DialogueRunner:
    """One real agent (embedded LLM, full ranking) shared by every dialogue; each dialogue gets its own profiles."""
    from chatbot.evaluation.harness import open_agent

    # The scripts check no note's words (only that a note follows each card): template notes. The LLM's notes are
    # tested in tests/chatbot (test_notes_per_item, test_browser); written here they took each of ~150 turns to its
    # budget on a slow machine, ~20 min of a CI run
    settings = Settings(data_dir=trained_demo_dir, llm="embedded", chroma_url=None)
    agent = open_agent(settings, write_notes=False)
    assert agent.scorer is not None, "the dialogues run on the full system: the interest model must load"
    return DialogueRunner.from_agent(agent, trained_demo_dir)


@pytest.fixture(scope="session")
def fast_dialogue_runner(demo_data_dir: Path) -> DialogueRunner:
    """The real agent without the LLM or the interest model: rules-only understanding, template notes."""
    return _fast_runner(demo_data_dir, "films")


def _fast_runner(root: Path, catalog: str) -> DialogueRunner:
    """A rules-only agent (template notes, relevance ranking) over one catalog of a data dir."""
    from chatbot.evaluation.harness import open_agent
    from chatbot.llm import FakeChatModel

    settings = Settings(data_dir=root, catalog=catalog, llm="fake", chroma_url=None, understand_llm="never")
    agent = open_agent(settings, llm=FakeChatModel(), ranking="retrieval", write_notes=False)
    return DialogueRunner.from_agent(agent, settings.resolved_data_dir)


# the data dir of each catalog a script may name: the film demo, the recipes demo, the imported book CSV
_ROOTS = {"films": "demo_data_dir", "recipes": "recipes_root", "books": "books_root"}


@pytest.fixture(scope="session")
def catalog_runners() -> dict[str, DialogueRunner]:
    """Rules-only runners of the other catalogs, opened on first use (the agent sets the catalog's words)."""
    return {}


def _runner_for(dialogue: Dialogue, request: pytest.FixtureRequest, films: DialogueRunner,
                runners: dict[str, DialogueRunner]) -> DialogueRunner:
    """The runner of the script's catalog; the agent's catalog words are made current for it."""
    from chatbot.turn.replies import use_catalog
    from retrieval.schema_file import schema_for

    if dialogue.catalog == "films":
        use_catalog(None)
        return films
    if dialogue.catalog not in runners:
        runners[dialogue.catalog] = _fast_runner(request.getfixturevalue(_ROOTS[dialogue.catalog]), dialogue.catalog)
    runner = runners[dialogue.catalog]
    use_catalog(schema_for(runner.data_dir))
    return runner


def without_fast_skips(dialogue: Dialogue) -> Dialogue:
    """The dialogue without the checks FAST_SKIPS leaves out of the fast run."""
    stem = dialogue.path.stem
    steps = tuple(replace(s, checks=tuple(c for c in s.checks if (stem, c.name, c.line) not in FAST_SKIPS))
                  if isinstance(s, UserTurn) else s for s in dialogue.steps)
    return replace(dialogue, steps=steps)


def test_there_are_enough_dialogues_and_they_all_load():
    assert len(SCRIPTS) >= 30
    names = [load_script(p).name for p in SCRIPTS]
    assert len(set(names)) == len(names)


def test_every_fast_skip_names_a_real_check():
    checks = {(p.stem, c.name, c.line) for p in SCRIPTS for s in load_script(p).steps if isinstance(s, UserTurn)
              for c in s.checks}
    assert set(FAST_SKIPS) <= checks


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_dialogue_fast(script: Path, fast_dialogue_runner: DialogueRunner, catalog_runners: dict[str, DialogueRunner],
                       request: pytest.FixtureRequest):
    dialogue = without_fast_skips(load_script(script))
    runner = _runner_for(dialogue, request, fast_dialogue_runner, catalog_runners)
    try:
        outcome = runner.run(dialogue)
    finally:
        use_films()
    assert outcome.passed, "\n".join(outcome.lines())


def use_films() -> None:
    """Speak of films again (the film runner's words)."""
    from chatbot.turn.replies import use_catalog

    use_catalog(None)


def test_every_slow_script_is_there():
    assert sorted(p.stem for p in SLOW) == sorted(SLOW_SCRIPTS)


@pytest.mark.slow
@pytest.mark.parametrize("script", [pytest.param(p, marks=pytest.mark.xfail(reason=SLOW_KNOWN[p.stem], strict=False))
                                    if p.stem in SLOW_KNOWN else p for p in SLOW], ids=[p.stem for p in SLOW])
def test_dialogue(script: Path, dialogue_runner: DialogueRunner, request: pytest.FixtureRequest):
    dialogue = load_script(script)
    runner = dialogue_runner if dialogue.catalog == "films" else _slow_runner(request, dialogue.catalog)
    try:
        outcome = runner.run(dialogue)
    finally:
        use_films()
    assert outcome.passed, "\n".join(outcome.lines())


_SLOW_RUNNERS: dict[str, DialogueRunner] = {}


def _slow_runner(request: pytest.FixtureRequest, catalog: str) -> DialogueRunner:
    """The embedded LLM over another catalog (no interest model: it has no interactions), opened once."""
    from chatbot.evaluation.harness import open_agent
    from chatbot.turn.replies import use_catalog
    from retrieval.schema_file import schema_for

    if catalog not in _SLOW_RUNNERS:
        settings = Settings(data_dir=request.getfixturevalue(_ROOTS[catalog]), catalog=catalog, llm="embedded",
                            chroma_url=None)
        _SLOW_RUNNERS[catalog] = DialogueRunner.from_agent(open_agent(settings, write_notes=False),
                                                           settings.resolved_data_dir)
    use_catalog(schema_for(_SLOW_RUNNERS[catalog].data_dir))
    return _SLOW_RUNNERS[catalog]
