"""ringrift: the workers' client of ringriftd (standard library only).

    from ringrift import Client, Refused

    client = Client()  # RINGRIFT_URL (default http://127.0.0.1:8765), RINGRIFT_TOKEN
    client.emit("new_games", config_key="hex8_2p", payload={"games": 12}, source="SelfplayRunner")
    client.emit_batch([
        {"type": "training_started", "config_key": "hex8_2p", "payload": {"job_id": "j-7"}},
        {"type": "training_progress", "config_key": "hex8_2p", "payload": {"epoch": 1}},
    ])

What it guarantees (daemon.md, events.md):

- Every event gets a ULID as its ``id`` once, before the first attempt, and keeps
  it across retries (it is written into the event dict you passed), so a retry
  after a lost answer is answered ``duplicate`` by the daemon, never journaled twice.
- A 503 (``unavailable``, ``outcome_unknown``) or a connection error is retried
  with exponential backoff and jitter, resending the same ids; after
  ``max_attempts`` it raises ``Unavailable`` (the outcome of the last attempt may
  be unknown: call again with the same events, which is safe).
- Any other refusal raises ``Refused`` with the error's ``code``, ``field``,
  ``hint``, ``index`` and the HTTP ``status``; nothing of an atomic batch landed.
"""

from .client import Client, Refused, RingriftError, Unavailable, new_ulid

__all__ = ["Client", "Refused", "RingriftError", "Unavailable", "new_ulid"]
