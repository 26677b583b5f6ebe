"""The UI and the widget in a real headless Chromium (Playwright), against the app on 127.0.0.1.

The scripted agent drives the UI mechanics (cards, like, the understood panel, slot removal, escaping);
the widget is loaded by a host page served from a DIFFERENT origin, once allowed and once not.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import http.server
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from chatbot.doors.web.api import widget_file
from chatbot.doors.web.ui import render_cards, render_understood, understood_chips
from tests.chatbot.scripted_agent import CATALOG, TEMPLATE_TITLE, XSS_TITLE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 30_000


# ------------------------------------------------------------------------------------------ pure rendering
def test_cards_escape_everything_and_label_buttons() -> None:
    cards = [{**CATALOG[3], "why": ['<b onmouseover="x">chip</b>'], "note": "<script>alert(3)</script>"},
             {**CATALOG[7], "why": []}]
    page = render_cards(cards, feedback={"ml:4": "like"})
    assert "<img" not in page and "<script" not in page and "<b " not in page
    assert html_text(XSS_TITLE) in page and html_text(TEMPLATE_TITLE) in page
    assert 'aria-label="Like: &lt;img src=x onerror=alert(1)&gt;"' in page
    assert re.search(r'data-item="ml:4" data-signal="like" aria-pressed="true"', page)
    assert page.count('aria-pressed="false"') == 5  # the other two on this card, three on the next


def test_understood_panel_offers_removal_and_says_where_weather_came_from() -> None:
    understood = {"location": "Seattle", "weather": {"condition": "rain", "source": "live", "temperature_c": 9.5},
                  "companions": ["kids"], "filters": {"genres_any": ["Comedy"], "max_age_rating": "PG",
                                                      "excluded_items": 3},
                  "rules_fired": ["<i>kids</i>: nothing above PG"], "liked": ["Heat"], "wishes": ["cosy"]}
    chips = understood_chips(understood)
    assert ("companions", "kids", "watching with: kids") in chips and ("place", None, "place: Seattle") in chips
    assert ("genres", "Comedy", "genre: Comedy") in chips and ("max_age_rating", None, "rated up to PG") in chips
    assert not any(slot == "excluded_items" for slot, _, _ in chips)
    page = render_understood(understood, {"liked": ["Up"]})
    assert "rain, 9.5 °C (live weather service)" in page
    assert "&lt;i&gt;kids&lt;/i&gt;" in page and "<i>" not in page
    assert 'aria-label="Remove watching with: kids"' in page and "Heat, Up" in page


def html_text(text: str) -> str:
    """What `text` looks like once escaped for HTML."""
    import html

    return html.escape(text, quote=True)


# ------------------------------------------------------------------------------------------ the browser
@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test-deps installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The app (scripted agent, UI mounted) plus two host pages: one allowed origin, one not."""
    from tests.chatbot.test_api import serve_app

    # The allowed host's port must be known before the app is built; its page is filled in afterwards.
    holder: dict[str, str] = {}
    with _late_host_server(holder) as allowed_url, _late_host_server(holder) as refused_url:
        with serve_app(tmp_path_factory.mktemp("ui"), origins=allowed_url, mount_ui=True, delay_s=0.01) as w:
            holder["app_url"] = w.url
            yield SimpleNamespace(app=w, allowed_url=allowed_url, refused_url=refused_url)


@contextmanager
def _late_host_server(holder: dict[str, str]) -> Iterator[str]:
    """A host-page server whose page points at holder["app_url"], read at request time."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            page = widget_file("example-host.html").decode().replace("http://127.0.0.1:7860", holder["app_url"])
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(browser, artifacts_dir: Path, request: pytest.FixtureRequest):
    """A fresh browser context and page; any alert/confirm dialog is recorded (and must not happen)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(TIMEOUT_MS)
    p.dialogs = []
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    yield p
    p.screenshot(path=str(artifacts_dir / f"web-{request.node.name}.png"), full_page=True)
    context.close()


def send(page, text: str) -> None:
    """Type a message into the UI and send it with the keyboard."""
    box = page.locator("#tb-message textarea")
    box.fill(text)
    box.press("Enter")


