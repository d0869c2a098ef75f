// safebed: live pages. A page whose <main> carries data-live listens to /live and, when
// something changed in the network, fetches itself again and swaps its <main>, without a
// reload. It waits while someone is typing in a form, and keeps the focus where it was.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.hasAttribute("data-live") || !window.EventSource) return;
  var pending = false;
  var busy = false;

  function typing() {
    var active = document.activeElement;
    return active && main.contains(active) &&
      /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName) && active.type !== "submit";
  }

  function refresh() {
    if (busy) { pending = true; return; }
    if (typing()) { pending = true; return; }
    busy = true; pending = false;
    var focusedId = document.activeElement && document.activeElement.id;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (!fresh) return;
        main.innerHTML = fresh.innerHTML;
        main.setAttribute("data-updated", String(Date.now()));
        if (focusedId) {
          var again = document.getElementById(focusedId);
          if (again) again.focus();
        }
      })
      .catch(function () {})
      .then(function () { busy = false; if (pending) refresh(); });
  }

  var source = new EventSource("/live");
  source.addEventListener("changed", refresh);
  main.addEventListener("focusout", function () { if (pending) setTimeout(refresh, 50); });
})();
