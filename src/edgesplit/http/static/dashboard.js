// The edgesplit dashboard: polls GET /v1/stats (the API's bearer token, if the node needs one) and
// draws it with uPlot. No build step; window.edgesplit holds the charts for tests to inspect.
"use strict";
const POLL_MS = 2000;
const COLORS = ["#3b7dd8", "#d8703b", "#2e9e5b", "#a23bd8", "#d83b5e", "#7d7d2e", "#3bb8d8"];
const state = { token: sessionStorage.getItem("edgesplit-token") || tokenFromHash(), charts: {}, bars: {} };
window.edgesplit = state;

function tokenFromHash() {
  const match = location.hash.match(/token=([^&]+)/);
  if (!match) return null;
  history.replaceState(null, "", location.pathname);  // out of the address bar and the history
  const token = decodeURIComponent(match[1]);
  sessionStorage.setItem("edgesplit-token", token);
  return token;
}

async function poll() {
  const headers = state.token ? { authorization: "Bearer " + state.token } : {};
  let response;
  try {
    response = await fetch("/v1/stats", { headers, cache: "no-store" });
  } catch (err) {
    setStatus("node unreachable"); return;
  }
  if (response.status === 401) { askToken(); return; }
  if (!response.ok) { setStatus("stats: HTTP " + response.status); return; }
  const stats = await response.json();
  document.getElementById("login").hidden = true;
  render(stats);
  setStatus("updated " + new Date().toLocaleTimeString());
}

function setStatus(text) { document.getElementById("status").textContent = text; }

function askToken() {
  setStatus("this node needs its API token");
  document.getElementById("login").hidden = false;
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = document.getElementById("api-token").value;
  sessionStorage.setItem("edgesplit-token", state.token);
  poll();
});

function render(stats) {
  const node = stats.node;
  document.getElementById("title").textContent = node.tier + " · " + node.model;
  const t = stats.t;
  draw("served", t, Object.entries(stats.served).map(([tier, v]) => [tier, v]), {});
  const lat = (key) => Object.entries(stats.routes).flatMap(([route, s]) => [
    [route + " p50", s[key + "_p50_ms"]], [route + " p95", s[key + "_p95_ms"], true]]);
  draw("ttft", t, lat("ttft"), {});
  draw("token", t, lat("token"), {});
  draw("link", t, [["RTT ms", stats.link.rtt_ms], ["Mbit/s", stats.link.bandwidth_mbps, false, "y2"],
                   ["breaker (0 closed, 2 open)", stats.link.state, true, "y2"]], { y2: true });
  draw("outbox", t, [["waiting", stats.outbox.waiting], ["finished", stats.outbox.finished]], {});
  bars("escalations", stats.escalations);
  bars("redactions", stats.redactions);
  versions(node);
  upstreams(node.upstreams || []);
}

function draw(id, t, series, opts) {
  const section = document.getElementById(id);
  const data = [t, ...series.map((s) => s[1])];
  const key = series.map((s) => s[0]).join("|");
  let chart = state.charts[id];
  if (chart && chart.key !== key) { chart.destroy(); chart = null; }
  if (!chart) {
    const axes = [{}, { size: 50 }];
    const scales = { x: { time: true } };
    if (opts.y2) { axes.push({ side: 1, scale: "y2", grid: { show: false } }); scales.y2 = {}; }
    chart = new uPlot({
      width: Math.max(420, section.clientWidth - 20), height: 220, scales, axes,
      series: [{}, ...series.map((s, i) => ({
        label: s[0], stroke: COLORS[i % COLORS.length], width: 1.5, dash: s[2] ? [5, 4] : undefined,
        scale: s[3] || "y", spanGaps: false,
      }))],
    }, data, section);
    chart.key = key;
    state.charts[id] = chart;
  } else {
    chart.setData(data);
  }
}

function bars(id, counts) {
  const rows = document.querySelector("#" + id + " .rows");
  const entries = Object.entries(counts);
  state.bars[id] = counts;
  const max = Math.max(1, ...entries.map((e) => e[1]));
  rows.replaceChildren(...(entries.length ? entries.map(([name, n]) => {
    const row = document.createElement("div");
    const label = document.createElement("span"); label.className = "name"; label.textContent = name;
    const bar = document.createElement("span"); bar.className = "bar"; bar.style.width = (200 * n / max) + "px";
    const value = document.createElement("span"); value.textContent = n;
    row.append(label, bar, value);
    return row;
  }) : [Object.assign(document.createElement("div"), { className: "empty", textContent: "none yet" })]));
}

function expiryText(left, warnings) {
  const soonest = Object.entries(left || {}).sort((a, b) => a[1] - b[1])[0];
  const head = soonest ? soonest[0] + " expires in " + (soonest[1] / 86400).toFixed(1) + " d" : "no metadata yet";
  return head + ((warnings || []).length ? "; WARNING: " + warnings.join("; ") : "");
}

function versions(node) {
  const body = document.querySelector("#versions tbody");
  const sync = node.sync;
  const rows = [["role", node.role], ["tier", node.tier], ["model", node.model], ["router", node.router],
    ["privacy policy", node.policy], ["bundle", node.bundle], ["link", node.link],
    ["sync", sync ? ("current " + sync.current + ", previous " + sync.previous +
      (sync.pending ? ", pulling " + sync.pending : "") + (sync.last_error ? ", error: " + sync.last_error : ""))
      : "not configured"],
    ["sync freshness", sync ? ("verified " + Math.round(sync.stale_s) + " s ago" + (sync.stale ? " (STALE: alarm)" : ""))
      : undefined],
    ["sync expiry", sync ? (expiryText(sync.expires_in_s, sync.warnings)) : node.repository ?
      expiryText(node.repository.expires_in_s, node.repository.warnings) : undefined]];
  body.replaceChildren(...rows.filter((r) => r[1] !== undefined).map(([k, v]) => {
    const tr = document.createElement("tr");
    tr.append(Object.assign(document.createElement("td"), { textContent: k }),
              Object.assign(document.createElement("td"), { textContent: v === null ? "none" : String(v) }));
    return tr;
  }));
}

function upstreams(list) {
  const body = document.querySelector("#upstreams tbody");
  const keys = ["name", "kind", "scope", "priority", "weight", "state", "in_flight", "rtt_ms"];
  body.replaceChildren(...(list.length ? list.map((u) => {
    const tr = document.createElement("tr");
    tr.append(...keys.map((k) => Object.assign(document.createElement("td"),
      { textContent: u[k] === null || u[k] === undefined ? "–" : String(u[k]) })));
    return tr;
  }) : [none()]));
}

function none() {
  const tr = document.createElement("tr");
  tr.append(Object.assign(document.createElement("td"), { className: "empty", textContent: "none: this tier is the top" }));
  return tr;
}

poll();
setInterval(poll, POLL_MS);