def profile_cookie(page, timeout_s: float = 10.0) -> dict:
    """The profile cookie, once the page has traded its first saved turn's claim for it (the page load sets none)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [c for c in page.context.cookies() if c["name"] == "tastebud_profile"]
        if found or time.monotonic() > deadline:
            assert found, "the page never got its profile cookie"
            return found[0]
        page.wait_for_timeout(100)


def cards_of(page) -> list[str]:
    """The item ids of the cards on show."""
    return page.locator("#tb-cards article.tb-card").evaluate_all("els => els.map(e => e.dataset.itemId)")


@pytest.mark.browser
def test_ui_chat_cards_like_and_remove_a_slot(site: SimpleNamespace, page) -> None:
    page.goto(site.app.url)
    send(page, "Something funny in Seattle with the kids <script>window.__pwned = 1; alert('x')</script>")
    page.locator("#tb-cards article.tb-card").first.wait_for()
    page.wait_for_function("document.querySelector('#tb-status')?.innerText.includes('Done')")
    first = cards_of(page)
    assert first and all(site.app.agent.items[i]["age_rating"] in ("G", "PG") for i in first)
    chat = page.locator("#tb-chat").inner_text()
    assert "<script>window.__pwned = 1; alert('x')</script>" in chat  # shown literally, not run
    assert page.evaluate("window.__pwned") is None
    panel = page.locator("#tb-understood")
    assert "place: Seattle" in panel.inner_text() and "watching with: kids" in panel.inner_text()
    assert "kids watching: nothing rated above PG" in panel.inner_text()

    # like the first comedy by keyboard-reachable button; the panel and the profile both change
    comedy = next(i for i in first if "Comedy" in site.app.agent.items[i]["genres"])
    title = site.app.agent.items[comedy]["title"]
    like = page.get_by_role("button", name=f"Like: {title}")
    like.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelector('#tb-cards [data-item=\"{comedy}\"][data-signal=\"like\"]')"
                           ".getAttribute('aria-pressed') === 'true'")
    assert f"You liked{title}" in panel.inner_text().replace("\n", "").replace("\t", "")
    cookie = profile_cookie(page)
    assert site.app.profiles.liked(cookie["value"]) == [comedy]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # remove "kids": the panel drops it, and the next answer may include films rated above PG
    page.get_by_role("button", name="Remove watching with: kids").click()
    page.wait_for_function("(e => !!e && !e.innerText.includes('watching with: kids'))"
                            "(document.querySelector('#tb-understood'))")
    assert "Removed companions: kids" in page.locator("#tb-status").inner_text()
    send(page, "more please")
    page.wait_for_function(f"!{first!r}.includes(document.querySelector('#tb-cards article').dataset.itemId)")
    page.wait_for_function("document.querySelector('#tb-status')?.innerText.includes('Done')")
    second = cards_of(page)
    assert "Comedy" in site.app.agent.items[second[0]]["genres"]  # the like moved comedies up
    assert not set(second) & set(first)
    assert page.dialogs == []


@pytest.mark.browser
def test_ui_shows_hostile_catalog_titles_literally(site: SimpleNamespace, page) -> None:
    page.goto(site.app.url)
    send(page, "something scary")
    page.locator("#tb-cards article.tb-card").first.wait_for()
    page.wait_for_function("document.querySelector('#tb-status')?.innerText.includes('Done')")
    cards_text = page.locator("#tb-cards").inner_text()
    assert XSS_TITLE in cards_text
    assert page.locator("#tb-cards img").count() == 0
    send(page, "a drama")
    page.wait_for_function("document.querySelector('#tb-cards')?.innerText.includes('{{value}}')")
    assert TEMPLATE_TITLE in page.locator("#tb-cards").inner_text()  # not evaluated as a template
    page.wait_for_timeout(300)
    assert page.dialogs == []


@pytest.mark.browser
def test_ui_new_conversation_clears_the_panel(site: SimpleNamespace, page) -> None:
    page.goto(site.app.url)
    send(page, "action in Berlin")
    page.wait_for_function("document.querySelector('#tb-understood')?.innerText.includes('Berlin')")
    page.wait_for_function("document.querySelector('#tb-status')?.innerText.includes('Done')")
    page.get_by_role("button", name="New conversation").click()
    page.wait_for_function("(e => !!e && !e.innerText.includes('Berlin'))"
                            "(document.querySelector('#tb-understood'))")
    page.wait_for_function("document.querySelectorAll('#tb-cards article').length === 0")
    assert "Berlin" not in page.locator("#tb-understood").inner_text()
    deadline = time.monotonic() + 30  # the stopped turn leaves the line (bounded wait: busy CI cores)
    while site.app.app.state.door.queue.status().running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert site.app.app.state.door.queue.status().running == 0


@pytest.mark.browser
def test_ui_forget_me_deletes_the_profile(site: SimpleNamespace, page) -> None:
    page.goto(site.app.url)
    assert not [c for c in page.context.cookies() if c["name"] == "tastebud_profile"]  # a page load makes none
    send(page, "action in Madrid")
    page.wait_for_function("document.querySelector('#tb-status')?.innerText.includes('Done')")
    pid = profile_cookie(page)["value"]  # the first saved turn's profile
    assert site.app.profiles.profile_summary(pid)["counts"]["turns"] == 1
    page.get_by_role("button", name="Forget me").click()
    page.wait_for_function("document.querySelector('#tb-status')?.innerText.includes('is deleted')")
    assert not site.app.profiles.has_profile(pid)
    deadline = time.monotonic() + 10  # the page drops the deleted profile's cookie
    while [c for c in page.context.cookies() if c["name"] == "tastebud_profile"] and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert not [c for c in page.context.cookies() if c["name"] == "tastebud_profile"]
    page.reload()  # a new visit starts without a profile until its first saved turn
    assert not [c for c in page.context.cookies() if c["name"] == "tastebud_profile"]
    send(page, "comedy in Rome")
    page.wait_for_function("document.querySelector('#tb-status')?.innerText.includes('Done')")
    new_pid = profile_cookie(page)["value"]
    assert new_pid != pid and site.app.profiles.has_profile(new_pid)


@pytest.mark.browser
def test_ui_tells_a_waiting_person_their_place_in_line(site: SimpleNamespace, page) -> None:
    queue = site.app.app.state.door.queue
    holders = [queue.enter() for _ in range(queue.max_running)]  # every turn slot is someone else's
    try:
        page.goto(site.app.url)
        send(page, "comedy please")
        page.wait_for_function("document.querySelector('#tb-chat')?.innerText.includes('you are number 1 in line')")
        assert page.locator("#tb-cards article").count() == 0
    finally:
        for holder in holders:
            holder.release()
    page.wait_for_function("document.querySelector('#tb-status')?.innerText.includes('Done')")
    assert "you are number 1" not in page.locator("#tb-chat").inner_text()  # replaced by the answer
    assert page.locator("#tb-cards article").count() > 0


@pytest.mark.browser
def test_widget_on_an_allowed_host_page_answers(site: SimpleNamespace, page) -> None:
    page.goto(site.allowed_url)
    assert page.evaluate("location.origin") != site.app.url  # a different origin
    page.get_by_role("button", name="Open Movie night? chat").click()
    box = page.get_by_label("Your message")
    box.fill("something funny in Tokyo")
    box.press("Enter")
    widget = page.locator("#tastebud-widget")
    widget.locator(".tb-card").first.wait_for()
    widget.locator(".tb-bot").first.wait_for()
    assert "ideas for Tokyo" in widget.locator(".tb-bot").first.inner_text()
    first = widget.locator(".tb-card").first
    first.get_by_role("button", name=re.compile("^Like: ")).click()
    page.wait_for_function("document.querySelector('#tastebud-widget').shadowRoot"
                           ".querySelector('.tb-card button[data-signal=like]').getAttribute('aria-pressed') === 'true'")
    memory = page.evaluate(f"JSON.parse(localStorage.getItem('tastebud:{site.app.url}'))")
    assert site.app.profiles.liked(memory["profile_id"])  # the like reached the profile
    assert page.dialogs == []


@pytest.mark.browser
def test_widget_on_a_refused_host_page_says_so(site: SimpleNamespace, page) -> None:
    page.goto(site.refused_url)
    page.get_by_role("button", name="Open Movie night? chat").click()
    error = page.locator("#tastebud-widget .tb-error")
    error.wait_for()
    assert "this site is not allowed to embed tastebud" in error.inner_text()
    assert page.get_by_label("Your message").is_disabled()


# ------------------------------------------------------------------------------------------ the real agent
@pytest.fixture(scope="module")
def real_site(trained_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The app over the REAL agent: demo catalog + index, trained interest model, embedded 1.5B LLM."""
    import os

    import httpx

    from chatbot.turn.agent import Agent
    from chatbot.doors.web.api import WebLimits, create_app
    from chatbot.config import Settings
    from chatbot.turn.context import OfflineWeatherProvider
    from chatbot.llm import make_chat_model
    from chatbot.profiles import ProfileStore
    from chatbot.doors.web.server import running_app

    # The GGUF is assembled once into the repo's var/ (or TASTEBUD_TEST_LLM_DIR), not copied per session.
    llm_dir = Path(os.environ.get("TASTEBUD_TEST_LLM_DIR", Path(__file__).resolve().parents[2] / "var"))
    llm = make_chat_model(Settings(llm="embedded", data_dir=llm_dir, llm_timeout_s=120))
    settings = Settings(data_dir=trained_demo_dir, llm="embedded", llm_timeout_s=120)
    profiles = ProfileStore.open(tmp_path_factory.mktemp("real-web"))
    agent = Agent.from_settings(settings, llm=llm, weather=OfflineWeatherProvider(), profiles=profiles)
    app = create_app(settings, agent=agent, profiles=profiles, limits=WebLimits(rate_limit="1000/minute"))
    with running_app(app, settings) as url, httpx.Client(base_url=url, timeout=300) as client:
        yield SimpleNamespace(url=url, agent=agent, profiles=profiles, client=client)
    profiles.close()


