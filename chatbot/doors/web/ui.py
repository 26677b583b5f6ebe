"""The Gradio door: a streaming chat, item cards with like / dislike / seen, and the "what I understood" panel.

Thin by design: every answer comes from `Agent.respond` through the shared turn queue (`WebDoor`);
this module only renders. Everything shown that came from the catalog or from a person is escaped
(`html.escape`) before it reaches the page; buttons are real <button>s with aria-labels, reachable by
keyboard, and clicks travel back to Python through gr.HTML's `trigger`.
"""

import html
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from chatbot.config import Settings
from chatbot.doors.web.door import PROFILE_COOKIE, WebDoor
from chatbot.doors.web.sanitize import clean_text
from chatbot.turn.replies import page_examples, say
from retrieval.errors import TastebudError

if TYPE_CHECKING:
    import gradio as gr

SIGNAL_LABELS = {"like": ("👍", "Like"), "dislike": ("👎", "Not for me"), "seen": ("👁", "Seen it")}
SIGNAL_DONE = {"like": "liked", "dislike": "did not like", "seen": "have already seen"}
NOTE_REFRESH_S = 0.15  # re-render cards at most this often while notes stream in
CONTEXT_LABELS = {"place": "Place", "weather": "Weather", "temperature_c": "Temperature (°C)",
                  "part_of_day": "Time of day", "local_time": "Local time", "companions": "Watching with",
                  "mood": "Mood", "occasion": "Occasion"}
WEATHER_SOURCES = {"stated": "you said so", "live": "live weather service", "offline": "no weather service"}

# After a turn: when the status carries a claim (the first saved turn of a browser without a live profile cookie),
# trade it for the HttpOnly profile cookie. Page loads never get one, so they make no profile.
CLAIM_JS = """
(status) => {
  const found = /data-claim="([A-Za-z0-9_-]+)"/.exec(status || "");
  if (found) {
    fetch("/api/visitor-cookie", {method: "POST", credentials: "same-origin",
                                  headers: {"Content-Type": "application/json"},
                                  body: JSON.stringify({claim: found[1]})});
  }
  return [];
}
"""
# After "forget me" went through: the browser drops the cookie of the deleted profile.
DROP_COOKIE_JS = """
(status) => {
  if (/data-forgotten/.test(status || "")) fetch("/api/visitor-cookie", {method: "DELETE", credentials: "same-origin"});
  return [];
}
"""

# One listener for every button inside a gr.HTML: the button's data-* attributes travel to Python.
CLICK_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button || !element.contains(button)) return;
  trigger('click', {action: button.dataset.action, item_id: button.dataset.item || null,
                    signal: button.dataset.signal || null, slot: button.dataset.slot || null,
                    value: button.dataset.value === undefined ? null : button.dataset.value});
});
"""

CSS = """
.tb-cards { display: grid; gap: 0.75rem; }
.tb-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 0.75rem 0.9rem; }
.tb-card h3 { margin: 0 0 0.25rem 0; font-size: 1.05rem; }
.tb-year { font-weight: normal; opacity: 0.75; }
.tb-meta { margin: 0.15rem 0; font-size: 0.9rem; opacity: 0.85; }
.tb-badge { display: inline-block; border: 1px solid currentColor; border-radius: 4px; padding: 0 0.35rem;
            font-size: 0.8rem; font-weight: 600; margin-right: 0.4rem; }
.tb-note { margin: 0.4rem 0; }
.tb-chips { list-style: none; padding: 0; margin: 0.3rem 0; display: flex; flex-wrap: wrap; gap: 0.35rem; }
.tb-chip { border-radius: 999px; padding: 0.1rem 0.6rem; font-size: 0.82rem; background: var(--background-fill-secondary);
           border: 1px solid var(--border-color-primary); }
.tb-actions { display: flex; gap: 0.4rem; margin-top: 0.4rem; }
.tb-actions button, .tb-remove { border: 1px solid var(--border-color-primary); border-radius: 6px;
           padding: 0.2rem 0.6rem; background: var(--button-secondary-background-fill); cursor: pointer; }
