// Filters and sorts the keys table in place. State lives in the URL
// fragment (#q=…&status=…&env=…&repo=…&sort=…&dir=…), so a filtered view
// can be linked and a CI artifact opened on it. No network, no libraries.
(function () {
  "use strict";
  var table = document.getElementById("keys");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var q = document.getElementById("f-q"), st = document.getElementById("f-status"),
      env = document.getElementById("f-env"), repo = document.getElementById("f-repo"),
      shown = document.getElementById("shown");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var sortKey = "", sortDir = "asc";

  function cellValue(tr, key) {
    var td = tr.querySelector('td[data-col="' + key + '"]');
    if (!td) { return ""; }
    return td.getAttribute("data-sort") || td.textContent.trim();
  }
  function sortRows() {
    if (!sortKey) { return; }
    var num = false;
    heads.forEach(function (th) {
      var on = th.getAttribute("data-col") === sortKey;
      if (on) { num = th.getAttribute("data-type") === "num"; th.setAttribute("aria-sort", sortDir === "asc" ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
    var sign = sortDir === "asc" ? 1 : -1;
    rows.sort(function (a, b) {
      var x = cellValue(a, sortKey), y = cellValue(b, sortKey);
      var c = num ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
      return c * sign || (parseInt(a.getAttribute("data-i"), 10) - parseInt(b.getAttribute("data-i"), 10));
    });
    rows.forEach(function (tr) { body.appendChild(tr); });
  }
  function filterRows() {
    var text = q.value.trim().toLowerCase(), n = 0;
    rows.forEach(function (tr) {
      var ok = (!st.value || tr.getAttribute("data-status") === st.value) &&
        (!env.value || tr.getAttribute("data-env") === env.value) &&
        (!repo.value || tr.getAttribute("data-repo") === repo.value) &&
        (!text || tr.textContent.toLowerCase().indexOf(text) >= 0);
      tr.hidden = !ok;
      if (ok) { n++; }
    });
    shown.textContent = String(n);
  }
  function save() {
    var p = [];
    [["q", q.value], ["status", st.value], ["env", env.value], ["repo", repo.value], ["sort", sortKey], ["dir", sortKey ? sortDir : ""]]
      .forEach(function (kv) { if (kv[1]) { p.push(kv[0] + "=" + encodeURIComponent(kv[1])); } });
    var h = p.join("&");
    if (location.hash.slice(1) !== h) {
      try { history.replaceState(null, "", h ? "#" + h : location.pathname + location.search); } catch (e) { /* file: URLs in some browsers */ }
    }
  }
  function apply() { sortRows(); filterRows(); save(); document.body.setAttribute("data-ready", "1"); }
  function load() {
    var p = {};
    location.hash.slice(1).split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) { p[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, " ")); }
    });
    q.value = p.q || ""; st.value = p.status || ""; env.value = p.env || ""; repo.value = p.repo || "";
    sortKey = p.sort || ""; sortDir = p.dir === "desc" ? "desc" : "asc";
    apply();
  }
  heads.forEach(function (th) {
    var b = th.querySelector("button");
    if (!b) { return; }
    b.addEventListener("click", function () {
      var key = th.getAttribute("data-col");
      sortDir = sortKey === key && sortDir === "asc" ? "desc" : "asc";
      sortKey = key;
      apply();
    });
  });
  [q, st, env, repo].forEach(function (el) { el.addEventListener("input", apply); el.addEventListener("change", apply); });
  window.addEventListener("hashchange", load);
  load();
}());
