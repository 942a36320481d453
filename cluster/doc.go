// Package cluster is ringriftd's cluster mode (cluster.md): the journal
// replicated by NATS JetStream. It is the only package that imports NATS.
//
// The log of record is the JetStream stream RINGRIFT_JOURNAL: one message per
// event, its canonical JSON (the line GET /v1/export writes) on the subject
// ringrift.journal.<category>.<type>, with Nats-Msg-Id = the event id. The
// stream's sequence is the journal's seq. Each node keeps its Pebble journal
// as a replica of the stream (journal.ReplicaOptions): a Node is the
// journal's journal.Replicator (Publish, Head), and Follow feeds the replica
// every event of the stream it does not hold yet, through the journal's
// sequencer (journal.Replicate).
//
// A Node embeds a NATS server (its own name, store directory under the data
// directory, route and client ports, no signal handlers) clustered with its
// peers over routes, or connects to an existing NATS cluster (Config.URL).
//
// Appends at the head: the journal's sequencer builds a group as on one node,
// then Publish stores it as one JetStream atomic batch whose first message
// expects the stream's last sequence to be the group's first seq - 1 (the
// only message of a batch on which JetStream honours that header). JetStream
// error 10071 (wrong last sequence) means another node appended first:
// nothing was stored, and the journal catches up and retries. Error 10201
// (duplicate message id) means an earlier attempt of the same events
// committed. No answer in time means the outcome is unknown.
//
// Forwarding (forward.go): a node that does not sequence forwards a client's
// append to the stream leader's node over NATS request-reply
// (ringrift.append.<node>), so that one sequencer publishes; the head check
// stays underneath, so correctness does not depend on it.
//
// The rejected log (rejected.go) is a second stream, RINGRIFT_REJECTED,
// bounded by count: every node publishes its refusals there and reads every
// node's from it.
//
// Shared subscriptions (consumer.go): a handler runs once in the cluster, on
// a durable pull consumer of the stream (sub_<name>) that every node pulls,
// one event in flight (MaxAckPending 1); its cursor is the consumer's ack
// floor. Routes may run over TLS with peers verified against a CA
// (Config.TLSCert, TLSKey, TLSCA); off loopback they need the token.
package cluster
