package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/journal"
)

// MaxLine bounds one NDJSON line (an event is at most 64 KiB of payload).
const MaxLine = 1 << 20

// maxBadLines bounds how many undecodable lines a file source remembers.
const maxBadLines = 100_000

// wire is the canonical envelope as an export writes it.
type wire struct {
	Seq           uint64          `json:"seq"`
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	ConfigKey     *string         `json:"config_key"`
	NodeID        *string         `json:"node_id"`
	Source        string          `json:"source"`
	Time          string          `json:"time"`
	RecordedAt    string          `json:"recorded_at"`
	CausationID   string          `json:"causation_id"`
	CorrelationID string          `json:"correlation_id"`
	Dedup         *bool           `json:"dedup"`
	Payload       json.RawMessage `json:"payload"`
	// compatibility shape
	EventType json.RawMessage `json:"event_type"`
	Timestamp json.RawMessage `json:"timestamp"`
}

// exported reads the events of an export: what the journal already holds,
// whatever its time (an old journal holds the year 58862).
var exported = func() *event.Validator {
	v := event.NewValidator(0)
	v.AnyTime = true
	return v
}()

// DecodeLine decodes one NDJSON line: an exported event (canonical shape,
// with its seq and recorded_at, decisions included) or an input event in
// the canonical or compatibility shape (events.md). seq is 0 when the line
// has none. The refusal is what the daemon would answer for the line; but
// an exported line (one with a seq) is read with any time the journal can
// hold, years outside 1970–9999 included.
func DecodeLine(line []byte) (event.Event, *event.Error) {
	return DecodeLineWith(event.DefaultValidator, line)
}

// DecodeLineWith is DecodeLine with a validator of its own (the operator's
// extra boards: event.NewValidator(0, boards...)).
func DecodeLineWith(v *event.Validator, line []byte) (event.Event, *event.Error) {
	var w wire
	if err := json.Unmarshal(line, &w); err != nil {
		if !json.Valid(line) {
			return v.Decode(line) // the decoder's own invalid_json message
		}
		return event.Event{}, event.Errorf(event.CodeNotAnObject, "", "one JSON object per line", "a line must be a JSON object: %v", err)
	}
	if w.EventType != nil || w.Timestamp != nil || !strings.HasPrefix(w.Source, event.DecisionSourcePrefix) {
		if w.Seq != 0 { // an exported line: what the journal already holds, any time
			if v == event.DefaultValidator {
				v = exported
			} else {
				ex := *v
				ex.AnyTime = true
				v = &ex
			}
		}
		e, ref := v.Decode(line)
		if ref == nil {
			e.Seq = w.Seq
			e.RecordedAt = parseTime(w.RecordedAt)
		}
		return e, ref
	}
	// A decision (or a dead letter) of an export: the decoder refuses the
	// reserved source on input, so it is rebuilt here and validated as a
	// decision.
	e := event.Event{Seq: w.Seq, Type: w.Type, Source: w.Source, CausationID: w.CausationID,
		CorrelationID: w.CorrelationID, Payload: bytes.Clone(w.Payload), RecordedAt: parseTime(w.RecordedAt)}
	if w.ConfigKey != nil {
		e.ConfigKey = *w.ConfigKey
	}
	if w.NodeID != nil {
		e.NodeID = *w.NodeID
	}
	if w.Dedup != nil && !*w.Dedup {
		e.NoDedup = true
	}
	if w.ID != "" {
		id, err := ulid.ParseStrict(strings.ToUpper(w.ID))
		if err != nil {
			return e, event.Errorf(event.CodeInvalidID, "id", "a ULID", "invalid id %q", w.ID)
		}
		e.ID = id
	}
	if w.Time != "" {
		t, err := event.ParseTime(w.Time)
		if err != nil {
			return e, event.Errorf(event.CodeInvalidField, "time", "an RFC 3339 time (a year beyond 9999 written in full)", "invalid time %q", w.Time)
		}
		e.Time = event.Millis(t)
	}
	if ref := v.ValidateDecision(&e); ref != nil {
		return e, ref
	}
	return e, nil
}

