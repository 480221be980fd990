/*
 * tokzoo catalog table: search, multi-value filters with live counts, sortable columns,
 * state in the URL, BibTeX/CSV export of the filtered list, card layout on phones.
 *
 * Vanilla JavaScript, no dependencies, no network. Reads the JSON in the data-json attribute
 * of <div id="tz-catalog-data"> and renders into #tz-catalog.
 * Catalog strings are only ever assigned with textContent / setAttribute, never innerHTML.
 *
 * Search (the same rules as `tokzoo list TEXT`): every word must match. A word with *, ? or [
 * is a wildcard matched against the whole id, name, arXiv id, title or an author's name (or one
 * word of them); any other word matches a word of the paper (title, name, id, arXiv id, venue,
 * authors, labels) by prefix: "fast" finds FastV, "2403.06" the arXiv id 2403.06764.
 * Filters: several values of one filter are alternatives (OR); filters combine with AND.
 */
(function () {
  "use strict";

  var SCRIPT_SRC = document.currentScript ? document.currentScript.src : null;
  // Not "q": Material's own site search opens on ?q=.
  var SEARCH_PARAM = "search";
  var FACETS = [
    { key: "modality", label: "Modality", multi: true, vocab: "modality" },
    { key: "technique", label: "Technique", multi: true, vocab: "technique" },
    { key: "family", label: "Model family", multi: true, vocab: "family" },
    { key: "year", label: "Year" },
    { key: "venue", label: "Venue", field: "venue_name" },
    { key: "free", label: "Training-free", fixed: [["yes", "training-free"], ["no", "needs training"]] },
    { key: "code", label: "Code", fixed: [["yes", "has code"], ["no", "no code"]] },
    { key: "zoo", label: "In tokzoo", vocab: "zoo" },
    { key: "repro", label: "Repro status", vocab: "repro", none: ["none", "no repro script"] }
  ];
  var COLUMNS = [
    { key: "year", label: "Year", cls: "tz-col-year", title: "The upstream list's section year (year of the first version)" },
    { key: "venue", label: "Venue", cls: "tz-col-venue" },
    { key: "paper", label: "Paper", cls: "tz-col-paper" },
    { key: "modality", label: "Modality", cls: "tz-col-modality" },
    { key: "technique", label: "Technique", cls: "tz-col-technique" },
    { key: "code", label: "Code", cls: "tz-col-code" },
    { key: "zoo", label: "Zoo", cls: "tz-col-zoo" },
    { key: "repro", label: "Repro", cls: "tz-col-repro" }
  ];
  var ZOO_ORDER = { implemented: 0, planned: 1, none: 2 };
  var REPRO_ORDER = { reproduced: 0, "reproduced, no accuracy claim": 1, partial: 2, "analytic only": 3,
                      deviates: 4, failed: 5, "not run": 6 };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (attrs[name] !== null && attrs[name] !== undefined && attrs[name] !== false) {
          node.setAttribute(name, String(attrs[name]));
        }
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

  function rowValues(row, facet) {
    switch (facet.key) {
      case "code": return [row.code_url ? "yes" : "no"];
      case "free": return [row.training_free ? "yes" : "no"];
      case "repro": return [row.repro === null || row.repro === undefined ? "none" : row.repro];
      case "year": return row.year === null || row.year === undefined ? [] : [String(row.year)];
      default: {
        var v = row[facet.field || facet.key];
        if (Array.isArray(v)) return v;
        return v === null || v === undefined || v === "" ? [] : [String(v)];
      }
    }
  }

  function matchesFacet(row, facet, wanted) {
    if (!wanted || !wanted.length) return true;
    var values = rowValues(row, facet);
    for (var i = 0; i < wanted.length; i++) if (values.indexOf(wanted[i]) !== -1) return true;
    return false;
  }

  // ---------------------------------------------------------------- search
  function splitWords(text) {
    // words keep inner '.' and '-' (arXiv ids, "llava-1.5"); their parts and camelCase parts count too
    var out = [];
    String(text).split(/[\s,;:()\[\]{}"'!?\/|+]+/).forEach(function (w) {
      if (!w) return;
      out.push(w.toLowerCase());
      w.split(/[.\-_]+/).forEach(function (p) {
        if (!p) return;
        out.push(p.toLowerCase());
        p.replace(/([a-z0-9])([A-Z])/g, "$1 $2").split(" ").forEach(function (c) { if (c) out.push(c.toLowerCase()); });
      });
    });
    return out;
  }

  function searchIndex(row) {
    var fields = [row.title, row.short_name, row.id, row.arxiv, row.venue].concat(row.authors || [])
      .concat(row.modality, row.technique, row.family)
      .filter(function (x) { return x !== null && x !== undefined && x !== ""; });
    var words = [];
    fields.forEach(function (f) { words = words.concat(splitWords(f)); });
    var whole = [row.id, row.short_name, row.arxiv, row.title].concat(row.authors || [])
      .filter(function (x) { return x; }).map(function (x) { return String(x).toLowerCase(); });
    return { words: words, whole: whole };
  }

  function globRegex(term) {
    // fnmatch: * any run, ? one character, [abc] / [!abc] a class; case-insensitive, whole string
    var re = "";
    for (var i = 0; i < term.length; i++) {
      var c = term[i];
      if (c === "*") re += ".*";
      else if (c === "?") re += ".";
      else if (c === "[") {
        var j = term.indexOf("]", i + 2);
        if (j === -1) { re += "\\["; continue; }
        var body = term.slice(i + 1, j);
        if (body[0] === "!") body = "^" + body.slice(1);
        re += "[" + body.replace(/\\/g, "\\\\") + "]";
        i = j;
      } else re += c.replace(/[.+^${}()|\\\/\]]/g, "\\$&");
    }
    return new RegExp("^" + re + "$", "i");
  }

  function compileTerms(query) {
    return (query || "").toLowerCase().split(/\s+/).filter(Boolean).map(function (t) {
      if (/[*?\[]/.test(t)) {
        var re = globRegex(t);
        return function (idx) {
          return idx.whole.some(function (w) { return re.test(w); }) || idx.words.some(function (w) { return re.test(w); });
        };
      }
      return function (idx) { return idx.words.some(function (w) { return w.lastIndexOf(t, 0) === 0; }); };
    });
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

  // ---------------------------------------------------------------- export
  function csvCell(value) {
    var text = value === null || value === undefined ? "" : Array.isArray(value) ? value.join("; ") : String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text; // no formula injection in spreadsheets
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  var CSV_FIELDS = ["id", "short_name", "title", "authors", "year", "arxiv_published", "venue", "venue_year",
                    "arxiv", "paper_url", "code_url", "project_url", "code_license", "modality", "technique",
                    "family", "training_free", "zoo", "repro"];

  function download(name, text, type) {
    var blob = new Blob([text], { type: type });
    var a = el("a", { href: URL.createObjectURL(blob), download: name });
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  }

  // ---------------------------------------------------------------- the table
  function Catalog(root, payload) {
    this.root = root;
    this.rows = payload.rows;
    this.vocab = payload.vocab || {};
    this.badges = payload.badges || {};
    this.base = siteRoot();
    this.state = { f: {} };
    this.rowNodes = new Map();
    this.index = this.rows.map(searchIndex);
    this.build();
    this.readUrl();
    this.render();
  }

  Catalog.prototype.img = function (path, label, href) {
    var img = el("img", { src: new URL(path, this.base).href, alt: label, title: label, "class": "tz-badge", loading: "lazy" });
    if (!href) return img;
    var a = el("a", { href: href });
    a.appendChild(img);
    return a;
  };

  Catalog.prototype.badge = function (kind, value, href) {
    var path = this.badges[kind + ":" + value];
    if (!path) return el("span", { "class": "tz-status" }, value);
    return this.img(path, kind + ": " + value, href);
  };

  Catalog.prototype.options = function (facet) {
    var counts = new Map();
    this.rows.forEach(function (row) {
      rowValues(row, facet).forEach(function (x) { counts.set(x, (counts.get(x) || 0) + 1); });
    });
    var opts = [];
    var voc = facet.vocab ? this.vocab[facet.vocab] || {} : {};
    if (facet.fixed) {
      facet.fixed.forEach(function (f) { opts.push([f[0], f[1], ""]); });
    } else if (facet.vocab) {
      Object.keys(voc).forEach(function (k) { if (counts.has(k)) opts.push([k, k, voc[k]]); });
      counts.forEach(function (_, k) {
        if (!(k in voc) && !(facet.none && k === facet.none[0])) opts.push([k, k, ""]);
      });
      if (facet.none && counts.has(facet.none[0])) opts.push([facet.none[0], facet.none[1], ""]);
    } else {
      var keys = Array.from(counts.keys());
      if (facet.key === "year") keys.sort(function (a, b) { return Number(b) - Number(a); });
      else keys.sort(function (a, b) { return counts.get(b) - counts.get(a) || String(a).localeCompare(String(b)); });
      keys.forEach(function (k) { opts.push([k, k, ""]); });
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
      placeholder: "Search " + this.rows.length + " papers: name, title, author, arXiv id; fast* or fast?v"
    });
    var timer = null;
    this.searchInput.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { self.state.q = self.searchInput.value.trim(); self.render(); }, 120);
    });
    searchWrap.appendChild(this.searchInput);
    controls.appendChild(searchWrap);

    // Filters: one dropdown of checkboxes per facet; the whole group collapses (closed on phones).
    this.filterBox = el("details", { "class": "tz-filters" });
    if (!window.matchMedia || window.matchMedia("(min-width: 45em)").matches) this.filterBox.open = true;
    this.filterSummary = el("summary", { "class": "tz-filters-summary" }, "Filters");
    this.filterBox.appendChild(this.filterSummary);
    var facets = el("div", { "class": "tz-facets" });
    this.boxes = {};
    this.facetButtons = {};
    FACETS.forEach(function (facet) {
      var wrap = el("details", { "class": "tz-facet", "data-facet": facet.key });
      var summary = el("summary", { "class": "tz-facet-label" });
      summary.appendChild(el("span", { "class": "tz-facet-name" }, facet.label));
      var chosen = el("span", { "class": "tz-facet-chosen" }, "any");
      summary.appendChild(chosen);
      self.facetButtons[facet.key] = chosen;
      wrap.appendChild(summary);
      var list = el("div", { "class": "tz-facet-options", role: "group", "aria-label": facet.label });
      self.boxes[facet.key] = {};
      self.options(facet).forEach(function (o) {
        var lab = el("label", { "class": "tz-option", title: o[2] || null });
        var box = el("input", { type: "checkbox", name: facet.key, value: o[0] });
        box.addEventListener("change", function () { self.toggle(facet.key, o[0], box.checked); });
        lab.appendChild(box);
        lab.appendChild(el("span", { "class": "tz-option-name" }, o[1]));
        var count = el("span", { "class": "tz-option-count" }, "");
        lab.appendChild(count);
        list.appendChild(lab);
        self.boxes[facet.key][o[0]] = { box: box, count: count, label: lab };
      });
      wrap.appendChild(list);
      facets.appendChild(wrap);
    });
    this.filterBox.appendChild(facets);
    // one facet dropdown open at a time; a click elsewhere closes it
    facets.addEventListener("toggle", function (e) {
      if (!e.target.open) return;
      facets.querySelectorAll(".tz-facet[open]").forEach(function (d) { if (d !== e.target) d.open = false; });
    }, true);
    document.addEventListener("click", function (e) {
      if (!facets.contains(e.target)) facets.querySelectorAll(".tz-facet[open]").forEach(function (d) { d.open = false; });
    });

    var actions = el("div", { "class": "tz-actions" });
    this.sortSelect = el("select", { name: "sort", "class": "tz-sort", "aria-label": "Sort by" });
    COLUMNS.forEach(function (col) {
      ["desc", "asc"].forEach(function (dir) {
        self.sortSelect.appendChild(el("option", { value: col.key + ":" + dir },
          "Sort: " + col.label.toLowerCase() + (dir === "desc" ? " \u2193" : " \u2191")));
      });
    });
    this.sortSelect.addEventListener("change", function () {
      var parts = self.sortSelect.value.split(":");
      self.state.sort = parts[0];
      self.state.dir = parts[1];
      self.render();
    });
    actions.appendChild(this.sortSelect);
    var reset = el("button", { type: "button", "class": "md-button tz-reset" }, "Reset");
    reset.addEventListener("click", function () { self.state = { f: {} }; self.syncControls(); self.render(); });
    actions.appendChild(reset);
    var bib = el("button", { type: "button", "class": "md-button tz-export", "data-export": "bibtex" }, "BibTeX");
    bib.addEventListener("click", function () { self.exportBibtex(); });
    actions.appendChild(bib);
    var csv = el("button", { type: "button", "class": "md-button tz-export", "data-export": "csv" }, "CSV");
    csv.addEventListener("click", function () { self.exportCsv(); });
    actions.appendChild(csv);
    this.filterBox.appendChild(actions);
    controls.appendChild(this.filterBox);

    this.count = el("p", { "class": "tz-count", "aria-live": "polite" });

    var wrapper = el("div", { "class": "tz-table-wrap" });
    var tableEl = el("table", { "class": "tz-table tz-catalog-table" });
    var thead = el("thead");
    var tr = el("tr");
    this.headers = {};
    COLUMNS.forEach(function (col) {
      var th = el("th", { scope: "col", "class": col.cls, "aria-sort": "none", title: col.title || null });
      var btn = el("button", { type: "button", "data-sort": col.key, title: col.title || "Sort by " + col.label.toLowerCase() }, col.label);
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

  Catalog.prototype.chips = function (values, vocabName, cls) {
    var cell = el("td", { "class": cls, "data-label": cls === "tz-col-modality" ? "Modality" : "Technique" });
    var voc = this.vocab[vocabName] || {};
    values.forEach(function (v) {
      cell.appendChild(el("span", { "class": "tz-chip tz-chip-" + vocabName, title: voc[v] || null }, v));
    });
    return cell;
  };

  Catalog.prototype.rowNode = function (row) {
    var cached = this.rowNodes.get(row.id);
    if (cached) return cached;
    var self = this;
    var tr = el("tr", { "data-id": row.id });
    tr.appendChild(el("td", { "class": "tz-col-year", "data-label": "Year",
                              title: "section year of the upstream list" }, row.year));
    tr.appendChild(el("td", { "class": "tz-col-venue", "data-label": "Venue" }, row.venue));

    var paper = el("td", { "class": "tz-col-paper" });
    var methodHref = row.method_url ? new URL(row.method_url, this.base).href : null;
    // The name is shown before the title unless the title already starts with it.
    var titleHasName = row.short_name && row.title.toLowerCase().indexOf(row.short_name.toLowerCase()) === 0;
    if (row.short_name && !titleHasName) {
      var nameNode = methodHref
        ? el("a", { href: methodHref, "class": "tz-name", title: "tokzoo method page" }, row.short_name || row.id)
        : el("strong", { "class": "tz-name" }, row.short_name);
      paper.appendChild(nameNode);
    }
    var href = safeHref(row.paper_url);
    paper.appendChild(href ? el("a", { href: href, "class": "tz-title", rel: "noopener" }, row.title)
                           : el("span", { "class": "tz-title" }, row.title));
    if (row.authors && row.authors.length) {
      var names = row.authors.length > 4 ? row.authors.slice(0, 3).join(", ") + " et al." : row.authors.join(", ");
      paper.appendChild(el("span", { "class": "tz-authors", title: row.authors.join(", ") }, names));
    }
    var meta = [];
    if (row.arxiv) meta.push("arXiv:" + row.arxiv + (row.arxiv_published ? " (" + row.arxiv_published + ")" : ""));
    if (meta.length) paper.appendChild(el("span", { "class": "tz-arxiv" }, meta.join(" \u00b7 ")));
    var project = safeHref(row.project_url);
    if (project) {
      var p = el("span", { "class": "tz-links" });
      p.appendChild(el("a", { href: project, rel: "noopener" }, "project page"));
      paper.appendChild(p);
    }
    tr.appendChild(paper);

    tr.appendChild(this.chips(row.modality, "modality", "tz-col-modality"));
    tr.appendChild(this.chips(row.technique, "technique", "tz-col-technique"));

    var code = el("td", { "class": "tz-col-code", "data-label": "Code" });
    var codeHref = safeHref(row.code_url);
    code.appendChild(codeHref ? this.badge("code", "available", codeHref) : el("span", { "class": "tz-dash" }, "\u2013"));
    if (codeHref && row.code_license) code.appendChild(el("span", { "class": "tz-license", title: "code license" }, row.code_license));
    tr.appendChild(code);

    var zoo = el("td", { "class": "tz-col-zoo", "data-label": "Zoo" });
    zoo.appendChild(row.zoo && row.zoo !== "none" ? this.badge("zoo", row.zoo, methodHref) : el("span", { "class": "tz-dash" }, "\u2013"));
    tr.appendChild(zoo);

    var repro = el("td", { "class": "tz-col-repro", "data-label": "Repro" });
    if (row.repro_kinds && row.repro_kinds.length) {
      row.repro_kinds.forEach(function (k) {
        repro.appendChild(self.img(k.badge, k.kind + ": " + k.text, methodHref ? methodHref + "#reproduction" : null));
      });
    } else if (row.repro) {
      repro.appendChild(this.badge("repro", row.repro, methodHref ? methodHref + "#reproduction" : null));
    } else {
      repro.appendChild(el("span", { "class": "tz-dash" }, "\u2013"));
    }
    tr.appendChild(repro);
    [code, zoo, repro].forEach(function (td) { if (td.querySelector(".tz-dash")) td.classList.add("tz-none"); });
    this.rowNodes.set(row.id, tr);
    return tr;
  };

  Catalog.prototype.sortState = function () {
    // Default: newest first. A sort column without a direction sorts ascending (year: descending).
    var key = this.state.sort || "year";
    var dir = this.state.dir || (key === "year" ? "desc" : "asc");
    return { key: key, dir: dir };
  };

  Catalog.prototype.toggle = function (key, value, on) {
    var list = (this.state.f[key] || []).filter(function (v) { return v !== value; });
    if (on) list.push(value);
    if (list.length) this.state.f[key] = list; else delete this.state.f[key];
    this.render();
  };

  Catalog.prototype.readUrl = function () {
    var params = new URLSearchParams(window.location.search);
    var state = { f: {} };
    FACETS.forEach(function (f) {
      var values = [];
      params.getAll(f.key).forEach(function (v) {
        v.split(",").forEach(function (x) { x = x.trim(); if (x && values.indexOf(x) === -1) values.push(x); });
      });
      if (values.length) state.f[f.key] = values;
    });
    ["sort", "dir"].forEach(function (k) { if (params.get(k)) state[k] = params.get(k); });
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
      var wanted = self.state.f[facet.key] || [];
      var boxes = self.boxes[facet.key];
      wanted.forEach(function (v) {
        if (!boxes[v]) { // a value no paper has (e.g. from an old link): shown, with 0 papers
          var list = self.root.querySelector('.tz-facet[data-facet="' + facet.key + '"] .tz-facet-options');
          var lab = el("label", { "class": "tz-option" });
          var box = el("input", { type: "checkbox", name: facet.key, value: v });
          box.addEventListener("change", function () { self.toggle(facet.key, v, box.checked); });
          lab.appendChild(box);
          lab.appendChild(el("span", { "class": "tz-option-name" }, v));
          var count = el("span", { "class": "tz-option-count" }, "");
          lab.appendChild(count);
          list.appendChild(lab);
          boxes[v] = { box: box, count: count, label: lab };
        }
      });
      Object.keys(boxes).forEach(function (v) { boxes[v].box.checked = wanted.indexOf(v) !== -1; });
    });
  };

  Catalog.prototype.writeUrl = function () {
    var params = new URLSearchParams();
    var state = this.state;
    if (state.q) params.set(SEARCH_PARAM, state.q);
    FACETS.forEach(function (f) { if (state.f[f.key]) params.set(f.key, state.f[f.key].join(",")); });
    ["sort", "dir"].forEach(function (k) { if (state[k]) params.set(k, state[k]); });
    var query = params.toString().replace(/%2C/g, ",");
    var url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(null, "", url);
    }
  };

  Catalog.prototype.visibleRows = function () {
    return this.visible || [];
  };

  Catalog.prototype.render = function () {
    var self = this;
    var state = this.state;
    var terms = compileTerms(state.q);
    var searchOk = this.rows.map(function (row, i) {
      for (var t = 0; t < terms.length; t++) if (!terms[t](self.index[i])) return false;
      return true;
    });
    // per row: the facets it fails (counts follow the *other* filters)
    var failing = this.rows.map(function (row) {
      var fails = [];
      FACETS.forEach(function (facet) { if (!matchesFacet(row, facet, state.f[facet.key])) fails.push(facet.key); });
      return fails;
    });
    var visible = [];
    var counts = {};
    FACETS.forEach(function (f) { counts[f.key] = new Map(); });
    this.rows.forEach(function (row, i) {
      if (!searchOk[i]) return;
      var fails = failing[i];
      if (!fails.length) visible.push(row);
      FACETS.forEach(function (facet) {
        if (fails.length === 0 || (fails.length === 1 && fails[0] === facet.key)) {
          rowValues(row, facet).forEach(function (v) { counts[facet.key].set(v, (counts[facet.key].get(v) || 0) + 1); });
        }
      });
    });
    FACETS.forEach(function (facet) {
      var boxes = self.boxes[facet.key];
      Object.keys(boxes).forEach(function (v) {
        var n = counts[facet.key].get(v) || 0;
        boxes[v].count.textContent = String(n);
        boxes[v].label.classList.toggle("tz-option-empty", n === 0);
      });
      var chosen = state.f[facet.key] || [];
      self.facetButtons[facet.key].textContent = chosen.length ? chosen.join(", ") : "any";
      self.root.querySelector('.tz-facet[data-facet="' + facet.key + '"]').classList.toggle("tz-facet-active", chosen.length > 0);
    });
    var nActive = FACETS.filter(function (f) { return (state.f[f.key] || []).length; }).length;
    this.filterSummary.textContent = nActive ? "Filters (" + nActive + " active)" : "Filters";

    var sorting = this.sortState();
    var key = sorting.key;
    var sign = sorting.dir === "desc" ? -1 : 1;
    visible.sort(function (a, b) {
      return sign * compare(a, b, key) || (b.year || 0) - (a.year || 0) || nameOf(a).localeCompare(nameOf(b));
    });
    this.visible = visible;
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
    this.sortSelect.value = key + ":" + sorting.dir;
    this.writeUrl();
  };

  Catalog.prototype.exportBibtex = function () {
    var text = this.visibleRows().map(function (r) { return r.bibtex || ""; }).filter(Boolean).join("\n\n") + "\n";
    download("tokzoo-papers.bib", text, "application/x-bibtex;charset=utf-8");
    return text;
  };

  Catalog.prototype.exportCsv = function () {
    var lines = [CSV_FIELDS.join(",")];
    this.visibleRows().forEach(function (r) {
      lines.push(CSV_FIELDS.map(function (f) { return csvCell(r[f]); }).join(","));
    });
    var text = lines.join("\r\n") + "\r\n";
    download("tokzoo-papers.csv", text, "text/csv;charset=utf-8");
    return text;
  };

  function init() {
    var root = document.getElementById("tz-catalog");
    var data = document.getElementById("tz-catalog-data");
    if (!root || !data || root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    var payload = JSON.parse(data.getAttribute("data-json"));
    window.tokzooCatalog = new Catalog(root, payload);
  }

  // MkDocs-material's instant navigation swaps pages without reloading scripts: run on each page
  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(init);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
