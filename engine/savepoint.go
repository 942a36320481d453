package engine

import (
	"errors"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
)

// ErrSavepoint is returned by RollbackTo when the savepoint can no longer be
// restored (the undo log was rebased since it was taken).
var ErrSavepoint = errors.New("engine: savepoint no longer restorable")

// Savepoint marks the state between transactions, so that RollbackTo can
// return to it after later transactions were committed. A replicated journal
// takes one before each group commit and rolls back to it when the log of
// record refuses the group (another node appended first).
type Savepoint struct {
	base *Engine
	mark int
}

// savepointRoom is how many undo-log entries a savepoint leaves before the
// rebase threshold; while a savepoint is held, Begin does not rebase (the
// log grows with the group, however large), and the next Savepoint does.
const savepointRoom = 8192

// Savepoint marks the current state (between transactions).
func (g *Engine) Savepoint() Savepoint {
	if len(g.undo.log) >= rebaseEvents-savepointRoom {
		g.undo.drop()
	}
	g.undo.ensureBase(g)
	g.undo.pinned = true
	return Savepoint{base: g.undo.base, mark: len(g.undo.log)}
}

// RollbackTo restores the state of sp, undoing the transactions committed
// since. It fails, changing nothing, if the undo log was rebased since sp.
func (g *Engine) RollbackTo(sp Savepoint) error {
	if sp.base == nil || g.undo.base != sp.base || sp.mark > len(g.undo.log) {
		return ErrSavepoint
	}
	g.restore(sp.mark)
	g.undo.begin = len(g.undo.log)
	return nil
}

// FoldReplicated applies an event journaled elsewhere (another node of a
// cluster), like Fold, but keeps the undo log, so that the next Savepoint
// does not have to clone the whole state.
func (g *Engine) FoldReplicated(e *event.Event) {
	g.undo.ensureBase(g)
	if g.opts.Enforcement == flows.Lenient {
		_, _ = g.apply(e)
	} else {
		g.machines.SetEnforcement(flows.Lenient)
		_, _ = g.apply(e)
		g.machines.SetEnforcement(flows.Strict)
	}
	g.undo.record(e)
	g.undo.begin = len(g.undo.log)
}