// SourceOption tunes a file or URL source.
type SourceOption func(*readerSource)

// WithBoards accepts the configs of the operator's extra boards (the
// daemon's --boards) in the lines read, which the canonical boards alone
// would refuse.
func WithBoards(extra ...string) SourceOption {
	return func(s *readerSource) { s.v = event.NewValidator(0, extra...) }
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := event.ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return event.Millis(t)
}

// readerSource reads NDJSON from a stream opened per scan.
type readerSource struct {
	name string
	// open returns the stream of events after seq after (a file ignores
	// after and is filtered here).
	open func(ctx context.Context, after uint64) (io.ReadCloser, error)
	// resumable says a broken stream may be reopened after the last seq.
	resumable bool
	bad       []journal.Rejection
	// skips counts the lines the last scan left out (bad keeps the first
	// maxBadLines); skipFn, when set, is told of each as it goes.
	skips   int
	skipFn  func(*journal.Rejection) error
	scanned bool
	lines   int
	v       *event.Validator // nil: the canonical boards
}

var (
	_ Source         = (*readerSource)(nil)
	_ RejectedSource = (*readerSource)(nil)
	_ skipSource     = (*readerSource)(nil)
)

// skipSource is a source that reads lines (a file, a daemon's export) and
// may leave some out: onSkip(fn) has fn told of each, in its place in the
// scan (nil: no longer).
type skipSource interface {
	onSkip(fn func(*journal.Rejection) error)
}

func (s *readerSource) onSkip(fn func(*journal.Rejection) error) { s.skipFn = fn }

