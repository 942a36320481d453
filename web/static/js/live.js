// live.js: the live event list. Events from the stream (a sample of at
// most 250 a second, see app.js) go into a bounded ring; the list is drawn
// at most four times a second, in an animation frame, newest first, at most
// ROWS rows, and only while it is shown, so that a busy stream never makes
// an unbounded list or a layout per event.
import { get } from "./api.js";
import { el, clear, fmtTime, todayUTC } from "./dom.js";

const KEEP = 5000; // envelopes kept for filtering and clicks
const ROWS = 250; // rows drawn
const DRAW_HZ = 4; // list draws per second, at most
const ROW = el("tr", {}, el("td"), el("td"), el("td"), el("td"), el("td"), el("td"));

export class LiveList {
  constructor(catalog, onFilter) {
    this.cat = catalog; // type -> category
    this.onFilter = onFilter || (() => {}); // the filters changed
    this.visible = false;
    this.skippedTotal = 0; // events the stream's sample left out
    this.ring = [];
    this.pending = [];
    this.scheduled = false;
    this.lastDraw = 0;
    this.paused = false;
    this.filter = { type: "", category: "", config: "", node: "" };
    this.tbody = document.querySelector("#event-list tbody");
    this.shown = document.getElementById("shown");
    this.tbody.addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr");
      if (tr && tr.dataset.seq) this.open(Number(tr.dataset.seq));
    });
    document.getElementById("detail-close").addEventListener("click", () => {
      document.getElementById("event-detail").hidden = true;
    });
    const bind = (id, key) => {
      const input = document.getElementById(id);
      input.addEventListener("input", () => { this.filter[key] = input.value.trim(); this.redraw(); this.onFilter(); });
    };
    bind("f-type", "type");
    bind("f-category", "category");
    bind("f-config", "config");
    bind("f-node", "node");
    const pause = document.getElementById("f-pause");
    pause.addEventListener("change", () => { this.paused = pause.checked; if (!this.paused) this.redraw(); });
  }

  matches(e) {
    const f = this.filter;
    if (f.type && e.type !== f.type) return false;
    if (f.category && this.cat.get(e.type) !== f.category) return false;
    if (f.config && (e.config_key || "") !== f.config) return false;
    if (f.node && (e.node_id || "") !== f.node) return false;
    return true;
  }

  // show says whether the list is on screen: a hidden list is not drawn,
  // and is redrawn from the ring when it shows again.
  show(visible) {
    const was = this.visible;
    this.visible = visible;
    if (visible && !was) this.redraw();
  }

  // skipped counts events the stream's sample left out.
  skipped(n) {
    this.skippedTotal += n;
  }

  // add takes one envelope from the stream (or the backfill).
  add(e) {
    this.ring.push(e);
    if (this.ring.length > KEEP + KEEP / 5) this.ring.splice(0, this.ring.length - KEEP);
    if (!this.visible) return;
    this.pending.push(e);
    if (this.pending.length > ROWS + ROWS / 5) this.pending.splice(0, this.pending.length - ROWS);
    if (!this.scheduled) {
      // at most DRAW_HZ draws a second, each in an animation frame: nobody
      // reads hundreds of rows a second, and fewer layouts leave the page
      // responsive
      this.scheduled = true;
      const wait = Math.max(0, this.lastDraw + 1000 / DRAW_HZ - performance.now());
      setTimeout(() => requestAnimationFrame(() => this.flush()), wait);
    }
  }

  // row makes an event's row: a clone of an empty one, its cells' text set
  // (cheaper than building each element, at hundreds of rows a second).
  row(e, today) {
    const tr = ROW.cloneNode(true);
    tr.dataset.seq = e.seq;
    if (isDecision(e)) tr.className = "decision";
    const c = tr.children;
    c[0].textContent = String(e.seq);
    c[1].textContent = fmtTime(e.time, today);
    c[2].textContent = e.type;
    c[3].textContent = e.config_key || "";
    c[4].textContent = e.node_id || "";
    c[5].textContent = e.source || "";
    return tr;
  }

  // flush draws what arrived since the last frame.
  flush() {
    this.scheduled = false;
    this.lastDraw = performance.now();
    const batch = this.pending;
    this.pending = [];
    if (this.paused) return;
    const rows = [], today = todayUTC();
    for (let i = batch.length - 1; i >= 0 && rows.length < ROWS; i--) {
      if (this.matches(batch[i])) rows.push(this.row(batch[i], today));
    }
    if (rows.length >= ROWS) {
      this.tbody.replaceChildren(...rows); // all new: one swap
    } else if (rows.length) {
      // drop the oldest first, then prepend: one insertion
      for (let n = this.tbody.childElementCount + rows.length - ROWS; n > 0; n--) this.tbody.lastElementChild.remove();
      const frag = document.createDocumentFragment();
      frag.append(...rows);
      this.tbody.insertBefore(frag, this.tbody.firstChild);
    }
    this.count();
  }

  // redraw rebuilds the list from the ring (a filter changed).
  redraw() {
    const rows = [], today = todayUTC();
    for (let i = this.ring.length - 1; i >= 0 && rows.length < ROWS; i--) {
      if (this.matches(this.ring[i])) rows.push(this.row(this.ring[i], today));
    }
    clear(this.tbody);
    this.tbody.append(...rows);
    this.pending = [];
    this.count();
  }

  count() {
    const skipped = this.skippedTotal ? `; ${this.skippedTotal.toLocaleString("en")} more arrived too fast to list (the stream is sampled)` : "";
    this.shown.textContent = `${this.tbody.childElementCount} shown of the last ${Math.min(this.ring.length, KEEP)} received${skipped}`;
  }

  find(seq) {
    for (let i = this.ring.length - 1; i >= 0; i--) if (this.ring[i].seq === seq) return this.ring[i];
    return null;
  }

  // open shows an envelope with its chain: the causes (by causation_id, up
  // to five levels) and the decisions taken on it (journaled right after
  // it: a cascade is appended with its cause).
  async open(seq) {
    const box = document.getElementById("event-detail");
    let e = this.find(seq);
    if (!e) e = await get("/v1/events/" + seq);
    box.hidden = false;
    document.getElementById("detail-title").textContent = `#${e.seq} ${e.type}`;
    document.getElementById("detail-json").textContent = JSON.stringify(e, null, 2);
    const causes = document.getElementById("detail-causes");
    const decisions = document.getElementById("detail-decisions");
    clear(causes);
    clear(decisions);
    let c = e;
    for (let depth = 0; c.causation_id && depth < 5; depth++) {
      try {
        c = await get("/v1/events/" + encodeURIComponent(c.causation_id));
      } catch (err) {
        causes.append(el("li", { class: "error" }, `${c.causation_id}: ${err.message}`));
        break;
      }
      causes.append(this.link(c));
    }
    if (!causes.childElementCount) causes.append(el("li", { class: "muted" }, "none: it came from " + (e.source || "a producer")));
    const after = await get(`/v1/events?after=${e.seq}&limit=64`);
    const ids = new Set([e.id]);
    for (const d of after.events) {
      if (d.causation_id && ids.has(d.causation_id)) {
        ids.add(d.id);
        decisions.append(this.link(d, d.causation_id === e.id ? "" : "  ↳ "));
      }
    }
    if (!decisions.childElementCount) decisions.append(el("li", { class: "muted" }, "none"));
  }

  link(e, prefix = "") {
    const a = el("a", { href: "#events" }, `${prefix}#${e.seq} ${e.type}${e.config_key ? " " + e.config_key : ""}${e.node_id ? " " + e.node_id : ""}`);
    a.addEventListener("click", (ev) => { ev.preventDefault(); this.open(e.seq); });
    return el("li", {}, a);
  }
}

export function isDecision(e) { return (e.source || "").startsWith("ringriftd/"); }
