// app.js: the dashboard's main: tabs, the token dialog, the live stream and
// the refresh of the visible section (at most once a second while events
// arrive, and every 5 s for the clocks: stuck_for, last seen).
import { get, request, onTokenNeeded, SSE } from "./api.js";
import { LiveList } from "./live.js";
import { renderPipelines, renderCurriculum, renderHealth, renderRefusals, renderLost } from "./views.js";
import { renderEloChart, renderEloTable, resizeEloChart } from "./elo.js";
import { renderFlow } from "./flows.js";
import { el } from "./dom.js";

const $ = (id) => document.getElementById(id);
const state = {
  tab: "pipelines", dirty: true, busy: false, lastRefresh: 0,
  thresholds: null, eloConfig: "", lastRebalance: null,
  refusals: { after: 0, byCode: new Map(), latest: [] }, lostRan: false,
  received: 0, head: 0,
};

// --- token: asked once, kept in sessionStorage, sent as a header --------
onTokenNeeded((refused) => new Promise((resolve) => {
  const dlg = $("token-dialog"), input = $("token-input");
  $("token-why").textContent = refused
    ? "The daemon refused the token. Enter its bearer token (--token); it is kept for this tab only."
    : "This daemon wants its bearer token (--token). It is kept for this tab only (sessionStorage).";
  dlg.hidden = false;
  input.value = "";
  input.focus();
  const done = () => {
    const t = input.value.trim();
    if (!t) return;
    input.value = "";
    dlg.hidden = true;
    $("token-ok").removeEventListener("click", done);
    input.removeEventListener("keydown", onKey);
    $("forget-token").hidden = false;
    resolve(t);
  };
  const onKey = (ev) => { if (ev.key === "Enter") done(); };
  $("token-ok").addEventListener("click", done);
  input.addEventListener("keydown", onKey);
}));
$("forget-token").hidden = !sessionStorage.getItem("ringriftd.token");
$("forget-token").addEventListener("click", () => { sessionStorage.removeItem("ringriftd.token"); location.reload(); });

function showError(err) {
  const p = $("error");
  if (!err) { p.hidden = true; return; }
  p.hidden = false;
  p.textContent = `${err.message}${err.hint ? " — " + err.hint : ""}`;
}

