"""Prompts as data: every shipped template loads, renders strictly, and turns into chat messages."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, convert_to_messages

from prompts import PromptError, list_prompts, load_prompt, parse_prompt
from retrieval.types import GENRES


def test_every_shipped_template_loads_and_has_a_user_part():
    names = list_prompts()
    assert "llm_probe" in names
    for name in names:
        prompt = load_prompt(name)
        assert prompt.user.strip(), name


def test_render_gives_system_examples_and_user_as_chat_messages():
    rendered = load_prompt("llm_probe").render(message="Any comedy in Rome?", genres=list(GENRES))
    assert rendered["user"] == "Any comedy in Rome?"
    assert "Sci-Fi" in rendered["system"]  # the genre list was filled in
    assert set(dict(rendered)) == {"system", "user"}
    roles = [role for role, _ in rendered.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert json.loads(rendered.messages[2][1]) == {"city_en": "Beijing", "genre": "Comedy"}  # YAML mapping → JSON
    messages = convert_to_messages(rendered.messages)
    assert [type(m) for m in messages] == [SystemMessage, HumanMessage, AIMessage, HumanMessage]


def test_a_missing_variable_is_an_error_naming_it():
    with pytest.raises(PromptError, match="genres"):
        load_prompt("llm_probe").render(message="hi")


def test_an_unknown_prompt_lists_the_known_ones():
    with pytest.raises(PromptError, match="llm_probe"):
        load_prompt("no_such_prompt")
    with pytest.raises(PromptError, match="bad prompt name"):
        load_prompt("../chatbot/config")


def test_text_is_not_html_escaped_and_tojson_keeps_unicode():
    prompt = parse_prompt("t", "system: 'facts: {{ facts | tojson }}'\nuser: '{{ message }}'\n")
    rendered = prompt.render(message="Tom & Jerry <3", facts={"city": "北京"})
    assert rendered.user == "Tom & Jerry <3"
    assert rendered.system == 'facts: {"city": "北京"}'
    assert prompt.variables() == {"facts", "message"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("system: hi\n", "no `user`"),
        ("- a list\n", "mapping"),
        ("user: hi\nsytem: typo\n", "unknown keys"),
        ("user: '{% if x %}unclosed'\n", "syntax error"),
        ("user: hi\nexamples:\n  - user: q\n", "examples\\[0\\]"),
        ("user: [unclosed\n", "not valid YAML"),
    ],
)
def test_malformed_templates_are_refused_at_load_time(text, problem):
    with pytest.raises(PromptError, match=problem):
        parse_prompt("broken", text)


def test_strict_undefined_also_catches_missing_attributes():
    prompt = parse_prompt("t", "user: '{{ item.title }} ({{ item.year }})'\n")
    assert prompt.render(item={"title": "Heat", "year": 1995}).user == "Heat (1995)"
    with pytest.raises(PromptError, match="year"):
        prompt.render(item={"title": "Heat"})
