/*
 * tokzoo claims page: filter the claims table (#tz-claims) by the values its rows carry in
 * data- attributes (data-filters on the container lists them). No dependencies, no network;
 * values are only assigned with textContent. Without JavaScript the full table is shown.
 */
(function () {
  "use strict";

  var LABELS = { paper: "Paper", group: "Kind", status: "Status", needs: "Needs" };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function init() {
    var root = document.getElementById("tz-claims");
    if (!root || root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    var keys = (root.getAttribute("data-filters") || "").split(",").filter(Boolean);
    var rows = Array.prototype.slice.call(root.querySelectorAll("tbody tr"));
    var bar = el("div", { "class": "tz-facets tz-claims-controls" });
    var selects = {};
    var count = el("p", { "class": "tz-count", "aria-live": "polite" });
    function apply() {
      var shown = 0;
      rows.forEach(function (tr) {
        var ok = keys.every(function (k) { return !selects[k].value || tr.getAttribute("data-" + k) === selects[k].value; });
        tr.hidden = !ok;
        if (ok) shown++;
      });
      count.textContent = shown === rows.length ? "Showing all " + rows.length + " claims"
                                               : "Showing " + shown + " of " + rows.length + " claims";
      var params = new URLSearchParams(window.location.search);
      keys.forEach(function (k) { if (selects[k].value) params.set(k, selects[k].value); else params.delete(k); });
      var q = params.toString();
      window.history.replaceState(null, "", window.location.pathname + (q ? "?" + q : "") + window.location.hash);
    }
    var params = new URLSearchParams(window.location.search);
    keys.forEach(function (k) {
      var counts = new Map();
      rows.forEach(function (tr) {
        var v = tr.getAttribute("data-" + k) || "";
        if (v) counts.set(v, (counts.get(v) || 0) + 1);
      });
      var wrap = el("label", { "class": "tz-facet tz-facet-select" });
      wrap.appendChild(el("span", { "class": "tz-facet-name" }, LABELS[k] || k));
      var select = el("select", { name: k });
      select.appendChild(el("option", { value: "" }, "any"));
      Array.from(counts.keys()).sort().forEach(function (v) {
        select.appendChild(el("option", { value: v }, v + " (" + counts.get(v) + ")"));
      });
      if (params.get(k) && counts.has(params.get(k))) select.value = params.get(k);
      select.addEventListener("change", apply);
      selects[k] = select;
      wrap.appendChild(select);
      bar.appendChild(wrap);
    });
    root.insertBefore(count, root.firstChild);
    root.insertBefore(bar, count);
    apply();
  }

  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(init);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
