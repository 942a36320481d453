package fsm

import (
	"errors"
	"strings"
)

// Errors of the package. Every error it returns wraps one of them (errors.Is).
var (
	// ErrDefinition: a Definition is invalid (New, Validate).
	ErrDefinition = errors.New("fsm: invalid definition")
	// ErrUnknownEvent: the event is not part of the definition.
	ErrUnknownEvent = errors.New("fsm: unknown event")
	// ErrNotAllowed: the key's current state does not allow the event; the
	// error is a *NotAllowedError.
	ErrNotAllowed = errors.New("fsm: event not allowed")
	// ErrState: exported state does not fit the definition (Import).
	ErrState = errors.New("fsm: invalid state")
)

// NotAllowedError explains a refused event: the key's state and the events
// that state accepts.
type NotAllowedError struct {
	Machine string
	Key     string
	Event   string // the base name of the refused event
	State   string
	Accepts []string // base names, sorted
}

func (e *NotAllowedError) Error() string {
	return e.Machine + ": " + e.Event + " is not allowed for " + e.Key + " in state " + e.State +
		"; it accepts " + strings.Join(e.Accepts, ", ")
}

// Unwrap makes the error match ErrNotAllowed.
func (e *NotAllowedError) Unwrap() error { return ErrNotAllowed }
