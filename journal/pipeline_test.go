package journal_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// gateFS holds every sync of the log while armed, until released.
type gateFS struct {
	vfs.FS
	armed   atomic.Bool
	entered chan struct{} // one send per held sync
	release chan struct{}
}

func (fs *gateFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return gateFile{f, fs}, err
}

func (fs *gateFS) ReuseForWrite(old, new string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(old, new, c)
	return gateFile{f, fs}, err
}

type gateFile struct {
	vfs.File
	fs *gateFS
}

func (f gateFile) hold() {
	if f.fs.armed.Load() {
		f.fs.entered <- struct{}{}
		<-f.fs.release
	}
}
func (f gateFile) Sync() error     { f.hold(); return f.File.Sync() }
func (f gateFile) SyncData() error { f.hold(); return f.File.SyncData() }
func (f gateFile) SyncTo(n int64) (bool, error) {
	f.hold()
	return f.File.SyncTo(n)
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
	fs := &gateFS{FS: vfs.NewMem(), entered: make(chan struct{}), release: make(chan struct{})}
	hook := make(admitted, 4)
	j, err := journal.Open("j", journal.Options{FS: fs, Hook: hook})
	require.NoError(t, err)
	defer j.Close()
	var once sync.Once
	release := func() { once.Do(func() { fs.armed.Store(false); close(fs.release) }) }
	defer release() // before Close, which waits for the held sync

	appendOne := func(source string) <-chan journal.Result {
		out := make(chan journal.Result, 1)
		go func() {
			res, err := j.Append(context.Background(), []event.Event{{Type: "new_games", ConfigKey: "hex8_2p", Source: source,
				Payload: json.RawMessage(`{"n":1}`)}}, journal.AppendOptions{})
			require.NoError(t, err)
			out <- res[0]
		}()
		return out
	}
	fs.armed.Store(true)
	first := appendOne("first")
	require.Equal(t, "first", <-hook)
	<-fs.entered // group n is in its fsync, held

	second := appendOne("second")
	select {
	case src := <-hook:
		require.Equal(t, "second", src)
	case <-time.After(10 * time.Second):
		t.Fatal("the next append was not sequenced while the group before it waited for its fsync")
	}
	release()
	a, b := <-first, <-second
	require.Equal(t, journal.Appended, a.Status)
	require.Equal(t, journal.Appended, b.Status)
	require.Equal(t, a.Seq+1, b.Seq)
}
