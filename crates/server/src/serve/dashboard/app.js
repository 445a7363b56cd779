// The ballot dashboard. It reads the public HTTP API only (see the README's "HTTP API"):
// the page redraws when an event stream says something changed, never on a timer.
"use strict";

const $ = (selector) => document.querySelector(selector);

// ---- talking to the host ----------------------------------------------------------

const tokenInput = $("#token");
tokenInput.value = sessionStorage.getItem("ballot-token") || "";

/** The token goes in the Authorization header of every call, and in a cookie that only
 * authorises reads: the event streams (EventSource cannot set headers) need it on a host
 * whose reads are not public. */
function useToken() {
  const token = tokenInput.value.trim();
  sessionStorage.setItem("ballot-token", token);
  document.cookie = "ballot_token=" + encodeURIComponent(token) + "; path=/; SameSite=Strict";
}
useToken();
tokenInput.addEventListener("change", () => {
  useToken();
  follow();
  redraw();
});

/** Calls the API; resolves to the parsed JSON (or text), rejects with the host's message. */
async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const token = tokenInput.value.trim();
  if (token) headers.set("Authorization", "Bearer " + token);
  const response = await fetch(path, { ...options, headers });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const message = body && body.error ? body.error.message : String(body);
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

function say(text, failed = false) {
  const message = $("#message");
  message.textContent = text;
  message.className = failed ? "failed" : "";
}

/** Runs a write from a button, reporting its outcome; the streams trigger the redraw. */
async function act(what, call) {
  try {
    await call();
    say(what + ": done");
  } catch (error) {
    say(what + ": " + error.message, true);
  }
}

// ---- drawing helpers --------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function payloadText(payload) {
  if (!payload) return "";
  if (payload.data !== undefined && payload.data !== null) return payload.data;
  if (payload.data_base64) return "(binary) " + payload.data_base64.slice(0, 24);
  return "";
}

function bytes(n) {
  if (n === undefined || n === null) return "";
  if (n < 1024) return n + " B";
  if (n < 1 << 20) return (n / 1024).toFixed(0) + " KiB";
  return (n / (1 << 20)).toFixed(1) + " MiB";
}

/** Puts `rows` in `body`, keeping each row that did not change (so a button under the
 * pointer survives a redraw caused by someone else's change). */
function replaceRows(body, rows, empty, columns) {
  if (!rows.length) rows = [el("tr", { class: "empty" }, el("td", { colspan: columns }, empty))];
  const old = new Map([...body.children].map((row) => [row.outerHTML, row]));
  body.replaceChildren(...rows.map((row) => old.get(row.outerHTML) || row));
}

// ---- the state panels -------------------------------------------------------------

let deployments = [];

function holderOf(session) {
  const deployment = deployments.find((d) => d.session === session);
  return deployment ? `${deployment.name} (#${deployment.id})` : `session ${session} (HTTP client)`;
}

function leaderOf(election, leader) {
  const deployment = deployments.find((d) => d.election === election && d.term === leader.term);
  return deployment ? `${deployment.name} (#${deployment.id})` : "an HTTP client";
}

function drawElections(elections) {
  const rows = elections.map((e) =>
    el("tr", { "data-election": e.election },
      el("td", {}, e.election),
      el("td", { class: "leader" }, e.leader ? leaderOf(e.election, e.leader) : "none"),
      el("td", { class: "term" }, e.leader ? e.leader.term : ""),
      el("td", { class: "data" }, e.leader ? payloadText(e.leader.payload) : ""),
      el("td", { class: "queue" }, ...e.queue.map((ballot) =>
        el("span", { class: "ballot", title: ballot.ballot }, ballot.session === null || ballot.session === undefined ? ballot.ballot : holderOf(ballot.session))))));
  replaceRows($("#elections"), rows, "no elections yet", 5);
}

