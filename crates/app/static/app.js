// textdesk's one script. The pages work without it; with it, the inbox and the
// open conversation update live over server-sent events, and Enter sends.

// A select marked data-autosubmit sends its form as soon as it changes. Here
// rather than in onchange= attributes, which the Content-Security-Policy
// forbids; delegated, so lists and threads refreshed live keep it.
document.addEventListener("change", function (e) {
  var el = e.target;
  if (el && el.form && el.matches && el.matches("select[data-autosubmit]")) el.form.submit();
});

// A button marked data-print prints the page (the transcript), since a
// printout is what it is for; the print stylesheet leaves the chrome out.
document.addEventListener("click", function (e) {
  var el = e.target && e.target.closest ? e.target.closest("[data-print]") : null;
  if (el) window.print();
});
(function () {
  "use strict";
  var state = document.getElementById("live-state");
  var list = document.querySelector("[data-live-list]");
  var thread = document.querySelector("[data-live-thread]");

  // The tab's title counts unread conversations in the list, so an agent
  // working in another tab sees that customers are waiting.
  var baseTitle = document.title;
  function titleUnread() {
    if (!list) return;
    var n = list.querySelectorAll(".row.unread").length;
    document.title = n > 0 ? "(" + n + ") " + baseTitle : baseTitle;
  }

  function scrollThread() {
    var m = document.getElementById("messages");
    if (m) m.scrollTop = m.scrollHeight;
  }

  // Refreshes can overlap (a message and its delivery report a few ms apart);
  // only the newest one asked for is shown, so a slow older answer cannot
  // overwrite a newer one.
  var asked = 0;
  function refresh(el, url, after) {
    var n = ++asked;
    el.setAttribute("data-asked", n);
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { if (!r.ok || r.redirected) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        if (el.getAttribute("data-asked") !== String(n)) return;
        el.setAttribute("data-shown", n);
        var y = el.scrollTop;
        swap(el, html);
        el.scrollTop = y;
        foldActions();
        offerOwnZone();
        if (el === thread) document.dispatchEvent(new CustomEvent("textdesk:thread"));
        if (after) after();
      })
      .catch(function () { if (el.getAttribute("data-asked") === String(n)) el.setAttribute("data-shown", n); });
  }

  // The list's head (search, filters) is the agent's own and may be half typed
  // or open: a live refresh changes only the rows and the link to older ones.
  function swap(el, html) {
    var head = el === list && el.querySelector(".list-head");
    if (!head) { el.innerHTML = html; return; }
    var fresh = document.createElement("template");
    fresh.innerHTML = html;
    var rows = el.querySelector(".rows"), newRows = fresh.content.querySelector(".rows");
    if (!rows || !newRows) { el.innerHTML = html; return; }
    rows.replaceWith(newRows);
    var more = el.querySelector(".more"), newMore = fresh.content.querySelector(".more");
    if (more) more.remove();
    if (newMore) newRows.after(newMore);
  }

  function refreshList() {
    if (!list) return;
    var rows = list.querySelector(".rows");
    var q = rows ? rows.getAttribute("data-query") : "";
    var active = list.getAttribute("data-active");
    refresh(list, "/inbox/list?" + q + "&rows=1" + (active ? "&active=" + active : ""), titleUnread);
  }

  // The waiting badges are worded by the server (against the account's
  // target): a list left open asks for its rows again every minute.
  if (list) setInterval(refreshList, 60000);

  // While the agent edits a waiting message, re-rendering the thread would
  // close the form and lose the edit: the refresh waits until it is closed.
  var deferred = false;
  function refreshThread() {
    if (!thread) return;
    if (thread.querySelector(".waiting-edit[open], .contact-panel form[data-editing]")) { deferred = true; return; }
    deferred = false;
    var m = document.getElementById("messages");
    var atBottom = !m || m.scrollHeight - m.scrollTop - m.clientHeight < 80;
    // The page's query names the list the agent came from; the actions carry it on.
    refresh(thread, "/conversations/" + thread.getAttribute("data-live-thread") + "/thread" + location.search, function () { if (atBottom) scrollThread(); });
  }

  // Events a few ms apart are shown by one refresh; the thread is refreshed if
  // any of them concerns it.
  var pending = null, threadDue = false;
  function schedule(ev) {
    var data = {};
    try { data = JSON.parse(ev.data); } catch (e) {}
    // Read and unread marks change the lists only (refreshing an open thread marks it read again).
    var marks = ev.type === "conversation.unread" || ev.type === "conversation.read";
    if (thread && !marks && (!data.conversation_id || String(data.conversation_id) === thread.getAttribute("data-live-thread"))) threadDue = true;
    clearTimeout(pending);
    // Marked until the refreshes are asked for (see data-asked in refresh()).
    document.body.setAttribute("data-live-pending", "");
    pending = setTimeout(function () {
      document.body.removeAttribute("data-live-pending");
      refreshList();
      if (threadDue) { threadDue = false; refreshThread(); }
    }, 60);
  }

  // "toggle" does not bubble: listen while it goes down.
  if (thread) thread.addEventListener("toggle", function (e) { if (deferred && !e.target.open) refreshThread(); }, true);

  // The live connection. Every event has an id: when the connection drops the
  // browser retries with Last-Event-ID and the server replays what was missed.
  // When the browser gives up (the server was down) or the network goes away,
  // we reconnect ourselves from the last id, backing off.
  var lastId = null, everOpen = false, backoff = 1000, es = null, retryTimer = null;
  function showLive(up) {
    if (!state) return;
    state.textContent = up ? "● Live" : "Reconnecting…";
    state.className = up ? "live" : "live off";
  }
  function onLive(ev) {
    if (ev.lastEventId) lastId = ev.lastEventId;
    // "ready" only says where the stream starts, to resume from there.
    if (ev.type === "ready") return;
    schedule(ev);
    var data = {};
    try { data = JSON.parse(ev.data); } catch (e) {}
    document.dispatchEvent(new CustomEvent("textdesk:live", { detail: { kind: ev.type, data: data } }));
  }
  function disconnect() {
    clearTimeout(retryTimer);
    if (es) { es.close(); es = null; }
  }
  function connect() {
    disconnect();
    es = new EventSource("/events" + (lastId ? "?after=" + encodeURIComponent(lastId) : ""));
    ["ready", "message.created", "message.updated", "message.deleted", "conversation.updated", "conversation.escalated", "survey.low_score", "callback.due", "review.queued", "webhook.switched_off", "conversation.read", "conversation.unread", "resync"].forEach(function (k) { es.addEventListener(k, onLive); });
    es.onopen = function () {
      backoff = 1000;
      showLive(true);
      // What happened between rendering the page and the first connection was
      // not streamed to us: refresh once. Later reconnections replay events.
      if (!everOpen) { everOpen = true; schedule({ data: "{}" }); }
    };
    es.onerror = function () {
      showLive(false);
      if (es && es.readyState === EventSource.CLOSED) {
        disconnect();
        retryTimer = setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 30000);
      }
    };
  }
  if (window.EventSource && (list || thread)) {
    connect();
    // A dead network can leave a stream looking open for minutes: say so at
    // once, and resume as soon as the browser is back online.
    window.addEventListener("offline", function () { disconnect(); showLive(false); });
    window.addEventListener("online", function () { backoff = 1000; connect(); });
  }

  scrollThread();
  titleUnread();

  // On a phone the thread's actions fold into a menu, leaving room for the messages.
  function foldActions() {
    if (!window.matchMedia("(max-width: 720px)").matches) return;
    document.querySelectorAll(".actions-menu[open]").forEach(function (d) { d.removeAttribute("open"); });
  }
  foldActions();

  // "Send later" reads a time in the customer's zone or the business's; the
  // agent's own zone is known only to their browser.
  function offerOwnZone() {
    var own = "";
    try { own = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) {}
    if (!own) return;
    document.querySelectorAll("select[data-zone-select]").forEach(function (sel) {
      if (sel.querySelector("option[data-own]")) return;
      var o = document.createElement("option");
      o.value = own;
      o.textContent = "your time (" + own + ")";
      o.setAttribute("data-own", "1");
      sel.appendChild(o);
    });
    // Snooze presets ("tomorrow 9:00") are read on the agent's own clock.
    document.querySelectorAll("input[data-own-zone]").forEach(function (i) {
      i.value = own;
      var note = i.form && i.form.querySelector("[data-zone-note]");
      if (note) note.textContent = "Times are in your time (" + own + ").";
    });
    // Picking a date and time means "Until…", whichever preset was checked.
    document.querySelectorAll(".snooze-picker input[name=until]").forEach(function (i) {
      i.addEventListener("input", function () {
        var r = i.form && i.form.querySelector("input[name=snooze][value=until]");
        if (r && i.value) r.checked = true;
      });
    });
    // Times the server wrote in business time, shown on the agent's clock.
    document.querySelectorAll("time[data-local-time]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      // The server gives the date too when it is more than a few days off.
      var opts = { weekday: "short", hour: "numeric", minute: "2-digit" };
      if (t.textContent.indexOf(",") >= 0) { opts.month = "short"; opts.day = "numeric"; }
      try { if (!isNaN(d)) t.textContent = new Intl.DateTimeFormat(undefined, opts).format(d).replace(/^(\w+),/, "$1"); } catch (e) {}
    });
  }
  offerOwnZone();

  var composer = document.getElementById("composer");
  if (composer) {
    var body = composer.querySelector("textarea");
    var note = composer.querySelector("input[name=private]");
    var send = composer.querySelector("button[type=submit]");
    var blocked = composer.querySelector(".blocked-banner");
    // A STOP (or an opt-in) can arrive while the page is open: the refreshed
    // thread says whether this contact may be texted, and the composer follows,
    // as it would on a reload.
    document.addEventListener("textdesk:thread", function () {
      var lock = thread && thread.querySelector("[data-composer-lock]");
      if (!lock) return;
      var want = lock.content.querySelector(".blocked-banner");
      if (want && !blocked) {
        blocked = want.cloneNode(true);
        composer.insertBefore(blocked, composer.querySelector("textarea").previousElementSibling);
        if (note) note.checked = true;
      } else if (!want && blocked) {
        blocked.remove();
        blocked = null;
        if (note) note.checked = false;
      } else if (want && blocked) {
        blocked.innerHTML = want.innerHTML;
      }
      noteMode();
      askPreview();
    });
    // The person's preference (data-enter-sends: on, off, or auto until they
    // choose). Touch keyboards have no Shift: there "auto" makes Enter a new line.
    var enterToggle = document.getElementById("enter-sends");
    var hint = document.getElementById("composer-hint");
    var mode = composer.getAttribute("data-enter-sends") || "auto";
    var enterSends = mode === "on" || (mode === "auto" && !window.matchMedia("(pointer: coarse)").matches);
    function showEnterMode() {
      if (enterToggle) enterToggle.checked = enterSends;
      if (hint) hint.textContent = hint.getAttribute(enterSends ? "data-on" : "data-off");
      composer.setAttribute("data-enter-mode", enterSends ? "sends" : "newline");
    }
    showEnterMode();
    if (enterToggle) enterToggle.addEventListener("change", function () {
      enterSends = enterToggle.checked;
      showEnterMode();
      var prefs = document.getElementById("preferences");
      fetch(prefs.action, { method: "POST", body: new URLSearchParams(new FormData(prefs)), credentials: "same-origin", redirect: "manual" })
        .catch(function () {});
    });
    var attachments = composerAttachments(composer);
    // "Send later" is for one message: after any send the composer is back to
    // sending now, so the next ordinary reply is not scheduled too.
    function resetSendLater() {
      var later = composer.querySelector(".send-later");
      if (!later) return;
      later.querySelectorAll("input[name=send_at]").forEach(function (i) { i.value = ""; });
      later.open = false;
      noteMode();
    }
    var sendAt = composer.querySelector("input[name=send_at]");
    // The button says what it will do: a note, a message for later, or now.
    function noteMode() {
      var on = note && note.checked;
      composer.classList.toggle("is-note", !!on);
      var label = on ? "data-note-label" : sendAt && sendAt.value ? "data-later-label" : "data-send-label";
      if (send) send.textContent = send.getAttribute(label);
      body.placeholder = on ? "Only your team sees notes" : "Write a reply…";
    }
    if (sendAt) sendAt.addEventListener("input", noteMode);
    // The live counter: the server counts (one implementation, in core), we show it.
    var meta = document.getElementById("composer-meta");
    var via = composer.querySelector("select[data-via]");
    var previewTimer = null;
    function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; }
    function showPreview(p) {
      meta.innerHTML = "";
      if (!body.value) return;
      var texts = p.segments === 1 ? "1 text" : p.segments + " texts";
      var enc = p.encoding === "gsm7" ? "GSM-7" : "UCS-2 (Unicode)";
      var line = p.characters + " characters · " + texts + " · " + enc + " · " + p.remaining_in_segment + " left in this text";
      if (p.cost) line += " · about " + p.cost.total.toFixed(4) + " " + p.cost.currency;
      meta.appendChild(el("div", "count", line));
      if (p.warnings && p.warnings.length && !(note && note.checked)) {
        var ul = el("ul");
        p.warnings.forEach(function (w) { ul.appendChild(el("li", "warn-" + w.code, w.message)); });
        meta.appendChild(ul);
      }
      if (p.verdict && !(note && note.checked)) {
        if (p.verdict.decision === "defer") meta.appendChild(el("div", "verdict defer", "Will be sent at " + p.verdict.until_local + ": it is night where they are."));
        if (p.verdict.decision === "block") meta.appendChild(el("div", "verdict block", p.verdict.explanation));
        if (p.verdict.decision === "allow" && p.verdict.explanation) meta.appendChild(el("div", "verdict note", p.verdict.explanation));
      }
    }
    function askPreview() {
      if (!meta) return;
      clearTimeout(previewTimer);
      previewTimer = setTimeout(function () {
        var data = new URLSearchParams(); data.set("body", body.value);
        if (via) data.set("via", via.value);
        fetch(meta.getAttribute("data-preview"), { method: "POST", body: data, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (p) { if (p) showPreview(p); })
          .catch(function () {});
      }, 120);
    }
    body.addEventListener("input", askPreview);
    if (note) note.addEventListener("change", askPreview);
    // The channel picker: the gate's verdict is the chosen channel's.
    if (via) via.addEventListener("change", askPreview);
    if (body.value) askPreview();

    // Registered first: while the / picker is open, Enter picks instead of sending.
    var picker = document.getElementById("canned-picker");
    if (picker) cannedPicker(composer, body, picker, meta, askPreview);
    body.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.isComposing) return;
      var send = enterSends ? !e.shiftKey && !e.ctrlKey && !e.metaKey : e.ctrlKey || e.metaKey;
      if (send) {
        e.preventDefault();
        if (body.value.trim() || attachments.count()) composer.requestSubmit();
      }
    });
    if (note) note.addEventListener("change", noteMode);
    composer.addEventListener("submit", function (e) {
      e.preventDefault();
      if (attachments.busy()) { attachments.say("Wait until the files have uploaded."); return; }
      var form = new FormData(composer);
      form.delete("files");
      var data = new URLSearchParams(form);
      fetch(composer.action, { method: "POST", body: data, credentials: "same-origin", redirect: "manual" })
        .then(function (r) {
          var flash = document.getElementById("flash");
          if (r.type === "opaqueredirect" || r.ok) {
            body.value = "";
            attachments.clear();
            resetSendLater();
            if (meta) meta.innerHTML = "";
            if (note && !blocked) { note.checked = false; noteMode(); }
            if (flash) flash.remove();
            refreshThread();
            return;
          }
          return r.text().then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var msg = doc.getElementById("flash");
            // The banner already says why this contact cannot be texted.
            if (blocked && r.status === 409) { blocked.scrollIntoView({ block: "nearest" }); return; }
            if (!flash) {
              flash = document.createElement("p");
              flash.id = "flash"; flash.className = "flash error"; flash.setAttribute("role", "alert");
              composer.parentNode.insertBefore(flash, composer);
            }
            flash.textContent = msg ? msg.textContent : "The message could not be sent (" + r.status + ").";
          });
        })
        .catch(function () { composer.submit(); });
    });
  }

  // Composer attachments: each chosen file is uploaded at once (the server
  // checks its size and type) and shown as a removable chip; the reply sends
  // their ids. Without this script the files go with the form itself.
  function composerAttachments(composer) {
    var input = composer.querySelector("input[type=file]");
    var ids = document.getElementById("media-ids");
    var chips = document.getElementById("attachments-chosen");
    var error = document.getElementById("attach-error");
    var none = { count: function () { return 0; }, busy: function () { return false; }, clear: function () {}, say: function () {} };
    if (!input || !ids || !chips) return none;
    var pending = 0;
    function say(msg) { if (!error) return; error.textContent = msg || ""; error.hidden = !msg; }
    function sync() {
      var list = [];
      chips.querySelectorAll("li[data-media-id]").forEach(function (li) { list.push(li.getAttribute("data-media-id")); });
      ids.value = list.join(",");
      chips.hidden = !chips.children.length;
    }
    function chip(file) {
      var li = document.createElement("li");
      li.className = "chip uploading";
      if (/^image\//.test(file.type)) {
        var img = document.createElement("img");
        img.alt = "";
        img.src = URL.createObjectURL(file);
        img.onload = function () { URL.revokeObjectURL(img.src); };
        li.appendChild(img);
      }
      var name = document.createElement("span");
      name.className = "name"; name.textContent = file.name;
      li.appendChild(name);
      var rm = document.createElement("button");
      rm.type = "button"; rm.className = "remove"; rm.textContent = "×";
      rm.setAttribute("aria-label", "Remove " + file.name);
      rm.addEventListener("click", function () { li.remove(); sync(); input.focus(); });
      li.appendChild(rm);
      chips.appendChild(li);
      return li;
    }
    function upload(file) {
      var li = chip(file);
      var data = new FormData();
      data.set("csrf", composer.querySelector("input[name=csrf]").value);
      data.append("files", file, file.name);
      pending++;
      fetch(chips.getAttribute("data-upload"), { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) {
          return r.json().catch(function () { return null; }).then(function (j) { return { ok: r.ok, status: r.status, body: j }; });
        })
        .then(function (res) {
          if (res.ok && res.body && res.body[0]) {
            li.setAttribute("data-media-id", res.body[0].id);
            li.classList.remove("uploading");
          } else {
            li.remove();
            say(file.name + ": " + (res.body && res.body.detail ? res.body.detail : "could not be attached (" + res.status + ")"));
          }
        })
        .catch(function () { li.remove(); say(file.name + ": could not be attached (no connection)"); })
        .then(function () { pending--; sync(); });
    }
    input.addEventListener("change", function () {
      say("");
      Array.prototype.forEach.call(input.files, upload);
      // The files are kept on the server now; the form itself does not carry them.
      input.value = "";
    });
    sync();
    return {
      count: function () { return chips.querySelectorAll("li[data-media-id]").length; },
      busy: function () { return pending > 0; },
      clear: function () { chips.innerHTML = ""; say(""); sync(); },
      say: say,
    };
  }

  // The contact panel: a live refresh waits while an agent is typing in one of
  // its forms, and on a phone the panel stays folded or open as they left it.
  if (thread) {
    var narrow = window.matchMedia("(max-width: 960px)");
    var panelOpen = !narrow.matches;
    // Why an edit was refused stays in view until the agent edits again,
    // though live refreshes re-render the panel.
    var shownError = document.getElementById("panel-error");
    var errorText = shownError ? shownError.textContent : "";
    function keepPanel() {
      var d = thread.querySelector("[data-contact-details]");
      if (d && d.open !== panelOpen) d.open = panelOpen;
      if (d && errorText && !document.getElementById("panel-error")) {
        var p = document.createElement("p");
        p.id = "panel-error"; p.className = "flash error panel-error"; p.setAttribute("role", "alert");
        p.textContent = errorText;
        var summary = d.querySelector("summary");
        d.insertBefore(p, summary ? summary.nextSibling : d.firstChild);
      }
    }
    keepPanel();
    new MutationObserver(keepPanel).observe(thread, { childList: true });
    thread.addEventListener("toggle", function (e) {
      if (e.target.matches && e.target.matches("[data-contact-details]")) panelOpen = e.target.open;
    }, true);
    function edited(form) {
      return Array.prototype.some.call(form.querySelectorAll("input:not([type=hidden]), textarea"), function (f) { return f.value !== f.defaultValue; });
    }
    thread.addEventListener("input", function (e) {
      var form = e.target.closest && e.target.closest(".contact-panel form");
      if (!form) return;
      errorText = "";
      if (edited(form)) form.setAttribute("data-editing", ""); else form.removeAttribute("data-editing");
      if (deferred && !thread.querySelector(".contact-panel form[data-editing]")) refreshThread();
    });
  }

  // Canned responses: "/" at the start or after a space opens a list of the
  // account's responses; picking one asks the server to fill it in for this
  // conversation and puts it where the "/shortcut" was.
  function cannedPicker(composer, body, picker, meta, askPreview) {
    var items = null, shown = [], active = -1, token = null, note = null;
    body.setAttribute("role", "combobox");
    body.setAttribute("aria-autocomplete", "list");
    body.setAttribute("aria-controls", picker.id);
    body.setAttribute("aria-expanded", "false");

    function load() {
      if (items) return Promise.resolve(items);
      return fetch(picker.getAttribute("data-list"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (list) { items = list; return list; })
        .catch(function () { return []; });
    }
    // The "/word" that ends at the caret, when "/" starts the text or follows white space.
    function currentToken() {
      var end = body.selectionStart;
      if (end !== body.selectionEnd) return null;
      var before = body.value.slice(0, end);
      var m = /(^|\s)\/([a-z0-9-]*)$/i.exec(before);
      if (!m) return null;
      return { start: end - m[2].length - 1, end: end, query: m[2].toLowerCase() };
    }
    function close() {
      picker.hidden = true;
      picker.innerHTML = "";
      shown = []; active = -1; token = null;
      body.setAttribute("aria-expanded", "false");
      body.removeAttribute("aria-activedescendant");
    }
    function highlight(i) {
      active = i;
      Array.prototype.forEach.call(picker.children, function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
      var li = picker.children[i];
      if (li && li.id) { body.setAttribute("aria-activedescendant", li.id); li.scrollIntoView({ block: "nearest" }); }
    }
    function open(t, list) {
      token = t;
      shown = list.filter(function (c) {
        if (!t.query) return true;
        var title = c.title.toLowerCase();
        return c.shortcut.indexOf(t.query) === 0 || title.indexOf(t.query) === 0 || title.indexOf(" " + t.query) >= 0;
      }).slice(0, 8);
      picker.innerHTML = "";
      if (!shown.length) {
        var none = document.createElement("li");
        none.className = "none"; none.setAttribute("aria-disabled", "true");
        none.textContent = list.length ? "No canned response starts with /" + t.query : "No canned responses yet";
        picker.appendChild(none);
      }
      shown.forEach(function (c, i) {
        var li = document.createElement("li");
        li.id = "canned-option-" + c.id;
        li.setAttribute("role", "option");
        var sc = document.createElement("span"); sc.className = "shortcut"; sc.textContent = "/" + c.shortcut;
        var ti = document.createElement("span"); ti.className = "title"; ti.textContent = c.title;
        li.appendChild(sc); li.appendChild(ti);
        // mousedown, not click: the textarea keeps its focus and caret.
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
        picker.appendChild(li);
      });
      picker.hidden = false;
      body.setAttribute("aria-expanded", "true");
      highlight(shown.length ? 0 : -1);
    }
    function showNote(missing) {
      if (!note) {
        note = document.createElement("div");
        note.className = "canned-note"; note.setAttribute("role", "status");
        meta.parentNode.insertBefore(note, meta.nextSibling);
      }
      note.textContent = missing.length ? "Not filled in (no value): " + missing.join(", ") + ". Check the text before sending." : "";
      note.hidden = !missing.length;
    }
    function pick(i) {
      var c = shown[i], t = token;
      if (!c || !t) return;
      close();
      var data = new URLSearchParams();
      data.set("csrf", composer.querySelector("input[name=csrf]").value);
      fetch(picker.getAttribute("data-render") + c.id, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (res) {
          if (!res) return;
          // Replace the "/shortcut" only if the agent has not changed it meanwhile.
          if (body.value.slice(t.start, t.end).toLowerCase() !== "/" + t.query) return;
          body.value = body.value.slice(0, t.start) + res.text + body.value.slice(t.end);
          var caret = t.start + res.text.length;
          body.focus();
          body.setSelectionRange(caret, caret);
          showNote(res.missing || []);
          askPreview();
        })
        .catch(function () {});
    }
    body.addEventListener("input", function () {
      if (note && !body.value) showNote([]);
      var t = currentToken();
      if (!t) { close(); return; }
      load().then(function (list) {
        var now = currentToken();
        if (now && now.start === t.start) open(now, list);
      });
    });
    body.addEventListener("keydown", function (e) {
      if (picker.hidden) return;
      var n = shown.length;
      if (e.key === "ArrowDown" && n) { e.preventDefault(); highlight((active + 1) % n); }
      else if (e.key === "ArrowUp" && n) { e.preventDefault(); highlight((active - 1 + n) % n); }
      else if ((e.key === "Enter" || e.key === "Tab") && n && active >= 0 && !e.isComposing) { e.preventDefault(); e.stopImmediatePropagation(); pick(active); }
      else if (e.key === "Escape") { e.preventDefault(); close(); }
    });
    body.addEventListener("blur", function () { setTimeout(close, 150); });
    composer.addEventListener("submit", function () { showNote([]); close(); });
  }
})();

