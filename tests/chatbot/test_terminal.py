"""`tastebud chat` in a terminal: each card's note streams on its own line."""

from __future__ import annotations

from rich.console import Console

from chatbot.doors.terminal import NoteLines


def _console() -> Console:
    return Console(record=True, width=200, force_terminal=False)


def test_note_words_stream_onto_their_cards_line_and_a_replaced_note_is_shown_whole():
    console = _console()
    lines = NoteLines(console)
    for data in ({"position": 1, "delta": "Hayao Miyazaki's forest "}, {"position": 1, "delta": "spirits."},
                 {"position": 1, "final": "Hayao Miyazaki's forest spirits."},
                 {"position": 2, "delta": "A cozy horror"}, {"position": 2, "final": "Alien (1979) is Ridley Scott's film."},
                 {"position": 3, "final": "Amelie (2001) is Jean-Pierre Jeunet's film."}):
        lines.add(data)
    lines.end()
    text = console.export_text()
    assert "     1. Hayao Miyazaki's forest spirits.\n" in text
    assert text.count("Hayao Miyazaki") == 1  # the final note equal to its streamed words is not printed again
    assert "     2. A cozy horror\n     2. Alien (1979) is Ridley Scott's film.\n" in text
    assert "     3. Amelie (2001) is Jean-Pierre Jeunet's film.\n" in text


def test_the_reply_leaves_out_the_notes_already_printed():
    lines = NoteLines(_console())
    reply = "Here are 2 films.\n1. Up (2009): A note.\n2. Heat (1995): Another.\nLike one?"
    assert lines.rest_of(reply) == reply  # nothing streamed (no LLM): the reply carries the notes
    lines.add({"position": 1, "final": "A note."})
    assert lines.rest_of(reply) == "Here are 2 films.\nLike one?"