function drawDeployments() {
  const rows = deployments.map((d) =>
    el("tr", { "data-deployment": d.id, class: "status-" + d.status },
      el("td", {}, d.id),
      el("td", { class: "name" }, d.name),
      el("td", {}, d.role),
      el("td", {}, d.election),
      el("td", { class: "status", title: d.reason || "" }, d.status + (d.reason ? ": " + d.reason : "")),
      el("td", {}, d.restarts),
      el("td", { class: "term" }, d.term ?? ""),
      el("td", {}, bytes(d.memory_bytes)),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "logs", onclick: () => followLogs(d) }, "logs"),
        el("button", { type: "button", class: "swap", onclick: () => swap(d) }, "swap"),
        el("button", { type: "button", class: "kill", onclick: () => act(`kill ${d.name}`, () => api(`/v1/components/${d.id}/kill`, { method: "POST" })) }, "kill"),
        el("button", { type: "button", class: "undeploy", onclick: () => confirm(`Undeploy ${d.name}?`) && act(`undeploy ${d.name}`, () => api(`/v1/components/${d.id}`, { method: "DELETE" })) }, "undeploy"))));
  replaceRows($("#deployments"), rows, "nothing deployed", 9);
}

function drawHosts(view) {
  $("#hosts-panel").hidden = view.hosts.length === 0;
  const rows = view.hosts.map((h) =>
    el("tr", { class: h.this_host ? "this-host" : "" },
      el("td", {}, h.id + (h.this_host ? " (this host)" : "")),
      el("td", {}, h.epoch),
      el("td", {}, h.since_heartbeat_ms === undefined || h.since_heartbeat_ms === null ? "" : h.since_heartbeat_ms + " ms ago"),
      el("td", {}, h.applied),
      el("td", {}, h.deployments.map((d) => d.name).join(", "))));
  $("#hosts").replaceChildren(...rows);
}

// ---- metrics, from the Prometheus text of /metrics ----------------------------------

function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match) samples.push({ name: match[1], labels: match[2] || "", value: Number(match[3]) });
  }
  return samples;
}

