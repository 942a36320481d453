package replay

import "github.com/ringrift/ringriftd/journal"

// Live returns a source over a journal the caller holds open — the daemon's
// own, for GET /v1/lost: it reads the events up to the durable head, the
// rejected log and the subscriptions' cursors as they are now, exactly as
// OpenJournal would read the same directory, so the reports agree. Its
// Close leaves the journal open: the caller owns it. dir names it in
// messages.
func Live(j *journal.Journal, dir string) *JournalSource {
	return &JournalSource{s: &journal.Snapshot{Journal: j}, dir: dir, borrowed: true}
}
