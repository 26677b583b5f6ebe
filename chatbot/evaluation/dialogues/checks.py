"""The expectation checks of a dialogue turn: each `expect:` entry of a script, checked on the turn's answer.

`TurnChecks` holds one `_check_<name>` method per entry of `script.CHECKS` over a catalog (the full item behind
each card, for `--where` filters); the grounding check finds catalog titles in the reply with the one
catalog-names index (`chatbot.text.names.CatalogLexicon`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from chatbot.evaluation.dialogues.script import PREVIOUS, Check
from chatbot.text.names import CatalogLexicon, title_key
from chatbot.turn.notes.facts import sheet_text
from retrieval.text import has_cjk
from retrieval.types import Item


@dataclass
class Transcript:
    """What the runner remembers while a dialogue runs."""

    session_id: str | None = None
    answers: list[list[dict[str, Any]]] = field(default_factory=list)  # item cards of each turn that showed items
    shown: set[str] = field(default_factory=set)
    history: set[str] = field(default_factory=set)  # the warm-start user's liked films


@dataclass(frozen=True)
class TurnView:
    """What a check looks at: the done event, its items, the previous answer and the transcript."""

    done: dict[str, Any]
    items: list[dict[str, Any]]
    previous: list[dict[str, Any]]
    tr: Transcript
    reply: str
    understood: dict[str, Any]


class TitleFinder:
    """Catalog titles named in a text, for the `grounded` check: the one catalog-names index, read for titles.

    A person's name is the person, not a film inside it ("Brad Bird's" names no "The Birds"; the index knows),
    and a genre's name is the genre: "Picked for you: Comedy, Romance" names no film "Romance" (1999).
    """

    def __init__(self, items: Iterable[Item]) -> None:
        items = list(items)
        self.lexicon = CatalogLexicon.from_items(items)
        self.genres = {title_key(g) for it in items for g in it.genres}

    def ungrounded(self, text: str, allowed_titles: Iterable[str], sheets: Iterable[str] = ()) -> list[str]:
        """Catalog titles in the text that are neither allowed (nor inside one) nor named on the items' `sheets`."""
        # sheets: the shown items' plots and awards, which a note may repeat ("won 5 Oscars" names no film "Oscar")
        allowed = [t for t in allowed_titles if t]
        keys = {title_key(t) for t in allowed} | {k for s in sheets for k in self.lexicon.titles_named_in(s)}
        out = []
        for line in text.splitlines():  # a title never runs over a line: "... named Shrek.\n2. (500) Days" names no Shrek 2
            inside = [(h.start, h.end) for h in CatalogLexicon(allowed).find_titles(line)]
            for hit in self.lexicon.find_titles(line):
                if hit.key in keys or hit.key in self.genres or any(s <= hit.start and hit.end <= e for s, e in inside):
                    continue
                out.append(hit.title)
        return list(dict.fromkeys(out))


