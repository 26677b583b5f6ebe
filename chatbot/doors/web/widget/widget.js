/* tastebud widget: a floating chat button + panel for any host page, talking to /api/chat/stream.
 *
 *   <script src="https://TASTEBUD_HOST/widget.js" data-title="Movie night?" data-accent="#7b2cbf"
 *           data-position="right" async></script>
 *
 * Self-contained (no CDN, works offline), styles isolated in a shadow root, every text from the server or
 * the person is inserted with textContent (never innerHTML). The host page's origin must be listed in the
 * server's TASTEBUD_ALLOWED_ORIGINS; otherwise the panel says "this site is not allowed to embed tastebud".
 * The person's profile id is kept in this site's localStorage and sent with each message.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__tastebudWidget) return;
  window.__tastebudWidget = true;

  var BASE = new URL(script.src, window.location.href).origin;
  var STORE_KEY = "tastebud:" + BASE;
  var ds = script.dataset || {};
  var title = (ds.title || "tastebud").slice(0, 60);
  var accent = /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\))$/.test(ds.accent || "")
    ? ds.accent : "#e4572e";
  var side = ds.position === "left" ? "left" : "right";

  var memory = {};
  try { memory = JSON.parse(window.localStorage.getItem(STORE_KEY) || "{}") || {}; } catch (e) { memory = {}; }
  function remember() {
    try { window.localStorage.setItem(STORE_KEY, JSON.stringify(memory)); } catch (e) { /* private mode */ }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var host = el("div", { id: "tastebud-widget" });
  var root = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent = [
    ":host { all: initial; }",
    ".tb-fab { position: fixed; bottom: 20px; " + side + ": 20px; width: 56px; height: 56px; border-radius: 50%;",
    "  border: none; background: var(--tb-accent); color: #fff; font-size: 26px; cursor: pointer; z-index: 2147483646;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
    ".tb-fab:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid #111; outline-offset: 2px; }",
    ".tb-panel { position: fixed; bottom: 88px; " + side + ": 20px; width: min(380px, calc(100vw - 40px));",
    "  height: min(560px, calc(100vh - 120px)); display: none; flex-direction: column; background: #fff; color: #111;",
    "  border-radius: 14px; box-shadow: 0 8px 30px rgba(0,0,0,.3); font: 14px/1.4 system-ui, sans-serif;",
    "  z-index: 2147483647; overflow: hidden; }",
    ".tb-panel[data-open='true'] { display: flex; }",
    ".tb-head { display: flex; align-items: center; justify-content: space-between; padding: 10px 14px;",
    "  background: var(--tb-accent); color: #fff; font-weight: 600; }",
    ".tb-head button { background: transparent; border: none; color: #fff; font-size: 20px; cursor: pointer; }",
    ".tb-log { flex: 1; overflow-y: auto; padding: 10px 12px; display: flex; flex-direction: column; gap: 8px; }",
    ".tb-msg { padding: 7px 10px; border-radius: 10px; max-width: 90%; white-space: pre-wrap; word-wrap: break-word; }",
    ".tb-user { align-self: flex-end; background: #eef; }",
    ".tb-bot { align-self: flex-start; background: #f3f3f3; }",
    ".tb-error { align-self: stretch; background: #fde8e8; color: #8a1111; }",
    ".tb-busy { align-self: stretch; background: #fff6d6; }",
    ".tb-card { border: 1px solid #ddd; border-radius: 10px; padding: 7px 10px; }",
    ".tb-card h4 { margin: 0 0 2px 0; font-size: 14px; }",
    ".tb-meta { font-size: 12px; color: #555; }",
    ".tb-note { margin: 4px 0; }",
    ".tb-actions button { border: 1px solid #ccc; border-radius: 6px; background: #fafafa; padding: 2px 8px;",
    "  cursor: pointer; margin-right: 4px; }",
    ".tb-actions button[aria-pressed='true'] { background: var(--tb-accent); color: #fff; }",
    "form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #eee; }",
    "form input { flex: 1; padding: 8px; border: 1px solid #ccc; border-radius: 8px; font: inherit; }",
    "form button { padding: 8px 12px; border: none; border-radius: 8px; background: var(--tb-accent); color: #fff;",
    "  cursor: pointer; font: inherit; }",
    "form button[disabled], form input[disabled] { opacity: .5; cursor: not-allowed; }",
    ".tb-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }"
  ].join("\n");
  root.appendChild(style);
  host.style.setProperty("--tb-accent", accent);

  var fab = el("button", { type: "button", class: "tb-fab", "aria-label": "Open " + title + " chat",
                           "aria-expanded": "false", "aria-controls": "tb-panel" }, "🎬");
  var panel = el("div", { id: "tb-panel", class: "tb-panel", role: "dialog", "aria-label": title, "data-open": "false" });
  var head = el("div", { class: "tb-head" });
  head.appendChild(el("span", {}, title));
  var close = el("button", { type: "button", "aria-label": "Close chat" }, "×");
  head.appendChild(close);
  var log = el("div", { class: "tb-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  var form = el("form", { "aria-label": "Send a message" });
  var label = el("label", { for: "tb-input", class: "tb-sr" }, "Your message");
  var input = el("input", { id: "tb-input", type: "text", autocomplete: "off", maxlength: "4000",
                            placeholder: "What do you feel like watching?" });
  var send = el("button", { type: "submit" }, "Send");
  form.appendChild(label); form.appendChild(input); form.appendChild(send);
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(form);
  root.appendChild(fab); root.appendChild(panel);

  var checked = false;
  var allowed = false;
  var busy = false;

  function say(kind, text) {
    var node = el("div", { class: "tb-msg tb-" + kind }, text);
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  function setEnabled(on) {
    input.disabled = !on; send.disabled = !on;
  }

  function errorText(status, body) {
    if (body && typeof body.error === "string") return body.error;
    if (status === 403) return "this site is not allowed to embed tastebud";
    return "tastebud could not answer (HTTP " + status + ")";
  }

  function check() {
    if (checked) return Promise.resolve(allowed);
    return fetch(BASE + "/api/widget/check", { method: "GET", credentials: "omit" }).then(function (r) {
      checked = true;
      if (r.ok) { allowed = true; return true; }
      return r.json().catch(function () { return null; }).then(function (body) {
        var msg = r.status === 403 ? "this site is not allowed to embed tastebud" : errorText(r.status, body);
        say("error", msg + (body && body.error && r.status === 403 ? " (" + body.error + ")" : ""));
        setEnabled(false);
        return false;
      });
    }, function () {
      say("error", "tastebud cannot be reached right now (or this site is not allowed to embed tastebud)");
      return false;
    });
  }

  function open(on) {
    panel.setAttribute("data-open", on ? "true" : "false");
    fab.setAttribute("aria-expanded", on ? "true" : "false");
    if (on) {
      check().then(function (ok) { if (ok) input.focus(); });
    } else {
      fab.focus();
    }
  }
  fab.addEventListener("click", function () { open(panel.getAttribute("data-open") !== "true"); });
  close.addEventListener("click", function () { open(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") open(false); });

  function feedback(itemId, signal, buttons, pressed) {
    if (!memory.session_id) return;
    fetch(BASE + "/api/feedback", {
      method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session_id: memory.session_id, item_id: itemId, signal: signal })
    }).then(function (r) {
      if (r.ok) {
        buttons.forEach(function (b) { b.setAttribute("aria-pressed", b === pressed ? "true" : "false"); });
      } else {
        r.json().catch(function () { return null; }).then(function (body) { say("error", errorText(r.status, body)); });
      }
    }, function () { say("error", "tastebud cannot be reached right now"); });
  }

  function renderCards(items) {
    var notes = {};
    items.forEach(function (item, i) {
      var card = el("div", { class: "tb-card", "data-item-id": String(item.id) });
      var heading = item.title + (item.year ? " (" + item.year + ")" : "");
      card.appendChild(el("h4", {}, (i + 1) + ". " + heading));
      var meta = [];
      if (item.age_rating) meta.push(item.age_rating);
      if (item.genres && item.genres.length) meta.push(item.genres.join(" · "));
      if (item.runtime_min) meta.push(item.runtime_min + " min");
      (item.facts || []).forEach(function (f) { meta.push(f); });
      card.appendChild(el("div", { class: "tb-meta" }, meta.join(" — ")));
      var note = el("div", { class: "tb-note" }, item.note || "");
      notes[i + 1] = note;
      card.appendChild(note);
      var actions = el("div", { class: "tb-actions", role: "group", "aria-label": "feedback on " + item.title });
      var buttons = [];
      [["like", "👍 Like"], ["dislike", "👎 Not for me"]].forEach(function (pair) {
        var b = el("button", { type: "button", "aria-pressed": "false", "data-signal": pair[0],
                               "aria-label": (pair[0] === "like" ? "Like: " : "Not for me: ") + item.title }, pair[1]);
        b.addEventListener("click", function () { feedback(String(item.id), pair[0], buttons, b); });
        buttons.push(b);
        actions.appendChild(b);
      });
      card.appendChild(actions);
      log.appendChild(card);
    });
    log.scrollTop = log.scrollHeight;
    return notes;
  }

  function handle(kind, data, turn) {
    if (kind === "busy") {
      turn.busy = turn.busy || say("busy", "");
      turn.busy.textContent = "Busy right now: you are number " + data.position + " in line.";
    } else if (kind === "items") {
      if (turn.busy) { turn.busy.remove(); turn.busy = null; }
      turn.notes = renderCards(data.items || []);
    } else if (kind === "note") {
      var node = turn.notes && turn.notes[data.position];
      if (node && typeof data.final === "string") node.textContent = data.final;  // the checked note
      else if (node && typeof data.delta === "string") node.textContent += data.delta;
    } else if (kind === "done") {
      if (turn.busy) { turn.busy.remove(); turn.busy = null; }
      memory.session_id = data.session_id; memory.profile_id = data.profile_id; remember();
      if (!turn.notes) renderCards(data.items || []);
      say("bot", data.reply || "");
    } else if (kind === "error") {
      if (turn.busy) { turn.busy.remove(); turn.busy = null; }
      say("error", data.message || "tastebud could not answer this time");
    }
  }

  function parseEvents(buffer, turn) {
    var blocks = buffer.split("\n\n");
    var rest = blocks.pop();
    blocks.forEach(function (block) {
      var kind = "message", lines = [];
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) kind = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) lines.push(line.slice(5).replace(/^ /, ""));
      });
      if (lines.length) {
        try { handle(kind, JSON.parse(lines.join("\n")), turn); } catch (e) { /* ignore a malformed event */ }
      }
    });
    return rest;
  }

  function ask(message) {
    busy = true; setEnabled(false);
    var body = { message: message };
    if (memory.session_id) body.session_id = memory.session_id;
    if (memory.profile_id) body.profile_id = memory.profile_id;
    var turn = {};
    return fetch(BASE + "/api/chat/stream", {
      method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return null; }).then(function (err) {
          if (r.status === 404 && (memory.session_id || memory.profile_id)) {
            memory = {}; remember();  // the conversation or profile was forgotten: start a new one
            say("error", "That conversation has ended; please send your message again.");
          } else {
            say("error", errorText(r.status, err));
          }
        });
      }
      var reader = r.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) { parseEvents(buffer + "\n\n", turn); return; }
          buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), turn);
          return pump();
        });
      }
      return pump();
    }, function () {
      say("error", "tastebud cannot be reached right now");
    }).then(function () { busy = false; setEnabled(allowed); input.focus(); });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    say("user", text);
    check().then(function (ok) { if (ok) ask(text); });
  });

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
