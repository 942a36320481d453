package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
)

// Held returns an error wrapping ErrLocked, naming the holder's pid, when
// another process holds the journal in dir; nil when nobody does (or dir
// has no journal yet). It takes no lock, so Open still decides; a caller
// that must start something beside the journal before opening it (cluster
// mode's embedded server, whose store lives in the data directory) asks
// first, so that it never writes into a directory another daemon holds.
func Held(dir string) error {
	if pid := lockHolder(filepath.Join(dir, "LOCK")); pid > 0 {
		return fmt.Errorf("%w: another process (pid %d) holds the journal in %s (its LOCK file); stop it first, or point --data-dir elsewhere",
			ErrLocked, pid, dir)
	}
	return nil
}

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
