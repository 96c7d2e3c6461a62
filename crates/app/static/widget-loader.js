// textdesk web chat: the loader a business's page includes with
// <script src="https://<textdesk>/widget/<inbox>.js" async>. It adds one
// iframe (the chat runs inside, on textdesk's own origin, isolated from this
// page) and sizes it when the chat opens or closes. Nothing else is touched.
(function () {
  var me = document.currentScript;
  if (!me || !me.src) return;
  var src = new URL(me.src);
  var m = src.pathname.match(/\/widget\/(\d+)\.js$/);
  if (!m) return;
  var base = src.origin;
  var frame = document.createElement("iframe");
  // The page's address travels in the fragment: it never reaches a server log,
  // and the chat records it as the page a visitor agreed on.
  frame.src = base + "/widget/" + m[1] + "/frame#" + encodeURIComponent(location.href);
  frame.title = "Chat";
  frame.setAttribute("data-textdesk-chat", m[1]);
  var s = frame.style;
  s.position = "fixed";
  s.bottom = "16px";
  s.border = "0";
  s.zIndex = "2147483000";
  s.background = "transparent";
  s.colorScheme = "normal";
  var side = "right";
  function size(open) {
    var small = window.innerWidth < 480;
    s.left = s.right = "";
    if (open && small) {
      s.left = "0"; s.right = "0"; s.bottom = "0";
      s.width = "100%"; s.height = "100%";
    } else {
      s.bottom = "16px";
      s[side] = "16px";
      s.width = open ? "380px" : "72px";
      s.height = open ? Math.min(620, window.innerHeight - 32) + "px" : "72px";
    }
  }
  var open = false;
  window.addEventListener("message", function (e) {
    if (e.origin !== base || e.source !== frame.contentWindow || !e.data || e.data.textdesk !== "chat") return;
    if (e.data.side === "left" || e.data.side === "right") side = e.data.side;
    open = !!e.data.open;
    size(open);
  });
  window.addEventListener("resize", function () { size(open); });
  size(false);
  function add() { document.body.appendChild(frame); }
  if (document.body) add(); else document.addEventListener("DOMContentLoaded", add);
})();
