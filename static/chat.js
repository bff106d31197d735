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

  function scrollToEnd() {
    const list = messages();
    if (list) list.lastElementChild?.scrollIntoView({ block: "end" });
  }

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
      if (box && box.value.trim() === String(pending.text).trim()) box.value = "";
      pending = null;
      scrollToEnd();
    } else if (document.querySelector('[data-status="streaming"]')) {
      scrollToEnd();
    }
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
    scrollToEnd();
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

  function setConnection(text) {
    const status = document.getElementById("connection-status");
    if (!status) return;
    status.textContent = text;
    status.hidden = !text;
  }
  document.addEventListener("htmx:wsClose", () => setConnection("Connection lost. Reconnecting…"));
  document.addEventListener("htmx:wsError", () => setConnection("Connection lost. Reconnecting…"));
  document.addEventListener("htmx:wsOpen", () => setConnection(""));

  document.addEventListener("keydown", (evt) => {
    const box = evt.target;
    if (box.id !== "message-text" || evt.key !== "Enter" || evt.shiftKey || evt.isComposing) return;
    evt.preventDefault();
    box.form.requestSubmit();
  });

  document.addEventListener("DOMContentLoaded", scrollToEnd);
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
