"""`tastebud chat`: a terminal door onto Agent.respond (cards first, then the notes as they stream)."""

from __future__ import annotations

import re

from rich.console import Console

from chatbot.config import Settings
from chatbot.turn.replies import say
from retrieval.errors import TastebudError

HELP = "commands: /like N, /dislike N, /seen N (N = position in the last list), /new, /quit"


def run_terminal_chat(settings: Settings, session_id: str | None = None) -> int:
    """Read messages from the terminal until /quit or end of input; returns the exit code."""
    from chatbot.turn.agent import Agent

    console = Console()
    console.print("[bold]tastebud[/bold] is loading…")
    agent = Agent.from_settings(settings)
    problem = agent.prepare()
    if problem:
        console.print(f"note: {problem}", markup=False)
    console.print(f"{say('page_intro', 'en')} {HELP}")
    last_items: list[dict] = []
    while True:
        try:
            text = console.input("[bold cyan]you>[/bold cyan] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return 0
        command = text.strip().split()
        if command and command[0] in ("/quit", "/exit"):
            return 0
        if command and command[0] == "/new":
            session_id, last_items = None, []
            console.print("new conversation")
            continue
        if command and command[0] in ("/like", "/dislike", "/seen"):
            if session_id is None or len(command) != 2 or not command[1].isdigit() \
                    or not 1 <= int(command[1]) <= len(last_items):
                console.print(f"[yellow]say which one: {command[0]} N with N from 1 to {len(last_items)}[/yellow]")
                continue
            item = last_items[int(command[1]) - 1]
            try:
                agent.feedback(session_id, item["id"], command[0][1:])
                console.print(f"noted: {command[0][1:]} {item['title']}", markup=False)
            except TastebudError as exc:
                console.print(f"[red]{exc}[/red]")
            continue
        notes = NoteLines(console)
        for event in agent.respond(session_id, text):
            if event.kind == "note":
                notes.add(event.data)
            elif event.kind == "items":
                for n, it in enumerate(event.data["items"], 1):
                    badge = it["age_rating"] or "unrated"
                    facts = " · ".join(it["facts"]) if it.get("facts") else \
                        f"({it['year']}) · {', '.join(it['genres'])} · {it['runtime_min'] or '?'} min · {badge}"
                    console.print(f"  {n}. {it['title']} {facts}", markup=False)
            elif event.kind == "error":
                console.print(f"[red]{event.data['message']}[/red]")
            elif event.kind == "done":
                notes.end()
                session_id = event.data["session_id"]
                last_items = event.data["items"] or last_items
                console.print(notes.rest_of(event.data["reply"]), markup=False)


class NoteLines:
    """Each card's note on a line of its own, its words printed as they are written; a note rewritten or replaced
    after its words were shown is printed again whole, marked as the final one."""

    def __init__(self, console: Console) -> None:
        """Print on this console."""
        self.console = console
        self.open: int | None = None  # the position whose line is being written
        self.streamed: dict[int, str] = {}

    def add(self, data: dict) -> None:
        """One note event (a piece of a note's words, or its final text)."""
        position = int(data.get("position", 0))
        if "delta" in data:
            if self.open != position:
                self.end()
                self.console.print(f"     {position}. ", end="", markup=False)
                self.open = position
            self.streamed[position] = self.streamed.get(position, "") + str(data["delta"])
            self.console.print(str(data["delta"]), end="", markup=False, highlight=False)
            return
        final = str(data.get("final", ""))
        if self.streamed.get(position, "").strip() != final.strip():
            self.end()
            self.console.print(f"     {position}. {final}", markup=False, highlight=False)
        self.streamed[position] = final

    def rest_of(self, reply: str) -> str:
        """The reply without its "n. Title: note" lines once those notes were printed as they streamed."""
        if not self.streamed:
            return reply
        return "\n".join(line for line in reply.splitlines() if not re.match(r"\d+\. ", line))

    def end(self) -> None:
        """Close the line being written, if any."""
        if self.open is not None:
            self.console.print()
            self.open = None
