// graphrag-lite web page: ask, stream the answer, open cited passages, draw the graph around the answer.
// Every text from the index (answers, names, passages) goes into the page with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let apiKey = sessionStorage.getItem("graphrag-api-key") || "";
let graph = null;

function headers(extra = {}) {
  return apiKey ? { ...extra, Authorization: `Bearer ${apiKey}` } : extra;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (response.status === 401) {
    $("key-box").hidden = false;
    throw new Error("This server needs an API key: enter it at the top right, then ask again.");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function setStatus(text) { $("status").textContent = text; }

async function showIndexStatus() {
  try {
    const health = await (await api("/health")).json();
    $("index-status").textContent = health.index
      ? (health.job ? `index job ${health.job} running; answering from the last complete index` : "index ready")
      : "no index yet: POST /documents or run graphrag-lite index";
  } catch (error) {
    $("index-status").textContent = error.message;
  }
}

// Server-sent events over fetch (EventSource cannot POST or send the key).
async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  apiKey = $("api-key").value || apiKey;
  if (apiKey) sessionStorage.setItem("graphrag-api-key", apiKey);
  $("submit").disabled = true;
  $("answer").textContent = "";
  $("answer").classList.remove("error");
  $("sources-box").hidden = true;
  $("unit-box").hidden = true;
  setStatus("searching…");
  try {
    const response = await api("/query", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, method: $("method").value }),
    });
    for await (const { event: kind, data } of readEvents(response)) {
      if (kind === "delta") $("answer").textContent += data.text;
      else if (kind === "error") throw new Error(data.error);
      else if (kind === "result") showResult(data);
    }
  } catch (error) {
    $("answer").textContent = error.message;
    $("answer").classList.add("error");
    setStatus("");
  } finally {
    $("submit").disabled = false;
  }
}

function showResult(result) {
  $("answer").textContent = result.answer;
  const tokens = result.prompt_tokens + result.completion_tokens;
  setStatus(`${result.method} search · ${result.llm_calls} LLM calls · ${tokens} tokens · ${result.duration_s.toFixed(2)} s`
    + (result.extractive ? " · extractive (no LLM)" : ""));
  const list = $("sources");
  list.replaceChildren();
  const seen = new Set();
  for (const citation of result.citations) {
    if (seen.has(citation.text_unit_id)) continue;
    seen.add(citation.text_unit_id);
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "citation";
    button.dataset.unit = citation.text_unit_id;
    const where = citation.pages ? `, ${citation.pages}` : citation.section ? ` § ${citation.section}` : "";
    button.textContent = `${citation.document_title}${where} (${citation.text_unit_id})`;
    button.addEventListener("click", () => openUnit(citation.text_unit_id));
    item.append(button);
    list.append(item);
  }
  $("sources-box").hidden = seen.size === 0;
  const entities = result.context.entities.slice(0, 5);
  const units = entities.length ? [] : [...seen].slice(0, 3);
  if (entities.length || units.length) drawGraph(entities, units);
}

async function openUnit(unitId) {
  try {
    const unit = await (await api(`/text_units/${encodeURIComponent(unitId)}`)).json();
    $("unit-title").textContent = `${unit.document_title} · part ${unit.chunk_index + 1}`;
    $("unit-text").textContent = unit.text;
    $("unit-box").hidden = false;
    $("unit-box").scrollIntoView({ block: "nearest" });
  } catch (error) {
    setStatus(error.message);
  }
}

async function drawGraph(entities, units) {
  const params = new URLSearchParams({ hops: "1", limit: "60" });
  entities.forEach((e) => params.append("entity", e));
  units.forEach((u) => params.append("unit", u));
  let view;
  try {
    view = await (await api(`/graph?${params}`)).json();
  } catch (error) {
    $("graph-caption").textContent = error.message;
    return;
  }
  $("graph-caption").textContent = `${view.nodes.length} entities around the answer (bold: in the answer's context)`;
  const elements = [
    ...view.nodes.map((n) => ({ data: { id: n.id, label: n.title, type: n.type, seed: n.seed ? 1 : 0, degree: n.degree },
                                position: { x: n.x, y: n.y } })),
    ...view.edges.map((e) => ({ data: { id: e.id, source: e.source, target: e.target, description: e.description } })),
  ];
  if (graph) graph.destroy();
  graph = cytoscape({
    container: $("graph"),
    elements,
    layout: { name: "preset" },
    style: [
      { selector: "node", style: { label: "data(label)", "font-size": 10, width: 14, height: 14,
                                   "background-color": "#8aa6e8", "text-valign": "bottom", "text-margin-y": 3 } },
      { selector: "node[seed = 1]", style: { "background-color": "#2d5bd0", "font-weight": "bold", width: 20, height: 20 } },
      { selector: "edge", style: { width: 1, "line-color": "#c7ccd6", "curve-style": "haystack" } },
    ],
  });
  graph.on("tap", "node", (event) => showEntity(event.target.id()));
  graph.fit(undefined, 20);
}

async function showEntity(entityId) {
  try {
    const entity = await (await api(`/entities/${encodeURIComponent(entityId)}`)).json();
    $("entity-title").textContent = `${entity.title} (${entity.type})`;
    $("entity-description").textContent = entity.description;
    $("entity-box").hidden = false;
  } catch (error) {
    setStatus(error.message);
  }
}

$("api-key").value = apiKey;
$("ask").addEventListener("submit", ask);
showIndexStatus();
