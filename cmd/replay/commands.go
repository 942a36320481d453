package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/flows"
	"github.com/ringrift/ringriftd/replay"
)

var commands = []*command{
	{name: "timeline", summary: "events in order with their effects (transitions, decisions, refusals)",
		help:    "Lists the events in journal order, filtered like the API. Each line: seq, time, type, key,\nsource, and its effect: the transition it caused, the decisions it caused, or why it was\nrefused (refused inputs come from the rejected log of a journal directory).",
		example: "replay timeline --journal ./ringrift-data --config hex8_2p --since 2026-11-22T10:00:00Z",
		run:     runTimeline},
	{name: "explain", args: "CONFIG", summary: "a config's story: iterations, state, what it waits for, pauses",
		help:    "Tells the story of one config: its iterations with their outcomes and the gates that\ndecided, its state and for how long, what it waits for and which events would move it,\nand the active pauses with the events that set them.",
		example: "replay explain --journal ./ringrift-data hex8_2p",
		run:     runExplain},
	{name: "node", args: "NODE", summary: "a node's story: health history, recoveries, escalations",
		help:    "Tells the story of one node: its health history, its recovery attempts and how each\nended, and its escalations and the decisions taken about it.",
		example: "replay node --journal ./ringrift-data gpu-07",
		run:     runNode},
	{name: "lost", summary: "every way an event was lost or went wrong; exit 1 if any",
		help:    "Reports refused events, dropped and probable duplicates, dead letters, stuck flows,\nbroken chains, orphan decisions, lagging subscriptions and unconsumed or unseen types.\nEach finding has its seqs and a one-line cause. Exits 1 when there is any finding.\nWith --json, stdout is one JSON document even when the report fails midway: it then\nends with \"error\" instead of \"summary\", and the command exits 2.",
		example: "replay lost --journal ./ringrift-data --json > lost.json",
		run:     runLost},
	{name: "rebuild", summary: "all projections as of a seq or time, as the API shows them",
		help:    "Folds the journal up to --at (a seq, or a time: the events before it) and shows every\nprojection: pipelines, Elo, curriculum, health. --json gives the API's shapes.",
		example: "replay rebuild --journal ./ringrift-data --at 81200 --json",
		run:     runRebuild},
	{name: "diff", args: "A B", summary: "what changed in the projections between two points",
		help:    "Rebuilds the projections at A and at B (each a seq or a time, mixed as you like; \"end\"\nfor the last event) and lists every value that changed from A to B, by path.",
		example: "replay diff --journal ./ringrift-data 80000 end",
		run:     runDiff},
	{name: "verify", summary: "decisions today's policies would take differently; exit 1 if any",
		help:    "Re-runs today's policies over the journal and lists every cause whose journaled decisions\ndiffer from what they decide now (a policy change, or a journal written by someone else).",
		example: "replay verify --journal ./ringrift-data --policies all",
		run:     runVerify},
	{name: "stats", summary: "counts by type, category, source, config, node; rates; busiest keys",
		help:    "Counts the (filtered) events by type, category, source, config and node, shows the\nrate over time and the busiest keys.",
		example: "replay stats --file export.ndjson --category training",
		run:     runStats},
	{name: "export", summary: "the events as NDJSON",
		help:    "Writes the (filtered) events as NDJSON, the canonical envelope with seq and recorded_at:\nthe shape of GET /v1/export, which import reads back.",
		example: "replay export --journal ./ringrift-data --out journal.ndjson",
		run:     runExport},
	{name: "import", args: "F.ndjson", summary: "NDJSON (canonical or compatibility shape) into a new journal",
		help:    "Reads NDJSON — an export, or the Python workers' dumps in the compatibility shape — into\na new journal directory. Lenient by default (flow violations are journaled and counted)\nand with policies off: the file's own decisions are kept, so an export imports to the same\njournal. Lines that do not decode go to the new journal's rejected log.",
		example: "replay import --into ./imported old_workers.ndjson",
		run:     runImport},
}

