// dom.js: small helpers to build the page without innerHTML (no markup is
// ever built from data).

// el creates an element with attributes and children (strings become text).
export function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false || v === "") continue;
    n.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

export function clear(n) { while (n.firstChild) n.firstChild.remove(); }

// fmtTime shows an RFC 3339 time as HH:MM:SS (UTC) with the date when it is
// not today (todayUTC(), or the one given: a caller formatting many times
// asks for it once).
export function fmtTime(s, today) {
  if (!s) return "";
  const d = new Date(s);
  if (isNaN(d)) return s;
  const iso = d.toISOString();
  if (today === undefined) today = todayUTC();
  return (iso.slice(0, 10) === today ? "" : iso.slice(0, 10) + " ") + iso.slice(11, 19);
}

// todayUTC is today's date, YYYY-MM-DD (UTC).
export function todayUTC() { return new Date().toISOString().slice(0, 10); }

// fmtNum writes a number with at most two decimals.
export function fmtNum(x, digits = 2) {
  if (x === null || x === undefined) return "—";
  return Number(x).toFixed(digits).replace(/\.?0+$/, "");
}

// legend fills a legend container with one badge per state.
export function legend(container, states, prefix = "s-") {
  clear(container);
  for (const s of states) container.append(el("span", { class: `badge ${prefix}${s}` }, s));
}
