package projections

import "errors"

// Errors of UnmarshalJSON. A refused checkpoint leaves the fold unchanged.
var (
	// ErrCheckpointVersion: the checkpoint has another format version.
	ErrCheckpointVersion = errors.New("projections: checkpoint of another format version")
	// ErrCheckpointInvalid: the checkpoint does not describe a valid state.
	ErrCheckpointInvalid = errors.New("projections: invalid checkpoint")
)
