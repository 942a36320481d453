package replay_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
	"github.com/ringrift/ringriftd/replay"
)

// brokenRejected is a source whose events read fine but whose rejected log
// fails midway.
type brokenRejected struct {
	replay.Source
	err error
}

func (b *brokenRejected) Rejected(fn func(*journal.Rejection) error) error {
	if err := fn(&journal.Rejection{Seq: 1, Code: event.CodeUnknownEventType, Raw: `{"type":"nope"}`, Time: t0}); err != nil {
		return err
	}
	return b.err
}

var _ replay.RejectedSource = (*brokenRejected)(nil)

// TestTimelineRejectedLogError: a failure to read the rejected log ends the
// timeline with that error instead of a timeline silently short of its
// refusals.
func TestTimelineRejectedLogError(t *testing.T) {
	tj := newJournal(t, 0)
	tj.add("new_games", "hex8_2p", 1, `{"games":1}`)
	tj.close()
	js, err := replay.OpenJournal(context.Background(), tj.dir)
	require.NoError(t, err)
	defer js.Close()
	broken := errors.New("rejected log: corrupt entry")
	var n int
	err = replay.Timeline(context.Background(), &brokenRejected{Source: js, err: broken}, replay.TimelineOptions{Refused: true},
		func(*replay.Entry) error { n++; return nil })
	require.ErrorIs(t, err, broken)
	assert.Positive(t, n, "what was read before the failure was emitted")

	err = replay.Timeline(context.Background(), &brokenRejected{Source: js, err: broken}, replay.TimelineOptions{Refused: false},
		func(*replay.Entry) error { return nil })
	assert.NoError(t, err, "the rejected log is not read without Refused")
}