class TurnChecks:
    """The checks of one turn's answer, over a catalog (`self.catalog`: id -> Item)."""

    catalog: dict[str, Item]
    _titles: TitleFinder | None = None

    @property
    def titles(self) -> TitleFinder:
        """The catalog title finder (built on first use)."""
        if self._titles is None:
            self._titles = TitleFinder(self.catalog.values())
        return self._titles

    def check(self, check: Check, done: dict[str, Any], items: list[dict[str, Any]],
              previous: list[dict[str, Any]], tr: Transcript) -> list[str]:
        """Reasons this check failed (empty when it held)."""
        turn = TurnView(done, items, previous, tr, str(done.get("reply") or ""), done.get("understood") or {})
        if check.name in ("all_items", "than_previous") and not items:
            return ["no items were shown, so there is nothing to check"]
        return getattr(self, f"_check_{check.name}")(check.value, turn)

    def _item(self, card: dict[str, Any]) -> Item:
        """The full catalog item behind a card (the card itself when the catalog lacks it)."""
        found = self.catalog.get(card.get("id"))
        return found if found is not None else Item.from_dict({k: v for k, v in card.items() if k != "why"})

    def _check_understood(self, value: dict[str, Any], turn: TurnView) -> list[str]:
        """Subset match against the understood object."""
        return match_understood(value, turn.understood)

    def _check_items(self, value: dict[str, Any], turn: TurnView) -> list[str]:
        """The number of items shown."""
        lo, hi, n = value["min"], value["max"], len(turn.items)
        if n < lo or (hi is not None and n > hi):
            return [f"expected {f'{lo}–{hi}' if hi is not None else f'at least {lo}'} items, got {n}"]
        return []

    def _check_all_items(self, value: dict[str, Any], turn: TurnView) -> list[str]:
        """Every item passes the filter."""
        bad = [c["title"] for c in turn.items if not self._matches(c, value)]
        return [f"{len(bad)} of {len(turn.items)} items fail {value}: {', '.join(bad)}"] if bad else []

    def _check_some_item(self, value: dict[str, Any], turn: TurnView) -> list[str]:
        """At least one item passes the filter."""
        if any(self._matches(c, value) for c in turn.items):
            return []
        return [f"no item passes {value} (shown: {', '.join(c['title'] for c in turn.items) or 'none'})"]

    def _check_none_of(self, value: tuple[Any, ...], turn: TurnView) -> list[str]:
        """None of the referenced items (or of the items passing a filter) is shown."""
        out = []
        for entry in value:
            if isinstance(entry, dict):
                bad = [c["title"] for c in turn.items if self._matches(c, entry)]
                if bad:
                    out.append(f"items that should not be here ({entry}): {', '.join(bad)}")
                continue
            target = _resolve(entry, turn.previous)
            if target is None:
                out.append(f"{entry} points at nothing: the previous answer showed {len(turn.previous)} item(s)")
            elif target in {c["id"] for c in turn.items}:
                out.append(f"{entry} ({self._title(target)}) came back")
        return out

    def _check_reply_language(self, value: str, turn: TurnView) -> list[str]:
        """The reported language and the reply text."""
        return _language_problems(value, turn.done.get("language"), turn.reply)

    def _check_grounded(self, value: bool, turn: TurnView) -> list[str]:
        """Catalog titles named in the reply are this turn's items (or films the person named)."""
        allowed = [c["title"] for c in turn.items] + list(turn.understood.get("liked") or [])
        allowed += list(turn.understood.get("disliked") or [])
        about = turn.done.get("about_item")
        if about:
            allowed.append(about.get("title", ""))
        sheets = [sheet_text(self._item(c)) for c in turn.items]
        stray = self.titles.ungrounded(turn.reply, allowed, sheets)
        if value and stray:
            return [f"the reply names films that are not among its items: {', '.join(stray)}"]
        if not value and not stray:
            return ["expected the reply to name a film outside its items, and it did not"]
        return []

    def _check_no_repeat(self, value: bool, turn: TurnView) -> list[str]:
        """No item was shown in an earlier turn."""
        again = [c["title"] for c in turn.items if c["id"] in turn.tr.shown]
        if value and again:
            return [f"shown in an earlier turn: {', '.join(again)}"]
        if not value and turn.items and not again:
            return ["expected some items from earlier turns again, got only new ones"]
        return []

    def _check_reply_contains_any(self, value: tuple[str, ...], turn: TurnView) -> list[str]:
        """At least one phrase is in the reply."""
        low = turn.reply.casefold()
        if any(p.casefold() in low for p in value):
            return []
        return [f"the reply contains none of {list(value)}: {shorten(turn.reply, 160)!r}"]

    def _check_reply_not_contains(self, value: tuple[str, ...], turn: TurnView) -> list[str]:
        """No phrase is in the reply."""
        low = turn.reply.casefold()
        hits = [p for p in value if p.casefold() in low]
        return [f"the reply contains {hits}: {shorten(turn.reply, 160)!r}"] if hits else []

    def _check_clarifying_question(self, value: bool, turn: TurnView) -> list[str]:
        """The turn asked a question instead of showing items (or did not)."""
        asked = not turn.items and (bool(turn.understood.get("clarifying_question"))
                                    or _ends_with_question(turn.reply))
        if value and not asked:
            return [f"expected a clarifying question, got {len(turn.items)} item(s) and {shorten(turn.reply, 120)!r}"]
        if not value and asked:
            return [f"expected an answer, got a clarifying question: {shorten(turn.reply, 120)!r}"]
        return []

    def _check_than_previous(self, value: dict[str, str], turn: TurnView) -> list[str]:
        """Every item is below (above) every item of the previous answer on a field."""
        out = []
        for fld, way in value.items():
            before = [c.get(fld) for c in turn.previous if c.get(fld) is not None]
            if not before:
                out.append(f"the previous answer has no {fld} to compare with")
                continue
            bound = min(before) if way == "less" else max(before)
            bad = [f"{c['title']} ({c.get(fld)})" for c in turn.items if c.get(fld) is None
                   or (c[fld] >= bound if way == "less" else c[fld] <= bound)]
            if bad:
                out.append(f"not {'below' if way == 'less' else 'above'} {bound} ({fld}): {', '.join(bad)}")
        return out

    def _check_not_in_history(self, value: bool, turn: TurnView) -> list[str]:
        """No item is one the warm-start user already liked."""
        again = [c["title"] for c in turn.items if c["id"] in turn.tr.history]
        if value and again:
            return [f"films this person already liked: {', '.join(again)}"]
        if not value and not again:
            return ["expected some of the person's liked films, got none"]
        return []

    def _check_describes(self, value: str, turn: TurnView) -> list[str]:
        """A "tell me more" answer is about the referenced item."""
        target = _resolve(value, turn.previous)
        about = (turn.done.get("about_item") or {}).get("id")
        if target is None:
            return [f"{value} points at nothing: the previous answer showed {len(turn.previous)} item(s)"]
        if about != target:
            return [f"expected a description of {self._title(target)}, got {self._title(about) if about else 'no item'}"]
        return []

    def _matches(self, card: dict[str, Any], where: dict[str, Any]) -> bool:
        """The `tastebud search --where` test on the full catalog item behind a card."""
        from retrieval.filters import item_matches_where

        return item_matches_where(self._item(card), where, self.field_kinds())

    def field_kinds(self) -> Any:
        """The catalog's filterable fields (the film ones unless a runner knows its catalog's schema)."""
        from retrieval.fields import FILM_KINDS

        return FILM_KINDS

    def _title(self, item_id: str) -> str:
        """A catalog item's title (or its id)."""
        item = self.catalog.get(item_id)
        return item.title if item else item_id