// --- tabs ---------------------------------------------------------------
function selectTab() {
  const want = (location.hash || "#pipelines").slice(1);
  const known = [...document.querySelectorAll("[data-tab]")].map((s) => s.id);
  state.tab = known.includes(want) ? want : "pipelines";
  for (const s of document.querySelectorAll("[data-tab]")) s.hidden = s.id !== state.tab;
  for (const a of document.querySelectorAll("#tabs a")) {
    if (a.getAttribute("href") === "#" + state.tab) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  state.dirty = true;
  if (live) live.show(state.tab === "events");
  updateStream();
  refresh(true);
}
window.addEventListener("hashchange", selectTab);

// --- refresh of the visible section --------------------------------------
const loaders = {
  async pipelines() {
    const [pipes, elo, pauses, health] = await Promise.all([get("/v1/pipelines"), get("/v1/elo"), get("/v1/pauses"), get("/v1/health")]);
    if (!state.thresholds) state.thresholds = await get("/v1/thresholds");
    renderPipelines(pipes, elo, pauses, state.thresholds, health);
  },
  async elo() {
    const elo = await get("/v1/elo");
    const sel = $("elo-config");
    if (!sel.options.length) {
      for (const k of Object.keys(elo.configs).sort()) sel.append(el("option", { value: k }, k));
      // start with the config that has the most points
      let best = sel.options[0].value, most = -1;
      for (const [k, c] of Object.entries(elo.configs)) if (c.points > most) { best = k; most = c.points; }
      sel.value = state.eloConfig || best;
    }
    state.eloConfig = sel.value;
    renderEloTable(elo, (k) => { sel.value = k; state.eloConfig = k; refresh(true); });
    renderEloChart(await get(`/v1/elo/${encodeURIComponent(state.eloConfig)}/history`));
  },
  async curriculum() {
    // the last curriculum_rebalanced: page through the type's index from
    // the last one seen (the stream is a sample: it may skip one)
    let after = state.lastRebalance ? state.lastRebalance.seq : 0;
    for (;;) {
      const page = await get(`/v1/events?type=curriculum_rebalanced&after=${after}&limit=10000`);
      if (page.events.length) state.lastRebalance = page.events[page.events.length - 1];
      if (page.events.length < 10000) break;
      after = page.next_after;
    }
    renderCurriculum(await get("/v1/curriculum"), state.lastRebalance);
  },
  async cluster() { renderHealth(await get("/v1/health")); },
  async events() {},
  async refusals() {
    const r = state.refusals;
    for (;;) {
      const page = await get(`/v1/rejected?after=${r.after}&limit=10000`);
      for (const e of page.entries) {
        r.byCode.set(e.code, (r.byCode.get(e.code) || 0) + 1);
        r.latest.push(e);
        r.after = e.rseq;
      }
      if (r.latest.length > 100) r.latest.splice(0, r.latest.length - 100);
      if (page.entries.length < 10000) break;
    }
    renderRefusals(r.byCode, r.latest);
    if (!state.lostRan) runLost();
  },
  async flows() {
    const [p, r] = await Promise.all([get("/v1/flows/pipeline/definition"), get("/v1/flows/recovery/definition")]);
    renderFlow($("flow-pipeline"), p);
    renderFlow($("flow-recovery"), r);
  },
};

async function refresh(force) {
  if (document.hidden && !force) return; // a background tab asks nothing
  if (state.busy) { state.dirty = true; return; }
  const now = performance.now();
  if (!force && !(state.dirty && now - state.lastRefresh > 1000) && now - state.lastRefresh < 5000) return;
  state.busy = true;
  state.dirty = false;
  state.lastRefresh = now;
  try {
    await loaders[state.tab]();
    showError(null);
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
  }
}
setInterval(() => refresh(false), 250);

async function runLost() {
  state.lostRan = true;
  const btn = $("lost-run");
  btn.disabled = true;
  btn.textContent = "running…";
  try {
    const res = await request("/v1/lost");
    const text = await res.text();
    renderLost(JSON.parse(text));
  } catch (err) {
    showError(err);
  } finally {
    btn.disabled = false;
    btn.textContent = "run the report again";
  }
}
$("lost-run").addEventListener("click", runLost);
$("elo-config").addEventListener("change", () => { state.eloConfig = $("elo-config").value; refresh(true); });
new ResizeObserver(() => resizeEloChart()).observe($("elo-chart"));

// --- live stream ----------------------------------------------------------
// The page asks the daemon for a sample of the stream (?max_rate=): at most
// STREAM_RATE events a second, the newest, and a "skipped" message counting
// the others, so that an open page costs the daemon and the browser the
// same at 30,000 events/s as at 250 (docs/dashboard.md). While the Live
// events section is shown, its filters go to the daemon too, so that the
// sample is of the matching events, not matching events of a sample.
const STREAM_RATE = 250;
let live = null, sse = null;
function onEvent(e, type) {
  if (type === "skipped") {
    state.received += e.count;
    state.head = e.through;
    state.dirty = true;
    live.skipped(e.count);
    return;
  }
  if (type !== true) state.received++; // true: the backfill
  state.head = e.seq;
  state.dirty = true;
  if (e.type === "curriculum_rebalanced") state.lastRebalance = e;
  live.add(e);
}
function onState(s) {
  const c = $("conn");
  c.dataset.state = s;
  c.textContent = s;
}
let lastCount = 0;
setInterval(() => {
  $("rate").textContent = `${state.received - lastCount} events/s`;
  lastCount = state.received;
  $("head").textContent = state.head ? `seq ${state.head}` : "";
}, 1000);

// streamQuery is the stream's query string: the rate cap, and the list's
// filters while the list is shown (server-side, the ones the daemon takes).
let refusedQuery = null; // a query the daemon refused: not asked again
function streamQuery() {
  const q = new URLSearchParams({ max_rate: String(STREAM_RATE) });
  if (state.tab === "events" && live) {
    const f = live.filter;
    if (f.type) q.set("type", f.type);
    if (f.category) q.set("category", f.category);
    if (f.config) q.set("config", f.config);
    if (f.node) q.set("node", f.node);
  }
  const s = "?" + q.toString();
  return s === refusedQuery ? `?max_rate=${STREAM_RATE}` : s;
}
let requery = 0;
function updateStream() {
  if (!sse) return;
  // typing in a filter box reconnects once it pauses, not per key
  clearTimeout(requery);
  requery = setTimeout(() => sse.setQuery(streamQuery()), 250);
}
// A filter the daemon refuses (a partly typed type or config) leaves the
// stream unfiltered: the page's own filter still hides what does not match.
function onRefused() {
  refusedQuery = sse.query;
  sse.setQuery(`?max_rate=${STREAM_RATE}`);
}

async function start() {
  let catalog;
  try {
    catalog = await get("/v1/catalog");
  } catch (err) {
    showError(err);
    setTimeout(start, 3000);
    return;
  }
  const cats = new Map();
  const dl = $("types"), sel = $("f-category");
  for (const t of catalog.types) {
    cats.set(t.value, t.category);
    dl.append(el("option", { value: t.value }));
  }
  for (const c of [...new Set(cats.values())].sort()) sel.append(el("option", { value: c }, c));
  live = new LiveList(cats, updateStream);
  selectTab();
  // the latest 200 events, then the stream from right after them
  const ready = await (await fetch("/readyz", { cache: "no-store" })).json();
  const head = ready.seq || 0;
  if (head > 0) {
    const page = await get(`/v1/events?after=${Math.max(0, head - 200)}&limit=200`);
    for (const e of page.events) onEvent(e, true);
  }
  sse = new SSE("/v1/stream", onEvent, onState, onRefused);
  sse.query = streamQuery();
  sse.start(head > 0 ? head : undefined);
}
start();
