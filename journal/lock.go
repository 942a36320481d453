package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
)

// ErrLocked: another process (a running daemon) holds the journal
// directory. Stop it, or read a copy with OpenSnapshot (replay does).
var ErrLocked = errors.New("journal: held by another process")

// openError explains a failed open: Pebble's lock refusal ("resource
// temporarily unavailable") becomes ErrLocked naming the holder's pid when
// the system tells it. Pebble writes nothing into LOCK; the pid comes from
// the lock itself (fcntl F_GETLK), which is what Pebble takes.
func openError(dir string, err error) error {
	if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("journal: open %s: %w", dir, err)
	}
	holder := "another process"
	if pid := lockHolder(filepath.Join(dir, "LOCK")); pid > 0 {
		holder = fmt.Sprintf("another process (pid %d)", pid)
	}
	return fmt.Errorf("%w: %s holds the journal in %s (its LOCK file); stop it first, or point --data-dir elsewhere",
		ErrLocked, holder, dir)
}
