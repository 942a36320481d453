// flows.js: a machine drawn from its definition (GET
// /v1/flows/{machine}/definition): the states in definition order, left to
// right, with how many keys are in each; transitions going right arc above,
// going left arc below, staying loop over the state. Hover a transition for
// its label; transitions from every state are named below it, and the
// table lists them all.
import { el, clear } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const W = 150, BOX_W = 120, BOX_H = 46, MID = 200;

function svg(tag, attrs, ...children) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
  for (const c of children) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return n;
}

// colours reads a state's fill and text colour from the style sheet's badge
// class, so that the drawing and the legends agree.
function colours(state) {
  const probe = el("span", { class: `badge s-${state}` });
  document.body.append(probe);
  const cs = getComputedStyle(probe);
  const out = { fill: cs.backgroundColor, text: cs.color };
  probe.remove();
  return out;
}

export function renderFlow(container, def) {
  clear(container);
  const pos = new Map(def.states.map((s, i) => [s, i]));
  const width = def.states.length * W + 20;
  const root = svg("svg", { width, height: MID * 2, viewBox: `0 0 ${width} ${MID * 2}`, role: "img",
    "aria-label": `${def.name} machine` });
  root.append(svg("defs", {}, svg("marker", { id: `arrow-${def.name}`, viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#5b6470" }))));
  const cx = (i) => 10 + i * W + W / 2;
  const edges = [];
  // transitions from every state are listed under the drawing, not drawn
  const fromAny = def.transitions.filter((t) => t.from.length === def.states.length);
  for (const t of def.transitions) {
    if (t.from.length === def.states.length) continue;
    for (const f of t.from) edges.push({ from: f, to: t.to, label: t.label, event: t.event });
  }
  // parallel edges between the same pair share an arc height step
  const seen = new Map();
  for (const e of edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    const key = `${Math.min(a, b)}-${Math.max(a, b)}-${b >= a}`;
    const k = (seen.get(key) || 0) + 1;
    seen.set(key, k);
    let d;
    if (a === b) {
      const x = cx(a);
      d = `M${x - 12},${MID - BOX_H / 2} C${x - 30},${MID - BOX_H / 2 - 40 - 8 * k} ${x + 30},${MID - BOX_H / 2 - 40 - 8 * k} ${x + 12},${MID - BOX_H / 2}`;
    } else {
      const up = b > a;
      const y0 = up ? MID - BOX_H / 2 : MID + BOX_H / 2;
      const h = Math.min(MID - 40, 20 + Math.abs(b - a) * 22 + 10 * (k - 1));
      const yc = up ? y0 - h : y0 + h;
      d = `M${cx(a)},${y0} C${cx(a)},${yc} ${cx(b)},${yc} ${cx(b)},${y0}`;
    }
    root.append(svg("path", { d, fill: "none", stroke: "#8a94a0", "stroke-width": 1.3, "marker-end": `url(#arrow-${def.name})` },
      svg("title", {}, `${e.from} → ${e.to}: ${e.label}`)));
  }
  def.states.forEach((s, i) => {
    const n = def.counts[s] || 0;
    const c = colours(s);
    const g = svg("g", { class: "state", "data-state": s, "data-count": n });
    const rect = svg("rect", { x: cx(i) - BOX_W / 2, y: MID - BOX_H / 2, width: BOX_W, height: BOX_H, rx: 6,
      fill: c.fill, stroke: s === def.initial ? "#1b1f24" : "#8a94a0", "stroke-width": s === def.initial ? 2 : 1 });
    g.append(rect,
      svg("text", { x: cx(i), y: MID - 4, "text-anchor": "middle", "font-weight": 600, fill: c.text }, s),
      svg("text", { x: cx(i), y: MID + 14, "text-anchor": "middle", fill: c.text }, `${n} ${def.name === "pipeline" ? "config" : "node"}${n === 1 ? "" : "s"}`));
    root.append(g);
  });
  container.append(root);
  if (fromAny.length) {
    container.append(el("p", { class: "muted" }, "From any state: " + fromAny.map((t) => `${t.label} → ${t.to}`).join("; ") + "."));
  }
  const table = el("table", { class: "grid" }, el("thead", {}, el("tr", {}, el("th", {}, "from"), el("th", {}, "event"), el("th", {}, "to"))));
  const tb = el("tbody");
  for (const t of def.transitions) tb.append(el("tr", {}, el("td", {}, t.from.join(", ")), el("td", {}, t.label), el("td", {}, t.to)));
  table.append(tb);
  container.append(table);
}