// Settings: "Copy" buttons beside webhook addresses and sign-in links.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("button[data-copy]");
    if (!btn) return;
    var field = document.getElementById(btn.getAttribute("data-copy"));
    if (!field) return;
    field.focus();
    field.select();
    var done = function () {
      var label = btn.firstChild;
      var before = label.nodeValue;
      label.nodeValue = "Copied";
      setTimeout(function () { label.nodeValue = before; }, 1500);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();

// Settings: the away message's preview follows what the admin types. The
// server renders and counts it (one implementation, in core); this only shows it.
(function () {
  "use strict";
  var box = document.querySelector("textarea[data-away-preview]");
  var shown = document.getElementById("away-preview");
  if (!box || !shown) return;
  var timer = null, asked = 0;
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var n = ++asked;
      var data = new URLSearchParams();
      data.set("off_text", box.value);
      fetch(box.getAttribute("data-away-preview"), { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p || n !== asked) return;
          shown.querySelector(".away-text").textContent = p.text;
          shown.querySelector(".away-count").textContent = p.summary;
        })
        .catch(function () {});
    }, 150);
  });
})();

// Browser notifications: asked for once, on the agent's click; then a customer's
// new message notifies while the tab is hidden or another conversation is open.
(function () {
  "use strict";
  var offer = document.getElementById("notify-offer");
  var KEY = "textdesk.notifications";
  if (!("Notification" in window)) return;
  function showOffer() {
    if (offer) offer.hidden = !(Notification.permission === "default" && !localStorage.getItem(KEY));
  }
  showOffer();
  if (offer) {
    offer.addEventListener("click", function (e) {
      var b = e.target.closest("button");
      if (!b) return;
      // Asked once: whatever the answer (or none), the offer does not come back.
      localStorage.setItem(KEY, b.value === "enable" ? "asked" : "dismissed");
      if (b.value === "enable") Notification.requestPermission().then(showOffer, showOffer);
      showOffer();
    });
  }
  var thread = document.querySelector("[data-live-thread]");
  document.addEventListener("textdesk:live", function (e) {
    var d = e.detail.data;
    if (e.detail.kind !== "message.created" || !d.inbound || Notification.permission !== "granted") return;
    var open = thread && thread.getAttribute("data-live-thread") === String(d.conversation_id);
    if (open && !document.hidden) return;
    fetch("/conversations/" + d.conversation_id + "/notice", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (n) {
        if (!n) return;
        // One per conversation: several tabs or texts replace rather than pile up.
        var shown = new Notification(n.title, { body: n.body, tag: "conversation-" + d.conversation_id });
        shown.onclick = function () { window.focus(); location.href = n.url; shown.close(); };
      })
      .catch(function () {});
  });
})();

