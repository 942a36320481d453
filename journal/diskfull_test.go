package journal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/internal/testfs"
	"github.com/ringrift/ringriftd/journal"
)

// fillBatch is 200 events of about 1 KiB.
func fillBatch(round int) []event.Event {
	evs := make([]event.Event, 200)
	for i := range evs {
		evs[i] = event.Event{ID: ulid.Make(), Type: "new_games", ConfigKey: "hex8_2p", Source: "fill",
			Payload: []byte(fmt.Sprintf(`{"games":%d,"pad":"%01000d"}`, round*1000+i, i))}
	}
	return evs
}

// TestDiskFullTmpfs fills a real (tmpfs) file system under a journal: past
// the reserve, appends are refused with ErrDiskFull and nothing of them
// lands; reads work; once space is freed appends resume in the same
// process, gap-free, and a reopen finds every acknowledged event.
func TestDiskFullTmpfs(t *testing.T) {
	mnt := testfs.Tmpfs(t, 48<<20)
	dir := filepath.Join(mnt, "j")
	const reserve = 8 << 20
	j, err := journal.Open(dir, journal.Options{DiskReserve: reserve})
	require.NoError(t, err)
	acked := map[uint64]ulid.ULID{}
	ack := func(res []journal.Result) {
		for _, r := range res {
			require.Equal(t, journal.Appended, r.Status)
			acked[r.Seq] = r.ID
		}
	}
	res, err := j.Append(context.Background(), fillBatch(0), journal.AppendOptions{})
	require.NoError(t, err)
	ack(res)

	ballast := testfs.Fill(t, mnt, reserve+2<<20)
	full := 0
	for round := 1; round < 200 && full == 0; round++ {
		evs := fillBatch(round)
		res, err := j.Append(context.Background(), evs, journal.AppendOptions{})
		switch {
		case err == nil:
			ack(res)
		case errors.Is(err, journal.ErrDiskFull):
			full = round
			for _, e := range evs {
				_, gerr := j.GetByID(e.ID)
				require.ErrorIs(t, gerr, journal.ErrNotFound, "nothing of a disk-full append lands")
			}
		default:
			t.Fatalf("round %d: %v", round, err)
		}
	}
	require.NotZero(t, full, "the reserve was reached (free %d)", testfs.Free(t, mnt))
	require.NoError(t, j.Err(), "disk full does not fail the journal")
	got, err := j.Read(1, journal.Filter{}, 10)
	require.NoError(t, err, "reads work on a full disk")
	require.Len(t, got, 10)

	require.NoError(t, os.Remove(ballast))
	res, err = j.Append(context.Background(), fillBatch(1000), journal.AppendOptions{})
	require.NoError(t, err, "appends resume once space is freed, without a restart")
	require.Equal(t, uint64(len(acked))+1, res[0].Seq, "no gap")
	ack(res)
	require.NoError(t, j.Close())
	verifyAcked(t, dir, acked)
	t.Logf("disk full at round %d of 200-event appends; %d events acknowledged, all there, no gap", full, len(acked))
}

// TestENOSPCWithoutReserve turns the guard off and lets Pebble meet ENOSPC
// on a real file system: the answers stay honest (outcome unknown for what
// was in flight, not landed after), the process does not crash, reads work,
// and after freeing space a reopen has every acknowledged event, no gap.
func TestENOSPCWithoutReserve(t *testing.T) {
	mnt := testfs.Tmpfs(t, 48<<20)
	dir := filepath.Join(mnt, "j")
	j, err := journal.Open(dir, journal.Options{DiskReserve: -1})
	require.NoError(t, err)
	acked := map[uint64]ulid.ULID{}
	ballast := testfs.Fill(t, mnt, 1<<20)
	var unknown, notLanded [][]event.Event
	for round := 0; round < 100 && len(notLanded) == 0; round++ {
		evs := fillBatch(round)
		res, err := j.Append(context.Background(), evs, journal.AppendOptions{})
		switch {
		case err == nil:
			for _, r := range res {
				acked[r.Seq] = r.ID
			}
		case errors.Is(err, journal.ErrOutcomeUnknown):
			unknown = append(unknown, evs)
		case errors.Is(err, journal.ErrNotLanded):
			notLanded = append(notLanded, evs)
		default:
			t.Fatalf("round %d: an answer that is neither: %v", round, err)
		}
	}
	require.NotEmpty(t, notLanded, "the disk filled")
	require.ErrorIs(t, j.Err(), journal.ErrFailed)
	_, err = j.Read(1, journal.Filter{}, 10)
	require.NoError(t, err, "reads work")
	_ = j.Close() // Pebble may report the failed log
	require.NoError(t, os.Remove(ballast))

	verifyAcked(t, dir, acked)
	j, err = journal.Open(dir, journal.Options{})
	require.NoError(t, err)
	defer j.Close()
	for _, evs := range notLanded {
		for _, e := range evs {
			_, err := j.GetByID(e.ID)
			require.ErrorIs(t, err, journal.ErrNotFound, "answered not landed, yet journaled")
		}
	}
	for _, evs := range unknown {
		n := 0
		for _, e := range evs {
			if _, err := j.GetByID(e.ID); err == nil {
				n++
			}
		}
		require.Contains(t, []int{0, len(evs)}, n, "an append of unknown outcome is wholly there or absent")
	}
	t.Logf("ENOSPC met by Pebble: %d events acknowledged (all there), %d appends unknown, %d not landed", len(acked), len(unknown), len(notLanded))
}

// verifyAcked reopens dir and checks seqs are gap-free and every
// acknowledged event is at its seq.
func verifyAcked(t *testing.T, dir string, acked map[uint64]ulid.ULID) {
	t.Helper()
	j, err := journal.Open(dir, journal.Options{})
	require.NoError(t, err)
	defer j.Close()
	all, err := j.Read(1, journal.Filter{}, 0)
	require.NoError(t, err)
	for i, e := range all {
		require.Equal(t, uint64(i+1), e.Seq, "gap-free")
	}
	for seq, id := range acked {
		require.LessOrEqual(t, seq, uint64(len(all)), "acknowledged seq %d lost", seq)
		require.Equal(t, id, all[seq-1].ID)
	}
}