// OpenFile reads an NDJSON file: an export, or a dump in the compatibility
// shape. Events without a seq are numbered after the event before them (in
// a dump: by their position); a line whose seq does not rise is not read
// but reported by Rejected, like a line that does not decode.
func OpenFile(path string, opts ...SourceOption) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	f.Close()
	s := &readerSource{name: "file " + path, open: func(context.Context, uint64) (io.ReadCloser, error) {
		return os.Open(path)
	}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// NewReader reads NDJSON from r (once: a second scan fails).
func NewReader(name string, r io.Reader) Source {
	used := false
	return &readerSource{name: name, open: func(context.Context, uint64) (io.ReadCloser, error) {
		if used {
			return nil, errors.New("replay: a stream can be read once; write it to a file first")
		}
		used = true
		return io.NopCloser(r), nil
	}}
}

func (s *readerSource) Name() string { return s.name }
func (s *readerSource) Close() error { return nil }

// Rejected reports the lines the last scan could not decode, as the rejected
// log would hold them (Index is the line number).
func (s *readerSource) Rejected(fn func(*journal.Rejection) error) error {
	for i := range s.bad {
		if err := fn(&s.bad[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *readerSource) Scan(ctx context.Context, from uint64, f Filter, fn func(*event.Event) error) error {
	from = max(from, f.FromSeq)
	s.bad, s.lines, s.skips = s.bad[:0], 0, 0
	var last uint64
	for attempt := 0; ; attempt++ {
		after := last
		if from > 1 && last == 0 {
			after = from - 1
		}
		rc, err := s.open(ctx, after)
		if err != nil {
			return err
		}
		err = s.read(ctx, rc, from, f, fn, &last)
		rc.Close()
		if err == nil || errors.Is(err, journal.ErrStop) {
			s.scanned = true
			return nil
		}
		var readErr *streamError
		if !s.resumable || !errors.As(err, &readErr) || attempt >= 3 || ctx.Err() != nil {
			return err
		}
	}
}

// streamError is a failure of the stream itself (not of fn): a resumable
// source reopens after the last seq read.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

// read reads events from r. An event without a seq (a compatibility dump)
// is numbered after the event before it; an event whose seq does not rise
// is, in a resumed stream, one already read again, and skipped; in a file
// (two exports concatenated, or edited), a bad line that Rejected reports:
// the file's order is kept, so that seqs and points stay in order.
func (s *readerSource) read(ctx context.Context, r io.Reader, from uint64, f Filter, fn func(*event.Event) error, last *uint64) error {
	br := bufio.NewReaderSize(r, 256<<10)
	var e event.Event
	for {
		line, err := readLine(br)
		if err != nil && err != io.EOF && s.resumable {
			// the stream broke inside this line: it is read again whole
			// when the stream is reopened
			return &streamError{err}
		}
		if len(line) > 0 {
			s.lines++
			if s.lines&4095 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				goto next
			}
			v := s.v
			if v == nil {
				v = event.DefaultValidator
			}
			ev, ref := DecodeLineWith(v, line)
			if ref != nil {
				if err := s.reject(line, ref); err != nil {
					return err
				}
				goto next
			}
			if ev.Seq == 0 {
				ev.Seq = *last + 1
			} else if ev.Seq <= *last {
				if !s.resumable {
					if err := s.reject(line, event.Errorf(event.CodeInvalidField, "seq", "seqs that rise, as in an export",
						"seq %d after seq %d: the file's seqs go backwards (exports concatenated?); the line is not read", ev.Seq, *last)); err != nil {
						return err
					}
				}
				goto next
			}
			*last = ev.Seq
			if ev.Seq < from || !f.Match(&ev) {
				if f.ToSeq != 0 && ev.Seq > f.ToSeq {
					return journal.ErrStop
				}
				goto next
			}
			e = ev
			if err := fn(&e); err != nil {
				return err
			}
		}
	next:
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &streamError{err}
		}
	}
}

// reject remembers a line that is not read (up to maxBadLines), cut at
// journal.RawLimit as the rejected log would keep it, and tells skipFn.
func (s *readerSource) reject(line []byte, ref *event.Error) error {
	s.skips++
	raw, cut := cutRaw(line)
	r := journal.Rejection{Seq: uint64(s.lines), Code: ref.Code, Index: s.lines,
		Field: ref.Field, Message: ref.Message, Hint: ref.Hint, Raw: raw, Truncated: cut, Remote: fileLine}
	if len(s.bad) < maxBadLines {
		s.bad = append(s.bad, r)
	}
	if s.skipFn != nil {
		return s.skipFn(&r)
	}
	return nil
}

// maxSkipLines is how many left-out lines Skipped lists.
const maxSkipLines = 10

// Skips are the lines a file or stream source left out of its last scan:
// lines that do not decode, and seqs that go backwards.
type Skips struct {
	Count int           `json:"count"`
	Lines []SkippedLine `json:"lines"` // the first ten
}

// SkippedLine is one line left out, and why.
type SkippedLine struct {
	Line    int    `json:"line"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Skipped returns what the last scan of src left out; nil when it left
// nothing out, or src is a journal (whose refused inputs were never
// journaled: they are in its rejected log).
func Skipped(src Source) *Skips {
	s, ok := src.(*readerSource)
	if !ok || s.skips == 0 {
		return nil
	}
	sk := &Skips{Count: s.skips}
	for _, r := range s.bad[:min(len(s.bad), maxSkipLines)] {
		sk.Lines = append(sk.Lines, skippedLine(&r))
	}
	return sk
}

func skippedLine(r *journal.Rejection) SkippedLine {
	return SkippedLine{Line: r.Index, Code: string(r.Code), Field: r.Field, Message: oneLine(r.Message)}
}

// cutRaw is a refused line as the rejected log keeps it: at most
// journal.RawLimit bytes, cut at the start of a UTF-8 character; cut says
// whether it was.
func cutRaw(line []byte) (raw string, cut bool) {
	if len(line) <= journal.RawLimit {
		return string(line), false
	}
	n := journal.RawLimit
	for n > 0 && !utf8.RuneStart(line[n]) {
		n--
	}
	return string(line[:n]), true
}

// fileLine marks the rejections a file source makes of its own lines.
const fileLine = "file line"

// readLine returns the next line without its newline; a line longer than
// MaxLine is an error.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	buf := append([]byte(nil), line...)
	for err == bufio.ErrBufferFull {
		if len(buf) > MaxLine {
			return nil, fmt.Errorf("a line longer than %d bytes", MaxLine)
		}
		line, err = br.ReadSlice('\n')
		buf = append(buf, line...)
	}
	return buf, err
}
