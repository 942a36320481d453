package replay

import "github.com/ringrift/ringriftd/event"

// Time is a time in replay's JSON output, whatever its year
// (event.JSONTime).
type Time = event.JSONTime
