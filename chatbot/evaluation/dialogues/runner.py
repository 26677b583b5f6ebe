"""Scripted dialogue tests: YAML conversations run through exactly `Agent.respond`, each turn checked.

The scripts are read by `script.py` (format and validation) and each turn's `expect:` entries are checked by
`checks.py`; this module runs them: `DialogueRunner` plays every step through `Agent.respond` / `Agent.feedback`
and reports each turn's failed checks (`TurnOutcome`, `DialogueOutcome`, `RunReport`).

Every dialogue gets its own temporary profile database, and its own agent made from the loaded one by
`harness.derive_agent` (the script's weather provider and clock swapped in), so dialogues never see each other's
sessions or feedback, while the loaded parts (index, models, LLM) are shared by the whole run.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from chatbot.evaluation.dialogues.checks import (
    TitleFinder,
    Transcript,
    TurnChecks,
    order_problems,
    shorten,
)
from chatbot.evaluation.dialogues.script import (
    Dialogue,
    FeedbackStep,
    ScriptError,
    Step,
    UserTurn,
    find_scripts,
    load_script,
)
from chatbot.evaluation.harness import (
    derive_agent,
    weather_provider,
)
from chatbot.evaluation.history import history_likes
from retrieval.types import Item
from retrieval.errors import TastebudError

if TYPE_CHECKING:
    from chatbot.turn.agent import Agent


# ---------------------------------------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class TurnOutcome:
    """What happened in one step and which checks failed (with the reason for each)."""

    n: int
    kind: str  # "user" or "feedback"
    text: str  # the message, or "feedback dislike on item 1"
    line: int
    failures: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()  # items shown this turn
    reply: str = ""

    @property
    def passed(self) -> bool:
        """True when every check held."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the runner's --json output."""
        return {"n": self.n, "passed": self.passed, "failures": list(self.failures), "kind": self.kind,
                "text": self.text, "items": list(self.titles)}


@dataclass(frozen=True)
class DialogueOutcome:
    """One script's result: its turns, or the script error that stopped it."""

    name: str
    path: str
    turns: tuple[TurnOutcome, ...] = ()
    error: str | None = None

    @property
    def passed(self) -> bool:
        """True when the script ran and every turn passed."""
        return self.error is None and all(t.passed for t in self.turns)

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the runner's --json output."""
        out: dict[str, Any] = {"name": self.name, "file": self.path, "passed": self.passed,
                               "turns": [t.to_dict() for t in self.turns]}
        if self.error:
            out["error"] = self.error
        return out

    def lines(self) -> list[str]:
        """Human-readable report: one line per turn, one per failed check."""
        mark = "PASS" if self.passed else "FAIL"
        out = [f"{mark} {self.name}  ({self.path})"]
        if self.error:
            out.append(f"  script error: {self.error}")
        for t in self.turns:
            head = f"  {'ok  ' if t.passed else 'FAIL'} turn {t.n} (line {t.line}): {shorten(t.text, 70)}"
            if t.titles:
                head += f"  -> {', '.join(shorten(x, 30) for x in t.titles)}"
            out.append(head)
            out += [f"        - {f}" for f in t.failures]
        return out


@dataclass(frozen=True)
class RunReport:
    """All dialogues of a run."""

    dialogues: tuple[DialogueOutcome, ...]

    @property
    def passed(self) -> int:
        """Number of dialogues that passed."""
        return sum(d.passed for d in self.dialogues)

    @property
    def failed(self) -> int:
        """Number of dialogues that failed (script errors included)."""
        return len(self.dialogues) - self.passed

    def to_dict(self) -> dict[str, Any]:
        """The `tastebud dialogue-test --json` object."""
        return {"passed": self.passed, "failed": self.failed, "dialogues": [d.to_dict() for d in self.dialogues]}



