package journal

import "errors"

// Errors of the journal. Refusals of events are *event.Error values, not these.
var (
	// ErrClosed is returned by every call on a closed journal. Not retryable on
	// this Journal; reopen.
	ErrClosed = errors.New("journal: closed")
	// ErrFailed means a commit or sync failed: the journal stops taking
	// appends (what it acknowledged before stays durable). Restart the process.
	ErrFailed = errors.New("journal: failed")
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
