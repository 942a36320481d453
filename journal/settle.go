package journal

import (
	"context"
	"time"
)

// Settle waits until the indexer has caught up with the durable events and
// Pebble has no compaction running and no compaction debt, or until ctx
// ends: a journal just written has its L0 files still
// being compacted, which slows reads and takes CPU. Benchmarks of reads call
// it so that they measure reading, not the compactions of the writes before.
// It reports whether the journal settled.
func (j *Journal) Settle(ctx context.Context) bool {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	if j.idxDone != nil && j.WaitIndexed(ctx, j.Durable()) != nil {
		return false
	}
	for {
		m := j.db.Metrics()
		if m.Compact.NumInProgress == 0 && m.Compact.EstimatedDebt == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}