func runTimeline(e *env, c *command, args []string) error {
	fs, co := newFlags(e, c)
	th := thresholdsFlag(fs)
	ff := addFilterFlags(fs)
	refused := fs.Bool("refused", true, "merge refused inputs from the rejected log")
	if err := parseNone(e, fs, args); err != nil {
		return err
	}
	f, err := ff.filter()
	if err != nil {
		return err
	}
	src, now, err := co.start(e)
	if err != nil {
		return err
	}
	defer src.Close()
	prog, done := co.progress(e)
	defer done()
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	defer w.Flush()
	o := replay.TimelineOptions{Filter: f, Refused: *refused, Progress: prog, Thresholds: th.t}
	if co.json {
		// left-out lines are entries of the stream (refused, with their line)
		enc := json.NewEncoder(w)
		err := replay.Timeline(e.ctx, src, o, func(en *replay.Entry) error { return enc.Encode(en) })
		if err == nil {
			noteSkipped(e, src)
		}
		return err
	}
	if now.IsZero() {
		now = time.Now().UTC()
		if js, ok := src.(*replay.JournalSource); ok {
			now = js.LastTime()
		}
	}
	tt := &replay.TimelineText{W: w, Style: co.style(e, now)}
	if err := replay.Timeline(e.ctx, src, o, tt.Add); err != nil {
		return err
	}
	noteSkipped(e, src)
	return tt.Flush()
}

func runExplain(e *env, c *command, args []string) error {
	return runOne(e, c, args, "explain: want one CONFIG, e.g. hex8_2p", replay.Explain)
}

func runNode(e *env, c *command, args []string) error {
	return runOne(e, c, args, "node: want one NODE, e.g. gpu-07", replay.ExplainNode)
}

// story is what explain and node print: a text or JSON answer as of a time.
type story interface {
	textWriter
	At() time.Time
}

// runOne runs a command about one config or node (explain, node): what
// explains it at the source's time, printed as text or JSON.
func runOne[T story](e *env, c *command, args []string, usage string, explain func(context.Context, replay.Source, string, time.Time, replay.FoldOptions) (T, error)) error {
	fs, co := newFlags(e, c)
	th := thresholdsFlag(fs)
	args, err := parse(e, fs, args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		fs.Usage()
		return errors.New(usage)
	}
	_, err = co.compute(e, func(src replay.Source, now time.Time, prog replay.Progress) (textWriter, time.Time, error) {
		st, err := explain(e.ctx, src, args[0], now, replay.FoldOptions{Progress: prog, Thresholds: th.t})
		if err != nil {
			return nil, now, err
		}
		return st, st.At(), nil
	})
	return err
}

func runLost(e *env, c *command, args []string) error {
	fs, co := newFlags(e, c)
	th := thresholdsFlag(fs)
	var o replay.LostOptions
	fs.DurationVar(&o.DuplicateWindow, "duplicate-window", 30*time.Second, "probable duplicates: same content within this window (negative: off)")
	fs.DurationVar(&o.Windows.Training, "training-window", 24*time.Hour, "training_started must end within this")
	fs.DurationVar(&o.Windows.Evaluation, "evaluation-window", 2*time.Hour, "evaluation_started must end within this")
	fs.DurationVar(&o.Windows.Recovery, "recovery-window", 30*time.Minute, "recovery_initiated must have an outcome within this")
	fs.DurationVar(&o.Windows.Threshold, "threshold-window", 30*time.Minute, "training_threshold must be followed by training_started within this")
	fs.DurationVar(&o.Windows.Distribution, "distribution-window", 30*time.Minute, "model_promoted must be distributed within this (once a distributor is seen)")
	fs.Uint64Var(&o.LagLimit, "lag-limit", 10_000, "a subscription lagging more events than this is reported")
	fs.DurationVar(&o.StuckAfter, "stuck-after", 5*time.Minute, "a subscription waiting on one seq longer than this is stuck")
	subs := fs.String("subscriptions", "", "the daemon's GET /v1/subscriptions saved to `FILE`: checks unconsumed and unseen types")
	if err := parseNone(e, fs, args); err != nil {
		return err
	}
	if *subs != "" {
		cs, err := readConsumers(*subs)
		if err != nil {
			return err
		}
		o.Consumers = cs
	}
	src, now, err := co.start(e)
	if err != nil {
		return err
	}
	defer src.Close()
	o.Now, o.Thresholds = now, th.t
	prog, done := co.progress(e)
	o.Progress = prog
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	defer w.Flush()
	var rep *replay.LostReport
	if co.json {
		if _, err := io.WriteString(w, `{"findings": [`); err != nil {
			return err
		}
		n := 0
		rep, err = replay.Lost(e.ctx, src, o, func(f *replay.Finding) error {
			b, err := json.Marshal(f)
			if err != nil {
				return err
			}
			if n++; n > 1 {
				w.WriteString(",")
			}
			w.WriteString("\n  ")
			_, err = w.Write(b)
			return err
		})
		done()
		if n > 0 {
			w.WriteString("\n")
		}
		if err != nil {
			// Close the document with the error, so that stdout stays valid
			// JSON; the error also goes to stderr (exit 2).
			msg, _ := json.Marshal(err.Error())
			fmt.Fprintf(w, "], \"error\": %s}\n", msg)
			return err
		}
		sum, _ := json.Marshal(rep.Summary)
		fmt.Fprintf(w, "], \"summary\": %s}\n", sum)
	} else {
		lt := &replay.LostText{W: w}
		rep, err = replay.Lost(e.ctx, src, o, func(f *replay.Finding) error {
			if lt.Style == (replay.Style{}) {
				lt.Style = co.style(e, now)
			}
			return lt.Add(f)
		})
		done()
		if err != nil {
			return err
		}
		if err := lt.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, rep.SummaryLine(co.style(e, rep.Now)))
	}
	if rep.Total() > 0 {
		return errFailed
	}
	return nil
}

