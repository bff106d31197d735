// Bowout's few lines of glue around htmx: message ids, Enter to send, keeping the draft until the
// server has the message, and telling the user when the live connection drops.
(function () {
  "use strict";

  let pending = null; // the message sent and not yet seen back from the server

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
  }

  function messages() { return document.getElementById("messages"); }

  // The message list scrolls on its own (the window does not): keep its end in view on load, after a
  // send, and while a reply streams, unless the user has scrolled up to read.
  function scrollToEnd() {
    const list = messages();
    if (list) list.scrollTop = list.scrollHeight;
  }

  function atEnd() {
    const list = messages();
    return !list || list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  }

  let followEnd = true;
  document.addEventListener("htmx:wsBeforeMessage", () => { followEnd = atEnd(); });

  document.addEventListener("htmx:wsConfigSend", (evt) => {
    const params = evt.detail.parameters;
    delete params.csrfmiddlewaretoken;
    if (params.action === "send") {
      params.client_id = newId();
      pending = { id: params.client_id, text: params.text };
      const error = document.getElementById("composer-error");
      if (error) error.replaceChildren();
    }
  });

  document.addEventListener("htmx:wsAfterMessage", () => {
    if (pending && document.querySelector(`[data-client-id="${pending.id}"]`)) {
      const box = document.getElementById("message-text");
      // Only clear what was sent: the user may have typed on meanwhile.
      if (box && box.value.trim() === String(pending.text).trim()) {
        box.value = "";
        fitComposer();
      }
      pending = null;
      scrollToEnd();
    } else if (followEnd) {
      scrollToEnd();
    }
    const title = document.getElementById("conversation-title");
    if (title) document.title = `${title.textContent.trim()} · Bowout`;
  });

  // Stream frames ({"stream": reply id, "at": offset, "text": new text}) carry only the new text of a
  // reply. It is appended as text (never parsed as HTML) when its offset follows what the tab has;
  // overlaps are trimmed; a gap asks the server for the whole text ({"whole": true} replaces it unless
  // shorter, i.e. stale; {"reset": true}, the writer's text changed, always replaces it).
  let resyncAsked = 0;

  function applyStream(frame, socket) {
    const body = document.getElementById(`msg-${frame.stream}-body`);
    if (!body) return;
    if (frame.reset || (frame.whole && frame.text.length >= body.textContent.length)) {
      body.textContent = frame.text;
    } else if (frame.whole) {
      return; // older than what the tab has
    } else {
      const have = body.textContent.length;
      if (frame.at > have) {
        if (Date.now() - resyncAsked > 1000) {
          resyncAsked = Date.now();
          socket.send(JSON.stringify({ action: "resync" }));
        }
        return;
      }
      if (frame.at + frame.text.length <= have) return;
      body.append(frame.text.slice(have - frame.at));
    }
    if (followEnd) scrollToEnd();
  }

  document.addEventListener("htmx:wsBeforeMessage", (evt) => {
    const message = evt.detail.message;
    if (typeof message !== "string" || !message.startsWith('{"stream":')) return;
    evt.preventDefault(); // not HTML: htmx must not swap it
    try {
      applyStream(JSON.parse(message), evt.detail.socketWrapper);
    } catch (error) {
      console.error("Bowout: unreadable stream frame", error);
    }
  });

  function setConnection(text, link) {
    const status = document.getElementById("connection-status");
    if (!status) return;
    status.textContent = text;
    if (link && link.href) {
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.label;
      status.append(" ", a);
    }
    status.hidden = !text;
  }

  // The ws extension reconnects only after these (abnormal) closes; any other close is for good, and
  // the page says why (close codes from chat/close_codes.py).
  const RECONNECTING = [1006, 1011, 1012, 1013];
  function closedFor(code, status) {
    const login = status && status.dataset.loginUrl;
    const home = status && status.dataset.homeUrl;
    switch (code) {
      case 4401: return ["You have been signed out. Log in again.", { label: "Log in", href: login }];
      case 4403: return ["This chat cannot be opened here any more.", { label: "Back to your chats", href: home }];
      case 4404: return ["This chat was deleted.", { label: "Back to your chats", href: home }];
      default: return ["The live connection closed. Reload the page to continue.", { label: "Reload", href: location.href }];
    }
  }

  document.addEventListener("htmx:wsClose", (evt) => {
    const code = evt.detail.event ? evt.detail.event.code : 1006;
    if (RECONNECTING.includes(code)) {
      setConnection("Connection lost. Reconnecting…");
      return;
    }
    const [text, link] = closedFor(code, document.getElementById("connection-status"));
    setConnection(text, link);
    // Nothing typed here could be sent any more: the draft stays readable (and copyable), the buttons off.
    const area = document.getElementById("composer-area");
    area?.querySelectorAll("textarea").forEach((box) => { box.readOnly = true; });
    area?.querySelectorAll("button").forEach((button) => { button.disabled = true; });
  });
  document.addEventListener("htmx:wsError", () => setConnection("Connection lost. Reconnecting…"));
  document.addEventListener("htmx:wsOpen", () => setConnection(""));

  document.addEventListener("keydown", (evt) => {
    const box = evt.target;
    if (box.id !== "message-text" || evt.key !== "Enter" || evt.shiftKey || evt.isComposing) return;
    evt.preventDefault();
    box.form.requestSubmit();
  });

  // The chat list: a menu on phones, always open on wider screens (for browsers whose CSS cannot
  // show a closed <details>' content, see bowout.css).
  const wide = window.matchMedia("(min-width: 44.01rem)");
  function fitChatList() {
    const menu = document.querySelector(".sidebar__menu");
    if (menu) menu.open = wide.matches;
  }
  wide.addEventListener("change", fitChatList);

  // The composer grows with its text up to 40% of the window. CSS field-sizing does it where the browser
  // knows it; elsewhere the height follows the text here.
  const sizesItself = window.CSS && CSS.supports("field-sizing", "content");
  function fitComposer() {
    const box = document.getElementById("message-text");
    if (!box || sizesItself) return;
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight + 2, window.innerHeight * 0.4)}px`;
  }
  document.addEventListener("input", (evt) => { if (evt.target.id === "message-text") fitComposer(); });

  document.addEventListener("DOMContentLoaded", () => {
    fitChatList();
    fitComposer();
    // A link to one message (#msg-…) goes there; otherwise the newest message is in view.
    if (!location.hash) scrollToEnd();
    // Ready to type, as in the chats people use; not on touch screens, where it would open the keyboard.
    const box = document.getElementById("message-text");
    if (box && !window.matchMedia("(pointer: coarse)").matches) box.focus({ preventScroll: true });
  });
})();

// "End chat" opens its confirmation dialog; without JavaScript the same button loads a page.
document.addEventListener("submit", (evt) => {
  const form = evt.target;
  const dialogId = form.dataset.opensDialog;
  if (!dialogId) return;
  const dialog = document.getElementById(dialogId);
  if (!dialog || typeof dialog.showModal !== "function") return;
  evt.preventDefault();
  dialog.showModal();
});

document.addEventListener("click", (evt) => {
  const button = evt.target.closest("[data-closes-dialog]");
  if (button) document.getElementById(button.dataset.closesDialog)?.close();
});

// Copy buttons on code blocks and messages (shown only when this script runs: see .js in bowout.css).
document.addEventListener("click", async (evt) => {
  const button = evt.target.closest(".copy-button");
  if (!button) return;
  const source = button.dataset.copy === "code"
    ? button.closest(".code-block")?.querySelector("pre")
    : button.closest(".message")?.querySelector(".message__body");
  if (!source) return;
  const text = source.innerText.replace(/\n$/, "");
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch (error) {
    // No clipboard API (a page served over plain HTTP from another host): select the text for Ctrl+C.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
  clearTimeout(Number(button.dataset.timer));
  button.dataset.timer = String(setTimeout(() => { button.textContent = label; }, 2000));
});

// The skip link puts the keyboard in the message box (or the main content when the chat has none).
document.addEventListener("click", (evt) => {
  const link = evt.target.closest(".skip-link");
  if (!link) return;
  const target = document.querySelector(link.getAttribute("href")) || document.getElementById("main");
  if (!target) return;
  evt.preventDefault();
  if (target.tabIndex < 0 && !target.matches("textarea, input, button, a[href]")) target.tabIndex = -1;
  target.focus();
});