.tb-actions button[aria-pressed="true"] { background: var(--color-accent-soft); font-weight: 600; }
.tb-actions button:focus-visible, .tb-remove:focus-visible { outline: 3px solid var(--color-accent); }
.tb-remove { border-radius: 999px; font-size: 0.82rem; }
.tb-understood dl { margin: 0.2rem 0; }
.tb-understood dt { font-weight: 600; margin-top: 0.35rem; }
.tb-understood dd { margin: 0 0 0 0.5rem; }
.tb-empty { opacity: 0.7; }
"""


def esc(value: Any) -> str:
    """Text for the page: html.escape of str(value), quotes included."""
    return html.escape("" if value is None else str(value), quote=True)


# ---------------------------------------------------------------------------------------------- cards
def render_cards(cards: list[dict[str, Any]], notes: dict[int, str] | None = None,
                 feedback: dict[str, str] | None = None) -> str:
    """Item cards (title, year, badge, genres, runtime, note, why chips, like/dislike/seen) as escaped HTML."""
    if not cards:
        return '<section class="tb-cards" aria-label="Suggestions"><p class="tb-empty">Suggestions will appear here.</p></section>'
    notes = notes or {}
    feedback = feedback or {}
    out = ['<section class="tb-cards" aria-label="Suggestions">']
    for n, card in enumerate(cards, 1):
        item_id = str(card.get("id", ""))
        title = str(card.get("title", "?"))
        year = card.get("year")
        meta = []
        if card.get("genres"):
            meta.append(" · ".join(esc(g) for g in card["genres"]))
        if card.get("runtime_min"):
            meta.append(f"{esc(card['runtime_min'])} min")
        meta += [esc(f) for f in card.get("facts") or []]  # a schema catalog's own facts
        badge = (f'<span class="tb-badge" aria-label="rated {esc(card["age_rating"])}">{esc(card["age_rating"])}</span>'
                 if card.get("age_rating") else "")
        note = card.get("note") or notes.get(n, "")
        why = card.get("why") or []
        chosen = feedback.get(item_id)
        buttons = []
        for signal, (icon, label) in SIGNAL_LABELS.items():
            pressed = "true" if chosen == signal else "false"
            buttons.append(
                f'<button type="button" data-action="feedback" data-item="{esc(item_id)}" data-signal="{signal}" '
                f'aria-pressed="{pressed}" aria-label="{esc(label)}: {esc(title)}">'
                f'<span aria-hidden="true">{icon}</span> {esc(label)}</button>'
            )
        out.append(
            f'<article class="tb-card" data-item-id="{esc(item_id)}" aria-label="{n}. {esc(title)}">'
            f'<h3>{n}. {esc(title)}' + (f' <span class="tb-year">({esc(year)})</span>' if year else "") + "</h3>"
            f'<p class="tb-meta">{badge}{" · ".join(meta)}</p>'
            + (f'<p class="tb-note">{esc(note)}</p>' if note else '<p class="tb-note tb-empty">…</p>')
            + (('<ul class="tb-chips" aria-label="why this">' + "".join(f'<li class="tb-chip">{esc(w)}</li>' for w in why)
                + "</ul>") if why else "")
            + f'<div class="tb-actions" role="group" aria-label="feedback on {esc(title)}">{"".join(buttons)}</div>'
            "</article>"
        )
    out.append("</section>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------- understood panel
def understood_chips(understood: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(slot, value or None, label) for everything in the understood object that the person can remove."""
    u = understood
    chips: list[tuple[str, str | None, str]] = []
    if u.get("location"):
        chips.append(("place", None, f"place: {u['location']}"))
    weather = u.get("weather")
    if isinstance(weather, dict) and weather.get("condition"):
        chips.append(("weather", None, f"weather: {weather['condition']}"))
    for name in ("part_of_day", "mood", "occasion"):
        if u.get(name):
            chips.append((name, None, f"{CONTEXT_LABELS[name].lower()}: {u[name]}"))
    chips.extend(("companions", str(c), f"{say('with_whom', 'en').lower()}: {c}") for c in u.get("companions") or [])
    chips.extend(("wishes", str(w), f"wish: {w}") for w in u.get("wishes") or [])
    f = u.get("filters") if isinstance(u.get("filters"), dict) else {}
    chips.extend(("genres", str(g), f"genre: {g}") for g in f.get("genres_any", []))
    chips.extend(("genres_excluded", str(g), f"no {g}") for g in f.get("genres_none", []))
    for name, label in (("languages", "language"), ("countries", "country"), ("people", "with"),
                        ("languages_none", "no language"), ("countries_none", "not from"), ("people_none", "not with")):
        chips.extend((name, str(v), f"{label}: {v}") for v in f.get(name, []))
    for name, template in (("year_min", "from {}"), ("year_max", "until {}"), ("runtime_min", "at least {} min"),
                           ("runtime_max", "at most {} min"), ("max_age_rating", "rated up to {}")):
        if f.get(name) is not None:
            chips.append((name, None, template.format(f[name])))
    return chips


