package event

// AppendAnswer is the answer of POST /v1/events (daemon.md): a result per
// posted event, in the order posted, and the decisions the policies
// appended. The daemon writes it; clients (the simulator) decode it.
type AppendAnswer struct {
	Results   []AppendResult `json:"results"`
	Decisions []DecisionRef  `json:"decisions"`
}

// AppendResult is one event's fate: Status "appended", "duplicate" (Seq
// and ID are those of the event already journaled) or "refused" (Error
// says why).
type AppendResult struct {
	Index  int    `json:"index"`
	Status string `json:"status"`
	Seq    uint64 `json:"seq,omitempty"`
	ID     string `json:"id,omitempty"`
	Error  *Error `json:"error,omitempty"`
}

// DecisionRef names a decision appended in answer to a posted event.
type DecisionRef struct {
	Seq         uint64 `json:"seq"`
	ID          string `json:"id"`
	Type        string `json:"type"`
	CausationID string `json:"causation_id"`
	ConfigKey   string `json:"config_key,omitempty"`
	NodeID      string `json:"node_id,omitempty"`
}