# ---------------------------------------------------------------------------------------------- the runner
class DialogueRunner(TurnChecks):
    """Runs dialogue scripts through `Agent.respond` of one loaded agent, each in a fresh profile store."""

    def __init__(self, agent: Agent, catalog: dict[str, Item], data_dir: Path | None = None,
                 warm_likes: Callable[[str], list[str]] | None = None) -> None:
        self.agent = agent
        self.catalog = catalog
        self.data_dir = data_dir
        self._warm_likes = warm_likes
        self._titles: TitleFinder | None = None

    @classmethod
    def from_agent(cls, agent: Agent, data_dir: Path) -> DialogueRunner:
        """A runner over the agent's own catalog; warm-start users come from the data dir's interactions."""
        return cls(agent, dict(agent.items), data_dir)

    def field_kinds(self) -> Any:
        """The fields of the agent's catalog (a schema catalog's own ones too; the film ones for an agent without
        a searcher)."""
        searcher = getattr(self.agent, "searcher", None)
        return searcher.kinds if searcher is not None else super().field_kinds()

    def warm_likes(self, user: str) -> list[str]:
        """Liked items (rating ≥ 4) of a MovieLens user before their held-out test film."""
        if self._warm_likes is not None:
            return self._warm_likes(user)
        if self.data_dir is None:
            raise TastebudError("a warm-start profile needs the data dir's interactions")
        return history_likes(self.data_dir, list(self.catalog), user)

    # -- running
    def run_paths(self, paths: Iterable[Path | str]) -> Iterator[DialogueOutcome]:
        """Each script's outcome in turn; a broken script is reported (file, line, why) and the rest still run."""
        for path in find_scripts(paths):
            try:
                dialogue = load_script(path)
            except ScriptError as exc:
                yield DialogueOutcome(name=path.stem, path=str(path), error=str(exc))
                continue
            yield self.run(dialogue)

    def run(self, dialogue: Dialogue) -> DialogueOutcome:
        """Run one dialogue in its own temporary profile store and check every turn."""
        from chatbot.profiles import ProfileStore

        with tempfile.TemporaryDirectory(prefix="tastebud-dialogue-") as tmp:
            store = ProfileStore.open(Path(tmp))
            try:
                parts: dict[str, Any] = {"profiles": store, "weather": weather_provider(dialogue.weather)}
                if dialogue.now is not None:
                    now = dialogue.now
                    parts["clock"] = lambda: now
                agent = derive_agent(self.agent, **parts)
                transcript = Transcript()
                try:
                    profile_id = self._profile(store, dialogue.profile, transcript)
                except TastebudError as exc:
                    return DialogueOutcome(dialogue.name, str(dialogue.path),
                                           error=f"{dialogue.path}: profile {dialogue.profile}: {exc}")
                turns = [self._step(agent, dialogue, n, step, transcript, profile_id)
                         for n, step in enumerate(dialogue.steps, 1)]
            finally:
                store.close()
        return DialogueOutcome(dialogue.name, str(dialogue.path), tuple(turns))

    def _profile(self, store: Any, profile: str, tr: Transcript) -> str | None:
        """None for a new person; for a MovieLens user, a fresh profile seeded with their liked films."""
        if profile == "new":
            return None
        likes = [i for i in self.warm_likes(profile) if i in self.catalog]
        if not likes:
            raise TastebudError(f"no liked films for {profile} in the interactions")
        tr.history.update(likes)
        profile_id = store.new_profile()
        for item_id in likes:
            store.add_feedback(profile_id, None, item_id, "like")
        return profile_id

    def _step(self, agent: Agent, dialogue: Dialogue, n: int, step: Step, tr: Transcript,
              profile_id: str | None) -> TurnOutcome:
        """Run one step and check it."""
        if isinstance(step, FeedbackStep):
            return self._feedback(agent, dialogue, n, step, tr)
        return self._turn(agent, n, step, tr, profile_id)

    def _feedback(self, agent: Agent, dialogue: Dialogue, n: int, step: FeedbackStep, tr: Transcript) -> TurnOutcome:
        """Like / dislike / seen on an item of the last answer, through `Agent.feedback`."""
        text = f"feedback {step.signal} on item {step.position}"
        last = tr.answers[-1] if tr.answers else []
        if step.position > len(last) or tr.session_id is None:
            why = (f"{dialogue.path}:{step.line}: feedback points at item {step.position}, but the last answer "
                   f"showed {len(last)} item(s)")
            return TurnOutcome(n, "feedback", text, step.line, (why,))
        item = last[step.position - 1]
        try:
            agent.feedback(tr.session_id, item["id"], step.signal)
        except TastebudError as exc:
            return TurnOutcome(n, "feedback", text, step.line, (f"feedback was refused: {exc}",))
        return TurnOutcome(n, "feedback", f"{text} ({item['title']})", step.line)

    def _turn(self, agent: Agent, n: int, step: UserTurn, tr: Transcript, profile_id: str | None) -> TurnOutcome:
        """Send one message through `Agent.respond`, collect the events, run the checks."""
        failures: list[str] = []
        events = []
        try:
            for event in agent.respond(tr.session_id, step.message, profile_id=profile_id):
                events.append(event)
        except TastebudError as exc:
            failures.append(f"the turn failed: {exc}")
        kinds = [e.kind for e in events]
        failures += order_problems(kinds)
        failures += [f"the agent reported an error: {e.data.get('message')}" for e in events if e.kind == "error"]
        done = next((e.data for e in events if e.kind == "done"), None)
        if done is None:
            return TurnOutcome(n, "user", step.message, step.line, tuple(failures or ["no answer (no done event)"]))
        tr.session_id = done.get("session_id") or tr.session_id
        items: list[dict[str, Any]] = list(done.get("items") or [])
        previous = tr.answers[-1] if tr.answers else []
        for check in step.checks:
            failures += [f"{check.name} (line {check.line}): {why}"
                         for why in self.check(check, done, items, previous, tr)]
        if items:
            tr.answers.append(items)
        tr.shown.update(c["id"] for c in items)
        return TurnOutcome(n, "user", step.message, step.line, tuple(failures),
                           tuple(c.get("title", "?") for c in items), str(done.get("reply", "")))
