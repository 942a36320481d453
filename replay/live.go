package replay

import "github.com/ringrift/ringriftd/journal"

// Live returns a source over a journal the caller holds open — the daemon's
// own, for GET /v1/lost: it reads the events up to the durable head, the
// rejected log and the subscriptions' cursors as they are now, exactly as
// OpenJournal would read the same directory, so the reports agree. Its
// Close leaves the journal open: the caller owns it. dir names it in
// messages. cursors, when not nil, returns the running subscriptions'
// cursors, which the report reads instead of what they last stored (a
// subscription stores its cursor now and then, so the stored one can be
// behind, or missing for one just started).
func Live(j *journal.Journal, dir string, cursors func() []journal.Cursor) *JournalSource {
	return &JournalSource{s: &journal.Snapshot{Journal: j}, dir: dir, borrowed: true, live: cursors}
}
