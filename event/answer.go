package event

import "strconv"

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

// AppendJSON appends the answer's JSON to b, byte for byte what
// encoding/json.Marshal writes for it, without reflection: POST
// /v1/events answers with it on every append.
func (a *AppendAnswer) AppendJSON(b []byte) []byte {
	b = append(b, `{"results":`...)
	b = appendList(b, a.Results, (*AppendResult).appendJSON)
	b = append(b, `,"decisions":`...)
	b = appendList(b, a.Decisions, (*DecisionRef).appendJSON)
	return append(b, '}')
}

// appendList appends xs as a JSON array (null when nil, as Marshal).
func appendList[T any](b []byte, xs []T, each func(*T, []byte) []byte) []byte {
	if xs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = each(&xs[i], b)
	}
	return append(b, ']')
}

func (r *AppendResult) appendJSON(b []byte) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(r.Index), 10)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, r.Status, true)
	if r.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, r.Seq, 10)
	}
	b = appendOptional(b, `,"id":`, r.ID)
	if r.Error != nil {
		b = append(b, `,"error":`...)
		b = r.Error.appendJSON(b)
	}
	return append(b, '}')
}

func (d *DecisionRef) appendJSON(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, d.Seq, 10)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, d.ID, true)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, d.Type, true)
	b = append(b, `,"causation_id":`...)
	b = appendJSONString(b, d.CausationID, true)
	b = appendOptional(b, `,"config_key":`, d.ConfigKey)
	b = appendOptional(b, `,"node_id":`, d.NodeID)
	return append(b, '}')
}

func (e *Error) appendJSON(b []byte) []byte {
	b = append(b, `{"code":`...)
	b = appendJSONString(b, string(e.Code), true)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(e.Index), 10)
	b = appendOptional(b, `,"field":`, e.Field)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.Message, true)
	b = appendOptional(b, `,"hint":`, e.Hint)
	return append(b, '}')
}

// appendOptional appends key and s unless s is empty (omitempty).
func appendOptional(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	return appendJSONString(b, s, true)
}
