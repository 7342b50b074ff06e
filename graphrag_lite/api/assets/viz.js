/* graphrag-lite graph view. Data (element #graph-data, written by graphrag_lite/api/viz.py):
 *   meta:  {title, entities_total, relationships_total, shown, edges_shown, levels: [int], level: int|null}
 *   nodes: drawn entities, highest degree first: {t: title, k: type, d: description, a: aliases,
 *          g: degree, f: frequency, x, y: position, s: size, c: community id per level (null = none),
 *          u: indexes into units, nu: number of text units of the entity, h: relationships left out}
 *   others: titles of entities that are not drawn but are the far end of a listed relationship
 *   edges: [i, j, weight, description]; an index >= nodes.length points into others (edge not drawn)
 *   communities: {community id: report title};  units: [doc index, chunk index, snippet];  docs: [title]
 * Entity text is only ever inserted with textContent, never as HTML.
 */
(function () {
  "use strict";
  var started = performance.now();
  var statusEl = document.getElementById("status");

  function fail(message) {
    statusEl.dataset.state = "error";
    statusEl.textContent = "The graph could not be drawn: " + message;
  }
  window.addEventListener("error", function (event) { fail(event.message); });

  var data = JSON.parse(document.getElementById("graph-data").textContent);
  var meta = data.meta, nodes = data.nodes, N = nodes.length;
  var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                 "#9c755f", "#3b8bc2", "#86bcb6", "#d37295", "#8cd17d", "#b6992d", "#499894", "#e6a23c",
                 "#a0cbe8", "#ffbe7d", "#d4a6c8", "#79706e"];
  var NO_COMMUNITY = "#c4c4c4";
  var levelPos = meta.level === null ? -1 : meta.levels.indexOf(meta.level);

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function indexOf(node) { return Number(node.id().slice(1)); }
  function titleOf(i) { return i < N ? nodes[i].t : data.others[i - N]; }

  // Relationships of each drawn entity (indexes into data.edges), strongest first.
  var rels = nodes.map(function () { return []; });
  data.edges.forEach(function (e, k) {
    if (e[0] < N) rels[e[0]].push(k);
    if (e[1] < N && e[1] !== e[0]) rels[e[1]].push(k);
  });
  rels.forEach(function (list) { list.sort(function (a, b) { return data.edges[b][2] - data.edges[a][2]; }); });

  // Colours: the largest communities (among drawn entities) get the palette, the rest a spread of hues.
  function colouring(pos) {
    var counts = {};
    if (pos >= 0) nodes.forEach(function (n) { var c = n.c[pos]; if (c) counts[c] = (counts[c] || 0) + 1; });
    var order = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || (a < b ? -1 : 1); });
    var colour = {};
    order.forEach(function (c, rank) {
      colour[c] = rank < PALETTE.length ? PALETTE[rank]
        : "hsl(" + Math.round((rank * 137.508) % 360) + ",55%," + (rank % 2 ? 62 : 48) + "%)";
    });
    return {order: order, counts: counts, colour: colour};
  }
  function nodeColour(scheme, i) {
    var c = levelPos >= 0 ? nodes[i].c[levelPos] : null;
    return c ? scheme.colour[c] : NO_COMMUNITY;
  }

  var scheme = colouring(levelPos);
  var maxWeight = 0;
  data.edges.forEach(function (e) { if (e[0] < N && e[1] < N) maxWeight = Math.max(maxWeight, e[2]); });
  var elements = [];
  nodes.forEach(function (n, i) {
    elements.push({group: "nodes", data: {id: "n" + i, label: n.t, size: n.s, color: nodeColour(scheme, i),
                   font: Math.round(8 + n.s / 4)}, position: {x: n.x, y: n.y}});
  });
  data.edges.forEach(function (e, k) {
    if (e[0] >= N || e[1] >= N || e[0] === e[1]) return;
    var width = 0.6 + 3.4 * Math.sqrt(maxWeight > 0 ? Math.max(e[2], 0) / maxWeight : 0);
    elements.push({group: "edges", data: {id: "e" + k, source: "n" + e[0], target: "n" + e[1], width: width}});
  });

  var big = N > 1500;
  var cy = cytoscape({
    container: document.getElementById("graph"),
    elements: elements,
    layout: {name: "preset", fit: true, padding: 40},
    minZoom: 0.01,
    maxZoom: 10,
    boxSelectionEnabled: false,
    textureOnViewport: big,
    hideEdgesOnViewport: big,
    motionBlur: false,
    pixelRatio: big ? 1 : "auto",
    style: [
      {selector: "node", style: {
        "background-color": "data(color)", "width": "data(size)", "height": "data(size)",
        "label": "data(label)", "font-size": "data(font)", "min-zoomed-font-size": 9,
        "color": "#222", "text-valign": "bottom", "text-margin-y": 2,
        "text-outline-color": "#fbfbfa", "text-outline-width": 1.5, "border-width": 0}},
      {selector: "edge", style: {
        "width": "data(width)", "line-color": "#8a96a3", "opacity": 0.45, "curve-style": "haystack",
        "haystack-radius": 0}},
      {selector: "node.focus", style: {"border-width": 4, "border-color": "#111", "z-index": 10}},
      {selector: "edge.near", style: {"opacity": 0.9, "line-color": "#555"}},
      {selector: ".faded", style: {"opacity": 0.12, "text-opacity": 0}}
    ]
  });

  // Fit the whole graph, but a handful of nodes should not fill the screen. Until the user moves the
  // view, a window resize (which Cytoscape follows by itself) fits again.
  var container = document.getElementById("graph"), touched = false;
  function fitAll() {
    cy.fit(undefined, 40);
    if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); }
  }
  fitAll();
  ["mousedown", "wheel", "touchstart"].forEach(function (kind) {
    container.addEventListener(kind, function () { touched = true; }, {passive: true});
  });
  cy.on("resize", function () { if (!touched) fitAll(); });

  // The most connected entities keep a readable label at any zoom; the others show theirs when zoomed in.
  var HUBS = Math.min(N, 25);
  function hubLabels() {
    var zoom = cy.zoom();
    cy.batch(function () {
      for (var i = 0; i < HUBS; i++) {
        cy.getElementById("n" + i).data("font", Math.max(Math.round(8 + nodes[i].s / 4), 12 / zoom));
      }
    });
  }
  cy.on("zoom", hubLabels);
  hubLabels();

  var shownRels = meta.edges_shown;
  document.getElementById("summary").textContent =
    "Showing " + fmt(N) + " of " + fmt(meta.entities_total) + " entities" +
    (N < meta.entities_total ? " (the most connected)" : "") + " and " + fmt(shownRels) + " of " +
    fmt(meta.relationships_total) + " relationships. Size = degree; colour = community.";

  // -- community level selector and legend ------------------------------------------------------------
  var select = document.getElementById("level");
  if (!meta.levels.length) {
    document.getElementById("level-label").hidden = true;
  } else {
    meta.levels.forEach(function (level, pos) {
      var option = el("option", "level " + level + (level === meta.levels[0] ? " (coarsest)" : ""));
      option.value = String(pos);
      select.appendChild(option);
    });
    select.value = String(levelPos);
    select.addEventListener("change", function () {
      levelPos = Number(select.value);
      scheme = colouring(levelPos);
      cy.batch(function () { cy.nodes().forEach(function (node) { node.data("color", nodeColour(scheme, indexOf(node))); }); });
      drawLegend();
    });
  }

  function drawLegend() {
    var legend = document.getElementById("legend");
    legend.textContent = "";
    if (levelPos < 0) return;
    scheme.order.slice(0, 12).forEach(function (c) {
      var row = el("div");
      var swatch = el("span", null, "swatch");
      swatch.style.background = scheme.colour[c];
      row.appendChild(swatch);
      row.appendChild(el("span", (data.communities[c] || c) + " (" + scheme.counts[c] + ")"));
      row.title = "Show community " + c;
      row.addEventListener("click", function () { showCommunity(c); });
      legend.appendChild(row);
    });
    if (scheme.order.length > 12) legend.appendChild(el("div", "… " + (scheme.order.length - 12) + " more communities", "more"));
  }

  function showCommunity(c) {
    var members = cy.nodes().filter(function (node) { return nodes[indexOf(node)].c[levelPos] === c; });
    cy.batch(function () {
      cy.elements().removeClass("focus near").addClass("faded");
      members.union(members.edgesWith(members)).removeClass("faded");
    });
    cy.animate({fit: {eles: members, padding: 60}}, {duration: 400});
  }

  // -- side panel ---------------------------------------------------------------------------------------
  var panel = document.getElementById("panel"), body = document.getElementById("panel-body");

  function entityLink(i) {
    if (i >= N) {
      var span = el("span", titleOf(i));
      span.appendChild(el("span", " (not drawn)", "tag"));
      return span;
    }
    var link = el("a", titleOf(i));
    link.addEventListener("click", function () { focusEntity(i); });
    return link;
  }

  function showEntity(i) {
    var n = nodes[i];
    body.textContent = "";
    body.appendChild(el("h2", n.t));
    body.appendChild(el("div", [n.k || "entity", "degree " + n.g, "in " + n.nu + " text unit" + (n.nu === 1 ? "" : "s")].join(" · "), "meta"));
    meta.levels.forEach(function (level, pos) {
      var c = n.c[pos];
      if (c) body.appendChild(el("div", "Community (level " + level + "): " + (data.communities[c] || c), "meta"));
    });
    if (n.a && n.a.length) body.appendChild(el("div", "Also called: " + n.a.join(", "), "meta"));
    body.appendChild(el("h3", "Description"));
    body.appendChild(el("div", n.d || "(no description)", "desc"));

    body.appendChild(el("h3", "Relationships (" + (rels[i].length + n.h) + ")"));
    var list = el("ul");
    rels[i].forEach(function (k) {
      var e = data.edges[k], other = e[0] === i ? e[1] : e[0];
      var item = el("li"), head = el("div", null, "rel-head");
      head.appendChild(entityLink(other));
      head.appendChild(el("span", "weight " + e[2], "weight"));
      item.appendChild(head);
      if (e[3]) item.appendChild(el("div", e[3], "rel-desc"));
      list.appendChild(item);
    });
    if (n.h) list.appendChild(el("li", "… and " + n.h + " weaker relationships to entities that are not drawn", "tag"));
    body.appendChild(list);

    body.appendChild(el("h3", "Sources" + (n.nu > n.u.length ? " (first " + n.u.length + " of " + n.nu + ")" : "")));
    var sources = el("ul");
    n.u.forEach(function (u) {
      var unit = data.units[u], item = el("li");
      item.appendChild(el("div", data.docs[unit[0]] + " · chunk " + unit[1], "doc"));
      item.appendChild(el("blockquote", unit[2]));
      sources.appendChild(item);
    });
    if (!n.u.length) sources.appendChild(el("li", "(no text units recorded)", "tag"));
    body.appendChild(sources);
    panel.hidden = false;
    panel.scrollTop = 0;

    var node = cy.getElementById("n" + i), hood = node.closedNeighborhood();
    cy.batch(function () {
      cy.elements().removeClass("focus near").addClass("faded");
      hood.removeClass("faded");
      node.connectedEdges().addClass("near");
      node.addClass("focus");
    });
  }

  function clearFocus() {
    panel.hidden = true;
    cy.batch(function () { cy.elements().removeClass("faded focus near"); });
  }

  function focusEntity(i) {
    // Centre the entity in the part of the graph the side panel leaves visible.
    touched = true;
    showEntity(i);
    var p = cy.getElementById("n" + i).position(), zoom = Math.max(cy.zoom(), 1.2);
    var visible = container.clientWidth - (panel.hidden ? 0 : panel.offsetWidth);
    cy.animate({zoom: zoom, pan: {x: visible / 2 - p.x * zoom, y: container.clientHeight / 2 - p.y * zoom}},
               {duration: 400});
  }

  cy.on("tap", "node", function (event) { showEntity(indexOf(event.target)); });
  cy.on("tap", function (event) { if (event.target === cy) clearFocus(); });
  document.getElementById("close").addEventListener("click", clearFocus);

  // -- search -------------------------------------------------------------------------------------------
  var input = document.getElementById("search"), matchList = document.getElementById("matches");
  var lowered = nodes.map(function (n) {
    return [n.t].concat(n.a || []).map(function (name) { return String(name).toLowerCase(); });
  });
  var current = [];

  function findMatches(query) {
    var q = query.trim().toLowerCase();
    if (!q) return [];
    // Exact names first, then matches at the start of a word, then anywhere; each by degree (node order).
    var hits = [];
    for (var i = 0; i < N; i++) {
      var names = lowered[i], best = 3;
      for (var k = 0; k < names.length; k++) {
        var at = names[k].indexOf(q);
        if (at < 0) continue;
        best = Math.min(best, names[k] === q ? 0 : (at === 0 || /[^a-z0-9]/.test(names[k].charAt(at - 1))) ? 1 : 2);
      }
      if (best < 3) hits.push([best, i]);
    }
    hits.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    return hits.slice(0, 15).map(function (h) { return h[1]; });
  }

  function showMatches() {
    current = findMatches(input.value);
    matchList.textContent = "";
    if (!input.value.trim()) { matchList.hidden = true; return; }
    current.forEach(function (i, rank) {
      var item = el("li", nodes[i].t, rank === 0 ? "active" : "");
      item.appendChild(el("small", nodes[i].k + " · degree " + nodes[i].g));
      item.addEventListener("mousedown", function (event) { event.preventDefault(); pick(i); });
      matchList.appendChild(item);
    });
    if (!current.length) {
      matchList.appendChild(el("li", "No drawn entity matches" + (N < meta.entities_total ? " (only the " + fmt(N) + " most connected are drawn)" : ""), "none"));
    }
    matchList.hidden = false;
  }

  function pick(i) {
    matchList.hidden = true;
    input.value = nodes[i].t;
    focusEntity(i);
  }

  input.addEventListener("input", showMatches);
  input.addEventListener("focus", showMatches);
  input.addEventListener("blur", function () { matchList.hidden = true; });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && current.length) pick(current[0]);
    if (event.key === "Escape") { input.value = ""; matchList.hidden = true; clearFocus(); }
  });

  drawLegend();
  // Expose a tiny API for scripting and tests: graphView.find("scrooge"), graphView.focus(index).
  window.graphView = {cy: cy, find: findMatches, focus: focusEntity};

  function ready() {
    if (statusEl.dataset.state === "error") return;
    statusEl.dataset.state = "ready";
    statusEl.dataset.nodes = String(cy.nodes().length);
    statusEl.dataset.edges = String(cy.edges().length);
    statusEl.dataset.ms = String(Math.round(performance.now() - started));
    statusEl.textContent = N ? "" : "The index has no entities to draw.";
  }
  cy.one("render", ready);
  if (!N) ready();
})();