/** The q-quantile of a Prometheus histogram, as the upper bound of its bucket. */
function quantile(samples, name, q) {
  const buckets = samples
    .filter((s) => s.name === name + "_bucket")
    .map((s) => ({ le: Number((/le="([^"]+)"/.exec(s.labels) || [])[1]), count: s.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.length ? buckets[buckets.length - 1].count : 0;
  if (!total) return null;
  const bucket = buckets.find((b) => b.count >= q * total);
  return bucket ? bucket.le : null;
}

function drawMetrics(text) {
  const samples = parseMetrics(text);
  const value = (name) => (samples.find((s) => s.name === name) || { value: 0 }).value;
  const ms = (seconds) => (seconds === null ? "n/a" : seconds === Infinity ? "> largest bucket" : "≤ " + (seconds * 1000).toFixed(2) + " ms");
  const latency = "ballot_commit_latency_seconds";
  const figures = [
    ["commits", value(latency + "_count")],
    ["commit latency p50", ms(quantile(samples, latency, 0.5))],
    ["commit latency p99", ms(quantile(samples, latency, 0.99))],
    ["fenced refusals", value("ballot_fenced_refusals_total")],
    ["leader changes", value("ballot_leader_changes_total")],
    ["failovers", value("ballot_failovers_total")],
    ["kills", value("ballot_kills_total")],
    ["swaps", value("ballot_swaps_total")],
  ];
  $("#metrics").replaceChildren(...figures.flatMap(([name, figure]) => [el("dt", {}, name), el("dd", { "data-metric": name }, figure)]));
}

// ---- redrawing when the streams say so ----------------------------------------------

let redrawQueued = false;

/** Redraws every state panel once, soon: many events in a burst cost one redraw. */
function redraw() {
  if (redrawQueued) return;
  redrawQueued = true;
  setTimeout(async () => {
    redrawQueued = false;
    try {
      const [elections, components, metrics, health, hosts] = await Promise.all([
        api("/v1/elections"), api("/v1/components"), api("/metrics"), fetch("/healthz").then((r) => r.json()), api("/v1/hosts"),
      ]);
      deployments = components;
      drawDeployments();
      drawElections(elections);
      drawMetrics(metrics);
      drawHosts(hosts);
      const health_ = $("#health");
      health_.textContent = health.status === "ok" ? `ok · revision ${health.revision}` : `${health.status}: ${health.halted ?? health.degraded}`;
      health_.className = "pill " + (health.status === "ok" ? "ok" : "bad");
    } catch (error) {
      const refused = error.message.startsWith("401") || error.message.startsWith("403");
      $("#health").textContent = refused ? "enter a token with the read scope" : "unreachable: " + error.message;
      $("#health").className = "pill bad";
    }
  }, 50);
}

const TIMELINE_KEPT = 300;

/** Adds a line at its place, newest first: the two streams' lines arrive interleaved. */
function addToTimeline(item, at) {
  const list = $("#timeline");
  item.dataset.at = at;
  const later = [...list.children].find((line) => Number(line.dataset.at) <= at);
  list.insertBefore(item, later || null);
  while (list.children.length > TIMELINE_KEPT) list.lastElementChild.remove();
}

function time(ms) {
  const at = new Date(ms);
  return at.toLocaleTimeString([], { hour12: false }) + "." + String(at.getMilliseconds()).padStart(3, "0");
}

const streams = { timeline: false, events: false };
let sources = [];

function streamState(name, open) {
  streams[name] = open;
  const live = $("#live");
  const all = streams.timeline && streams.events;
  live.textContent = all ? "live" : "reconnecting…";
  live.className = "pill " + (all ? "ok" : "off");
}

/** Opens the event streams (again, after the token changed). EventSource reconnects by
 * itself and resumes with Last-Event-ID, but gives up on an HTTP error such as 401. */
function follow() {
  for (const source of sources) source.close();
  $("#timeline").replaceChildren();
  const timeline = new EventSource("/v1/timeline");
  timeline.onopen = () => streamState("timeline", true);
  timeline.onerror = () => streamState("timeline", false);
  timeline.addEventListener("timeline", (message) => {
    const line = JSON.parse(message.data);
    addToTimeline(el("li", { class: "kind-" + line.kind, "data-kind": line.kind, "data-deployment": line.deployment },
      el("time", {}, time(line.wall_ms)), " ",
      el("b", {}, line.deployment), " ", line.kind,
      line.term !== undefined ? ` (term ${line.term})` : "",
      line.detail ? ": " + line.detail : ""), line.wall_ms);
    redraw();
  });
  const events = new EventSource("/v1/events");
  events.onopen = () => { streamState("events", true); redraw(); };
  events.onerror = () => streamState("events", false);
  events.addEventListener("change", (message) => {
    const change = JSON.parse(message.data);
    for (const leader of change.leaders) {
      addToTimeline(el("li", { class: "kind-leader", "data-kind": "leader" },
        el("time", {}, time(Date.now())), " ",
        el("b", {}, leader.election), leader.leader ? ` has a new leader (term ${leader.leader.term})` : " has no leader"), Date.now());
    }
    redraw();
  });
  sources = [timeline, events];
}

// ---- writes -------------------------------------------------------------------------

$("#deploy").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const form = new FormData(submitted.target);
  const query = new URLSearchParams({ role: form.get("role"), election: form.get("election") });
  if (form.get("name")) query.set("name", form.get("name"));
  const body = new FormData();
  body.append("wasm", form.get("wasm"));
  if (form.get("data")) body.append("data", form.get("data"));
  act("deploy", () => api("/v1/components?" + query, { method: "POST", body }));
});

function swap(deployment) {
  const picker = el("input", { type: "file", accept: ".wasm" });
  picker.addEventListener("change", () => {
    const file = picker.files[0];
    if (file) act(`swap ${deployment.name}`, () => api(`/v1/components/${deployment.id}`, { method: "PUT", body: file }));
  });
  picker.click();
}

// ---- logs ---------------------------------------------------------------------------

let following = null;

/** Shows a deployment's log lines and follows them (the logs endpoint waits for lines). */
async function followLogs(deployment) {
  const mine = {};
  following = mine;
  $("#logs-panel").hidden = false;
  $("#logs-of").textContent = deployment.name;
  const out = $("#logs");
  out.textContent = "";
  let after = 0;
  while (following === mine) {
    try {
      const page = await api(`/v1/components/${deployment.id}/logs?after=${after}&wait_ms=20000`);
      if (following !== mine) return;
      for (const line of page.lines) out.append(line.line + "\n");
      after = page.next;
    } catch (error) {
      if (following === mine) out.append(`(${error.message})\n`);
      return;
    }
  }
}

$("#logs-close").addEventListener("click", () => {
  following = null;
  $("#logs-panel").hidden = true;
});

// ---- the history and its check --------------------------------------------------------

const COLOURS = { elected: "#2b7a3d", commit: "#3569b5", resign: "#b5832e", revoke: "#b53535" };

/** One row per candidate, a bar per call from invoke to completion. */
function drawHistory(calls) {
  const svgNS = "http://www.w3.org/2000/svg";
  const make = (tag, attributes) => {
    const node = document.createElementNS(svgNS, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    return node;
  };
  if (!calls.length) return document.createTextNode("Nothing recorded yet.");
  const names = [...new Set(calls.map((c) => c.candidate))];
  const start = Math.min(...calls.map((c) => c.start_ns));
  const end = Math.max(...calls.map((c) => c.end_ns ?? c.start_ns));
  const left = 160, width = 760, row = 22;
  const x = (ns) => left + ((ns - start) / Math.max(1, end - start)) * width;
  const [w, h] = [left + width + 20, names.length * row + 24];
  // A viewBox, so the picture scales to the panel instead of being cut at its edge.
  const svg = make("svg", { viewBox: `0 0 ${w} ${h}`, width: "100%", class: "history" });
  names.forEach((name, i) => {
    const label = make("text", { x: 4, y: i * row + 15 });
    label.textContent = name;
    svg.append(label);
  });
  for (const call of calls) {
    const i = names.indexOf(call.candidate);
    const from = x(call.start_ns), to = Math.max(from + 4, x(call.end_ns ?? end));
    // Commits sit in the lower half of the row, so the election they ran in shows above.
    const lower = call.f === "commit";
    const bar = make("rect", { x: from, y: i * row + (lower ? 11 : 3), width: to - from, height: lower ? row - 14 : row - 6, fill: COLOURS[call.f] || "#777", class: "call outcome-" + call.outcome });
    const title = make("title", {});
    title.textContent = `${call.f} term ${call.term} by ${call.candidate}: ${call.outcome}`;
    bar.append(title);
    svg.append(bar);
  }
  const axis = make("text", { x: left, y: names.length * row + 18, class: "axis" });
  axis.textContent = `${((end - start) / 1e9).toFixed(3)} s of history, newest ${calls.length} calls; ` +
    Object.entries(COLOURS).map(([f]) => f).join(" / ") + " in green / blue / amber / red";
  svg.append(axis);
  return svg;
}

$("#check").addEventListener("click", async () => {
  const verdict = $("#verdict");
  verdict.textContent = "checking…";
  try {
    const report = await api("/v1/history/check");
    verdict.textContent = `${report.verdict}: ${report.calls} calls checked against the ${report.model} model in ${report.elapsed_ms} ms` +
      (report.complete ? "" : ` (only the first of ${report.recorded} recorded lines are kept: run the host with --history FILE and ballot check for all)`);
    verdict.className = "verdict-" + report.verdict;
    verdict.dataset.verdict = report.verdict;
    $("#history").replaceChildren(drawHistory(report.drawn));
    const explanation = $("#explanation");
    explanation.hidden = !report.explanation;
    explanation.textContent = report.explanation || "";
  } catch (error) {
    verdict.textContent = "the check failed: " + error.message;
  }
});

follow();
redraw();
// A link to /#history opens the page with the history checked.
if (location.hash === "#history") $("#check").click();