// An escalation addressed to this person, a call back that fell due (theirs,
// or nobody's yet), (for supervisors) a low poll score or a conversation
// entering the review queue, or (for admins) a webhook switched off for
// failing: an alert on whatever page is open (and a browser notification when
// they allowed them), with a link to it.
(function () {
  "use strict";
  var bar = document.querySelector("[data-me]");
  var alertBox = document.getElementById("escalation-alert");
  if (!bar || !alertBox) return;
  var me = bar.getAttribute("data-me");
  var supervises = bar.hasAttribute("data-supervisor");
  var administers = bar.hasAttribute("data-admin");
  var body = alertBox.querySelector("[data-alert-body]");
  var link = alertBox.querySelector("[data-alert-link]");
  alertBox.querySelector("[data-alert-close]").addEventListener("click", function () { alertBox.hidden = true; });
  function show(n, tag, conv, about, words) {
    alertBox.querySelector("[data-alert-title]").textContent = n.title;
    body.textContent = words;
    link.setAttribute("href", n.url);
    link.textContent = n.action || "Open the conversation";
    alertBox.setAttribute("data-conversation", conv);
    alertBox.setAttribute("data-about", about);
    alertBox.hidden = false;
    if ("Notification" in window && Notification.permission === "granted") {
      var shown = new Notification(n.title, { body: n.body, tag: tag });
      shown.onclick = function () { window.focus(); location.href = n.url; shown.close(); };
    }
  }
  document.addEventListener("textdesk:live", function (e) {
    var d = e.detail.data;
    // A webhook switched off for failing: admins hear it at once, on whatever page is open.
    if (e.detail.kind === "webhook.switched_off") {
      if (!administers) return;
      var off = { title: "A webhook was switched off",
                  body: "Every delivery to it failed for days, so textdesk stopped sending. Check the receiver, then switch it on again.",
                  url: "/settings/webhooks", action: "Check the webhooks" };
      show(off, "webhook-" + d.id, "", "webhook", off.body);
      return;
    }
    var about = null;
    if (e.detail.kind === "conversation.escalated" && String(d.for_user) === me) about = "escalation";
    if (e.detail.kind === "survey.low_score" && supervises) about = "survey";
    if (e.detail.kind === "callback.due" && (!d.for_user || String(d.for_user) === me)) about = "callback";
    if (e.detail.kind === "review.queued" && supervises) about = "review";
    if (!about) return;
    fetch("/conversations/" + d.conversation_id + "/notice?about=" + about, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (n) {
        if (!n) return;
        var conv = String(d.conversation_id);
        var same = !alertBox.hidden && alertBox.getAttribute("data-conversation") === conv;
        var was = alertBox.getAttribute("data-about");
        // A low score or an escalation queues the conversation for review at the same moment: the alert
        // that says what happened stays, and says it is queued, whichever of the two arrives first.
        if (about === "review" && same && was !== "review") {
          body.textContent += " · " + n.body;
          return;
        }
        var queued = about !== "review" && same && was === "review" ? " · " + body.textContent : "";
        show(n, about + "-" + d.conversation_id, conv, about, n.body + queued);
      })
      .catch(function () {});
  });
})();