@pytest.mark.slow
@pytest.mark.browser
def test_real_agent_in_the_browser(real_site: SimpleNamespace, page) -> None:
    page.set_default_timeout(300_000)  # two real turns on 2 shared cores
    page.goto(real_site.url)
    send(page, "Something funny for a rainy evening in Seattle with the kids")
    page.locator("#tb-cards article.tb-card").first.wait_for()
    page.wait_for_function("document.querySelector('#tb-status')?.innerText.includes('Done')")
    ids = cards_of(page)
    items = real_site.agent.items
    assert ids and all(i in items for i in ids)  # real catalog items only
    assert all(items[i].age_rating in ("G", "PG") for i in ids)  # kids: enforced by code
    panel = page.locator("#tb-understood").inner_text()
    assert "Seattle" in panel and "watching with: kids" in panel and "you said so" in panel
    first_title = items[ids[0]].title
    page.get_by_role("button", name=f"Like: {first_title}", exact=True).click()
    page.wait_for_function(f"document.querySelector('#tb-cards [data-item=\"{ids[0]}\"][data-signal=\"like\"]')"
                           ".getAttribute('aria-pressed') === 'true'")
    assert real_site.profiles.liked(profile_cookie(page)["value"]) == [ids[0]]
    page.get_by_role("button", name="Remove watching with: kids").click()
    page.wait_for_function("(e => !!e && !e.innerText.includes('watching with: kids'))"
                            "(document.querySelector('#tb-understood'))")
    send(page, "more like the first one")
    page.wait_for_function(f"!{ids!r}.includes(document.querySelector('#tb-cards article').dataset.itemId)")
    page.wait_for_function("document.querySelector('#tb-status')?.innerText.includes('Done')")
    again = cards_of(page)
    assert again and not set(again) & set(ids)  # nothing shown twice in a conversation
    assert page.dialogs == []


@pytest.mark.slow
def test_real_agent_over_the_api(real_site: SimpleNamespace) -> None:
    r = real_site.client.post("/api/chat", json={"message": "a scary film for tonight, not too long"})
    assert r.status_code == 200
    done = r.json()
    assert done["items"] and all(c["id"] in real_site.agent.items and c["note"] for c in done["items"])
    assert done["reply"] and done["understood"] and done["timings"]["total_ms"] > 0
    r = real_site.client.post("/api/feedback", json={"session_id": done["session_id"], "item_id": "ml:999999999",
                                                      "signal": "like"})
    assert r.status_code == 422 and "not shown" in r.json()["error"]
