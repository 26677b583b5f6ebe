"""Every scripted conversation in tests/dialogues/*.yaml, one test per file, run twice:

- fast (every run): the real agent over the real demo catalog and index, with the scripted fake LLM unused —
  rules-only understanding (`understand_llm="never"`), template notes (`write_notes=False`) and relevance-only
  ranking (no trained interest model) — so a broken turn shows in the fast suite;
- slow: the real demo catalog and index, the trained interest model and the embedded LLM, loaded once for the
  whole session.
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
FAST_SKIPS: dict[tuple[str, str, int], str] = {}
# Scripts the embedded LLM still gets wrong (they pass by rules alone, in the fast run): known defects, each open in
# the tracker; they run and report, and turn into passes without failing the suite.
SLOW_KNOWN: dict[str, str] = {}


@pytest.fixture(scope="session")
def dialogue_runner(trained_demo_dir: Path) -> DialogueRunner:
    """One real agent (embedded LLM, full ranking) shared by every dialogue; each dialogue gets its own profiles."""
    from chatbot.evaluation.harness import open_agent

    settings = Settings(data_dir=trained_demo_dir, llm="embedded", chroma_url=None)
    agent = open_agent(settings)
    assert agent.scorer is not None, "the dialogues run on the full system: the interest model must load"
    return DialogueRunner.from_agent(agent, trained_demo_dir)


@pytest.fixture(scope="session")
def fast_dialogue_runner(demo_data_dir: Path) -> DialogueRunner:
    """The real agent without the LLM or the interest model: rules-only understanding, template notes."""
    from chatbot.evaluation.harness import open_agent
    from chatbot.llm import FakeChatModel

    settings = Settings(data_dir=demo_data_dir, llm="fake", chroma_url=None, understand_llm="never")
    agent = open_agent(settings, llm=FakeChatModel(), ranking="retrieval", write_notes=False)
    return DialogueRunner.from_agent(agent, demo_data_dir)


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
def test_dialogue_fast(script: Path, fast_dialogue_runner: DialogueRunner):
    outcome = fast_dialogue_runner.run(without_fast_skips(load_script(script)))
    assert outcome.passed, "\n".join(outcome.lines())


@pytest.mark.slow
@pytest.mark.parametrize("script", [pytest.param(p, marks=pytest.mark.xfail(reason=SLOW_KNOWN[p.stem], strict=False))
                                    if p.stem in SLOW_KNOWN else p for p in SCRIPTS], ids=[p.stem for p in SCRIPTS])
def test_dialogue(script: Path, dialogue_runner: DialogueRunner):
    outcome = dialogue_runner.run(load_script(script))
    assert outcome.passed, "\n".join(outcome.lines())