// Keyboard shortcuts, listed on "?". They press the same buttons and follow the
// same links a mouse would, so there is one way to do each thing.
(function () {
  "use strict";
  var help = document.getElementById("shortcuts");
  if (!help || !help.showModal) return;
  var opener = null;
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function step(by) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#list .row > a"));
    if (!links.length) return;
    var at = -1;
    links.forEach(function (a, i) { if (a.parentNode.classList.contains("active")) at = i; });
    var next = at < 0 ? (by > 0 ? 0 : links.length - 1) : at + by;
    if (next >= 0 && next < links.length) links[next].click();
  }
  function press(selector) {
    var field = document.querySelector(selector);
    var form = field && field.form;
    if (!form) return;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }
  function focus(selector) {
    var el = document.querySelector(selector);
    if (el) { el.focus(); if (el.select && el.type === "search") el.select(); }
  }
  var keys = {
    j: function () { step(1); },
    k: function () { step(-1); },
    a: function () { press('#thread form[action*="/assign"] input[name=assignee][value=me]'); },
    e: function () { press('#thread form[action*="/status"] input[name=status][value=resolved]'); },
    r: function () { focus("#composer textarea[name=body]"); },
    c: function () { focus("#composer textarea[name=body]"); },
    "/": function () { focus("#q"); },
    "?": function () { opener = document.activeElement; help.showModal(); },
  };
  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || help.open) return;
    if (typing(e.target)) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    var act = keys[e.key];
    if (!act) return;
    e.preventDefault();
    act();
  });
  // Focus goes back to where it was, unless a key pressed since has put it somewhere (the close
  // event can come after the next key on a busy machine).
  help.addEventListener("close", function () {
    var idle = document.activeElement === document.body || help.contains(document.activeElement);
    if (opener && opener.focus && idle) opener.focus();
    opener = null;
  });
})();

