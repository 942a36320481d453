// elo.js: the Elo chart of one config (uPlot, vendored) from GET
// /v1/elo/{config}/history, and the table of every config's Elo.
import { el, clear, fmtNum } from "./dom.js";

const PALETTE = ["#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#e67700", "#5c940d"];
const OLDER = "#9aa3ad";
const RECENT = PALETTE.length;

let plot = null;

// renderEloTable lists every config's champion, Elo, velocity and trend.
export function renderEloTable(elo, onPick) {
  const tb = document.querySelector("#elo-table tbody");
  clear(tb);
  for (const k of Object.keys(elo.configs).sort()) {
    const c = elo.configs[k];
    const a = el("a", { href: "#elo" }, k);
    a.addEventListener("click", (ev) => { ev.preventDefault(); onPick(k); });
    tb.append(el("tr", {}, el("td", {}, a), el("td", { title: c.champion || "" }, c.champion ? c.champion.split("/").pop() : "—"),
      el("td", {}, fmtNum(c.champion_elo)), el("td", {}, fmtNum(c.velocity)), el("td", {}, c.trend), el("td", {}, String(c.points))));
  }
}

// rows merges the rating points and the champion changes in time order
// (ties by seq): each row is one moment of the chart.
function rows(h) {
  const all = h.history.map((p) => ({ p, t: Date.parse(p.time) / 1000, seq: p.seq, champ: null }));
  for (const c of h.champions) all.push({ p: null, t: Date.parse(c.time) / 1000, seq: c.seq, champ: c });
  all.sort((a, b) => a.t - b.t || a.seq - b.seq || (a.p ? -1 : 1));
  return all;
}

// renderEloChart draws the history: a series per recent model (points
// joined), older models as grey points, and the champion's Elo as a step
// line. The plotted (seq, elo) pairs are kept on the chart element
// (.plotted) for whoever checks the chart against the API.
export function renderEloChart(h) {
  const box = document.getElementById("elo-chart");
  const sum = document.getElementById("elo-summary");
  sum.textContent = `champion ${h.champion ? h.champion.split("/").pop() : "none"}` +
    (h.champion_elo !== null ? ` (${fmtNum(h.champion_elo)})` : "") +
    ` · velocity ${h.velocity === null ? "—" : fmtNum(h.velocity) + " Elo/h"} · trend ${h.trend}` +
    ` · ${h.history.length} points${h.dropped ? ` (${h.dropped} older dropped)` : ""}`;
  const rs = rows(h);
  // the most recently rated models get a colour each
  const last = new Map();
  for (const p of h.history) last.set(p.model, p.seq);
  const recent = [...last.entries()].sort((a, b) => b[1] - a[1]).slice(0, RECENT).map((e) => e[0]).reverse();
  const idx = new Map(recent.map((m, i) => [m, i]));
  const xs = [], champ = [], older = [];
  const per = recent.map(() => []);
  const plotted = [];
  let ce = null;
  for (const r of rs) {
    if (r.champ) ce = r.champ.elo;
    xs.push(r.t);
    champ.push(ce);
    const i = r.p ? idx.get(r.p.model) : undefined;
    older.push(r.p && i === undefined ? r.p.elo : null);
    per.forEach((s, j) => s.push(r.p && i === j ? r.p.elo : null));
    if (r.p) plotted.push([r.p.seq, r.p.elo]);
  }
  box.plotted = plotted;
  box.dataset.points = String(plotted.length);
  const series = [{}, { label: "champion", stroke: "#1b1f24", width: 2, paths: window.uPlot.paths.stepped({ align: 1 }), points: { show: false } }];
  recent.forEach((m, j) => series.push({ label: m.split("/").pop(), stroke: PALETTE[j], width: 1.5, spanGaps: true,
    points: { show: true, size: 6, fill: PALETTE[j] } }));
  series.push({ label: "older models", stroke: OLDER, width: 0, paths: () => null, points: { show: true, size: 5, fill: OLDER } });
  const data = [xs, champ, ...per, older];
  const width = Math.max(280, box.clientWidth - 2);
  const opts = { width, height: 320, series, scales: { x: { time: true } },
    axes: [{}, { label: "Elo", size: 60 }], legend: { live: true } };
  if (plot) plot.destroy();
  clear(box);
  if (!xs.length) {
    box.append(el("p", { class: "muted" }, "No rating yet for this config."));
    plot = null;
    return;
  }
  plot = new window.uPlot(opts, data, box);
}

// resize follows the container's width.
export function resizeEloChart() {
  const box = document.getElementById("elo-chart");
  if (plot) plot.setSize({ width: Math.max(280, box.clientWidth - 2), height: 320 });
}
