// The edgesplit dashboard: polls GET /v1/stats (the API's bearer token, if the node needs one) and
// draws it with uPlot. No build step; window.edgesplit holds the charts for tests to inspect.
"use strict";
const POLL_MS = 2000;
// One colour per tier, route and job kind, whatever order the series arrive in.
const COLORS = {
  device: "#3b7dd8", local: "#2e9e5b", cloud: "#d8703b", upstream: "#7d7d7d", split: "#a23bd8",
  speculative: "#d83b5e", chat: "#3b7dd8", text: "#2e9e5b", feedback: "#c9a227", rtt: "#3b7dd8",
  bandwidth: "#2e9e5b",
};
const SPARE = ["#7d7d2e", "#3bb8d8", "#8c564b", "#e377c2"];
const BREAKER = [["up", "#2e9e5b"], ["probing", "#e0a526"], ["down", "#d83b3b"]];
const state = { token: sessionStorage.getItem("edgesplit-token") || tokenFromHash(), charts: {}, bars: {}, legends: {} };
window.edgesplit = state;

function colorOf(name) {
  if (COLORS[name]) return COLORS[name];
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return SPARE[h % SPARE.length];
}

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

// 1234 -> "1.2k", 0.0042 -> "0.004": short enough for any axis and tile.
function compact(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
  if (a >= 1e3) return (v / 1e3).toFixed(a >= 1e4 ? 0 : 1) + "k";
  if (a >= 10 || a === 0) return String(Math.round(v));
  return String(Number(v.toPrecision(2)));
}

