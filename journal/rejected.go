package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ringrift/ringriftd/event"
)

// RawLimit is how much of a refused event the rejected log keeps.
const RawLimit = 4 << 10

// Rejection is one entry of the rejected log: an input that reached ringriftd
// and was refused, or answered as a duplicate.
type Rejection struct {
	// Seq is the entry's own position in the rejected log (not an event seq).
	Seq  uint64     `json:"rseq"`
	Code event.Code `json:"code"`
	// Index is the event's position in its append; Field and Hint as in the
	// refusal.
	Index   int    `json:"index"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Batch is set for a refused atomic append: how many events it held. The
	// entry is its first refused event.
	Batch int `json:"batch,omitempty"`
	// DuplicateOf is the seq a duplicate repeats.
	DuplicateOf uint64 `json:"duplicate_of,omitempty"`
	// Raw is the event as received (or as re-encoded), cut at RawLimit bytes.
	Raw       string    `json:"raw"`
	Truncated bool      `json:"truncated,omitempty"`
	Remote    string    `json:"remote,omitempty"`
	Time      time.Time `json:"time"`
}

// appendJSON appends the entry as encoding/json.Marshal writes it (the
// stored form), without reflection: the sequencer writes one per refusal
// and duplicate, and Marshal was a fifth of its time on refusal-heavy
// traffic.
func (r *Rejection) appendJSON(b []byte) []byte {
	b = strconv.AppendUint(append(b, `{"rseq":`...), r.Seq, 10)
	b = event.AppendMarshaledString(append(b, `,"code":`...), string(r.Code))
	b = strconv.AppendInt(append(b, `,"index":`...), int64(r.Index), 10)
	if r.Field != "" {
		b = event.AppendMarshaledString(append(b, `,"field":`...), r.Field)
	}
	b = event.AppendMarshaledString(append(b, `,"message":`...), r.Message)
	if r.Hint != "" {
		b = event.AppendMarshaledString(append(b, `,"hint":`...), r.Hint)
	}
	if r.Batch != 0 {
		b = strconv.AppendInt(append(b, `,"batch":`...), int64(r.Batch), 10)
	}
	if r.DuplicateOf != 0 {
		b = strconv.AppendUint(append(b, `,"duplicate_of":`...), r.DuplicateOf, 10)
	}
	b = event.AppendMarshaledString(append(b, `,"raw":`...), r.Raw)
	if r.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	if r.Remote != "" {
		b = event.AppendMarshaledString(append(b, `,"remote":`...), r.Remote)
	}
	// RFC 3339 with nanoseconds, as time.Time's MarshalJSON (the time is
	// the journal's clock, within its years 0-9999)
	b = r.Time.AppendFormat(append(b, `,"time":"`...), time.RFC3339Nano)
	return append(b, `"}`...)
}

// rejectedState tracks the bounds of the rejected log (sequencer only, after
// Open).
type rejectedState struct {
	first, next uint64 // entries are [first, next)
	dropped     uint64
}

var droppedKey = append([]byte{prefixMeta}, "rejected_dropped"...)

func (s *rejectedState) load(db *pebble.DB) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixRejected}, UpperBound: []byte{prefixRejected + 1}})
	if err != nil {
		return fmt.Errorf("journal: rejected log: %w", err)
	}
	defer it.Close()
	s.first, s.next = 1, 1
	if it.First() {
		s.first = seqSuffix(it.Key())
		it.Last()
		s.next = seqSuffix(it.Key()) + 1
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("journal: rejected log: %w", err)
	}
	v, closer, err := db.Get(droppedKey)
	if err == nil {
		s.dropped = binary.BigEndian.Uint64(v)
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("journal: rejected log: %w", err)
	}
	return nil
}

// add writes an entry and drops the oldest past max.
func (j *Journal) addRejection(b *pebble.Batch, r Rejection) {
	s := &j.rej
	r.Seq = s.next
	s.next++
	j.rejBuf = r.appendJSON(j.rejBuf[:0])
	_ = b.Set(seqKey(prefixRejected, r.Seq), j.rejBuf, nil)
	if j.opts.OnRejected != nil {
		j.rejAdded = append(j.rejAdded, r)
	}
	if over := s.next - s.first; over > uint64(j.opts.RejectedMax) {
		n := over - uint64(j.opts.RejectedMax)
		_ = b.DeleteRange(seqKey(prefixRejected, s.first), seqKey(prefixRejected, s.first+n), nil)
		s.first += n
		s.dropped += n
		var d [8]byte
		binary.BigEndian.PutUint64(d[:], s.dropped)
		_ = b.Set(droppedKey, d[:], nil)
	}
}

// rejection is the rejected-log entry of a refusal (or duplicate) of an
// event the sequencer saw.
func (j *Journal) rejection(g *group, r *request, e *event.Event, ref *event.Error, dupOf uint64) Rejection {
	raw, cut := truncate(e.AppendJSON(nil))
	rej := Rejection{
		Code: ref.Code, Index: ref.Index, Field: ref.Field, Message: ref.Message, Hint: ref.Hint,
		DuplicateOf: dupOf, Raw: raw, Truncated: cut, Remote: r.opts.Remote, Time: g.now,
	}
	if r.opts.Atomic && dupOf == 0 {
		rej.Batch = len(r.events)
	}
	return rej
}

func truncate(b []byte) (string, bool) {
	if len(b) <= RawLimit {
		return string(b), false
	}
	cut := RawLimit
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]), true
}

// Reject writes refusals made before the sequencer (undecodable input) to the
// rejected log. Raw is cut to RawLimit; Time defaults to now. It returns once
// the entries are durable.
func (j *Journal) Reject(rs ...Rejection) error {
	if len(rs) == 0 {
		return nil
	}
	now := event.Millis(j.opts.Now())
	for i := range rs {
		if len(rs[i].Raw) > RawLimit {
			rs[i].Raw, rs[i].Truncated = truncate([]byte(rs[i].Raw))
		}
		if rs[i].Time.IsZero() {
			rs[i].Time = now
		}
	}
	req := &request{reject: rs, done: make(chan struct{})}
	if err := j.enqueueNoCtx(req); err != nil {
		return err
	}
	<-req.done
	return req.err
}

func (j *Journal) enqueueNoCtx(req *request) error {
	return j.enqueue(backgroundCtx, req)
}

// RejectedLog is one page of the rejected log.
type RejectedLog struct {
	Entries []Rejection `json:"entries"`
	// Dropped counts entries removed because the log was full.
	Dropped uint64 `json:"dropped"`
}

// Rejected reads up to limit entries (0 = all) of the rejected log from rseq
// from on.
func (j *Journal) Rejected(from uint64, limit int) (RejectedLog, error) {
	var out RejectedLog
	it, err := j.db.NewIter(&pebble.IterOptions{LowerBound: seqKey(prefixRejected, from), UpperBound: []byte{prefixRejected + 1}})
	if err != nil {
		return out, fmt.Errorf("journal: rejected log: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok && (limit == 0 || len(out.Entries) < limit); ok = it.Next() {
		var r Rejection
		if err := json.Unmarshal(it.Value(), &r); err != nil {
			return out, fmt.Errorf("%w: rejected entry %d: %w", ErrCorrupt, seqSuffix(it.Key()), err)
		}
		out.Entries = append(out.Entries, r)
	}
	if err := it.Error(); err != nil {
		return out, fmt.Errorf("journal: rejected log: %w", err)
	}
	v, closer, err := j.db.Get(droppedKey)
	if err == nil {
		out.Dropped = binary.BigEndian.Uint64(v)
		closer.Close()
	}
	return out, nil
}
