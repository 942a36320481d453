"""Tests of the ringrift client. The daemon tests need a running ringriftd:
RINGRIFT_URL (and RINGRIFT_TOKEN when it has one). `make test` runs them
through cmd/ringriftd's TestPythonClient, which starts the daemon binary.

    RINGRIFT_URL=http://127.0.0.1:8765 cd clients/python && python3 -m unittest discover -s tests
"""

import http.server
import json
import os
import socket
import threading
import unittest
import urllib.request

from ringrift import Client, Refused, Unavailable, new_ulid

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


class ULIDTest(unittest.TestCase):
    def test_bounds(self):
        self.assertEqual(new_ulid(0, bytes(10)), "0" * 26)
        self.assertEqual(new_ulid((1 << 48) - 1, b"\xff" * 10), "7" + "Z" * 25)

    def test_time_then_randomness(self):
        u = new_ulid(1_764_000_000_123, bytes(range(10)))
        n = 0
        for c in u:
            n = n * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".index(c)
        self.assertEqual(n >> 80, 1_764_000_000_123)
        self.assertEqual(n & ((1 << 80) - 1), int.from_bytes(bytes(range(10)), "big"))

    def test_fresh_ids_are_valid_and_distinct(self):
        ids = {new_ulid() for _ in range(1000)}
        self.assertEqual(len(ids), 1000)
        for u in ids:
            self.assertEqual(len(u), 26)
            self.assertLessEqual(u[0], "7")
            self.assertTrue(set(u) <= CROCKFORD, u)

    def test_refuses_bad_input(self):
        with self.assertRaises(ValueError):
            new_ulid(1 << 48, bytes(10))
        with self.assertRaises(ValueError):
            new_ulid(0, bytes(9))


def daemon_url():
    url = os.environ.get("RINGRIFT_URL")
    if not url:
        raise AssertionError("set RINGRIFT_URL to a running ringriftd (TestPythonClient in cmd/ringriftd does)")
    return url.rstrip("/")


def fast_client(url=None, **kw):
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_backoff", 0.05)
    kw.setdefault("source", "python-client-test")
    return Client(url or daemon_url(), **kw)


def journaled(ids):
    """How many times each id is in the journal (by reading every event)."""
    client = fast_client()
    counts = {i: 0 for i in ids}
    after = 0
    while True:
        page = client.events(after=after, limit=10_000)
        for e in page["events"]:
            if e["id"] in counts:
                counts[e["id"]] += 1
        if not page["events"]:
            return counts
        after = page["next_after"]


class Proxy:
    """A faulty proxy in front of the daemon. mode(n, forward) decides what
    request n (from 1) gets: forward() sends it on and returns (status,
    body); the mode returns what to answer, or None to drop the connection."""

    def __init__(self, upstream, mode):
        self.requests = 0
        self.forwarded = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.handle_any()

            def do_POST(self):
                self.handle_any()

            def handle_any(self):
                n_bytes = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n_bytes) if n_bytes else None
                proxy.requests += 1

                def forward():
                    proxy.forwarded += 1
                    req = urllib.request.Request(upstream + self.path, data=body, method=self.command)
                    for h in ("Content-Type", "Authorization"):
                        if self.headers.get(h):
                            req.add_header(h, self.headers[h])
                    try:
                        with urllib.request.urlopen(req, timeout=10) as resp:
                            return resp.status, resp.read()
                    except urllib.error.HTTPError as e:
                        return e.code, e.read()

                answer = mode(proxy.requests, forward)
                if answer is None:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, payload = answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def error_body(code, message):
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class DaemonTest(unittest.TestCase):
    def test_emit_lands_once_and_a_resend_is_a_duplicate(self):
        client = fast_client()
        res = client.emit("new_games", config_key="hex8_2p", payload={"games": 12, "nonce": new_ulid()})
        self.assertEqual(res["status"], "appended")
        self.assertGreater(res["seq"], 0)
        batch = [client.event("new_games", config_key="square8_3p", payload={"games": i}) for i in range(3)]
        first = client.emit_batch(batch)
        self.assertEqual([r["status"] for r in first["results"]], ["appended"] * 3)
        again = client.emit_batch(batch)
        self.assertEqual([r["status"] for r in again["results"]], ["duplicate"] * 3)
        self.assertEqual([r["seq"] for r in again["results"]], [r["seq"] for r in first["results"]])

    def test_ids_are_assigned_into_the_callers_dicts(self):
        client = fast_client()
        evs = [{"type": "new_games", "config_key": "hex8_4p", "payload": {"nonce": new_ulid()}} for _ in range(2)]
        out = client.emit_batch(evs)
        self.assertEqual([r["id"] for r in out["results"]], [e["id"] for e in evs])

    def test_compatibility_shape_keeps_its_id(self):
        # the old bus's event dict (events.md, compatibility input)
        client = fast_client()
        old = {"event_type": "NEW_GAMES_AVAILABLE", "payload": {"config_key": "hex8_2p", "games_count": 12, "host": "gpu-07"},
               "timestamp": 1764000000.5, "source": "SelfplayRunner", "routed": True}
        first = client.emit_batch([old])["results"][0]
        self.assertEqual(first["status"], "appended")
        self.assertEqual(first["id"], old["id"])
        again = client.emit_batch([old])["results"][0]
        self.assertEqual((again["status"], again["seq"]), ("duplicate", first["seq"]))

    def test_refusal_raises_with_code_field_hint(self):
        client = fast_client()
        with self.assertRaises(Refused) as cm:
            client.emit("training_complete", config_key="hex8_2p")
        r = cm.exception
        self.assertEqual(r.status, 400)
        self.assertEqual(r.code, "unknown_event_type")
        self.assertEqual(r.field, "type")
        self.assertIn("training_completed", r.hint)
        self.assertEqual(r.index, 0)

    def test_batch_refusal_names_the_event(self):
        client = fast_client()
        good = client.event("new_games", config_key="hex8_2p", payload={"nonce": new_ulid()})
        bad = client.event("new_games", config_key="hex9_2p")
        with self.assertRaises(Refused) as cm:
            client.emit_batch([good, bad])
        self.assertEqual(cm.exception.code, "invalid_config_key")
        self.assertEqual(cm.exception.index, 1)
        self.assertEqual(journaled([good["id"]]), {good["id"]: 0}, "an atomic batch lands nothing")

    def test_not_atomic_gives_a_result_per_event(self):
        client = fast_client()
        good = client.event("new_games", config_key="hex8_2p", payload={"nonce": new_ulid()})
        bad = client.event("new_games", config_key="hex9_2p")
        out = client.emit_batch([good, bad], atomic=False)
        self.assertEqual([r["status"] for r in out["results"]], ["appended", "refused"])
        self.assertEqual(out["results"][1]["error"]["code"], "invalid_config_key")

    def test_wrong_token_is_refused(self):
        if not os.environ.get("RINGRIFT_TOKEN"):
            self.fail("run with RINGRIFT_TOKEN: the daemon of TestPythonClient has a token")
        with self.assertRaises(Refused) as cm:
            fast_client(token="wrong").emit("new_games", config_key="hex8_2p")
        self.assertEqual(cm.exception.status, 401)
        self.assertEqual(cm.exception.code, "unauthorized")


