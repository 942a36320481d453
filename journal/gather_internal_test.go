package journal

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	case <-time.After(time.Second):
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
	case <-time.After(time.Second):
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
	case <-time.After(time.Second):
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
	case <-time.After(time.Second):
		t.Fatal("a large group was held while another was in flight")
	}
}
