// views.js: the projections as cards and tables. Each render function takes
// the API's JSON as it is and rebuilds its part of the page.
import { el, clear, fmtNum, fmtTime, legend } from "./dom.js";

export const PIPELINE_STATES = ["collecting", "training_ready", "training", "rolling_back", "trained",
  "evaluating", "evaluated", "candidate", "promoting"];
export const RECOVERY_STATES = ["unknown", "healthy", "degraded", "unhealthy", "recovering", "offline", "escalated"];

legend(document.getElementById("pipeline-legend"), PIPELINE_STATES);
legend(document.getElementById("node-legend"), RECOVERY_STATES);

const short = (m) => (m ? m.split("/").pop() : "—");

// players reads the player count of a config key (hex8_2p → 2).
function players(key) {
  const m = /_(\d)p$/.exec(key);
  return m ? Number(m[1]) : 2;
}

// renderPipelines draws a card per config: state, iteration, games since
// training against the threshold, pauses with their scope, stuck, champion
// and its Elo, last outcome.
export function renderPipelines(pipes, elo, pauses, thresholds, health) {
  const box = document.getElementById("pipeline-cards");
  const cards = [];
  const clusterReasons = new Set((pauses && pauses.cluster) || []);
  const bp = (health && health.backpressure) || {};
  for (const key of Object.keys(pipes).sort()) {
    const p = pipes[key];
    const e = (elo && elo.configs && elo.configs[key]) || {};
    const th = thresholds && thresholds.players ? thresholds.players[Math.min(Math.max(players(key) - 2, 0), 2)].training_games : null;
    const own = new Set((pauses && pauses.configs && pauses.configs[key]) || []);
    const reasons = (p.paused || []).map((r) => {
      let scope = own.has(r) ? "config" : clusterReasons.has(r) ? "cluster" : "";
      if (r === "backpressure") scope = bp.configs && bp.configs[key] && isPressing(bp.configs[key]) ? "config" : "cluster";
      return scope ? `${r} (${scope})` : r;
    });
    const games = p.games_since_training;
    const pct = th ? Math.min(100, (100 * games) / th) : 0;
    const out = p.last_outcome;
    const card = el("div", {
      class: "card" + (p.stuck ? " stuck" : ""), "data-config": key, "data-state": p.state,
      "data-iteration": p.iteration, "data-stuck": p.stuck ? "true" : "false",
    },
      el("h3", {}, el("span", {}, key), el("span", { class: `badge s-${p.state}` }, p.state)),
      p.stuck ? el("div", { class: "stuck-note" }, `⚠ stuck for ${p.stuck_for}`) : null,
      el("dl", {},
        el("dt", {}, "iteration"), el("dd", { class: "iteration" }, String(p.iteration)),
        el("dt", {}, "in state since"), el("dd", {}, p.entered_at ? fmtTime(p.entered_at) : "—"),
        el("dt", {}, "games"), el("dd", {}, `${games}${th ? " / " + th : ""}${p.synced_since_training ? " · synced" : ""}`,
          th ? bar(pct, `${Math.round(pct)}% of the training threshold`) : null),
        el("dt", {}, "paused"), el("dd", { class: reasons.length ? "paused" : "" }, reasons.length ? reasons.join(", ") : "no"),
        el("dt", {}, "champion"), el("dd", { title: p.champion || "" }, short(p.champion),
          e.champion_elo !== undefined && e.champion_elo !== null ? ` · Elo ${fmtNum(e.champion_elo)}` : ""),
        el("dt", {}, "last outcome"), el("dd", {}, out ? el("span", { class: `outcome-${out.outcome}` },
          `${out.outcome}${out.gate ? ", gate " + out.gate : ""} (iteration ${out.iteration})`) : "—"),
        p.failures && (p.failures.training || p.failures.evaluation || p.failures.sync)
          ? [el("dt", {}, "failures"), el("dd", {}, `training ${p.failures.training}, evaluation ${p.failures.evaluation}, sync ${p.failures.sync}`)]
          : null,
      ));
    cards.push(card);
  }
  clear(box);
  for (const c of cards) box.append(c);
}

// bar is a progress bar; its width is set through the CSSOM (the page's
// Content-Security-Policy allows no inline style attribute).
function bar(pct, title) {
  const fill = el("span");
  fill.style.width = `${pct}%`;
  return el("div", { class: "bar", title }, fill);
}

function isPressing(l) { return l && (l.queue !== "none" || l.resource !== "none"); }