// readConsumers reads a saved GET /v1/subscriptions: an array of
// subscriptions, or an object holding one under "subscriptions".
func readConsumers(path string) ([]replay.Consumer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	type sub struct {
		Name       string   `json:"name"`
		Handler    string   `json:"handler"`
		Types      []string `json:"types"`
		EventTypes []string `json:"event_types"`
	}
	var subs []sub
	if err := json.Unmarshal(b, &subs); err != nil {
		var wrapped struct {
			Subscriptions []sub `json:"subscriptions"`
		}
		if err2 := json.Unmarshal(b, &wrapped); err2 != nil {
			return nil, fmt.Errorf("--subscriptions %s: want the JSON of GET /v1/subscriptions: %w", path, err)
		}
		subs = wrapped.Subscriptions
	}
	out := make([]replay.Consumer, 0, len(subs))
	for _, s := range subs {
		c := replay.Consumer{Name: s.Name, Types: s.Types}
		if c.Name == "" {
			c.Name = s.Handler
		}
		if len(c.Types) == 0 {
			c.Types = s.EventTypes
		}
		out = append(out, c)
	}
	return out, nil
}

func runRebuild(e *env, c *command, args []string) error {
	fs, co := newFlags(e, c)
	th := thresholdsFlag(fs)
	atFlag := fs.String("at", "", "rebuild as of `SEQ or TIME` (default: the end)")
	if err := parseNone(e, fs, args); err != nil {
		return err
	}
	var at replay.Point
	if *atFlag != "" {
		var err error
		if at, err = replay.ParsePoint(*atFlag); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	_, err := co.compute(e, func(src replay.Source, now time.Time, prog replay.Progress) (textWriter, time.Time, error) {
		p, err := replay.Rebuild(e.ctx, src, at, replay.FoldOptions{Progress: prog, Thresholds: th.t})
		if err != nil || p.At.Time == nil {
			return p, now, err
		}
		return p, p.At.Time.Time, nil
	})
	return err
}

func runDiff(e *env, c *command, args []string) error {
	fs, co := newFlags(e, c)
	th := thresholdsFlag(fs)
	args, err := parse(e, fs, args)
	if err != nil {
		return err
	}
	if len(args) != 2 {
		fs.Usage()
		return errors.New("diff: want two points A B (a seq, a time, or end)")
	}
	var pts [2]replay.Point
	for i, a := range args {
		if a == "end" {
			continue
		}
		p, err := replay.ParsePoint(a)
		if err != nil {
			return fmt.Errorf("diff: %w", err)
		}
		pts[i] = p
	}
	_, err = co.compute(e, func(src replay.Source, now time.Time, prog replay.Progress) (textWriter, time.Time, error) {
		d, err := replay.Diff(e.ctx, src, pts[0], pts[1], replay.FoldOptions{Progress: prog, Thresholds: th.t})
		return d, now, err
	})
	return err
}

func runVerify(e *env, c *command, args []string) error {
	fs, co := newFlags(e, c)
	th := thresholdsFlag(fs)
	pol := fs.String("policies", "all", "today's policies: all, none, or a comma-separated list")
	if err := parseNone(e, fs, args); err != nil {
		return err
	}
	set, err := flows.ParsePolicies(*pol)
	if err != nil {
		return fmt.Errorf("--policies: %w", err)
	}
	cfg := flows.PolicyConfig{Enabled: set, Thresholds: th.t}
	v, err := co.compute(e, func(src replay.Source, now time.Time, prog replay.Progress) (textWriter, time.Time, error) {
		r, err := replay.Verify(e.ctx, src, cfg, prog)
		return r, now, err
	})
	if err == nil && len(v.(*replay.VerifyReport).Mismatches) > 0 {
		return errFailed
	}
	return err
}

func runStats(e *env, c *command, args []string) error {
	fs, co := newFlags(e, c)
	ff := addFilterFlags(fs)
	if err := parseNone(e, fs, args); err != nil {
		return err
	}
	f, err := ff.filter()
	if err != nil {
		return err
	}
	_, err = co.compute(e, func(src replay.Source, now time.Time, prog replay.Progress) (textWriter, time.Time, error) {
		st, err := replay.CollectStats(e.ctx, src, f, prog)
		return st, now, err
	})
	return err
}

func runExport(e *env, c *command, args []string) error {
	fs, co := newFlags(e, c)
	ff := addFilterFlags(fs)
	out := fs.String("out", "", "write to `FILE` instead of stdout (created; never the source)")
	if err := parseNone(e, fs, args); err != nil {
		return err
	}
	f, err := ff.filter()
	if err != nil {
		return err
	}
	src, _, err := co.start(e)
	if err != nil {
		return err
	}
	defer src.Close()
	w := e.stdout
	if *out != "" {
		if *out == co.file {
			return errors.New("export: --out names the source file; replay never writes to its source")
		}
		fh, err := os.OpenFile(*out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer fh.Close()
		w = fh
	}
	prog, done := co.progress(e)
	n, err := replay.Export(e.ctx, src, f, w, prog)
	done()
	if err != nil {
		return err
	}
	noteSkipped(e, src)
	if *out != "" {
		fmt.Fprintf(e.stderr, "exported %d events to %s\n", n, *out)
	}
	return nil
}

func runImport(e *env, c *command, args []string) error {
	fs := flagsOnly(e, c)
	th := thresholdsFlag(fs)
	into := fs.String("into", "", "the new journal directory `DIR` (must not exist or be empty)")
	strict := fs.Bool("strict", false, "refuse flow violations instead of journaling them (lenient)")
	pol := fs.String("policies", "none", "policies that decide on the imported events: none (the file's decisions are kept), all, or a list")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	boardList := fs.String("boards", e.getenv("RINGRIFT_BOARDS"), "the daemon's extra boards (its --boards, e.g. `hex12,square25`): their configs are accepted (env RINGRIFT_BOARDS)")
	args, err := parse(e, fs, args)
	if err != nil {
		return err
	}
	boards, err := event.ParseBoards(*boardList)
	if err != nil {
		return fmt.Errorf("--boards: %w", err)
	}
	if len(args) != 1 || *into == "" {
		fs.Usage()
		return errors.New("import: want --into DIR and one FILE (- for stdin)")
	}
	set, err := flows.ParsePolicies(*pol)
	if err != nil {
		return fmt.Errorf("--policies: %w", err)
	}
	r := e.stdin
	if args[0] != "-" {
		fh, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer fh.Close()
		r = fh
	}
	rep, err := replay.Import(e.ctx, r, *into, replay.ImportOptions{Strict: *strict, Policies: set, Thresholds: th.t, Boards: boards})
	if err != nil {
		return err
	}
	if *asJSON {
		err = writeJSON(e.stdout, rep)
	} else {
		_, err = fmt.Fprintf(e.stdout, "imported %d lines into %s: %d events appended (+%d decisions), %d duplicates, %d refused, %d undecodable; last seq %d\n",
			rep.Lines, rep.Dir, rep.Appended, rep.Decisions, rep.Duplicates, rep.Refused, rep.Undecoded, rep.LastSeq)
	}
	if err != nil {
		return err
	}
	if n := rep.LeftOutCount(); n > 0 {
		// The journal is kept, but it is not the file: exit 1.
		first := ""
		if len(rep.LeftOut) > 0 {
			first = ", the first " + skippedLine(rep.LeftOut[0])
		}
		fmt.Fprintf(e.stderr, "replay: import left out %d of %d lines (%d undecodable, %d refused%s); they are in the new journal's rejected log (replay lost --journal %s), and its seqs differ from the file's after the first of them\n",
			n, rep.Lines, rep.Undecoded, rep.Refused, first, rep.Dir)
		return errFailed
	}
	return nil
}

// skippedLine is a line left out, in words: "line 404: unknown_event_type: …".
func skippedLine(l replay.SkippedLine) string {
	return fmt.Sprintf("line %d: %s: %s", l.Line, l.Code, l.Message)
}

// noteSkipped says on stderr what the last scan of src left out (a file
// or a daemon's export: lines that could not be read) and returns it for
// the JSON output.
func noteSkipped(e *env, src replay.Source) *replay.Skips {
	sk := replay.Skipped(src)
	if sk == nil {
		return nil
	}
	word := "lines"
	if sk.Count == 1 {
		word = "line"
	}
	msg := fmt.Sprintf("replay: %s: left out %d %s that could not be read: %s", src.Name(), sk.Count, word, skippedLine(sk.Lines[0]))
	if sk.Count > 1 {
		msg += fmt.Sprintf("; and %d more (replay lost lists them all)", sk.Count-1)
	}
	fmt.Fprintln(e.stderr, msg)
	return sk
}

// textWriter is a result with a text form (its JSON form is encoding/json's).
type textWriter interface {
	WriteText(w io.Writer, s replay.Style) error
}

// compute opens the source, runs f with a progress bar, closes the source
// and writes f's result as JSON or text (times relative to now, or to the
// result's own "now" when it has one).
func (co *common) compute(e *env, f func(src replay.Source, now time.Time, prog replay.Progress) (textWriter, time.Time, error)) (textWriter, error) {
	src, now, err := co.start(e)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	prog, done := co.progress(e)
	v, at, err := f(src, now, prog)
	done()
	if err != nil {
		return nil, err
	}
	sk := noteSkipped(e, src)
	if co.json {
		return v, writeJSONSkips(e.stdout, v, sk)
	}
	if now.IsZero() {
		now = at
	}
	return v, v.WriteText(e.stdout, co.style(e, now))
}

// flagsOnly is a flag set with the command's usage but no source flags.
func flagsOnly(e *env, c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("replay "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: replay %s [flags] %s\n\n%s\n\nexample:\n  %s\n\nflags:\n", c.name, c.args, c.help, c.example)
		fs.PrintDefaults()
	}
	return fs
}

// parseNone is parse for a command that takes no argument.
func parseNone(e *env, fs *flag.FlagSet, args []string) error {
	args, err := parse(e, fs, args)
	if err == nil && len(args) > 0 {
		fs.Usage()
		err = fmt.Errorf("unexpected argument %q", args[0])
	}
	return err
}

// start opens the source and parses --now.
func (co *common) start(e *env) (replay.Source, time.Time, error) {
	now, err := co.nowTime()
	if err != nil {
		return nil, now, err
	}
	src, err := co.open(e)
	return src, now, err
}

// thresholds is --thresholds FILE: the daemon's thresholds file (YAML,
// keys of flows.Thresholds), read as the flag is parsed.
type thresholds struct {
	path string
	t    flows.Thresholds // zero: flows.DefaultThresholds
}

// thresholdsFlag gives a folding command --thresholds FILE.
func thresholdsFlag(fs *flag.FlagSet) *thresholds {
	th := &thresholds{}
	fs.Func("thresholds", "fold with the daemon's thresholds `FILE` (its --thresholds YAML; default: the built-in thresholds)", th.load)
	return th
}

// load reads the file as the daemon does: the built-in thresholds with the
// file's values over them; an unknown key is an error.
func (th *thresholds) load(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	t := flows.DefaultThresholds()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	th.path, th.t = path, t
	return nil
}

type filterFlags struct {
	config, node, types, category, since, until string
}

func addFilterFlags(fs *flag.FlagSet) *filterFlags {
	ff := &filterFlags{}
	fs.StringVar(&ff.config, "config", "", "only events of config `KEY` (e.g. hex8_2p)")
	fs.StringVar(&ff.node, "node", "", "only events of node `ID`")
	fs.StringVar(&ff.types, "type", "", "only these `TYPES` (values or NAMEs, comma-separated)")
	fs.StringVar(&ff.category, "category", "", "only types of this `CATEGORY`")
	fs.StringVar(&ff.since, "since", "", "from this `SEQ or TIME` on (included)")
	fs.StringVar(&ff.until, "until", "", "up to this `SEQ (included) or TIME (excluded)`")
	return ff
}

func (ff *filterFlags) filter() (replay.Filter, error) {
	f := replay.Filter{ConfigKey: ff.config, NodeID: ff.node, Category: ff.category}
	if ff.types != "" {
		ts, err := replay.ParseTypes(ff.types)
		if err != nil {
			return f, fmt.Errorf("--type: %w", err)
		}
		f.Types = ts
	}
	if ff.since != "" {
		p, err := replay.ParsePoint(ff.since)
		if err != nil {
			return f, fmt.Errorf("--since: %w", err)
		}
		f.FromSeq, f.Since = p.Seq, p.Time
	}
	if ff.until != "" {
		p, err := replay.ParsePoint(ff.until)
		if err != nil {
			return f, fmt.Errorf("--until: %w", err)
		}
		f.ToSeq, f.Until = p.Seq, p.Time
	}
	return f, nil
}
