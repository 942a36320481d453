package journal

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// SaveCursor stores the cursor of a subscription that runs elsewhere —
// cluster mode's shared subscriptions keep theirs in JetStream — as a
// subscription of this journal stores its own (seq and the types it
// consumes), so that what reads stored cursors (replay lost, GET /v1/lost,
// a later start without cluster mode) sees it.
func (j *Journal) SaveCursor(name string, seq uint64, types []string) error {
	return j.storeCursor(name, seq, cursorTypes(Filter{Types: types}))
}

func (j *Journal) storeCursor(name string, seq uint64, types []string) error {
	v := encodeCursor(seq, types)
	if err := j.writeMeta(false, func(b *pebble.Batch) { _ = b.Set(nameKey(prefixCursor, name), v, nil) }); err != nil {
		return fmt.Errorf("journal: save cursor %q: %w", name, err)
	}
	return nil
}
