// metalab serve: keeps the report's counts and progress up to date by
// asking the server for them, redraws the charts from newer data on
// request, and shows a run's log when its row opens. It asks only the
// server that sent the page, at the URLs of the live-config block.
(function () {
  "use strict";
  var C = JSON.parse(document.getElementById("live-config").textContent);
  var STATUSES = ["completed", "failed", "cancelled", "running"];
  var last = null, failures = 0;
  function $(id) { return document.getElementById(id); }
  function get(url, as) {
    return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) {
        return r.text().then(function (t) { throw new Error(r.status + " " + r.statusText + (t ? ": " + t.trim() : "")); });
      }
      return as === "json" ? r.json() : r.text();
    });
  }
  // drawn is what the charts show: counts of the data they were drawn from.
  function drawn() { return window.metalabReport.data().overview; }

  function show(s) {
    last = s;
    STATUSES.concat(["pending", "total"]).forEach(function (k) { $("live-" + k).textContent = String(s[k]); });
    var ended = s.completed + s.failed + s.cancelled;
    $("live-ended").textContent = String(ended);
    $("live-bar").style.width = (s.total > 0 ? Math.min(100, 100 * ended / s.total) : 0).toFixed(1) + "%";
    $("live-when").textContent = "· as of " + new Date(s.at).toLocaleTimeString();
    $("live-notes").textContent = (s.notes || []).join("\n");
    $("live-error").textContent = s.error || "";
    // Runs that ended since the charts were drawn. Running runs are left
    // out: status counts those whose writer is gone as pending.
    var d = drawn(), ENDED = ["completed", "failed", "cancelled"];
    var more = ENDED.some(function (k) { return (s[k] || 0) !== (d.counts[k] || 0); });
    var endedDrawn = ENDED.reduce(function (a, k) { return a + (d.counts[k] || 0); }, 0);
    $("live-update").hidden = !more;
    $("live-drawn").textContent = "The charts and table show the " + d.runs + " runs recorded when they were drawn, " + endedDrawn + " of them ended" +
      (more ? "; " + ended + " have ended now." : ".");
  }
  function poll() {
    get(C.state, "json").then(function (s) {
      failures = 0;
      show(s);
    }, function (err) {
      failures++;
      $("live-error").textContent = "metalab serve did not answer (" + err.message + "); trying again.";
    }).then(function () {
      setTimeout(poll, C.refresh_ms * Math.min(1 + failures, 10));
    });
  }
  $("live-update").addEventListener("click", function () {
    var b = $("live-update");
    b.disabled = true;
    get(C.data, "json").then(function (d) {
      window.metalabReport.render(d);
      if (last) show(last);
    }, function (err) {
      $("live-error").textContent = "could not fetch the newer data: " + err.message;
    }).then(function () { b.disabled = false; });
  });

  // log shows the log of runID (what `metalab logs RUN` prints) in td, the
  // detail cell of its row.
  var MAX = 256 * 1024;
  window.metalabLive = {
    log: function (td, runID) {
      var head = document.createElement("strong"), pre = document.createElement("pre");
      head.textContent = "log (metalab logs " + runID + ")";
      pre.className = "log";
      pre.textContent = "loading...";
      td.appendChild(head);
      td.appendChild(pre);
      var fill = function (t) {
        pre.textContent = t === "" ? "(the run wrote nothing and logged no line)" :
          t.length > MAX ? "[... the first " + (t.length - MAX) + " characters are left out ...]\n" + t.slice(t.length - MAX) : t;
      };
      get(C.log + encodeURIComponent(runID)).then(fill, function (err) { pre.textContent = "no log: " + err.message; });
    }
  };
  poll();
})();
