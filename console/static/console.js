// citypulse console: live updates (server-sent events) and filters that apply on change.
// Every page works without this script; it only saves a click.
"use strict";
(function () {
  var filters = document.getElementById("filters");
  if (filters) {
    filters.addEventListener("change", function () { filters.submit(); });
  }
  var url = document.body.getAttribute("data-live");
  if (!url || !window.EventSource) { return; }
  var queue = document.getElementById("queue-live");
  var banner = document.getElementById("live-banner");
  var busy = false, again = false;
  function refreshQueue() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("queue-live");
        if (fresh) { queue.replaceWith(fresh); queue = fresh; }
      })
      .catch(function () { banner.hidden = false; })
      .finally(function () {
        busy = false;
        if (again) { again = false; setTimeout(refreshQueue, 1000); }
      });
  }
  var events = new EventSource(url);
  events.addEventListener("changed", function () {
    if (queue) { refreshQueue(); } else { banner.hidden = false; }
  });
})();
