package journal

import (
	"errors"
	"fmt"
)

// Errors of the journal. Refusals of events are *event.Error values, not these.
//
// An append that is not refused is answered with exactly one of three
// outcomes, so that a caller never has to guess whether its events landed:
//
//   - no error: every event is durable (Appended) or already was (Duplicate);
//   - ErrNotLanded (ErrDiskFull is one): nothing of the request is in the
//     journal, and nothing of it will appear later;
//   - ErrOutcomeUnknown: the request was handed to storage and storage
//     failed before confirming it; all of it or none of it is in the journal
//     (never a part, never a gap). Retrying with the same ids is safe: what
//     landed is answered as a duplicate.
var (
	// ErrClosed is returned by every call on a closed journal. Not retryable on
	// this Journal; reopen. An append refused with it did not land (it also
	// matches ErrNotLanded).
	ErrClosed = errors.New("journal: closed")
	// ErrFailed means a write to storage failed (a commit or an fsync): the
	// journal stops taking appends and writes (what it acknowledged before
	// stays durable, reads keep working). Restart the process. It comes
	// with ErrOutcomeUnknown for the appends that were in flight, and with
	// ErrNotLanded for every later one.
	ErrFailed = errors.New("journal: failed")
	// ErrNotLanded: nothing of the request was journaled (nor will be).
	// Retrying is safe.
	ErrNotLanded = errors.New("journal: not landed")
	// ErrOutcomeUnknown: the request's batch was handed to storage but
	// storage failed before confirming it durable, so it may or may not have
	// landed — wholly or not at all. Retry with the same ids, which is safe.
	ErrOutcomeUnknown = errors.New("journal: outcome unknown")
	// ErrDiskFull: the file system holding the journal has less free space
	// than Options.DiskReserve (or said ENOSPC before anything was written).
	// Nothing of the request landed (it matches ErrNotLanded); appends
	// resume by themselves once space is freed.
	ErrDiskFull = fmt.Errorf("journal: disk full: %w", ErrNotLanded)
	// ErrNotFound: no event (or checkpoint, or cursor) under that key, or not
	// yet durable.
	ErrNotFound = errors.New("journal: not found")
	// ErrCorrupt: a stored record cannot be decoded. Not retryable.
	ErrCorrupt = errors.New("journal: corrupt record")
	// ErrFormat: the directory holds a journal of a newer format.
	ErrFormat = errors.New("journal: unsupported format")
	// ErrStop may be returned by a Scan callback to end the scan early; Scan
	// then returns nil.
	ErrStop = errors.New("journal: stop")
	// ErrSubscribed: a subscription of that name is already running.
	ErrSubscribed = errors.New("journal: subscription already running")
	// ErrNoJournal: the directory holds no journal.
	ErrNoJournal = errors.New("journal: no journal in directory")
	// ErrReadOnly: appends on a snapshot (OpenSnapshot) fail with ErrFailed
	// wrapping it.
	ErrReadOnly = errors.New("journal: read-only snapshot")
)

// errNotHanded: a batch was not given to Pebble (the journal had failed).
var errNotHanded = errors.New("journal: batch not written")

// notLanded marks err (the cause) as "nothing of the request landed".
func notLanded(err error) error {
	if errors.Is(err, ErrNotLanded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrNotLanded, err)
}

// outcomeUnknown marks err (a storage failure) as "the request may or may not
// have landed".
func outcomeUnknown(err error) error {
	return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
}

// ErrLocked: another process (a running daemon) holds the journal
// directory. Stop it, or read a copy with OpenSnapshot (replay does).
var ErrLocked = errors.New("journal: held by another process")

// Errors of redelivery (DeadLetters.Redeliver).
var (
	// ErrNotDeadLetter: no handler_failed of that handler at that seq.
	ErrNotDeadLetter = errors.New("journal: not a dead letter of this handler")
	// ErrRedelivered: the dead letter was already resolved by a
	// handler_redelivered; RedeliveryError.By names it.
	ErrRedelivered = errors.New("journal: dead letter already redelivered")
	// ErrHandlerFailed: the handler failed again on the original event; the
	// dead letter stays open. Retry once the cause is fixed.
	ErrHandlerFailed = errors.New("journal: handler failed again")
)

// Errors of a replicated journal (retryable: Append retries them itself
// within ReplicaOptions.RetryFor and returns the last one).
var (
	// ErrHeadMoved: the log of record holds events the replica did not
	// have when the group was sequenced; nothing of the group was stored.
	ErrHeadMoved = errors.New("journal: the log of record moved on; nothing was journaled")
	// ErrNoQuorum: the log of record cannot store (no leader, no quorum);
	// nothing was journaled.
	ErrNoQuorum = errors.New("journal: the log of record is unavailable (no quorum); nothing was journaled")
	// ErrPublishUnknown: the log of record did not confirm the group (no
	// answer in time, or it stored part of it), or stored it while the
	// replica could not write it: the events may or may not have landed.
	// Retrying with the same ids is safe.
	ErrPublishUnknown = errors.New("journal: the log of record did not confirm; the append may or may not have landed")
	// ErrReplicaGap: Replicate was given an event past the replica's next
	// seq. The caller must replicate from Durable()+1.
	ErrReplicaGap = errors.New("journal: replicated events leave a gap")
)
