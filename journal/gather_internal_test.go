package journal

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
)

func gatherJournal() *Journal {
	j := &Journal{reqs: make(chan *request, 8), stop: make(chan struct{}), opts: Options{MaxGroupEvents: 100}}
	j.gat.wake = make(chan struct{}, 1)
	return j
}

// gatherDone runs gather in the background and tells when it returned.
func gatherDone(j *Journal, g *group) <-chan struct{} {
	done := make(chan struct{})
	go func() { j.gather(g, len(g.reqs)); close(done) }()
	return done
}

// A lone appender: the one request answered is the one back, so the group
// is handed over at once, whatever the fsync estimate.
func TestGatherLoneAppender(t *testing.T) {
	j := gatherJournal()
	j.gat.handed()
	j.gat.answered(1, time.Hour)
	j.gat.received()
	select {
	case <-gatherDone(j, &group{reqs: []*request{{}}}):
	case <-time.After(10 * time.Second): // a hang, not a delay (maxGatherWait is 2 ms): room for a loaded machine
		t.Fatal("a lone appender was held back")
	}
}

// While a group is in flight the sequencer collects; once it is answered
// and its appenders are back, the group goes.
func TestGatherHoldsWhileInFlight(t *testing.T) {
	j := gatherJournal()
	j.gat.handed()
	g := &group{reqs: []*request{{}}}
	done := gatherDone(j, g)
	j.reqs <- &request{}
	select {
	case <-done:
		t.Fatal("handed over while a group was in flight")
	case <-time.After(20 * time.Millisecond):
	}
	// the group in flight is answered: its 8 appenders are expected back,
	// for at most maxGatherWait (an hour's fsync estimate), and are
	j.gat.answered(8, time.Hour)
	for range 8 {
		j.reqs <- &request{}
	}
	<-done
	require.Len(t, g.reqs, 10, "the returning appenders' requests")
	require.Zero(t, j.gat.returning.Load())
}

// Appenders that do not come back are waited for once, at most
// maxGatherWait, and then no longer expected.
func TestGatherForgetsAppendersThatLeft(t *testing.T) {
	j := gatherJournal()
	j.gat.handed()
	j.gat.answered(64, time.Hour) // 64 answered, a long fsync estimate
	j.gat.received()
	start := time.Now()
	<-gatherDone(j, &group{reqs: []*request{{}}})
	require.GreaterOrEqual(t, time.Since(start), maxGatherWait, "gave up before the bound")
	require.Zero(t, j.gat.returning.Load(), "still expects the appenders that left")
	select {
	case <-gatherDone(j, &group{reqs: []*request{{}}}):
	case <-time.After(10 * time.Second): // a hang, not a delay (maxGatherWait is 2 ms): room for a loaded machine
		t.Fatal("waited again for appenders already given up")
	}
}

// A few answered appenders are not waited for: an appender sharing its
// groups with one that does not come back soon would wait an fsync's time
// every round.
func TestGatherNoWaitForFew(t *testing.T) {
	j := gatherJournal()
	j.gat.handed()
	j.gat.answered(gatherMinCrowd, time.Hour)
	j.gat.received()
	select {
	case <-gatherDone(j, &group{reqs: []*request{{}}}):
	case <-time.After(10 * time.Second): // a hang, not a delay (maxGatherWait is 2 ms): room for a loaded machine
		t.Fatal("waited for fewer than gatherMinCrowd appenders")
	}
}

// A large group is not held while another is in flight: it is handed to
// Pebble at once, so that its apply overlaps the fsync in flight.
func TestGatherLargeGroupNotHeld(t *testing.T) {
	j := gatherJournal()
	j.gat.handed()
	done := make(chan struct{})
	go func() { j.gather(&group{reqs: []*request{{}}}, gatherHoldEvents); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a hang, not a delay (maxGatherWait is 2 ms): room for a loaded machine
		t.Fatal("a large group was held while another was in flight")
	}
}

// admitted is a hook that reports each event it admits.
type admitted chan string

func (admitted) Begin(bool) {}
func (a admitted) Admit(e *event.Event) ([]event.Event, *event.Error) {
	a <- e.Source
	return nil, nil
}
func (admitted) Commit()   {}
func (admitted) Rollback() {}

// TestNextGroupBuiltDuringFsync: the committer pipeline. While group n
// waits for its fsync, an append that arrives is sequenced into group n+1
// at once (its hook transaction runs, its seq is taken), so that when n's
// fsync ends only n+1's hand-over to Pebble is left.
func TestNextGroupBuiltDuringFsync(t *testing.T) {
	fs := &gatedFS{FS: vfs.NewMem()}
	hook := make(admitted, 4)
	j, err := Open("j", Options{FS: fs, Hook: hook})
	require.NoError(t, err)
	defer j.Close()
	defer fs.open() // before Close, which waits for the held sync

	appendOne := func(source string) <-chan Result {
		out := make(chan Result, 1)
		go func() {
			res, err := j.Append(context.Background(), []event.Event{{Type: "new_games", ConfigKey: "hex8_2p", Source: source,
				Payload: json.RawMessage(`{"n":1}`)}}, AppendOptions{})
			if !assert.NoError(t, err) {
				res = []Result{{}}
			}
			out <- res[0]
		}()
		return out
	}
	fs.shut()
	first := appendOne("first")
	require.Equal(t, "first", <-hook)
	require.Eventually(t, func() bool { return j.gat.inflight.Load() == 1 }, 10*time.Second, time.Millisecond,
		"the first group is handed over, its fsync held")

	second := appendOne("second")
	select {
	case src := <-hook:
		require.Equal(t, "second", src)
	case <-time.After(10 * time.Second):
		t.Fatal("the next append was not sequenced while the group before it waited for its fsync")
	}
	fs.open()
	a, b := <-first, <-second
	require.Equal(t, Appended, a.Status)
	require.Equal(t, Appended, b.Status)
	require.Equal(t, a.Seq+1, b.Seq)
}