def _remove_button(slot: str, value: str | None, text: str) -> str:
    """A chip that removes one understood value when pressed."""
    value_attr = f' data-value="{esc(value)}"' if value is not None else ""
    return (f'<li><button type="button" class="tb-remove" data-action="remove" data-slot="{esc(slot)}"{value_attr} '
            f'aria-label="Remove {esc(text)}">{esc(text)} <span aria-hidden="true">✕</span></button></li>')


def render_understood(understood: dict[str, Any] | None, taste: dict[str, list[str]] | None = None) -> str:
    """The "what I understood" panel: removable slots, context (with where the weather came from), rules fired."""
    parts = ['<section class="tb-understood" aria-label="What I understood"><h3>What I understood</h3>']
    u = understood or {}
    chips = [_remove_button(slot, value, label) for slot, value, label in understood_chips(u)]
    if chips:
        parts.append('<ul class="tb-chips" aria-label="what you asked for (press to remove)">' + "".join(chips) + "</ul>")
    details = []
    weather = u.get("weather")
    if isinstance(weather, dict) and weather.get("condition"):
        text = str(weather["condition"])
        if weather.get("temperature_c") is not None:
            text += f", {weather['temperature_c']} °C"
        source = weather.get("source")
        text += f" ({WEATHER_SOURCES.get(source, source)})" if source else ""
        details.append(f"<dt>Weather</dt><dd>{esc(text)}</dd>")
    if u.get("local_time"):
        details.append(f"<dt>Local time</dt><dd>{esc(u['local_time'])}</dd>")
    if u.get("unknown_place"):
        details.append(f"<dt>Place I do not know</dt><dd>{esc(u['unknown_place'])}</dd>")
    rules = u.get("rules_fired") or []
    if rules:
        rule_items = "".join(f'<li class="tb-chip">{esc(r)}</li>' for r in rules)
        details.append(f'<dt>Rules applied</dt><dd><ul class="tb-chips">{rule_items}</ul></dd>')
    if u.get("notes"):
        details.append("<dt>Notes</dt><dd>" + "<br>".join(esc(n) for n in u["notes"]) + "</dd>")
    taste = taste or {}
    for key, label in (("liked", "You liked"), ("disliked", "Not for you"), ("seen", "Already seen")):
        titles = list(dict.fromkeys([*(u.get(key) or []), *(taste.get(key) or [])]))
        if titles:
            details.append(f"<dt>{label}</dt><dd>{esc(', '.join(map(str, titles)))}</dd>")
    if u.get("understanding"):
        how = "the language model, checked by code" if u["understanding"] == "llm" else "rules only"
        details.append(f"<dt>Understood by</dt><dd>{esc(how)}</dd>")
    if details:
        parts.append("<dl>" + "".join(details) + "</dl>")
    if not chips and not details:
        parts.append(f'<p class="tb-empty">{esc(say("nothing_yet", "en"))}</p>')
    parts.append("</section>")
    return "".join(parts)


def _taste(st: dict[str, Any]) -> dict[str, list[str]]:
    """Titles the person rated in this browser session, by signal."""
    out: dict[str, list[str]] = {"liked": [], "disliked": [], "seen": []}
    key = {"like": "liked", "dislike": "disliked", "seen": "seen"}
    for item_id, signal in st.get("feedback", {}).items():
        out[key[signal]].append(st.get("titles", {}).get(item_id, item_id))
    return out


def _status(text: str) -> str:
    """A polite live-region line for screen readers and everyone else."""
    return f'<p class="tb-status" role="status" aria-live="polite">{esc(text)}</p>'