// renderCurriculum: weights, tiers and shares, and the last rebalance.
export function renderCurriculum(cur, lastRebalance) {
  const tb = document.querySelector("#curriculum-table tbody");
  clear(tb);
  const max = Math.max(...Object.values(cur.shares), 0.0001);
  for (const k of Object.keys(cur.weights).sort()) {
    const share = cur.shares[k];
    tb.append(el("tr", { "data-config": k }, el("td", {}, k), el("td", {}, fmtNum(cur.weights[k], 3)), el("td", {}, String(cur.tiers[k])),
      el("td", {}, `${(share * 100).toFixed(1)}%`, bar((100 * share) / max, ""))));
  }
  const p = document.getElementById("rebalance");
  if (!lastRebalance) {
    p.textContent = "No curriculum_rebalanced in the journal yet.";
  } else {
    const trig = (lastRebalance.payload && lastRebalance.payload.trigger) || "not given";
    p.textContent = `Last rebalance: #${lastRebalance.seq} at ${fmtTime(lastRebalance.time)}, trigger ${trig}${lastRebalance.causation_id ? " (a decision on " + lastRebalance.causation_id + ")" : ""}.`;
  }
}

// renderHealth: the node grid coloured by recovery state, the leader,
// backpressure by scope, daemons, low disks, cluster status.
export function renderHealth(h) {
  const st = document.getElementById("cluster-status");
  st.textContent = h.cluster;
  st.className = `badge c-${h.cluster}`;
  document.getElementById("cluster-leader").textContent = h.leader || "none";
  document.getElementById("disk-low").textContent = h.disk_low.length ? h.disk_low.join(", ") : "none";
  const grid = document.getElementById("node-grid");
  clear(grid);
  for (const id of Object.keys(h.nodes).sort()) {
    const n = h.nodes[id];
    grid.append(el("div", { class: `node s-${n.state}${id === h.leader ? " leader" : ""}`, "data-node": id, "data-state": n.state,
      title: `${id}: ${n.state}, failures ${n.failures}, attempts ${n.attempts}, last action ${n.last_action || "none"}` },
    el("b", {}, id + (id === h.leader ? " ★" : "")), `${n.state}${n.failures ? " · " + n.failures + " failures" : ""}`,
    h.disk_low.includes(id) ? " · disk low" : ""));
  }
  if (!grid.childElementCount) grid.append(el("p", { class: "muted" }, "No node has reported yet."));
  const bp = document.querySelector("#backpressure tbody");
  clear(bp);
  const lv = (l) => el("td", {}, el("span", { class: `badge l-${l}` }, l));
  bp.append(el("tr", {}, el("td", {}, "cluster-wide"), lv(h.backpressure.queue), lv(h.backpressure.resource)));
  for (const k of Object.keys(h.backpressure.configs || {}).sort()) {
    const l = h.backpressure.configs[k];
    bp.append(el("tr", {}, el("td", {}, k), lv(l.queue), lv(l.resource)));
  }
  const dm = document.querySelector("#daemons tbody");
  clear(dm);
  for (const k of Object.keys(h.daemons).sort()) {
    dm.append(el("tr", {}, el("td", {}, k), el("td", {}, h.daemons[k].status), el("td", {}, fmtTime(h.daemons[k].last_seen))));
  }
}

// renderRefusals: counts by code and the latest entries of the rejected log.
export function renderRefusals(byCode, latest) {
  const chips = document.getElementById("refusal-codes");
  clear(chips);
  for (const [code, n] of [...byCode.entries()].sort((a, b) => b[1] - a[1])) chips.append(el("span", { class: "chip" }, `${code}: ${n}`));
  if (!byCode.size) chips.append(el("span", { class: "muted" }, "Nothing refused."));
  const tb = document.querySelector("#refusal-table tbody");
  clear(tb);
  for (let i = latest.length - 1; i >= 0; i--) {
    const r = latest[i];
    tb.append(el("tr", {}, el("td", {}, String(r.rseq)), el("td", {}, fmtTime(r.time)), el("td", {}, r.code), el("td", {}, r.field || ""),
      el("td", { title: r.hint || "" }, r.message)));
  }
}

// renderLost: the lost-event report's summary and findings (the first 500).
export function renderLost(rep) {
  const chips = document.getElementById("lost-summary");
  clear(chips);
  for (const k of Object.keys(rep.summary || {}).sort()) chips.append(el("span", { class: "chip", "data-kind": k }, `${k}: ${rep.summary[k]}`));
  if (rep.error) chips.append(el("span", { class: "error" }, rep.error));
  const tb = document.querySelector("#lost-table tbody");
  clear(tb);
  for (const f of rep.findings.slice(0, 500)) {
    const seqs = f.seqs.length > 6 ? f.seqs.slice(0, 6).join(", ") + ` … (${f.seqs.length})` : f.seqs.join(", ");
    tb.append(el("tr", {}, el("td", {}, f.kind), el("td", {}, f.key || ""), el("td", {}, seqs), el("td", {}, f.message)));
  }
  if (rep.findings.length > 500) tb.append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, `${rep.findings.length - 500} more: see GET /v1/lost`)));
}