function duration(s) {
  if (s < 120) return Math.round(s) + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function render(stats) {
  const node = stats.node;
  document.getElementById("title").textContent = node.tier + " · " + node.model;
  for (const el of document.querySelectorAll(".history")) el.textContent = "last " + duration(stats.history_s);
  for (const el of document.querySelectorAll(".window")) el.textContent = "over the trailing " + duration(stats.window_s);
  tiles(stats.summary, stats.window_s);
  const t = stats.t;
  draw("served", t, Object.entries(stats.served).map(([tier, v]) => ({ label: tier, values: v, color: tier })));
  const lat = (key) => Object.entries(stats.routes).flatMap(([route, s]) => {
    const name = route === "edge" ? node.tier : route;  // "edge" is this tier's own model
    const p = s[key];
    return [{ label: name + " p50", values: p.p50_ms, over: p.p50_over, color: name, unit: "ms" },
            { label: name + " p95", values: p.p95_ms, over: p.p95_over, color: name, dash: true, unit: "ms" }];
  });
  draw("ttft", t, lat("ttft"));
  draw("token", t, lat("token"));
  draw("link", t, [{ label: "RTT", values: stats.link.rtt_ms, color: "rtt", unit: "ms" },
                   { label: "bandwidth", values: stats.link.bandwidth_mbps, color: "bandwidth", unit: "Mbit/s", scale: "y2" }],
       { y2: true, down: stats.link.down });
  breaker(stats.link.state, node.upstream);
  const kinds = (series, dash) => Object.entries(series).map(([kind, v]) => ({ label: kind + (dash ? " finished" : " waiting"), values: v, color: kind, dash }));
  draw("outbox", t, [...kinds(stats.outbox.waiting, false), ...kinds(stats.outbox.finished, true)]);
  bars("escalations", stats.escalations);
  bars("redactions", stats.redactions);
  versions(node);
  upstreams(node.upstreams || []);
}

function tiles(summary, windowS) {
  const w = " (" + duration(windowS) + ")";
  const shown = [["requests", "requests/s" + w, summary.request_rate_rps.toFixed(2)],
    ["errors", "errors (5xx)", summary.errors], ["fallbacks", "fallbacks", summary.fallbacks],
    ["tokens", "tokens/s" + w, summary.tokens_per_s.toFixed(1)], ["queue", "queue depth", summary.queue_depth],
    ["in-flight", "in flight", summary.in_flight], ["uptime", "uptime", duration(summary.uptime_s)],
    ["personal", "personal data kept here", summary.personal_kept]];
  const box = document.getElementById("tiles");
  box.replaceChildren(...shown.map(([key, label, value]) => {
    const tile = document.createElement("div");
    tile.className = "tile"; tile.dataset.key = key;
    tile.append(Object.assign(document.createElement("b"), { textContent: String(value) }),
                Object.assign(document.createElement("span"), { textContent: label }));
    return tile;
  }));
}

// The newest point that has a value, as text: "> 1k ms" when it lies past the top bucket, "–" when none.
function latest(s, down) {
  for (let i = s.values.length - 1; i >= 0; i--) {
    if (down && down[i]) return "–";
    const v = s.values[i];
    if (v === null || v === undefined) continue;
    return (s.over && s.over[i] ? "> " : "") + compact(v) + (s.unit ? " " + s.unit : "");
  }
  return "–";
}

// An axis as wide as its widest label, measured in the axis's own font, plus the tick and the gap.
const measure = document.createElement("canvas").getContext("2d");
function axis(scale, side) {
  return {
    scale, side, grid: { show: side !== 1 },
    values: (u, splits) => splits.map(compact),
    size: (u, values, i) => {
      if (!values || !values.length) return 40;
      const font = u.axes[i].font;
      measure.font = Array.isArray(font) ? font[0] : font;
      return Math.ceil(Math.max(...values.map((v) => measure.measureText(String(v)).width))) + 24;
    },
  };
}

function draw(id, t, series, opts = {}) {
  const section = document.getElementById(id);
  const data = [t, ...series.map((s) => s.values)];
  const key = series.map((s) => s.label).join("|");
  let chart = state.charts[id];
  if (chart && chart.key !== key) { chart.destroy(); chart = null; }
  if (!chart) {
    const axes = [{}, axis("y", 3)];
    const scales = { x: { time: true } };
    if (opts.y2) { axes.push(axis("y2", 1)); scales.y2 = {}; }
    chart = new uPlot({
      width: Math.max(420, section.clientWidth - 20), height: 200, scales, axes, legend: { show: false },
      series: [{}, ...series.map((s) => ({
        label: s.label, stroke: colorOf(s.color), width: 1.5, dash: s.dash ? [5, 4] : undefined,
        scale: s.scale || "y", spanGaps: false,
      }))],
    }, data, section.querySelector(".plot"));
    chart.key = key;
    state.charts[id] = chart;
  } else {
    chart.setData(data);
  }
  legend(id, series, opts.down);
}

function legend(id, series, down) {
  const box = document.querySelector("#" + id + " .legend");
  state.legends[id] = {};
  box.replaceChildren(...(series.length ? series.map((s) => {
    const item = document.createElement("span");
    item.className = "item";
    const swatch = Object.assign(document.createElement("i"), { className: s.dash ? "dash" : "" });
    swatch.style.borderColor = colorOf(s.color);
    const value = latest(s, down);
    state.legends[id][s.label] = value;
    item.append(swatch, s.label + " ", Object.assign(document.createElement("b"), { textContent: value }));
    return item;
  }) : [Object.assign(document.createElement("span"), { className: "empty", textContent: "nothing yet" })]));
}

function breaker(states, hasUpstream) {
  const strip = document.querySelector("#breaker .strip");
  strip.replaceChildren(...states.map((s) => {
    const cell = document.createElement("span");
    cell.style.background = s === null ? "#ddd" : BREAKER[s][1];
    cell.title = s === null ? "no upstream" : BREAKER[s][0];
    return cell;
  }));
  const now = states.length ? states[states.length - 1] : null;
  const text = !hasUpstream ? "no upstream: this tier is the top" : now === null ? "unknown" : BREAKER[now][0];
  const label = document.querySelector("#breaker .now");
  label.textContent = text;
  label.dataset.state = text;
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