# ---------------------------------------------------------------------------------------------- one turn
async def _stream_turn(events: AsyncIterator[tuple[str, dict[str, Any]]], history: list[dict[str, Any]],
                       st: dict[str, Any], claim: Callable[[str | None], str]) -> AsyncIterator[tuple[Any, ...]]:
    """The UI updates for one turn's events; `claim` adds the cookie claim of a saved turn to the final status."""
    import gradio as gr

    cards: list[dict[str, Any]] = []
    notes: dict[int, str] = {}
    yield history, "", gr.skip(), gr.skip(), _status("Thinking…"), st
    last_render = 0.0
    async for kind, data in events:
        if kind == "busy":
            text = f"Busy right now: you are number {data['position']} in line. Your answer starts as soon as it is your turn."
            history[-1] = {"role": "assistant", "content": esc(text)}
            yield history, "", gr.skip(), gr.skip(), _status(text), st
        elif kind == "understood":
            st["understood"] = data
            yield history, "", gr.skip(), render_understood(data, _taste(st)), _status(say("looking", "en")), st
        elif kind == "items":
            cards = list(data.get("items", []))
            st.setdefault("titles", {}).update({str(c.get("id")): str(c.get("title")) for c in cards})
            yield history, "", render_cards(cards, notes, st.get("feedback")), gr.skip(), _status(
                f"{len(cards)} suggestions; notes are being written."), st
        elif kind == "note":
            position = int(data.get("position", 0))
            if "final" in data:  # the checked note replaces what streamed
                notes[position] = str(data["final"])
            else:
                notes[position] = notes.get(position, "") + str(data.get("delta", ""))
            if time.monotonic() - last_render >= NOTE_REFRESH_S:
                last_render = time.monotonic()
                yield history, "", render_cards(cards, notes, st.get("feedback")), gr.skip(), gr.skip(), st
        elif kind == "done":
            st["session_id"] = data.get("session_id", st.get("session_id"))
            st["profile_id"] = data.get("profile_id", st.get("profile_id"))
            st["understood"] = data.get("understood", st.get("understood"))
            cards = list(data.get("items", cards))
            st["cards"] = cards
            st.setdefault("titles", {}).update({str(c.get("id")): str(c.get("title")) for c in cards})
            history[-1] = {"role": "assistant", "content": esc(data.get("reply", ""))}
            yield (history, "", render_cards(cards, notes, st.get("feedback")),
                   render_understood(st["understood"], _taste(st)), _status("Done.") + claim(st["profile_id"]), st)
        elif kind == "error":
            text = f"Sorry, I could not answer that: {data.get('message', 'unknown error')}"
            history[-1] = {"role": "assistant", "content": esc(text)}
            yield history, "", gr.skip(), gr.skip(), _status(text), st


def _claim_html(door: WebDoor, profile_id: str | None, cookie: str | None) -> str:
    """A hidden claim for the profile cookie when this browser has no live one for `profile_id`, else nothing."""
    if not profile_id or cookie == profile_id or (cookie and door.profiles.has_profile(cookie)):
        return ""
    return f'<span hidden data-claim="{esc(door.claims.issue(profile_id))}"></span>'


def _refusal(history: list[dict[str, Any]], message: str, text: str, st: dict[str, Any]) -> tuple[Any, ...]:
    """The UI update for a turn refused before it ran: said in the chat and the status, the message kept."""
    import gradio as gr

    history[-1] = {"role": "assistant", "content": esc(text)}
    return history, message, gr.skip(), gr.skip(), _status(text), st


def _turn_handler(door: WebDoor) -> Callable[..., AsyncIterator[tuple[Any, ...]]]:
    """The chat handler: one queued turn streamed into the chat, the cards and the understood panel."""
    import gradio as gr

    async def respond(message: str, history: list[dict[str, Any]], st: dict[str, Any], request: gr.Request
                      ) -> AsyncIterator[tuple[Any, ...]]:
        """Stream one turn into the chat, the cards and the understood panel (the same limit as the API)."""
        st = dict(st or {})
        history = list(history or [])
        message = clean_text(message or "")
        if not message.strip():
            yield history, "", gr.skip(), gr.skip(), _status("Write what you would like to watch first."), st
            return
        history.append({"role": "user", "content": esc(message)})
        history.append({"role": "assistant", "content": "…"})
        cookie = request.cookies.get(PROFILE_COOKIE) if request is not None else None
        try:
            door.admit(request.client.host if request is not None and request.client else None)
            try:
                session_id, profile_id = door.resolve(st.get("session_id"), st.get("profile_id"), cookie)
            except TastebudError:  # the conversation or profile was deleted meanwhile: start afresh
                st = {"feedback": {}, "titles": {}}
                session_id, profile_id = door.resolve(None, None, cookie)
            ticket, events = door.turn(session_id, message, profile_id)
        except TastebudError as exc:  # too many requests, or the line is full: nothing ran, nothing was stored
            yield _refusal(history, message, door.scrub(str(exc)), st)
            return
        try:
            async with aclosing(events):  # the page going away closes the turn, which frees its slot
                async for update in _stream_turn(events, history, st, lambda pid: _claim_html(door, pid, cookie)):
                    yield update
        finally:
            ticket.release()

    return respond


