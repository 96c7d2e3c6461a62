// The phone simulator page: pick a business number and a customer number,
// text as the customer, and watch what the business sends back.
(function () {
  "use strict";
  var inboxSel = document.getElementById("sim-inbox");
  var number = document.getElementById("sim-number");
  var phones = document.getElementById("sim-phones");
  var msgs = document.getElementById("phone-msgs");
  var form = document.getElementById("phone-compose");
  var input = document.getElementById("phone-body");
  var err = document.getElementById("phone-error");
  var head = document.getElementById("phone-to");
  var inboxes = [];
  var shown = "";

  function current() { return inboxes.find(function (i) { return String(i.id) === inboxSel.value; }); }

  function loadInboxes() {
    return fetch("/simulator/api/inboxes").then(function (r) { return r.json(); }).then(function (list) {
      inboxes = list;
      var keep = inboxSel.value;
      inboxSel.innerHTML = "";
      list.forEach(function (i) {
        var o = document.createElement("option");
        o.value = i.id; o.textContent = i.name + " (" + i.number + ")";
        inboxSel.appendChild(o);
      });
      if (keep) inboxSel.value = keep;
      var cur = current();
      phones.innerHTML = "";
      if (cur) cur.phones.forEach(function (p) { var o = document.createElement("option"); o.value = p; phones.appendChild(o); });
      if (cur && head) head.textContent = cur.name + " · " + cur.number;
    });
  }

  function render(list) {
    var key = JSON.stringify(list);
    if (key === shown) return;
    shown = key;
    msgs.innerHTML = "";
    if (!list.length) {
      var empty = document.createElement("li");
      empty.className = "phone-empty";
      empty.textContent = "No messages with this business yet. Type below to text them.";
      msgs.appendChild(empty);
    }
    var lastOwn = -1;
    list.forEach(function (m, i) { if (m.direction === "from_phone") lastOwn = i; });
    list.forEach(function (m, i) {
      var li = document.createElement("li");
      li.className = m.direction;
      li.textContent = m.body;
      // An MMS: its pictures as the phone shows them.
      (m.media || []).forEach(function (url) {
        var img = document.createElement("img");
        img.src = url; img.alt = "Picture from the business"; img.className = "phone-media";
        li.appendChild(img);
      });
      msgs.appendChild(li);
      // The phone's own "Delivered" sits under the customer's latest text.
      if (i === lastOwn) { var s = document.createElement("li"); s.className = "stamp"; s.textContent = "Delivered"; msgs.appendChild(s); }
    });
    msgs.scrollTop = msgs.scrollHeight;
  }

  function poll() {
    var cur = current();
    if (!cur || !number.value.trim()) return;
    fetch("/simulator/api/inboxes/" + cur.id + "/phones/" + encodeURIComponent(number.value.trim()) + "/messages")
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(render)
      .catch(function () {});
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var cur = current();
    if (!cur) return;
    err.textContent = "";
    fetch("/simulator/api/inboxes/" + cur.id + "/messages", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ from: number.value.trim(), body: input.value })
    }).then(function (r) {
      if (!r.ok) return r.json().then(function (p) { err.textContent = p.detail || "Not sent"; });
      input.value = "";
      poll();
    });
  });
  inboxSel.addEventListener("change", function () { shown = ""; loadInboxes().then(poll); });
  number.addEventListener("change", function () { shown = ""; poll(); });
  // A call from the business rings here; what the phone does is reported to
  // the call's status callback, as a provider would.
  var callBox = document.getElementById("phone-call");
  var callFrom = document.getElementById("call-from");
  var callState = document.getElementById("call-state");
  var answerBtn = document.getElementById("call-answer");
  var declineBtn = document.getElementById("call-decline");
  var hangupBtn = document.getElementById("call-hangup");
  var call = null;
  var answeredAt = 0;

  function report(status) {
    if (!call) return Promise.resolve();
    var c = call;
    return fetch(c.status_path, {
      method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ CallSid: c.sid, CallStatus: status }).toString()
    }).then(function () { c.status = status; });
  }

  function showCall() {
    callBox.hidden = !call;
    if (!call) return;
    callFrom.textContent = call.from;
    var talking = call.status === "in-progress";
    answerBtn.hidden = talking; declineBtn.hidden = talking; hangupBtn.hidden = !talking;
    callState.textContent = talking ? "On the call · " + Math.round((Date.now() - answeredAt) / 1000) + " s" : "Ringing…";
  }

  function pollCalls() {
    var cur = current();
    if (!cur || !number.value.trim()) return;
    fetch("/simulator/api/inboxes/" + cur.id + "/phones/" + encodeURIComponent(number.value.trim()) + "/calls")
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (list) {
        var next = list.length ? list[0] : null;
        call = next;
        if (call && call.status === "queued") report("ringing");
        showCall();
      })
      .catch(function () {});
  }

  answerBtn.addEventListener("click", function () { answeredAt = Date.now(); report("in-progress").then(showCall); });
  declineBtn.addEventListener("click", function () { report("busy").then(function () { call = null; showCall(); }); });
  hangupBtn.addEventListener("click", function () { report("completed").then(function () { call = null; showCall(); }); });

  loadInboxes().then(poll);
  setInterval(poll, 1000);
  setInterval(pollCalls, 1000);
  setInterval(loadInboxes, 10000);
})();
