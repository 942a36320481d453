package journal_test

import (
	"context"
	"sync"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// TestOnRejected: every entry written to the rejected log — by the
// sequencer (duplicates, refusals) and by Reject — is handed to
// Options.OnRejected once durable, and nothing else is.
func TestOnRejected(t *testing.T) {
	var mu sync.Mutex
	var got []journal.Rejection
	j, _ := openAt(t, t.TempDir(), journal.Options{OnRejected: func(rs []journal.Rejection) {
		mu.Lock()
		got = append(got, rs...)
		mu.Unlock()
	}})
	e := ev("new_games", "square8_2p", `{"games":1}`)
	e.ID = ulid.Make()
	appendAll(t, j, e) // appended: no entry
	mu.Lock()
	require.Empty(t, got)
	mu.Unlock()

	appendAll(t, j, e) // duplicate: one entry
	require.NoError(t, j.Reject(journal.Rejection{Code: event.CodeInvalidJSON, Index: -1, Message: "bad body", Raw: "{"}))
	_, err := j.Append(context.Background(), []event.Event{ev("no_such_type", "square8_2p", `{}`)}, journal.AppendOptions{Atomic: true})
	var ref *event.Error
	require.ErrorAs(t, err, &ref)

	rej, err := j.Rejected(0, 0)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 3)
	require.Equal(t, rej.Entries, got, "the entries handed over are the rejected log's")
	require.Equal(t, "duplicate", string(got[0].Code))
	require.Equal(t, event.CodeInvalidJSON, got[1].Code)
}