# ---------------------------------------------------------------------------------------------- clicks and resets
def _own_session(door: WebDoor, st: dict[str, Any], request: Any) -> None:
    """Spend one request of this client's allowance and check the page's conversation is its own profile's."""
    door.admit(request.client.host if request is not None and request.client else None)
    door.owner(st["session_id"], door.caller(st.get("profile_id"), None))


def _click_handlers(door: WebDoor) -> tuple[Callable[..., tuple[Any, ...]], Callable[..., tuple[Any, ...]]]:
    """(on_card_click, on_understood_click): feedback buttons on the cards, remove chips in the panel."""
    import gradio as gr

    def on_card_click(st: dict[str, Any], evt: gr.EventData, request: gr.Request) -> tuple[Any, ...]:
        """Like / dislike / seen on a card: recorded in the profile, shown as pressed, noted in the panel."""
        st = dict(st or {})
        data = evt._data or {}
        if data.get("action") != "feedback" or not st.get("session_id"):
            return gr.skip(), gr.skip(), gr.skip(), st
        item_id, signal = str(data.get("item_id")), str(data.get("signal"))
        try:
            _own_session(door, st, request)
            door.agent.feedback(st["session_id"], item_id, signal)
        except TastebudError as exc:
            return gr.skip(), gr.skip(), _status(f"That did not work: {door.scrub(str(exc))}"), st
        st["feedback"] = {**st.get("feedback", {}), item_id: signal}
        title = st.get("titles", {}).get(item_id, item_id)
        return (render_cards(st.get("cards", []), None, st["feedback"]),
                render_understood(st.get("understood"), _taste(st)),
                _status(f"Noted: you {SIGNAL_DONE.get(signal, signal)} “{title}”. The next suggestions take it into account."),
                st)

    def on_understood_click(st: dict[str, Any], evt: gr.EventData, request: gr.Request) -> tuple[Any, ...]:
        """Remove one understood slot value (e.g. companions: kids) from the conversation."""
        st = dict(st or {})
        data = evt._data or {}
        if data.get("action") != "remove" or not st.get("session_id"):
            return gr.skip(), gr.skip(), st
        slot, value = str(data.get("slot")), data.get("value")
        try:
            _own_session(door, st, request)
            understood = door.agent.remove_slot(st["session_id"], slot, value)
        except TastebudError as exc:
            return gr.skip(), _status(f"That did not work: {door.scrub(str(exc))}"), st
        st["understood"] = understood
        what = f"{slot}: {value}" if value is not None else slot
        return (render_understood(understood, _taste(st)),
                _status(f"Removed {what}. Your next message uses the change."), st)

    return on_card_click, on_understood_click


def _reset_handlers(door: WebDoor) -> tuple[Callable[..., tuple[Any, ...]], Callable[..., tuple[Any, ...]]]:
    """(new_conversation, forget_me): start afresh, keeping the profile or deleting it."""
    import gradio as gr

    def new_conversation(st: dict[str, Any]) -> tuple[Any, ...]:
        """Forget this conversation's slots (the profile and its likes stay)."""
        st = {"profile_id": (st or {}).get("profile_id"), "feedback": {}, "titles": {}}
        return [], "", render_cards([]), render_understood(None), _status("New conversation started."), st

    def forget_me(st: dict[str, Any], request: gr.Request) -> tuple[Any, ...]:
        """Delete everything stored about this visitor's profile, then start afresh."""
        cookie = request.cookies.get(PROFILE_COOKIE) if request is not None else None
        profile_id = (st or {}).get("profile_id") or cookie
        try:
            deleted = bool(profile_id) and door.profiles.delete_profile(profile_id)
        except TastebudError as exc:  # e.g. the database is busy: say so, keep the page as it is
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), _status(
                f"Forgetting did not work this time: {door.scrub(str(exc))}. Please try again."), st
        text = ("Done: everything tastebud stored about you (likes, conversations) is deleted."
                if deleted else "There was nothing stored about you.")
        fresh = {"feedback": {}, "titles": {}}
        forgotten = "<span hidden data-forgotten></span>"  # DROP_COOKIE_JS drops the cookie then
        return [], "", render_cards([]), render_understood(None), _status(text) + forgotten, fresh

    return new_conversation, forget_me