class RetryTest(unittest.TestCase):
    """Faults between the client and the daemon: every retry resends the same
    ids, so each event lands exactly once."""

    def run_through(self, mode, n_events=2, **kw):
        proxy = Proxy(daemon_url(), mode)
        self.addCleanup(proxy.close)
        client = fast_client(proxy.url, **kw)
        evs = [client.event("new_games", config_key="hex8_3p", payload={"nonce": new_ulid()}) for _ in range(n_events)]
        return client, proxy, evs

    def assert_once(self, evs):
        counts = journaled([e["id"] for e in evs])
        self.assertEqual(set(counts.values()), {1}, counts)

    def test_connection_killed_after_the_append(self):
        # the first request lands, but its answer never comes back
        client, proxy, evs = self.run_through(lambda n, fwd: (fwd(), None)[1] if n == 1 else fwd())
        out = client.emit_batch(evs)
        self.assertEqual(proxy.forwarded, 2)
        self.assertGreaterEqual(client.retries, 1)
        self.assertEqual([r["status"] for r in out["results"]], ["duplicate", "duplicate"])
        self.assert_once(evs)

    def test_outcome_unknown_after_the_append(self):
        def mode(n, fwd):
            if n == 1:
                fwd()
                return 503, error_body("outcome_unknown", "the sync failed; it may have landed")
            return fwd()
        client, proxy, evs = self.run_through(mode)
        out = client.emit_batch(evs)
        self.assertEqual([r["status"] for r in out["results"]], ["duplicate", "duplicate"])
        self.assert_once(evs)

    def test_unavailable_before_the_append(self):
        def mode(n, fwd):
            if n <= 2:
                return 503, error_body("unavailable", "catching up")
            return fwd()
        client, proxy, evs = self.run_through(mode)
        out = client.emit_batch(evs)
        self.assertEqual([r["status"] for r in out["results"]], ["appended", "appended"])
        self.assertEqual(client.retries, 2)
        self.assert_once(evs)

    def test_gives_up_after_max_attempts(self):
        client, proxy, evs = self.run_through(lambda n, fwd: (503, error_body("unavailable", "no quorum")), max_attempts=3)
        with self.assertRaises(Unavailable) as cm:
            client.emit_batch(evs)
        self.assertEqual(cm.exception.attempts, 3)
        self.assertEqual(proxy.requests, 3)
        self.assertEqual(cm.exception.last.code, "unavailable")
        # the same events, resent directly, land once
        fast_client().emit_batch(evs)
        self.assert_once(evs)

    def test_connection_refused_is_retried(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        client = fast_client("http://127.0.0.1:%d" % port, max_attempts=2)
        with self.assertRaises(Unavailable) as cm:
            client.emit("new_games", config_key="hex8_2p")
        self.assertEqual(cm.exception.attempts, 2)
        self.assertEqual(client.retries, 1)


if __name__ == "__main__":
    unittest.main()
