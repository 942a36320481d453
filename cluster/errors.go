package cluster

import "errors"

// Errors of the cluster package.
var (
	// ErrConfig: a Config field cannot work; the message names it.
	ErrConfig = errors.New("cluster: config")
	// ErrStart: the embedded NATS server or the stream did not come up in
	// time (peers unreachable, ports taken). Retryable by restarting.
	ErrStart = errors.New("cluster: start")
	// ErrReplicaAhead: the local replica holds seqs the stream does not
	// (a data directory from another cluster, or a stream recreated). Not
	// retryable: use an empty data directory or the right cluster.
	ErrReplicaAhead = errors.New("cluster: the local journal is ahead of the stream")
	// ErrCodec: a stream message is not a journaled event.
	ErrCodec = errors.New("cluster: undecodable stream message")
)

// Errors of a forwarded append (Node.Forward).
var (
	// ErrForwardNotTaken: no node took the forwarded append (none listens
	// on its subject, it declined, or the body is too large to forward):
	// nothing of it was journaled; the sender runs it itself.
	ErrForwardNotTaken = errors.New("cluster: forwarded append not taken")
	// ErrForwardUnknown: the append was sent and no answer came in time: it
	// may or may not have landed (answer outcome_unknown).
	ErrForwardUnknown = errors.New("cluster: forwarded append without an answer")
)