# ---------------------------------------------------------------------------------------------- the Blocks
def _layout() -> SimpleNamespace:
    """The page's components (inside an open gr.Blocks): state, chat, message box, buttons, cards and panel."""
    import gradio as gr

    st = gr.State({"feedback": {}, "titles": {}})
    gr.Markdown("# tastebud\n" + say("page_intro", "en"))  # the catalog's own words (films: watch; dishes: cook)
    with gr.Row():
        with gr.Column(scale=3):
            chat = gr.Chatbot(label="Conversation", height=440, render_markdown=False, sanitize_html=True,
                              allow_tags=False, feedback_options=None, elem_id="tb-chat", buttons=[])
            message = gr.Textbox(label="Your message", placeholder=say("placeholder", "en"),
                                 elem_id="tb-message", lines=1, max_lines=4, autofocus=True)
            with gr.Row():
                send = gr.Button("Send", variant="primary", elem_id="tb-send")
                new = gr.Button("New conversation", elem_id="tb-new")
                forget = gr.Button("Forget me", variant="stop", elem_id="tb-forget")
            gr.Examples(examples=[[e] for e in page_examples()], inputs=[message], label="Try one of these")
        with gr.Column(scale=2):
            status = gr.HTML(_status(""), elem_id="tb-status", js_on_load=None)
            cards = gr.HTML(render_cards([]), elem_id="tb-cards", js_on_load=CLICK_JS)
            understood = gr.HTML(render_understood(None), elem_id="tb-understood", js_on_load=CLICK_JS)
    return SimpleNamespace(st=st, chat=chat, message=message, send=send, new=new, forget=forget, status=status,
                           cards=cards, understood=understood)


def _wire(page: SimpleNamespace, door: WebDoor) -> None:
    """Connect the page's events to the handlers (inside the same open gr.Blocks)."""
    respond = _turn_handler(door)
    on_card_click, on_understood_click = _click_handlers(door)
    new_conversation, forget_me = _reset_handlers(door)
    st, message = page.st, page.message
    outputs = [page.chat, message, page.cards, page.understood, page.status, st]
    turns = [trigger(respond, inputs=[message, page.chat, st], outputs=outputs, concurrency_limit=None,
                     show_progress="hidden") for trigger in (message.submit, page.send.click)]
    for turn in turns:  # the first saved turn's claim becomes the profile cookie (see CLAIM_JS)
        turn.then(None, inputs=[page.status], outputs=None, js=CLAIM_JS, show_progress="hidden")
    page.cards.click(on_card_click, inputs=[st], outputs=[page.cards, page.understood, page.status, st],
                     concurrency_limit=None, show_progress="hidden")
    page.understood.click(on_understood_click, inputs=[st], outputs=[page.understood, page.status, st],
                          concurrency_limit=None, show_progress="hidden")
    # starting afresh stops a turn still streaming, so its cards cannot land in the new conversation
    page.new.click(new_conversation, inputs=[st], outputs=outputs, show_progress="hidden", cancels=turns)
    page.forget.click(forget_me, inputs=[st], outputs=outputs, show_progress="hidden", cancels=turns).then(
        None, inputs=[page.status], outputs=None, js=DROP_COOKIE_JS, show_progress="hidden")


def build_ui(door: WebDoor, settings: Settings) -> "gr.Blocks":
    """The Gradio Blocks app, sharing the web door's agent, profiles and turn queue."""
    import gradio as gr

    with gr.Blocks(title="tastebud", analytics_enabled=False, fill_height=False) as demo:
        _wire(_layout(), door)
    return demo