def _resolve(ref: str, previous: list[dict[str, Any]]) -> str | None:
    """`previous:N` -> the id of the N-th item of the previous answer; any other text is an item id."""
    m = PREVIOUS.match(ref)
    if not m:
        return ref
    pos = int(m.group(1))
    return previous[pos - 1]["id"] if 1 <= pos <= len(previous) else None


def order_problems(kinds: list[str]) -> list[str]:
    """Contract: understood first (unless the turn could not start), items before notes, done last and once."""
    out = []
    if kinds.count("done") != 1 or (kinds and kinds[-1] != "done"):
        out.append(f"expected exactly one `done` event, last; got {kinds}")
    if "items" in kinds:
        first_note = kinds.index("note") if "note" in kinds else len(kinds)
        if kinds.index("items") > first_note:
            out.append("notes were streamed before the items")
        if kinds.count("items") > 1:
            out.append("items were sent more than once")
    if "understood" in kinds and kinds.index("understood") != 0:
        out.append("`understood` was not the first event")
    return out


def _ends_with_question(reply: str) -> bool:
    """True when the reply's last sentence is a question (English or Chinese question mark)."""
    return reply.rstrip().endswith(("?", "？"))


def _language_problems(expected: str, said: Any, reply: str) -> list[str]:
    """The reply must be in the expected language: the reported language and the text itself."""
    out = []
    if said != expected:
        out.append(f"reply language is {said!r}, expected {expected!r}")
    cjk = has_cjk(reply)
    if expected == "zh" and not cjk:
        out.append(f"expected a Chinese reply, got {shorten(reply, 100)!r}")
    if expected == "en" and cjk:
        out.append(f"expected an English reply, it contains Chinese: {shorten(reply, 100)!r}")
    return out


def match_understood(expected: dict[str, Any], actual: dict[str, Any], path: str = "understood") -> list[str]:
    """Subset match: every expected key holds (strings case-insensitive, lists as subsets, weather = condition)."""
    out: list[str] = []
    for key, want in expected.items():
        here = f"{path}.{key}"
        if not isinstance(actual, dict) or key not in actual:
            if want is not None:  # an absent key is "nothing", which is what `null` asks for
                out.append(f"{here} is missing")
            continue
        have = actual[key]
        if key == "weather" and path == "understood" and isinstance(have, dict) and not isinstance(want, dict):
            have, here = have.get("condition"), f"{here}.condition"
        out += _match_value(want, have, here)
    return out


def _match_value(want: Any, have: Any, here: str) -> list[str]:
    """One expected value against the actual one."""
    if want is None:
        return [] if have in (None, "", [], {}) else [f"{here} is {have!r}, expected nothing"]
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [f"{here} is {have!r}, expected {want!r}"]
        return match_understood(want, have, here)
    if isinstance(want, list):
        have_list = have if isinstance(have, list) else ([] if have is None else [have])
        have_keys = {_fold(v) for v in have_list}
        missing = [w for w in want if _fold(w) not in have_keys]
        return [f"{here} is {have_list!r}, missing {missing!r}"] if missing else []
    if isinstance(have, list) and not isinstance(want, bool):
        return [] if _fold(want) in {_fold(v) for v in have} else [f"{here} is {have!r}, expected it to hold {want!r}"]
    if _fold(want) != _fold(have):
        return [f"{here} is {have!r}, expected {want!r}"]
    return []


def _fold(value: Any) -> Any:
    """Case-folded text (other values as they are) for comparisons."""
    return value.casefold().strip() if isinstance(value, str) else value


def shorten(text: str, n: int) -> str:
    """Text cut to n characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