// The top bar's presence: choosing is setting (the Set button is for pages
// without script).
(function () {
  var form = document.getElementById("presence-form");
  if (!form) return;
  var button = document.getElementById("presence-set");
  if (button) button.hidden = true;
  form.querySelector("select").addEventListener("change", function () { form.submit(); });
})();

// The template picker's preview: each variable's field fills its {{n}} in the
// template's text as the agent types (the server fills it the same way on send).
(function () {
  "use strict";
  function render(form) {
    var out = form.querySelector("[data-template-body]");
    if (!out) return;
    var values = {};
    form.querySelectorAll("[data-var]").forEach(function (f) { values[f.getAttribute("data-var")] = f.value.trim(); });
    out.textContent = out.getAttribute("data-template-body").replace(/\{\{\s*(\d+)\s*\}\}/g, function (all, n) {
      return values[n] ? values[n] : all;
    });
    // A text header's one {{1}}, from its own field.
    var header = form.querySelector("[data-template-header]");
    var headerVar = form.querySelector("[data-header-var]");
    if (header && headerVar) {
      var v = headerVar.value.trim();
      header.textContent = header.getAttribute("data-template-header").replace(/\{\{\s*1\s*\}\}/g, function (all) {
        return v ? v : all;
      });
    }
  }
  document.addEventListener("input", function (e) {
    var form = e.target && e.target.closest && e.target.closest("[data-template-form]");
    if (form) render(form);
  });
})();

// The "text us" page's print button (no inline script under our CSP).
(function () {
  var b = document.getElementById("text-us-print");
  if (b) b.addEventListener("click", function () { window.print(); });
})();
