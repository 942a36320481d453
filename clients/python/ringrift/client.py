"""The ringriftd client: ULIDs, batching, retries with the same ids, refusals."""

import http.client
import json
import os
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["Client", "Refused", "RingriftError", "Unavailable", "new_ulid"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# MAX_BATCH is the daemon's default --max-batch: a longer list is posted in
# chunks of this many events, each chunk atomic on its own.
MAX_BATCH = 10_000


def new_ulid(now_ms=None, randomness=None):
    """A ULID: 48-bit unix time in milliseconds, then 80 random bits, as 26
    Crockford base-32 characters (the first is at most 7)."""
    if now_ms is None:
        now_ms = time.time_ns() // 1_000_000
    if randomness is None:
        randomness = os.urandom(10)
    if not 0 <= now_ms < 1 << 48 or len(randomness) != 10:
        raise ValueError("a ULID needs a 48-bit millisecond time and 10 random bytes")
    n = (now_ms << 80) | int.from_bytes(randomness, "big")
    out = []
    for _ in range(26):
        out.append(_CROCKFORD[n & 31])
        n >>= 5
    return "".join(reversed(out))


class RingriftError(Exception):
    """Base class of the client's errors."""


class Refused(RingriftError):
    """The daemon refused the request (events.md, "Refusals").

    code, field, hint and message are the error object's; index is the event's
    position in the posted batch (-1: the whole request; None: the error names
    no event); status is the HTTP status.
    """

    def __init__(self, status, error):
        self.status = status
        self.code = error.get("code", "")
        self.field = error.get("field", "")
        self.hint = error.get("hint", "")
        self.index = error.get("index")
        self.message = error.get("message", "")
        self.error = error
        text = "%s: %s" % (self.code, self.message)
        if self.field:
            text += " (field %s)" % self.field
        if self.hint:
            text += "; " + self.hint
        super().__init__(text)


class Unavailable(RingriftError):
    """The daemon could not be reached, or kept answering 503, for every
    attempt. The last attempt's outcome may be unknown: posting the same
    events again (same ids) is safe."""

    def __init__(self, attempts, last):
        self.attempts = attempts
        self.last = last
        super().__init__("ringriftd unavailable after %d attempts: %s" % (attempts, last))


# Errors of the connection itself: the request may or may not have reached
# the daemon, so it is retried with the same ids.
_CONNECTION_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError)


class Client:
    """A client of one ringriftd.

    url defaults to $RINGRIFT_URL, else http://127.0.0.1:8765; token to
    $RINGRIFT_TOKEN (sent as ``Authorization: Bearer``). A request is tried at
    most max_attempts times; the wait before retry k is backoff * 2**(k-1)
    seconds, capped at max_backoff, with up to 50 % random jitter.
    """

    def __init__(self, url=None, token=None, source=None, timeout=10.0,
                 max_attempts=8, backoff=0.1, max_backoff=5.0, sleep=time.sleep):
        self.url = (url or os.environ.get("RINGRIFT_URL") or "http://127.0.0.1:8765").rstrip("/")
        self.token = token if token is not None else os.environ.get("RINGRIFT_TOKEN") or None
        self.source = source
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.retries = 0  # how many retries this client made (for tests and metrics)

    # -- events -------------------------------------------------------------

    def event(self, type, config_key=None, node_id=None, payload=None, **envelope):
        """An event dict with its id assigned: keep it to resend it."""
        ev = {"id": new_ulid(), "type": type}
        if config_key is not None:
            ev["config_key"] = config_key
        if node_id is not None:
            ev["node_id"] = node_id
        if payload is not None:
            ev["payload"] = payload
        if self.source and "source" not in envelope:
            ev["source"] = self.source
        ev.update(envelope)
        return ev

    def emit(self, type, config_key=None, node_id=None, payload=None, **envelope):
        """Posts one event; returns its result ({"status": "appended" or
        "duplicate", "seq", "id"}). Raises Refused or Unavailable."""
        ev = self.event(type, config_key, node_id, payload, **envelope)
        return self.emit_batch([ev])["results"][0]

    def emit_batch(self, events, atomic=True):
        """Posts events as JSON arrays of at most MAX_BATCH (each chunk
        atomic unless atomic=False). An event without an "id" gets one,
        written into its dict before the first attempt, so a retry — this
        one's or the caller's — resends the same id. Returns {"results": [...],
        "decisions": [...]} over all chunks, indexes counted over the whole
        list. With atomic=False a refused event is a result with status
        "refused" and its "error"; with atomic=True a refusal raises Refused
        (its index counted over the whole list)."""
        events = list(events)
        for ev in events:
            if not isinstance(ev, dict):
                raise TypeError("an event is a dict, got %r" % type(ev).__name__)
            if not ev.get("id"):
                ev["id"] = new_ulid()
            if self.source and "source" not in ev:
                ev["source"] = self.source
        out = {"results": [], "decisions": []}
        query = "" if atomic else "?atomic=false"
        for start in range(0, len(events), MAX_BATCH):
            chunk = events[start:start + MAX_BATCH]
            try:
                answer = self._request("POST", "/v1/events" + query, chunk)
            except Refused as r:
                if isinstance(r.index, int) and r.index >= 0:
                    r.index += start
                raise
            for res in answer.get("results", []):
                res["index"] = res.get("index", 0) + start
                out["results"].append(res)
            out["decisions"].extend(answer.get("decisions", []))
        return out

    def events(self, after=0, limit=100, **filters):
        """GET /v1/events: {"events": [...], "next_after": N}. Filters:
        type, category, config, node, since, until (daemon.md)."""
        q = {"after": after, "limit": limit}
        q.update({k: v for k, v in filters.items() if v is not None})
        return self._request("GET", "/v1/events?" + urllib.parse.urlencode(q))

    # -- transport ----------------------------------------------------------

    def _request(self, method, path, body=None):
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        last = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self.retries += 1
                delay = min(self.backoff * 2 ** (attempt - 2), self.max_backoff)
                self._sleep(delay * (1 + random.random() / 2))
            req = urllib.request.Request(self.url + path, data=data, method=method)
            req.add_header("Accept", "application/json")
            if data is not None:
                req.add_header("Content-Type", "application/json")
            if self.token:
                req.add_header("Authorization", "Bearer " + self.token)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read() or b"{}")
            except urllib.error.HTTPError as e:
                status, error = e.code, _error_of(e)
                e.close()
                if status == 503:
                    last = Refused(status, error)
                    continue
                raise Refused(status, error) from None
            except _CONNECTION_ERRORS as e:
                last = e
                continue
        raise Unavailable(self.max_attempts, last)


def _error_of(e):
    """The error object of an HTTP error's JSON body (a stand-in when the
    body is not one, e.g. a proxy's page)."""
    try:
        body = json.loads(e.read() or b"{}")
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return body["error"]
    except (ValueError, OSError, http.client.HTTPException):
        pass
    return {"code": "http_%d" % e.code, "message": "HTTP %d %s" % (e.code, e.reason)}
