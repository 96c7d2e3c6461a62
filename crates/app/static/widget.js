// The web chat inside its iframe: the visitor's token (in this origin's
// localStorage, no cookies), their messages, a live stream read with fetch
// (so the token goes in a header), attachments and "continue by text".
(function () {
  "use strict";
  var body = document.body;
  var inbox = body.getAttribute("data-inbox");
  var side = body.classList.contains("wc-left") ? "left" : "right";
  var api = "/widget/" + inbox;
  var key = "textdesk-chat-" + inbox;
  var page = "";
  try { page = decodeURIComponent(location.hash.slice(1)); } catch (e) { page = ""; }
  var $ = function (id) { return document.getElementById(id); };
  var bubble = $("wc-bubble"), panel = $("wc-panel"), log = $("wc-log"), text = $("wc-text");
  var errorBox = $("wc-error"), fileInput = $("wc-file");
  var token = null, last = 0, shown = {}, streaming = false;

  function tell(open) {
    if (window.parent !== window) window.parent.postMessage({ textdesk: "chat", open: open, side: side }, "*");
  }
  function openChat() {
    panel.hidden = false; bubble.hidden = true; bubble.setAttribute("aria-expanded", "true");
    tell(true); start(); text.focus();
  }
  function closeChat() {
    panel.hidden = true; bubble.hidden = false; bubble.setAttribute("aria-expanded", "false");
    tell(false); bubble.focus();
  }
  bubble.addEventListener("click", openChat);
  $("wc-close").addEventListener("click", closeChat);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !panel.hidden) closeChat(); });
  tell(false);

  function fail(msg) { errorBox.textContent = msg || ""; }
  function call(method, path, data, headers) {
    var h = headers || {};
    if (token) h["Authorization"] = "Bearer " + token;
    var init = { method: method, headers: h };
    if (data !== undefined) {
      if (data instanceof Blob) { init.body = data; } else { h["Content-Type"] = "application/json"; init.body = JSON.stringify(data); }
    }
    return fetch(api + path, init).then(function (r) {
      return r.text().then(function (t) {
        var j = null; try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (!r.ok) { var err = new Error((j && j.detail) || "Something went wrong. Try again."); err.status = r.status; throw err; }
        return j;
      });
    });
  }
  function ensureToken() {
    try { token = localStorage.getItem(key); } catch (e) { token = null; }
    if (token) return Promise.resolve();
    return call("POST", "/visitors").then(function (j) {
      token = j.token;
      try { localStorage.setItem(key, token); } catch (e) { /* a private window: this page view only */ }
    });
  }
  function when(at) {
    var d = new Date(at);
    return d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }
  function add(m) {
    if (shown[m.id]) return;
    shown[m.id] = true;
    last = Math.max(last, m.id);
    var li = document.createElement("li");
    li.className = m.from;
    var who = document.createElement("span");
    who.className = "wc-sr";
    who.textContent = m.from === "visitor" ? "You: " : "Us: ";
    li.appendChild(who);
    if (m.body) li.appendChild(document.createTextNode(m.body));
    (m.media || []).forEach(function (x) {
      if (x.inline) {
        var img = document.createElement("img"); img.src = x.url; img.alt = "Picture"; li.appendChild(img);
      } else {
        var a = document.createElement("a"); a.href = x.url; a.textContent = "Attachment (" + x.content_type + ")";
        a.target = "_blank"; a.rel = "noopener"; li.appendChild(a);
      }
    });
    var t = document.createElement("time");
    t.dateTime = m.at; t.textContent = when(m.at) + " (your time)";
    li.appendChild(t);
    log.appendChild(li);
    li.scrollIntoView({ block: "end" });
  }
  function refresh() {
    return call("GET", "/messages?after=" + last).then(function (list) { list.forEach(add); });
  }
  function showState() {
    return call("GET", "/state").then(function (s) {
      var away = $("wc-away");
      away.hidden = !s.away; away.textContent = s.away || "";
      var offer = $("wc-text-us");
      offer.hidden = !s.text_offer;
      if (s.text_offer) $("wc-words").textContent = s.text_offer.words;
      showCode(s.code);
      var moved = $("wc-moved");
      moved.hidden = !s.texting_from;
      if (s.texting_from) moved.textContent = "We'll continue by text message from " + s.texting_from + ". You can close this chat.";
    });
  }
  // Server-sent events over fetch: "update" means something changed.
  function stream() {
    if (streaming) return;
    streaming = true;
    fetch(api + "/events", { headers: { Authorization: "Bearer " + token, Accept: "text/event-stream" } }).then(function (r) {
      if (!r.ok || !r.body) throw new Error("stream");
      var reader = r.body.getReader(), dec = new TextDecoder(), buf = "";
      function pump() {
        return reader.read().then(function (x) {
          if (x.done) throw new Error("closed");
          buf += dec.decode(x.value, { stream: true });
          var parts = buf.split("\n\n"); buf = parts.pop();
          parts.forEach(function (p) { if (/^event: (update|ready)/m.test(p)) { refresh(); showState(); } });
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      streaming = false;
      setTimeout(stream, 3000);
    });
  }
  var started = null;
  function start() {
    if (!started) {
      started = ensureToken().then(function () { return Promise.all([refresh(), showState()]); }).then(stream)
        .catch(function (e) { started = null; fail(e.message); });
    }
    return started;
  }
  function id() { return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10); }
  $("wc-compose").addEventListener("submit", function (e) {
    e.preventDefault();
    var words = text.value.trim();
    var file = fileInput.files[0];
    if (!words && !file) { fail("Write a message or attach a file first."); text.focus(); return; }
    fail("");
    start().then(function () {
      var jobs = [];
      if (words) jobs.push(call("POST", "/messages", { body: words, client_id: id() }));
      if (file) jobs.push(call("POST", "/attachments", file, { "Content-Type": file.type || "application/octet-stream", "X-Client-Id": id() }));
      return Promise.all(jobs);
    }).then(function () { text.value = ""; fileInput.value = ""; return refresh(); })
      .catch(function (err) { fail(err.message); });
  });
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("wc-compose").requestSubmit(); }
  });
  // Continuing by text: the number and the agreement, then the code texted
  // to it, typed back here; only then does the chat move.
  var codeTo = null;
  function showCode(code) {
    var waiting = !!code;
    $("wc-continue").hidden = waiting;
    $("wc-code-form").hidden = !waiting;
    if (!waiting) { codeTo = null; return; }
    var words = code.delivery === "failed"
      ? "We could not text " + code.to + ". Check the number and try again."
      : "We texted a 6-digit code to " + code.to + ". It works for 10 minutes.";
    if ($("wc-code-sent").textContent !== words) $("wc-code-sent").textContent = words;
    if (code.to !== codeTo) { codeTo = code.to; $("wc-text-us").open = true; }
  }
  function askForCode(phone, agreed) {
    fail("");
    return call("POST", "/continue-by-text", { phone: phone, page: page, agreed: agreed })
      .then(function () { $("wc-code").value = ""; return showState(); })
      .then(function () { if (!$("wc-code-form").hidden) $("wc-code").focus(); })
      .catch(function (err) { fail(err.message); });
  }
  $("wc-continue").addEventListener("submit", function (e) {
    e.preventDefault();
    askForCode($("wc-phone").value, $("wc-agree").checked);
  });
  // The same number again: they agreed to be texted there when they asked for the first code.
  $("wc-new-code").addEventListener("click", function () { askForCode(codeTo, true); });
  $("wc-other-number").addEventListener("click", function () {
    fail("");
    $("wc-code-form").hidden = true; $("wc-continue").hidden = false; $("wc-phone").focus();
  });
  $("wc-code-form").addEventListener("submit", function (e) {
    e.preventDefault();
    fail("");
    call("POST", "/continue-by-text/confirm", { code: $("wc-code").value })
      .then(function () { $("wc-text-us").open = false; return showState(); })
      .catch(function (err) { fail(err.message); $("wc-code").focus(); });
  });
})();
