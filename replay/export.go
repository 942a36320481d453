package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ringrift/ringriftd/engine"
	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/journal"
)

// Export writes the matching events as NDJSON, the canonical envelope with
// seq and recorded_at (the shape of GET /v1/export). It returns how many it
// wrote.
func Export(ctx context.Context, src Source, f Filter, w io.Writer, progress Progress) (uint64, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	var n uint64
	total := lastOf(src)
	buf := make([]byte, 0, 1024)
	err := src.Scan(ctx, 1, f, func(e *event.Event) error {
		buf = append(e.AppendJSON(buf[:0]), '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
		if n++; progress != nil && n&16383 == 0 {
			progress(e.Seq, total)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// ImportOptions say how an NDJSON file becomes a journal.
type ImportOptions struct {
	// Strict refuses flow violations (written to the new journal's rejected
	// log) instead of journaling them as lenient violations.
	Strict bool
	// Policies decide on the imported events (off by default: the file's
	// own decisions are kept as they are).
	Policies flows.PolicySet
	// Boards are the operator's extra boards (the daemon's --boards): their
	// configs are accepted.
	Boards   []string
	Progress Progress
	// Thresholds are the policies' (FoldOptions).
	Thresholds flows.Thresholds
}

// ImportReport says what became of the file's lines.
type ImportReport struct {
	Dir        string `json:"dir"`
	Lines      int    `json:"lines"`
	Appended   int    `json:"appended"`
	Decisions  int    `json:"decisions"`
	Duplicates int    `json:"duplicates"`
	Refused    int    `json:"refused"`
	Undecoded  int    `json:"undecoded"`
	LastSeq    uint64 `json:"last_seq"`
	// LeftOut are the first undecodable lines (all are in the new
	// journal's rejected log).
	LeftOut []SkippedLine `json:"left_out,omitempty"`
}

// LeftOutCount is how many lines the import did not journal: undecodable
// or refused (duplicates are not left out: the original is journaled).
func (r *ImportReport) LeftOutCount() int { return r.Undecoded + r.Refused }

// importBatch is how many events one append carries.
const importBatch = 1000

// Import reads NDJSON (canonical or compatibility shape; an export with its
// decisions) into a new journal in dir, which must not exist or be empty.
// Events keep their ids, times and recorded_at, so an export imports to the
// same journal. Lines that do not decode are kept in the new journal's
// rejected log, cut at journal.RawLimit. When the import fails, what it
// wrote is removed: dir itself if Import created it, else its contents.
func Import(ctx context.Context, r io.Reader, dir string, o ImportOptions) (rep *ImportReport, err error) {
	ents, err := os.ReadDir(dir)
	switch {
	case err == nil && len(ents) > 0:
		return nil, fmt.Errorf("import: %s is not empty; import into a new directory", dir)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	created := err != nil
	defer func() {
		if err != nil {
			err = errors.Join(err, removeImport(dir, created))
		}
	}()
	enf := flows.Lenient
	if o.Strict {
		enf = flows.Strict
	}
	pc := flows.PolicyConfig{Enabled: o.Policies, Thresholds: o.Thresholds}
	v := event.NewValidator(0, o.Boards...)
	eng := engine.New(engine.Options{Enforcement: enf, Policies: pc, Validator: v})
	var now atomic.Int64 // the recorded_at of the batch being appended
	j, err := journal.Open(dir, journal.Options{
		Hook: eng,
		Now: func() time.Time {
			if ms := now.Load(); ms != 0 {
				return time.UnixMilli(ms).UTC()
			}
			return time.Now()
		},
		Check: func(e *event.Event) *event.Error {
			if strings.HasPrefix(e.Source, event.DecisionSourcePrefix) {
				return v.ValidateDecision(e)
			}
			return v.Validate(e)
		},
	})
	if err != nil {
		return nil, err
	}
	rep = &ImportReport{Dir: dir}
	batch := make([]event.Event, 0, importBatch)
	var batchAt int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		now.Store(batchAt)
		res, err := j.Append(ctx, batch, journal.AppendOptions{Validated: true})
		if err != nil {
			return err
		}
		for _, x := range res {
			switch x.Status {
			case journal.Appended:
				rep.Appended++
				rep.Decisions += x.Decisions
				rep.LastSeq = x.Seq + uint64(x.Decisions)
			case journal.Duplicate:
				rep.Duplicates++
			case journal.Refused:
				rep.Refused++
			}
		}
		batch = batch[:0]
		if o.Progress != nil {
			o.Progress(uint64(rep.Lines), 0)
		}
		return nil
	}
	var rejects []journal.Rejection
	br := bufio.NewReaderSize(r, 256<<10)
	for {
		line, rerr := readLine(br)
		if len(strings.TrimSpace(string(line))) > 0 {
			rep.Lines++
			e, ref := DecodeLineWith(v, line)
			if ref != nil {
				rep.Undecoded++
				raw, cut := cutRaw(line)
				rejects = append(rejects, journal.Rejection{Code: ref.Code, Index: rep.Lines, Field: ref.Field,
					Message: fmt.Sprintf("line %d: %s", rep.Lines, ref.Message), Hint: ref.Hint, Raw: raw, Truncated: cut})
				if len(rep.LeftOut) < maxSkipLines {
					rep.LeftOut = append(rep.LeftOut, SkippedLine{Line: rep.Lines, Code: string(ref.Code), Field: ref.Field, Message: oneLine(ref.Message)})
				}
			} else {
				at := e.RecordedAt.UnixMilli()
				if e.RecordedAt.IsZero() {
					at = 0
				}
				if len(batch) > 0 && (at != batchAt || len(batch) >= importBatch) {
					if err := flush(); err != nil {
						j.Close()
						return nil, err
					}
				}
				batchAt = at
				e.Seq = 0
				batch = append(batch, e)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			j.Close()
			return nil, rerr
		}
	}
	if err := flush(); err != nil {
		j.Close()
		return nil, err
	}
	now.Store(0)
	if err := j.Reject(rejects...); err != nil {
		j.Close()
		return nil, err
	}
	if err := j.Close(); err != nil {
		return nil, err
	}
	return rep, nil
}

// removeImport removes what a failed import wrote into dir: dir itself if
// the import created it, else everything in it (it was empty).
func removeImport(dir string, created bool) error {
	if created {
		return os.RemoveAll(dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}
