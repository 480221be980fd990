/*
 * tokzoo catalog table: filters, text search, sortable columns, filter state in the URL.
 *
 * Vanilla JavaScript, no dependencies, no network. Reads the JSON embedded in
 * <script type="application/json" id="tz-catalog-data"> and renders into #tz-catalog.
 * Catalog strings are only ever assigned with textContent / setAttribute, never innerHTML.
 */
(function () {
  "use strict";

  var SCRIPT_SRC = document.currentScript ? document.currentScript.src : null;
  // Not "q": Material's own site search opens on ?q=.
  var SEARCH_PARAM = "search";
  var FACETS = [
    { key: "modality", label: "Modality", multi: true, vocab: "modality" },
    { key: "year", label: "Year" },
    { key: "venue", label: "Venue", field: "venue_name" },
    { key: "technique", label: "Technique", multi: true, vocab: "technique" },
    { key: "family", label: "Family", multi: true, vocab: "family" },
    { key: "code", label: "Code", fixed: [["yes", "has code"], ["no", "no code"]] },
    { key: "zoo", label: "In tokzoo", vocab: "zoo" },
    { key: "repro", label: "Repro status", vocab: "repro", none: ["none", "no repro script"] }
  ];
  var COLUMNS = [
    { key: "year", label: "Year", cls: "tz-col-year" },
    { key: "venue", label: "Venue", cls: "tz-col-venue" },
    { key: "paper", label: "Paper", cls: "tz-col-paper" },
    { key: "modality", label: "Modality", cls: "tz-col-modality" },
    { key: "technique", label: "Technique", cls: "tz-col-technique" },
    { key: "code", label: "Code", cls: "tz-col-code" },
    { key: "zoo", label: "Zoo", cls: "tz-col-zoo" },
    { key: "repro", label: "Repro", cls: "tz-col-repro" }
  ];
  var ZOO_ORDER = { implemented: 0, planned: 1, none: 2 };
  var REPRO_ORDER = { reproduced: 0, partial: 1, deviates: 2, failed: 3, "not run": 4 };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (attrs[name] !== null && attrs[name] !== undefined) node.setAttribute(name, String(attrs[name]));
      });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function siteRoot() {
    // catalog.js lives in <root>/assets/; everything else is relative to <root>.
    if (SCRIPT_SRC) return new URL("../", SCRIPT_SRC);
    return new URL("../", window.location.href);
  }

  function safeHref(url) {
    // Only http(s) links are rendered as links (the build already checks this too).
    if (typeof url !== "string") return null;
    try {
      var u = new URL(url, window.location.href);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function rowValue(row, facet) {
    if (facet.key === "code") return row.code_url ? "yes" : "no";
    if (facet.key === "repro") return row.repro === null || row.repro === undefined ? "none" : row.repro;
    if (facet.key === "year") return row.year === null || row.year === undefined ? "" : String(row.year);
    return row[facet.field || facet.key];
  }

  function matchesFacet(row, facet, wanted) {
    if (!wanted) return true;
    var value = rowValue(row, facet);
    if (facet.multi) return Array.isArray(value) && value.indexOf(wanted) !== -1;
    return value === wanted;
  }

  function haystack(row) {
    return [row.title, row.short_name, row.id, row.arxiv, row.venue, row.year]
      .concat(row.modality, row.technique, row.family)
      .filter(function (x) { return x !== null && x !== undefined; })
      .join(" \u0001 ")
      .toLowerCase();
  }

  function nameOf(row) {
    return (row.short_name || row.title || "").toLowerCase();
  }

  function compare(a, b, key) {
    switch (key) {
      case "year": return (a.year || 0) - (b.year || 0);
      case "venue": return a.venue.localeCompare(b.venue);
      case "paper": return nameOf(a).localeCompare(nameOf(b));
      case "modality": return a.modality.join(",").localeCompare(b.modality.join(","));
      case "technique": return a.technique.join(",").localeCompare(b.technique.join(","));
      case "code": return (a.code_url ? 0 : 1) - (b.code_url ? 0 : 1);
      case "zoo": return (ZOO_ORDER[a.zoo] ?? 9) - (ZOO_ORDER[b.zoo] ?? 9);
      case "repro": {
        var ra = a.repro == null ? 9 : (REPRO_ORDER[a.repro] ?? 8);
        var rb = b.repro == null ? 9 : (REPRO_ORDER[b.repro] ?? 8);
        return ra - rb;
      }
      default: return 0;
    }
  }

  function Catalog(root, payload) {
    this.root = root;
    this.rows = payload.rows;
    this.vocab = payload.vocab || {};
    this.badges = payload.badges || {};
    this.base = siteRoot();
    this.state = {};
    this.rowNodes = new Map();
    this.search = this.rows.map(haystack);
    this.build();
    this.readUrl();
    this.render();
  }

  Catalog.prototype.badge = function (kind, value, href) {
    var path = this.badges[kind + ":" + value];
    var label = kind + ": " + value;
    if (!path) return el("span", { "class": "tz-status" }, value);
    var img = el("img", { src: new URL(path, this.base).href, alt: label, title: label, height: 20, loading: "lazy" });
    if (!href) return img;
    var a = el("a", { href: href });
    a.appendChild(img);
    return a;
  };

  Catalog.prototype.options = function (facet) {
    var counts = new Map();
    var self = this;
    this.rows.forEach(function (row) {
      var v = rowValue(row, facet);
      (Array.isArray(v) ? v : [v]).forEach(function (x) {
        if (x === null || x === undefined || x === "") return;
        counts.set(x, (counts.get(x) || 0) + 1);
      });
    });
    var opts = [];
    if (facet.fixed) {
      facet.fixed.forEach(function (f) { opts.push([f[0], f[1], counts.get(f[0]) || 0, ""]); });
    } else if (facet.vocab && self.vocab[facet.vocab]) {
      var voc = self.vocab[facet.vocab];
      Object.keys(voc).forEach(function (k) {
        if (counts.has(k)) opts.push([k, k, counts.get(k), voc[k]]);
      });
      if (facet.none && counts.has(facet.none[0])) opts.push([facet.none[0], facet.none[1], counts.get(facet.none[0]), ""]);
    } else {
      var keys = Array.from(counts.keys());
      if (facet.key === "year") keys.sort(function (a, b) { return Number(b) - Number(a); });
      else keys.sort(function (a, b) { return counts.get(b) - counts.get(a) || String(a).localeCompare(String(b)); });
      keys.forEach(function (k) { opts.push([k, k, counts.get(k), ""]); });
    }
    return opts;
  };

  Catalog.prototype.build = function () {
    var self = this;
    var controls = el("form", { "class": "tz-controls", role: "search" });
    controls.addEventListener("submit", function (e) { e.preventDefault(); });

    var searchWrap = el("label", { "class": "tz-search" });
    searchWrap.appendChild(el("span", { "class": "tz-visually-hidden" }, "Search the catalog"));
    this.searchInput = el("input", {
      type: "search", name: "search", autocomplete: "off", spellcheck: "false",
      placeholder: "Search " + this.rows.length + " papers: title, name, arXiv id, venue, label\u2026"
    });
    var timer = null;
    this.searchInput.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { self.set("q", self.searchInput.value.trim()); }, 120);
    });
    searchWrap.appendChild(this.searchInput);
    controls.appendChild(searchWrap);

    var facets = el("div", { "class": "tz-facets" });
    this.selects = {};
    FACETS.forEach(function (facet) {
      var wrap = el("label", { "class": "tz-facet" });
      wrap.appendChild(el("span", { "class": "tz-facet-label" }, facet.label));
      var select = el("select", { name: facet.key, "data-facet": facet.key });
      select.appendChild(el("option", { value: "" }, "any"));
      self.options(facet).forEach(function (o) {
        select.appendChild(el("option", { value: o[0], title: o[3] || null }, o[1] + " (" + o[2] + ")"));
      });
      select.addEventListener("change", function () { self.set(facet.key, select.value); });
      self.selects[facet.key] = select;
      wrap.appendChild(select);
      facets.appendChild(wrap);
    });
    var reset = el("button", { type: "button", "class": "md-button tz-reset" }, "Reset");
    reset.addEventListener("click", function () { self.state = {}; self.syncControls(); self.render(); });
    facets.appendChild(reset);
    controls.appendChild(facets);

    this.count = el("p", { "class": "tz-count", "aria-live": "polite" });

    var wrapper = el("div", { "class": "tz-table-wrap" });
    var tableEl = el("table", { "class": "tz-table" });
    var thead = el("thead");
    var tr = el("tr");
    this.headers = {};
    COLUMNS.forEach(function (col) {
      var th = el("th", { scope: "col", "class": col.cls, "aria-sort": "none" });
      var btn = el("button", { type: "button", "data-sort": col.key, title: "Sort by " + col.label.toLowerCase() }, col.label);
      btn.addEventListener("click", function () {
        var current = self.sortState();
        var dir;
        if (current.key === col.key) dir = current.dir === "desc" ? "asc" : "desc";
        else dir = col.key === "year" ? "desc" : "asc";
        self.state.sort = col.key;
        self.state.dir = dir;
        self.render();
      });
      th.appendChild(btn);
      self.headers[col.key] = th;
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    tableEl.appendChild(thead);
    this.tbody = el("tbody");
    tableEl.appendChild(this.tbody);
    wrapper.appendChild(tableEl);

    this.empty = el("p", { "class": "tz-empty", hidden: "" }, "No paper matches these filters.");

    var noscript = this.root.querySelector("noscript");
    if (noscript) noscript.remove();
    this.root.appendChild(controls);
    this.root.appendChild(this.count);
    this.root.appendChild(wrapper);
    this.root.appendChild(this.empty);
  };

  Catalog.prototype.chips = function (values, vocabName) {
    var cell = el("td");
    var voc = this.vocab[vocabName] || {};
    values.forEach(function (v) {
      cell.appendChild(el("span", { "class": "tz-chip tz-chip-" + vocabName, title: voc[v] || null }, v));
    });
    return cell;
  };

  Catalog.prototype.rowNode = function (row) {
    var cached = this.rowNodes.get(row.id);
    if (cached) return cached;
    var tr = el("tr", { "data-id": row.id });
    tr.appendChild(el("td", { "class": "tz-col-year" }, row.year));
    tr.appendChild(el("td", { "class": "tz-col-venue" }, row.venue));

    var paper = el("td", { "class": "tz-col-paper" });
    var methodHref = row.method_url ? new URL(row.method_url, this.base).href : null;
    // The name is shown before the title unless the title already starts with it.
    var titleHasName = row.short_name && row.title.toLowerCase().indexOf(row.short_name.toLowerCase()) === 0;
    // (an implemented paper's method page is also linked from its zoo badge)
    if (row.short_name && !titleHasName) {
      var nameNode = methodHref
        ? el("a", { href: methodHref, "class": "tz-name", title: "tokzoo method page" }, row.short_name || row.id)
        : el("strong", { "class": "tz-name" }, row.short_name);
      paper.appendChild(nameNode);
    }
    var href = safeHref(row.paper_url);
    paper.appendChild(href ? el("a", { href: href, "class": "tz-title", rel: "noopener" }, row.title)
                           : el("span", { "class": "tz-title" }, row.title));
    if (row.arxiv) paper.appendChild(el("span", { "class": "tz-arxiv" }, "arXiv:" + row.arxiv));
    tr.appendChild(paper);

    tr.appendChild(this.chips(row.modality, "modality")).classList.add("tz-col-modality");
    tr.appendChild(this.chips(row.technique, "technique")).classList.add("tz-col-technique");

    var code = el("td", { "class": "tz-col-code" });
    var codeHref = safeHref(row.code_url);
    code.appendChild(codeHref ? this.badge("code", "available", codeHref) : el("span", { "class": "tz-dash" }, "\u2013"));
    tr.appendChild(code);

    var zoo = el("td", { "class": "tz-col-zoo" });
    zoo.appendChild(row.zoo && row.zoo !== "none" ? this.badge("zoo", row.zoo, methodHref) : el("span", { "class": "tz-dash" }, "\u2013"));
    tr.appendChild(zoo);

    var repro = el("td", { "class": "tz-col-repro" });
    repro.appendChild(row.repro ? this.badge("repro", row.repro, methodHref ? methodHref + "#reproduction" : null)
                                : el("span", { "class": "tz-dash" }, "\u2013"));
    tr.appendChild(repro);
    this.rowNodes.set(row.id, tr);
    return tr;
  };

  Catalog.prototype.sortState = function () {
    // Default: newest first. A sort column without a direction sorts ascending (year: descending).
    var key = this.state.sort || "year";
    var dir = this.state.dir || (key === "year" ? "desc" : "asc");
    return { key: key, dir: dir };
  };

  Catalog.prototype.set = function (key, value) {
    if (value) this.state[key] = value; else delete this.state[key];
    this.render();
  };

  Catalog.prototype.readUrl = function () {
    var params = new URLSearchParams(window.location.search);
    var state = {};
    ["sort", "dir"].concat(FACETS.map(function (f) { return f.key; })).forEach(function (k) {
      var v = params.get(k);
      if (v) state[k] = v;
    });
    if (params.get(SEARCH_PARAM)) state.q = params.get(SEARCH_PARAM);
    if (state.sort && !COLUMNS.some(function (c) { return c.key === state.sort; })) delete state.sort;
    if (state.dir !== "asc" && state.dir !== "desc") delete state.dir;
    this.state = state;
    this.syncControls();
  };

  Catalog.prototype.syncControls = function () {
    var self = this;
    this.searchInput.value = this.state.q || "";
    FACETS.forEach(function (facet) {
      var select = self.selects[facet.key];
      var wanted = self.state[facet.key] || "";
      if (wanted && !Array.prototype.some.call(select.options, function (o) { return o.value === wanted; })) {
        select.appendChild(el("option", { value: wanted }, wanted + " (0)"));
      }
      select.value = wanted;
    });
  };

  Catalog.prototype.writeUrl = function () {
    var params = new URLSearchParams();
    var state = this.state;
    if (state.q) params.set(SEARCH_PARAM, state.q);
    FACETS.map(function (f) { return f.key; }).concat(["sort", "dir"]).forEach(function (k) {
      if (state[k]) params.set(k, state[k]);
    });
    var query = params.toString();
    var url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(null, "", url);
    }
  };

  Catalog.prototype.render = function () {
    var self = this;
    var state = this.state;
    var terms = (state.q || "").toLowerCase().split(/\s+/).filter(Boolean);
    var visible = [];
    this.rows.forEach(function (row, i) {
      for (var f = 0; f < FACETS.length; f++) {
        if (!matchesFacet(row, FACETS[f], state[FACETS[f].key])) return;
      }
      for (var t = 0; t < terms.length; t++) {
        if (self.search[i].indexOf(terms[t]) === -1) return;
      }
      visible.push(row);
    });
    var sorting = this.sortState();
    var key = sorting.key;
    var sign = sorting.dir === "desc" ? -1 : 1;
    visible.sort(function (a, b) {
      return sign * compare(a, b, key) || (b.year || 0) - (a.year || 0) || nameOf(a).localeCompare(nameOf(b));
    });
    var frag = document.createDocumentFragment();
    visible.forEach(function (row) { frag.appendChild(self.rowNode(row)); });
    this.tbody.replaceChildren(frag);
    this.empty.hidden = visible.length !== 0;
    this.count.textContent = visible.length === this.rows.length
      ? "Showing all " + this.rows.length + " papers"
      : "Showing " + visible.length + " of " + this.rows.length + " papers";
    COLUMNS.forEach(function (col) {
      var dir = key === col.key ? (sign < 0 ? "descending" : "ascending") : "none";
      self.headers[col.key].setAttribute("aria-sort", dir);
    });
    this.writeUrl();
  };

  function init() {
    var root = document.getElementById("tz-catalog");
    var data = document.getElementById("tz-catalog-data");
    if (!root || !data || root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    var payload = JSON.parse(data.textContent);
    window.tokzooCatalog = new Catalog(root, payload);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
