package flows

import "errors"

// Errors of the package (refusals of events are *event.Error, not these).
var (
	// ErrOptions: Options fail Validate.
	ErrOptions = errors.New("flows: invalid options")
	// ErrCheckpoint: a checkpoint does not decode into a valid state.
	ErrCheckpoint = errors.New("flows: invalid checkpoint")
	// ErrPolicyConfig is wrapped by every error of PolicyConfig.Validate and
	// ParsePolicies.
	ErrPolicyConfig = errors.New("flows: invalid policy config")
)
