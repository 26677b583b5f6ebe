"""Every scripted conversation in tests/dialogues/*.yaml, one test per file, through the real agent: the real demo
catalog and index, the trained interest model and the embedded LLM, loaded once for the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.config import Settings
from chatbot.evaluation.dialogues.runner import DialogueRunner, find_scripts, load_script

SCRIPTS = find_scripts([Path(__file__).parent / "dialogues"])


@pytest.fixture(scope="session")
def dialogue_runner(trained_demo_dir: Path) -> DialogueRunner:
    """One real agent (embedded LLM, full ranking) shared by every dialogue; each dialogue gets its own profiles."""
    from chatbot.evaluation.dialogues.runner import open_agent

    settings = Settings(data_dir=trained_demo_dir, llm="embedded", chroma_url=None)
    agent = open_agent(settings)
    assert agent.scorer is not None, "the dialogues run on the full system: the interest model must load"
    return DialogueRunner.from_agent(agent, trained_demo_dir)


def test_there_are_enough_dialogues_and_they_all_load():
    assert len(SCRIPTS) >= 30
    names = [load_script(p).name for p in SCRIPTS]
    assert len(set(names)) == len(names)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_dialogue(script: Path, dialogue_runner: DialogueRunner):
    outcome = dialogue_runner.run(load_script(script))
    assert outcome.passed, "\n".join(outcome.lines())
