package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/replay"
)

// env is what every command gets from run.
type env struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// common are the flags every reading command has.
type common struct {
	journal, file, url string
	json               bool
	now                string
	noProgress         bool
	boards             string
}

// command is one subcommand: its name, one-line summary, usage and example.
type command struct {
	name, args, summary, help, example string
	run                                func(e *env, c *command, args []string) error
}

func newFlags(e *env, c *command) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet("replay "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	co := &common{}
	fs.StringVar(&co.journal, "journal", "", "read the journal directory `DIR` (a copy is read if a daemon holds it)")
	fs.StringVar(&co.file, "file", "", "read the NDJSON file `F` (an export, or a dump in the compatibility shape)")
	fs.StringVar(&co.url, "url", "", "read a running daemon's /v1/export at `http://host:port` (token: RINGRIFT_TOKEN)")
	fs.BoolVar(&co.json, "json", false, "write JSON for machines instead of text")
	fs.StringVar(&co.now, "now", "", "judge ages and relative times at `TIME` (default: the last event's time)")
	fs.BoolVar(&co.noProgress, "no-progress", false, "no progress bar on stderr")
	fs.StringVar(&co.boards, "boards", e.getenv("RINGRIFT_BOARDS"), "the daemon's extra boards (its --boards, e.g. `hex12,square25`): their configs are accepted in --file and --url lines (env RINGRIFT_BOARDS)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: replay %s [--journal DIR | --file F.ndjson | --url URL] [flags] %s\n\n%s\n\nexample:\n  %s\n\nflags:\n",
			c.name, c.args, c.help, c.example)
		fs.PrintDefaults()
	}
	return fs, co
}

// parse parses args with flags anywhere among the arguments ("explain
// --journal D hex8_2p --json"); "--" ends the flags. It returns the
// arguments. Help asked for (-h, --help) goes to stdout and returns
// flag.ErrHelp (exit 0); a usage error prints the usage on stderr.
func parse(e *env, fs *flag.FlagSet, args []string) ([]string, error) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, on the stream it belongs to
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stdout)
			usage()
			fs.SetOutput(e.stderr)
			return nil, err
		}
		if err != nil {
			usage()
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// open opens the one source the flags name.
func (co *common) open(e *env) (replay.Source, error) {
	n := 0
	for _, s := range []string{co.journal, co.file, co.url} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		if dir := e.getenv("RINGRIFT_DATA_DIR"); dir != "" {
			return replay.OpenJournal(e.ctx, dir)
		}
		return nil, errors.New("no source: give --journal DIR, --file F.ndjson or --url http://host:port")
	case n > 1:
		return nil, errors.New("one source per call: --journal, --file or --url")
	case co.journal != "":
		return replay.OpenJournal(e.ctx, co.journal)
	}
	boards, err := event.ParseBoards(co.boards)
	if err != nil {
		return nil, fmt.Errorf("--boards: %w", err)
	}
	if co.file != "" {
		return replay.OpenFile(co.file, replay.WithBoards(boards...))
	}
	return replay.OpenURL(co.url, e.getenv("RINGRIFT_TOKEN"), &http.Client{Timeout: 0}, replay.WithBoards(boards...))
}

// nowTime parses --now; zero means "the last event's time".
func (co *common) nowTime() (time.Time, error) {
	if co.now == "" {
		return time.Time{}, nil
	}
	if co.now == "wall" {
		return time.Now().UTC(), nil
	}
	p, err := replay.ParsePoint(co.now)
	if err != nil || p.Seq != 0 {
		return time.Time{}, fmt.Errorf("--now %q: want a time such as 2026-11-22T10:00:00Z, or wall", co.now)
	}
	return p.Time, nil
}

// style is colour on a terminal (unless NO_COLOR) and times relative to now.
func (co *common) style(e *env, now time.Time) replay.Style {
	return replay.Style{Color: isTerminal(e.stdout) && e.getenv("NO_COLOR") == "" && e.getenv("TERM") != "dumb", Now: now}
}

// progress is a bar on stderr when stderr is a terminal.
func (co *common) progress(e *env) (replay.Progress, func()) {
	if co.noProgress || !isTerminal(e.stderr) {
		return nil, func() {}
	}
	b := newBar(e.stderr)
	return b.update, b.done
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONSkips writes v (a JSON object) with "skipped" first when the
// source left lines out.
func writeJSONSkips(w io.Writer, v any, sk *replay.Skips) error {
	if sk == nil {
		return writeJSON(w, v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	head, err := json.Marshal(map[string]*replay.Skips{"skipped": sk})
	if err != nil {
		return err
	}
	if len(b) < 2 || b[0] != '{' {
		return fmt.Errorf("replay: JSON output is not an object: %.20s", b)
	}
	if string(b) != "{}" {
		head[len(head)-1] = ','
	} else {
		head = head[:len(head)-1]
	}
	return writeJSON(w, json.RawMessage(append(head, b[1:]...)))
}

// bar is a one-line progress bar: redrawn at most ten times a second,
// cleared when done.
type bar struct {
	w     io.Writer
	start time.Time
	last  time.Time
	drawn bool
}

func newBar(w io.Writer) *bar { return &bar{w: w, start: time.Now()} }

func (b *bar) update(done, total uint64) {
	now := time.Now()
	if now.Sub(b.last) < 100*time.Millisecond || now.Sub(b.start) < 300*time.Millisecond {
		return
	}
	b.last, b.drawn = now, true
	rate := float64(done) / now.Sub(b.start).Seconds()
	if total == 0 || done > total {
		fmt.Fprintf(b.w, "\r\x1b[K%d events  %.0f/s", done, rate)
		return
	}
	const width = 30
	fill := int(width * done / max(total, 1))
	eta := ""
	if rate > 0 {
		left := time.Duration(math.MaxInt64)
		if f := float64(total-done) / rate * float64(time.Second); f < 1<<62 { // a float past int64 converts to anything
			left = time.Duration(f)
		}
		eta = "  " + replay.Human(left) + " left"
	}
	fmt.Fprintf(b.w, "\r\x1b[K[%s%s] %3d%%  %d/%d events%s", strings.Repeat("█", fill), strings.Repeat("·", width-fill),
		100*done/max(total, 1), done, total, eta)
}

func (b *bar) done() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
}
