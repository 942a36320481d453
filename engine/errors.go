package engine

import "errors"

// ErrCheckpoint is returned for checkpoint data that does not decode.
var ErrCheckpoint = errors.New("engine: invalid checkpoint")
