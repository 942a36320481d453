// api.js: every call to the daemon's /v1 API. The bearer token, when the
// daemon has one, is asked for once, kept in sessionStorage and sent as an
// Authorization header; it never goes into a URL, the page or a log.

const TOKEN_KEY = "ringriftd.token";

let askToken = null; // set by the app: () => Promise<string> (the token dialog)
let asking = null; // the pending question, shared by concurrent 401s

export function onTokenNeeded(fn) { askToken = fn; }

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = token();
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}

// unauthorized asks for a (new) token once for every caller waiting on it.
async function unauthorized(refused) {
  if (!askToken) throw new Error("the daemon wants a token");
  if (!asking) {
    asking = askToken(refused).then((t) => {
      sessionStorage.setItem(TOKEN_KEY, t);
      asking = null;
    });
  }
  return asking;
}

// ApiError carries the daemon's JSON error (code, field, message, hint).
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || "HTTP " + status);
    this.status = status;
    this.code = e.code;
    this.hint = e.hint;
  }
}

// request sends one /v1 request, asking for the token on a 401 and retrying.
export async function request(path, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const hadToken = token() !== "";
    const res = await fetch(path, Object.assign({}, opts, { headers: headers(opts.headers), cache: "no-store" }));
    if (res.status === 401 && attempt < 5) {
      await res.body?.cancel();
      await unauthorized(hadToken);
      continue;
    }
    return res;
  }
}

// get fetches a /v1 path and decodes its JSON.
export async function get(path, opts) {
  const res = await request(path, opts);
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

// post sends JSON.
export async function post(path, value) {
  return get(path, { method: "POST", body: JSON.stringify(value), headers: { "Content-Type": "application/json" } });
}

// SSE reads GET /v1/stream with fetch and a ReadableStream (EventSource
// cannot send an Authorization header). It reconnects after a break,
// resuming with Last-Event-ID so that nothing is missed or repeated, and
// calls onEvent(envelope, type, seq) for each message and onState(text) when
// the connection changes. query is the stream's query string ("?max_rate=…");
// setQuery reconnects with a new one, from where the last one ended. A
// query the daemon refuses (400) goes to onRefused(err), and the stream
// waits for the next setQuery.
export class SSE {
  constructor(path, onEvent, onState, onRefused) {
    this.path = path;
    this.query = "";
    this.onEvent = onEvent;
    this.onState = onState;
    this.onRefused = onRefused || (() => {});
    this.lastId = "";
    this.ctrl = null;
    this.stopped = false;
    this.running = false;
  }

  start(lastId) {
    if (lastId !== undefined) this.lastId = String(lastId);
    this.stopped = false;
    if (!this.running) this.loop();
  }

  stop() {
    this.stopped = true;
    if (this.ctrl) this.ctrl.abort();
  }

  // setQuery reconnects with query (nothing when it is the one in use).
  setQuery(query) {
    if (query === this.query) return;
    this.query = query;
    if (this.stopped) { this.start(); return; }
    if (this.ctrl) this.ctrl.abort(); // the loop reconnects at once
    this.again = true;
  }

  async loop() {
    this.running = true;
    let delay = 500;
    while (!this.stopped) {
      this.ctrl = new AbortController();
      this.again = false;
      try {
        const h = { Accept: "text/event-stream" };
        if (this.lastId) h["Last-Event-ID"] = this.lastId;
        const res = await request(this.path + this.query, { headers: h, signal: this.ctrl.signal });
        if (res.status === 400) {
          let body = null;
          try { body = await res.json(); } catch (_) { /* not JSON */ }
          const refused = this.query;
          this.onRefused(new ApiError(res.status, body));
          if (this.query !== refused) continue; // onRefused chose another
          this.stopped = true;
          break;
        }
        if (!res.ok) throw new Error("stream: HTTP " + res.status);
        this.onState("live");
        delay = 500;
        await this.read(res.body);
        if (!this.stopped) this.onState("reconnecting");
      } catch (err) {
        if (this.stopped) break;
        if (!this.again) this.onState("reconnecting");
      }
      if (this.again) continue; // a new query: no wait
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
    this.running = false;
  }

  // read parses the text/event-stream: messages end at a blank line; id:,
  // event: and data: fields; lines starting with ":" are comments.
  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    let id = "", type = "", data = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      // walk the lines with an index and cut the buffer once per chunk:
      // slicing per line would copy the rest of the chunk for each one
      let at = 0, nl;
      while ((nl = buf.indexOf("\n", at)) >= 0) {
        let line = buf.substring(at, nl);
        at = nl + 1;
        if (line.endsWith("\r")) line = line.slice(0, -1);
        if (line === "") {
          if (data !== "") {
            if (id) this.lastId = id;
            let env = null;
            try { env = JSON.parse(data); } catch (_) { /* skip a broken message */ }
            if (env) this.onEvent(env, type || "message", Number(id));
          }
          id = type = data = "";
          continue;
        }
        if (line[0] === ":") continue;
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.substring(0, c);
        let val = c < 0 ? "" : line.substring(c + 1);
        if (val[0] === " ") val = val.substring(1);
        if (field === "id") id = val;
        else if (field === "event") type = val;
        else if (field === "data") data = data ? data + "\n" + val : val;
      }
      buf = buf.substring(at);
    }
  }
}
