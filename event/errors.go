package event

import (
	"errors"
	"fmt"
)

// Code is a refusal code of events.md. The set is a contract checked from outside
// the repository: never rename one.
type Code string

// Refusal codes.
const (
	CodeInvalidJSON      Code = "invalid_json"
	CodeNotAnObject      Code = "not_an_object"
	CodeUnknownEventType Code = "unknown_event_type"
	CodeMissingField     Code = "missing_field"
	CodeInvalidField     Code = "invalid_field"
	CodeConflictingField Code = "conflicting_field"
	CodeInvalidConfigKey Code = "invalid_config_key"
	CodeInvalidID        Code = "invalid_id"
	CodePayloadTooLarge  Code = "payload_too_large"
	CodeBatchTooLarge    Code = "batch_too_large"
	CodeIDConflict       Code = "id_conflict"
	CodeFlowViolation    Code = "flow_violation"
	CodePaused           Code = "paused"
	CodeCascadeTooDeep   Code = "cascade_too_deep"
	CodeUnauthorized     Code = "unauthorized"
	CodeUnavailable      Code = "unavailable"
	// CodeInsufficientStorage (507): the disk is full; nothing of the
	// request landed.
	CodeInsufficientStorage Code = "insufficient_storage"
	// CodeOutcomeUnknown (503): the write was handed to storage but storage
	// failed before confirming it; it may or may not have landed (wholly or
	// not at all). Retrying with the same ids is safe.
	CodeOutcomeUnknown Code = "outcome_unknown"
)

// Codes lists every refusal code, in the order of events.md.
var Codes = []Code{
	CodeInvalidJSON, CodeNotAnObject, CodeUnknownEventType, CodeMissingField,
	CodeInvalidField, CodeConflictingField, CodeInvalidConfigKey, CodeInvalidID,
	CodePayloadTooLarge, CodeBatchTooLarge, CodeIDConflict, CodeFlowViolation,
	CodePaused, CodeCascadeTooDeep, CodeUnauthorized, CodeUnavailable,
	CodeInsufficientStorage, CodeOutcomeUnknown,
}

// ErrRefused is matched (errors.Is) by every *Error.
var ErrRefused = errors.New("event: refused")

// ErrTimeRange says a time is outside the years an input may carry
// (CheckYear).
var ErrTimeRange = errors.New("event: time outside the years 1970–9999")

// Error is a refusal: what the caller sent, where, and what would be accepted.
// Its JSON is the body of events.md's {"error": {...}}.
type Error struct {
	Code Code `json:"code"`
	// Index is the event's position in its posted batch (0 for a single
	// event); -1 for a refusal of the whole request.
	Index   int    `json:"index"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Errorf builds a refusal with a formatted message. Index starts at 0; the
// caller sets it once the event's position is known.
func Errorf(code Code, field, hint, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Hint: hint, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Message
	if e.Field != "" {
		s = fmt.Sprintf("%s (field %s)", s, e.Field)
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Is makes every refusal match ErrRefused.
func (e *Error) Is(target error) bool { return target == ErrRefused }

// AsError returns the refusal inside err, if there is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
