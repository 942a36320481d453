package sim

import "errors"

// ErrFatal is wrapped by the errors that end the simulation at once: no
// daemon at the URL, a missing or wrong token, a start in the future.
var ErrFatal = errors.New("simulate")
